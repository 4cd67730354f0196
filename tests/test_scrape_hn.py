"""`sentpipe scrape hn` end to end against the fake HN API on loopback: what is stored
(ids, kinds, whole threads), what a rerun costs (one request per target), the marks (saved
only for completed walks), a topic past Algolia's 1,000-hit cap, faults, the three
backends, the CLI, topic links, and scoring and export of what was stored."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.queries import read_marks
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.errors import ExitCode
from sentiment_pipeline.fake_hn import FakeHNConfig, FaultSpec, RunningFakeHN, run_fake_hn
from sentiment_pipeline.fake_hn.models import Item
from sentiment_pipeline.fake_hn.search import indexed
from sentiment_pipeline.scrape import with_topic_flags
from sentiment_pipeline.scrape.hackernews import (
    HNScrapeOptions,
    HNScrapeResult,
    resolve_hn_targets,
    scrape_hn,
)
from sentiment_pipeline.sentiment.clean import event_text as text_of
from sentiment_pipeline.settings import Settings, load_settings
from sentiment_pipeline.sources.hackernews import client as hn_client
from sentiment_pipeline.sources.hackernews.spec import MARKS
from tests.fixtures.cli import invoke
from tests.fixtures.events import stored_rows

NOW = 1_700_000_000  # the fake's clock (2023-11-14T22:13:20Z): the same items each run
MENTION = "quantum tofu"
UNPACED = 100_000_000  # requests an hour: the fake has no limit
HN = "hackernews"

Fakes = Callable[..., RunningFakeHN]


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    """`fakes(**config)`: a fake HN API on loopback (closed after the test)."""
    started: list[RunningFakeHN] = []

    def start(**config: Any) -> RunningFakeHN:
        values: dict[str, Any] = {"seed": 1, "stories": 40, "now": NOW, "mention": MENTION}
        values.update(config)
        running = run_fake_hn(FakeHNConfig(**values))
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's retry waits (what it would sleep), recorded; it sleeps none."""
    recorded: list[float] = []
    wait = hn_client._wait

    def no_wait(state: Any) -> float:
        recorded.append(wait(state))
        return 0.0

    monkeypatch.setattr(hn_client, "_wait", no_wait)
    return recorded


def hn_settings(
    fake: RunningFakeHN, data_dir: Path, *topics: str, url: str | None = None, **values: Any
) -> Settings:
    """Settings for a scrape of `fake` into a migrated database (SQLite in `data_dir`
    by default) with the topics `NAME=QUERY`."""
    fields: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": url or f"sqlite:///{data_dir / 'sentpipe.db'}",
        "sinks": ["database"],
        "hn_api_url": fake.api_url,
        "hn_search_url": fake.search_url,
        "hn_requests_per_hour": UNPACED,
    }
    fields.update(values)
    settings = load_settings(**fields)
    init_db(settings.database)
    return with_topic_flags(settings, list(topics))


def hn_env(fake: RunningFakeHN, data_dir: Path, url: str | None = None) -> dict[str, str]:
    """Environment of a CLI run against `fake` into a migrated SQLite database."""
    url = url or f"sqlite:///{data_dir / 'sentpipe.db'}"
    init_db(parse_database_url(url))
    return {
        "SENTPIPE_DATA_DIR": str(data_dir),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_SINKS": "database",
        "SENTPIPE_HN_API_URL": fake.api_url,
        "SENTPIPE_HN_SEARCH_URL": fake.search_url,
        "SENTPIPE_HN_REQUESTS_PER_HOUR": str(UNPACED),
    }


def run(
    settings: Settings, *lists: str, topics_only: bool = False, **options: Any
) -> HNScrapeResult:
    targets = resolve_hn_targets(settings, list(lists), topics_only=topics_only)
    return scrape_hn(settings, targets, HNScrapeOptions(**options))


def db_url(settings: Settings) -> str:
    return str(settings.database.sqlalchemy)


