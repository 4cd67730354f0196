"""Newest-first listings over sorted indices: ``new`` and the comment listing.

A poll of ``/r/a+b/new`` or ``/r/a+b/comments`` must cost O(page) plus O(log n) per
member, not O(all items): a benchmark replays a day of 20,000 comments in seconds. Each
subreddit keeps its items in ascending ``(created_utc, base36 id as int)`` order (ids
are unique across subreddits, so the key is a total order and a fullname cursor maps to
one position); a page merges the members' tails. Paging semantics are those of
``listing.paginate`` (cursor, ``limit``, depth ``cap``, the overlap fault) on the
merged list.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from . import ids

Key = tuple[float, int]


class Named(Protocol):
    """An item with a fullname (its cursor)."""

    @property
    def name(self) -> str:
        """The fullname, e.g. ``t3_abc``."""
        ...


T = TypeVar("T", bound=Named)


def key_of(created_utc: float, fullname: str) -> Key:
    """The sort key of an item: creation time, then id (higher id = newer on ties)."""
    return created_utc, ids.from_base36(ids.split_fullname(fullname)[1])


class TimeIndex(Generic[T]):
    """Items in ascending key order, plus fullname -> key for cursors."""

    def __init__(self) -> None:
        self.keys: list[Key] = []
        self.items: list[T] = []
        self._keys_by_name: dict[str, Key] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, created_utc: float, item: T) -> None:
        """Insert ``item``; O(1) when it is the newest, as arrivals usually are."""
        key = key_of(created_utc, item.name)
        self._keys_by_name[item.name] = key
        if not self.keys or key > self.keys[-1]:
            self.keys.append(key)
            self.items.append(item)
            return
        at = bisect_left(self.keys, key)
        self.keys.insert(at, key)
        self.items.insert(at, item)

    def key(self, name: str) -> Key | None:
        """The key of fullname ``name``, if indexed."""
        return self._keys_by_name.get(name)

    def newer_than(self, key: Key) -> int:
        """How many items have a key above ``key``."""
        return len(self.keys) - bisect_right(self.keys, key)

    def upto(self, key: Key) -> int:
        """How many items have a key at or below ``key``."""
        return bisect_right(self.keys, key)


@dataclass(frozen=True)
class Window(Generic[T]):
    """One page, newest first, with Reddit's ``after``/``before`` cursors."""

    items: list[T]
    after: str | None
    before: str | None


_TOP: Key = (math.inf, 0)


def _below(indices: Sequence[TimeIndex[T]], bound: Key, inclusive: bool, n: int) -> list[T]:
    """The ``n`` newest items with a key below ``bound`` (or at it), newest first."""

    def tail(index: TimeIndex[T]) -> Iterator[tuple[Key, T]]:
        keys = index.keys
        hi = bisect_right(keys, bound) if inclusive else bisect_left(keys, bound)
        lo = max(0, hi - n)
        return zip(reversed(keys[lo:hi]), reversed(index.items[lo:hi]), strict=True)

    merged = heapq.merge(*(tail(i) for i in indices), key=lambda pair: pair[0], reverse=True)
    return [item for _, item in _take(merged, n)]


def _above(indices: Sequence[TimeIndex[T]], bound: Key, n: int) -> list[T]:
    """The ``n`` oldest items with a key above ``bound``, newest first."""

    def head(index: TimeIndex[T]) -> Iterator[tuple[Key, T]]:
        lo = bisect_right(index.keys, bound)
        return zip(index.keys[lo : lo + n], index.items[lo : lo + n], strict=True)

    merged = heapq.merge(*(head(i) for i in indices), key=lambda pair: pair[0])
    return [item for _, item in reversed(_take(merged, n))]


def _take(pairs: Iterator[tuple[Key, T]], n: int) -> list[tuple[Key, T]]:
    out: list[tuple[Key, T]] = []
    for pair in pairs:
        if len(out) >= n:
            break
        out.append(pair)
    return out


def _cursor(indices: Sequence[TimeIndex[T]], name: str) -> Key | None:
    return next((k for index in indices if (k := index.key(name)) is not None), None)


def page(
    indices: Sequence[TimeIndex[T]],
    *,
    after: str | None,
    before: str | None,
    limit: int,
    cap: int | None,
    overlap: bool = False,
) -> Window[T]:
    """Cut one page out of the members' merged newest-first list (first ``cap`` items
    only); an unknown cursor, or one beyond the cap, yields an empty page."""
    total = sum(len(index) for index in indices)
    size = total if cap is None else min(total, cap)
    cursor = before or after
    position, bound = 0, _TOP
    if cursor:
        found = _cursor(indices, cursor)
        if found is None:
            return Window([], None, None)
        bound = found
        position = sum(index.newer_than(bound) for index in indices)
        if position >= size:
            return Window([], None, None)
    if before:
        start, stop = max(0, position - limit), position
        chunk = _above(indices, bound, stop - start)
    else:
        start = 0
        if after:
            start = position if overlap and limit > 1 else position + 1
        stop = min(start + limit, size)
        chunk = _below(indices, bound, bool(after) and start == position, max(0, stop - start))
    next_after = chunk[-1].name if chunk and stop < size else None
    prev_before = chunk[0].name if chunk and start > 0 else None
    return Window(chunk, next_after, prev_before)
