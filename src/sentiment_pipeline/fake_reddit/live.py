"""Live activity: posts and comments that keep arriving after the server starts.

Per subreddit, posts and comments each arrive as a Poisson process (exponential gaps
at ``posts_per_day`` / ``comments_per_day``), drawn from their own seeded streams, so
the arrival times depend only on the seed and the start time. Arrivals are
materialised lazily, in time order, when the store is caught up to the clock (on each
API request), so a benchmark can advance a ``ManualClock`` by a day and pay only for
the items it then reads. An item is visible once the clock has passed its
``created_utc``.

Where a comment goes (each choice from the comment's own seeded stream and the state
its earlier arrivals left, so a day is the same for a seed and start time however the
clock is advanced, as long as tests change nothing by hand):

- ``old_post_share`` of them go to a post older than 3 days (uniformly among those;
  to a young post when there is none);
- the rest go to a young post: with probability ``ACTIVE_SHARE`` the post of one of
  the last comments on young posts (busy threads get busier), else a post picked by
  recency rank
  from a Pareto tail (rank ~ ``YOUNG_SCALE`` * (Pareto(``YOUNG_ALPHA``) - 1): most go
  to the newest few dozen, a few to posts days old);
- locked posts (the stickied ones) are skipped for their nearest unlocked neighbour;
- ``reply_share`` of them reply to one of the post's recent comments (not to a
  ``[deleted]``/``[removed]`` one), the rest are top-level.
"""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect_left
from collections import deque
from typing import TYPE_CHECKING

from . import ids
from .config import SubredditSpec
from .generator import make_comment
from .models import CommentNode, CommentTree, Post

if TYPE_CHECKING:
    from .store import SubredditState

DAY = 86400.0
OLD_AGE = 3 * DAY  # a post older than this is "old" for ``old_post_share``
ACTIVE_SHARE = 0.3  # of young-post comments: follow a recent comment to its thread
ACTIVE_MEMORY = 256  # how many recent comment targets are remembered
ACTIVE_MEAN_BACK = 20.0  # mean distance back into those, exponential
YOUNG_ALPHA = 1.2  # Pareto shape of the recency rank (smaller = heavier tail)
YOUNG_SCALE = 5.0  # rank scale: half of the rank draws fall within the newest ~4
REPLY_MEAN_BACK = 3.0  # mean distance back among the post's comments for a reply
_LOCK_PROBE = 16  # how far to look for an unlocked neighbour of a locked post
_GONE = {"[deleted]", "[removed]"}
_ANY_ID = 1 << 63  # above every id number, for "created at or before" bounds


def _first_gap(rng: random.Random, per_day: float) -> float:
    return rng.expovariate(per_day / DAY) if per_day > 0 else math.inf


class LiveActivity:
    """The arrival streams of one subreddit and where they have got to."""

    def __init__(self, spec: SubredditSpec, start: float) -> None:
        self.spec = spec
        base = f"{spec.seed}:{spec.name.lower()}:live"
        self._post_times = random.Random(f"{base}:post-times")
        self._comment_times = random.Random(f"{base}:comment-times")
        self.next_post = start + _first_gap(self._post_times, spec.posts_per_day)
        self.next_comment = start + _first_gap(self._comment_times, spec.comments_per_day)
        self.comments_made = 0  # arrivals so far, including dropped ones (no post yet)
        self.recent: deque[Post] = deque(maxlen=ACTIVE_MEMORY)

    def due(self, now: float) -> bool:
        """True when an arrival at or before ``now`` has not been materialised."""
        return min(self.next_post, self.next_comment) <= now

    def run(self, state: SubredditState, now: float) -> None:
        """Materialise every arrival up to ``now``, posts and comments in time order."""
        while self.due(now):
            if self.next_post <= self.next_comment:
                state.add_live_post(float(int(self.next_post)))
                self.next_post += _first_gap(self._post_times, self.spec.posts_per_day)
            else:
                self._comment(state, self.next_comment)
                self.next_comment += _first_gap(self._comment_times, self.spec.comments_per_day)

    def _comment(self, state: SubredditState, at: float) -> None:
        number = self.comments_made
        self.comments_made += 1
        rng = random.Random(f"{self.spec.seed}:{self.spec.name.lower()}:live-comment:{number}")
        post = self._target(state, rng, at)
        if post is None:  # nothing to comment on yet
            return
        tree = state.tree(post, at)
        parent = self._parent(tree, rng)
        cid = ids.comment_id(state.ident.block, state.take_comment_number())
        node = make_comment(rng, state.ident, post, cid, parent, float(int(at)))
        node.data["edited"] = False  # an edit would lie in the future
        if state.mentions is not None:
            state.mentions.comment(node)
        state.attach(post, node, parent)
        if post.created_utc >= at - OLD_AGE:
            self.recent.append(post)  # the young threads that are busy now

    def _target(self, state: SubredditState, rng: random.Random, at: float) -> Post | None:
        """The post a comment arriving at ``at`` goes to (see the module docstring)."""
        index = state.new_index
        visible = index.upto((at, _ANY_ID))
        young = min(bisect_left(index.keys, (at - OLD_AGE, -1)), visible)
        if visible == 0:
            return None
        if young == visible or (rng.random() < self.spec.old_post_share and young > 0):
            return _unlocked(index.items, rng.randrange(young), visible)
        if self.recent and rng.random() < ACTIVE_SHARE:
            back = int(rng.expovariate(1 / ACTIVE_MEAN_BACK))
            post = self.recent[-1 - min(back, len(self.recent) - 1)]
            if post.created_utc >= at - OLD_AGE:  # still young
                return post
        rank = int((rng.paretovariate(YOUNG_ALPHA) - 1) * YOUNG_SCALE)
        return _unlocked(index.items, visible - 1 - min(rank, visible - young - 1), visible)

    def _parent(self, tree: CommentTree, rng: random.Random) -> CommentNode | None:
        """A recent comment of the thread to reply to, or None for top-level."""
        if rng.random() >= self.spec.reply_share or not tree.by_id:
            return None
        back = min(int(rng.expovariate(1 / REPLY_MEAN_BACK)), len(tree.by_id) - 1)
        node = next(itertools.islice(reversed(tree.by_id.values()), back, None))
        return None if node.data.get("body") in _GONE else node


def _unlocked(posts: list[Post], position: int, visible: int) -> Post | None:
    """``posts[position]`` unless locked; else the nearest unlocked visible post."""
    for step in range(_LOCK_PROBE):
        for candidate in (position - step, position + step):
            if 0 <= candidate < visible and not posts[candidate].data.get("locked"):
                return posts[candidate]
    return None
