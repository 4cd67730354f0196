"""`sentpipe refresh hn` end to end: the HN client against the fake HN, real databases.

The database is seeded through the ingest path a scrape uses (`pipeline.open_job` /
`Job.run`): each story as the Firebase API gives it (with `descendants`), its comments
from Algolia's `items/{id}` tree (`algolia_records`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.fake_hn import FakeHNConfig, RunningFakeHN, serve_in_thread
from sentiment_pipeline.refresh import HNRefreshResult, RefreshOptions, refresh_hn
from sentiment_pipeline.sentiment import ScoreOptions, score_events
from sentiment_pipeline.settings import Settings, load_settings
from sentiment_pipeline.sources.hackernews.client import HNClient
from sentiment_pipeline.sources.hackernews.payload import algolia_records, firebase_record
from sentiment_pipeline.sources.topic import TopicSettings
from tests.fixtures.cli import invoke
from tests.fixtures.events import stored_rows
from tests.test_refresh import csv_files, query

SENTPIPE = Path(sys.executable).with_name("sentpipe")
MENTION = "quantum tofu"  # planted in every item: a topic to link them to


@pytest.fixture
def fake_hn() -> Iterator[RunningFakeHN]:
    """Six stories (story, a reply chain, Ask HN, Show HN, a job, a poll) from the last
    six hours, with comments; none deleted or dead yet."""
    config = FakeHNConfig(
        seed=5,
        stories=6,
        comments_mean=4,
        deep_thread=3,
        deleted_share=0,
        dead_share=0,
        mention=MENTION,
        mention_share=1.0,
        now=int(time.time()) - 120,
        span_seconds=6 * 3600,
    )
    with serve_in_thread(config) as fake:
        yield fake


def hn_settings(fake: RunningFakeHN, data_dir: Path, url: str, **overrides: Any) -> Settings:
    """Database + CSV sinks, the fake's endpoints; a schedule on which every stored item
    is due now (1 s) and again a day later (24 h); a topic every item mentions."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": url,
        "hn_api_url": fake.api_url,
        "hn_search_url": fake.search_url,
        "sinks": ["database", "csv"],
        "refresh_schedule": "1s,24h",
        "refresh_max_age": "24h",
        "topics": {"tofu": TopicSettings(query="tofu")},
    }
    values.update(overrides)
    settings = load_settings(**values)
    init_db(settings.database)
    return settings


def roots(fake: RunningFakeHN) -> dict[str, int]:
    """The fake's stories by kind (`story` is the first plain story)."""
    found: dict[str, int] = {}
    for item in sorted(fake.fake.store.items.values(), key=lambda i: i.id):
        if item.is_root:
            found.setdefault(item.kind, item.id)
    return found


async def _records(fake: RunningFakeHN, extra: list[dict[str, Any]]) -> list[Any]:
    async with HNClient(fake.api_url, fake.search_url, "sentpipe-tests") as client:
        records: list[Any] = []
        for ident in roots(fake).values():
            story = await client.item(ident)
            tree = await client.thread(ident)
            records.append(firebase_record(story))
            records += algolia_records(tree)[1:]  # the comments (and a poll's options)
        return records + [firebase_record(item) for item in extra]


def seed(settings: Settings, fake: RunningFakeHN, extra: Sequence[dict[str, Any]] = ()) -> int:
    """Store every item of the fake (and `extra` Firebase items) through the pipeline."""
    from sentiment_pipeline.pipeline import open_job

    async def run() -> int:
        records = await _records(fake, list(extra))

        async def source() -> Any:
            for record in records:
                yield record

        async with open_job(settings) as job:
            result = await job.run(source())
        assert result.exit_code == 0, result.errors
        return result.inserted

    inserted = asyncio.run(run())
    fake.clear_log()
    return inserted


def first_comment(fake: RunningFakeHN, story: int) -> int:
    return fake.fake.store.items[story].kids[0]


def other_comments(fake: RunningFakeHN, story: int) -> list[int]:
    """The fake's comments outside `story`'s thread, oldest first."""
    items = fake.fake.store.items.values()
    return sorted(i.id for i in items if i.type == "comment" and i.story_id != story)


