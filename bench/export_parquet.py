"""Parquet export benchmark: is `sentpipe export parquet -o FILE` within 0.8x of an
ADBC→pyarrow baseline, in under 250 MB?

Run (TimescaleDB by default; 1M rows):
    .venv/bin/python bench/export_parquet.py
    .venv/bin/python bench/export_parquet.py --rows 100000 --url postgresql://USER:PW@HOST:PORT/postgres
Options: --url (repeatable; default $SENTPIPE_TEST_TIMESCALE_URL, else the local
TimescaleDB on 54329), --rows N [N ...] (default 1000000), --repeat 3, --keep.

The rows are bench/export.py's (bench/_data.py: real comment lengths, heavy-tailed
activity, 30 days), in its database `sentpipe_bench_export_<rows>_30d` (loaded once,
reused). In the same run, best of --repeat, the order alternating, each a whole process
with its start-up and its peak RSS (the child's VmHWM, polled):
  (a) the baseline: a Python process that imports pyarrow and adbc_driver_postgresql,
      runs the same columns' SELECT typed as the export's (timestamps, bigint score,
      boolean, text[] topics; the same ORDER BY) with `cursor.fetch_record_batch()` and
      writes the batches with `pyarrow.parquet.ParquetWriter` (zstd);
  (b) the same with `cursor.fetch_arrow_table()` and `pyarrow.parquet.write_table`
      (the whole table in memory: the fastest, not bounded);
  (c) `sentpipe export parquet -o FILE -q` (start-up included);
  (d) `sentpipe export csv -o FILE -q`, for the file sizes.
It prints (the faster of a and b)/c against the 0.8 goal and c's RSS against 250 MB.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import drop_database, measured
from export import SPAN_DAYS, database_name, prepare

from sentiment_pipeline.db.url import DatabaseURL

GOAL_RATIO = 0.8
GOAL_RSS_MB = 250
BIN = Path(sys.executable).parent / "sentpipe"
DEFAULT_URL = (
    os.environ.get("SENTPIPE_TEST_TIMESCALE_URL")
    or "postgresql://sentpipe:sentpipe@127.0.0.1:54329/postgres"
)
# The default export columns, typed as `sentpipe export parquet` writes them.
TYPED_SELECT = (
    "SELECT id, occurred_at, source, source_id, event_type, payload->>'author' AS author, "
    "payload->>'title' AS title, coalesce(payload->>'selftext', payload->>'body') AS text, "
    "CASE WHEN payload->>'score' ~ '^-?[0-9]{1,18}$' THEN (payload->>'score')::bigint END "
    "AS score, payload->>'permalink' AS permalink, payload->>'parent_id' AS parent_id, "
    "ingested_at, processed, coalesce((SELECT array_agg(et.topic ORDER BY et.topic "
    'COLLATE "C") FROM event_topics et WHERE et.id = raw_events.id '
    "AND et.occurred_at = raw_events.occurred_at), '{}') AS topics "
    'FROM raw_events ORDER BY occurred_at, id COLLATE "C"'
)
BASELINE = """
import sys
import adbc_driver_postgresql.dbapi as adbc
import pyarrow.parquet as pq
uri, sql, target, mode = sys.argv[1:5]
with adbc.connect(uri) as conn, conn.cursor() as cur:
    cur.execute(sql)
    if mode == "table":
        pq.write_table(cur.fetch_arrow_table(), target, compression="zstd")
    else:
        reader = cur.fetch_record_batch()
        with pq.ParquetWriter(target, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)
"""


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process (`_data.measured`)."""
    return measured(argv, env or dict(os.environ))


def bench_server(admin_url: str, rows: int, args: argparse.Namespace) -> None:
    url: DatabaseURL = prepare(admin_url, rows)
    scratch = Path(f"/tmp/sentpipe_bench_parquet_{os.getpid()}")
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "SENTPIPE_DATABASE_URL": url.libpq}
    ours = scratch / "sentpipe.parquet"
    files = {
        "stream": scratch / "adbc-stream.parquet",
        "table": scratch / "adbc-table.parquet",
    }
    runs: dict[str, list[tuple[float, float]]] = {"stream": [], "table": [], "ours": []}
    try:
        print(f"\n== {url.host_port}, {rows:,} rows over {SPAN_DAYS} days")
        for turn in range(args.repeat):
            order = ["ours", "stream", "table"] if turn % 2 == 0 else ["stream", "table", "ours"]
            for name in order:
                if name == "ours":
                    argv = [str(BIN), "export", "parquet", "-o", str(ours), "-q", "--force"]
                    runs[name].append(run(argv, env))
                else:
                    argv = [sys.executable, "-c", BASELINE, url.libpq, TYPED_SELECT]
                    runs[name].append(run([*argv, str(files[name]), name]))
        csv_file = scratch / "sentpipe.csv"
        csv_s, csv_rss = run([str(BIN), "export", "csv", "-o", str(csv_file), "-q"], env)
        import pyarrow.parquet as pq

        written = pq.ParquetFile(ours).metadata.num_rows
        assert written == pq.ParquetFile(files["table"]).metadata.num_rows == rows
        mb = {n: p.stat().st_size / 2**20 for n, p in {**files, "ours": ours}.items()}
        best = {name: min(t for t, _ in values) for name, values in runs.items()}
        rss = {name: max(r for _, r in values) for name, values in runs.items()}
        for name, label in (
            ("stream", "ADBC fetch_record_batch + ParquetWriter"),
            ("table", "ADBC fetch_arrow_table + write_table"),
            ("ours", "sentpipe export parquet"),
        ):
            print(
                f"{label:<42} {best[name]:6.2f} s  {rows / best[name]:>9,.0f} rows/s  "
                f"peak RSS {rss[name]:5.0f} MB  file {mb[name]:5.1f} MB"
            )
        print(
            f"{'sentpipe export csv (for size)':<42} {csv_s:6.2f} s  "
            f"{rows / csv_s:>9,.0f} rows/s  peak RSS {csv_rss:5.0f} MB  "
            f"file {csv_file.stat().st_size / 2**20:5.1f} MB"
        )
        baseline = min(best["stream"], best["table"])
        ratio = baseline / best["ours"]
        print(
            f"throughput ratio (best baseline / sentpipe) = {ratio:.2f}x "
            f"(goal >= {GOAL_RATIO}: {'ok' if ratio >= GOAL_RATIO else 'MISS'}); "
            f"vs the streaming baseline {best['stream'] / best['ours']:.2f}x; "
            f"peak RSS {rss['ours']:.0f} MB (goal < {GOAL_RSS_MB}: "
            f"{'ok' if rss['ours'] < GOAL_RSS_MB else 'MISS'})"
        )
    finally:
        for leftover in scratch.glob("*"):
            leftover.unlink()
        scratch.rmdir()
        if not args.keep:
            drop_database(admin_url, database_name(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", action="append", help="admin URL of a server (repeatable)")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}")
    for rows in args.rows:
        for admin_url in args.url or [DEFAULT_URL]:
            bench_server(admin_url, rows, args)


if __name__ == "__main__":
    main()
