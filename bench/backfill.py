"""Backfill benchmark: `sentpipe ingest reddit-dump` and `ingest ndjson` vs `psql \\copy`.

Run: .venv/bin/python bench/backfill.py --url postgresql://USER:PW@HOST:PORT/postgres
     [--records 1000000] [--skip-ndjson]
(--url defaults to SENTPIPE_TEST_TIMESCALE_URL.)

Writes a synthetic `--long=31` dump (`sources/reddit_dump/synthetic.py`: submissions and
comments, ~1.3 KB objects, hostile text included) and the same records as event-shaped
NDJSON, not timed. Then, each into its own fresh database on the same server, whole
processes timed by wall clock (peak RSS from wait4):

  (a) `psql \\copy` of exactly the rows the pipeline stores (text COPY of the validated
      events), into an identical fresh table: the yardstick;
  (b) `sentpipe ingest reddit-dump FILE --sink database`, (c) the same with `--sink csv`;
  (d) `sentpipe ingest ndjson FILE --sink database`, (e) the same with `--sink csv`;
  (f) zstd decoding only: `zstd -dc --long=31 FILE > /dev/null` vs the source's decoder.

Goals (issue 12): (b),(d) >= 0.6x of (a); (c),(e) >= 0.5x; peak RSS < 300 MB at 1M
records with database + CSV; (f) >= 0.9x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.dto import Validated, validate_record
from sentiment_pipeline.sources.reddit_dump import DumpReader, dump_items, hints_from_name
from sentiment_pipeline.sources.reddit_dump.synthetic import (
    dump_lines,
    dump_objects,
    write_dump,
)

SENTPIPE = Path(sys.executable).with_name("sentpipe")
GOALS = {"database": 0.6, "database + csv": 0.5}
GOAL_RSS_MB = 300
GOAL_DECODE = 0.9
SOURCE_TREE = str(Path(__file__).resolve().parents[1] / "src")


def make_inputs(folder: Path, records: int) -> tuple[Path, Path, Path]:
    """The dump, the same records as event NDJSON, and the COPY text of the stored rows."""
    posts = records // 4

    def objects() -> Any:
        yield from dump_objects("submission", 2023, posts, subreddit="Python", seed=3)
        yield from dump_objects("comment", 2023, records - posts, subreddit="Python", seed=4)

    dump = write_dump(folder / "RS_2023-03.zst", dump_lines(objects()))
    ndjson, copy_text = folder / "events.ndjson", folder / "rows.copy"
    with (
        DumpReader(str(dump)) as reader,
        ndjson.open("w", encoding="utf-8") as events,
        copy_text.open("w", encoding="utf-8") as rows,
    ):
        for _, item in dump_items(reader, hints_from_name(str(dump))):
            record = item.record if hasattr(item, "record") else item
            checked = validate_record(record)
            assert isinstance(checked, Validated), checked
            event = checked.event
            plain = event.to_record()
            events.write(json.dumps(plain, ensure_ascii=False) + "\n")
            fields = [
                event.id,
                event.occurred_at.isoformat(),
                event.source,
                event.source_id,
                event.event_type,
                event.payload_json,
            ]
            rows.write("\t".join(_copy_escape(f) for f in fields) + "\n")
    return dump, ndjson, copy_text


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one child process; raises if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    took = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise SystemExit(f"{command[:3]} failed: {process.stderr.read().decode()[-2000:]}")
    return took, usage.ru_maxrss / 1024


class Scratch:
    """Fresh databases on the server, dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin = parse_database_url(admin_url)
        self.names: list[str] = []

    def new(self) -> str:
        name = f"sentpipe_backfill_{os.getpid()}_{len(self.names)}"
        with closing(psycopg.connect(self.admin.libpq, autocommit=True)) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        url = self.admin.sqlalchemy.rpartition("/")[0] + f"/{name}"
        init_db(parse_database_url(url))
        return url

    def drop(self) -> None:
        with closing(psycopg.connect(self.admin.libpq, autocommit=True)) as conn:
            for name in self.names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_rows(url: str) -> int:
    with closing(psycopg.connect(parse_database_url(url).libpq)) as conn:
        row = conn.execute("SELECT count(*) FROM raw_events").fetchone()
    assert row is not None
    return int(row[0])


