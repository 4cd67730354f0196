"""Ingest benchmark: is PostgresSink close to the physical limit of binary COPY?

Run: .venv/bin/python bench/ingest.py --url postgresql://USER:PW@HOST:PORT/postgres
     [--rows 200000] [--batch 5000] [--repeat 1] [--sqlite] [--pipeline-rows 1000000]

In one scratch database on the given server (created, then dropped), it times:
  (a) raw binary COPY straight into raw_events (not idempotent: the physical limit),
  (b) PostgresSink.write of new rows, (c) PostgresSink.write when every row is a duplicate,
all with the same rows, batch size and one transaction per batch, and prints b/a and c/a
against the goals; (d) times the sink's concurrent-writer fallback (temp staging table +
INSERT … ON CONFLICT DO NOTHING RETURNING) on new rows, the design it improves on.
DTO validation is done per batch outside the timed region, so only database work is
measured and memory stays at about one batch. Then (e) the whole pipeline (read, validate,
batch, write) runs on --pipeline-rows records in a child process: rows/s and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import make_records, scratch_url

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.dto import RawEventDTO, Validated, validate_record
from sentiment_pipeline.sinks.postgres import (
    PostgresSink,
    copy_rows,
    register_jsonb_text,
)

Run = dict[str, tuple[float, float]]  # phase -> (raw COPY rows/s, phase rows/s)
GOAL_NEW = 0.85
GOAL_DUP = 1.3
COPY_SQL = (
    "COPY raw_events (id, occurred_at, source, source_id, event_type, payload) "
    "FROM STDIN (FORMAT BINARY)"
)


def batches(rows: int, size: int, seed: int = 1) -> Iterator[list[RawEventDTO]]:
    """Validated batches, built lazily (deterministic: every phase sees the same rows)."""
    chunk: list[RawEventDTO] = []
    for record in make_records(rows, seed):
        result = validate_record(record)
        assert isinstance(result, Validated), result
        chunk.append(result.event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


Writer = Callable[[list[RawEventDTO]], object]


def paired(rows: int, size: int, raw: Writer, other: Writer) -> tuple[float, float]:
    """Rows/s of `raw` and `other`, timed batch by batch in alternating order so both see
    the same background load (this box is shared); validation time is excluded."""
    spent = [0.0, 0.0]
    for i, batch in enumerate(batches(rows, size)):
        order = ((0, raw), (1, other)) if i % 2 == 0 else ((1, other), (0, raw))
        for slot, write in order:
            start = time.perf_counter()
            write(batch)
            spent[slot] += time.perf_counter() - start
    return rows / spent[0], rows / spent[1]


def admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(parse_database_url(url).libpq, autocommit=True)


def settle(conn: psycopg.Connection[Any]) -> None:
    """Start each phase from an empty table and (where allowed) a fresh checkpoint."""
    conn.execute("TRUNCATE raw_events")
    with suppress(psycopg.errors.InsufficientPrivilege):
        conn.execute("CHECKPOINT")


def ingest_phases(raw_url: DatabaseURL, url: DatabaseURL, rows: int, size: int) -> Run:
    """Three passes, each pairing raw COPY (into its own, emptied, database) with a sink
    phase on the same batches: (b) new rows, (c) the same rows again, (d) fallback path."""
    with (
        closing(psycopg.connect(raw_url.libpq, autocommit=True)) as conn,
        closing(psycopg.connect(url.libpq, autocommit=True)) as sink_admin,
    ):
        register_jsonb_text(conn)
        cur = conn.cursor()

        def raw_copy(batch: Sequence[RawEventDTO]) -> None:
            with conn.transaction():
                copy_rows(cur, COPY_SQL, batch)

        sink = PostgresSink(url)
        counts = [0, 0]

        def sink_write(batch: Sequence[RawEventDTO]) -> None:
            result = sink.write(batch)
            counts[0] += result.inserted
            counts[1] += result.duplicates

        def stage_write(batch: list[RawEventDTO]) -> None:
            # The concurrent-writer fallback alone, for comparison (private on purpose).
            sink._stage_and_merge(sink._connection(), batch)

        run: Run = {}
        try:
            for phase, writer, expect in (
                ("new", sink_write, [rows, 0]),
                ("dup", sink_write, [0, rows]),
                ("stage", stage_write, [0, 0]),
            ):
                settle(conn)
                if phase != "dup":
                    settle(sink_admin)
                counts[:] = [0, 0]
                run[phase] = paired(rows, size, raw_copy, writer)
                assert counts == expect, (phase, counts)
        finally:
            sink.close()
        stored = sink_admin.execute("SELECT count(*) FROM raw_events").fetchone()
        assert stored is not None and stored[0] == rows, stored
        return run


def drop_databases(url: str, names: Sequence[str]) -> None:
    """Plain DROP (our sessions are closed; the server cancels autovacuum itself), retried:
    WITH (FORCE) would need rights over the server's own background workers."""
    with closing(admin(url)) as conn:
        for db in names:
            for attempt in range(20):
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
                    break
                except psycopg.errors.ObjectInUse:
                    if attempt == 19:
                        raise
                    time.sleep(0.5)


