"""The export query's plans: the (occurred_at, id) order comes from the `occurred_at` index,
never from a sort of every row (which spilled ~1 GB to disk at 1M rows), and the filters
keep using the indexes. Plans, not timings: EXPLAIN on real servers and SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.export import EventFilter
from sentiment_pipeline.export.columns import DEFAULT_COLUMNS, select_sql
from sentiment_pipeline.export.postgres import prepare_session
from sentiment_pipeline.export.sqlite import register_html_text, register_pg_json

ROWS = 30_000
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=30)
ONE_DAY = EventFilter(since=START + timedelta(days=15), until=START + timedelta(days=16))

# Deterministic rows over 30 days (about one a minute and a half, some sharing a second),
# ~1 KB payloads like Reddit's: enough that a whole-table sort would not fit in work_mem.
_PG_ROWS = f"""
INSERT INTO raw_events (id, occurred_at, source, source_id, event_type, payload)
SELECT 't1_' || to_hex(g), %s::timestamptz + (g / 2) * interval '173 seconds',
       'reddit', (ARRAY['stocks', 'wsb', 'investing'])[1 + g %% 3], 'comment',
       jsonb_build_object('author', 'user' || g %% 97, 'body', repeat('word ', 180 + g %% 40),
                          'score', g %% 50, 'parent_id', 't3_' || g %% 1000)
FROM generate_series(1, {ROWS}) AS g
"""


def _load_pg(url: str) -> DatabaseURL:
    db = parse_database_url(url)
    init_db(db)
    with psycopg.connect(db.libpq, autocommit=True) as conn:
        conn.execute(_PG_ROWS, [START])
        conn.execute("VACUUM ANALYZE raw_events")
    return db


def _nodes(plan: dict[str, Any], subplans: bool = False) -> Iterator[dict[str, Any]]:
    """The plan's nodes; with `subplans`, also those of per-row subplans (the `topics`
    column's aggregate over one event's few topics, sorted by name, is one)."""
    yield plan
    for child in plan.get("Plans", ()):
        if subplans or child.get("Parent Relationship") != "SubPlan":
            yield from _nodes(child, subplans)


# Parallel plans made as cheap as possible: what a bigger table makes the planner choose.
CHEAP_PARALLEL = (
    "SET parallel_setup_cost = 0",
    "SET parallel_tuple_cost = 0",
    "SET min_parallel_table_scan_size = 0",
    "SET min_parallel_index_scan_size = 0",
)


def _plan(
    db: DatabaseURL, where: EventFilter, analyze: bool = False, server: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The export query's plan on a connection set up as the export sets it up (after
    the `server` settings, standing in for a server's configuration)."""
    sql, params = select_sql("postgresql", DEFAULT_COLUMNS, where)
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    with psycopg.connect(db.libpq, autocommit=True) as conn:
        for setting in server:
            conn.execute(setting)
        prepare_session(conn)
        row = conn.execute(f"EXPLAIN ({options}) {sql}", params).fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan


def _kinds(plan: dict[str, Any]) -> list[str]:
    return [node["Node Type"] for node in _nodes(plan)]


def _scanned(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes that read a table or chunk (not TimescaleDB's ChunkAppend above them)."""
    return [
        node
        for node in _nodes(plan)
        if "Relation Name" in node and node["Node Type"] != "Custom Scan"
    ]


@pytest.fixture(params=["timescale", "postgres"])
def loaded_pg(request: pytest.FixtureRequest) -> DatabaseURL:
    return _load_pg(request.getfixturevalue(f"{request.param}_url"))


def test_whole_export_reads_the_time_index_in_order(loaded_pg: DatabaseURL) -> None:
    plan = _plan(loaded_pg, EventFilter())
    kinds = _kinds(plan)
    assert "Sort" not in kinds, kinds  # at most an Incremental Sort of equal timestamps
    assert not {"Gather", "Gather Merge"} & set(kinds), kinds
    scans = _scanned(plan)
    assert scans and all(node["Node Type"] == "Index Scan" for node in scans), kinds
    assert all(node["Index Name"].endswith("raw_events_occurred_at_idx") for node in scans)


def test_whole_export_writes_no_temporary_file(loaded_pg: DatabaseURL) -> None:
    plan = _plan(loaded_pg, EventFilter(), analyze=True)
    assert plan["Actual Rows"] == ROWS
    assert sum(node.get("Temp Written Blocks", 0) for node in _nodes(plan, True)) == 0


def test_filters_get_no_parallel_plan(loaded_pg: DatabaseURL) -> None:
    # Parallel workers cannot keep the index order: with --subreddit the planner chose
    # Gather Merge over a parallel seq scan and sorted every matching row (561 MB of
    # temporary files at 1M rows); the export session turns parallel plans off.
    for where in (EventFilter(), EventFilter(source_ids=("stocks",)), ONE_DAY):
        kinds = _kinds(_plan(loaded_pg, where, server=CHEAP_PARALLEL))
        assert not {"Gather", "Gather Merge"} & set(kinds), kinds


def test_time_window_scans_only_its_chunk_by_index(timescale_url: str) -> None:
    db = _load_pg(timescale_url)
    with psycopg.connect(db.libpq) as conn:
        row = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'raw_events'"
        ).fetchone()
    assert row is not None and row[0] >= 4  # 7-day chunks over 30 days
    plan = _plan(db, ONE_DAY)
    scans = _scanned(plan)
    assert len(scans) == 1, _kinds(plan)  # chunk exclusion: one day lies in one chunk
    assert scans[0]["Node Type"] == "Index Scan"
    assert "Sort" not in _kinds(plan)


def test_time_window_uses_the_index_on_postgres(postgres_url: str) -> None:
    plan = _plan(_load_pg(postgres_url), ONE_DAY)
    assert "Sort" not in _kinds(plan)
    assert [node["Node Type"] for node in _scanned(plan)] == ["Index Scan"]


def _sqlite_plan(url: str, where: EventFilter) -> list[str]:
    db = parse_database_url(url)
    init_db(db)
    sql, params = select_sql("sqlite", DEFAULT_COLUMNS, where)
    with sqlite3.connect(db.sqlite_path) as conn:
        register_pg_json(conn)
        register_html_text(conn)  # the HN text column (export/sqlite.py)
        return [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


@pytest.mark.parametrize(
    "where", [EventFilter(), ONE_DAY, EventFilter(source_ids=("stocks",))], ids=str
)
def test_sqlite_orders_by_the_time_index(sqlite_url: str, where: EventFilter) -> None:
    steps = _sqlite_plan(sqlite_url, where)
    assert any("USING INDEX raw_events_occurred_at_idx" in step for step in steps), steps
    # Only runs of equal occurred_at are sorted by id ("RIGHT PART"): the index holds
    # occurred_at alone, as on the servers (where that is an Incremental Sort).
    assert "USE TEMP B-TREE FOR ORDER BY" not in steps, steps
    assert all("TEMP B-TREE" not in s or "RIGHT PART OF ORDER BY" in s for s in steps), steps