def revisions(url: str, ident: str) -> list[tuple[Any, ...]]:
    return query(
        url,
        "SELECT score, num_comments, state FROM raw_event_revisions WHERE id = :i "
        "ORDER BY observed_at",
        i=ident,
    )


def blank(payload: dict[str, Any]) -> bool:
    return all(payload.get(key) in (None, "") for key in ("by", "author", "text", "title", "url"))


NULL_ITEM = {"id": 39_999_999, "type": "story", "by": "ghost", "time": int(time.time()) - 3600}


def test_trajectories_edits_growth_deletion_and_kill(
    fake_hn: RunningFakeHN, tmp_path: Path, any_db_url: str
) -> None:
    settings = hn_settings(fake_hn, tmp_path, any_db_url)
    stored = seed(settings, fake_hn, [{**NULL_ITEM, "title": "not on HN"}])
    url = any_db_url
    score_events(settings.database, ScoreOptions())
    kinds = roots(fake_hn)
    story, show = kinds["story"], kinds["show"]
    gone, killed = other_comments(fake_hn, story)[:2]  # the story's count stays honest
    rows = {r.id: r for r in stored_rows(url)}
    assert len(rows) == stored
    texts = {i: rows[f"hn_{i}"].payload["text"] for i in (gone, killed)}
    links = query(url, "SELECT count(*) FROM event_topics WHERE id = :i", i=f"hn_{gone}")
    assert links == [(1,)]
    files_before = csv_files(settings)
    assert any(texts[gone].encode() in data for data in files_before.values())
    descendants = fake_hn.fake.store.items[story].descendants
    score = fake_hn.fake.store.items[story].score or 0

    fake_hn.bump_score(story, 50)
    new = fake_hn.add_comment(story, "<p>a late comment about tofu")
    fake_hn.edit(show, title="Show HN: something else entirely")
    fake_hn.delete(gone)
    fake_hn.kill(killed)
    result = refresh_hn(settings, RefreshOptions())
    assert isinstance(result, HNRefreshResult)
    assert result.exit_code == 0, result.errors
    report = result.report
    assert report.due == report.asked == stored
    assert report.states == {
        "live": stored - 4,
        "edited": 1,
        "deleted": 1,
        "removed": 1,
        "unavailable": 1,
    }
    assert report.requests == {"total": stored + 1, "item": stored, "thread": 1}
    assert fake_hn.count(route="item") == stored and fake_hn.count(route="algolia_item") == 1
    assert report.grown == 1 and report.comment_trees == 1 and report.edits == 1
    assert report.redacted == 2 and report.scores_deleted == 2 and report.csv_rows_rewritten == 2

    after = {r.id: r for r in stored_rows(url)}
    # growth: the revision holds the new score and count; the late comment is stored
    assert revisions(url, f"hn_{story}") == [(score + 50, descendants + 1, "live")]
    assert after[f"hn_{new}"].payload["text"] == "<p>a late comment about tofu"
    assert after[f"hn_{new}"].source_id == "story"
    assert result.inserted == 1
    assert after[f"hn_{story}"].payload["score"] == score  # the raw row is not rewritten
    # edit: the title replaced, queued for scoring again
    assert after[f"hn_{show}"].payload["title"] == "Show HN: something else entirely"
    assert after[f"hn_{show}"].processed is False
    # the null item: unavailable, never redacted
    assert revisions(url, "hn_39999999") == [(None, None, "unavailable")]
    assert after["hn_39999999"].payload["title"] == "not on HN"
    # deleted and dead: blank in the database, scores and links gone, CSV rewritten
    for ident, state in ((gone, "deleted"), (killed, "removed")):
        key = f"hn_{ident}"
        payload = after[key].payload
        assert blank(payload), payload
        assert (
            payload["id"] == ident and payload["created_at_i"] == rows[key].payload["created_at_i"]
        )
        assert payload["type"] == "comment"
        assert revisions(url, key) == [(None, None, state)]
        assert query(url, "SELECT count(*) FROM sentiment_scores WHERE id = :i", i=key) == [(0,)]
        assert query(url, "SELECT count(*) FROM event_topics WHERE id = :i", i=key) == [(0,)]
        for data in csv_files(settings).values():
            assert texts[ident].encode() not in data

    # a day later: every item is due again, the trajectory grows
    fake_hn.bump_score(story, 7)
    fake_hn.clear_log()
    later = refresh_hn(settings, RefreshOptions(now=time_now(url) + timedelta(hours=24, minutes=1)))
    assert later.exit_code == 0, later.errors
    assert later.report.due == stored + 1  # the late comment too
    assert later.report.grown == 0 and fake_hn.count(route="algolia_item") == 0
    assert [r[0] for r in revisions(url, f"hn_{story}")] == [score + 50, score + 57]
    assert later.report.redacted == 0  # blank already


