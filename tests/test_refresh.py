"""`sentpipe refresh reddit` end to end: real asyncpraw against the fake API, real databases."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.fake_reddit import RunningFakeReddit
from sentiment_pipeline.refresh import RefreshOptions, RefreshResult, refresh_reddit
from sentiment_pipeline.scrape import RedditScrapeOptions, scrape_reddit
from sentiment_pipeline.sentiment import ScoreOptions, score_events
from sentiment_pipeline.settings import Settings, SubredditTarget, load_settings
from sentiment_pipeline.sinks import build_sinks
from tests.fixtures.cli import invoke
from tests.fixtures.events import event, stored_rows
from tests.test_scrape import reddit_env, scrape_settings, sqlite_files


def all_due(settings: Settings) -> Settings:
    """`settings` with a schedule that makes everything younger than a day due."""
    return settings.model_copy(update={"refresh_schedule": "1s", "refresh_max_age": "1s"})


def settings_for(
    fake: RunningFakeReddit, data_dir: Path, url: str | None = None, **overrides: Any
) -> Settings:
    """`scrape_settings` (an initialised database), on `url` when given."""
    return scrape_settings(fake, data_dir, **({"database_url": url} if url else {}), **overrides)


def store_items(settings: Settings, count: int, age_seconds: float, start: int = 0) -> list[str]:
    """`count` submissions of r/python, `age_seconds` old, that the fake does not know."""
    sink = build_sinks(["database"], settings)[0]
    moment = time.time() - age_seconds
    events = [
        event(n, id=f"t3_zz{n:x}", occurred_at=moment + n / 1000)
        for n in range(start, start + count)
    ]
    for first in range(0, count, 5000):
        sink.write(events[first : first + 5000])
    sink.close()
    return [e.id for e in events]


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(parse_database_url(url).sqlalchemy)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.text(sql), params).all()]
    finally:
        engine.dispose()


def db_url(settings: Settings) -> str:
    return settings.database.sqlalchemy


@pytest.mark.parametrize("count", [1, 100, 101, 2500])
def test_info_requests_are_ceil_n_over_100(
    fake_reddit: RunningFakeReddit, tmp_path: Path, count: int
) -> None:
    settings = settings_for(fake_reddit, tmp_path)
    store_items(settings, count, age_seconds=2 * 3600)
    result = refresh_reddit(settings, RefreshOptions())
    assert result.exit_code == 0, result.errors
    assert fake_reddit.count(route="info") == math.ceil(count / 100)
    assert result.report.requests["info"] == math.ceil(count / 100)
    assert result.report.due == count
    assert result.report.states["unavailable"] == count  # the fake knows none of them
    revisions = query(db_url(settings), "SELECT count(*), min(state) FROM raw_event_revisions")
    assert revisions == [(count, "unavailable")]
    # unavailable is never redacted
    assert all(row.payload["title"].startswith("post ") for row in stored_rows(db_url(settings)))

    fake_reddit.clear_log()
    again = refresh_reddit(settings, RefreshOptions())
    assert again.report.due == 0
    assert fake_reddit.count(route="info") == 0
    assert fake_reddit.count() == 0  # not even a token


def test_schedule_picks_only_due_items(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    settings = settings_for(fake_reddit, tmp_path)
    young = store_items(settings, 3, age_seconds=30 * 60)  # before the 1 h visit
    due_1h = store_items(settings, 4, age_seconds=2 * 3600, start=10)
    due_24h = store_items(settings, 5, age_seconds=30 * 3600, start=20)
    old = store_items(settings, 6, age_seconds=200 * 3600, start=30)  # past 72 h + a day
    seen = store_items(settings, 2, age_seconds=3 * 3600, start=40)
    url = db_url(settings)
    engine = sa.create_engine(parse_database_url(url).sqlalchemy)
    with engine.begin() as connection:  # observed after their 1 h mark: not due again
        connection.execute(
            sa.text(
                "INSERT INTO raw_event_revisions (id, occurred_at, observed_at, state) "
                "SELECT id, occurred_at, :seen, 'live' FROM raw_events WHERE id IN (:a, :b)"
            ),
            {"seen": "2999-01-01 00:00:00.000000", "a": seen[0], "b": seen[1]},
        )
    engine.dispose()
    result = refresh_reddit(settings, RefreshOptions(dry_run=True))
    assert result.report.due == len(due_1h) + len(due_24h)
    assert result.report.requests["total"] == result.report.requests["info"] == 1
    assert fake_reddit.count() == 0
    assert young and old

    refresh_reddit(settings, RefreshOptions())
    observed = {
        r[0] for r in query(url, "SELECT id FROM raw_event_revisions WHERE state = 'unavailable'")
    }
    assert observed == set(due_1h) | set(due_24h)


def scraped(fake: RunningFakeReddit, settings: Settings) -> None:
    """A scrape with the tree strategy: refresh fetches the late comments' trees (with
    the comment listing, the next scrape brings them: see the test below)."""
    result = scrape_reddit(
        settings, [SubredditTarget(name="tiny")], RedditScrapeOptions(comments_from="trees")
    )
    assert result.exit_code == 0 and result.inserted > 5


def posts_with_comments(url: str) -> list[str]:
    rows = stored_rows(url)
    linked = {r.payload.get("link_id") for r in rows if r.event_type == "comment"}
    return sorted(r.id for r in rows if r.event_type == "submission" and r.id in linked)


def csv_files(settings: Settings) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(settings.csv_path.rglob("*.csv"))}


def test_growth_edits_deletion_and_removal(
    fake_reddit: RunningFakeReddit, tmp_path: Path, any_db_url: str
) -> None:
    settings = settings_for(fake_reddit, tmp_path, any_db_url)
    scraped(fake_reddit, settings)
    url = any_db_url
    score_events(settings.database, ScoreOptions())
    rows = {r.id: r for r in stored_rows(url)}
    posts = [i for i, r in rows.items() if r.event_type == "submission"]
    with_comments = posts_with_comments(url)
    grown, edited = with_comments[0], posts[-1] if posts[-1] != with_comments[0] else posts[0]
    removed = next(p for p in posts if p not in (grown, edited))
    comment = next(
        i for i, r in rows.items() if r.event_type == "comment" and r.payload["link_id"] == grown
    )
    comment_text = rows[comment].payload["body"]
    removed_title = rows[removed].payload["title"]
    before_files = csv_files(settings)
    scores_before = dict(query(url, "SELECT id, scored_at FROM sentiment_scores"))
    assert comment in scores_before and removed in scores_before

    new_comments = fake_reddit.grow(grown, score=4321, comments=3)
    fake_reddit.edit(edited, "I changed my mind: this is wonderful, great, happy news")
    fake_reddit.delete(comment)
    fake_reddit.remove(removed)
    fake_reddit.clear_log()
    result = refresh_reddit(all_due(settings), RefreshOptions())
    assert result.exit_code == 0, result.errors
    report = result.report
    assert report.requests["info"] == math.ceil(len(rows) / 100)
    assert report.states["edited"] == 1 and report.edits == 1
    assert report.states["deleted"] == 1 and report.states["removed"] == 1
    assert report.grown == 1 and fake_reddit.count(route="comments") == 1

    after = {r.id: r for r in stored_rows(url)}
    # growth: a revision with the new score, and the late comments stored
    assert query(url, "SELECT score FROM raw_event_revisions WHERE id = :i", i=grown) == [(4321,)]
    assert set(new_comments) <= set(after)
    assert after[grown].payload["score"] == rows[grown].payload["score"]  # raw row not rewritten
    # edit: payload text updated and re-queued for scoring
    assert after[edited].payload["selftext"].startswith("I changed my mind")
    assert after[edited].processed is False
    # deletion and removal: blank text and author, score gone
    for ident in (comment, removed):
        payload = after[ident].payload
        for key in ("title", "selftext", "body", "author", "author_fullname", "url", "permalink"):
            assert payload.get(key) in (None, ""), (ident, key, payload.get(key))
        assert payload["id"] == rows[ident].payload["id"]
        assert payload["created_utc"] == rows[ident].payload["created_utc"]
        assert query(url, "SELECT count(*) FROM sentiment_scores WHERE id = :i", i=ident) == [(0,)]
    assert after[removed].payload["num_comments"] == rows[removed].payload["num_comments"]
    # CSV: the text is gone from its day file, every other line unchanged
    after_files = csv_files(settings)
    changed = [p for p in before_files if before_files[p] != after_files[p]]
    assert changed and report.csv_rows_rewritten == 2
    # the redacted rows' files (late comments may change another day's file too)
    held = [p for p in changed if comment.encode() + b"," in before_files[p]]
    held += [p for p in changed if removed.encode() + b"," in before_files[p]]
    assert held
    for path in changed:
        assert comment_text.encode() not in after_files[path]
        assert json.dumps(removed_title, ensure_ascii=False)[1:-1].encode() not in after_files[path]
        old_lines = before_files[path].split(b"\r\n")[:-1]
        new_lines = after_files[path].split(b"\r\n")[: len(old_lines)]  # late comments follow
        differing = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
        assert differing or path not in held
        assert all(
            new_lines[i].split(b",", 1)[0] in (comment.encode(), removed.encode())
            for i in differing
        )
    # the next score run replaces the edited item's score (upsert)
    score_events(settings.database, ScoreOptions())
    rescored = dict(query(url, "SELECT id, scored_at FROM sentiment_scores"))
    assert rescored[edited] != scores_before[edited]
    assert query(url, "SELECT count(*) FROM sentiment_scores WHERE id = :i", i=edited) == [(1,)]
    assert query(url, "SELECT compound FROM sentiment_scores WHERE id = :i", i=edited)[0][0] > 0.5

    # a second refresh right after re-reads none of them (only items that became due since)
    refresh_reddit(all_due(settings), RefreshOptions())
    counts = query(url, "SELECT count(*) FROM raw_event_revisions GROUP BY id, occurred_at")
    assert max(n for (n,) in counts) == 1


def test_keep_blanks_nothing_and_purge_applies_later(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = settings_for(fake_reddit, tmp_path, deleted_content="keep")
    scraped(fake_reddit, settings)
    url = db_url(settings)
    post = posts_with_comments(url)[0]
    title = next(r.payload["title"] for r in stored_rows(url) if r.id == post)
    fake_reddit.delete(post)
    result = refresh_reddit(all_due(settings), RefreshOptions())
    assert result.report.states["deleted"] == 1 and result.report.redacted == 0
    assert next(r for r in stored_rows(url) if r.id == post).payload["title"] == title
    files = csv_files(settings)
    assert any(title.encode() in data for data in files.values())

    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_DELETED_CONTENT": "redact",
    }
    fake_reddit.clear_log()
    purged = invoke("refresh", "reddit", "--purge-deleted-only", "--json", env=env)
    assert purged.exit_code == 0, purged.output
    assert json.loads(purged.stdout)["extra"]["redacted"] == 1
    assert fake_reddit.count() == 0
    assert next(r for r in stored_rows(url) if r.id == post).payload["title"] == ""
    assert not any(title.encode() in p.read_bytes() for p in settings.csv_path.rglob("*.csv"))
    kept = invoke(
        "refresh", "reddit", "--purge-deleted-only", env={**env, "SENTPIPE_DELETED_CONTENT": "keep"}
    )
    assert kept.exit_code == 2


def test_unavailable_is_never_redacted(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    settings = settings_for(fake_reddit, tmp_path)
    scraped(fake_reddit, settings)
    url = db_url(settings)
    before = {r.id: r.payload for r in stored_rows(url)}
    fake_reddit.hide(*before)
    result = refresh_reddit(all_due(settings), RefreshOptions())
    assert result.report.due > 0
    assert result.report.states["unavailable"] == result.report.due == result.report.asked
    assert {r.id: r.payload for r in stored_rows(url)} == before
    purge = refresh_reddit(settings, RefreshOptions(purge_deleted_only=True))
    assert purge.report.redacted == 0


def busy_subreddit(
    factory: Any, tmp_path: Path, options: RedditScrapeOptions
) -> tuple[RunningFakeReddit, Settings, str, str]:
    """A subreddit of 150 posts a minute apart, scraped once with `options`: the fake,
    the settings, the database URL and the oldest stored post (on page two of `new`)."""
    from sentiment_pipeline.fake_reddit import SubredditSpec, fixture_config

    busy = SubredditSpec(name="busy", posts=150, comments_per_post=2, post_interval_seconds=60)
    fake = factory(fixture_config(subreddits=(busy,)))
    settings = settings_for(fake, tmp_path)
    first = scrape_reddit(settings, [SubredditTarget(name="busy")], options)
    assert first.exit_code == 0
    url = db_url(settings)
    oldest = min(
        (r for r in stored_rows(url) if r.event_type == "submission"),
        key=lambda r: r.payload["created_utc"],
    ).id
    return fake, settings, url, oldest


def test_young_post_beyond_page_one_gains_late_comments(
    fake_reddit_factory: Any, tmp_path: Path
) -> None:
    trees = RedditScrapeOptions(comments_from="trees")
    fake, settings, url, oldest = busy_subreddit(fake_reddit_factory, tmp_path, trees)
    late = fake.grow(oldest, comments=2)
    fake.clear_log()
    scrape_reddit(settings, [SubredditTarget(name="busy")], trees)
    assert not set(late) & {r.id for r in stored_rows(url)}  # the tree scrape misses them
    result = refresh_reddit(all_due(settings), RefreshOptions())
    assert result.exit_code == 0
    assert set(late) <= {r.id for r in stored_rows(url)}
    assert result.inserted == 2


def test_late_comments_of_a_followed_subreddit_come_from_the_scrape_not_refresh(
    fake_reddit_factory: Any, tmp_path: Path
) -> None:
    auto = RedditScrapeOptions()
    fake, settings, url, oldest = busy_subreddit(fake_reddit_factory, tmp_path, auto)
    late = fake.grow(oldest, comments=2)
    fake.clear_log()
    result = refresh_reddit(all_due(settings), RefreshOptions())
    assert result.exit_code == 0 and result.inserted == 0
    assert result.report.grown == 0 and result.report.grown_followed >= 1
    assert fake.count(route="comments") == 0  # no tree fetched
    scrape_reddit(settings, [SubredditTarget(name="busy")], auto)  # the comment listing
    assert set(late) <= {r.id for r in stored_rows(url)}
    assert fake.count(route="comments") == 0


def test_cli_refresh_json(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    settings = settings_for(fake_reddit, tmp_path)
    store_items(settings, 3, age_seconds=2 * 3600)
    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_DATABASE_URL": db_url(settings),
        "SENTPIPE_REDDIT_CLIENT_ID": fake_reddit.config.client_id,
        "SENTPIPE_REDDIT_CLIENT_SECRET": fake_reddit.config.client_secret,
        "SENTPIPE_REDDIT_OAUTH_URL": fake_reddit.url,
        "SENTPIPE_REDDIT_URL": fake_reddit.url,
    }
    result = invoke("refresh", "reddit", "--json", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["extra"]["due"] == 3 and data["extra"]["requests"]["info"] == 1
    assert data["extra"]["states"]["unavailable"] == 3
    bad = invoke("refresh", "reddit", "--schedule", "soon", env=env)
    assert bad.exit_code == 2 and "duration" in bad.output


def test_result_shape() -> None:
    assert set(RefreshResult().to_dict()["extra"]) >= {"due", "states", "requests", "redacted"}


def test_stats_show_the_latest_observation_and_states(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = settings_for(fake_reddit, tmp_path)
    store_items(settings, 4, age_seconds=2 * 3600)
    env = {"SENTPIPE_DATA_DIR": str(tmp_path), "SENTPIPE_DATABASE_URL": db_url(settings)}
    before = json.loads(invoke("stats", "--json", env=env).stdout)
    assert before["refresh"] == {"last_observed_at": None, "by_state": {}}
    refresh_reddit(settings, RefreshOptions())
    after = json.loads(invoke("stats", "--json", env=env).stdout)
    assert after["refresh"]["by_state"] == {"unavailable": 4}
    assert after["refresh"]["last_observed_at"].startswith("20")
    assert set(before) - {"refresh"} <= set(after)
    text = invoke("stats", env=env)
    assert "Last refresh" in text.output and "4 unavailable" in text.output


# the schema is checked before the first request ------------------------------------

SERVERS = [
    pytest.param("timescale", marks=pytest.mark.timescale, id="timescale"),
    pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
    pytest.param("sqlite", id="sqlite"),
]


@pytest.mark.parametrize("purge", [False, True], ids=["refresh", "purge-deleted-only"])
@pytest.mark.parametrize("server", SERVERS)
def test_refresh_on_an_unmigrated_database_exits_2_before_any_request(
    server: str,
    purge: bool,
    request: pytest.FixtureRequest,
    fake_reddit: RunningFakeReddit,
    tmp_path: Path,
) -> None:
    if server == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'explicit.db'}"  # no such file
    else:
        url = str(request.getfixturevalue(f"{server}_url"))  # a fresh, empty database
    data = tmp_path / "data"
    extra = ["--purge-deleted-only"] if purge else []
    result = invoke("refresh", "reddit", *extra, env=reddit_env(fake_reddit, data, url))
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    if server == "sqlite":
        assert f"no SQLite database at {parse_database_url(url).sqlite_path}" in message
    else:
        assert "raw_events does not exist in the database at" in message
    assert "Run `sentpipe db init` first" in message
    assert fake_reddit.count() == 0  # not even a token
    assert sqlite_files(tmp_path) == []  # no empty database file left behind
    assert not (data / "csv").exists()


def test_refresh_on_an_older_revision_names_both_and_migrates_nothing(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    from alembic import command

    from sentiment_pipeline.db.connect import open_engine
    from sentiment_pipeline.db.migrate import alembic_config, head_revision, schema_revision

    url = parse_database_url(f"sqlite:///{tmp_path / 'old.db'}")
    engine, connection = open_engine(url)
    try:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")  # sentiment scores, no raw_event_revisions yet
        connection.commit()
    finally:
        connection.close()
        engine.dispose()
    env = reddit_env(fake_reddit, tmp_path / "data", f"sqlite:///{url.sqlite_path}")
    result = invoke("refresh", "reddit", env=env)
    assert result.exit_code == 2, result.output
    head = head_revision(alembic_config())
    assert f"is not migrated (at revision 0002, head {head})" in " ".join(result.output.split())
    assert fake_reddit.count() == 0
    assert schema_revision(url)[0] == "0002"


def test_refresh_on_the_embedded_default_migrates_and_runs(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    data = tmp_path / "fresh-machine"
    env = reddit_env(fake_reddit, data, None)
    result = invoke("refresh", "reddit", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["extra"]["due"] == 0
    database = f"sqlite:///{data / 'sentpipe.db'}"
    assert query(database, "SELECT count(*) FROM raw_event_revisions") == [(0,)]
    settings = load_settings(data_dir=data)
    assert settings.embedded_database
    store_items(settings, 3, age_seconds=2 * 3600)
    again = invoke("refresh", "reddit", "--json", env=env)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["extra"]["states"]["unavailable"] == 3
    assert fake_reddit.count(route="info") == 1


# stopping between info requests (a service's SIGTERM) --------------------------------


def test_a_stop_ends_the_run_after_the_current_info_request(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = settings_for(fake_reddit, tmp_path)
    store_items(settings, 250, age_seconds=2 * 3600)
    result = refresh_reddit(settings, RefreshOptions(), stop=lambda: True)
    assert result.exit_code == 0
    assert result.stopped_early and result.stop_reason == "interrupted"
    assert result.report.requests["info"] == 1 == fake_reddit.count(route="info")
    assert query(db_url(settings), "SELECT count(*) FROM raw_event_revisions") == [(100,)]
    rest = refresh_reddit(settings, RefreshOptions())  # the next run takes the others
    assert rest.report.due == 150 and rest.report.requests["info"] == 2


def test_due_items_agree_with_the_schedule_on_every_backend(
    fake_reddit: RunningFakeReddit, tmp_path: Path, any_db_url: str
) -> None:
    """The SQL schedule check picks exactly the items `observe.checkpoint` says are due,
    oldest-due first, and hashes their stored text like `observe.text_hash`."""
    from datetime import UTC, timedelta

    from sentiment_pipeline.refresh import due_items
    from sentiment_pipeline.refresh.observe import (
        Observation,
        checkpoint,
        parse_schedule,
        text_hash,
    )
    from sentiment_pipeline.refresh.store import open_store
    from sentiment_pipeline.timeparse import parse_duration

    settings = settings_for(fake_reddit, tmp_path, any_db_url)
    hours = [0.5, 0.99, 1.01, 5, 23.9, 24.1, 50, 71.9, 72.1, 95.9, 96.1, 200]
    for n, age in enumerate(hours):
        store_items(settings, 1, age_seconds=age * 3600, start=n)
    ages = parse_schedule("1h,24h,72h", parse_duration("72h"))
    rows = {r.id: r for r in stored_rows(any_db_url)}
    store = open_store(settings.database)
    try:
        now = store.now()
        due = due_items(store, now, ages, ())
        moments = {
            ident: checkpoint(row.occurred_at.astimezone(UTC), now, ages)
            for ident, row in rows.items()
        }
        expected = sorted((m, i) for i, m in moments.items() if m is not None)
        assert [d.id for d in due] == [i for _, i in expected]
        assert len(due) == 8  # 1.01 h … 95.9 h
        assert all(d.text_hash == text_hash(rows[d.id].payload) for d in due)
        # observed before its latest checkpoint: still due; after it: not due
        before, after = due[0], due[-1]
        first, last = moments[before.id], moments[after.id]
        assert first is not None and last is not None
        store.record(
            [Observation(before.id, before.occurred_at, "live", num_comments=7)],
            first - timedelta(minutes=1),
        )
        store.record(
            [Observation(after.id, after.occurred_at, "live")], last + timedelta(seconds=1)
        )
        again = due_items(store, now, ages, ())
    finally:
        store.close()
    assert [d.id for d in again] == [d.id for d in due if d.id != after.id]
    assert due[0].num_comments is None  # no count stored
    assert again[0].num_comments == 7  # the most comments any revision saw


def grown_posts(fake: RunningFakeReddit, url: str) -> dict[str, list[str]]:
    """Two late comments under each of three stored posts: post -> the new comments."""
    return {post: fake.grow(post, comments=2) for post in posts_with_comments(url)[:3]}


def converged(url: str, late: dict[str, list[str]]) -> None:
    """As after one clean run: every late comment stored, every stored row observed at
    most once (each grown post once, with its new count)."""
    assert {c for comments in late.values() for c in comments} <= {r.id for r in stored_rows(url)}
    counts = query(url, "SELECT id, count(*) FROM raw_event_revisions GROUP BY id, occurred_at")
    assert {n for _, n in counts} == {1}
    assert set(late) <= {ident for ident, _ in counts}


def test_a_bounded_run_leaves_grown_posts_due_for_the_same_command(
    fake_reddit: RunningFakeReddit, tmp_path: Path, any_db_url: str
) -> None:
    settings = all_due(settings_for(fake_reddit, tmp_path, any_db_url))
    scraped(fake_reddit, settings)
    late = grown_posts(fake_reddit, any_db_url)
    bounded = RefreshOptions(max_requests=2)  # a token and the info request: no tree
    fake_reddit.clear_log()
    first = refresh_reddit(settings, bounded)
    assert first.exit_code == 0, first.errors
    assert first.stopped_early and first.report.grown == first.report.grown_left == len(late)
    assert fake_reddit.count(route="comments") == 0
    observed = {r[0] for r in query(any_db_url, "SELECT id FROM raw_event_revisions")}
    assert observed and not observed & set(late)  # the grown posts' observations held
    again = refresh_reddit(settings, RefreshOptions(max_requests=2 + len(late)))
    assert again.exit_code == 0, again.errors
    assert again.report.grown == again.report.comment_trees == len(late)
    assert again.report.grown_left == 0
    converged(any_db_url, late)


def test_an_interrupted_run_leaves_grown_posts_due_for_the_next(
    fake_reddit: RunningFakeReddit, tmp_path: Path, any_db_url: str
) -> None:
    settings = all_due(settings_for(fake_reddit, tmp_path, any_db_url))
    scraped(fake_reddit, settings)
    late = grown_posts(fake_reddit, any_db_url)
    fake_reddit.clear_log()
    cut = refresh_reddit(settings, RefreshOptions(), stop=lambda: True)  # after the 1st answer
    assert cut.stopped_early and cut.stop_reason == "interrupted"
    assert cut.report.grown_left == len(late) and fake_reddit.count(route="comments") == 0
    again = refresh_reddit(settings, RefreshOptions())
    assert again.exit_code == 0, again.errors
    assert again.report.grown == len(late) == again.report.comment_trees
    assert again.inserted == 2 * len(late)
    converged(any_db_url, late)