def sentpipe(url: str, data_dir: Path, *args: str) -> tuple[float, float]:
    env = {
        **os.environ,
        "PYTHONPATH": SOURCE_TREE,
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_DATA_DIR": str(data_dir),
    }
    return timed([str(SENTPIPE), *args, "--quiet"], env)


def decode_only(dump: Path) -> tuple[float, float]:
    """Seconds of `zstd -dc --long=31` and of the source's decoder (in a child)."""
    zstd = shutil.which("zstd")
    native = float("nan")
    if zstd:
        native, _ = timed(["sh", "-c", f"{zstd} -qdc --long=31 '{dump}' > /dev/null"])
    code = (
        "import sys; from sentiment_pipeline.sources.reddit_dump import DumpReader\n"
        "with DumpReader(sys.argv[1]) as r:\n"
        "    for _ in r._chunks(): pass\n"
    )
    ours, _ = timed(
        [sys.executable, "-c", code, str(dump)], {**os.environ, "PYTHONPATH": SOURCE_TREE}
    )
    return native, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("SENTPIPE_TEST_TIMESCALE_URL"))
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--skip-ndjson", action="store_true")
    args = parser.parse_args()
    if not args.url:
        parser.error("give --url (or set SENTPIPE_TEST_TIMESCALE_URL)")
    scratch = Scratch(args.url)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dump, ndjson, copy_text = make_inputs(folder, args.records)
        size = dump.stat().st_size / 2**20
        print(
            f"{args.records:,} records; dump {size:.1f} MiB (zstd --long=31), "
            f"NDJSON {ndjson.stat().st_size / 2**20:.0f} MiB"
        )
        try:
            url = scratch.new()
            libpq = parse_database_url(url).libpq
            copy = (
                "\\copy raw_events (id, occurred_at, source, source_id, event_type, payload) "
                f"FROM '{copy_text}'"
            )
            yardstick, _ = timed(["psql", "-q", "-X", libpq, "-c", copy])
            assert count_rows(url) == args.records
            print(f"(a) psql \\copy: {args.records / yardstick:,.0f} rows/s ({yardstick:.1f} s)")
            cases = [("reddit-dump", ["ingest", "reddit-dump", str(dump)])]
            if not args.skip_ndjson:
                cases.append(("ndjson", ["ingest", "ndjson", str(ndjson)]))
            for label, command in cases:
                for sinks, flags in (
                    ("database", ["--sink", "database"]),
                    ("database + csv", ["--sink", "database", "--sink", "csv"]),
                ):
                    url = scratch.new()
                    data_dir = folder / f"data-{label}-{len(sinks)}"
                    took, rss = sentpipe(url, data_dir, *command, *flags)
                    assert count_rows(url) == args.records
                    ratio = yardstick / took
                    goal = GOALS[sinks]
                    rss_note = ""
                    if sinks == "database + csv":
                        rss_ok = "ok" if rss < GOAL_RSS_MB else "MISS"
                        rss_note = f" (goal < {GOAL_RSS_MB} MB at 1M: {rss_ok})"
                    print(
                        f"ingest {label:<11} {sinks:<15} {args.records / took:>9,.0f} rows/s "
                        f"{ratio:5.2f}x of \\copy (goal {goal}: "
                        f"{'ok' if ratio >= goal else 'MISS'}); peak RSS {rss:.0f} MB{rss_note}"
                    )
        finally:
            scratch.drop()
        native, ours = decode_only(dump)
        ratio = native / ours
        print(
            f"zstd decode only: zstd -dc {native:.2f} s, sentpipe {ours:.2f} s: {ratio:.2f}x "
            f"(goal {GOAL_DECODE}: {'ok' if ratio >= GOAL_DECODE else 'MISS'})"
        )


if __name__ == "__main__":
    main()
