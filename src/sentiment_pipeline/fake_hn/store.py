"""All items, the story lists, the clock and live publishing, behind one lock.

The server thread reads while a test thread may ``advance`` the clock; every read
and write takes the lock, and derived lists are rebuilt on each change.
"""

from __future__ import annotations

import math
import threading
import time as _time
from typing import Any

from . import views
from .config import FakeHNConfig
from .generator import generate, live_stories
from .models import Item

LIST_LIMITS = {"top": 500, "new": 500, "best": 500, "ask": 200, "show": 200, "job": 200}


def _count_descendants(items: list[Item]) -> None:
    """``descendants``: live (not deleted, not dead) comments below each story/poll.
    Children have larger ids than parents, so one pass newest-first suffices."""
    below: dict[int, int] = {}
    for item in sorted(items, key=lambda i: -i.id):
        item.descendants = below.get(item.id, 0)
        if item.type == "comment" and item.parent is not None:
            own = 0 if item.deleted or item.dead else 1
            below[item.parent] = below.get(item.parent, 0) + item.descendants + own
    for item in items:
        if item.type == "comment":
            item.descendants = 0


class Store:
    """The fake's data: items by id, lists, ``updates`` and the clock (epoch s)."""

    def __init__(self, config: FakeHNConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._now = int(config.now if config.now is not None else _time.time())
        self.items: dict[int, Item] = {}
        self._updated: list[int] = []
        self._live_round = 0
        self._live_carry = 0.0
        self._publish(generate(config, self._now))

    def _publish(self, new: list[Item]) -> None:
        with self._lock:
            for item in new:
                self.items[item.id] = item
            roots = {i.story_id for i in new}
            _count_descendants([i for i in self.items.values() if i.story_id in roots])
            self._updated = ([i.id for i in reversed(new)] + self._updated)[:100]

    def now(self) -> int:
        """The clock, epoch seconds."""
        return self._now

    def get(self, item_id: int) -> Item | None:
        """The item, or ``None`` for an id that does not exist."""
        with self._lock:
            return self.items.get(item_id)

    def maxitem(self) -> int:
        """The largest id (the newest item)."""
        with self._lock:
            return max(self.items, default=0)

    def updates(self) -> dict[str, list[Any]]:
        """``updates.json``: recently created/changed items and their authors."""
        with self._lock:
            ids = self._updated[:30]
            profiles = sorted({self.items[i].by for i in ids if not self.items[i].deleted})
            return {"items": ids, "profiles": profiles}

    def story_list(self, name: str) -> list[int]:
        """``{name}stories.json``: ids in the list's order, up to HN's limits."""
        with self._lock:
            roots = [i for i in self.items.values() if i.is_root and not (i.deleted or i.dead)]
        if name == "ask":
            roots = [i for i in roots if i.kind == "ask"]
        elif name == "show":
            roots = [i for i in roots if i.kind == "show"]
        elif name == "job":
            roots = [i for i in roots if i.type == "job"]
        else:
            roots = [i for i in roots if i.type != "job"]
        roots.sort(key=self._sort_key(name))
        return [i.id for i in roots[: LIST_LIMITS[name]]]

    def _sort_key(self, name: str) -> Any:
        now = self._now
        if name == "best":
            return lambda i: (-(i.score or 0), -i.id)
        if name == "top":
            return lambda i: (-(i.score or 0) / math.pow((now - i.time) / 3600 + 2, 1.8), -i.id)
        return lambda i: -i.id

    def tree(self, item_id: int) -> dict[str, Any] | None:
        """Algolia's nested item, or ``None`` for an unknown or dead id."""
        with self._lock:
            item = self.items.get(item_id)
            if item is None or item.dead:
                return None
            return views.algolia_tree(item, self.items)

    def snapshot(self) -> list[Item]:
        """All items, newest first (for search)."""
        with self._lock:
            return sorted(self.items.values(), key=lambda i: -i.id)

    def mentioned(self) -> list[int]:
        """Ids of the items the ``mention`` phrase was planted in, oldest first."""
        with self._lock:
            return sorted(i.id for i in self.items.values() if i.mentioned)

    def advance(self, seconds: float) -> int:
        """Move the clock; publish ``live_stories_per_hour`` stories in the new span."""
        with self._lock:
            start = self._now
            self._now = start + int(seconds)
            due = self.config.live_stories_per_hour * seconds / 3600 + self._live_carry
            count = int(due)
            self._live_carry = due - count
            if count:
                self._live_round += 1
                first = self.maxitem() + 1
                args = (self._live_round, count, start, self._now, first)
                self._publish(live_stories(self.config, *args))
            return self._now