def time_now(url: str) -> Any:
    from sentiment_pipeline.db.url import parse_database_url
    from sentiment_pipeline.refresh.store import open_store

    store = open_store(parse_database_url(url))
    try:
        return store.now()
    finally:
        store.close()


def test_keep_blanks_nothing_and_purge_applies_later(
    fake_hn: RunningFakeHN, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'hn.db'}"
    settings = hn_settings(fake_hn, tmp_path, url, deleted_content="keep")
    seed(settings, fake_hn)
    kinds = roots(fake_hn)
    gone, killed = first_comment(fake_hn, kinds["story"]), first_comment(fake_hn, kinds["poll"])
    before = {r.id: r.payload for r in stored_rows(url)}
    fake_hn.delete(gone)
    fake_hn.kill(killed)
    result = refresh_hn(settings, RefreshOptions())
    assert result.report.states["deleted"] == result.report.states["removed"] == 1
    assert result.report.redacted == 0
    after = {r.id: r.payload for r in stored_rows(url)}
    assert after[f"hn_{gone}"] == before[f"hn_{gone}"]
    assert after[f"hn_{killed}"] == before[f"hn_{killed}"]

    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_DELETED_CONTENT": "redact",
        "SENTPIPE_HN_API_URL": fake_hn.api_url,
        "SENTPIPE_HN_SEARCH_URL": fake_hn.search_url,
    }
    fake_hn.clear_log()
    purged = invoke("refresh", "hn", "--purge-deleted-only", "--json", env=env)
    assert purged.exit_code == 0, purged.output
    assert json.loads(purged.stdout)["extra"]["redacted"] == 2
    assert fake_hn.count() == 0
    after = {r.id: r.payload for r in stored_rows(url)}
    assert blank(after[f"hn_{gone}"]) and blank(after[f"hn_{killed}"])
    for key in (f"hn_{gone}", f"hn_{killed}"):
        text = before[key]["text"].encode()
        assert not any(text in p.read_bytes() for p in settings.csv_path.rglob("*.csv"))
    kept = invoke(
        "refresh", "hn", "--purge-deleted-only", env={**env, "SENTPIPE_DELETED_CONTENT": "keep"}
    )
    assert kept.exit_code == 2 and "Hacker News" in kept.output


