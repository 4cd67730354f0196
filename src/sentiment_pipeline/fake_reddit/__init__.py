"""A fake Reddit OAuth API on loopback: a TEST DOUBLE, never a real Reddit client.

It speaks the subset of Reddit's API that asyncpraw uses for reading (token,
listings of one or several ``a+b`` subreddits, the subreddit comment listing, search,
about, comments, morechildren, info) so tests, benchmarks and ``sentpipe demo`` exercise
the real asyncpraw code path without network access. Subreddits can keep getting posts
and comments on the server's clock (live mode), which ``/_fake/clock`` can move, with
phrases planted at a chosen share (``mentions``). It binds to 127.0.0.1 only. See
``docs/fake-reddit.md``.
"""

from __future__ import annotations

from .config import Access, FakeRedditConfig, FaultSpec, ManualClock, SubredditSpec
from .presets import (
    NO_PACING_RATE_LIMIT,
    config_from_dict,
    default_subreddits,
    fixture_config,
    parse_arg,
    parse_value,
)
from .runner import RunningFakeReddit, run_fake_reddit, serve, serve_in_thread
from .server import FakeReddit

__all__ = [
    "NO_PACING_RATE_LIMIT",
    "Access",
    "FakeReddit",
    "FakeRedditConfig",
    "FaultSpec",
    "ManualClock",
    "RunningFakeReddit",
    "SubredditSpec",
    "config_from_dict",
    "default_subreddits",
    "fixture_config",
    "parse_arg",
    "parse_value",
    "run_fake_reddit",
    "serve",
    "serve_in_thread",
]
