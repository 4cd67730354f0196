"""Export benchmark: is `sentpipe export csv -o FILE` as fast as psql's COPY, in flat memory,
with no on-disk sort on the server?

Run (both servers, 100k and 1M rows, with and without a one-day --since/--until window):
    .venv/bin/python bench/export.py
    .venv/bin/python bench/export.py --rows 100000 --url postgresql://USER:PW@HOST:PORT/postgres
Options: --url (repeatable; default $SENTPIPE_TEST_TIMESCALE_URL and
$SENTPIPE_TEST_POSTGRES_URL, else the local TimescaleDB on 54329 and PostgreSQL on 5432),
--rows N [N ...] (default 100000 1000000), --repeat 3, --keep, --plans, --gzip.

Per server and size, one database `sentpipe_bench_export_<rows>_30d` holds the rows of
bench/_data.py spread over 30 days (loaded once, resumed after an interruption, reused
with --keep). In the same run it measures, best of --repeat, the order alternating:
  (a) `psql -c "COPY (SELECT id, occurred_at, …, processed FROM raw_events) TO STDOUT CSV
      HEADER" > FILE`: the whole psql process, the same fields without any formatting
      or order (the reference a user would compare with);
  (b) `sentpipe export csv -o FILE` as a process (start-up included), its peak RSS;
  both for the whole table and for one day in the middle (`--since/--until`); then
  (c) the server's temporary files during (b) (`pg_stat_database` temp_files/temp_bytes
      before and after) and whether the export plan has a full Sort node;
  (d) start-up: `sentpipe export csv` with nothing to export vs
      `python -c 'import typer, rich, psycopg, pydantic_settings'` (bench/startup.py).
It prints a/b against the 0.8 goal, the RSS against 150 MB, temp bytes against 8 MB and
the start-up ratio against 1.3.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import drop_database, make_records, measured, scratch_url
from startup import export_startup

from sentiment_pipeline.db.filters import EventFilter
from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.dto import RawEventDTO, Validated, validate_record
from sentiment_pipeline.export.columns import DEFAULT_COLUMNS, select_sql
from sentiment_pipeline.sinks.postgres import copy_rows, register_jsonb_text

GOAL_RATIO = 0.8
GOAL_RSS_MB = 150
GOAL_TEMP_MB = 8
SPAN_DAYS = 30
BIN = Path(sys.executable).parent / "sentpipe"
DEFAULT_URLS = (
    os.environ.get("SENTPIPE_TEST_TIMESCALE_URL")
    or "postgresql://sentpipe:sentpipe@127.0.0.1:54329/postgres",
    os.environ.get("SENTPIPE_TEST_POSTGRES_URL")
    or "postgresql://sentpipe:sentpipe@127.0.0.1:5432/postgres",
)
COPY_IN = (
    "COPY raw_events (id, occurred_at, source, source_id, event_type, payload) "
    "FROM STDIN (FORMAT BINARY)"
)
PSQL_SELECT = (
    "SELECT id, occurred_at, source, source_id, event_type, payload->>'author', "
    "payload->>'title', coalesce(payload->>'selftext', payload->>'body'), payload->>'score', "
    "payload->>'permalink', payload->>'parent_id', ingested_at, processed FROM raw_events"
)


def database_name(rows: int) -> str:
    return f"sentpipe_bench_export_{rows}_{SPAN_DAYS}d"


def prepare(admin_url: str, rows: int) -> DatabaseURL:
    """The loaded benchmark database: created once, resumed after an interruption (the
    rows are deterministic, so the first N already stored are skipped), then reused."""
    name = database_name(rows)
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
        step = 2 * SPAN_DAYS * 86_400 / rows
        for i, record in enumerate(make_records(rows, max_step=step)):
            if i < done:
                continue
            result = validate_record(record)
            assert isinstance(result, Validated)
            batch.append(result.event)
            if len(batch) == 10_000 or i == rows - 1:
                with conn.transaction():
                    copy_rows(cur, COPY_IN, batch)
                batch = []
        conn.execute("VACUUM ANALYZE raw_events")
        return rows - done


@dataclass(frozen=True)
class Case:
    label: str
    since: datetime | None = None
    until: datetime | None = None

    def cli_args(self) -> list[str]:
        if self.since is None or self.until is None:
            return []
        return ["--since", self.since.isoformat(), "--until", self.until.isoformat()]

    def psql_select(self) -> str:
        if self.since is None or self.until is None:
            return PSQL_SELECT
        return (
            f"{PSQL_SELECT} WHERE occurred_at >= '{self.since.isoformat()}' "
            f"AND occurred_at < '{self.until.isoformat()}'"
        )

    def where(self) -> EventFilter:
        return EventFilter(since=self.since, until=self.until)


def cases(url: DatabaseURL) -> list[Case]:
    """The whole table, and one UTC day in the middle of the 30."""
    with closing(psycopg.connect(url.libpq)) as conn:
        row = conn.execute("SELECT min(occurred_at) FROM raw_events").fetchone()
    assert row is not None and row[0] is not None
    first = row[0].astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = first + timedelta(days=SPAN_DAYS // 2)
    return [Case("all rows"), Case("one day", since, since + timedelta(days=1))]


def run_psql(url: DatabaseURL, case: Case, target: Path) -> float:
    """Wall seconds of `psql -c "COPY (…) TO STDOUT CSV HEADER" > target`."""
    command = f"COPY ({case.psql_select()}) TO STDOUT CSV HEADER"
    start = time.perf_counter()
    with target.open("wb") as out:
        subprocess.run(["psql", url.libpq, "-X", "-q", "-c", command], stdout=out, check=True)
    return time.perf_counter() - start


def run_cli(url: DatabaseURL, args: list[str], stdout: Any = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `sentpipe` process (`_data.measured`)."""
    env = {**os.environ, "SENTPIPE_DATABASE_URL": url.libpq}
    return measured([str(BIN), *args], env, stdout)


