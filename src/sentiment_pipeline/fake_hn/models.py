"""One HN item as the fake holds it, before either API's view of it.

Shapes follow the Firebase API's item (github.com/HackerNews/API, "Items"):
``type`` is story|comment|job|poll|pollopt; Ask HN and Show HN are stories,
told apart by ``kind`` (used for Algolia's ``ask_hn``/``show_hn`` tags).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Item:
    """A story, comment, job, poll or pollopt; ``time`` in epoch seconds."""

    id: int
    type: str
    kind: str
    by: str
    time: int
    story_id: int
    title: str | None = None
    url: str | None = None
    text: str | None = None
    score: int | None = None
    parent: int | None = None
    poll: int | None = None
    kids: list[int] = field(default_factory=list)
    parts: list[int] = field(default_factory=list)
    deleted: bool = False
    dead: bool = False
    rank: float = 0.0
    descendants: int = 0
    mentioned: bool = False
    words: frozenset[str] | None = field(default=None, repr=False, compare=False)

    @property
    def is_root(self) -> bool:
        """Stories, jobs and polls: the items the story lists hold."""
        return self.type in ("story", "job", "poll")
