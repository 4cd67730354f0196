"""Which topics an event belongs to, and why: the one rule every writer applies.

An event belongs to a topic when the topic's scope holds it (`Topic.holds`) and

- its own text matches the topic's query (`via` "text"): a post's title and text (the
  source's display `title` and its text without the title), a comment's text; or
- it is a comment whose post belongs to the topic by its text (`via` "post"). The post
  is found through the source's `link_key` (Reddit: the comment's `link_id`, the post's
  fullname), among the posts of the same batch first, then through `post_topics` (the
  database's links; none without a database).

A link by text wins over one by post: an event has at most one link per topic.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

from sentiment_pipeline.dto import RawEventDTO
from sentiment_pipeline.sources import SourceSpec, source_spec
from sentiment_pipeline.sources.topic import Topic

__all__ = ["Link", "PostTopics", "Tagger", "Via", "event_text"]

Via = Literal["text", "post"]
Key = tuple[str, datetime]

# post ids -> {post id: the topics each belongs to by its text}, for the posts not in
# the batch (a database query); absent ids belong to none.
PostTopics = Callable[[Collection[str]], Mapping[str, Collection[str]]]


class Link(NamedTuple):
    """One row of `event_topics`: the event's key, the topic's name and why."""

    id: str
    occurred_at: datetime
    topic: str
    via: Via


def _first_string(payload: Mapping[str, Any], keys: Iterable[str]) -> str:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def event_text(spec: SourceSpec, event_type: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    """(title, text) of an event for matching: the display title (`""` for none) and the
    source's text rule applied to the payload without its title keys, so that a phrase
    never spans the two (`""` for none: placeholders such as `[deleted]` say nothing)."""
    title = _first_string(payload, spec.columns.title)
    if title:
        payload = {k: v for k, v in payload.items() if k not in spec.columns.title}
    return title, spec.text(event_type, payload) or ""


class Tagger:
    """The configured topics compiled once; `links(events)` for each batch written."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.topics = list(topics)

    def __bool__(self) -> bool:
        return bool(self.topics)

    def text_topics(self, event: RawEventDTO) -> list[str]:
        """The topics `event` belongs to by its own text, in topic order."""
        scoped = [t for t in self.topics if t.holds(event.source, event.source_id)]
        if not scoped:
            return []
        title, text = event_text(source_spec(event.source), event.event_type, event.payload)
        if not title and not text:
            return []
        return [t.name for t in scoped if t.matcher.matches(text, title or None)]

    def links(
        self, events: Sequence[RawEventDTO], post_topics: PostTopics | None = None
    ) -> list[Link]:
        """The links of `events` (module docstring), each event's by text first."""
        if not self.topics:
            return []
        found: list[Link] = []
        by_post: dict[str, list[str]] = {}  # this batch's matched posts: id -> topics
        children: list[tuple[RawEventDTO, str, list[str]]] = []
        for event in events:
            names = self.text_topics(event)
            found.extend(Link(event.id, event.occurred_at, name, "text") for name in names)
            if names:
                by_post[event.id] = names
            post = self._post_of(event)
            if post is not None:
                children.append((event, post, names))
        found.extend(self._post_links(children, by_post, post_topics))
        return found

    def _post_of(self, event: RawEventDTO) -> str | None:
        """The id of the post `event` replies to (a child type of a source with marks)."""
        marks = source_spec(event.source).marks
        if marks is None or marks.link_key is None or event.event_type != marks.child_type:
            return None
        value = event.payload.get(marks.link_key)
        return value if isinstance(value, str) and value else None

    def _post_links(
        self,
        children: list[tuple[RawEventDTO, str, list[str]]],
        by_post: Mapping[str, list[str]],
        post_topics: PostTopics | None,
    ) -> Iterable[Link]:
        wanted = {post for _, post, _ in children if post not in by_post}
        stored = post_topics(wanted) if post_topics is not None and wanted else {}
        for event, post, own in children:
            topics = by_post.get(post) or stored.get(post) or ()
            for name in topics:
                if name not in own and self._scoped(name, event):
                    yield Link(event.id, event.occurred_at, name, "post")

    def _scoped(self, name: str, event: RawEventDTO) -> bool:
        return any(t.name == name and t.holds(event.source, event.source_id) for t in self.topics)
