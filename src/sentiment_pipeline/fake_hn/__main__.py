"""``python -m sentiment_pipeline.fake_hn --port 8766 --seed 1``: run the test double
by hand; point a client at ``http://127.0.0.1:PORT/v0`` and ``.../api/v1``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

from .config import ROUTES, FakeHNConfig, FaultSpec
from .runner import serve


def build_parser() -> argparse.ArgumentParser:
    """The CLI; see docs/fake-hn.md."""
    parser = argparse.ArgumentParser(
        prog="python -m sentiment_pipeline.fake_hn",
        description="Fake Hacker News API (Firebase + Algolia) on 127.0.0.1 (test double).",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stories", type=int, default=120)
    parser.add_argument("--comments-mean", type=float, default=12.0)
    parser.add_argument(
        "--huge-thread",
        type=int,
        default=0,
        metavar="N",
        help="give the first story N comments (e.g. 5000)",
    )
    parser.add_argument("--mention", help="phrase planted in a share of items")
    parser.add_argument("--mention-share", type=float, default=0.1)
    parser.add_argument("--now", type=int, help="clock start, epoch s (default: wall clock)")
    parser.add_argument(
        "--live-per-hour",
        type=float,
        default=0.0,
        help="stories published per hour of POST /_fake/clock?advance=S",
    )
    for name, what in (
        ("comments", "new comments on existing stories"),
        ("votes", "points added to existing stories"),
        ("deletes", "existing comments deleted"),
        ("kills", "existing comments killed (dead)"),
    ):
        parser.add_argument(
            f"--live-{name}-per-hour", type=float, default=0.0, metavar="N", help=f"{what} per hour"
        )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="ROUTE=N[,M]",
        help=f"first N requests of ROUTE get 429, next M get 503; {ROUTES}",
    )
    parser.add_argument("--log", type=Path, help="append one JSON line per request here")
    return parser


def parse_fault(value: str) -> tuple[str, FaultSpec]:
    """``item=2,1`` -> ("item", FaultSpec(2, 1))."""
    route, _, counts = value.partition("=")
    numbers = [int(n) for n in counts.split(",") if n] or [1]
    return route, FaultSpec(numbers[0], numbers[1] if len(numbers) > 1 else 0)


def config_from_args(args: argparse.Namespace) -> FakeHNConfig:
    """The config the parsed flags describe."""
    return FakeHNConfig(
        seed=args.seed,
        stories=args.stories,
        comments_mean=args.comments_mean,
        huge_thread=args.huge_thread,
        mention=args.mention,
        mention_share=args.mention_share,
        now=args.now,
        live_stories_per_hour=args.live_per_hour,
        live_comments_per_hour=args.live_comments_per_hour,
        live_votes_per_hour=args.live_votes_per_hour,
        live_deletes_per_hour=args.live_deletes_per_hour,
        live_kills_per_hour=args.live_kills_per_hour,
        faults=dict(parse_fault(f) for f in args.fault),
        port=args.port,
        log_path=args.log,
    )


async def _run(config: FakeHNConfig) -> None:
    async with serve(config) as fake:
        print(
            f"fake HN (test double) at {fake.url}: {fake.api_url} and {fake.search_url}", flush=True
        )
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until interrupted."""
    config = config_from_args(build_parser().parse_args(argv))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(config))


if __name__ == "__main__":
    main()
