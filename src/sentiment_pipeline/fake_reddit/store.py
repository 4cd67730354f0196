"""The mutable world: subreddits, their posts and lazily built comment trees.

Guarded by one lock because the thread runner lets tests call ``add_posts``
from outside the server's event loop. Each subreddit also keeps newest-first indices
(``newest``): its posts for ``new`` from the start, its comments for the comment listing
from that listing's first request on. Live subreddits (``live``) materialise their
arrivals up to the clock whenever the store is caught up.
"""

from __future__ import annotations

import threading
from typing import Any

from . import hostile, ids, rich
from .config import FakeRedditConfig, SubredditSpec
from .generator import SubredditIdentity, make_comment_tree, make_post, timeline
from .live import LiveActivity
from .mentions import Mentions, phrase_key
from .models import CommentNode, CommentTree, ListedComment, Post
from .newest import TimeIndex
from .search import SearchIndex

PostOwners = dict[str, "SubredditState"]
CommentOwners = dict[str, tuple["SubredditState", Post]]
Created = tuple[str, str, float]  # (fullname, subreddit lower-case, created_utc)


class SubredditState:
    """Posts of one subreddit in creation order (oldest first)."""

    def __init__(
        self,
        spec: SubredditSpec,
        block: int,
        now: float,
        post_owner: PostOwners | None = None,
        comment_owner: CommentOwners | None = None,
    ) -> None:
        self.spec = spec
        self.ident = SubredditIdentity.of(spec, block)
        self.start = now  # the clock when the server started; live arrivals come after
        self.created_utc = float(int(now - 5 * 365 * 86400))
        self.posts: list[Post] = []
        self.by_id: dict[str, Post] = {}
        self.trees: dict[str, CommentTree] = {}
        self.new_index: TimeIndex[Post] = TimeIndex()
        self._comment_index: TimeIndex[ListedComment] | None = None
        self._post_owner: PostOwners = {} if post_owner is None else post_owner
        self._comment_owner: CommentOwners = {} if comment_owner is None else comment_owner
        self._next_comment = 0
        self.live = LiveActivity(spec, now) if spec.live else None
        self.mentions = Mentions(spec) if spec.mentions else None
        self._search: SearchIndex | None = None  # built by the first search
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
        self._register(post)
        return post

    def _register(self, post: Post) -> None:
        self.posts.append(post)
        self.by_id[post.id] = post
        self.new_index.add(post.created_utc, post)
        self._post_owner[post.id] = self

    def add_posts(self, count: int, now: float, created_utc: float | None = None) -> list[Post]:
        """Append ``count`` posts newer than all existing ones, spread up to ``now``."""
        last = self.posts[-1].created_utc if self.posts else now - count
        end = created_utc if created_utc is not None else max(now, last + count)
        gap = max(1.0, (end - last) / count) if count else 1.0
        start = len(self.posts)
        return [
            self._append(start + i, float(int(last + gap * (i + 1))), now) for i in range(count)
        ]

    def add_live_post(self, created: float) -> Post:
        """A post that arrives live: no comments yet (they arrive live too), not edited."""
        post = make_post(self.ident, len(self.posts), created, self._next_comment, created)
        post.num_comments = 0
        post.data["num_comments"] = 0
        post.data["edited"] = False
        if self.mentions is not None:
            self.mentions.post(post)
        self._register(post)
        self.trees[post.id] = CommentTree(roots=[], by_id={})
        return post

    def search_index(self) -> SearchIndex:
        """The word index of the posts, brought up to date (built on first use)."""
        if self._search is None:
            self._search = SearchIndex()
        self._search.sync(self.posts)
        return self._search

    def text_changed(self, post: Post) -> None:
        """A post's title or self-text changed (``changes``): search re-indexes it."""
        if self._search is not None:
            self._search.changed(post)

    def take_comment_number(self) -> int:
        """A comment counter no generated tree uses (for comments added later)."""
        number = self._next_comment
        self._next_comment += 1
        return number

    def _clamp(self, post: Post, now: float) -> float:
        """The latest time a generated comment may have: ``now``, or for a live
        subreddit the start (its later comments are live arrivals), so trees do not
        depend on when they are built."""
        if self.live is None:
            return now
        return max(self.start, post.created_utc)

    def tree(self, post: Post, now: float) -> CommentTree:
        """Return (building on first use) the comment tree of ``post``."""
        tree = self.trees.get(post.id)
        if tree is None:
            tree = make_comment_tree(self.ident, post, self._clamp(post, now))
            self.trees[post.id] = tree
            for node in tree.by_id.values():
                self._comment_owner[node.id] = (self, post)
                if self._comment_index is not None:
                    self._comment_index.add(node.created_utc, ListedComment(node, post))
        return tree

    def attach(self, post: Post, node: CommentNode, parent: CommentNode | None = None) -> None:
        """Add a new comment to the (built) tree of ``post``; ``num_comments`` grows."""
        tree = self.trees[post.id]
        (parent.children if parent is not None else tree.roots).append(node)
        tree.by_id[node.id] = node
        self._comment_owner[node.id] = (self, post)
        post.num_comments += 1
        post.data["num_comments"] = post.num_comments
        if self._comment_index is not None:
            self._comment_index.add(node.created_utc, ListedComment(node, post))

    def comment_index(self, now: float) -> TimeIndex[ListedComment]:
        """All comments, oldest first; the first call builds every tree."""
        if self._comment_index is None:
            listed = [
                (node.created_utc, ListedComment(node, post))
                for post in self.posts
                for node in self.tree(post, now).by_id.values()
            ]
            listed.sort(key=lambda pair: (pair[0], ids.from_base36(pair[1].node.id)))
            index: TimeIndex[ListedComment] = TimeIndex()
            for created, item in listed:
                index.add(created, item)
            self._comment_index = index
        return self._comment_index

    def created(self, now: float) -> list[Created]:
        """(fullname, name lower-case, created_utc) of every post and comment."""
        name = self.spec.name.lower()
        out = [(post.name, name, post.created_utc) for post in self.posts]
        for post in list(self.posts):
            out.extend((n.name, name, n.created_utc) for n in self.tree(post, now).by_id.values())
        return out


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
        self._post_owner: PostOwners = {}
        self.comment_owner: CommentOwners = {}  # see changes.py
        self.hidden: set[str] = set()  # fullnames left out of /api/info
        used: set[int] = set()
        now = config.clock()
        for spec in config.subreddits:
            block = ids.preferred_block(spec.name, spec.seed)
            while block in used:  # rare crc collision: probe so ids stay unique
                block = (block + 1) % ids.BLOCKS
            used.add(block)
            state = SubredditState(spec, block, now, self._post_owner, self.comment_owner)
            self.subreddits[spec.name.lower()] = state
        self._live = [s for s in self.subreddits.values() if s.live is not None]

    def subreddit(self, name: str) -> SubredditState | None:
        """Return the state of subreddit ``name`` (case-insensitive)."""
        return self.subreddits.get(name.lower())

    def find_post(self, post_id: str) -> tuple[SubredditState, Post] | None:
        """Return the owning subreddit and post for a base36 id."""
        state = self._post_owner.get(post_id)
        if state is None:
            return None
        return state, state.by_id[post_id]

    def catch_up(self) -> None:
        """Materialise every live subreddit's arrivals up to the clock (cheap when none
        are due: one comparison per live subreddit)."""
        if not self._live:
            return
        with self.lock:
            now = self.config.clock()
            for state in self._live:
                if state.live is not None and state.live.due(now):
                    state.live.run(state, now)

    def add_posts(self, name: str, count: int, created_utc: float | None = None) -> list[str]:
        """Add ``count`` new posts to ``name``; returns their ids, oldest first."""
        with self.lock:
            state = self.subreddit(name)
            if state is None:
                raise KeyError(f"unknown subreddit {name!r}")
            self.catch_up()
            posts = state.add_posts(count, self.config.clock(), created_utc)
            return [p.id for p in posts]

    def mentioned(self, phrase: str) -> list[str]:
        """Fullnames of the live posts and comments a planted ``phrase`` went into that
        still hold it, oldest first; KeyError when no subreddit plants the phrase."""
        key = phrase_key(phrase)
        with self.lock:
            self.catch_up()
            planters = [
                s.mentions.planted[key]
                for s in self.subreddits.values()
                if s.mentions is not None and key in s.mentions.planted
            ]
            if not planters:
                raise KeyError(f"no subreddit plants {phrase!r}")
            found = [
                (p.created_utc, p.fullname) for items in planters for p in items if p.holds(key)
            ]
        return [name for _, name in sorted(found)]

    def created(self, since: float | None = None) -> list[Created]:
        """Every post and comment that exists now, oldest first (builds every tree)."""
        with self.lock:
            self.catch_up()
            now = self.config.clock()
            items = [item for state in self.subreddits.values() for item in state.created(now)]
        if since is not None:
            items = [item for item in items if item[2] >= since]
        items.sort(key=lambda item: (item[2], item[0]))
        return items