def temp_usage(url: DatabaseURL) -> tuple[int, int]:
    """(temp_files, temp_bytes) of the benchmark database so far."""
    time.sleep(1.0)  # backends flush their statistics when they exit, asynchronously
    with closing(psycopg.connect(url.libpq)) as conn:
        row = conn.execute(
            "SELECT temp_files, temp_bytes FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def export_plan(url: DatabaseURL, case: Case) -> dict[str, Any]:
    """The export query's plan as the export connection would get it (EXPLAIN JSON)."""
    sql, params = select_sql("postgresql", DEFAULT_COLUMNS, case.where())
    with closing(psycopg.connect(url.libpq, autocommit=True)) as conn:
        for setting in export_session_settings():
            conn.execute(setting)
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan


def export_session_settings() -> Sequence[str]:
    try:
        from sentiment_pipeline.export.postgres import SESSION_SETTINGS
    except ImportError:  # before the export set any
        return ()
    return SESSION_SETTINGS


def nodes(plan: dict[str, Any], depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    yield depth, plan
    for child in plan.get("Plans", ()):
        yield from nodes(child, depth + 1)


def outline(plan: dict[str, Any]) -> str:
    """Node types, one a line, indented by depth; repeated siblings collapsed."""
    lines: list[str] = []
    for depth, node in nodes(plan):
        name = node["Node Type"]
        if "Relation Name" in node:
            name += f" on {node['Relation Name']}"
        if "Index Name" in node:
            name += f" using {node['Index Name']}"
        if "Sort Key" in node:
            name += f" ({', '.join(node['Sort Key'])})"
        if "Presorted Key" in node:
            name += f" presorted ({', '.join(node['Presorted Key'])})"
        line = "  " * depth + re.sub(r"_hyper_\d+_\d+_chunk", "<chunk>", name)
        if lines and lines[-1].split(" ×")[0] == line:
            count = int(lines[-1].split(" ×")[1]) if " ×" in lines[-1] else 1
            lines[-1] = f"{line} ×{count + 1}"
        else:
            lines.append(line)
    return "\n".join(lines)


def full_sorts(plan: dict[str, Any]) -> int:
    return sum(1 for _, node in nodes(plan) if node["Node Type"] == "Sort")


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def bench_case(
    url: DatabaseURL, case: Case, repeat: int, scratch: Path
) -> tuple[float, float, float, int]:
    """Best psql seconds, best sentpipe seconds, peak RSS MB, rows."""
    psql_file, ours_file = scratch / "psql.csv", scratch / "sentpipe.csv"
    psql_runs, ours_runs = [], []
    for turn in range(repeat):
        if turn % 2:
            psql_runs.append(run_psql(url, case, psql_file))
        ours_runs.append(
            run_cli(url, ["export", "csv", "-o", str(ours_file), "-q", "--force", *case.cli_args()])
        )
        if not turn % 2:
            psql_runs.append(run_psql(url, case, psql_file))
    with ours_file.open("rb") as written:
        rows = sum(1 for _ in written) - 1  # the bench rows have no newlines inside fields
    psql_file.unlink()
    ours_file.unlink()
    return min(psql_runs), min(t for t, _ in ours_runs), max(r for _, r in ours_runs), rows


def bench_server(admin_url: str, rows: int, args: argparse.Namespace) -> None:
    url = prepare(admin_url, rows)
    scratch = Path(f"/tmp/sentpipe_bench_export_{os.getpid()}")
    scratch.mkdir(exist_ok=True)
    try:
        with closing(psycopg.connect(url.libpq)) as conn:
            row = conn.execute(
                "SELECT coalesce((SELECT extversion FROM pg_extension "
                "WHERE extname = 'timescaledb'), ''), current_setting('server_version')"
            ).fetchone()
        assert row is not None
        server = (
            f"TimescaleDB {row[0]} on PostgreSQL {row[1]}" if row[0] else f"PostgreSQL {row[1]}"
        )
        print(f"\n== {server} ({url.host_port}), {rows:,} rows over {SPAN_DAYS} days")
        base, empty = export_startup(url.libpq, args.startup_runs)
        for case in cases(url):
            plan = export_plan(url, case)
            before = temp_usage(url)
            psql_s, ours_s, rss, written = bench_case(url, case, args.repeat, scratch)
            after = temp_usage(url)
            files, temp_bytes = after[0] - before[0], after[1] - before[1]
            ratio = psql_s / ours_s
            sorts = full_sorts(plan)
            print(
                f"{case.label + ':':<10} {written:>9,} rows  psql COPY {psql_s:6.2f} s  "
                f"sentpipe {ours_s:6.2f} s  = {ratio:.2f}x (goal {GOAL_RATIO}: "
                f"{verdict(ratio >= GOAL_RATIO)}; at most {psql_s / (psql_s + base):.2f}x "
                "for any Python process that imports typer, rich, psycopg, pydantic_settings)"
            )
            print(
                f"{'':<10} peak RSS {rss:.0f} MB ({verdict(rss < GOAL_RSS_MB)}); server temp "
                f"files {files} / {temp_bytes / 2**20:.1f} MB during {args.repeat} exports "
                f"({verdict(temp_bytes < GOAL_TEMP_MB * 2**20)}); full Sort nodes in the "
                f"plan: {sorts} ({verdict(sorts == 0)})"
            )
            if args.plans:
                print("    " + outline(plan).replace("\n", "\n    "))
        if args.gzip:
            target = scratch / "export.csv.gz"
            seconds, rss_gz = run_cli(url, ["export", "csv", "-o", str(target), "-q"])
            size = target.stat().st_size / 2**20
            target.unlink()
            print(
                f"export -o .csv.gz {seconds:.2f} s, {rows / seconds:,.0f} rows/s, "
                f"{size:.0f} MB, RSS {rss_gz:.0f} MB"
            )
        stats_s, _ = run_cli(url, ["stats", "--json"], subprocess.DEVNULL)
        print(f"sentpipe stats --json (process) {stats_s:.2f} s")
        ratio = empty / base
        print(
            f"start-up: export with nothing to export {empty * 1000:.0f} ms vs import "
            f"typer, rich, psycopg, pydantic_settings {base * 1000:.0f} ms = {ratio:.2f}x "
            f"(goal < 1.3: {verdict(ratio < 1.3)})"
        )
    finally:
        for leftover in scratch.glob("*"):
            leftover.unlink()
        scratch.rmdir()
        if not args.keep:
            drop_database(admin_url, database_name(rows))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--url", action="append", help="admin URL of a server (repeatable; default: both)"
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--startup-runs", type=int, default=15, help="start-up runs (median)")
    parser.add_argument("--keep", action="store_true", help="keep the loaded databases")
    parser.add_argument("--plans", action="store_true", help="print the export plans")
    parser.add_argument("--gzip", action="store_true", help="also time -o FILE.csv.gz")
    args = parser.parse_args(argv)
    print(f"export query: {len(DEFAULT_COLUMNS)} default columns; load average {os.getloadavg()}")
    for rows in args.rows:
        for admin_url in args.url or DEFAULT_URLS:
            bench_server(admin_url, rows, args)


if __name__ == "__main__":
    main()
