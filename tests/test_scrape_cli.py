"""`sentpipe scrape reddit` from the command line: exit codes, output, lock, sinks."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

from sentiment_pipeline.fake_reddit import RunningFakeReddit
from sentiment_pipeline.lock import run_lock
from tests.fixtures.cli import invoke
from tests.test_scrape import fake_env

ANSI = re.compile(r"\x1b\[")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", re.MULTILINE)


def test_scrape_writes_database_and_csv_with_plain_log_lines(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    result = invoke("scrape", "reddit", "-s", "tiny,stocks", "--limit", "20", env=env)
    assert result.exit_code == 0, result.output
    assert not ANSI.search(result.output)
    assert STAMP.search(result.output)
    assert "r/tiny: done, 5 posts" in result.output
    assert "r/stocks: done, 20 posts" in result.output
    files = list((tmp_path / "csv" / "reddit" / "stocks").glob("*.csv"))
    assert files


def test_json_result_and_exit_code_1_for_a_private_subreddit(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    args = ["scrape", "reddit", "-s", "tiny", "-s", "private_sub", "--no-comments", "--json"]
    result = invoke(*args, env=env)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["inserted"] == 5
    assert data["exit_code"] == 1
    assert [e.split(":")[0] for e in data["errors"]] == ["r/private_sub"]
    assert data["extra"]["subreddits"]["tiny"]["submissions"] == 5
    # token, the two first-seen `about` checks, tiny's listing
    assert data["extra"]["requests"]["total"] == len(fake_reddit.request_log)
    assert fake_reddit.count(route="about") == 2


def test_missing_credentials_exit_2_with_one_line(tmp_path: Path) -> None:
    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_REDDIT_CLIENT_ID": "",
        "SENTPIPE_REDDIT_CLIENT_SECRET": "",
    }
    result = invoke("scrape", "reddit", "-s", "python", env=env)
    assert result.exit_code == 2
    assert "SENTPIPE_REDDIT_CLIENT_ID" in result.output
    assert "https://www.reddit.com/prefs/apps" in result.output


def test_no_targets_is_a_usage_error(tmp_path: Path) -> None:
    env = {"SENTPIPE_DATA_DIR": str(tmp_path)}
    result = invoke("scrape", "reddit", env=env)
    assert result.exit_code == 2
    assert "--subreddit" in result.output


def test_bad_sort_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(
        "scrape",
        "reddit",
        "-s",
        "x",
        "--sort",
        "best",
        env={"SENTPIPE_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2


def test_second_run_while_one_holds_the_lock_exits_4(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    with run_lock(tmp_path / "scrape.lock"):
        result = invoke("scrape", "reddit", "-s", "tiny", env=env)
    assert result.exit_code == 4
    assert f"pid {os.getpid()}" in result.output
    assert fake_reddit.count() == 0  # refused before any request


def test_config_file_targets_and_command_line_overrides(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    config = tmp_path / "sentpipe.yaml"
    config.write_text(
        "subreddits:\n  - name: stocks\n    limit: 7\n    comments: false\n  - name: tiny\n",
        encoding="utf-8",
    )
    env = fake_env(fake_reddit, tmp_path)
    result = invoke("--config", str(config), "scrape", "reddit", "--no-comments", "--json", env=env)
    assert result.exit_code == 0, result.output
    subs = json.loads(result.stdout)["extra"]["subreddits"]
    assert {n: (s["submissions"], s["comments"]) for n, s in subs.items()} == {
        "stocks": (7, 0),
        "tiny": (5, 0),
    }


def test_max_requests_reports_stopped_early_with_exit_0(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    result = invoke("scrape", "reddit", "-s", "stocks", "--max-requests", "5", env=env)
    assert result.exit_code == 0, result.output
    assert "stopped early: reached --max-requests 5" in result.output
    assert len(fake_reddit.request_log) == 5


def test_hostile_data_round_trips_into_timescaledb_and_csv(
    fake_reddit: RunningFakeReddit, tmp_path: Path, timescale_url: str
) -> None:
    import sqlalchemy

    env = fake_env(fake_reddit, tmp_path, database_url=timescale_url)
    result = invoke("scrape", "reddit", "-s", "hostile", "--json", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    engine = sqlalchemy.create_engine(
        timescale_url.replace("postgresql://", "postgresql+psycopg://", 1)
    )
    with engine.connect() as db:
        stored = db.execute(
            sqlalchemy.text("SELECT id, payload FROM raw_events WHERE source_id = 'hostile'")
        ).all()
    engine.dispose()
    assert len(stored) == data["inserted"] > 150
    titles = {row[1].get("title") for row in stored}
    assert "NUL\ufffdin the title\ufffd" in titles
    csv.field_size_limit(1 << 24)  # the 200 KB body
    csv_rows = []
    for path in (tmp_path / "csv" / "reddit" / "hostile").glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            csv_rows.extend(csv.DictReader(handle))
    assert sorted(r["id"] for r in csv_rows) == sorted(row[0] for row in stored)
    by_id = {r["id"]: json.loads(r["payload"]) for r in csv_rows}
    assert all(by_id[ident] == payload for ident, payload in stored)


def test_comments_from_and_the_groups_in_json_text_and_metrics(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    metrics = tmp_path / "scrape.prom"
    first = invoke("scrape", "reddit", "-s", "tiny,stocks", "--json", env=env)
    assert first.exit_code == 0, first.output
    assert set(json.loads(first.stdout)["extra"]["groups"]) == {"tiny", "stocks"}  # first seen
    again = invoke("scrape", "reddit", "-s", "tiny,stocks", "--metrics-file", str(metrics), env=env)
    assert again.exit_code == 0, again.output
    assert "group stocks+tiny: done" in again.output
    assert "2 listing requests" in again.output
    text = metrics.read_text(encoding="utf-8")
    assert 'sentpipe_group_requests{command="scrape",group="stocks+tiny"} 2.0' in text
    assert 'sentpipe_group_gaps{command="scrape",group="stocks+tiny"} 0.0' in text
    trees = invoke("scrape", "reddit", "-s", "tiny", "--comments-from", "trees", "--json", env=env)
    data = json.loads(trees.stdout)
    assert data["extra"]["comments_from"] == "trees" and data["extra"]["groups"] == {}


def test_bad_comments_from_and_budget_are_usage_errors(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path)
    bad = invoke("scrape", "reddit", "-s", "tiny", "--comments-from", "posts", env=env)
    assert bad.exit_code == 2
    assert "--comments-from" in bad.output and "auto, listing, trees" in bad.output
    assert "Traceback" not in bad.output
    zero = invoke("scrape", "reddit", "-s", "tiny", "--max-requests-per-hour", "0", env=env)
    assert zero.exit_code == 2 and "--max-requests-per-hour" in zero.output
    env["SENTPIPE_COMMENTS_FROM"] = "sometimes"
    configured = invoke("scrape", "reddit", "-s", "tiny", env=env)
    assert configured.exit_code == 2 and "comments_from" in configured.output.lower()
    assert fake_reddit.count(route="listing") == 0  # refused before any request
