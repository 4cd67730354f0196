"""The fake Reddit's search (``/search``, ``/r/{sub}/search``) and planted mentions.

Driven through real asyncpraw where it has a call for it (``subreddit.search``); raw HTTP
for the parameters asyncpraw does not send (``type``, a missing ``restrict_sr``,
``before``). The matcher is checked against a strict whole-word matcher, the one a
client re-checking results would use: the fake must never be narrower.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from typing import Any

import asyncpraw
import asyncprawcore
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline.fake_reddit import (
    FakeRedditConfig,
    ManualClock,
    RunningFakeReddit,
    SubredditSpec,
    parse_value,
    query,
)
from sentiment_pipeline.fake_reddit.__main__ import config_from_args
from tests.test_fake_reddit import raw_get, reddit_for

FakeRedditFactory = Callable[..., RunningFakeReddit]
START = 1_750_000_000.0
DAY = 86400.0


def strict(phrase: str) -> re.Pattern[str]:
    """A strict case-insensitive whole-word (or whole-phrase) matcher, as a client has."""
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)", re.IGNORECASE)


def post_text(post: dict[str, Any]) -> str:
    return f"{post.get('title') or ''}\n{post.get('selftext') or ''}"


def three_subs(**overrides: Any) -> tuple[SubredditSpec, ...]:
    """Three quiet subreddits with fixed times (results are exact)."""
    subs = (
        SubredditSpec("alpha", posts=150, seed=1, created_utc_base=START - 60),
        SubredditSpec("Beta", posts=120, seed=2, created_utc_base=START - 500),
        SubredditSpec("gamma", posts=60, seed=3, created_utc_base=START - 900),
    )
    return tuple(dataclasses.replace(s, **overrides) for s in subs)


async def search_all(fake: RunningFakeReddit, path: str, **params: str) -> list[dict[str, Any]]:
    """Every result of a search, page by page with ``after`` (raw_json=1)."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        query_ = {"limit": "100", "raw_json": "1", **params, **({"after": after} if after else {})}
        status, body, _ = await raw_get(fake, path, query_)
        assert status == 200, body
        items.extend(child["data"] for child in body["data"]["children"])
        after = body["data"]["after"]
        if after is None:
            return items


async def every_post(fake: RunningFakeReddit, *names: str) -> list[dict[str, Any]]:
    """All posts of the subreddits, through ``new`` (fewer than the listing cap)."""
    out: list[dict[str, Any]] = []
    for name in names:
        out += await search_all(fake, f"/r/{name}/new")
    return out