def stored(settings: Settings) -> dict[str, Any]:
    """The stored rows by id."""
    return {row.id: row for row in stored_rows(db_url(settings))}


def marks(settings: Settings) -> dict[str, datetime]:
    """The `hackernews` marks in collection_marks: target -> mark."""
    latest = read_marks(settings.database, MARKS).latest
    return {target: mark for (target, _kind), mark in latest.items()}


def mark_kinds(settings: Settings) -> dict[str, str]:
    return {target: kind for (target, kind) in read_marks(settings.database, MARKS).latest}


def items(fake: RunningFakeHN) -> dict[int, Item]:
    return fake.fake.store.items


def thread_ids(fake: RunningFakeHN, story: int) -> set[str]:
    """The event ids of a story's thread as Algolia serves it (`items/{id}`): dead items
    and the replies under them left out, deleted ones kept."""
    found: set[str] = set()
    pending = [fake.fake.store.tree(story)]
    while pending:
        node = pending.pop()
        if node is None:
            continue
        found.add(f"hn_{node['id']}")
        pending.extend(node["children"])
        pending.extend(node["options"])
    return found


def expected_kind(fake: RunningFakeHN, item: Item) -> str:
    """The `source_id` of an item: its story's kind."""
    return items(fake)[item.story_id].kind


def search_requests(fake: RunningFakeHN) -> list[dict[str, str]]:
    return [e["params"] for e in fake.request_log if e["route"] == "search_by_date"]


# --- what is stored ----------------------------------------------------------------------


def test_ids_source_event_types_and_kinds_as_stored(fakes: Fakes, tmp_path: Path) -> None:
    fake = fakes()
    settings = hn_settings(fake, tmp_path)
    result = run(settings, "top", "job")
    assert result.exit_code == ExitCode.OK, result.errors
    rows = stored(settings)
    lists = fake.fake.store.story_list("top") + fake.fake.store.story_list("job")
    expected = set().union(*(thread_ids(fake, story) for story in lists))
    assert set(rows) == expected
    assert result.inserted == len(expected)
    kinds = set()
    for ident, row in rows.items():
        item = items(fake)[int(ident.removeprefix("hn_"))]
        assert row.source == "hackernews"
        assert row.event_type == item.type
        assert row.source_id == expected_kind(fake, item)
        assert row.occurred_at == datetime.fromtimestamp(item.time, UTC)
        kinds.add((row.source_id, row.event_type))
    # every kind of story, and comments taking their story's kind
    assert {"story", "ask", "show", "job", "poll"} <= {kind for kind, _ in kinds}
    assert {("ask", "comment"), ("show", "comment"), ("poll", "pollopt")} <= kinds
    stats = result.report.targets
    assert stats["list:top"].status == stats["list:job"].status == "done"
    assert result.report.requests["list"] == 2
    assert result.report.requests["thread"] == len(set(lists))


def test_a_rerun_with_nothing_new_costs_one_request_per_target(
    fakes: Fakes, tmp_path: Path
) -> None:
    fake = fakes(live_stories_per_hour=12, mention_share=0.3)
    settings = hn_settings(fake, tmp_path, f'tofu="{MENTION}"', "rust=rust OR golang")
    first = run(settings, "new", "job")
    assert first.exit_code == ExitCode.OK, first.errors
    before = set(stored(settings))
    assert mark_kinds(settings) == {
        "list:new": "list",
        "list:job": "list",
        "topic:tofu": "search",
        "topic:rust": "search",
    }

    fake.clear_log()
    second = run(settings, "new", "job")
    assert second.exit_code == ExitCode.OK, second.errors
    assert second.inserted == 0
    routes = [e["route"] for e in fake.request_log]
    assert sorted(routes) == ["list", "list", "search_by_date", "search_by_date"]
    assert {name: s.requests for name, s in second.report.targets.items()} == {
        "list:new": 1,
        "list:job": 1,
        "topic:tofu": 1,
        "topic:rust": 1,
    }
    assert second.report.requests["total"] == 4

    old = marks(settings)
    fake.advance(3600)  # 12 new stories, with comments
    new_stories = {
        f"hn_{i.id}"
        for i in items(fake).values()
        if i.is_root and f"hn_{i.id}" not in before and not (i.dead or i.deleted)
    }
    assert len(new_stories) == 12
    third = run(settings, "new", "job")
    assert third.exit_code == ExitCode.OK, third.errors
    after = set(stored(settings))
    assert new_stories <= after
    new_mentions = {
        f"hn_{i}" for i in fake.mentioned() if indexed(items(fake)[i]) and f"hn_{i}" not in before
    }
    assert new_mentions <= after
    assert marks(settings)["list:new"] > old["list:new"]


