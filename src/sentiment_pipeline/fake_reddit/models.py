"""In-memory records the server renders into Reddit JSON.

Each record keeps the fields used for sorting next to the ready-made JSON
``data`` dict, so rendering is a copy and never recomputes text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


@dataclass
class Post:
    """A submission (t3) plus what is needed to grow its comment tree lazily."""

    id: str
    index: int  # position in the subreddit's creation order
    created_utc: float
    score: int
    num_comments: int
    stickied: bool
    comment_id_start: int  # first comment counter of this post's tree
    data: JSON

    @property
    def name(self) -> str:
        """The ``t3_`` fullname."""
        return f"t3_{self.id}"


@dataclass
class CommentNode:
    """A comment (t1) and its replies, in creation order."""

    id: str
    parent_name: str  # fullname of the parent (t3_ for top-level)
    depth: int
    score: int
    created_utc: float
    data: JSON
    children: list[CommentNode] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The ``t1_`` fullname."""
        return f"t1_{self.id}"

    def walk(self) -> list[CommentNode]:
        """Return this node and its descendants, parents first (pre-order)."""
        out: list[CommentNode] = []
        stack: list[CommentNode] = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


@dataclass
class CommentTree:
    """All comments of one post, with an id index for morechildren lookups."""

    roots: list[CommentNode]
    by_id: dict[str, CommentNode]

    def count(self) -> int:
        """Total comments, matching the post's ``num_comments``."""
        return len(self.by_id)


@dataclass(frozen=True)
class ListedComment:
    """A comment as the subreddit comment listing holds it: the node and its post."""

    node: CommentNode
    post: Post

    @property
    def name(self) -> str:
        """The ``t1_`` fullname (the listing's cursor)."""
        return self.node.name