def test_cli_kinds_dry_run_json_and_budget(fake_hn: RunningFakeHN, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hn.db'}"
    settings = hn_settings(fake_hn, tmp_path, url)
    stored = seed(settings, fake_hn)
    rows = stored_rows(url)
    asks = sum(1 for r in rows if r.source_id == "ask")
    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_HN_API_URL": fake_hn.api_url,
        "SENTPIPE_HN_SEARCH_URL": fake_hn.search_url,
        "SENTPIPE_REFRESH_SCHEDULE": "1s,24h",
        "SENTPIPE_REFRESH_MAX_AGE": "24h",
    }
    dry = invoke("refresh", "hn", "--dry-run", "--json", env=env)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["extra"]["due"] == stored
    assert json.loads(dry.stdout)["extra"]["requests"]["item"] == stored
    assert json.loads(dry.stdout)["extra"]["requests"]["total"] == stored
    dry_text = invoke("refresh", "hn", "--dry-run", env=env)
    assert f"{stored} Hacker News requests ({stored} item, 0 thread)" in dry_text.output
    assert fake_hn.count() == 0

    only = invoke("refresh", "hn", "--kind", "ASK", "--json", env=env)
    assert only.exit_code == 0, only.output
    extra = json.loads(only.stdout)["extra"]
    assert extra["due"] == asks and extra["states"]["live"] == asks
    assert fake_hn.count(route="item") == asks

    budget = invoke("refresh", "hn", "--max-requests", "3", "--json", env=env)
    assert budget.exit_code == 0, budget.output
    data = json.loads(budget.stdout)
    assert data["stopped_early"] and "max-requests 3" in data["stop_reason"]
    assert data["extra"]["requests"]["item"] == 3 and data["extra"]["asked"] == 3
    assert query(url, "SELECT count(*) FROM raw_event_revisions") == [(asks + 3,)]

    metrics = tmp_path / "metrics" / "refresh.prom"
    text = invoke("refresh", "hn", "--metrics-file", str(metrics), env=env)
    assert text.exit_code == 0, text.output
    assert "Hacker News requests" in text.output and "item" in text.output
    figures = metrics.read_text()
    assert 'command="refresh_hn"' in figures
    bad = invoke("refresh", "hn", "--kind", "news", env=env)
    assert bad.exit_code == 2 and "news" in bad.output
    helped = invoke("refresh", "hn", "--help")
    assert "KIND" in helped.output and "INTEGER" not in helped.output


def late_comments(fake: RunningFakeHN) -> dict[int, list[int]]:
    """Two new comments under one story of each kind but jobs (no comments on HN):
    story id -> the new comments' ids."""
    return {
        story: [fake.add_comment(story, f"<p>late tofu {n}") for n in range(2)]
        for kind, story in roots(fake).items()
        if kind != "job"
    }


def converged(fake: RunningFakeHN, url: str, added: dict[int, list[int]]) -> None:
    """As after one clean run: every late comment stored, every other stored row
    observed once, each grown story's observation holding its new count."""
    stored = {r.id for r in stored_rows(url)}
    late = {f"hn_{c}" for comments in added.values() for c in comments}
    assert late <= stored
    counts = query(url, "SELECT id, count(*) FROM raw_event_revisions GROUP BY id, occurred_at")
    assert {ident for ident, _ in counts} >= stored - late  # late ones: when stored and due
    assert {n for _, n in counts} == {1}
    for story in added:
        now = fake.fake.store.items[story].descendants
        assert [r[1] for r in revisions(url, f"hn_{story}")] == [now]


@pytest.mark.parametrize("threads", [0, 3])
def test_a_bounded_run_leaves_grown_stories_due_for_the_same_command(
    fake_hn: RunningFakeHN, tmp_path: Path, any_db_url: str, threads: int
) -> None:
    settings = hn_settings(fake_hn, tmp_path, any_db_url)
    stored = seed(settings, fake_hn)
    added = late_comments(fake_hn)
    bounded = RefreshOptions(max_requests=stored + threads)  # every item, then `threads`
    first = refresh_hn(settings, bounded)
    assert first.exit_code == 0, first.errors
    assert first.stopped_early and first.report.grown == len(added)
    assert first.report.comment_trees == threads
    assert first.report.grown_left == len(added) - threads
    again = refresh_hn(settings, bounded)  # the same command
    assert again.exit_code == 0, again.errors
    assert not again.stopped_early  # the stories left due (and the late comments stored)
    assert again.report.grown == again.report.comment_trees == len(added) - threads
    assert again.report.grown_left == 0
    converged(fake_hn, any_db_url, added)
    third = refresh_hn(settings, bounded).report  # at most the late comments now
    assert third.grown == third.requests["thread"] == 0


def test_the_summary_names_the_stories_left_due(fake_hn: RunningFakeHN, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hn.db'}"
    settings = hn_settings(fake_hn, tmp_path, url)
    stored = seed(settings, fake_hn)
    added = late_comments(fake_hn)
    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_HN_API_URL": fake_hn.api_url,
        "SENTPIPE_HN_SEARCH_URL": fake_hn.search_url,
        "SENTPIPE_REFRESH_SCHEDULE": "1s,24h",
        "SENTPIPE_REFRESH_MAX_AGE": "24h",
    }
    cut = invoke("refresh", "hn", "--max-requests", str(stored), env=env)
    assert cut.exit_code == 0, cut.output
    assert f"{len(added)} stories with new comments ({len(added)} left due" in cut.output