def test_marks_are_saved_only_when_the_walk_completed(fakes: Fakes, tmp_path: Path) -> None:
    fake = fakes(stories=30)
    reference = hn_settings(fake, tmp_path / "reference", f'tofu="{MENTION}"')
    assert run(reference, "new").exit_code == ExitCode.OK
    everything = set(stored(reference))

    settings = hn_settings(fake, tmp_path / "cut", f'tofu="{MENTION}"')
    stopped = run(settings, "new", max_requests=5)
    assert stopped.exit_code == ExitCode.OK and stopped.stopped_early
    assert stopped.report.targets["list:new"].status == "stopped"
    assert marks(settings) == {}  # neither walk completed: no mark
    assert set(stored(settings)) < everything

    rerun = run(settings, "new")
    assert rerun.exit_code == ExitCode.OK and not rerun.stopped_early
    assert set(stored(settings)) == everything
    assert set(marks(settings)) == {"list:new", "topic:tofu"}


def test_an_interrupted_walk_keeps_the_old_mark_and_a_rerun_completes_it(
    fakes: Fakes, tmp_path: Path
) -> None:
    fake = fakes(stories=20, live_stories_per_hour=30, mention_share=0.5)
    settings = hn_settings(fake, tmp_path, f'tofu="{MENTION}"')
    assert run(settings, topics_only=True).exit_code == ExitCode.OK
    old = marks(settings)["topic:tofu"]

    fake.advance(7200)  # 60 new stories, half of the items mentioning the topic
    wanted = {f"hn_{i}" for i in fake.mentioned() if indexed(items(fake)[i])}
    cut = run(settings, topics_only=True, max_requests=3)  # the search and 2 threads
    assert cut.stopped_early and cut.report.targets["topic:tofu"].status == "stopped"
    assert marks(settings)["topic:tofu"] == old
    assert not wanted <= set(stored(settings))

    rerun = run(settings, topics_only=True)
    assert rerun.exit_code == ExitCode.OK and not rerun.stopped_early
    assert wanted <= set(stored(settings))
    assert marks(settings)["topic:tofu"] > old


# --- a topic past the 1,000-hit cap ----------------------------------------------------


def test_a_topic_past_the_hit_cap_is_read_whole_in_time_slices(
    fakes: Fakes, tmp_path: Path
) -> None:
    fake = fakes(stories=260, comments_mean=14, mention_share=0.8, deep_thread=0)
    wanted = {f"hn_{i}" for i in fake.mentioned() if indexed(items(fake)[i])}
    assert len(wanted) > 2500
    settings = hn_settings(fake, tmp_path / "since", f'tofu="{MENTION}"')
    since = datetime.fromtimestamp(NOW - 30 * 86400, UTC)
    result = run(settings, topics_only=True, since=since)
    assert result.exit_code == ExitCode.OK, result.errors
    assert wanted <= set(stored(settings))
    stats = result.report.targets["topic:tofu"]
    assert stats.hits == len(wanted) and not stats.capped
    searches = search_requests(fake)
    assert len(searches) >= 3  # > 2,500 hits: three windows at least
    assert all(p.get("page", "0") == "0" and int(p["hitsPerPage"]) <= 1000 for p in searches)
    assert all(f"created_at_i>={int(since.timestamp())}" in p["numericFilters"] for p in searches)

    fake.clear_log()
    first = hn_settings(fake, tmp_path / "first", f'tofu="{MENTION}"')
    capped = run(first, topics_only=True)
    assert capped.exit_code == ExitCode.OK
    assert capped.report.targets["topic:tofu"].capped
    assert capped.report.targets["topic:tofu"].hits == 1000
    assert any("topic:tofu" in w and "1,000" in w for w in capped.warnings)
    assert len(search_requests(fake)) == 1


