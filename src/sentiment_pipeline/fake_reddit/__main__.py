"""``python -m sentiment_pipeline.fake_reddit``: run the test double by hand.

Example: ``python -m sentiment_pipeline.fake_reddit --port 8765 --subreddit big=5000
--subreddit locked=private --log /tmp/fake.jsonl``. A benchmark replaying a day:
``--clock-start -86400 --subreddit busy=posts/day:2000,comments/day:20000`` then
``POST /_fake/clock?advance=300`` per poll until the fake's clock reaches "now".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .config import FakeRedditConfig, ManualClock
from .presets import NO_PACING_RATE_LIMIT, default_subreddits, parse_arg
from .runner import serve


def build_parser() -> argparse.ArgumentParser:
    """The CLI; see docs/fake-reddit.md for the preset grammar."""
    parser = argparse.ArgumentParser(
        prog="python -m sentiment_pipeline.fake_reddit",
        description="Fake Reddit API on 127.0.0.1 (test double, not Reddit).",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument(
        "--subreddit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="serve NAME; VALUE = post count and/or presets: big=5000, x=private",
    )
    parser.add_argument("--log", type=Path, help="append one JSON line per request here")
    parser.add_argument(
        "--rate-limit", type=int, default=1000, help="requests per client per 600 s"
    )
    parser.add_argument("--no-pacing", action="store_true", help="huge rate limit for load tests")
    parser.add_argument(
        "--clock-start",
        type=float,
        metavar="EPOCH",
        help="use a manual clock starting at EPOCH (negative: now minus that many seconds), "
        "advanced with POST /_fake/clock?advance=SECONDS",
    )
    parser.add_argument(
        "--search-cap",
        type=int,
        default=1000,
        metavar="N",
        help="results one search query reaches, however paged (Reddit: about 1000; 0 = none)",
    )
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--client-secret", default="fake-client-secret")
    return parser


def config_from_args(argv: Sequence[str] | None = None) -> FakeRedditConfig:
    """Parse ``argv`` into a config (no subreddits given = the default demo set)."""
    args = build_parser().parse_args(argv)
    specs = tuple(parse_arg(a) for a in args.subreddit) or default_subreddits()
    config = FakeRedditConfig(
        subreddits=specs,
        port=args.port,
        log_path=args.log,
        rate_limit=NO_PACING_RATE_LIMIT if args.no_pacing else args.rate_limit,
        client_id=args.client_id,
        client_secret=args.client_secret,
        search_cap=args.search_cap or None,
    )
    if args.clock_start is None:
        return config
    return dataclasses.replace(config, clock=manual_clock(args.clock_start))


def manual_clock(start: float) -> ManualClock:
    """A ManualClock at ``start``; a negative ``start`` means now minus ``-start`` s."""
    return ManualClock(time.time() + start if start < 0 else start)


async def _serve_forever(config: FakeRedditConfig) -> None:
    async with serve(config) as fake:
        names = ", ".join(s.name for s in config.subreddits)
        print(f"fake Reddit (test double) listening on {fake.url}", flush=True)
        print(f"subreddits: {names}", flush=True)
        if isinstance(config.clock, ManualClock):
            print(
                f"manual clock at {config.clock():.0f}; "
                f"POST {fake.url}/_fake/clock?advance=SECONDS moves it",
                flush=True,
            )
        print(
            f"asyncpraw.Reddit(client_id={config.client_id!r}, "
            f"client_secret={config.client_secret!r}, user_agent='manual test', "
            f"oauth_url={fake.url!r}, reddit_url={fake.url!r}, "
            "check_for_updates=False)",
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted."""
    config = config_from_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
