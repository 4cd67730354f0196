"""Whole-pipeline benchmark: records/s and peak RSS of source -> validation -> sinks.

Run: .venv/bin/python bench/pipeline.py --url postgresql://USER:PW@HOST:PORT/postgres
     [--rows 1000000] [--csv] | --sqlite

Records are generated into an NDJSON file first (not timed); a child process then runs
what `sentpipe ingest ndjson FILE` runs (read, parse, validate, batch, write), so its
peak RSS (ru_maxrss) is the pipeline's own. Goal at 1,000,000 records: under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import make_records

GOAL_RSS_MB = 300


def write_input(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in make_records(rows, seed=7):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def child(url: str, source: str, csv: bool, data_dir: str) -> None:
    """Run the pipeline once and print a JSON line with the figures."""
    from sentiment_pipeline.db.migrate import init_db
    from sentiment_pipeline.pipeline import run_from_settings
    from sentiment_pipeline.settings import load_settings
    from sentiment_pipeline.sources.ndjson import ndjson_records

    settings = load_settings(
        database_url=url, data_dir=data_dir, sinks=["database", *(["csv"] if csv else [])]
    )
    init_db(settings.database)
    started = time.perf_counter()
    result = run_from_settings(settings, ndjson_records(source))
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "rows": result.inserted,
                "seconds": took,
                "peak_rss_mb": peak,
                "spooled": result.spooled,
                "invalid": result.invalid,
            }
        )
    )


def run_child(url: str, rows: int, csv: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        source = Path(data_dir) / "input.ndjson"
        write_input(source, rows)
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                url,
                "--source",
                str(source),
                "--data-dir",
                data_dir,
                *(["--csv"] if csv else []),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="PostgreSQL admin URL (a scratch database is created)")
    parser.add_argument("--sqlite", action="store_true", help="use a scratch SQLite file")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--csv", action="store_true", help="also write the CSV sink")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.source, args.csv, args.data_dir)
        return
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run_child(f"sqlite:///{tmp}/bench.db", args.rows, args.csv)
        label = "SQLite"
    elif args.url:
        name = f"sentpipe_pipe_{os.getpid()}"
        with closing(psycopg.connect(args.url, autocommit=True)) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        scratch = args.url.rsplit("/", 1)[0] + f"/{name}"
        try:
            figures = run_child(scratch, args.rows, args.csv)
        finally:
            with closing(psycopg.connect(args.url, autocommit=True)) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        label = "PostgreSQL"
    else:
        parser.error("give --url or --sqlite")
    rate = figures["rows"] / figures["seconds"]
    verdict = "ok" if figures["peak_rss_mb"] < GOAL_RSS_MB else "MISS"
    sinks = "database + csv" if args.csv else "database"
    print(
        f"pipeline into {label} ({sinks}): {figures['rows']:,} rows in "
        f"{figures['seconds']:.1f} s = {rate:,.0f} rows/s; peak RSS "
        f"{figures['peak_rss_mb']:.0f} MB (goal < {GOAL_RSS_MB} MB: {verdict})"
    )


if __name__ == "__main__":
    main()