# --- faults ---------------------------------------------------------------------------


def test_429_and_503_with_retry_after_are_retried_and_the_run_succeeds(
    fakes: Fakes, tmp_path: Path, waits: list[float]
) -> None:
    flaky = FaultSpec(too_many_requests=2, server_errors=1, retry_after=7)
    fake = fakes(faults={"algolia_item": flaky, "search_by_date": flaky, "list": flaky})
    settings = hn_settings(fake, tmp_path, f'tofu="{MENTION}"')
    result = run(settings, "top")
    assert result.exit_code == ExitCode.OK, result.errors
    for route in ("algolia_item", "search_by_date", "list"):
        assert fake.count(route=route, status=429) == 2
        assert fake.count(route=route, status=503) == 1
    assert waits.count(7.0) == 6  # Retry-After honoured for each 429
    clean = fakes()
    reference = hn_settings(clean, tmp_path / "clean", f'tofu="{MENTION}"')
    assert run(reference, "top").exit_code == ExitCode.OK
    assert set(stored(settings)) == set(stored(reference))


def _with_list(fake: RunningFakeHN, monkeypatch: pytest.MonkeyPatch, *extra: int) -> None:
    """Put these ids at the head of every story list the fake serves."""
    store = fake.fake.store
    original = store.story_list
    monkeypatch.setattr(store, "story_list", lambda name: [*extra, *original(name)])


