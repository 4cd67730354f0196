"""Configuration dataclasses for the fake Reddit server.

Plain frozen dataclasses so tests can build a config in one expression and the
CLI can build the same thing from ``NAME=VALUE`` strings (see ``presets``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

_WORDLIKE = re.compile(r"[^\W_]")  # a letter or digit: something search can find


class Access(StrEnum):
    """How a subreddit answers, mirroring Reddit's access errors."""

    OK = "ok"
    PRIVATE = "private"  # 403 {"reason": "private"}
    BANNED = "banned"  # 404 {"reason": "banned"}
    QUARANTINED = "quarantined"  # 403 {"reason": "quarantined"}
    UNKNOWN = "unknown"  # 302 to /subreddits/search, as for a name that never existed


@dataclass(frozen=True)
class FaultSpec:
    """Faults a subreddit injects; counters are per running server."""

    access: Access = Access.OK
    too_many_requests: int = 0  # answer 429 this many times, then OK
    retry_after: int = 1  # Retry-After seconds sent with those 429s
    server_errors: int = 0  # answer ``server_error_status`` this many times, then OK
    server_error_status: int = 500  # 500 or 503 (asyncprawcore retries both)
    delay_seconds: float = 0.0  # sleep before answering (slow responses)
    empty_listings: bool = False  # listings return no children
    overlap_pages: bool = False  # each next page repeats the previous page's last post


@dataclass(frozen=True)
class SubredditSpec:
    """One served subreddit: generated posts plus optional faults."""

    name: str
    posts: int = 100
    seed: int = 0
    comments_per_post: int = 8  # mean; each post gets 0..2x this many
    hostile: bool = False  # mix in the hostile-content posts (see ``hostile``)
    rich: bool = False  # mix in poll, gallery and crosspost posts (see ``rich``)
    stickied: int = 1  # how many old posts are stickied (shown first in hot)
    newest_age_seconds: float = 120.0  # newest post is this old at startup
    post_interval_seconds: float = 900.0  # mean gap between consecutive posts
    created_utc_base: float | None = None  # newest post time; None = clock() - newest_age
    faults: FaultSpec = field(default_factory=FaultSpec)
    # Live activity (see ``live``): Poisson arrivals after the server starts, per day.
    posts_per_day: float = 0.0
    comments_per_day: float = 0.0
    old_post_share: float = 0.1  # share of new comments on posts older than 3 days
    reply_share: float = 0.3  # share of new comments that reply to an existing comment
    # (phrase, share) pairs: that share of new live posts and comments name the phrase
    # (see ``mentions``); e.g. (("tesla", 0.05), ("model 3", 0.01)).
    mentions: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.posts_per_day < 0 or self.comments_per_day < 0:
            raise ValueError(f"live rates of {self.name!r} must be >= 0")
        for share in (self.old_post_share, self.reply_share):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"live shares of {self.name!r} must be within 0..1")
        mentions = tuple((str(phrase), float(share)) for phrase, share in self.mentions)
        for phrase, share in mentions:
            if not _WORDLIKE.search(phrase):
                raise ValueError(f"mention {phrase!r} of {self.name!r} has no word to find")
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"mention share of {phrase!r} must be within 0..1")
        object.__setattr__(self, "mentions", mentions)  # lists in, tuples stored

    @property
    def live(self) -> bool:
        """True when posts or comments keep arriving after the server starts."""
        return self.posts_per_day > 0 or self.comments_per_day > 0


@dataclass(frozen=True)
class FakeRedditConfig:
    """Whole-server configuration; defaults match Reddit where it matters."""

    subreddits: tuple[SubredditSpec, ...] = ()
    client_id: str = "fake-client-id"
    client_secret: str = "fake-client-secret"
    username: str = "fake-user"
    password: str = "fake-password"
    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    rate_limit: int = 1000  # requests per client id per window (Reddit: 1000 / 600 s)
    rate_window_seconds: int = 600
    token_ttl_seconds: int = 86400
    listing_cap: int | None = 1000  # Reddit stops listings at about 1000 items
    # Reddit's search stops at about 1000 results however you page (praw #430 saw 953).
    search_cap: int | None = 1000
    comment_budget: int = 200  # max comments per GET /comments/{id}/ (rest -> `more`)
    max_comment_depth: int = 5  # deeper replies hide behind "continue this thread"
    morechildren_batch: int = 100  # things per /api/morechildren answer
    morechildren_latency: float = 0.0  # widen the window for concurrent-429 tests
    reject_concurrent_morechildren: bool = True  # 429 like Reddit does
    log_path: Path | None = None  # JSON lines, one per request
    keep_bodies: bool = False  # keep the JSON text of every 200 answer (tests compare)
    clock: Callable[[], float] = time.time

    def subreddit(self, name: str) -> SubredditSpec | None:
        """Return the spec for ``name`` (case-insensitive), if configured."""
        lowered = name.lower()
        return next((s for s in self.subreddits if s.name.lower() == lowered), None)


class ManualClock:
    """A clock tests can advance, to expire tokens or age posts without sleeping."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds``; returns the new time."""
        self.now += seconds
        return self.now
