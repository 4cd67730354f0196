"""Export and stats benchmark: is `sentpipe export csv` close to a raw COPY, in flat memory?

Run: .venv/bin/python bench/export.py --url postgresql://USER:PW@HOST:PORT/postgres
     [--rows 1000000] [--repeat 3] [--keep] [--gzip]

In one database on the given server (`sentpipe_bench_export_<rows>`, loaded once with the
rows from bench/_data.py and reused with --keep), it measures, in one run:
  (a) the raw `COPY (SELECT …) TO STDOUT (FORMAT csv)` of exactly the exporter's query,
      read by psycopg and written to /dev/null (and by psql, the C client, for reference);
  (b) `sentpipe export csv -o - > /dev/null` as a separate process: wall time including
      start-up, and its peak RSS (VmHWM);
  (c) `sentpipe stats --json` as a process: wall time, and `collect_stats` in-process.
It prints b/a against the 0.8 goal, the RSS against 150 MB and the stats time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import make_records

from sentiment_pipeline.db.filters import EventFilter
from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.dto import RawEventDTO, Validated, validate_record
from sentiment_pipeline.export.columns import DEFAULT_COLUMNS, select_sql
from sentiment_pipeline.sinks.postgres import copy_rows, register_jsonb_text
from sentiment_pipeline.stats import collect_stats

GOAL_RATIO = 0.8
GOAL_RSS_MB = 150
BIN = Path(sys.executable).parent / "sentpipe"
COPY_SQL = (
    "COPY raw_events (id, occurred_at, source, source_id, event_type, payload) "
    "FROM STDIN (FORMAT BINARY)"
)


def scratch_url(url: str, name: str) -> DatabaseURL:
    head, _, _ = parse_database_url(url).sqlalchemy.rpartition("/")
    return DatabaseURL(f"{head}/{name}", "postgresql")


def prepare(admin_url: str, rows: int) -> DatabaseURL:
    """The loaded benchmark database: created once, resumed after an interruption (the
    rows are deterministic, so the first N already stored are skipped), then reused."""
    name = f"sentpipe_bench_export_{rows}"
    url = scratch_url(admin_url, name)
    with closing(psycopg.connect(parse_database_url(admin_url).libpq, autocommit=True)) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            c.execute(f'CREATE DATABASE "{name}"')
    init_db(url)
    start = time.perf_counter()
    for attempt in range(5):
        try:
            stored = load(url, rows)
            break
        except psycopg.OperationalError as error:  # a server restart: resume
            print(f"load interrupted ({error}); resuming", file=sys.stderr)
            time.sleep(2 * (attempt + 1))
    else:
        raise SystemExit("could not load the benchmark rows")
    if stored:
        print(f"loaded {stored:,} rows in {time.perf_counter() - start:.0f} s")
    return url


def load(url: DatabaseURL, rows: int) -> int:
    """Binary-COPY the rows not yet stored (validation outside the COPY); VACUUM ANALYZE."""
    with closing(psycopg.connect(url.libpq, autocommit=True)) as conn:
        register_jsonb_text(conn)
        have = conn.execute("SELECT count(*) FROM raw_events").fetchone()
        done = int(have[0]) if have else 0
        if done == rows:
            return 0
        batch: list[RawEventDTO] = []
        cur = conn.cursor()
        for i, record in enumerate(make_records(rows)):
            if i < done:
                continue
            result = validate_record(record)
            assert isinstance(result, Validated)
            batch.append(result.event)
            if len(batch) == 10_000 or i == rows - 1:
                with conn.transaction():
                    copy_rows(cur, COPY_SQL, batch)
                batch = []
        conn.execute("VACUUM ANALYZE raw_events")
        return rows - done


def raw_copy(url: DatabaseURL) -> tuple[float, int]:
    """Seconds and rows for the exporter's own query through COPY, bytes to /dev/null."""
    sql, _ = select_sql("postgresql", DEFAULT_COLUMNS, EventFilter())
    rows = 0
    start = time.perf_counter()
    with (
        closing(psycopg.connect(url.libpq)) as conn,
        open(os.devnull, "wb") as sink,
        conn.cursor() as cur,
        cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy,
    ):
        for data in copy:
            sink.write(data)
            rows += 1
    return time.perf_counter() - start, rows


