"""All items, the story lists, the clock and live publishing, behind one lock.

The server thread reads while a test thread may ``advance`` the clock; every read
and write takes the lock, and derived lists are rebuilt on each change.
"""

from __future__ import annotations

import math
import random
import threading
import time as _time
from typing import Any

from . import text, views
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
        self._carry: dict[str, float] = {}  # the churn rates' fractions, by rate
        self._churn_round = 0
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
        """Move the clock; publish ``live_stories_per_hour`` stories in the new span,
        then the churn of existing items (``live_comments_per_hour`` new comments,
        ``live_votes_per_hour`` points, ``live_deletes_per_hour`` deletions and
        ``live_kills_per_hour`` kills), drawn from a seeded generator per advance."""
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
            self._churn(seconds)
            return self._now

    def _due(self, name: str, per_hour: float, seconds: float) -> int:
        """How many of a churn rate fall in ``seconds`` (fractions carried over)."""
        due = per_hour * seconds / 3600 + self._carry.get(name, 0.0)
        self._carry[name] = due - int(due)
        return int(due)

    def _churn(self, seconds: float) -> None:
        config = self.config
        counts = {
            "comments": self._due("comments", config.live_comments_per_hour, seconds),
            "votes": self._due("votes", config.live_votes_per_hour, seconds),
            "deletes": self._due("deletes", config.live_deletes_per_hour, seconds),
            "kills": self._due("kills", config.live_kills_per_hour, seconds),
        }
        if not any(counts.values()):
            return
        self._churn_round += 1
        rng = random.Random(f"fake-hn:{config.seed}:churn:{self._churn_round}")
        stories = sorted(i.id for i in self.items.values() if i.type == "story" and _alive(i))
        for _ in range(counts["comments"] if stories else 0):
            self.add_comment(rng.choice(stories), rng=rng)
        for _ in range(counts["votes"] if stories else 0):
            self.bump_score(rng.choice(stories), 1)
        for name, act in (("deletes", self.delete), ("kills", self.kill)):
            comments = sorted(
                i.id for i in self.items.values() if i.type == "comment" and _alive(i)
            )
            for ident in rng.sample(comments, min(counts[name], len(comments))):
                act(ident)

    # test hooks: each changes one item as HN would, and lists it in updates.json --

    def _changed(self, item: Item) -> None:
        """Recount ``descendants`` of the item's story; lead ``updates.json`` with it."""
        _count_descendants([i for i in self.items.values() if i.story_id == item.story_id])
        self._updated = ([item.id] + [i for i in self._updated if i != item.id])[:100]

    def _item(self, item_id: int) -> Item:
        item = self.items.get(item_id)
        if item is None:
            raise KeyError(f"fake HN has no item {item_id}")
        return item

    def delete(self, item_id: int) -> None:
        """The author deletes the item: Firebase sends only its skeleton with
        ``deleted: true``; Algolia keeps it in the tree with null author and text."""
        with self._lock:
            item = self._item(item_id)
            item.deleted = True
            self._changed(item)

    def kill(self, item_id: int) -> None:
        """Moderators or flags kill the item: Firebase adds ``dead: true`` (text kept);
        Algolia leaves it (and its replies) out, ``items/{id}`` is a 404."""
        with self._lock:
            item = self._item(item_id)
            item.dead = True
            self._changed(item)

    def add_comment(
        self,
        parent_id: int,
        comment: str | None = None,
        *,
        by: str | None = None,
        rng: random.Random | None = None,
    ) -> int:
        """A new comment replying to ``parent_id`` (a story or a comment), at the
        clock's time, with the next id; the story's ``descendants`` grow. ``comment``:
        its HN HTML (default: generated). Returns the new id."""
        with self._lock:
            parent = self._item(parent_id)
            ident = self.maxitem() + 1
            draw = rng or random.Random(f"fake-hn:{self.config.seed}:comment:{ident}")
            new = Item(
                ident,
                "comment",
                "comment",
                by or text.author(draw),
                max(self._now, parent.time + 1),
                parent.story_id,
                text=comment if comment is not None else text.comment_text(draw),
                parent=parent.id,
            )
            self.items[new.id] = new
            parent.kids.insert(0, new.id)
            self._changed(new)
            return new.id

    def bump_score(self, item_id: int, points: int) -> int:
        """Add ``points`` to the item's score; returns the new score."""
        with self._lock:
            item = self._item(item_id)
            item.score = (item.score or 0) + points
            self._changed(item)
            return item.score

    def edit(self, item_id: int, *, title: str | None = None, body: str | None = None) -> None:
        """The author edits the item: a new ``title`` and/or ``text`` (HN HTML)."""
        with self._lock:
            item = self._item(item_id)
            if title is not None:
                item.title = title
            if body is not None:
                item.text = body
            self._changed(item)


def _alive(item: Item) -> bool:
    return not (item.deleted or item.dead)
