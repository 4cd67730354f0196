"""Refresh benchmark: the database side of one `sentpipe refresh reddit` on TimescaleDB.

Loads N stored items (bench/_data.py records, all due on the default schedule) into a
fresh database, then times what the database does in one refresh: choosing the due items
(`due_items`), appending one observation per item and applying edits (`store.record`, one
transaction per 1,000 items as the job does; 5 % of the items edited). Prints the
request counts such a run makes and items/s (goal >= 20,000 items/s), then the time of
choosing again right after, when (almost) nothing is due: the cost of a frequent refresh.

    python bench/refresh.py --url postgresql://sentpipe:sentpipe@127.0.0.1:54329/postgres
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from contextlib import closing
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import fresh_database, make_records

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.dto import dump_json
from sentiment_pipeline.refresh import WRITE_EVERY, due_items
from sentiment_pipeline.refresh.observe import Observation, parse_schedule
from sentiment_pipeline.refresh.store import open_store
from sentiment_pipeline.timeparse import parse_duration

GOAL = 20_000


def prepare(admin_url: str, rows: int) -> DatabaseURL:
    url = fresh_database(admin_url, f"sentpipe_bench_refresh_{rows}")
    start = time.time() - 2 * 3600 - rows * 3.0  # every item between 2 h and ~3.5 days old
    with closing(psycopg.connect(url.libpq)) as c, c.cursor() as cur:
        with cur.copy(
            "COPY raw_events (id, occurred_at, source, source_id, event_type, payload) FROM STDIN"
        ) as copy:
            for r in make_records(rows, start_epoch=start):
                copy.write_row(
                    (
                        r["id"],
                        time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(r["occurred_at"])),
                        r["source"],
                        r["source_id"],
                        "submission" if r["id"].startswith("t3_") else "comment",
                        dump_json(r["payload"]),
                    )
                )
        c.commit()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="admin URL of the TimescaleDB server")
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    url = prepare(args.url, args.items)
    ages = parse_schedule("1h,24h,72h", parse_duration("72h"))
    store = open_store(url)
    try:
        t0 = time.perf_counter()
        now = store.now()
        due = due_items(store, now, ages, ())
        t1 = time.perf_counter()
        observations = [
            Observation(
                d.id,
                d.occurred_at,
                "edited" if i % 20 == 0 else "live",
                score=i % 5000,
                num_comments=d.num_comments,
                upvote_ratio=0.9,
                text_hash="0" * 32 if i % 20 == 0 else d.text_hash,
                patch={"body": f"edited {i}", "edited": 1.0} if i % 20 == 0 else None,
            )
            for i, d in enumerate(due)
        ]
        t2 = time.perf_counter()
        edits = 0
        chunk = WRITE_EVERY * 100
        for first in range(0, len(observations), chunk):
            edits += store.record(observations[first : first + chunk], store.now())
        t3 = time.perf_counter()
        again = due_items(store, store.now(), ages, ())  # the next run: only newly due items
        t4 = time.perf_counter()
    finally:
        store.close()
    db = (t1 - t0) + (t3 - t2)
    print(f"stored items: {args.items:,}; due: {len(due):,}")
    print(
        f"requests for one refresh: {math.ceil(len(due) / 100):,} info + 1 token "
        "+ 1 comments request per grown post (10 info requests per 1,000 items)"
    )
    print(f"choose due items: {t1 - t0:.2f} s")
    print(f"append {len(observations):,} observations + {edits:,} edits: {t3 - t2:.2f} s")
    print(f"choose again right after ({len(again):,} due of {args.items:,}): {t4 - t3:.2f} s")
    rate = len(due) / db if db else float("inf")
    verdict = "ok" if rate >= GOAL else "BELOW GOAL"
    print(f"database side: {rate:,.0f} items/s (goal >= {GOAL:,}): {verdict}")


if __name__ == "__main__":
    main()
