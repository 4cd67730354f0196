"""High-water marks (`collection_marks`, migration 0004): a scrape that was cut short
(SIGTERM / Ctrl-C, `--max-requests`, a failed subreddit, a sink that fell behind, rows
spooled) saves no mark for what it did not finish, so the same command run again ends
with what a clean scrape of the same Reddit data stores, and a rerun after a clean run
costs no more requests than before."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sentiment_pipeline.db.connect import open_engine
from sentiment_pipeline.db.migrate import alembic_config, init_db
from sentiment_pipeline.db.queries import MarkQuery, read_marks, save_marks
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.errors import ExitCode
from sentiment_pipeline.fake_reddit import FaultSpec, RunningFakeReddit, SubredditSpec
from sentiment_pipeline.fake_reddit.faults import FaultState
from sentiment_pipeline.scrape import RedditScrapeOptions, ScrapeResult, scrape_reddit
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sources.reddit.spec import MARKS
from sentiment_pipeline.timeparse import storage_text, to_utc
from tests.fixtures.tcp_proxy import TcpProxy
from tests.test_fault_matrix import SENTPIPE, csv_ids, db_ids
from tests.test_scrape import FakeFactory, fake_env, scrape_settings, targets

TWO = ("python", "rust")


def two_subreddits(factory: FakeFactory, delay: float = 0.0, posts: int = 40) -> RunningFakeReddit:
    """Two subreddits whose posts are 15 minutes apart (far more than the overlap)."""
    slow = FaultSpec(delay_seconds=delay)
    return factory(
        subreddits=(
            SubredditSpec("python", posts=posts, seed=3, comments_per_post=6, faults=slow),
            SubredditSpec("rust", posts=posts, seed=4, comments_per_post=6, faults=slow),
        )
    )


def reference_ids(fake: RunningFakeReddit, tmp_path: Path, *names: str) -> set[str]:
    """What a clean scrape of `fake` stores."""
    settings = scrape_settings(fake, tmp_path / "reference", sinks=["database"])
    result = scrape_reddit(settings, targets(*names), RedditScrapeOptions())
    assert result.exit_code == ExitCode.OK and not result.stopped_early, result.errors
    ids = set(db_ids(str(settings.database.sqlalchemy)))
    assert len(ids) > 200
    return ids


def stored_marks(url: str) -> dict[str, datetime]:
    """The `submission` marks of `reddit` targets in `collection_marks`."""
    return {
        target: mark
        for (target, kind), mark in read_marks(parse_database_url(url), MARKS).latest.items()
        if kind == "submission"
    }


def mark_rows(url: str) -> int:
    """The high-water marks stored (an `about` check, kind `checked`, holds no data and
    is saved whatever the run's fate)."""
    engine, connection = open_engine(parse_database_url(url))
    try:
        sql = "SELECT count(*) FROM collection_marks WHERE kind <> 'checked'"
        return int(connection.execute(sa.text(sql)).scalar())
    finally:
        connection.close()
        engine.dispose()


def run(settings: Settings, *names: str, **options: Any) -> ScrapeResult:
    return scrape_reddit(settings, targets(*names), RedditScrapeOptions(**options))


def assert_converged(settings: Settings, expected: set[str]) -> None:
    """The database and the CSV sink hold every expected record exactly once."""
    stored = db_ids(str(settings.database.sqlalchemy))
    assert len(stored) == len(set(stored)) and set(stored) == expected
    if "csv" in settings.sinks:
        assert sorted(csv_ids(settings.csv_path)) == sorted(stored)


# --- interrupted, then the same command ------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_mid_walk_then_the_same_command_converges(
    stop: signal.Signals, fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = two_subreddits(fake_reddit_factory, delay=0.05, posts=60)
    expected = reference_ids(fake, tmp_path, *TWO)
    url = f"sqlite:///{tmp_path / 'sentpipe.db'}"
    env = {
        **os.environ,
        **fake_env(fake, tmp_path, url),
        "SENTPIPE_BATCH_SIZE": "20",
        "SENTPIPE_FLUSH_INTERVAL": "0.1",
    }
    command = [str(SENTPIPE), "scrape", "reddit", "-s", "python", "-s", "rust"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while len(db_ids(url)) < 150:  # the posts and some comments, far from all of them
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(stop)
    output = process.communicate(timeout=120)[0].decode()
    assert len(set(db_ids(url))) < len(expected), output  # the walk was cut short
    assert stored_marks(url) == {}, output  # no walk completed: no mark moved
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    stored = db_ids(url)
    assert len(stored) == len(set(stored)) and set(stored) == expected
    assert sorted(csv_ids(tmp_path / "csv")) == sorted(stored)
    assert set(stored_marks(url)) == set(TWO)


def test_max_requests_then_the_same_command_converges(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    """A listing of several pages and the trees after it, stopped at --max-requests."""
    fake = fake_reddit_factory(
        subreddits=(SubredditSpec("busy", posts=250, seed=5, comments_per_post=2),)
    )
    expected = reference_ids(fake, tmp_path, "busy")
    settings = scrape_settings(fake, tmp_path / "run")
    for bound in (3, 40):  # inside the listing, then among the trees
        stopped = run(settings, "busy", max_requests=bound)
        assert stopped.stopped_early and stopped.inserted > 0
        assert stored_marks(str(settings.database.sqlalchemy)) == {}
    finished = run(settings, "busy")
    assert not finished.stopped_early and finished.errors == []
    assert_converged(settings, expected)
    fake.clear_log()
    again = run(settings, "busy")  # a rerun after a completed walk: one listing page
    assert again.inserted == 0
    assert fake.count(route="listing") == 1 and fake.count(route="comments") == 0


def test_a_failed_subreddit_then_the_same_command_converges(
    fake_reddit_factory: FakeFactory, tmp_path: Path, no_retry_sleep: None
) -> None:
    fake = two_subreddits(fake_reddit_factory)
    expected = reference_ids(fake, tmp_path, *TWO)
    settings = scrape_settings(fake, tmp_path / "run", batch_size=10, flush_interval=0.05)
    faults = fake.fake.world.faults
    slow = FaultState(FaultSpec(delay_seconds=0.02))
    faults["rust"] = slow

    def break_rust(result: ScrapeResult) -> None:  # once rust's posts are stored
        counts = result.per_source_id.get("rust")
        if faults["rust"] is slow and counts is not None and counts.inserted > 0:
            faults["rust"] = FaultState(FaultSpec(server_errors=10**6))

    failed = scrape_reddit(settings, targets(*TWO), RedditScrapeOptions(), on_progress=break_rust)
    assert [e.split(":")[0] for e in failed.errors] == ["r/rust"], failed.errors
    assert failed.report.subreddits["rust"].status == "failed"
    url = str(settings.database.sqlalchemy)
    assert set(stored_marks(url)) == {"python"}  # the completed walk keeps its mark
    faults["rust"] = FaultState(FaultSpec())
    again = run(settings, *TWO)
    assert again.exit_code == ExitCode.OK, again.errors
    assert_converged(settings, expected)
    assert set(stored_marks(url)) == set(TWO)


# --- what saves a mark and what does not -----------------------------------------------


def test_a_completed_walk_saves_its_newest_post_and_a_rerun_costs_what_it_did(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    # the tree strategy: the mark is the newest post (the group listings' in
    # test_scrape_follow.py)
    fake = two_subreddits(fake_reddit_factory)
    settings = scrape_settings(fake, tmp_path)
    run(settings, *TWO, comments_from="trees")
    url = str(settings.database.sqlalchemy)
    newest = {source_id: max(_submission_times(url, source_id)) for source_id in TWO}
    assert stored_marks(url) == newest
    fake.clear_log()
    second = run(settings, *TWO, comments_from="trees")
    assert second.inserted == 0
    assert sorted((e["route"], e["subreddit"]) for e in fake.request_log) == [
        ("access_token", None),
        ("listing", "python"),
        ("listing", "rust"),
    ]
    assert stored_marks(url) == newest


def _submission_times(url: str, source_id: str) -> list[datetime]:
    """The stored posts' times of `source_id`."""
    engine, connection = open_engine(parse_database_url(url))
    try:
        rows = connection.execute(
            sa.text(
                "SELECT occurred_at FROM raw_events WHERE source_id = :s "
                "AND event_type = 'submission'"
            ),
            {"s": source_id},
        )
        return [to_utc(row[0]) for row in rows]
    finally:
        connection.close()
        engine.dispose()


def test_a_dry_run_saves_no_mark(fake_reddit_factory: FakeFactory, tmp_path: Path) -> None:
    fake = two_subreddits(fake_reddit_factory)
    settings = scrape_settings(fake, tmp_path)
    result = scrape_reddit(settings, targets(*TWO), RedditScrapeOptions(), dry_run=True)
    assert result.dry_run and result.valid > 200 and set(result.report.marks) == set(TWO)
    assert mark_rows(str(settings.database.sqlalchemy)) == 0


def test_a_sink_that_fell_behind_saves_no_mark_and_the_rerun_repairs_it(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = two_subreddits(fake_reddit_factory)
    expected = reference_ids(fake, tmp_path, *TWO)
    settings = scrape_settings(fake, tmp_path / "run")
    blocker = settings.csv_path / "reddit"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")  # every CSV write fails; the database takes all
    behind = run(settings, *TWO)
    assert behind.exit_code == ExitCode.FAILURES and behind.inserted == len(expected)
    assert mark_rows(str(settings.database.sqlalchemy)) == 0
    blocker.unlink()
    assert run(settings, *TWO).exit_code == ExitCode.OK
    assert_converged(settings, expected)
    assert set(stored_marks(str(settings.database.sqlalchemy))) == set(TWO)


@pytest.mark.postgres
def test_rows_spooled_save_no_mark_even_when_the_database_is_back_at_the_end(
    fake_reddit_factory: FakeFactory,
    tmp_path: Path,
    postgres_url: str,
    tcp_proxy: type[TcpProxy],
) -> None:
    fake = two_subreddits(fake_reddit_factory, delay=0.01)
    expected = reference_ids(fake, tmp_path, *TWO)
    init_db(parse_database_url(postgres_url))
    direct = parse_database_url(postgres_url)
    host, port = direct.host_port.rsplit(":", 1)
    proxy = tcp_proxy(host, int(port))
    via_proxy = direct.sqlalchemy.replace(f"@{host}:{port}/", f"@127.0.0.1:{proxy.port}/")
    settings = scrape_settings(
        fake,
        tmp_path / "run",
        database_url=via_proxy,
        batch_size=20,
        flush_interval=0.05,
        db_retry_seconds=0,
    )
    state = {"down": False}

    def flap(result: ScrapeResult) -> None:  # down after the first batch, back once spooled
        if not state["down"] and result.inserted > 0:
            proxy.down()
            state["down"] = True
        elif result.spooled and state["down"]:
            proxy.up()
            state["down"] = False

    result = scrape_reddit(settings, targets(*TWO), RedditScrapeOptions(), on_progress=flap)
    assert result.spooled > 0 and result.exit_code == ExitCode.UNREACHABLE, result
    assert mark_rows(postgres_url) == 0
    if state["down"]:
        proxy.up()
    again = run(settings, *TWO)  # replays the spool, walks again
    assert again.exit_code == ExitCode.OK, again.errors
    assert set(db_ids(postgres_url)) == expected and len(db_ids(postgres_url)) == len(expected)
    assert set(stored_marks(postgres_url)) == set(TWO)


def test_posts_stored_above_the_mark_get_their_trees_again(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    """A mark below stored posts (an earlier walk cut short after it): those posts are
    not known, their trees are fetched again; the posts at or below the mark are."""
    fake = two_subreddits(fake_reddit_factory)
    settings = scrape_settings(fake, tmp_path)
    run(settings, "python", comments_from="trees")
    url = str(settings.database.sqlalchemy)
    times = sorted(_submission_times(url, "python"), reverse=True)
    engine, connection = open_engine(parse_database_url(url))
    try:
        connection.execute(sa.text("DELETE FROM collection_marks"))
        connection.commit()
    finally:
        connection.close()
        engine.dispose()
    save_marks(parse_database_url(url), MARKS, {"python": times[5]})  # 5 posts above
    fake.clear_log()
    again = run(settings, "python", overlap_seconds=0, comments_from="trees")
    assert again.inserted == 0
    assert fake.count(route="comments") == 5
    assert stored_marks(url) == {"python": times[0]}  # the completed walk moved it up


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("timescale", marks=pytest.mark.timescale)]
)
def test_save_marks_keeps_the_greater_mark(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'marks.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("timescale_url"))
    )
    parsed = parse_database_url(url)
    init_db(parsed)
    newer = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    save_marks(parsed, MARKS, {"python": newer, "rust": newer - timedelta(days=1)})
    save_marks(parsed, MARKS, {"python": newer - timedelta(hours=1), "rust": newer})
    assert stored_marks(url) == {"python": newer, "rust": newer}
    assert read_marks(parsed, MarkQuery("other", "submission")).latest == {}  # per source


def test_a_limit_below_the_mark_warns_about_the_gap(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_reddit_factory(subreddits=(SubredditSpec("busy", posts=20),))
    settings = scrape_settings(fake, tmp_path)
    run(settings, "busy")
    fake.add_posts("busy", 30)
    result = scrape_reddit(
        settings, targets("busy", comments=False, limit=10), RedditScrapeOptions()
    )
    assert result.inserted == 10
    assert len(result.warnings) == 1
    assert "--limit" in result.warnings[0] and "minutes" in result.warnings[0]


# --- the migration ---------------------------------------------------------------------


def test_upgrading_a_0003_database_with_data_seeds_the_marks(any_db_url: str) -> None:
    from alembic import command

    url = parse_database_url(any_db_url)
    engine, connection = open_engine(url)
    try:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.commit()
        times = {
            ("t3_a", "python", "submission"): "2024-01-02 03:04:05.123456+00:00",
            ("t3_b", "python", "submission"): "2024-01-03 00:00:00+00:00",
            ("t1_c", "python", "comment"): "2024-01-04 00:00:00+00:00",  # not a post
            ("t3_d", "rust", "submission"): "2023-12-31 23:59:59.5+00:00",
        }
        for (ident, source_id, kind), moment in times.items():
            _insert(connection, url.backend, ident, "reddit", source_id, kind, moment)
        _insert(connection, url.backend, "x1", "other", "feed", "submission", "2025-01-01")
        connection.commit()
        command.upgrade(config, "head")
        connection.commit()
    finally:
        connection.close()
        engine.dispose()
    assert stored_marks(any_db_url) == {
        "python": datetime(2024, 1, 3, tzinfo=UTC),
        "rust": datetime(2023, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    }
    other = MarkQuery("other", "submission")
    assert read_marks(url, other).latest == {}  # only Reddit's targets are seeded
    assert mark_rows(any_db_url) == 2


def _insert(
    connection: sa.Connection,
    backend: str,
    ident: str,
    source: str,
    source_id: str,
    kind: str,
    moment: str,
) -> None:
    value: Any = storage_text(to_utc(moment)) if backend == "sqlite" else to_utc(moment)
    connection.execute(
        sa.text(
            "INSERT INTO raw_events (id, occurred_at, source, source_id, event_type, payload) "
            "VALUES (:id, :t, :s, :sid, :kind, '{}')"
        ),
        {"id": ident, "t": value, "s": source, "sid": source_id, "kind": kind},
    )
