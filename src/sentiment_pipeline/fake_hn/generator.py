"""Deterministic items: stories of every kind, comment trees, deleted and dead items.

Items are built with temporary ids, then renumbered in time order, so ids grow with
``time`` as on HN (a reply always has a larger id than its parent) and ``maxitem`` is
the newest item. ``kids`` are ranked by a hidden per-item rank, not by id.
"""

from __future__ import annotations

import random

from . import text
from .config import FakeHNConfig
from .models import Item

KINDS = ("story", "ask", "show", "job", "poll")
KIND_WEIGHTS = (0.62, 0.12, 0.12, 0.08, 0.06)
FIXED_KINDS = ("story", "story", "ask", "show", "job", "poll")


class _Builder:
    """Collects items with temporary ids (their index in ``items``)."""

    def __init__(self, config: FakeHNConfig, rng: random.Random, now: int) -> None:
        self.config = config
        self.rng = rng
        self.now = now
        self.items: list[Item] = []

    def _add(self, item: Item) -> Item:
        item.id = len(self.items)
        item.rank = self.rng.random()
        self.items.append(item)
        return item

    def _mention(self) -> str | None:
        config = self.config
        if config.mention and self.rng.random() < config.mention_share:
            return config.mention
        return None

    def story(self, kind: str, time: int, comments: int, chain: bool = False) -> Item:
        """A root item of ``kind`` with its comments (and pollopts for a poll)."""
        rng = self.rng
        phrase = self._mention()
        item_type = kind if kind in ("job", "poll") else "story"
        root = self._add(Item(0, item_type, kind, text.author(rng), time, 0))
        root.story_id = root.id
        root.title = text.title(rng, kind)
        root.score = 1 if kind == "job" else min(5000, int(rng.lognormvariate(1.8, 1.4)) + 1)
        if kind in ("story", "show", "job"):
            root.url = text.link(rng)
        in_text = kind in ("ask", "poll")
        if in_text or (kind == "show" and rng.random() < 0.5):
            root.text = text.comment_text(rng, phrase if in_text else None)
        if phrase is not None and not in_text:
            root.title = f"{root.title} - {phrase}"
        root.mentioned = phrase is not None
        if kind == "poll":
            self._pollopts(root)
        if kind != "job":
            self._comments(root, comments, chain)
        return root

    def _pollopts(self, poll: Item) -> None:
        for n in range(self.rng.randrange(2, 6)):
            opt = self._add(Item(0, "pollopt", "pollopt", poll.by, poll.time, poll.id))
            opt.poll, opt.text = poll.id, f"Option {n + 1}"
            opt.score = self.rng.randrange(0, 300)
            poll.parts.append(opt.id)

    def _comments(self, root: Item, count: int, chain: bool) -> None:
        rng, config = self.rng, self.config
        pool: list[Item] = [root]
        depth = {root.id: 0}
        for _ in range(count):
            if chain:
                parent = pool[-1]
            elif len(pool) == 1 or rng.random() < 0.3:
                parent = root
            else:
                parent = pool[max(1, len(pool) - 1 - int(rng.expovariate(0.15)))]
            if not chain and depth[parent.id] >= config.max_depth:
                parent = root
            pool.append(self._comment(root, parent))
            depth[pool[-1].id] = depth[parent.id] + 1

    def _comment(self, root: Item, parent: Item) -> Item:
        rng = self.rng
        time = min(self.now, parent.time + 1 + int(rng.expovariate(1 / 5400)))
        phrase = self._mention()
        item = self._add(Item(0, "comment", "comment", text.author(rng), time, root.id))
        item.parent = parent.id
        item.text = text.comment_text(rng, phrase)
        item.mentioned = phrase is not None
        roll = rng.random()
        item.deleted = roll < self.config.deleted_share
        item.dead = not item.deleted and roll < self.config.deleted_share + self.config.dead_share
        parent.kids.append(item.id)
        return item


def _comment_count(rng: random.Random, mean: float) -> int:
    return 0 if mean <= 0 else int(rng.expovariate(1 / mean))


def renumber(items: list[Item], first_id: int) -> list[Item]:
    """Give ids in (time, build order) order from ``first_id``; ranks order ``kids``."""
    order = sorted(items, key=lambda i: (i.time, i.id))
    new = {item.id: first_id + n for n, item in enumerate(order)}
    for item in order:
        item.id, item.story_id = new[item.id], new[item.story_id]
        item.parent = None if item.parent is None else new[item.parent]
        item.poll = None if item.poll is None else new[item.poll]
        item.parts = [new[p] for p in item.parts]
        item.kids = [new[k] for k in item.kids]
    by_id = {item.id: item for item in order}
    for item in order:
        item.kids.sort(key=lambda k: -by_id[k].rank)
    return order


def generate(config: FakeHNConfig, now: int) -> list[Item]:
    """All items for ``config`` at clock ``now``, oldest (smallest id) first."""
    rng = random.Random(f"fake-hn:{config.seed}")
    builder = _Builder(config, rng, now)
    for n in range(config.stories):
        kind = FIXED_KINDS[n] if n < len(FIXED_KINDS) else rng.choices(KINDS, KIND_WEIGHTS)[0]
        time = now - rng.randrange(600, max(601, config.span_seconds))
        comments = _comment_count(rng, config.comments_mean)
        chain = n == 1 and config.deep_thread > 0
        if n == 0 and config.huge_thread:
            comments = config.huge_thread
        elif chain:
            comments = config.deep_thread
        root = builder.story(kind, time, comments, chain)
        root.deleted = n == config.stories - 1 and n >= len(FIXED_KINDS)
        root.dead = n == config.stories - 2 and n >= len(FIXED_KINDS)
    return renumber(builder.items, config.first_id)


def live_stories(
    config: FakeHNConfig, round_no: int, count: int, start: int, end: int, first_id: int
) -> list[Item]:
    """``count`` stories created in ``(start, end]`` with comments up to ``end``."""
    rng = random.Random(f"fake-hn:{config.seed}:live:{round_no}")
    builder = _Builder(config, rng, end)
    for _ in range(count):
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        time = rng.randint(start + 1, end) if end > start else end
        builder.story(kind, time, _comment_count(rng, config.comments_mean / 3))
    return renumber(builder.items, first_id)