def psql_copy(url: DatabaseURL) -> float:
    sql, _ = select_sql("postgresql", DEFAULT_COLUMNS, EventFilter())
    start = time.perf_counter()
    subprocess.run(
        ["psql", url.libpq, "-q", "-c", f"\\copy ({sql}) TO '/dev/null' (FORMAT csv)"],
        check=True,
    )
    return time.perf_counter() - start


def run_cli(url: DatabaseURL, args: list[str], stdout: Any) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `sentpipe` process. The peak is the child's
    own VmHWM, polled: wait4's ru_maxrss would include this (large) parent's pages that
    the child held between fork and exec."""
    env = {**os.environ, "SENTPIPE_DATABASE_URL": url.libpq}
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIN), *args], stdout=stdout, env=env)
    status = Path(f"/proc/{proc.pid}/status")
    peak_kb = 0
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, f"sentpipe {args} exited {proc.returncode}"
    return elapsed, peak_kb / 1024


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="TimescaleDB/PostgreSQL admin URL")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    parser.add_argument("--gzip", action="store_true", help="also time -o FILE.csv.gz")
    args = parser.parse_args(argv)
    url = prepare(args.url, args.rows)
    try:
        raw = min(raw_copy(url)[0] for _ in range(args.repeat))
        psql = min(psql_copy(url) for _ in range(args.repeat))
        with open(os.devnull, "wb") as devnull:
            exports = [
                run_cli(url, ["export", "csv", "-o", "-", "-q"], devnull)
                for _ in range(args.repeat)
            ]
            stats_runs = [run_cli(url, ["stats", "--json"], devnull) for _ in range(args.repeat)]
        start = time.perf_counter()
        collect_stats(url)
        in_process = time.perf_counter() - start
        export_s = min(t for t, _ in exports)
        rss = max(r for _, r in exports)
        rows = args.rows
        print(f"rows {rows:,}; export query: {len(DEFAULT_COLUMNS)} default columns")
        print(f"(a) raw COPY via psycopg to /dev/null  {raw:6.2f} s  {rows / raw:>10,.0f} rows/s")
        print(f"    raw COPY via psql to /dev/null     {psql:6.2f} s  {rows / psql:>10,.0f} rows/s")
        ratio = raw / export_s
        print(
            f"(b) sentpipe export csv -o - (process) {export_s:6.2f} s  "
            f"{rows / export_s:>10,.0f} rows/s  = {ratio:.2f}x raw "
            f"(goal {GOAL_RATIO}: {'ok' if ratio >= GOAL_RATIO else 'MISS'})"
        )
        print(
            f"    peak RSS {rss:.0f} MB (goal < {GOAL_RSS_MB}: "
            f"{'ok' if rss < GOAL_RSS_MB else 'MISS'})"
        )
        stats_s = min(t for t, _ in stats_runs)
        print(
            f"(c) sentpipe stats --json (process)    {stats_s:6.2f} s; "
            f"collect_stats in-process {in_process:.2f} s"
        )
        if args.gzip:
            target = Path(f"/tmp/sentpipe_bench_{os.getpid()}.csv.gz")
            seconds, rss_gz = run_cli(url, ["export", "csv", "-o", str(target), "-q"], None)
            size = target.stat().st_size / 2**20
            target.unlink()
            print(
                f"    export -o .csv.gz {seconds:.2f} s, {rows / seconds:,.0f} rows/s, "
                f"{size:.0f} MB, RSS {rss_gz:.0f} MB"
            )
    finally:
        if not args.keep:
            with closing(psycopg.connect(parse_database_url(args.url).libpq, autocommit=True)) as c:
                c.execute(
                    f'DROP DATABASE IF EXISTS "{url.sqlalchemy.rpartition("/")[2]}" WITH (FORCE)'
                )


if __name__ == "__main__":
    main()
