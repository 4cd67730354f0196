"""Sentiment benchmark: is `sentpipe sentiment score` close to bare VADER, and do workers scale?

Prints, from one run on a fresh TimescaleDB database loaded with bench/_data.py records:
  (a) a bare loop of `SentimentIntensityAnalyzer.polarity_scores` over the same cleaned
      texts (no database), events/s;
  (b) `score_events` end to end (claim, clean, score, upsert, mark), 1 worker, events/s
      and the ratio to (a) (goal >= 0.85x);
  (c) two workers vs one (goal >= 1.5x on 2 cores), measured as cron would run them:
      separate `sentpipe sentiment score` processes (python -m sentiment_pipeline), one
      alone, then two started together, each timing its own run (`--json` seconds, so
      interpreter start-up is left out of both); the rate of two is all events over the
      slower one's time. Also `--workers 2` (one command spawning two processes), wall;
  (d) peak RSS of this process and of the largest child (worker) process;
  (e) the worst single texts (200,000 characters, 800 emoji, 50,000 `!`): seconds each (< 1 s).

    python bench/sentiment.py --url postgresql://sentpipe:sentpipe@127.0.0.1:54329/postgres
    python bench/sentiment.py --url ... --events 2000    # a quick check that it runs

Use at least 20,000 events (the default) and batches of 2,000 for the worker figures:
smaller runs measure start-up, not scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import fresh_database, make_records

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.sentiment import ScoreOptions, score_events
from sentiment_pipeline.sentiment.clean import event_text
from sentiment_pipeline.sentiment.scorers import get_scorer

GOAL_RATIO = 0.85
GOAL_WORKERS = 1.5


def prepare(admin_url: str, rows: int) -> DatabaseURL:
    url = fresh_database(admin_url, f"sentpipe_bench_sentiment_{rows}")
    with closing(psycopg.connect(url.libpq)) as c, c.cursor() as cur:
        with cur.copy(
            "COPY raw_events (id, occurred_at, source, source_id, event_type, payload) FROM STDIN"
        ) as copy:
            for r in make_records(rows):
                copy.write_row(
                    (
                        r["id"],
                        datetime.fromtimestamp(r["occurred_at"], UTC),
                        r["source"],
                        r["source_id"],
                        r["event_type"],
                        json.dumps(r["payload"]),
                    )
                )
        c.commit()
        c.autocommit = True
        c.execute("VACUUM ANALYZE raw_events")
    return url


def reset(url: DatabaseURL) -> None:
    with closing(psycopg.connect(url.libpq, autocommit=True)) as c:
        c.execute("TRUNCATE sentiment_scores")
        c.execute("UPDATE raw_events SET processed = false, processed_at = NULL")
        c.execute("VACUUM ANALYZE raw_events")


def bare(rows: int) -> tuple[float, int]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = []
    for r in make_records(rows):
        p = r["payload"]
        text = event_text(r["source"], r["event_type"], p)
        if text is not None:
            texts.append(text)
    polarity = SentimentIntensityAnalyzer().polarity_scores
    start = time.perf_counter()
    for text in texts:
        polarity(text)
    return time.perf_counter() - start, len(texts)


def worst() -> list[tuple[str, float]]:
    scorer = get_scorer("vader")
    rng = random.Random(7)
    words = [
        "good",
        "bad",
        "great",
        "terrible",
        "love",
        "hate",
        "market",
        "going",
        "up",
        "down",
        ":)",
        "lol",
    ]
    cases = {
        "200,000 characters": " ".join(rng.choice(words) for _ in range(40_000))[:200_000],
        "800 emoji": "😀😡🎉🚀" * 200,
        "50,000 !": "!" * 50_000,
    }
    out = []
    for name, text in cases.items():
        start = time.perf_counter()
        scorer.score(text)
        out.append((name, time.perf_counter() - start))
    return out


def score_processes(url: DatabaseURL, count: int, batch_size: int) -> tuple[int, float]:
    """Start `count` `sentpipe sentiment score --json` processes at once on `url`; return
    (events they scored or skipped, the slowest one's own `seconds`)."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "SENTPIPE_DATABASE_URL": url.libpq, "SENTPIPE_DATA_DIR": data_dir}
        command = [
            sys.executable,
            "-m",
            "sentiment_pipeline",
            "sentiment",
            "score",
            "--json",
            "--batch-size",
            str(batch_size),
        ]
        processes = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(count)
        ]
        # Peak RSS from /proc/PID/status VmHWM, read until the process ends: a child's
        # ru_maxrss on Linux starts from the parent's RSS at fork, so it would count
        # this benchmark's own memory.
        peaks = [0] * len(processes)
        while any(process.poll() is None for process in processes):
            for index, process in enumerate(processes):
                peaks[index] = max(peaks[index], _vm_hwm_kb(process.pid))
            time.sleep(0.05)
        PROCESS_PEAK_KB.extend(peaks)
        results = []
        for process in processes:
            out, _ = process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"sentpipe sentiment score exited {process.returncode}")
            results.append(json.loads(out))
    done = sum(r["scored"] + r["skipped"] for r in results)
    return done, max(r["seconds"] for r in results)


