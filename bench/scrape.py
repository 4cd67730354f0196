"""Scrape benchmark: request count vs the minimum, and pipeline vs plain asyncpraw speed.

Run: .venv/bin/python bench/scrape.py --url postgresql://USER:PW@HOST:PORT/postgres
     [--posts 1000] [--comments 8] [--sqlite]

Against the fake Reddit API with rate pacing off (same seed → same data each time):
  (a) `scrape_reddit` into a scratch database (created on the server, then dropped):
      requests made vs the minimum = token + about + ceil(N/100) listing pages + one comment
      tree per post + one per "more comments" / "continue this thread" expansion
      (the expansions asyncpraw needs for this tree, counted in the fake's log);
  (b) plain asyncpraw over the same listing and comment trees, writing nothing.
It prints events/s for both and the ratio (goal: ≥ 0.8, writing overlaps fetching).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.fake_reddit import FakeRedditConfig
from sentiment_pipeline.scrape import RedditScrapeOptions, scrape_reddit
from sentiment_pipeline.settings import SubredditTarget, load_settings

MORE_BUDGET = 32


class FakeProcess:
    """The fake in its own process, as Reddit would be: it must not share our GIL."""

    def __init__(self, posts: int, comments: int, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sentiment_pipeline.fake_reddit",
                "--port",
                "0",
                "--subreddit",
                f"bench={posts},seed:7,comments:{comments}",
                "--no-pacing",
                "--log",
                str(log),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip().rsplit(" ", 1)[-1]
        self.config = FakeRedditConfig()

    def reddit_kwargs(self) -> dict[str, Any]:
        return {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "user_agent": "sentpipe-bench",
            "oauth_url": self.url,
            "reddit_url": self.url,
            "check_for_updates": False,
        }

    def routes(self) -> list[str]:
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["route"] for line in lines if line.strip()]

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


async def plain_asyncpraw(fake: Any) -> int:
    """The reference: iterate the listing and every tree the same way, store nothing."""
    import asyncpraw
    from asyncpraw.models import MoreComments

    reddit = asyncpraw.Reddit(**fake.reddit_kwargs())
    events = 0
    try:
        subreddit = await reddit.subreddit("bench")
        ids = []
        async for post in subreddit.new(limit=None):
            events += 1
            ids.append(post.id)
        for ident in ids:
            submission = await reddit.submission(ident)
            await submission.comments.replace_more(limit=MORE_BUDGET)
            events += sum(1 for c in submission.comments.list() if not isinstance(c, MoreComments))
    finally:
        await reddit.close()
    return events


def scratch_database(admin_url: str) -> tuple[str, Any]:
    import psycopg

    name = f"sentpipe_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    return admin_url.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="PostgreSQL/TimescaleDB admin URL (…/postgres)")
    parser.add_argument("--sqlite", action="store_true", help="use a temporary SQLite file")
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--comments", type=int, default=8, help="mean comments per post")
    args = parser.parse_args()
    if not args.url and not args.sqlite:
        parser.error("give --url or --sqlite")
    warnings.simplefilter("ignore", DeprecationWarning)
    data_dir = Path(tempfile.mkdtemp(prefix="sentpipe-bench-"))
    drop = None
    if args.sqlite:
        url = f"sqlite:///{data_dir / 'bench.db'}"
    else:
        url, drop = scratch_database(args.url)
    try:
        with FakeProcess(args.posts, args.comments, data_dir / "a.jsonl") as fake:
            settings = load_settings(
                data_dir=data_dir,
                database_url=url,
                sinks=["database"],
                reddit_client_id=fake.config.client_id,
                reddit_client_secret=fake.config.client_secret,
                reddit_oauth_url=fake.url,
                reddit_url=fake.url,
            )
            init_db(settings.database)
            target = SubredditTarget(name="bench", more_comments=MORE_BUDGET)
            started = time.perf_counter()
            result = scrape_reddit(settings, [target], RedditScrapeOptions())
            pipeline_s = time.perf_counter() - started
            time.sleep(0.5)  # let the fake flush its log
            routes = fake.routes()
        expansions = routes.count("morechildren") + routes.count("continue_thread")
        # first seen: its `about` once (the group listings' check), then the walk
        minimum = 1 + 1 + math.ceil(args.posts / 100) + args.posts + expansions
        with FakeProcess(args.posts, args.comments, data_dir / "b.jsonl") as fake:
            started = time.perf_counter()
            plain_events = asyncio.run(plain_asyncpraw(fake))
            plain_s = time.perf_counter() - started
    finally:
        if drop is not None:
            drop()
    backend = "SQLite" if args.sqlite else "TimescaleDB"
    print(f"posts {args.posts}, events {result.fetched:,} (plain asyncpraw: {plain_events:,})")
    print(
        f"requests: {len(routes):,} made, minimum {minimum:,} = 1 token + 1 about + "
        f"{math.ceil(args.posts / 100)} listing pages + {args.posts} trees + "
        f"{expansions} expansions; errors {result.errors or 'none'}"
    )
    pipeline_rate = result.fetched / pipeline_s
    plain_rate = plain_events / plain_s
    print(f"scrape → {backend}: {pipeline_s:.2f} s, {pipeline_rate:,.0f} events/s")
    print(f"plain asyncpraw, no writing: {plain_s:.2f} s, {plain_rate:,.0f} events/s")
    print(f"ratio {pipeline_rate / plain_rate:.2f} (goal ≥ 0.8)")


if __name__ == "__main__":
    main()
