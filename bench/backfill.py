"""Backfill benchmark: `sentpipe ingest reddit-dump` and `ingest ndjson` vs `psql \\copy`.

Run: .venv/bin/python bench/backfill.py --url postgresql://USER:PW@HOST:PORT/postgres
     [--records 1000000] [--repeat 3] [--skip-ndjson] [--workers N]
(--url defaults to SENTPIPE_TEST_TIMESCALE_URL.)

Writes a synthetic `--long=31` dump (`sources/reddit_dump/synthetic.py`: submissions and
comments, ~1.3 KB objects, hostile text included) and the same records as event-shaped
NDJSON, not timed. Then, each into its own fresh database on the same server, whole
processes timed by wall clock, and their peak memory (the process and its parsing workers
together, sampled every 50 ms: every process's private pages and the shared library
pages once, see `_tree_memory_mb`; the main process's own peak RSS beside it):

  (a) `psql \\copy` of exactly the rows the pipeline stores (text COPY of the validated
      events), into an identical fresh table: the yardstick;
  (b) `sentpipe ingest reddit-dump FILE --sink database`, (c) the same with `--sink csv`;
  (d) `sentpipe ingest ndjson FILE --sink database`, (e) the same with `--sink csv`;
  (f) zstd decoding only: `zstd -dc --long=31 FILE > /dev/null` vs the source's decoder
      (the decoding inside its process; the whole process is printed too).

Each round measures (a) to (f) once; ratios are taken within a round (the machine's
load changes between rounds), and the summary gives the best and the median. Every timed
run starts on a quiet server (`Scratch.settle`): the database of the run before is dropped
as soon as its rows are counted, then a CHECKPOINT, then a wait until no autovacuum worker
is busy. Without that, each run shared the two cores with the server vacuuming and
flushing the tables loaded just before it (~1.5 GB each at 1M records), and the yardstick,
always first after a round's clean-up, got the quietest server of all.

Goals (issue 12): (b),(d) >= 0.6x of (a); (c),(e) >= 0.5x; peak RSS < 300 MB at 1M
records with database + CSV; (f) >= 0.9x.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.dto import Validated, validate_record
from sentiment_pipeline.parallel import default_workers
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

    dump, ndjson, copy_text = input_paths(folder)
    write_dump(dump, dump_lines(objects()))
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


def input_paths(folder: Path) -> tuple[Path, Path, Path]:
    """Where `make_inputs` writes the dump, the NDJSON and the COPY text."""
    return folder / "RS_2023-03.zst", folder / "events.ndjson", folder / "rows.copy"


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _tree_memory_mb(pid: int) -> float:
    """Memory, MB, that `pid` and every process below it (the parsing workers, the
    resource tracker) hold now: each one's private pages (`RssAnon` + `RssShmem`) plus
    the file pages of `pid` (the interpreter and libraries, which the workers map too)
    once. All from `/proc/PID/status`, counters that cost nothing to read: the PSS of
    `smaps_rollup` walks the page tables, 15 ms a read with the 2 GiB zstd window mapped,
    which sampled every 50 ms slowed the run it measured by ~7%."""
    total, stack = 0, [pid]
    while stack:
        process = stack.pop()
        try:
            with open(f"/proc/{process}/status", encoding="ascii") as handle:
                for line in handle:
                    name, _, value = line.partition(":")
                    if name in ("RssAnon", "RssShmem") or (name == "RssFile" and process == pid):
                        total += int(value.split()[0]) * 1024
            for task in os.listdir(f"/proc/{process}/task"):
                with open(f"/proc/{process}/task/{task}/children", encoding="ascii") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):  # it ended meanwhile
            continue
    return total / 2**20


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MB of the process itself (wait4), peak memory MB of it and
    its parsing workers together (`_tree_memory_mb`, sampled every 50 ms)) of one child
    process; raises if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tree_peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal tree_peak
        while not done.wait(0.05):
            tree_peak = max(tree_peak, _tree_memory_mb(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    took = time.perf_counter() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise SystemExit(f"{command[:3]} failed: {process.stderr.read().decode()[-2000:]}")
    own = usage.ru_maxrss / 1024
    return took, own, max(own, tree_peak)


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
        self.names.clear()

    def settle(self, timeout: float = 120.0) -> None:
        """Drop the databases made so far, write a checkpoint, and wait (at most
        `timeout` seconds) until no autovacuum worker is busy: the next timed run starts
        on a quiet server, as the one before it did."""
        self.drop()
        deadline = time.monotonic() + timeout
        with closing(psycopg.connect(self.admin.libpq, autocommit=True)) as conn:
            conn.execute("CHECKPOINT")
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE backend_type = 'autovacuum worker' AND state = 'active'"
                ).fetchone()
                if row is None or row[0] == 0:
                    return
                time.sleep(0.5)


def count_rows(url: str) -> int:
    with closing(psycopg.connect(parse_database_url(url).libpq)) as conn:
        row = conn.execute("SELECT count(*) FROM raw_events").fetchone()
    assert row is not None
    return int(row[0])


def sentpipe(
    url: str, data_dir: Path, *args: str, workers: int | None
) -> tuple[float, float, float]:
    env = {
        **os.environ,
        **({} if workers is None else {"SENTPIPE_PARSE_WORKERS": str(workers)}),
        "PYTHONPATH": SOURCE_TREE,
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_DATA_DIR": str(data_dir),
    }
    return timed([str(SENTPIPE), *args, "--quiet"], env)


def decode_only(dump: Path) -> tuple[float, float, float, float]:
    """Seconds of `zstd -dc --long=31` (a whole process) and its peak RSS MB, and of the
    source's decoder (`DumpReader`'s chunks, no lines built): a whole child process, and
    the decoding inside it (without the interpreter's start and the package's imports,
    ~0.2 s, which are not decoding)."""
    zstd = shutil.which("zstd")
    native, native_rss = float("nan"), float("nan")
    if zstd:
        native, native_rss, _ = timed(["sh", "-c", f"{zstd} -qdc --long=31 '{dump}' > /dev/null"])
    code = (
        "import sys, time; from sentiment_pipeline.sources.reddit_dump import DumpReader\n"
        "started = time.perf_counter()\n"
        "with DumpReader(sys.argv[1]) as r:\n"
        "    for chunk in r._chunks(): del chunk\n"
        "print(time.perf_counter() - started)\n"
    )
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", code, str(dump)],
        env={**os.environ, "PYTHONPATH": SOURCE_TREE},
        capture_output=True,
        text=True,
        check=True,
    )
    process = time.perf_counter() - started
    return native, native_rss, process, float(child.stdout.strip())


def _summary(values: list[float]) -> str:
    return f"best {max(values):.2f}x, median {statistics.median(values):.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("SENTPIPE_TEST_TIMESCALE_URL"))
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (ratios per round)")
    parser.add_argument("--skip-ndjson", action="store_true")
    parser.add_argument(
        "--workers", type=int, help="SENTPIPE_PARSE_WORKERS for the runs (default: unset)"
    )
    args = parser.parse_args()
    if not args.url:
        parser.error("give --url (or set SENTPIPE_TEST_TIMESCALE_URL)")
    scratch = Scratch(args.url)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # In a child: this process stays small, so the children timed below (which
        # start as forks of it) do not inherit a large peak RSS from the set-up.
        subprocess.run(
            [sys.executable, __file__, "--make-inputs", str(folder), str(args.records)],
            check=True,
            env={**os.environ, "PYTHONPATH": SOURCE_TREE},
        )
        dump, ndjson, copy_text = input_paths(folder)
        size = dump.stat().st_size / 2**20
        print(
            f"{args.records:,} records; dump {size:.1f} MiB (zstd --long=31), "
            f"NDJSON {ndjson.stat().st_size / 2**20:.0f} MiB; {args.repeat} rounds; "
            f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
            f"parse workers {default_workers() if args.workers is None else args.workers}"
        )
        cases = [("reddit-dump", ["ingest", "reddit-dump", str(dump)])]
        if not args.skip_ndjson:
            cases.append(("ndjson", ["ingest", "ndjson", str(ndjson)]))
        sink_sets = (
            ("database", ["--sink", "database"]),
            ("database + csv", ["--sink", "database", "--sink", "csv"]),
        )
        ratios: dict[tuple[str, str], list[float]] = {}
        rates: dict[tuple[str, str], list[float]] = {}
        peaks: dict[tuple[str, str], float] = {}
        copy_rates: list[float] = []
        decode: list[float] = []
        window_rss = float("nan")
        try:
            for round_ in range(1, args.repeat + 1):
                scratch.settle()
                url = scratch.new()
                libpq = parse_database_url(url).libpq
                copy = (
                    "\\copy raw_events (id, occurred_at, source, source_id, event_type, "
                    f"payload) FROM '{copy_text}'"
                )
                yardstick, _, _ = timed(["psql", "-q", "-X", libpq, "-c", copy])
                assert count_rows(url) == args.records
                copy_rates.append(args.records / yardstick)
                print(
                    f"round {round_}: (a) psql \\copy {args.records / yardstick:,.0f} rows/s "
                    f"({yardstick:.1f} s; load {os.getloadavg()[0]:.1f})"
                )
                for label, command in cases:
                    for sinks, flags in sink_sets:
                        scratch.settle()
                        url = scratch.new()
                        data_dir = folder / f"data-{label}-{len(sinks)}-{round_}"
                        took, own, rss = sentpipe(
                            url, data_dir, *command, *flags, workers=args.workers
                        )
                        assert count_rows(url) == args.records
                        shutil.rmtree(data_dir, ignore_errors=True)
                        key = (label, sinks)
                        ratios.setdefault(key, []).append(yardstick / took)
                        rates.setdefault(key, []).append(args.records / took)
                        peaks[key] = max(peaks.get(key, 0.0), rss)
                        print(
                            f"  ingest {label:<11} {sinks:<15} {args.records / took:>9,.0f} "
                            f"rows/s {yardstick / took:5.2f}x of \\copy; peak memory {rss:.0f} MB "
                            f"(main process alone {own:.0f} MB RSS)"
                        )
                scratch.settle()
                native, window_rss, process, decoding = decode_only(dump)
                decode.append(native / decoding)
                print(
                    f"  zstd decode only: zstd -dc {native:.2f} s, sentpipe's decoder "
                    f"{decoding:.2f} s ({native / decoding:.2f}x; {process:.2f} s as a "
                    f"process with Python's start and imports, {native / process:.2f}x)"
                )
        finally:
            scratch.drop()
        print(f"\nSummary ({args.records:,} records, {args.repeat} rounds; ratios per round):")
        print(
            f"(a) psql \\copy: best {max(copy_rates):,.0f} rows/s, "
            f"median {statistics.median(copy_rates):,.0f} rows/s"
        )
        for key, values in ratios.items():
            label, sinks = key
            goal = GOALS[sinks]
            verdict = "ok" if max(values) >= goal else "MISS"
            rss_note = ""
            if sinks == "database + csv":
                rss_ok = "ok" if peaks[key] < GOAL_RSS_MB else "MISS"
                rss_note = f" (goal < {GOAL_RSS_MB} MB: {rss_ok})"
                if label == "reddit-dump":
                    rss_note += (
                        f"; zstd -dc alone peaks at {window_rss:.0f} MB (the window): "
                        f"{peaks[key] - window_rss:.0f} MB more"
                    )
            print(
                f"ingest {label:<11} {sinks:<15} best {max(rates[key]):>9,.0f} rows/s; "
                f"{_summary(values)} of \\copy (goal {goal}: {verdict}); "
                f"peak memory {peaks[key]:.0f} MB{rss_note}"
            )
        verdict = "ok" if max(decode) >= GOAL_DECODE else "MISS"
        print(
            f"zstd decode vs zstd -dc --long=31: {_summary(decode)} (goal {GOAL_DECODE}: {verdict})"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--make-inputs"]:
        gc.set_threshold(100_000, 50, 1000)
        make_inputs(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