PROCESS_PEAK_KB: list[int] = []  # VmHWM of each `sentiment score` process


def _vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set (VmHWM, kB), 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="TimescaleDB admin URL")
    parser.add_argument(
        "--events", "--rows", dest="events", type=int, default=20_000, help="events to load"
    )
    parser.add_argument("--batch-size", type=int, default=2_000)
    args = parser.parse_args(argv)
    events, batch = args.events, args.batch_size

    url = prepare(args.url, events)
    bare_seconds, texts = bare(events)
    bare_rate = events / bare_seconds
    print(f"events {events:,} ({texts:,} with text), batch size {batch:,}")
    print(f"(a) bare polarity_scores loop:      {bare_rate:10,.0f} events/s ({bare_seconds:.1f} s)")

    one = score_events(url, ScoreOptions(batch_size=batch))
    rate1 = (one.scored + one.skipped) / one.seconds
    ok = "OK" if rate1 / bare_rate >= GOAL_RATIO else "BELOW GOAL"
    print(
        f"(b) sentiment score, in-process:    {rate1:10,.0f} events/s ({one.seconds:.1f} s) "
        f"= {rate1 / bare_rate:.2f}x bare (goal >= {GOAL_RATIO}x: {ok})"
    )
    reset(url)
    done1, seconds1 = score_processes(url, 1, batch)
    proc1 = done1 / seconds1
    print(f"(c) 1 process:                      {proc1:10,.0f} events/s ({seconds1:.1f} s)")
    reset(url)
    done2, seconds2 = score_processes(url, 2, batch)
    proc2 = done2 / seconds2
    ok = "OK" if proc2 / proc1 >= GOAL_WORKERS else "BELOW GOAL"
    print(
        f"(c) 2 processes at once:            {proc2:10,.0f} events/s ({seconds2:.1f} s) "
        f"= {proc2 / proc1:.2f}x one process (goal >= {GOAL_WORKERS}x: {ok})"
    )
    if done2 != done1:
        print(f"    WARNING: two processes did {done2:,} events, one did {done1:,}")
    reset(url)
    started = time.perf_counter()
    two = score_events(url, ScoreOptions(batch_size=batch, workers=2))
    wall = time.perf_counter() - started
    rate2 = (two.scored + two.skipped) / wall
    print(
        f"(c) --workers 2 (spawned, wall):    {rate2:10,.0f} events/s ({wall:.1f} s) "
        f"= {rate2 / rate1:.2f}x in-process (includes starting the workers)"
    )
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    command_mb = max(PROCESS_PEAK_KB) / 1024
    print(
        f"(d) peak RSS: one `sentpipe sentiment score` process {command_mb:.0f} MB "
        f"(goal < 200 MB); this process (holds every text for (a)) {self_mb:.0f} MB, "
        f"largest child by ru_maxrss (counts this process's memory at fork) {child_mb:.0f} MB"
    )
    for name, seconds in worst():
        print(f"(e) worst text, {name}: {seconds:.3f} s ({'OK' if seconds < 1 else 'TOO SLOW'})")


if __name__ == "__main__":
    main()
