"""The run record (migration 0009, `service.record`): every finished run of a command
leaves one `run_metrics` row with its figures, with or without a metrics file, on every
backend; a database that cannot take the row costs one warning, never the run; no
setting or credential is ever written there."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.models import RunMetricsORM
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.fake_reddit import RunningFakeReddit
from sentiment_pipeline.service import RunFigures, RunMetrics, record_run
from tests.fixtures.cli import invoke
from tests.fixtures.events import ndjson_line
from tests.test_scrape import fake_env

SECRET = "Zq9@ss%2F/w:d#?x-secret"


def _rows(url: str) -> list[dict[str, Any]]:
    """Every run_metrics row, `figures` decoded, oldest first."""
    engine = sa.create_engine(parse_database_url(url).sqlalchemy)
    with engine.connect() as connection:
        table = RunMetricsORM.__table__
        found = connection.execute(sa.select(table).order_by(table.c.finished_at)).mappings()
        rows = [dict(row) for row in found]
    engine.dispose()
    return rows


def _metrics(command: str = "scrape", code: int = 0) -> RunMetrics:
    figures = RunFigures(
        counters={"events_inserted": 7, "events_spooled": 2, "events_dead_lettered": 1},
        per_target={"python": {"events_fetched": 9}},
        target_label="subreddit",
    )
    return RunMetrics(command, 1_765_000_000.25, 12.5, code, figures)


def test_a_record_round_trips_on_every_backend(any_db_url: str) -> None:
    init_db(parse_database_url(any_db_url))
    assert record_run(parse_database_url(any_db_url), _metrics()) is None
    assert record_run(parse_database_url(any_db_url), _metrics("sentiment_score", 3)) is None
    rows = _rows(any_db_url)
    assert [(r["command"], r["exit_code"]) for r in rows] in (
        [("scrape", 0), ("sentiment_score", 3)],
        [("sentiment_score", 3), ("scrape", 0)],  # the same finish time: any order
    )
    row = rows[0] if rows[0]["command"] == "scrape" else rows[1]
    assert row["duration_seconds"] == 12.5
    assert row["figures"]["counters"] == {
        "events_inserted": 7,
        "events_spooled": 2,
        "events_dead_lettered": 1,
    }
    assert row["figures"]["per_target"] == {"python": {"events_fetched": 9}}
    assert row["figures"]["target_label"] == "subreddit"
    started, finished = row["started_at"], row["finished_at"]
    assert (finished - started).total_seconds() == pytest.approx(12.5, abs=1e-3)


def test_a_run_still_going_on_is_not_recorded(sqlite_url: str) -> None:
    init_db(parse_database_url(sqlite_url))
    going = RunMetrics("ingest_ndjson", 1_765_000_000.0, 0.0, 0, finished=False)
    assert record_run(parse_database_url(sqlite_url), going) is None
    assert _rows(sqlite_url) == []


def test_a_database_that_is_down_gives_one_warning_without_the_password() -> None:
    url = parse_database_url(f"postgresql://sentpipe:{quote(SECRET, safe='')}@127.0.0.1:1/x")
    warning = record_run(url, _metrics())
    assert warning is not None
    assert "not recorded in run_metrics" in warning and "127.0.0.1:1" in warning
    assert SECRET not in warning and "Zq9@ss" not in warning


def test_an_unused_embedded_database_is_not_created(tmp_path: Path) -> None:
    url = parse_database_url(f"sqlite:///{tmp_path / 'absent.db'}")
    assert record_run(url, _metrics()) is None
    assert not (tmp_path / "absent.db").exists()


def test_scrape_and_score_record_their_runs_without_a_metrics_file(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path / "data")
    env.pop("SENTPIPE_METRICS_DIR", None)
    done = invoke("scrape", "reddit", "-s", "tiny", "--no-comments", env=env)
    assert done.exit_code == 0, done.output
    done = invoke("sentiment", "score", env=env)
    assert done.exit_code == 0, done.output
    assert "run_metrics" not in done.output
    assert not list(tmp_path.rglob("*.prom"))

    url = env["SENTPIPE_DATABASE_URL"]
    rows = _rows(url)
    assert [r["command"] for r in rows] == ["scrape", "sentiment_score"]
    scrape, score = rows
    assert scrape["exit_code"] == 0 and score["exit_code"] == 0
    assert scrape["figures"]["counters"]["events_inserted"] == 5
    assert scrape["figures"]["counters"]["events_spooled"] == 0
    assert scrape["figures"]["per_target"]["tiny"]["events_fetched"] == 5
    assert scrape["figures"]["target_label"] == "subreddit"
    assert score["figures"]["counters"]["events_scored"] == 5
    assert score["started_at"] >= scrape["finished_at"]

    with sqlite3.connect(Path(url.removeprefix("sqlite:///"))) as db:
        stored = " ".join(str(v) for row in db.execute("SELECT * FROM run_metrics") for v in row)
    secrets = ("SENTPIPE_REDDIT_CLIENT_SECRET", "SENTPIPE_REDDIT_CLIENT_ID")
    assert all(env.get(name) for name in secrets)
    for secret in (*(env[name] for name in secrets), url):
        assert secret not in stored


def test_a_table_that_is_missing_costs_one_warning_not_the_run(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = fake_env(fake_reddit, tmp_path / "data")
    path = Path(env["SENTPIPE_DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE run_metrics")
    done = invoke("scrape", "reddit", "-s", "tiny", "--no-comments", env=env)
    assert done.exit_code == 0, done.output
    assert done.output.count("not recorded in run_metrics") == 1, done.output
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM raw_events").fetchone() == (5,)


def test_a_dry_run_is_not_recorded_and_a_real_one_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sentpipe.db'}"
    init_db(parse_database_url(url))
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson_line(1) + "\n" + ndjson_line(2) + "\n", encoding="utf-8")
    env = {
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "SENTPIPE_SINKS": "database",
    }
    done = invoke("ingest", "ndjson", str(path), "--dry-run", env=env)
    assert done.exit_code == 0, done.output
    assert _rows(url) == []
    done = invoke("ingest", "ndjson", str(path), env=env)
    assert done.exit_code == 0, done.output
    (row,) = _rows(url)
    assert row["command"] == "ingest_ndjson"
    assert row["figures"]["counters"]["events_inserted"] == 2