def test_a_null_item_and_a_dead_story_in_a_list(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fakes()
    dead = next(i for i in items(fake).values() if i.is_root and i.dead)
    assert fake.fake.store.tree(dead.id) is None  # Algolia does not have it
    _with_list(fake, monkeypatch, 1, dead.id)  # item 1 does not exist: `null`
    settings = hn_settings(fake, tmp_path)
    result = run(settings, "new")
    assert result.exit_code == ExitCode.OK, result.errors
    assert result.invalid == 1  # the null item, dead-lettered
    rows = stored(settings)
    assert "hn_1" not in rows
    assert rows[f"hn_{dead.id}"].payload["dead"] is True
    # the default policy (redact): the dead story is stored without its content
    assert rows[f"hn_{dead.id}"].payload["by"] == "" and not rows[f"hn_{dead.id}"].payload.get(
        "title"
    )
    replies = {
        f"hn_{i.id}" for i in items(fake).values() if i.story_id == dead.id and i.id != dead.id
    }
    assert replies <= set(rows)  # read through Firebase
    assert all(rows[i].source_id == dead.kind for i in replies)
    # from the Firebase API: the null item, the dead story and its replies
    assert result.report.targets["list:new"].items == fake.count(route="item")
    assert fake.count(route="item") == len(replies) + 2


def test_deleted_content_keep_stores_a_dead_story_as_sent(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fakes()
    dead = next(i for i in items(fake).values() if i.is_root and i.dead and i.title)
    _with_list(fake, monkeypatch, dead.id)
    settings = hn_settings(fake, tmp_path, deleted_content="keep")
    assert run(settings, "new").exit_code == ExitCode.OK
    payload = stored(settings)[f"hn_{dead.id}"].payload
    assert payload["dead"] is True and payload["title"] == dead.title and payload["by"]


def test_a_small_request_budget_still_makes_progress(fakes: Fakes, tmp_path: Path) -> None:
    """Every thread a bounded run fetched is stored: runs of 3 requests (the list and 2
    threads) walk the whole list, never fetching a stored story again."""
    fake = fakes(stories=12)
    reference = hn_settings(fake, tmp_path / "reference")
    assert run(reference, "new").exit_code == ExitCode.OK
    fake.clear_log()
    settings = hn_settings(fake, tmp_path / "bounded")
    for _ in range(20):
        before = fake.count(route="algolia_item")
        result = run(settings, "new", max_requests=3)
        threads = fake.count(route="algolia_item") - before
        assert result.report.targets["list:new"].threads == threads
        if not result.stopped_early:
            break
        assert threads == 2 and result.inserted > 0  # each bounded run stores its threads
    assert set(stored(settings)) == set(stored(reference))
    asked = [e["path"] for e in fake.request_log if e["route"] == "algolia_item"]
    assert len(asked) == len(set(asked))  # no thread read twice


def test_since_later_than_the_mark_is_a_lower_bound(fakes: Fakes, tmp_path: Path) -> None:
    fake = fakes(stories=30, mention_share=0.5)
    settings = hn_settings(fake, tmp_path, f'tofu="{MENTION}"')
    assert run(settings, topics_only=True).exit_code == ExitCode.OK
    fake.clear_log()
    later = datetime.fromtimestamp(NOW + 86400, UTC)  # after every item
    result = run(settings, topics_only=True, since=later)
    assert result.exit_code == ExitCode.OK and result.report.targets["topic:tofu"].hits == 0
    (search,) = search_requests(fake)
    assert f"created_at_i>={int(later.timestamp())}" in search["numericFilters"]


def test_a_thread_of_5000_comments_is_stored_whole(fakes: Fakes, tmp_path: Path) -> None:
    fake = fakes(stories=8, huge_thread=5000)
    huge = next(i for i in items(fake).values() if i.is_root and i.descendants >= 4500)
    settings = hn_settings(fake, tmp_path)
    result = run(settings, "new")
    assert result.exit_code == ExitCode.OK, result.errors
    thread = thread_ids(fake, huge.id)
    assert len(thread) > 4500  # dead comments and the replies under them left out
    assert thread <= set(stored(settings))
    assert fake.count(route="algolia_item") == len(fake.fake.store.story_list("new"))


def test_one_failing_target_leaves_the_others_done(
    fakes: Fakes, tmp_path: Path, waits: list[float]
) -> None:
    broken = FaultSpec(server_errors=50, server_error_status=500)
    fake = fakes(faults={"search_by_date": broken})
    settings = hn_settings(fake, tmp_path, f'tofu="{MENTION}"')
    result = run(settings, "new", "job")
    assert result.exit_code == ExitCode.FAILURES
    stats = result.report.targets
    assert stats["list:new"].status == stats["list:job"].status == "done"
    assert stats["topic:tofu"].status.startswith("failed")
    assert any(e.startswith("topic:tofu") and "500" in e for e in result.errors)
    assert set(marks(settings)) == {"list:new", "list:job"}
    expected = set().union(*(thread_ids(fake, s) for s in fake.fake.store.story_list("new")))
    assert expected <= set(stored(settings))


def test_hn_unreachable_exits_3(tmp_path: Path, waits: list[float]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_DATABASE_URL": f"sqlite:///{tmp_path / 'sentpipe.db'}",
        "SENTPIPE_SINKS": "database",
        "SENTPIPE_HN_API_URL": f"http://127.0.0.1:{port}/v0",
        "SENTPIPE_HN_SEARCH_URL": f"http://127.0.0.1:{port}/api/v1",
    }
    init_db(parse_database_url(env["SENTPIPE_DATABASE_URL"]))
    result = invoke("scrape", "hn", "--list", "top", "--topic", "rust=rust", env=env)
    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    assert "cannot reach Hacker News" in result.output


# --- the three backends -----------------------------------------------------------------


def test_a_list_and_a_topic_on_every_backend(fakes: Fakes, tmp_path: Path, any_db_url: str) -> None:
    fake = fakes(stories=25)
    settings = hn_settings(fake, tmp_path, f'tofu="{MENTION}"', url=any_db_url)
    result = run(settings, "top")
    assert result.exit_code == ExitCode.OK, result.errors
    rows = stored(settings)
    top = set().union(*(thread_ids(fake, s) for s in fake.fake.store.story_list("top")))
    mentions = {f"hn_{i}" for i in fake.mentioned() if indexed(items(fake)[i])}
    assert top | mentions <= set(rows)
    assert {r.source for r in rows.values()} == {"hackernews"}
    assert set(marks(settings)) == {"list:top", "topic:tofu"}
    assert linked(any_db_url) >= {(i, "tofu", "text") for i in mentions}

    fake.clear_log()
    again = run(settings, "top")
    assert again.inserted == 0
    assert fake.count() == 2  # one list request, one search


def linked(url: str) -> set[tuple[str, str, str]]:
    engine = sa.create_engine(parse_database_url(url).sqlalchemy)
    try:
        with engine.connect() as connection:
            found = connection.execute(sa.text("SELECT id, topic, via FROM event_topics")).all()
    finally:
        engine.dispose()
    return {(row[0], row[1], row[2]) for row in found}


# --- topics link HN events ------------------------------------------------------------


def test_topics_link_the_items_that_mention_them(fakes: Fakes, tmp_path: Path) -> None:
    fake = fakes(stories=30, mention_share=0.2)
    settings = hn_settings(fake, tmp_path, f'tofu="{MENTION}"', 'plain="zzyzx"')
    assert run(settings, "new").exit_code == ExitCode.OK
    rows = stored(settings)
    mentioned = {
        f"hn_{i}" for i in fake.mentioned() if f"hn_{i}" in rows and not items(fake)[i].deleted
    }
    by_text = {(i, "tofu", "text") for i in mentioned}
    links = linked(db_url(settings))
    assert {link for link in links if link[2] == "text"} == by_text
    assert len(by_text) > 20
    # stories and comments both, through the title or the text
    assert {rows[i].event_type for i in mentioned} >= {"story", "comment"}
    # a comment under a story that mentions the topic links by its post (the story its
    # Algolia payload names), unless it mentions the topic itself
    stories = {int(i[3:]) for i in mentioned if rows[i].event_type != "comment"}  # polls too
    by_post = {
        (ident, "tofu", "post")
        for ident, row in rows.items()
        if row.event_type == "comment"
        and "story_id" in row.payload
        and row.payload["story_id"] in stories
        and (ident, "tofu", "text") not in by_text
    }
    assert {link for link in links if link[2] == "post"} == by_post
    assert by_post


def test_topics_match_links_stored_hn_events_as_the_scrape_does(
    fakes: Fakes, tmp_path: Path
) -> None:
    """Links made later by `topics match` over stored HN events (by text and, for a
    comment, by its story) are the links a scrape with the topic made as it stored."""
    from sentiment_pipeline.sources.topic import topics_from
    from sentiment_pipeline.topics.match import match_topics

    fake = fakes(stories=30, mention_share=0.2)
    live = hn_settings(fake, tmp_path / "live", f'tofu="{MENTION}"')
    assert run(live, "new").exit_code == ExitCode.OK
    later = hn_settings(fake, tmp_path / "later")
    assert run(later, "new").exit_code == ExitCode.OK
    assert linked(db_url(later)) == set()
    match_topics(later.database, topics_from(live.topics))
    common = set(stored(later))  # the live run's topic search stored more threads
    expected = {link for link in linked(db_url(live)) if link[0] in common}
    assert linked(db_url(later)) == expected
    assert {via for _, _, via in expected} == {"text", "post"}


# --- the CLI --------------------------------------------------------------------------


def test_the_cli_json_shape(fakes: Fakes, tmp_path: Path) -> None:
    fake = fakes()
    env = hn_env(fake, tmp_path)
    result = invoke(
        "scrape", "hn", "--list", "top,ask", "--topic", f'tofu="{MENTION}"', "--json", env=env
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["exit_code"] == 0 and data["inserted"] > 100
    targets = data["extra"]["targets"]
    assert list(targets) == ["list:top", "list:ask", "topic:tofu"]
    for stats in targets.values():
        assert set(stats) >= {"status", "stories", "comments", "hits", "known", "requests"}
        assert stats["status"] == "done"
    requests = data["extra"]["requests"]
    assert requests["total"] == fake.count() == sum(v for k, v in requests.items() if k != "total")
    assert requests["list"] == 2 and requests["search"] == 1

    again = json.loads(invoke("scrape", "hn", "-l", "top,ask", "--json", env=env).output)
    assert again["extra"]["requests"] == {"list": 2, "total": 2}


def test_a_bad_list_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = invoke("scrape", "hn", "--list", "foo", env={"SENTPIPE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == ExitCode.USAGE
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert any("unknown list 'foo'" in line for line in lines), result.output
    assert "Traceback" not in result.output


def _sentpipe() -> str:
    found = shutil.which("sentpipe", path=str(Path(sys.executable).parent))
    assert found is not None, "the sentpipe command is not installed next to python"
    return found


def test_the_installed_command(fakes: Fakes, tmp_path: Path) -> None:
    fake = fakes(stories=12)
    env = {**os.environ, **hn_env(fake, tmp_path)}
    done = subprocess.run(
        [_sentpipe(), "scrape", "hn", "--list", "new", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["extra"]["targets"]["list:new"]["status"] == "done"
    assert data["inserted"] == len(stored_rows(env["SENTPIPE_DATABASE_URL"]))

    bad = subprocess.run(
        [_sentpipe(), "scrape", "hn", "--list", "foo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    errors = [line for line in bad.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "unknown list 'foo'" in errors[0], bad.stderr


# --- scoring and export ---------------------------------------------------------------

BROKEN_HTML = '<p>I love <a href="x>this &#xZZZ; <i>unclosed <pre><code>and & <3 <<>> &'


def test_scored_and_exported_with_the_display_columns(fakes: Fakes, tmp_path: Path) -> None:
    fake = fakes(stories=12)
    comment = next(i for i in items(fake).values() if i.type == "comment" and not i.deleted)
    comment.text = BROKEN_HTML  # HTML that does not parse: stored and scored all the same
    env = hn_env(fake, tmp_path)
    scraped = invoke("scrape", "hn", "--list", "new", "--json", env=env)
    assert scraped.exit_code == 0, scraped.output
    rows = stored_rows(env["SENTPIPE_DATABASE_URL"])
    assert any(r.payload.get("text") == BROKEN_HTML for r in rows)

    scored = invoke("sentiment", "score", "--json", env=env)
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.output)["scored"] > 0

    columns = "id,event_type,author,title,url,score,parent_id,sentiment_compound"
    exported = invoke("export", "csv", "-o", "-", "--columns", columns, env=env)
    assert exported.exit_code == 0, exported.output
    table = csv.DictReader(io.StringIO(exported.output))  # then the one-line summary
    out = {row["id"]: row for row in table if row["id"].startswith("hn_")}
    assert len(out) == len(rows)
    assert out[f"hn_{comment.id}"]["sentiment_compound"] != "", out[f"hn_{comment.id}"]
    for ident, row in out.items():
        item = items(fake)[int(ident.removeprefix("hn_"))]
        if item.deleted:
            continue
        assert row["author"] == item.by
        if item.type == "story":
            assert row["title"] == item.title
            assert row["score"] == str(item.score)
            if item.url:
                assert row["url"] == item.url
        if item.type == "comment":
            assert row["parent_id"] == str(item.parent)
    # every event with text left to score (a comment that is all quote has none) is scored
    payloads = {r.id: (r.event_type, r.payload) for r in rows}
    scorable = {i for i, (kind, payload) in payloads.items() if text_of(HN, kind, payload)}
    assert len(scorable) > len(rows) * 0.8
    assert {i for i, row in out.items() if row["sentiment_compound"]} == scorable
