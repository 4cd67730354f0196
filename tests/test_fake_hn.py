"""Tests of the fake Hacker News test double (Firebase and Algolia shapes), over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline.fake_hn import (
    FakeHN,
    FakeHNConfig,
    FaultSpec,
    RunningFakeHN,
    run_fake_hn,
    serve_in_thread,
    views,
)
from sentiment_pipeline.fake_hn import search as hn_search
from sentiment_pipeline.fake_hn.__main__ import build_parser, config_from_args
from sentiment_pipeline.fake_hn.models import Item

NOW = 1_700_000_000
PHRASE = "quantum tofu"
CONFIG = FakeHNConfig(seed=7, now=NOW, huge_thread=5000, mention=PHRASE)
FIREBASE_KEYS = {"id", "type", "by", "time", "text", "title", "url", "score", "descendants"}
FIREBASE_KEYS |= {"kids", "parent", "parts", "poll", "dead", "deleted"}


@pytest.fixture(scope="module")
def fake() -> Iterator[RunningFakeHN]:
    with serve_in_thread(CONFIG) as running:
        yield running


def get(fake: RunningFakeHN, path: str) -> Any:
    """GET ``path`` and decode the JSON body (raises HTTPError on non-2xx)."""
    with urllib.request.urlopen(fake.url + path, timeout=30) as response:
        assert response.status == 200
        return json.load(response)


def status_of(fake: RunningFakeHN, path: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(fake.url + path, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def items(fake: RunningFakeHN) -> list[Item]:
    return list(fake.fake.store.items.values())


def first(fake: RunningFakeHN, **flags: Any) -> Item:
    """The first item whose attributes equal ``flags``."""
    return next(i for i in items(fake) if all(getattr(i, k) == v for k, v in flags.items()))


def test_a_story_has_the_firebase_fields(fake: RunningFakeHN) -> None:
    story = get(fake, f"/v0/item/{get(fake, '/v0/newstories.json')[0]}.json")
    assert set(story) <= FIREBASE_KEYS
    assert {"id", "type", "by", "time", "title", "score"} <= set(story)
    assert story["type"] in {"story", "poll"} and isinstance(story["time"], int)
    comment = get(
        fake, f"/v0/item/{first(fake, type='comment', deleted=False, dead=False).id}.json"
    )
    assert {"id", "type", "by", "time", "text", "parent"} <= set(comment) <= FIREBASE_KEYS
    assert "title" not in comment and "dead" not in comment


def test_unknown_ids_are_json_null_with_status_200(fake: RunningFakeHN) -> None:
    assert get(fake, "/v0/item/1.json") is None
    assert get(fake, f"/v0/item/{fake.maxitem() + 1}.json") is None
    assert get(fake, "/v0/item/abc.json") is None


def test_maxitem_is_the_newest_item(fake: RunningFakeHN) -> None:
    top = get(fake, "/v0/maxitem.json")
    assert top == max(i.id for i in items(fake))
    assert get(fake, f"/v0/item/{top}.json")["id"] == top


def test_every_kind_and_the_lists(fake: RunningFakeHN) -> None:
    kinds = {i.kind for i in items(fake)}
    assert kinds == {"story", "ask", "show", "job", "poll", "comment", "pollopt"}
    new = get(fake, "/v0/newstories.json")
    assert new == sorted(new, reverse=True) and 0 < len(new) <= 500
    for name in ("top", "best"):
        assert sorted(get(fake, f"/v0/{name}stories.json")) == sorted(new)
    for name, prefix in (("ask", "Ask HN: "), ("show", "Show HN: ")):
        ids = get(fake, f"/v0/{name}stories.json")
        assert 0 < len(ids) <= 200
        assert all(get(fake, f"/v0/item/{i}.json")["title"].startswith(prefix) for i in ids)
    jobs = get(fake, "/v0/jobstories.json")
    assert jobs and all(get(fake, f"/v0/item/{i}.json")["type"] == "job" for i in jobs)
    updates = get(fake, "/v0/updates.json")
    assert set(updates) == {"items", "profiles"} and updates["items"][0] == fake.maxitem()


def test_polls_have_parts_and_pollopts_point_back(fake: RunningFakeHN) -> None:
    poll = get(fake, f"/v0/item/{first(fake, type='poll').id}.json")
    assert len(poll["parts"]) >= 2
    for part in poll["parts"]:
        opt = get(fake, f"/v0/item/{part}.json")
        assert opt["type"] == "pollopt" and opt["poll"] == poll["id"] and "score" in opt


def test_deleted_items_keep_only_their_skeleton_and_dead_ones_keep_fields(
    fake: RunningFakeHN,
) -> None:
    deleted = get(fake, f"/v0/item/{first(fake, type='comment', deleted=True).id}.json")
    assert deleted["deleted"] is True
    assert set(deleted) <= {"id", "type", "time", "deleted", "parent", "kids"}
    dead = get(fake, f"/v0/item/{first(fake, type='comment', dead=True).id}.json")
    assert dead["dead"] is True and dead["text"] and dead["by"]
    assert first(fake, is_root=True, deleted=True) and first(fake, is_root=True, dead=True)


def test_text_is_hn_html_with_entities(fake: RunningFakeHN) -> None:
    texts = " ".join(i.text or "" for i in items(fake))
    for marker in ("<p>", "<i>", 'rel="nofollow"', "<pre><code>", "&#x27;", "&quot;", "&gt;"):
        assert marker in texts
    assert "&#x2F;" in texts and "https://" not in texts.replace('href="', "")
    comment = first(fake, type="comment", deleted=False)
    assert get(fake, f"/v0/item/{comment.id}.json")["text"] == comment.text


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node["children"]:
        yield from walk(child)


@pytest.mark.parametrize("kind", ["poll", "deep"])
def test_the_algolia_tree_equals_the_firebase_items(fake: RunningFakeHN, kind: str) -> None:
    root = first(fake, type="poll") if kind == "poll" else first(fake, kind="story", dead=False)
    if kind == "deep":
        root = max((i for i in items(fake) if i.is_root), key=lambda i: _depth(fake, i))
    tree = get(fake, f"/api/v1/items/{root.id}")
    assert {o["id"] for o in tree["options"]} == set(root.parts)
    for node in walk(tree):
        item = get(fake, f"/v0/item/{node['id']}.json")
        assert node["created_at_i"] == item["time"] and node["type"] == item["type"]
        assert node["story_id"] == root.id
        live_kids = [k for k in item.get("kids", []) if not fake.fake.store.items[k].dead]
        assert [c["id"] for c in node["children"]] == live_kids
        if item.get("deleted"):
            assert node["author"] is None and node["text"] is None
        else:
            assert (node["author"], node["text"]) == (item["by"], item.get("text"))
            assert node["created_at"] == views.iso(item["time"])


def _depth(fake: RunningFakeHN, root: Item) -> int:
    store = fake.fake.store.items
    depth, frontier = 0, list(root.kids)
    while frontier:
        depth, frontier = depth + 1, [k for f in frontier for k in store[f].kids]
    return depth


def test_a_huge_thread_comes_whole_in_one_request(fake: RunningFakeHN) -> None:
    huge = max(items(fake), key=lambda i: i.descendants)
    assert huge.descendants > 4500
    before = fake.count(route="algolia_item")
    nodes = list(walk(get(fake, f"/api/v1/items/{huge.id}")))
    assert fake.count(route="algolia_item") == before + 1
    assert len(nodes) - 1 >= huge.descendants
    assert status_of(fake, "/api/v1/items/1")[0] == 404


def search(fake: RunningFakeHN, route: str = "search_by_date", **params: Any) -> Any:
    query = urllib.parse.urlencode(params)
    return get(fake, f"/api/v1/{route}?{query}")


def test_search_hits_have_algolia_shape(fake: RunningFakeHN) -> None:
    body = search(fake, tags="comment", hitsPerPage=5)
    assert set(body) >= {"hits", "nbHits", "page", "nbPages", "hitsPerPage", "processingTimeMS"}
    assert set(body) >= {"query", "params", "exhaustiveNbHits"}
    hit = body["hits"][0]
    assert isinstance(hit["objectID"], str) and hit["comment_text"] and hit["story_title"]
    assert hit["parent_id"] and hit["story_id"] and hit["title"] is None
    assert "comment" in hit["_tags"] and "_highlightResult" in hit
    story = search(fake, tags="story", hitsPerPage=1)["hits"][0]
    assert story["title"] and story["num_comments"] is not None and story["points"] is not None


def test_search_by_date_is_newest_first_and_pages_do_not_overlap(fake: RunningFakeHN) -> None:
    pages = [search(fake, tags="comment", hitsPerPage=50, page=p)["hits"] for p in range(3)]
    ids = [int(h["objectID"]) for page in pages for h in page]
    times = [h["created_at_i"] for page in pages for h in page]
    assert len(set(ids)) == 150 and times == sorted(times, reverse=True)


def test_tags_and_or_and_story_filters(fake: RunningFakeHN) -> None:
    either = search(fake, tags="(ask_hn,show_hn)", hitsPerPage=1000)["hits"]
    assert either and all({"ask_hn", "show_hn"} & set(h["_tags"]) for h in either)
    assert {t for h in either for t in h["_tags"]} >= {"ask_hn", "show_hn"}
    author = "pg"
    both = search(fake, tags=f"comment,author_{author}", hitsPerPage=20)["hits"]
    assert both and all(h["author"] == author and h["comment_text"] for h in both)
    story = first(fake, kind="ask", dead=False, deleted=False)
    thread = search(fake, tags=f"comment,story_{story.id}", hitsPerPage=1000)
    expected = {i.id for i in items(fake) if i.story_id == story.id and i.type == "comment"}
    expected = {i for i in expected if hn_search.indexed(fake.fake.store.items[i])}
    assert {int(h["objectID"]) for h in thread["hits"]} == expected
    assert search(fake, tags="(story,comment)")["nbHits"] > search(fake, tags="story")["nbHits"]


def test_numeric_filters_slice_by_time(fake: RunningFakeHN) -> None:
    low, high = NOW - 86400, NOW - 3600
    body = search(fake, tags="comment", numericFilters=f"created_at_i>{low},created_at_i<{high}")
    hits = search(fake, tags="comment", hitsPerPage=1000, numericFilters=f"created_at_i>{low}")
    assert all(low < h["created_at_i"] for h in hits["hits"])
    assert 0 < body["nbHits"] < hits["nbHits"]
    popular = search(fake, tags="story", numericFilters="points>50", hitsPerPage=1000)["hits"]
    assert all(h["points"] > 50 for h in popular)
    assert status_of(fake, "/api/v1/search?numericFilters=bogus>1")[0] == 400


def test_no_query_reaches_past_the_first_1000_hits(fake: RunningFakeHN) -> None:
    body = search(fake, tags="comment", hitsPerPage=100, page=9)
    assert body["nbHits"] > 1000 and body["nbPages"] == 10 and len(body["hits"]) == 100
    assert search(fake, tags="comment", hitsPerPage=100, page=10)["hits"] == []
    assert search(fake, tags="comment", hitsPerPage=1000, page=1)["hits"] == []
    assert search(fake, tags="comment", hitsPerPage=5000)["hitsPerPage"] == 1000


def test_a_query_finds_exactly_the_planted_mentions(fake: RunningFakeHN) -> None:
    store = fake.fake.store.items
    planted = {i for i in fake.mentioned() if hn_search.indexed(store[i])}
    assert planted
    found: set[int] = set()
    for route in ("search", "search_by_date"):
        body = search(fake, route, query="QUANTUM Tofu", tags="(story,comment,poll,job)")
        assert body["nbHits"] == len(planted)
        pages = range(body["nbPages"])
        for page in pages:
            hits = search(fake, route, query=PHRASE, tags="(story,comment,poll,job)", page=page)
            found |= {int(h["objectID"]) for h in hits["hits"]}
    assert found == planted


def test_the_same_seed_gives_the_same_items() -> None:
    small = FakeHNConfig(seed=3, now=NOW, stories=30, mention="x y")
    one, two = FakeHN(small).store.items, FakeHN(small).store.items
    assert [views.firebase(i) for i in one.values()] == [views.firebase(i) for i in two.values()]
    other = FakeHN(FakeHNConfig(seed=4, now=NOW, stories=30)).store.items
    assert [views.firebase(i) for i in other.values()] != [views.firebase(i) for i in one.values()]


def test_faults_fail_the_first_requests_of_a_route_then_answer() -> None:
    config = FakeHNConfig(seed=1, now=NOW, stories=10, faults={"item": FaultSpec(2, 1, 502, 7)})
    with serve_in_thread(config) as fake:
        path = f"/v0/item/{fake.maxitem()}.json"
        statuses = [status_of(fake, path) for _ in range(4)]
        assert [s for s, _ in statuses] == [429, 429, 502, 200]
        assert statuses[0][1]["Retry-After"] == "7"
        assert status_of(fake, "/v0/maxitem.json")[0] == 200
        assert fake.count(route="item") == 4 and fake.count(status=429) == 2
        entry = fake.request_log[0]
        assert (entry["route"], entry["path"], entry["status"]) == ("item", path, 429)
        search(fake, tags="story", page=0)
        assert fake.request_log[-1]["params"] == {"tags": "story", "page": "0"}
        fake.clear_log()
        assert fake.count() == 0


def test_live_mode_publishes_new_stories_as_the_clock_advances() -> None:
    config = FakeHNConfig(seed=2, now=NOW, stories=10, live_stories_per_hour=6)
    fake = run_fake_hn(config)
    try:
        before = fake.maxitem()
        assert fake.advance(1800) == NOW + 1800
        request = urllib.request.Request(fake.url + "/_fake/clock?advance=1800", method="POST")
        with urllib.request.urlopen(request) as response:
            assert json.load(response) == {"now": NOW + 3600}
        new = [i for i in get(fake, "/v0/newstories.json") if i > before]
        assert len(new) == 6
        for story in new:
            assert NOW < get(fake, f"/v0/item/{story}.json")["time"] <= NOW + 3600
        assert set(new) <= set(get(fake, "/v0/updates.json")["items"])
    finally:
        fake.close()


def test_hooks_delete_kill_comment_score_and_edit_as_hn_would() -> None:
    with serve_in_thread(FakeHNConfig(seed=4, now=NOW, stories=6, dead_share=0)) as fake:
        story = first(fake, type="story")
        size = story.descendants
        score = story.score or 0
        new = fake.add_comment(story.id, "<p>late")
        assert new == fake.maxitem()
        comment = get(fake, f"/v0/item/{new}.json")
        assert comment["parent"] == story.id and comment["text"] == "<p>late"
        assert comment["time"] == NOW
        assert get(fake, f"/v0/item/{story.id}.json")["descendants"] == size + 1
        assert new in get(fake, f"/v0/item/{story.id}.json")["kids"]
        assert new in [c["id"] for c in get(fake, f"/api/v1/items/{story.id}")["children"]]
        assert fake.bump_score(story.id, 9) == score + 9
        assert get(fake, f"/v0/item/{story.id}.json")["score"] == score + 9
        fake.edit(story.id, title="A new title")
        assert get(fake, f"/v0/item/{story.id}.json")["title"] == "A new title"

        fake.delete(new)
        assert get(fake, f"/v0/item/{new}.json") == {
            "deleted": True,
            "id": new,
            "time": NOW,
            "type": "comment",
            "parent": story.id,
        }
        assert get(fake, f"/v0/item/{story.id}.json")["descendants"] == size
        node = next(c for c in get(fake, f"/api/v1/items/{story.id}")["children"] if c["id"] == new)
        assert node["author"] is None and node["text"] is None

        other = fake.add_comment(story.id)
        fake.kill(other)
        dead = get(fake, f"/v0/item/{other}.json")
        assert dead["dead"] is True and dead["text"] and dead["by"]
        assert status_of(fake, f"/api/v1/items/{other}")[0] == 404
        children = get(fake, f"/api/v1/items/{story.id}")["children"]
        assert other not in [c["id"] for c in children]
        assert get(fake, "/v0/updates.json")["items"][0] == other


def test_live_mode_churns_existing_items_deterministically() -> None:
    config = FakeHNConfig(
        seed=3,
        now=NOW,
        stories=8,
        deleted_share=0,
        dead_share=0,
        live_comments_per_hour=4,
        live_votes_per_hour=10,
        live_deletes_per_hour=1,
        live_kills_per_hour=1,
    )

    def churned() -> tuple[list[tuple[int, int, int]], int, int, int]:
        with serve_in_thread(config) as fake:
            before = fake.maxitem()
            votes = sum(i.score or 0 for i in items(fake) if i.type == "story")
            fake.advance(1800)
            fake.advance(1800)
            after = items(fake)
            stories = [(i.id, i.descendants, i.score or 0) for i in after if i.type == "story"]
            new = sum(1 for i in after if i.id > before)
            deleted = sum(1 for i in after if i.deleted and i.type == "comment")
            dead = sum(1 for i in after if i.dead and i.type == "comment")
            assert sum(score for _, _, score in stories) == votes + 10
            assert new == 4 and all(i.type == "comment" for i in after if i.id > before)
            return stories, new, deleted, dead

    first_run = churned()
    assert first_run[2:] == (1, 1)
    assert churned() == first_run  # the same seed and clock: the same churn


def test_only_loopback_and_the_command_line() -> None:
    with pytest.raises(ValueError, match="loopback"):
        run_fake_hn(FakeHNConfig(stories=1, host="0.0.0.0"))
    args = build_parser().parse_args(
        ["--seed", "5", "--huge-thread", "5000", "--fault", "search=3,2"]
    )
    config = config_from_args(args)
    assert (config.seed, config.huge_thread) == (5, 5000)
    assert config.faults == {"search": FaultSpec(3, 2)}
    with pytest.raises(ValueError, match="unknown fault routes"):
        FakeHNConfig(faults={"nope": FaultSpec(1)})


_ITEMS = [
    Item(id=n, type="comment", kind="comment", by="a", time=n, story_id=0) for n in range(1, 1501)
]


@settings(max_examples=60, deadline=None)
@given(per_page=st.integers(0, 1500), page=st.integers(0, 40), total=st.integers(0, 1500))
def test_paging_never_passes_the_cap(per_page: int, page: int, total: int) -> None:
    newest_first = _ITEMS[:total][::-1]
    query = hn_search.parse_query({"hitsPerPage": str(per_page), "page": str(page)})
    body = hn_search.run(newest_first, {}, query, True, "")
    per = min(per_page, 1000)
    reachable = min(total, 1000)
    assert len(body["hits"]) == max(0, min(per, reachable - page * per))
    assert body["nbHits"] == total
    assert body["nbPages"] == (-(-reachable // per) if per else 0)