def test_an_interrupted_run_leaves_grown_stories_due_for_the_next(
    fake_hn: RunningFakeHN, tmp_path: Path, any_db_url: str
) -> None:
    settings = hn_settings(fake_hn, tmp_path, any_db_url)
    stored = seed(settings, fake_hn)
    added = late_comments(fake_hn)
    cut = refresh_hn(settings, RefreshOptions(), stop=lambda: True)  # after the 1st answer
    assert cut.stopped_early and cut.stop_reason == "interrupted"
    assert cut.report.asked == stored and fake_hn.count(route="algolia_item") == 0
    assert cut.report.grown_left == len(added)
    held = query(any_db_url, "SELECT count(*) FROM raw_event_revisions")
    assert held == [(stored - len(added),)]  # the grown stories' observations held
    again = refresh_hn(settings, RefreshOptions())
    assert again.exit_code == 0, again.errors
    assert again.report.due == len(added) == again.report.comment_trees
    assert again.inserted == sum(len(c) for c in added.values())
    converged(fake_hn, any_db_url, added)


def test_a_failing_thread_stays_due_and_the_next_run_fetches_it(
    fake_hn: RunningFakeHN, tmp_path: Path
) -> None:
    from sentiment_pipeline.sources.hackernews.client import HNError

    url = f"sqlite:///{tmp_path / 'hn.db'}"
    settings = hn_settings(fake_hn, tmp_path, url)
    seed(settings, fake_hn)
    story = roots(fake_hn)["story"]
    new = fake_hn.add_comment(story, "<p>late tofu")
    real = HNClient.thread

    async def failing(self: HNClient, ident: int) -> Any:
        raise HNError("thread", 503, "503 after the retries")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HNClient, "thread", failing)
        first = refresh_hn(settings, RefreshOptions())
    assert HNClient.thread is real
    assert first.exit_code == 1 and "stays due" in first.errors[0]
    assert first.report.grown == first.report.grown_left == 1
    assert revisions(url, f"hn_{story}") == []
    again = refresh_hn(settings, RefreshOptions())
    assert again.exit_code == 0, again.errors
    assert again.report.due == 1 and again.report.comment_trees == 1
    assert f"hn_{new}" in {r.id for r in stored_rows(url)}
    assert [r[1] for r in revisions(url, f"hn_{story}")] == [
        fake_hn.fake.store.items[story].descendants
    ]


