"""``python -m sentiment_pipeline.fake_reddit``: run the test double by hand.

Example: ``python -m sentiment_pipeline.fake_reddit --port 8765 --subreddit big=5000
--subreddit locked=private --log /tmp/fake.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import FakeRedditConfig
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
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--client-secret", default="fake-client-secret")
    return parser


def config_from_args(argv: Sequence[str] | None = None) -> FakeRedditConfig:
    """Parse ``argv`` into a config (no subreddits given = the default demo set)."""
    args = build_parser().parse_args(argv)
    specs = tuple(parse_arg(a) for a in args.subreddit) or default_subreddits()
    return FakeRedditConfig(
        subreddits=specs,
        port=args.port,
        log_path=args.log,
        rate_limit=NO_PACING_RATE_LIMIT if args.no_pacing else args.rate_limit,
        client_id=args.client_id,
        client_secret=args.client_secret,
    )


async def _serve_forever(config: FakeRedditConfig) -> None:
    async with serve(config) as fake:
        names = ", ".join(s.name for s in config.subreddits)
        print(f"fake Reddit (test double) listening on {fake.url}", flush=True)
        print(f"subreddits: {names}", flush=True)
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