def server_info(url: str) -> str:
    with closing(admin(url)) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), (SELECT default_version FROM "
            "pg_available_extensions WHERE name = 'timescaledb')"
        ).fetchone()
    assert row is not None
    return f"PostgreSQL {row[0]}" + (f", TimescaleDB {row[1]}" if row[1] else "")


def section_ingest(args: argparse.Namespace) -> None:
    name = f"sentpipe_bench_{os.getpid()}"
    names = (f"{name}_raw", f"{name}_sink")
    with closing(admin(args.url)) as conn:
        for db in names:
            conn.execute(f'CREATE DATABASE "{db}"')
    try:
        raw_url, url = (scratch_url(args.url, db) for db in names)
        init_db(raw_url)
        init_db(url)
        print(f"server: {server_info(args.url)}; rows {args.rows}, batch {args.batch}")
        runs = [ingest_phases(raw_url, url, args.rows, args.batch) for _ in range(args.repeat)]
    finally:
        drop_databases(args.url, names)
    labels = {
        "new": ("(b) PostgresSink.write, all rows new", GOAL_NEW),
        "dup": ("(c) PostgresSink.write, all rows duplicate", GOAL_DUP),
        "stage": ("(d) fallback: staging + ON CONFLICT, new rows", None),
    }
    print(f"{'phase (paired with raw COPY)':<47}{'rows/s':>9}{'raw/s':>9}{'x raw':>7}  goal")
    for phase, (label, goal) in labels.items():
        # The median run by ratio: robust against one run disturbed by other load.
        ordered = sorted((run[phase] for run in runs), key=lambda pair: pair[1] / pair[0])
        raw, rate = ordered[len(ordered) // 2]
        ratio = rate / raw
        verdict = "" if goal is None else f"{goal:.2f} {'ok' if ratio >= goal else 'MISS'}"
        spread = ", ".join(f"{r / w:.2f}" for w, r in ordered)
        print(f"{label:<47}{rate:>9,.0f}{raw:>9,.0f}{ratio:>6.2f}x  {verdict}")
        if len(runs) > 1:
            print(f"{'':<4}ratios of all {len(runs)} runs: {spread}")


def section_sqlite(args: argparse.Namespace) -> None:
    try:
        from sentiment_pipeline.sinks.sqlite import SqliteSink
    except ImportError:
        print("sqlite: skipped (sentiment_pipeline.sinks.sqlite does not exist yet)")
        return
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        url = parse_database_url(f"sqlite:///{tmp}/bench.db")
        init_db(url)
        sink = SqliteSink(url)
        try:
            _, new = paired(args.rows, args.batch, lambda b: None, sink.write)
            _, dup = paired(args.rows, args.batch, lambda b: None, sink.write)
        finally:
            sink.close()
    print(f"sqlite: new rows {new:,.0f}/s, all duplicates {dup:,.0f}/s")


def section_pipeline(args: argparse.Namespace) -> None:
    """Peak RSS and rows/s of the whole pipeline (bench/pipeline.py) on the same server."""
    from pipeline import GOAL_RSS_MB, run_child

    name = f"sentpipe_pipe_{os.getpid()}"
    with closing(admin(args.url)) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        figures = run_child(scratch_url(args.url, name).sqlalchemy, args.pipeline_rows, False)
    finally:
        with closing(admin(args.url)) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rate = figures["rows"] / figures["seconds"]
    verdict = "ok" if figures["peak_rss_mb"] < GOAL_RSS_MB else "MISS"
    print(
        f"whole pipeline, {figures['rows']:,} records: {rate:,.0f} rows/s end to end, "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB (goal < {GOAL_RSS_MB} MB: {verdict})"
    )


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "ingest": section_ingest,
    "pipeline": section_pipeline,
    "sqlite": section_sqlite,
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="PostgreSQL admin URL (a scratch database is created)")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=1, help="runs; the median ratio is reported")
    parser.add_argument("--sqlite", action="store_true", help="also time the SQLite sink")
    parser.add_argument(
        "--pipeline-rows",
        type=int,
        default=1_000_000,
        help="records for the whole-pipeline RSS run (0 skips it)",
    )
    args = parser.parse_args(argv)
    wanted = (["ingest"] if args.url else []) + (["sqlite"] if args.sqlite else [])
    if args.url and args.pipeline_rows:
        wanted.insert(1, "pipeline")
    if not wanted:
        parser.error("give --url and/or --sqlite")
    for section in wanted:
        SECTIONS[section](args)


if __name__ == "__main__":
    main()
