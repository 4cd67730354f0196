"""Sentiment benchmark: is `sentpipe sentiment score` close to bare VADER, and do workers scale?

Whole processes, interpreter start-up included, timed wall clock from start to exit, on
two text sets loaded side by side into scratch databases (SQLite file or a fresh
TimescaleDB/PostgreSQL database), the same texts for every process of a set:

- short: real Reddit comment lengths. Each event's scored text (a comment's body; a
  post's title + selftext) is drawn log-normal in characters, median 100, 90th
  percentile 600, see `_data.comment_chars`, cut at 5,000 (the scorer's EXACT_LIMIT:
  0.3 % of the draws, Reddit allows 10,000). Up to there `sentiment score` makes the same
  `polarity_scores` calls as the bare loop; a longer text it scores in sentence pieces,
  which costs far less than VADER's quadratic whole-text call (10,000 characters: about
  175 ms whole), so an uncut tail would make the bare loop, not sentpipe, the slow one.
  Over 5,000 is the worst-text figures' business;
- long: 120-270 words (uniform), about 750-1,800 characters: the lengths this benchmark
  used before, where VADER's own cost hides the database work.

Both sets are sentences of the fake Reddit's generator (`fake_reddit.text.sentence`:
a mood each, lexicon words in neutral filler) via `_data.mood_text`; events are
`_data.make_records` (1 in 4 a post) with their texts replaced. For each set:

  bare VADER:  `python -c` that imports VADER, reads every text from the same database
               (one SELECT of the payload's body/title/selftext), loops `polarity_scores`;
  1 worker:    the installed `sentpipe sentiment score --workers 1` (claim, clean, detect
               the language, score, upsert, mark; on PostgreSQL the claims and writes
               run on a background thread while the main thread scores), events/s and
               the ratio to bare (goal >= 0.85x on both sets);
  2 workers:   `sentpipe sentiment score --workers 2`, the ratio to 1 worker (goal >=
               1.5x; SQLite has one writer, so there it runs one process: no goal);
  peak RSS:    VmHWM of the `sentpipe` process (goal < 200 MB; a worker of
               `--workers 2` is a child and not counted).

Then the worst single texts, in this process (each < 1 s).

    python bench/sentiment.py --sqlite
    python bench/sentiment.py --url postgresql://sentpipe:sentpipe@127.0.0.1:54329/postgres
    python bench/sentiment.py --sqlite --events 2000 --long-events 500   # does it run

Defaults (50,000 short and 10,000 long events, batch size 2,000) take a few minutes per
backend on 2 CPUs. `--repeat N` runs each process N times and keeps the fastest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import comment_chars, drop_database, fresh_database, make_records, mood_text, vm_hwm_kb

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.fake_reddit.text import title as fake_title
from sentiment_pipeline.sentiment.scorers import get_scorer
from sentiment_pipeline.sentiment.scorers.vader import EXACT_LIMIT

GOAL_RATIO = 0.85
GOAL_WORKERS = 1.5
GOAL_RSS_MB = 200

# The bare VADER process: argv = backend, target (libpq URL or SQLite path). It reads
# the texts Reddit's rule scores (a comment's body; a post's title + selftext) in one
# query and prints how many it scored.
BARE = r"""
import sys
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
backend, target = sys.argv[1], sys.argv[2]
if backend == "postgresql":
    import psycopg
    conn = psycopg.connect(target)
    keys = ", ".join(f"payload->>'{k}'" for k in ("body", "title", "selftext"))
else:
    import sqlite3
    conn = sqlite3.connect(target)
    keys = ", ".join(f"json_extract(payload, '$.{k}')" for k in ("body", "title", "selftext"))
rows = conn.execute(f"SELECT event_type, {keys} FROM raw_events").fetchall()
polarity = SentimentIntensityAnalyzer().polarity_scores
n = 0
for event_type, body, title, selftext in rows:
    if event_type == "comment" or body:
        text = body
    else:
        text = "\n\n".join(part for part in (title, selftext) if part)
    if text:
        polarity(text)
        n += 1
