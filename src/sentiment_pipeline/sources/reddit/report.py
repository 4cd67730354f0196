"""What one Reddit scrape did: per-subreddit counters, request totals, failures.

The source fills a `ScrapeReport` while it runs (the progress display reads it live) and
the scrape job merges it into the run's result. Every count is exact: the request meter
(client.py) adds each HTTP request to the counters of the subreddit whose task made it,
through a context variable, never by subtracting totals that other tasks also move.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "Counting",
    "GroupStats",
    "RequestTotals",
    "ScrapeReport",
    "SubredditStats",
    "TopicStats",
]


class Counting(Protocol):
    """What the request meter adds each request to: a subreddit's or a group's counters."""

    requests: int
    more_expansions: int
    rate_limit_wait: float


@dataclass
class SubredditStats:
    """Live counters for one subreddit.

    `status` moves waiting -> listing -> comments -> done (or `stopped` at a
    `--max-*` bound, `failed` when the subreddit could not be scraped). `requests` counts
    every HTTP request made for this subreddit (listing pages, comment trees, "more
    comments" expansions and their retries; token requests are counted run-wide only);
    `more_expansions` is the part of `requests` spent expanding "more comments" and
    "continue this thread" stubs. `rate_limit_wait` is in seconds (429 backoff).
    """

    status: str = "waiting"
    submissions: int = 0
    comments: int = 0
    comment_trees: int = 0
    more_expansions: int = 0
    requests: int = 0
    rate_limit_wait: float = 0.0
    warnings: list[str] = field(default_factory=list)


@dataclass
class GroupStats:
    """Live counters for one group of subreddits polled together (`/r/a+b+c/new` and
    `/r/a+b+c/comments`), keyed by that path in `ScrapeReport.groups`.

    `requests` counts the group's listing pages (its members' own requests, `about`
    checks and comment trees, count in their `SubredditStats`); `posts` / `comments` the
    items its listings brought (each also counted under its subreddit). The rates are
    the observed activity the group was planned from (items per hour), `interval` the
    planned seconds until its next poll (None outside `--every`). `gaps` maps a member
    whose comment listing ran out (Reddit's ~1000-item depth) before its mark to how
    the gap was handled.
    """

    members: list[str] = field(default_factory=list)
    status: str = "waiting"
    posts: int = 0
    comments: int = 0
    requests: int = 0
    more_expansions: int = 0
    rate_limit_wait: float = 0.0
    posts_per_hour: float = 0.0
    comments_per_hour: float = 0.0
    interval: float | None = None
    gaps: dict[str, str] = field(default_factory=dict)


@dataclass
class TopicStats(SubredditStats):
    """Live counters for one topic's search walk (`topics.py`), keyed by the topic's name
    in `ScrapeReport.topics`.

    `found`: the search results read (Reddit's candidates); `submissions`: those the
    topic's own matcher kept, stored as posts; `new`: the kept posts not stored before
    (first sight: their comment trees are fetched, counted in `comment_trees` and
    `comments`); `requests` the search pages and those trees. `search`: `"reddit"` (a
    search walk) or `"scope"` (the query cannot narrow Reddit's search: its posts come
    from the scope's listings, no search is made). `mark`: the walk's new mark (None:
    none this run); `capped`: the walk may have missed posts (Reddit's search cap).
    """

    found: int = 0
    new: int = 0
    search: str = "reddit"
    mark: datetime | None = None
    capped: bool = False


@dataclass
class RequestTotals:
    """Run-wide request counts: `total` includes the `token` (OAuth) requests;
    `max_requests` is the `--max-requests` bound (None: unbounded)."""

    total: int = 0
    token: int = 0
    max_requests: int | None = None


@dataclass
class ScrapeReport:
    """The per-run report of the Reddit source.

    `subreddits` maps the lower-cased subreddit name to its counters, in target order.
    `failures` maps a target name (as given) to a one-line reason for the subreddits
    that could not be scraped. `stopped_early`/`stop_reason` tell that the run hit
    `--max-requests` or `--max-duration`. `marks` maps the source id of each `new`
    listing whose walk completed (listing and comment trees) to the time up to which it
    holds every post: what the scrape job saves as that target's mark once the run's
    records are durable (not part of `to_dict`); `comment_marks` the same for the
    comment listing; `checked` when each subreddit's `about` was last read and found
    well (saved as its `checked` mark: a silence is measured from it). `groups` holds
    the subreddits polled together (keyed by the `a+b+c` path) and `comments_from` the
    run's strategy (`listing`, `trees`, `auto`). `topics` holds each topic's search walk
    (keyed by its name) and `topic_marks` the marks of the topic walks that completed
    (saved as target `topic:<name>`, kind `search`; not part of `to_dict`);
    `topic_failures` a one-line reason per topic whose search failed.
    """

    subreddits: dict[str, SubredditStats] = field(default_factory=dict)
    requests: RequestTotals = field(default_factory=RequestTotals)
    failures: dict[str, str] = field(default_factory=dict)
    stopped_early: bool = False
    stop_reason: str | None = None
    marks: dict[str, datetime] = field(default_factory=dict)
    comment_marks: dict[str, datetime] = field(default_factory=dict)
    checked: dict[str, datetime] = field(default_factory=dict)
    groups: dict[str, GroupStats] = field(default_factory=dict)
    comments_from: str = "trees"
    topics: dict[str, TopicStats] = field(default_factory=dict)
    topic_marks: dict[str, datetime] = field(default_factory=dict)
    topic_failures: dict[str, str] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        """Every subreddit's warnings, in target order, then every topic's."""
        every = [*self.subreddits.values(), *self.topics.values()]
        return [warning for stats in every for warning in stats.warnings]

    @property
    def errors(self) -> list[str]:
        """One line per failed subreddit (`r/<name>: <reason>`), then per failed topic
        (`topic <name>: <reason>`)."""
        return [f"r/{name}: {reason}" for name, reason in self.failures.items()] + [
            f"topic {name}: {reason}" for name, reason in self.topic_failures.items()
        ]

    def stop(self, reason: str) -> None:
        """Record that the run stopped early; the first reason wins."""
        self.stopped_early = True
        self.stop_reason = self.stop_reason or reason

    def to_dict(self) -> dict[str, Any]:
        """Plain values for `--json` (the result's `extra`): `{"subreddits": {name:
        {status, submissions, comments, comment_trees, more_expansions, requests,
        rate_limit_wait, warnings}}, "requests": {total, token, max_requests},
        "comments_from": strategy, "groups": {path: {members, status, posts, comments,
        requests, more_expansions, rate_limit_wait, posts_per_hour, comments_per_hour,
        interval, gaps}}, "topics": {name: {status, search, found, posts, new,
        comment_trees, comments, requests, mark, capped, warnings}}}` (`mark` ISO 8601)."""
        return {
            "subreddits": {name: asdict(stats) for name, stats in self.subreddits.items()},
            "requests": asdict(self.requests),
            "comments_from": self.comments_from,
            "groups": {path: asdict(stats) for path, stats in self.groups.items()},
            "topics": {name: _topic_dict(stats) for name, stats in self.topics.items()},
        }


def _topic_dict(stats: TopicStats) -> dict[str, Any]:
    """A topic's counters for `--json`: `submissions` as `posts`, the mark as text."""
    return {
        "status": stats.status,
        "search": stats.search,
        "found": stats.found,
        "posts": stats.submissions,
        "new": stats.new,
        "comment_trees": stats.comment_trees,
        "comments": stats.comments,
        "requests": stats.requests,
        "more_expansions": stats.more_expansions,
        "rate_limit_wait": stats.rate_limit_wait,
        "mark": None if stats.mark is None else stats.mark.isoformat(),
        "capped": stats.capped,
        "warnings": list(stats.warnings),
    }
