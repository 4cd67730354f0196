"""What the fake HN serves: sizes, shares, faults. Frozen so tests can share one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Route names in the request log and the keys of ``FakeHNConfig.faults``.
ROUTES = (
    "item",
    "maxitem",
    "updates",
    "list",
    "algolia_item",
    "search",
    "search_by_date",
    "fake_clock",
    "unknown",
)


@dataclass(frozen=True)
class FaultSpec:
    """The first ``too_many_requests`` requests of a route get 429, the next
    ``server_errors`` get ``server_error_status``; then it answers normally."""

    too_many_requests: int = 0
    server_errors: int = 0
    server_error_status: int = 503
    retry_after: int = 1


@dataclass(frozen=True)
class FakeHNConfig:
    """Generator and server settings; the same ``seed`` and ``now`` give the same items.

    ``now`` is the epoch second the clock starts at (``None``: the wall clock at start,
    rounded down); stories spread over ``span_seconds`` before it. ``huge_thread`` gives
    the first plain story that many comments; ``deep_thread`` gives the second one a
    reply chain that deep. ``mention`` is planted into ``mention_share`` of stories and
    comments. ``live_stories_per_hour`` publishes new stories (with comments) when the
    clock advances.
    """

    seed: int = 1
    stories: int = 120
    comments_mean: float = 12.0
    max_depth: int = 8
    huge_thread: int = 0
    deep_thread: int = 40
    deleted_share: float = 0.03
    dead_share: float = 0.02
    mention: str | None = None
    mention_share: float = 0.1
    now: int | None = None
    span_seconds: int = 7 * 86400
    # far past any real HN item (about 46 million in 2026): the fake's items never share
    # an id with a real one, so a database that held fake items skips no real story
    first_id: int = 9_000_000_000
    live_stories_per_hour: float = 0.0
    live_comments_per_hour: float = 0.0
    live_votes_per_hour: float = 0.0
    live_deletes_per_hour: float = 0.0
    live_kills_per_hour: float = 0.0
    faults: dict[str, FaultSpec] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    log_path: Path | None = None

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(ROUTES)
        if unknown:
            raise ValueError(f"unknown fault routes {sorted(unknown)}; known: {ROUTES}")
        if not 0 <= self.deep_thread <= 500:
            raise ValueError("deep_thread must be 0..500 (trees are rendered recursively)")
        if self.stories < 0 or self.huge_thread < 0:
            raise ValueError("stories and huge_thread must be >= 0")
