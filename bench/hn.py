"""Hacker News benchmark: requests for a whole thread, a rerun's requests, the scrape's events/s.

  (a) A story with N comments (N = 10, 100, 1,000; the fake HN API's `huge_thread`,
      one fake per N, no deleted or dead items): the requests to read it whole through
      Algolia's `items/{id}` (one) against the Firebase API, which gives one item per
      request, walked through `kids` (N + 1, and as many more as there are deleted or
      dead items under it). Both through sentpipe's `HNClient` (the same pacing and
      retries), counted by its request meter, and the live comments each returns
      (Algolia leaves out dead items with their replies, which the Firebase walk still
      reaches).
  (b) Nothing new: `sentpipe scrape hn` (the installed command) over 3 lists and 2 topics
      against the fake HN in its own process, run twice into the same database; the
      second run's requests per target (its `--json` report) and in all (the fake's
      request log) against the number of targets (goal: at most one per target).
  (c) Events/s from a fake API to the database, whole processes (start-up included):
      the installed `sentpipe scrape hn --list new --limit 500` against the fake HN run
      as its own process (heavy-tailed comment counts and log-normal comment lengths, as
      its generator makes them), against `sentpipe scrape reddit` against the fake
      Reddit run as its own process (`bench/scrape.py`'s `FakeProcess`, pacing off) with
      about as many events; the same database kind (a fresh database each), one after
      the other in the same run. Prints events/s of each and the ratio (goal ≥ 0.8).
      The HN client is unpaced for the fake (`SENTPIPE_HN_REQUESTS_PER_HOUR`).

Run: .venv/bin/python bench/hn.py [--sqlite | --url postgresql://USER:PW@HOST:PORT/postgres]
     [--parts abc]; (b) and (c) need a database: --sqlite (a temporary file) or --url
     (a TimescaleDB/PostgreSQL server: scratch databases created there, then dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from _data import fresh_database
from scrape import FakeProcess as FakeRedditProcess

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.fake_hn import FakeHNConfig, serve_in_thread
from sentiment_pipeline.sources.hackernews.client import HNClient

SIZES = (10, 100, 1000)
UNPACED = 100_000_000  # requests an hour: the fake has no limit, and requests are counted


def _count_nodes(node: dict[str, Any]) -> set[int]:
    """Ids of the comments under an `items/{id}` node that have an author (live)."""
    found: set[int] = set()
    for child in node.get("children") or []:
        if child.get("author"):
            found.add(int(child["id"]))
        found |= _count_nodes(child)
    return found


async def _firebase_walk(client: HNClient, story: int) -> set[int]:
    """Every live comment under `story`, one `item/{id}` request per item."""
    found: set[int] = set()
    pending = [story]
    while pending:
        items = await asyncio.gather(*(client.item(ident) for ident in pending[:32]))
        pending = pending[32:]
        for item in items:
            if item is None:
                continue
            pending.extend(int(kid) for kid in item.get("kids") or [])
            if item.get("type") == "comment" and not item.get("deleted") and not item.get("dead"):
                found.add(int(item["id"]))
    return found


async def _one(size: int) -> tuple[int, int, int, int, int]:
    config = FakeHNConfig(seed=size, stories=5, huge_thread=size, deleted_share=0.0, dead_share=0.0)
    with serve_in_thread(config) as fake:
        stories = [item for item in fake.fake.store.items.values() if item.type == "story"]
        ident = next(item.id for item in stories if item.descendants == size)
        async with HNClient(
            fake.api_url, fake.search_url, "sentpipe-bench/1", per_hour=UNPACED
        ) as client:
            tree = await client.thread(ident)
            algolia = client.requests.total()
            via_thread = _count_nodes(tree or {})
        async with HNClient(
            fake.api_url, fake.search_url, "sentpipe-bench/1", per_hour=UNPACED
        ) as client:
            via_items = await _firebase_walk(client, ident)
            firebase = client.requests.total()
    return size, len(via_thread), len(via_items), algolia, firebase


def part_a() -> None:
    print("(a) requests to read a story with N comments whole (fake HN API):")
    print("        N   items/{id} (Algolia): requests, comments", end="")
    print("   item/{id} walk (Firebase): requests, comments")
    for size, by_tree, by_items, algolia, firebase in [asyncio.run(_one(n)) for n in SIZES]:
        print(
            f"    {size:>5,}   {algolia:>10,} {by_tree:>10,}   {firebase:>33,} {by_items:>9,}"
            f"   ({firebase / algolia:,.0f}x the requests)"
        )


# --- (b) and (c): whole processes --------------------------------------------------------

NOW = 1_700_000_000  # the fake HN's clock: the same items every run
MENTION = "quantum tofu"


class FakeHNProcess:
    """The fake HN in its own process (it must not share the scrape's GIL); its request
    log in `log` (one JSON line per request)."""

    def __init__(self, log: Path, *flags: str) -> None:
        self.log = log
        command = [sys.executable, "-m", "sentiment_pipeline.fake_hn", "--port", "0"]
        command += ["--now", str(NOW), "--log", str(log), *flags]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        words = self.process.stdout.readline().split()  # "... at URL: API and SEARCH"
        self.api_url, self.search_url = words[-3], words[-1]

    def routes(self) -> Counter[str]:
        """Requests so far by route."""
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        return Counter(json.loads(line)["route"] for line in lines if line.strip())

    def env(self) -> dict[str, str]:
        return {
            "SENTPIPE_HN_API_URL": self.api_url,
            "SENTPIPE_HN_SEARCH_URL": self.search_url,
            "SENTPIPE_HN_REQUESTS_PER_HOUR": str(UNPACED),
        }

    def __enter__(self) -> FakeHNProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


class Databases:
    """Fresh databases of one kind: SQLite files in `directory`, or scratch databases
    on the server of `admin_url` (dropped by `close`)."""

    def __init__(self, directory: Path, admin_url: str | None) -> None:
        self.directory = directory
        self.admin_url = admin_url
        self.created: list[str] = []
        self.kind = "SQLite" if admin_url is None else "TimescaleDB/PostgreSQL server"

    def new(self, label: str) -> str:
        if self.admin_url is None:
            url = f"sqlite:///{self.directory / f'{label}.db'}"
            init_db(parse_database_url(url))
            return url
        name = f"sentpipe_bench_{label}_{uuid.uuid4().hex[:8]}"
        self.created.append(name)
        return fresh_database(self.admin_url, name).sqlalchemy

    def close(self) -> None:
        if self.admin_url is None or not self.created:
            return
        import psycopg

        libpq = parse_database_url(self.admin_url).libpq
        with closing(psycopg.connect(libpq, autocommit=True)) as connection:
            for name in self.created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sentpipe() -> str:
    found = shutil.which("sentpipe", path=str(Path(sys.executable).parent)) or shutil.which(
        "sentpipe"
    )
    if found is None:
        raise SystemExit("the sentpipe command is not installed (pip install -e .)")
    return found


def sentpipe(args: Sequence[str], env: dict[str, str]) -> tuple[dict[str, Any], float]:
    """Run the installed `sentpipe ARGS --json`: its JSON result and wall seconds
    (start-up included)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTPIPE_")}
    started = time.perf_counter()
    done = subprocess.run(
        [_sentpipe(), *args, "--json"],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"sentpipe {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return json.loads(done.stdout), seconds


def _base_env(data_dir: Path, url: str) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "SENTPIPE_DATA_DIR": str(data_dir),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_SINKS": "database",
    }


def part_b(work: Path, databases: Databases) -> None:
    lists = ("top", "new", "ask")
    topics = (f'tofu="{MENTION}"', "rust=rust OR golang")
    args = ["scrape", "hn", "--list", ",".join(lists)]
    for topic in topics:
        args += ["--topic", topic]
    flags = ["--seed", "3", "--stories", "300", "--mention", MENTION]
    with FakeHNProcess(work / "b.jsonl", *flags) as fake:
        env = {**_base_env(work / "b", databases.new("b")), **fake.env()}
        first, _ = sentpipe(args, env)
        before = fake.routes()
        second, _ = sentpipe(args, env)
        after = fake.routes() - before
    targets = second["extra"]["targets"]
    print(
        f"(b) nothing new: a second `sentpipe scrape hn` over {len(lists)} lists and "
        f"{len(topics)} topics ({databases.kind}; the first run stored {first['inserted']:,} "
        f"events in {first['extra']['requests']['total']:,} requests):"
    )
    for name, stats in targets.items():
        print(f"    {name:<14} {stats['requests']} request(s), status {stats['status']}")
    total = second["extra"]["requests"]["total"]
    routes = ", ".join(f"{route} {n}" for route, n in sorted(after.items()))
    print(
        f"    total {total} requests for {len(targets)} targets "
        f"(the fake logged {sum(after.values())}: {routes}); inserted {second['inserted']}; "
        f"goal ≤ 1 per target: {'met' if total <= len(targets) else 'NOT met'}"
    )


def _rate(label: str, run: Callable[[], tuple[dict[str, Any], float]]) -> tuple[int, float]:
    result, seconds = run()
    events = int(result["inserted"])
    print(
        f"    {label}: {events:,} events in {seconds:.2f} s, {events / seconds:,.0f} events/s"
        + (f"; errors {result['errors']}" if result.get("errors") else "")
    )
    return events, seconds


def part_c(
    work: Path,
    databases: Databases,
    stories: int,
    comments: float,
    posts: int,
    reddit_comments: int,
) -> None:
    print(f"(c) events/s from a fake API to {databases.kind}, whole processes (start-up included):")
    flags = ["--seed", "5", "--stories", str(stories), "--comments-mean", str(comments)]
    with FakeHNProcess(work / "c-hn.jsonl", *flags) as fake:
        env = {**_base_env(work / "c-hn", databases.new("c_hn")), **fake.env()}
        args = ["scrape", "hn", "--list", "new", "--limit", str(min(stories, 500))]
        hn_events, hn_s = _rate("sentpipe scrape hn     ", lambda: sentpipe(args, env))
        requests = fake.routes()
    print(f"      (HN requests: {dict(sorted(requests.items()))})")
    with FakeRedditProcess(posts, reddit_comments, work / "c-reddit.jsonl") as reddit:
        env = {
            **_base_env(work / "c-reddit", databases.new("c_reddit")),
            "SENTPIPE_REDDIT_CLIENT_ID": reddit.config.client_id,
            "SENTPIPE_REDDIT_CLIENT_SECRET": reddit.config.client_secret,
            "SENTPIPE_REDDIT_OAUTH_URL": reddit.url,
            "SENTPIPE_REDDIT_URL": reddit.url,
        }
        args = ["scrape", "reddit", "--subreddit", "bench"]
        rd_events, rd_s = _rate("sentpipe scrape reddit ", lambda: sentpipe(args, env))
    hn_rate, rd_rate = hn_events / hn_s, rd_events / rd_s
    print(f"    ratio HN / Reddit {hn_rate / rd_rate:.2f} (goal ≥ 0.8)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="PostgreSQL/TimescaleDB admin URL (…/postgres)")
    parser.add_argument("--sqlite", action="store_true", help="use temporary SQLite files")
    parser.add_argument("--parts", default="abc", help="which parts to run (a, b, c)")
    parser.add_argument("--stories", type=int, default=500, help="(c) HN stories (≤ 500 read)")
    parser.add_argument("--comments-mean", type=float, default=30.0, help="(c) HN comments")
    parser.add_argument("--posts", type=int, default=1000, help="(c) Reddit posts")
    parser.add_argument("--reddit-comments", type=int, default=14, help="(c) mean per post")
    args = parser.parse_args()
    if "a" in args.parts:
        part_a()
    if not set(args.parts) & set("bc"):
        return
    if not args.url and not args.sqlite:
        parser.error("parts b and c need --url or --sqlite")
    work = Path(tempfile.mkdtemp(prefix="sentpipe-bench-hn-"))
    databases = Databases(work, None if args.sqlite else args.url)
    try:
        if "b" in args.parts:
            part_b(work, databases)
        if "c" in args.parts:
            part_c(
                work, databases, args.stories, args.comments_mean, args.posts, args.reddit_comments
            )
    finally:
        databases.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
