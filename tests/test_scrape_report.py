"""The scrape's typed report and its neighbours: exact per-subreddit counts (checked
against the fake API's own request log), `--since` through the one time parser, marks
read in one call, sinks that follow a database, and sources as leaves."""

from __future__ import annotations

import ast
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sentiment_pipeline
from sentiment_pipeline.cli import app
from sentiment_pipeline.db.queries import Marks, read_marks
from sentiment_pipeline.errors import ConfigError, ExitCode
from sentiment_pipeline.fake_reddit import RunningFakeReddit, SubredditSpec
from sentiment_pipeline.fake_reddit.presets import parse_value
from sentiment_pipeline.scrape import RedditScrapeOptions, scrape_reddit
from sentiment_pipeline.settings import load_settings
from sentiment_pipeline.sinks import build_sinks
from sentiment_pipeline.sinks.csv_sink import CsvSink
from sentiment_pipeline.sources.reddit.spec import MARKS
from sentiment_pipeline.timeparse import parse_moment
from tests.test_scrape import FakeFactory, fake_env, scrape_settings, targets

runner = CliRunner()
EXPANSION_ROUTES = ("morechildren", "continue_thread")


def test_per_subreddit_counts_match_the_servers_request_log(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    # Big comment trees (a small comment budget: many `more` stubs) and the hostile
    # preset, scraped together: four trees in flight per subreddit, expansions serial.
    fake = fake_reddit_factory(
        subreddits=(
            parse_value("hostile", "hostile"),
            SubredditSpec("big", posts=40, comments_per_post=60, seed=11),
            SubredditSpec("tiny", posts=5, seed=3, comments_per_post=3),
        )
    )
    settings = scrape_settings(fake, tmp_path)
    result = scrape_reddit(settings, targets("hostile", "big", "tiny"), RedditScrapeOptions())
    assert result.exit_code == ExitCode.OK, result.errors
    log = fake.request_log
    report = result.report
    assert list(report.subreddits) == ["hostile", "big", "tiny"]
    for name, stats in report.subreddits.items():
        served = [e for e in log if e["subreddit"] == name]
        expansions = [e for e in served if e["route"] in EXPANSION_ROUTES]
        group = report.groups[name]  # first seen: alone; its listing pages count there
        assert stats.requests + group.requests == len(served), name
        assert stats.more_expansions == len(expansions), name
        assert stats.comment_trees == sum(e["route"] == "comments" for e in served), name
        assert stats.status == "done"
    assert report.subreddits["big"].more_expansions > 40  # the check is not vacuous
    assert report.subreddits["hostile"].more_expansions > 0
    assert report.requests.total == len(log)
    assert report.requests.token == sum(e["route"] == "access_token" for e in log)
    assert result.extra == report.to_dict()
    assert result.to_dict()["extra"]["subreddits"]["big"]["more_expansions"] == (
        report.subreddits["big"].more_expansions
    )


def test_failures_and_warnings_are_merged_into_the_result(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    result = scrape_reddit(
        settings, targets("tiny", "banned_sub", comments=False), RedditScrapeOptions()
    )
    assert result.report.failures.keys() == {"banned_sub"}
    assert result.errors == [f"r/banned_sub: {result.report.failures['banned_sub']}"]
    assert result.report.subreddits["banned_sub"].status == "failed"
    assert result.exit_code == ExitCode.FAILURES


def test_a_bounded_run_reports_where_it_stopped(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    result = scrape_reddit(settings, targets("stocks"), RedditScrapeOptions(max_requests=6))
    assert result.report.stopped_early and result.stopped_early
    assert result.stop_reason == result.report.stop_reason == "reached --max-requests 6"
    assert result.report.requests.total == 6  # started; cancelled ones may not arrive
    assert len(fake_reddit.request_log) <= 6
    assert result.report.subreddits["stocks"].status == "stopped"


# --since --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["2999-01-02", "2999-01-02T03:04:05", "2999-01-02 03:04:05", "2999-1-2", "2999-01-02T03:04Z"],
)
def test_since_accepts_what_typer_accepted_and_iso(
    fake_reddit: RunningFakeReddit, tmp_path: Path, value: str
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    args = ["scrape", "reddit", "-s", "stocks", "--no-comments", "--since", value, "--json"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["extra"]["subreddits"]["stocks"]["submissions"] == 0


def test_since_accepts_a_duration_ago(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    env = fake_env(fake_reddit, tmp_path)
    cutoff = datetime.now(UTC) - timedelta(hours=2)
    args = ["scrape", "reddit", "-s", "stocks", "--no-comments", "--since", "2h", "--json"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    posts = json.loads(result.stdout)["extra"]["subreddits"]["stocks"]["submissions"]
    assert 0 < posts < 300
    with sqlite3.connect(tmp_path / "sentpipe.db") as db:
        oldest = db.execute("SELECT MIN(occurred_at) FROM raw_events").fetchone()[0]
    assert datetime.fromisoformat(oldest).replace(tzinfo=UTC) >= cutoff - timedelta(seconds=5)


def test_an_invalid_since_is_a_one_line_usage_error(tmp_path: Path) -> None:
    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_REDDIT_CLIENT_ID": "id",
        "SENTPIPE_REDDIT_CLIENT_SECRET": "secret",
    }
    result = runner.invoke(app, ["scrape", "reddit", "-s", "x", "--since", "yesterday"], env=env)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--since 'yesterday'" in lines[0]
    assert "Traceback" not in result.output


def test_parse_moment_takes_unpadded_typer_formats() -> None:
    assert parse_moment("2024-1-2") == datetime(2024, 1, 2, tzinfo=UTC)
    assert parse_moment("2024-1-2 3:04:05") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_moment("2024-01-02T3:04:05") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--since '2024-13-01'"):
        parse_moment("2024-13-01", "--since")


# Marks, sinks -----------------------------------------------------------------------------


def test_read_marks_computes_the_recent_floor_from_the_marks_it_read(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    scrape_reddit(settings, targets("tiny"), RedditScrapeOptions())
    seen: list[Marks] = []

    def floor(marks: Marks) -> datetime:
        seen.append(marks)
        return datetime(2000, 1, 1, tzinfo=UTC)

    marks = read_marks(settings.database, MARKS, floor)
    assert seen and seen[0].latest_for("tiny", "submission") is not None
    assert len(marks.recent["tiny"]) == 5
    with sqlite3.connect(settings.database.sqlite_path) as db:
        stored = dict(
            db.execute(
                "SELECT json_extract(payload, '$.link_id'), COUNT(*) FROM raw_events "
                "WHERE event_type = 'comment' GROUP BY 1"
            ).fetchall()
        )
    assert {k: v for k, v in marks.recent["tiny"].items() if v} == stored
    assert read_marks(settings.database, MARKS).recent == {}  # no floor: latest only


def test_read_marks_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert read_marks(settings.database, MARKS, lambda marks: None) == Marks()
    assert not settings.database.sqlite_path.exists()


def test_build_sinks_sets_the_csv_sink_to_follow_a_database(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    alone = build_sinks(["csv"], settings)
    assert isinstance(alone[0], CsvSink) and alone[0].dedupe_against_files
    led = build_sinks(["csv", "database"], settings)
    assert [s.name for s in led] == ["sqlite", "csv"]
    assert isinstance(led[1], CsvSink) and not led[1].dedupe_against_files


# Layout -----------------------------------------------------------------------------------

FORBIDDEN = ("pipeline", "sinks", "scrape", "cli")


def test_sources_import_nothing_above_them() -> None:
    root = Path(sentiment_pipeline.__file__).parent
    offenders = []
    for path in sorted((root / "sources").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "sentiment_pipeline" and len(parts) > 1 and parts[1] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(root)}: {name}")
    assert offenders == []