print(n)
"""


@dataclass(frozen=True)
class TextSet:
    """One set of texts: `short` (comment lengths) or `long` (120-270 words)."""

    name: str
    events: int
    seed: int


def set_records(text_set: TextSet) -> Iterator[dict[str, Any]]:
    """`make_records` with each event's text replaced by the set's (see the docstring)."""
    rng = random.Random(text_set.seed)
    for record in make_records(text_set.events, seed=text_set.seed):
        payload = record["payload"]
        if record["event_type"] == "comment":
            key, chars = "body", 0
        else:  # a post: the scored text is title + "\n\n" + selftext
            key = "selftext"
            payload["title"] = fake_title(rng)
            chars = len(payload["title"]) + 2
        if text_set.name == "long":
            payload[key] = mood_text(rng, words=rng.randint(120, 270))
        else:
            rest = comment_chars(rng, EXACT_LIMIT) - chars
            payload[key] = mood_text(rng, chars=rest) if rest > 0 else ""
        yield record


def load(url: DatabaseURL, text_set: TextSet, data_dir: str) -> list[int]:
    """Write the set's events with the project's own pipeline (not timed); the length of
    each event's scored text in characters, sorted."""
    from sentiment_pipeline.pipeline import run_from_settings
    from sentiment_pipeline.settings import load_settings

    lengths: list[int] = []

    async def source() -> AsyncIterator[dict[str, Any]]:
        for record in set_records(text_set):
            p = record["payload"]
            lengths.append(
                len(p.get("body") or "\n\n".join(filter(None, (p["title"], p["selftext"]))))
            )
            yield record

    settings = load_settings(database_url=_url_text(url), data_dir=data_dir, sinks=["database"])
    result = run_from_settings(settings, source())
    if result.inserted != text_set.events:
        raise SystemExit(f"loaded {result.inserted:,} of {text_set.events:,} {text_set.name}")
    return sorted(lengths)


def _url_text(url: DatabaseURL) -> str:
    """The URL as sentpipe's settings take it."""
    return url.libpq if url.backend == "postgresql" else url.sqlalchemy


def reset(url: DatabaseURL) -> None:
    """Every event waiting again, no scores: the state right after loading."""
    if url.backend == "postgresql":
        import psycopg

        with closing(psycopg.connect(url.libpq, autocommit=True)) as c:
            c.execute("TRUNCATE sentiment_scores")
            c.execute("UPDATE raw_events SET processed = false, processed_at = NULL")
            c.execute("VACUUM ANALYZE raw_events")
        return
    with closing(sqlite3.connect(url.sqlite_path)) as c:
        c.execute("DELETE FROM sentiment_scores")
        c.execute("UPDATE raw_events SET processed = 0, processed_at = NULL")
        c.commit()
        c.execute("ANALYZE")


@dataclass(frozen=True)
class Run:
    """One timed process: wall seconds (start-up included), events done, peak RSS."""

    seconds: float
    done: int
    peak_kb: int

    @property
    def rate(self) -> float:
        return self.done / self.seconds


