"""The mutable world: subreddits, their posts and lazily built comment trees.

Guarded by one lock because the thread runner lets tests call ``add_posts``
from outside the server's event loop.
"""

from __future__ import annotations

import threading
from typing import Any

from . import hostile, ids, rich
from .config import FakeRedditConfig, SubredditSpec
from .generator import SubredditIdentity, make_comment_tree, make_post, timeline
from .models import CommentTree, Post


class SubredditState:
    """Posts of one subreddit in creation order (oldest first)."""

    def __init__(self, spec: SubredditSpec, block: int, now: float) -> None:
        self.spec = spec
        self.ident = SubredditIdentity.of(spec, block)
        self.created_utc = float(int(now - 5 * 365 * 86400))
        self.posts: list[Post] = []
        self.by_id: dict[str, Post] = {}
        self.trees: dict[str, CommentTree] = {}
        self._next_comment = 0
        newest = spec.created_utc_base
        if newest is None:
            newest = now - spec.newest_age_seconds
        overrides = _hostile_overrides(spec)
        sticky = {i * 7 for i in range(spec.stickied)} if spec.posts > 1 else set()
        for index, created in enumerate(timeline(spec, spec.posts, newest)):
            self._append(index, created, now, index in sticky, overrides.get(index))

    def _append(
        self,
        index: int,
        created: float,
        now: float,
        stickied: bool = False,
        override: dict[str, Any] | None = None,
    ) -> Post:
        post = make_post(self.ident, index, created, self._next_comment, now, stickied, override)
        self._next_comment += post.num_comments
        self.posts.append(post)
        self.by_id[post.id] = post
        return post

    def add_posts(self, count: int, now: float, created_utc: float | None = None) -> list[Post]:
        """Append ``count`` posts newer than all existing ones, spread up to ``now``."""
        last = self.posts[-1].created_utc if self.posts else now - count
        end = created_utc if created_utc is not None else max(now, last + count)
        gap = max(1.0, (end - last) / count) if count else 1.0
        start = len(self.posts)
        return [
            self._append(start + i, float(int(last + gap * (i + 1))), now) for i in range(count)
        ]

    def take_comment_number(self) -> int:
        """A comment counter no generated tree uses (for comments added later)."""
        number = self._next_comment
        self._next_comment += 1
        return number

    def tree(self, post: Post, now: float) -> CommentTree:
        """Return (building on first use) the comment tree of ``post``."""
        tree = self.trees.get(post.id)
        if tree is None:
            tree = make_comment_tree(self.ident, post, now)
            self.trees[post.id] = tree
        return tree


def _hostile_overrides(spec: SubredditSpec) -> dict[int, dict[str, Any]]:
    """Place the crafted hostile (or rich) posts among the newest, every other slot."""
    if spec.hostile:
        crafted = hostile.post_overrides()  # the rich posts included
    elif spec.rich:
        crafted = rich.post_overrides()
    else:
        return {}
    slots = [spec.posts - 1 - 2 * j for j in range(len(crafted))]
    return {slot: o for slot, o in zip(slots, crafted, strict=True) if slot >= 0}


class Store:
    """All configured subreddits, indexed by lowercase name and by post id."""

    def __init__(self, config: FakeRedditConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.subreddits: dict[str, SubredditState] = {}
        self._post_owner: dict[str, SubredditState] = {}
        self.comment_owner: dict[str, tuple[SubredditState, Post]] = {}  # see changes.py
        self.hidden: set[str] = set()  # fullnames left out of /api/info
        used: set[int] = set()
        now = config.clock()
        for spec in config.subreddits:
            block = ids.preferred_block(spec.name, spec.seed)
            while block in used:  # rare crc collision: probe so ids stay unique
                block = (block + 1) % ids.BLOCKS
            used.add(block)
            state = SubredditState(spec, block, now)
            self.subreddits[spec.name.lower()] = state
            for post in state.posts:
                self._post_owner[post.id] = state

    def subreddit(self, name: str) -> SubredditState | None:
        """Return the state of subreddit ``name`` (case-insensitive)."""
        return self.subreddits.get(name.lower())

    def find_post(self, post_id: str) -> tuple[SubredditState, Post] | None:
        """Return the owning subreddit and post for a base36 id."""
        state = self._post_owner.get(post_id)
        if state is None:
            return None
        return state, state.by_id[post_id]

    def add_posts(self, name: str, count: int, created_utc: float | None = None) -> list[str]:
        """Add ``count`` new posts to ``name``; returns their ids, oldest first."""
        with self.lock:
            state = self.subreddit(name)
            if state is None:
                raise KeyError(f"unknown subreddit {name!r}")
            posts = state.add_posts(count, self.config.clock(), created_utc)
            for post in posts:
                self._post_owner[post.id] = state
            return [p.id for p in posts]
