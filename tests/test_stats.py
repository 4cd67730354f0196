"""`stats` on real TimescaleDB, PostgreSQL and SQLite: exact figures, JSON shape, staleness."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from sentiment_pipeline.cli import app
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.stats import collect_stats
from tests.test_export import HOSTILE, load, record

NOW = datetime(2024, 1, 3, 12, 0, tzinfo=UTC)
JSON_KEYS = {
    "schema",
    "generated_at",
    "filters",
    "backend",
    "total",
    "processed",
    "unprocessed",
    "by_source",
    "by_source_id",
    "by_event_type",
    "first_occurred_at",
    "last_occurred_at",
    "last_ingested_at",
    "newest_event_age_seconds",
    "last_ingest_age_seconds",
    "per_day",
    "stale",
    "sentiment",
    "not_scorable",
    "refresh",
    "pending",
    "topics",
}


def test_figures_are_exact(any_db_url: str) -> None:
    db = load(any_db_url, HOSTILE, processed=["t1_b"])
    stats = collect_stats(db, days=3, now=NOW)
    assert stats.total == 4
    assert (stats.processed, stats.unprocessed) == (1, 3)
    assert stats.by_source == {"reddit": 4}
    assert stats.by_source_id == [("reddit", "stocks", 2), ("reddit", "wsb", 2)]
    assert stats.by_event_type == {"comment": 3, "submission": 1}
    assert stats.first_occurred_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert stats.last_occurred_at == datetime(2024, 1, 2, tzinfo=UTC)
    assert stats.last_ingested_at == datetime(2024, 2, 1, tzinfo=UTC)
    # 23:59:59.999999 counts for Jan 1, midnight for Jan 2 (UTC buckets)
    assert stats.per_day == [(date(2024, 1, 1), 2), (date(2024, 1, 2), 2), (date(2024, 1, 3), 0)]
    assert stats.newest_event_age == timedelta(days=1, hours=12)


def test_filters_narrow_every_figure(any_db_url: str) -> None:
    db = load(any_db_url, HOSTILE, processed=["t1_b"])
    stats = collect_stats(db, source_ids=("stocks",), days=2, now=NOW)
    assert (stats.total, stats.processed) == (2, 1)
    assert stats.by_event_type == {"comment": 1, "submission": 1}
    assert stats.per_day == [(date(2024, 1, 2), 0), (date(2024, 1, 3), 0)]
    since = collect_stats(
        db, since=datetime(2024, 1, 1, 23, 59, 59, 999999, tzinfo=UTC), days=3, now=NOW
    )
    assert since.total == 3
    assert since.per_day[0] == (date(2024, 1, 1), 1)


def test_empty_database(any_db_url: str) -> None:
    db = load(any_db_url, [])
    stats = collect_stats(db, now=NOW)
    assert stats.total == 0 and stats.by_source_id == []
    assert stats.first_occurred_at is None and stats.last_ingested_at is None
    assert len(stats.per_day) == 14 and all(n == 0 for _, n in stats.per_day)
    assert stats.per_day[-1][0] == NOW.date()
    assert stats.is_stale(timedelta(days=365))
    assert set(stats.to_dict()) == JSON_KEYS


def test_backend_description(any_db_url: str, request: pytest.FixtureRequest) -> None:
    db = load(any_db_url, HOSTILE)
    backend = collect_stats(db, now=NOW).backend
    assert backend.size_bytes is not None and backend.size_bytes > 0
    server = request.node.callspec.params["any_db_url"]
    if server == "timescale":
        assert backend.kind == "timescaledb" and backend.hypertable
        assert backend.chunks is not None and backend.chunks >= 1
        assert backend.description.startswith("TimescaleDB ")
    elif server == "postgres":
        assert (backend.kind, backend.hypertable) == ("postgresql", False)
    else:
        assert backend.kind == "sqlite"


def cli(url: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["stats", *args], env={"SENTPIPE_DATABASE_URL": url})


def test_cli_json_shape_and_fail_if_stale(any_db_url: str) -> None:
    now = datetime.now(UTC)
    two_hours_ago = (now - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S+00")
    fresh = [
        record("t1_new", (now - timedelta(minutes=5)).isoformat(), source_id="wsb"),
        record("t1_old", (now - timedelta(days=1)).isoformat()),
    ]
    db = load(any_db_url, fresh, ingested_at=two_hours_ago)
    result = cli(any_db_url, "--json", "--days", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == JSON_KEYS
    assert data["schema"] == 1 and data["stale"] is None
    assert data["total"] == 2 and data["unprocessed"] == 2
    assert data["by_source_id"] == [
        {"source": "reddit", "source_id": "stocks", "events": 1},
        {"source": "reddit", "source_id": "wsb", "events": 1},
    ]
    # per UTC day of the two shown, the events that fall on it: which day the two land on
    # depends on the time of day (just after midnight, both are yesterday's)
    moments = [now - timedelta(minutes=5), now - timedelta(days=1)]
    shown = [(now - timedelta(days=1)).date(), now.date()]
    assert [d["events"] for d in data["per_day"]] == [
        sum(moment.date() == day for moment in moments) for day in shown
    ]
    assert data["per_day"][-1]["date"] == now.date().isoformat()
    assert data["backend"]["kind"] in {"timescaledb", "postgresql", "sqlite"}
    assert data["filters"] == {"source_ids": [], "since": None, "topics": [], "via": "any"}
    assert 7100 < data["last_ingest_age_seconds"] < 7300
    assert data["last_ingested_at"].endswith("Z")

    stale = cli(any_db_url, "--fail-if-stale", "1h")
    assert stale.exit_code == 1
    assert "Stale: the last event was ingested" in stale.stderr
    assert cli(any_db_url, "--fail-if-stale", "3h", "--json").exit_code == 0
    assert json.loads(cli(any_db_url, "--fail-if-stale", "1h", "--json").stdout)["stale"]
    assert cli(any_db_url, "--fail-if-stale", "soon").exit_code == 2

    text = cli(any_db_url, "--subreddit", "wsb", "--days", "3")
    assert text.exit_code == 0, text.output
    assert "Events per day" in text.stdout and "wsb" in text.stdout
    assert parse_database_url(any_db_url).backend == db.backend


def test_cli_missing_sqlite_file_is_a_usage_error(tmp_path: Any) -> None:
    result = cli(f"sqlite:///{tmp_path}/none.db")
    assert result.exit_code == 2
    assert not (tmp_path / "none.db").exists()