def newest_first(items: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(items, key=lambda p: (p["created_utc"], int(p["id"], 36)), reverse=True)
    return [p["name"] for p in ordered]


# --- routes, restrict_sr, order, paging, cap -------------------------------------


async def test_subreddit_search_through_asyncpraw_finds_every_whole_word_match_newest_first(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=three_subs(), clock=ManualClock(START))
    reddit = reddit_for(fake)
    try:
        alpha = await reddit.subreddit("alpha")
        found = [
            p async for p in alpha.search("earnings", sort="new", time_filter="all", limit=None)
        ]
    finally:
        await reddit.close()
    posts = await every_post(fake, "alpha")
    expected = [p for p in posts if strict("earnings").search(post_text(p))]
    assert len(expected) > 10
    assert [p.fullname for p in found] == newest_first(expected)
    assert {p.subreddit.display_name for p in found} == {"alpha"}
    logged = [e for e in fake.request_log if e["route"] == "search"]
    assert len(logged) == 1 and logged[0]["status"] == 200
    entry = logged[0]
    assert entry["path"] == "/r/alpha/search/" and entry["members"] == ["alpha"]
    assert entry["query"]["q"] == "earnings" and entry["query"]["restrict_sr"] == "true"
    assert fake.count(route="search", member="alpha") == 1


async def test_searching_all_and_restrict_sr(fake_reddit_factory: FakeRedditFactory) -> None:
    fake = fake_reddit_factory(subreddits=three_subs(), clock=ManualClock(START))
    reddit = reddit_for(fake)
    try:
        everywhere = [
            p.fullname
            async for p in (await reddit.subreddit("all")).search(
                "earnings", sort="new", time_filter="all", limit=None
            )
        ]
    finally:
        await reddit.close()
    posts = await every_post(fake, "alpha", "Beta", "gamma")
    expected = newest_first([p for p in posts if strict("earnings").search(post_text(p))])
    assert everywhere == expected
    assert [e["members"] for e in fake.request_log if e["route"] == "search"] == [["all"]]

    def names(items: list[dict[str, Any]]) -> list[str]:
        return [p["name"] for p in items]

    q = {"q": "earnings", "sort": "new"}
    assert names(await search_all(fake, "/search", **q)) == expected
    assert names(await search_all(fake, "/r/alpha/search", **q)) == expected  # no restrict_sr
    assert names(await search_all(fake, "/r/alpha/search", **q, restrict_sr="false")) == expected
    for on in ("1", "on", "true"):
        alone = await search_all(fake, "/r/alpha/search.json", **q, restrict_sr=on)
        assert alone and {p["subreddit"] for p in alone} == {"alpha"}
    pair = await search_all(fake, "/r/alpha+gamma/search", **q, restrict_sr="1")
    assert names(pair) == [n for n in expected if n in set(names(pair))]
    assert {p["subreddit"] for p in pair} == {"alpha", "gamma"}
    members = [e["members"] for e in fake.request_log if e["route"] == "search"]
    assert [] in members and ["alpha", "gamma"] in members


async def test_search_path_access_and_inaccessible_subreddits(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    alone = await fake_reddit_client.subreddit("private_sub")
    with pytest.raises(asyncprawcore.Forbidden):
        [p async for p in alone.search("stock", limit=5)]
    multi = await fake_reddit_client.subreddit("tiny+private_sub+banned_sub")
    found = [p async for p in multi.search("the OR a OR market", limit=None)]
    assert found and {p.subreddit.display_name for p in found} == {"tiny"}
    everywhere = await search_all(fake_reddit, "/search", q="the OR a OR market")
    subs = {p["subreddit"] for p in everywhere}
    assert {"stocks", "tiny", "wallstreet"} <= subs
    assert not subs & {"private_sub", "banned_sub", "quarantined_sub", "empty_sub"}


async def test_paging_with_after_and_before_and_the_listing_shape(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=three_subs(), clock=ManualClock(START))
    q = {"q": "market", "sort": "new", "restrict_sr": "1", "raw_json": "1"}
    _, first, _ = await raw_get(fake, "/r/alpha/search", {**q, "limit": "10"})
    data = first["data"]
    assert data["dist"] == 10 and data["facets"] == {} and data["before"] is None
    assert {c["kind"] for c in data["children"]} == {"t3"}
    _, second, _ = await raw_get(
        fake, "/r/alpha/search", {**q, "limit": "10", "after": data["after"]}
    )
    every = await search_all(fake, "/r/alpha/search", **q)
    names = [c["data"]["name"] for c in data["children"] + second["data"]["children"]]
    assert names == [p["name"] for p in every[:20]]
    assert second["data"]["before"] == names[10]
    _, back, _ = await raw_get(
        fake, "/r/alpha/search", {**q, "limit": "10", "before": second["data"]["before"]}
    )
    assert [c["data"]["name"] for c in back["data"]["children"]] == names[:10]
    _, default, _ = await raw_get(fake, "/r/alpha/search", {"q": "market", "restrict_sr": "1"})
    assert default["data"]["dist"] == min(25, len(every))  # default limit
    _, big, _ = await raw_get(fake, "/search", {"q": "the OR market", "limit": "500"})
    assert big["data"]["dist"] == 100
    _, unknown, _ = await raw_get(fake, "/r/alpha/search", {**q, "after": "t3_zzzzzzz"})
    assert unknown["data"]["children"] == [] and unknown["data"]["after"] is None


async def test_results_are_the_listings_things(fake_reddit_factory: FakeRedditFactory) -> None:
    fake = fake_reddit_factory(subreddits=three_subs(), clock=ManualClock(START))
    listed = {p["name"]: p for p in await every_post(fake, "alpha")}
    found = await search_all(fake, "/r/alpha/search", q="stock", restrict_sr="1")
    assert found and all(post == listed[post["name"]] for post in found)


async def test_the_search_cap_stops_paging_however_you_page(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    assert FakeRedditConfig().search_cap == 1000
    fake = fake_reddit_factory(subreddits=three_subs(), clock=ManualClock(START), search_cap=53)
    reddit = reddit_for(fake)
    try:
        sub = await reddit.subreddit("all")
        found = [p.id async for p in sub.search("the OR a OR market", sort="new", limit=None)]
        top = [p.id async for p in sub.search("the OR a OR market", sort="top", limit=None)]
    finally:
        await reddit.close()
    assert len(found) == len(set(found)) == 53 and len(top) == 53
    assert fake.count(route="search") == 2  # 53 results: one page of 100 each
    raw = await search_all(fake, "/search", q="the OR a OR market", sort="new", limit="7")
    assert [p["id"] for p in raw] == found
    uncapped = fake_reddit_factory(
        subreddits=three_subs(), clock=ManualClock(START), search_cap=None
    )
    assert len(await search_all(uncapped, "/search", q="the OR a OR market")) > 53


# --- matching ----------------------------------------------------------------------

WORDS = ("zorblat", "quexil", "fimbo", "drelk")


async def planted_texts(fake: RunningFakeReddit) -> dict[str, str]:
    """Give six posts of alpha texts made of words no generated text uses."""
    posts = (await every_post(fake, "alpha"))[:6]
    texts = {
        "title": ("Zorblat quexil here", "the quick"),
        "body": ("nothing", "Quexil zorblat, in that order"),
        "possessive": ("Drelk's report", ""),
        "plural": ("two fimbos", "and zorblat_fans"),
        "glued": ("zorblatx and xfimbo", "drelks"),
        "not": ("fimbo again", "FIMBO, QUEXIL"),
    }
    out: dict[str, str] = {}
    for post, (label, (title, body)) in zip(posts, texts.items(), strict=True):
        fake.edit(post["name"], body, title=title)
        out[label] = post["name"]
    return out


async def found(fake: RunningFakeReddit, q: str, path: str = "/r/alpha/search") -> set[str]:
    return {p["name"] for p in await search_all(fake, path, q=q, restrict_sr="1")}


async def test_fields_phrases_operators_and_word_forms(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=three_subs(), clock=ManualClock(START))
    by = await planted_texts(fake)

    async def names(q: str) -> set[str]:
        labels = {v: k for k, v in by.items()}
        return {labels[n] for n in await found(fake, q)}

    assert await names("zorblat") == {"title", "body", "plural"}  # zorblat_fans splits
    assert await names("ZORBLAT quexil") == {"title", "body"}  # implicit AND, any case
    assert await names("title:zorblat") == {"title"}
    assert await names("selftext:zorblat") == {"body", "plural"}
    assert await names('"zorblat quexil"') == {"title"}  # a phrase keeps the order
    assert await names('"quexil zorblat"') == {"body"}
    assert await names('title:("zorblat quexil" OR drelk)') == {"title", "possessive"}
    assert await names("drelk") == {"possessive", "glued"}  # Drelk's, drelks
    assert await names("fimbo") == {"plural", "not"}  # fimbos; never xfimbo
    assert await names("fimbo NOT quexil") == {"plural"}
    assert await names("fimbo -quexil") == {"plural"}
    assert await names("fimbo AND NOT quexil") == {"plural"}
    assert await names("(fimbo OR drelk) NOT (quexil OR zorblat)") == {"possessive", "glued"}
    assert await names("drelk OR quexil fimbo") == {"possessive", "glued", "not"}
    assert await names("zorblat author:someone") == {"title", "body", "plural"}  # ignored
    assert await names("zorblats") == {"title", "body", "plural"}  # singular too
    fake.edit(by["title"], "edited away", title="nothing here")
    assert await names("title:zorblat") == set()  # the index follows edits


async def test_unparseable_queries_and_non_link_types_answer_empty(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=three_subs(), clock=ManualClock(START))
    for q in ('"market', "(market", "market AND", "OR market", "()", "NOT", "&&", "", "title:"):
        status, body, _ = await raw_get(fake, "/r/alpha/search", {"q": q, "restrict_sr": "1"})
        assert status == 200 and body["data"]["children"] == [], q
        assert body["data"]["after"] is None
    for kind in ("comment", "sr", "user"):
        status, body, _ = await raw_get(fake, "/search", {"q": "market", "type": kind})
        assert (status, body["data"]["children"]) == (200, [])
    _, links, _ = await raw_get(fake, "/search", {"q": "market", "type": "link"})
    _, either, _ = await raw_get(fake, "/search", {"q": "market", "type": "sr,link"})
    assert links["data"]["dist"] == either["data"]["dist"] == 25


async def test_sorts_and_time_filter(fake_reddit_factory: FakeRedditFactory) -> None:
    fake = fake_reddit_factory(subreddits=three_subs(), clock=ManualClock(START))
    q = {"q": "market OR stock", "restrict_sr": "1"}
    top = await search_all(fake, "/r/alpha/search", **q, sort="top")
    comments = await search_all(fake, "/r/alpha/search", **q, sort="comments")
    relevance = await search_all(fake, "/r/alpha/search", **q)  # the default sort
    assert [p["score"] for p in top] == sorted((p["score"] for p in top), reverse=True)
    counts = [p["num_comments"] for p in comments]
    assert counts == sorted(counts, reverse=True)
    assert {p["name"] for p in top} == {p["name"] for p in relevance}

    def weight(post: dict[str, Any]) -> int:
        title, body = post["title"], post["selftext"]
        hits = [(strict(w).search(title), strict(w).search(body)) for w in ("market", "stock")]
        return sum(2 * bool(in_title) + bool(in_body) for in_title, in_body in hits)

    weights = [weight(p) for p in relevance]
    assert weights == sorted(weights, reverse=True) and weights[0] > weights[-1]
    day = await search_all(fake, "/r/alpha/search", **q, sort="new", t="day")
    assert day and all(p["created_utc"] >= START - DAY for p in day)
    assert len(day) < len(top)
    assert len(await search_all(fake, "/r/alpha/search", **q, t="bogus")) == len(top)


@settings(max_examples=300, deadline=None)
@given(
    wanted=st.sampled_from(("tesla", "model", "ev", "3", "straße", "model 3", "tesla model")),
    pieces=st.lists(
        st.tuples(
            st.sampled_from(
                ("tesla", "Tesla", "TESLA", "model", "3", "teslas", "xtesla", "Straße", "STRASSE")
            ),
            st.sampled_from(("", "'s", "’s", "s", "_x", "-y", "1", "é")),
            st.sampled_from((" ", ", ", ".", "!\n", "(", ")", '"', "/", "_", "-", "'", "  ")),
        ),
        max_size=8,
    ),
)
def test_the_matcher_is_never_narrower_than_a_strict_whole_word_match(
    wanted: str, pieces: list[tuple[str, str, str]]
) -> None:
    text = "".join(word + suffix + sep for word, suffix, sep in pieces)
    node = query.parse(f'"{wanted}"')
    assert isinstance(node, query.Text)
    if strict(wanted).search(text):
        assert query.has_phrase(node.words, query.words(text)), (wanted, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab "()-+:ANDORT\t'), max_size=30))
def test_any_query_parses_or_is_unparseable(q: str) -> None:
    node = query.parse(q)
    assert node is None or isinstance(node, query.Text | query.Not | query.And | query.Or)


# --- planted mentions --------------------------------------------------------------


def mention_spec(**overrides: Any) -> SubredditSpec:
    base = SubredditSpec(
        "cars",
        posts=50,
        seed=6,
        comments_per_post=2,
        posts_per_day=600,
        comments_per_day=3000,
        mentions=(("Tesla", 0.1), ("model 3", 0.05)),
    )
    return dataclasses.replace(base, **overrides)


def texts(fake: RunningFakeReddit) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(live posts, live comments, every item): fullname -> text (title and self-text)."""
    fake.created()  # brings the live arrivals up to the clock
    state = fake.fake.world.store.subreddit("cars")
    assert state is not None
    posts, comments, every = {}, {}, {}
    for post in state.posts:
        every[post.name] = post_text(post.data)
        if post.index >= state.spec.posts:  # after the generated ones: arrived live
            posts[post.name] = every[post.name]
        for node in state.tree(post, START).by_id.values():
            every[node.name] = str(node.data["body"])
            if node.created_utc >= START:
                comments[node.name] = every[node.name]
    return posts, comments, every


async def test_planted_mentions_at_their_share_and_in_search(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=(mention_spec(),), clock=ManualClock(START))
    fake.advance(DAY)
    posts, comments, every = texts(fake)
    tesla = fake.mentioned("tesla")
    assert fake.mentioned("TESLA") == tesla and fake.mentioned("Model-3") == fake.mentioned(
        "model 3"
    )
    for phrase, share in (("tesla", 0.1), ("model 3", 0.05)):
        named = set(fake.mentioned(phrase))
        in_posts = named & set(posts)
        visible = {n for n, body in comments.items() if body not in {"[deleted]", "[removed]"}}
        assert named <= set(posts) | visible
        assert share * 0.6 < len(in_posts) / len(posts) < share * 1.4
        assert share * 0.7 < len(named & visible) / len(visible) < share * 1.3
        # every one is a strict whole-word hit; no other item names the phrase
        assert {n for n, text in every.items() if strict(phrase).search(text)} == named
    written = [
        every[n][m.start() : m.end() + 2] for n in tesla for m in strict("tesla").finditer(every[n])
    ]
    assert {"tesla", "Tesla", "TESLA"} <= {w[:5] for w in written}  # cases vary
    assert any(w[5:] in {"'s", "’s"} for w in written)  # possessives
    assert len({w[5:] for w in written}) > 4  # punctuation after it varies
    reddit = reddit_for(fake)
    try:
        sub = await reddit.subreddit("cars")
        found = [
            p.fullname async for p in sub.search("tesla", sort="new", time_filter="all", limit=None)
        ]
        model = [p.fullname async for p in sub.search('"model 3"', sort="new", limit=None)]
    finally:
        await reddit.close()
    assert set(found) == {n for n in tesla if n.startswith("t3_")}
    assert set(model) == {n for n in fake.mentioned("model 3") if n.startswith("t3_")}


async def test_new_posts_join_the_index_and_edits_take_mentions_away(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=(mention_spec(),), clock=ManualClock(START))
    fake.advance(6 * 3600)
    first = await found(fake, "tesla", "/r/cars/search")
    fake.advance(6 * 3600)
    second = await found(fake, "tesla", "/r/cars/search")
    assert first < second
    assert second == {n for n in fake.mentioned("tesla") if n.startswith("t3_")}
    gone = sorted(second)[0]
    fake.edit(gone, "no longer", title="nothing")
    assert gone not in fake.mentioned("tesla")
    assert await found(fake, "tesla", "/r/cars/search") == second - {gone}
    with pytest.raises(KeyError):
        fake.mentioned("ford")


def test_mentions_are_deterministic_for_a_seed(fake_reddit_factory: FakeRedditFactory) -> None:
    runs = [
        fake_reddit_factory(subreddits=(mention_spec(seed=s),), clock=ManualClock(START))
        for s in (6, 6, 7)
    ]
    for fake in runs:
        fake.advance(8 * 3600)

    async def read(fake: RunningFakeReddit) -> Any:
        return await search_all(fake, "/r/cars/search", q='tesla OR "model 3"', sort="new")

    same, again, other = ((f.mentioned("tesla"), f.created(), asyncio.run(read(f))) for f in runs)
    assert same == again
    assert same[0] != other[0]


def test_quiet_subreddits_stay_as_they_were(fake_reddit_factory: FakeRedditFactory) -> None:
    plain = fake_reddit_factory(subreddits=(mention_spec(mentions=()),), clock=ManualClock(START))
    planted = fake_reddit_factory(subreddits=(mention_spec(),), clock=ManualClock(START))
    for fake in (plain, planted):
        fake.advance(4 * 3600)
    assert plain.created() == planted.created()  # same items, ids and times


def test_mention_presets_and_validation() -> None:
    spec = parse_value("cars", "posts/day:100,mention:Tesla@0.05,mention:model_3@0.01")
    assert spec.mentions == (("Tesla", 0.05), ("model 3", 0.01))
    assert parse_value("x", "10").mentions == ()
    cli = config_from_args(["--subreddit", "x=posts/day:5,mention:ford@0.5", "--search-cap", "953"])
    assert cli.subreddits[0].mentions == (("ford", 0.5),) and cli.search_cap == 953
    for bad in ("mention:tesla", "mention:@0.1", "mention:tesla@1.5", "mention:__@0.1"):
        with pytest.raises(ValueError):
            parse_value("x", bad)
    with pytest.raises(ValueError):
        SubredditSpec("x", mentions=(("!!", 0.1),))
    assert SubredditSpec("x", mentions=[["a", 1]]).mentions == (("a", 1.0),)  # type: ignore[arg-type]
