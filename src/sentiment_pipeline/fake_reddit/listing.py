"""Listing order and ``after``/``before`` pagination, as Reddit does it.

Pagination is by fullname cursor (not offset), so new posts arriving between
pages shift nothing; the optional overlap fault re-creates the duplicate that
Reddit users do see when rank changes mid-scrape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .models import Post

SORTS = ("new", "hot", "top", "rising", "controversial")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
TIME_SPANS: dict[str, float | None] = {
    "hour": 3600.0,
    "day": 86400.0,
    "week": 7 * 86400.0,
    "month": 30 * 86400.0,
    "year": 365 * 86400.0,
    "all": None,
}
_REDDIT_EPOCH = 1134028003  # reference point of Reddit's published hot formula
_RISING_WINDOW = 86400.0


def hot_rank(post: Post) -> float:
    """Reddit's published hot formula: log10 of the score plus age in 12.5 h units."""
    order = math.log10(max(abs(post.score), 1))
    sign = 1 if post.score > 0 else -1 if post.score < 0 else 0
    return round(sign * order + (post.created_utc - _REDDIT_EPOCH) / 45000, 7)


def _controversy(post: Post) -> float:
    ratio = post.data.get("upvote_ratio", 1.0)
    balance = 1.0 - abs(float(ratio) - 0.5) * 2
    return (post.num_comments + 1) * balance


def _within(posts: list[Post], span: float | None, now: float) -> list[Post]:
    if span is None:
        return posts
    return [p for p in posts if p.created_utc >= now - span]


def ordered(
    posts: list[Post], sort: str, t: str | None, now: float, pin_stickies: bool = True
) -> list[Post]:
    """Return ``posts`` in the order listing ``sort`` shows them (``hot`` puts stickied
    posts first unless ``pin_stickies`` is false, as in a multi-subreddit listing)."""
    newest = sorted(posts, key=lambda p: (p.created_utc, p.index), reverse=True)
    if sort == "new":
        return newest
    if sort == "hot":
        stickies = sorted((p for p in posts if pin_stickies and p.stickied), key=lambda p: p.index)
        rest = sorted(
            (p for p in newest if not (pin_stickies and p.stickied)), key=hot_rank, reverse=True
        )
        return stickies + rest
    if sort == "rising":
        recent = _within(newest, _RISING_WINDOW, now)
        return sorted(
            recent,
            key=lambda p: p.score / (1 + (now - p.created_utc) / 3600),
            reverse=True,
        )
    span = TIME_SPANS.get(t or "day", TIME_SPANS["day"])
    window = _within(newest, span, now)
    key = (lambda p: float(p.score)) if sort == "top" else _controversy
    return sorted(window, key=key, reverse=True)


def clamp_limit(raw: str | None) -> int:
    """Parse ``limit`` like Reddit: default 25, at most 100 per page."""
    try:
        value = int(raw) if raw is not None else DEFAULT_LIMIT
    except ValueError:
        value = DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, value))


@dataclass(frozen=True)
class Page:
    """One page of a listing plus the cursors Reddit would send back."""

    posts: list[Post]
    after: str | None
    before: str | None


def _position(items: list[Post], name: str) -> int | None:
    return next((i for i, p in enumerate(items) if p.name == name), None)


def paginate(
    items: list[Post],
    *,
    after: str | None,
    before: str | None,
    limit: int,
    cap: int | None,
    overlap: bool = False,
) -> Page:
    """Cut one page out of ``items``; an unknown cursor yields an empty page."""
    if cap is not None:
        items = items[:cap]
    if before:
        pos = _position(items, before)
        if pos is None:
            return Page([], None, None)
        start, stop = max(0, pos - limit), pos
    else:
        start = 0
        if after:
            pos = _position(items, after)
            if pos is None:
                return Page([], None, None)
            start = pos if overlap and limit > 1 else pos + 1
        stop = start + limit
    chunk = items[start:stop]
    next_after = chunk[-1].name if chunk and stop < len(items) else None
    prev_before = chunk[0].name if chunk and start > 0 else None
    return Page(chunk, next_after, prev_before)
