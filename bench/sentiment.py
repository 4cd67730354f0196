"""Sentiment benchmark: is `sentpipe sentiment score` close to bare VADER, and do workers scale?

Prints, from one run on a fresh TimescaleDB database loaded with bench/_data.py records:
  (a) a bare loop of `SentimentIntensityAnalyzer.polarity_scores` over the same cleaned
      texts (no database), events/s;
  (b) `score_events` end to end (claim, clean, score, upsert, mark), 1 worker, events/s
      and the ratio to (a) (goal >= 0.85x);
  (c) the same with 2 worker processes (goal >= 1.5x of (b) on 2 cores);
  (d) peak RSS of this process and of the worker processes;
  (e) the worst single texts (200,000 characters, 800 emoji, 50,000 `!`): seconds each (< 1 s).

    python bench/sentiment.py --url postgresql://sentpipe:sentpipe@127.0.0.1:54329/postgres
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import make_records

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.sentiment import ScoreOptions, score_events
from sentiment_pipeline.sentiment.clean import event_text
from sentiment_pipeline.sentiment.scorers import get_scorer

GOAL_RATIO = 0.85
GOAL_WORKERS = 1.5


def prepare(admin_url: str, rows: int) -> DatabaseURL:
    name = f"sentpipe_bench_sentiment_{rows}"
    admin = parse_database_url(admin_url)
    head, _, _ = admin.sqlalchemy.rpartition("/")
    url = DatabaseURL(f"{head}/{name}", "postgresql")
    with closing(psycopg.connect(admin.libpq, autocommit=True)) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    init_db(url)
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
        text = event_text(r["event_type"], p.get("title"), p.get("selftext"), p.get("body"))
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="TimescaleDB admin URL")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)

    url = prepare(args.url, args.rows)
    bare_seconds, texts = bare(args.rows)
    bare_rate = args.rows / bare_seconds
    print(f"rows {args.rows:,} ({texts:,} with text), batch size {args.batch_size}")
    print(f"(a) bare polarity_scores loop:      {bare_rate:10,.0f} events/s ({bare_seconds:.1f} s)")

    one = score_events(url, ScoreOptions(batch_size=args.batch_size))
    rate1 = (one.scored + one.skipped) / one.seconds
    ok = "OK" if rate1 / bare_rate >= GOAL_RATIO else "BELOW GOAL"
    print(
        f"(b) sentiment score, 1 worker:      {rate1:10,.0f} events/s ({one.seconds:.1f} s) "
        f"= {rate1 / bare_rate:.2f}x bare (goal >= {GOAL_RATIO}x: {ok})"
    )
    reset(url)
    two = score_events(url, ScoreOptions(batch_size=args.batch_size, workers=2))
    rate2 = (two.scored + two.skipped) / two.seconds
    ok = "OK" if rate2 / rate1 >= GOAL_WORKERS else "BELOW GOAL"
    print(
        f"(c) sentiment score, 2 workers:     {rate2:10,.0f} events/s ({two.seconds:.1f} s) "
        f"= {rate2 / rate1:.2f}x one worker (goal >= {GOAL_WORKERS}x: {ok})"
    )
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"(d) peak RSS: this process {self_mb:.0f} MB, largest worker {child_mb:.0f} MB")
    for name, seconds in worst():
        print(f"(e) worst text, {name}: {seconds:.3f} s ({'OK' if seconds < 1 else 'TOO SLOW'})")


if __name__ == "__main__":
    main()