def test_the_installed_command(fake_hn: RunningFakeHN, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hn.db'}"
    settings = hn_settings(fake_hn, tmp_path, url)
    stored = seed(settings, fake_hn)
    env = {
        "PATH": str(SENTPIPE.parent),
        "HOME": str(tmp_path),
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_HN_API_URL": fake_hn.api_url,
        "SENTPIPE_HN_SEARCH_URL": fake_hn.search_url,
        "SENTPIPE_REFRESH_SCHEDULE": "1s",
        "SENTPIPE_REFRESH_MAX_AGE": "1s",
    }
    done = subprocess.run(
        [str(SENTPIPE), "refresh", "hn", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["extra"]["states"]["live"] == stored
    assert fake_hn.count(route="item") == stored


def test_a_thread_algolia_lacks_is_skipped_with_a_warning(fake_hn: RunningFakeHN) -> None:
    from sentiment_pipeline.refresh.hackernews import _threads

    story = roots(fake_hn)["story"]
    fake_hn.kill(story)  # gone from Algolia: items/{id} is a 404
    result = HNRefreshResult()

    done: set[str] = set()

    async def run() -> list[Any]:
        async with HNClient(fake_hn.api_url, fake_hn.search_url, "sentpipe-tests") as client:
            return [r async for r in _threads(client, [f"hn_{story}"], result, done)]

    assert asyncio.run(run()) == []
    assert done == {f"hn_{story}"}  # nothing will come: its observation is recorded
    assert result.errors == [] and len(result.warnings) == 1
    assert f"hn_{story}" in result.warnings[0] and "404" in result.warnings[0]
    assert fake_hn.count(route="algolia_item", status=404) == 1


def test_an_unreachable_api_exits_3_and_records_nothing(
    fake_hn: RunningFakeHN, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'hn.db'}"
    seed(hn_settings(fake_hn, tmp_path, url), fake_hn)
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_HN_API_URL": f"{closed}/v0",
        "SENTPIPE_HN_SEARCH_URL": f"{closed}/api/v1",
        "SENTPIPE_REFRESH_SCHEDULE": "1s",
        "SENTPIPE_REFRESH_MAX_AGE": "1s",
    }
    result = invoke("refresh", "hn", env=env)
    assert result.exit_code == 3, result.output
    assert "cannot reach Hacker News" in result.output
    assert query(url, "SELECT count(*) FROM raw_event_revisions") == [(0,)]


class Killed(BaseException):
    """The process dying between the database and the CSV rewrite."""


def test_a_redaction_cut_before_the_csv_is_finished_by_the_next_run(
    fake_hn: RunningFakeHN, tmp_path: Path, any_db_url: str
) -> None:
    from sentiment_pipeline.sinks import csv_sink

    settings = hn_settings(fake_hn, tmp_path, any_db_url)
    seed(settings, fake_hn)
    gone = other_comments(fake_hn, roots(fake_hn)["story"])[0]
    key = f"hn_{gone}"
    text = next(r for r in stored_rows(any_db_url) if r.id == key).payload["text"].encode()
    fake_hn.delete(gone)

    def killed(*_: Any) -> int:
        raise Killed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_sink, "rewrite_payloads", killed)
        with pytest.raises(Killed):
            refresh_hn(settings, RefreshOptions())
    assert blank(next(r for r in stored_rows(any_db_url) if r.id == key).payload)
    assert any(text in data for data in csv_files(settings).values())
    assert list((settings.data_dir / "journal").glob("redact-*.json"))

    again = refresh_hn(settings, RefreshOptions())
    assert again.exit_code == 0, again.errors
    assert again.report.due == 0 and again.report.csv_rows_rewritten == 1
    assert not any(text in data for data in csv_files(settings).values())
    assert not list((settings.data_dir / "journal").glob("redact-*.json"))


# the rules, pure --------------------------------------------------------------------

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
_ITEMS = st.dictionaries(
    st.sampled_from(
        [
            *("id", "type", "by", "author", "time", "text", "title", "url", "score"),
            *("descendants", "kids", "parent", "deleted", "dead", "story_text", "points"),
        ]
    ),
    _VALUES,
)


@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ITEMS)
def test_hn_rules_state_redaction_and_edits(item: dict[str, Any]) -> None:
    from sentiment_pipeline.refresh.observe import (
        edit_patch,
        item_state,
        observe,
        redact_payload,
        text_hash,
    )
    from sentiment_pipeline.sources import source_spec
    from sentiment_pipeline.sources.hackernews.refresh import REDACT_KEYS

    spec = source_spec("hackernews")
    state = item_state(item, spec)
    if item.get("deleted") is True:
        assert state == "deleted"
    elif item.get("dead") is True:
        assert state == "removed"
    else:
        assert state == "live"
    blanked = redact_payload(item, spec)
    assert blanked.keys() == item.keys()
    for key, value in item.items():
        if key in REDACT_KEYS:
            assert blanked[key] == ("" if isinstance(value, str) else None)
        else:
            assert blanked[key] == value  # ids, times, type, counts, flags stay
    patch = edit_patch(item, spec)
    assert set(patch) == {"title", "text", "url"}
    assert all(patch[k] is None for k in patch if k not in item)
    seen = observe("hn_1", "t", text_hash(item, spec), item, spec)
    assert seen.state == state and seen.patch is None  # the same text: no edit
    count = item.get("descendants")
    number = isinstance(count, int) and not isinstance(count, bool) and abs(count) < 2**31
    assert seen.num_comments == (count if number else None)
    assert seen.upvote_ratio is None