def timed(command: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> Run:
    """Run `command` to its end: wall seconds from start to exit, its stdout's count of
    events (a number, or `sentiment score --json`), its peak RSS (VmHWM, polled)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
    peak = 0
    while True:
        try:
            process.wait(timeout=0.02)
            break
        except subprocess.TimeoutExpired:
            peak = max(peak, vm_hwm_kb(process.pid))
    seconds = time.perf_counter() - started
    out = process.stdout.read() if process.stdout else ""
    if process.returncode != 0:
        raise SystemExit(f"{command[:4]} exited {process.returncode}")
    parsed = json.loads(out)
    done = parsed if isinstance(parsed, int) else parsed["scored"] + parsed["skipped"]
    return Run(seconds, done, peak)


def best(runs: Sequence[Run]) -> Run:
    return min(runs, key=lambda run: run.seconds)


def measure(url: DatabaseURL, batch: int, repeat: int, data_dir: str) -> dict[str, Run]:
    """Bare VADER, then sentpipe with 1 and 2 workers, on the loaded `url`."""
    target = url.libpq if url.backend == "postgresql" else str(url.sqlite_path)
    sentpipe = shutil.which("sentpipe", path=str(Path(sys.executable).parent)) or shutil.which(
        "sentpipe"
    )
    if sentpipe is None:
        raise SystemExit("no installed `sentpipe` next to this Python or on PATH")
    env = {**os.environ, "SENTPIPE_DATABASE_URL": _url_text(url), "SENTPIPE_DATA_DIR": data_dir}
    runs: dict[str, Run] = {}
    reset(url)
    runs["bare"] = best(
        [timed([sys.executable, "-c", BARE, url.backend, target]) for _ in range(repeat)]
    )
    for workers in (1, 2):
        score = [sentpipe, "sentiment", "score", "--json", "--batch-size", str(batch)]
        done = []
        for _ in range(repeat):
            reset(url)
            done.append(timed([*score, "--workers", str(workers)], env=env, cwd=data_dir))
        runs[f"w{workers}"] = best(done)
    return runs


def worst() -> list[tuple[str, float]]:
    """Seconds to score each of the worst single texts, in this process."""
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


def _spread(name: str) -> str:
    """Median, 90th percentile and longest of a set's text lengths."""
    lengths = LENGTHS[name]
    median, p90 = lengths[len(lengths) // 2], lengths[len(lengths) * 9 // 10]
    return f"{median:,} / {p90:,} / {lengths[-1]:,}"


def _verdict(ok: bool) -> str:
    return "OK" if ok else "BELOW GOAL"


def report(
    backend: str, batch: int, sets: Sequence[TextSet], runs: dict[str, dict[str, Run]]
) -> None:
    """The figures of both sets side by side."""
    sizes = ", ".join(f"{s.name} {s.events:,}" for s in sets)
    print(f"sentiment score on {backend}, batch size {batch:,}; events: {sizes}")
    print(f"{'':28}" + "".join(f"{s.name + ' texts':>44}" for s in sets))
    print(f"{'  text chars: median/p90/max':28}" + "".join(f"{_spread(s.name):>44}" for s in sets))

    def row(label: str, cells: list[str]) -> None:
        print(f"{label:28}" + "".join(f"{cell:>44}" for cell in cells))

    def figure(run: Run) -> str:
        return f"{run.rate:9,.0f} events/s ({run.seconds:6.1f} s)"

    row("bare VADER loop process", [figure(runs[s.name]["bare"]) for s in sets])
    row("sentpipe, 1 worker", [figure(runs[s.name]["w1"]) for s in sets])
    ratios = [runs[s.name]["w1"].rate / runs[s.name]["bare"].rate for s in sets]
    row(
        f"  1 worker / bare (>= {GOAL_RATIO})",
        [f"{r:.2f}x {_verdict(r >= GOAL_RATIO):>10}" for r in ratios],
    )
    row("sentpipe, 2 workers", [figure(runs[s.name]["w2"]) for s in sets])
    scale = [runs[s.name]["w2"].rate / runs[s.name]["w1"].rate for s in sets]
    goal = "n/a (one writer)" if backend == "SQLite" else None
    row(
        f"  2 workers / 1 (>= {GOAL_WORKERS})",
        [f"{r:.2f}x {goal or _verdict(r >= GOAL_WORKERS):>10}" for r in scale],
    )
    peaks = [runs[s.name]["w1"].peak_kb / 1024 for s in sets]
    row(
        f"  peak RSS, 1 worker (< {GOAL_RSS_MB})",
        [f"{mb:.0f} MB {_verdict(mb < GOAL_RSS_MB):>10}" for mb in peaks],
    )
    for s in sets:
        counts = {key: run.done for key, run in runs[s.name].items()}
        if set(counts.values()) != {s.events}:
            print(f"WARNING: {s.name}: events done {counts}, loaded {s.events:,}")


LENGTHS: dict[str, list[int]] = {}  # each set's scored-text lengths, sorted (for report)


def run_backend(args: argparse.Namespace, sets: Sequence[TextSet]) -> dict[str, dict[str, Run]]:
    """Load each set into its own scratch database and measure it."""
    runs: dict[str, dict[str, Run]] = {}
    for text_set in sets:
        with tempfile.TemporaryDirectory(prefix="sentpipe-bench-") as data_dir:
            if args.sqlite:
                url = parse_database_url(f"sqlite:///{data_dir}/bench.db")
                init_db(url)
            else:
                url = fresh_database(args.url, f"sentpipe_bench_sentiment_{text_set.name}")
            try:
                LENGTHS[text_set.name] = load(url, text_set, data_dir)
                runs[text_set.name] = measure(url, args.batch_size, args.repeat, data_dir)
            finally:
                if not args.sqlite:
                    drop_database(args.url, url.database)
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="PostgreSQL admin URL (a scratch database is created)")
    where.add_argument("--sqlite", action="store_true", help="a scratch SQLite file")
    parser.add_argument(
        "--events", "--rows", dest="events", type=int, default=50_000, help="short-text events"
    )
    parser.add_argument("--long-events", type=int, default=10_000, help="long-text events")
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts")
    args = parser.parse_args(argv)
    sets = [TextSet("short", args.events, 11), TextSet("long", args.long_events, 12)]
    runs = run_backend(args, sets)
    report("SQLite" if args.sqlite else "PostgreSQL", args.batch_size, sets, runs)
    for name, seconds in worst():
        print(f"worst text, {name}: {seconds:.3f} s ({'OK' if seconds < 1 else 'TOO SLOW'})")


if __name__ == "__main__":
    main()
