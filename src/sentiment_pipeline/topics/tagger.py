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

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from sentiment_pipeline.sources import SourceSpec, source_spec
from sentiment_pipeline.sources.query import fold
from sentiment_pipeline.sources.topic import Topic

__all__ = [
    "Event",
    "Item",
    "Link",
    "PostTopics",
    "Reply",
    "Tagger",
    "Via",
    "event_text",
    "rules_of",
]

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


class Event(Protocol):
    """What the tagger reads of an event: a `RawEventDTO`, or the lighter `Item` the
    re-match builds from the columns it reads."""

    @property
    def id(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def source(self) -> str: ...
    @property
    def source_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


class Item(NamedTuple):
    """An event as the re-match reads it (only the payload keys the rules read)."""

    id: str
    occurred_at: datetime
    source: str
    source_id: str
    event_type: str
    payload: Mapping[str, Any]


class Reply(NamedTuple):
    """An event that replies to a post (`post`: the post's id), and the topics it
    belongs to by its own text."""

    event: Event
    post: str
    own: Collection[str]


class _Source(NamedTuple):
    """A source's rules as the tagger applies them."""

    spec: SourceSpec
    keys: tuple[str, ...]  # the payload keys its title and text come from
    child_type: str | None  # the event type that replies to a post
    link_key: str | None  # the payload key naming that post
    post_id: Callable[[object], str | None] | None = None  # that key's value -> post id


def rules_of(spec: SourceSpec) -> _Source:
    """What the tagger reads of a source: the payload keys of its title and text, and
    (for a source whose replies name their post) the reply type and that key."""
    keys = tuple(dict.fromkeys((*spec.columns.title, *spec.text_keys)))
    marks = spec.marks
    if marks is None or marks.link_key is None:
        return _Source(spec, keys, None, None)
    return _Source(spec, keys, marks.child_type, marks.link_key, marks.post_id)


def _source(name: str) -> _Source:
    return rules_of(source_spec(name))


def _literals(topics: Sequence[Topic]) -> frozenset[str] | None:
    """Folded words one of which any text some topic matches by its text holds (each
    topic's `Matcher.literals`); None when some topic needs none (`NOT x`)."""
    literals: set[str] = set()
    for topic in topics:
        if topic.matcher.literals is None:
            return None
        literals.update(topic.matcher.literals)
    return frozenset(literals)


def _any_literal(literals: frozenset[str] | None) -> Callable[[str], bool] | None:
    """A test that is False only for folded text holding none of `literals`."""
    if literals is None:
        return None
    ordered = sorted(literals, key=lambda w: (-len(w), w))
    return re.compile("|".join(map(re.escape, ordered))).search  # type: ignore[return-value]


class Tagger:
    """The configured topics compiled once; `links(events)` for each batch written.

    Speed (`topics match` reads millions of events): most events mention no topic, so
    the payload's title and text values are folded and tested against every topic's
    literal words first (`Matcher.literals`), and only the few that hold one are cut
    into title and text and matched; scopes and source rules are looked up once per
    subreddit and source. `literals`: the words of that test (None: no test)."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.topics = list(topics)
        self._names = {topic.name for topic in self.topics}
        self._sources: dict[str, _Source] = {}
        self._scoped: dict[tuple[str, str], list[Topic]] = {}
        self.literals = _literals(self.topics)
        self._may_match = _any_literal(self.literals)

    def __bool__(self) -> bool:
        return bool(self.topics)

    def _rules(self, source: str) -> _Source:
        rules = self._sources.get(source)
        if rules is None:
            rules = self._sources[source] = _source(source)
        return rules

    def _in_scope(self, source: str, source_id: str) -> list[Topic]:
        key = (source, source_id)
        scoped = self._scoped.get(key)
        if scoped is None:
            scoped = self._scoped[key] = [t for t in self.topics if t.holds(source, source_id)]
        return scoped

    def may_match(self, text: str) -> bool:
        """False only when no topic can match `text` (raw, any case) by its text: it
        holds none of their literal words (`Matcher.literals`)."""
        return self._may_match is None or self._may_match(fold(text))

    def replies(self, source: str, event_type: str) -> bool:
        """Whether events of this type reply to a post (`SourceSpec.marks.child_type`)."""
        return event_type == self.reply_type(source)

    def reply_type(self, source: str) -> str | None:
        """The event type of `source` that replies to a post, or None."""
        rules = self._sources.get(source) or self._rules(source)
        return rules.child_type if rules.link_key is not None else None

    def post_of(self, source: str, value: object) -> str | None:
        """The event id of the post a reply of `source` names by `value` (its payload's
        link key: Reddit's `link_id` as it is, HN's `story_id` as `hn_<id>`), or None."""
        rules = self._rules(source)
        return None if rules.post_id is None else rules.post_id(value)

    def text_topics(self, event: Event) -> list[str]:
        """The topics `event` belongs to by its own text, in topic order."""
        scoped = self._in_scope(event.source, event.source_id)
        if not scoped:
            return []
        rules = self._rules(event.source)
        payload = event.payload
        if self._may_match is not None:
            values = [v for key in rules.keys if isinstance(v := payload.get(key), str)]
            if not values or not self._may_match(fold(" ".join(values))):
                return []
        title, text = event_text(rules.spec, event.event_type, payload)
        if not title and not text:
            return []
        return [t.name for t in scoped if t.matcher.matches(text, title or None)]

    def links(self, events: Sequence[Event], post_topics: PostTopics | None = None) -> list[Link]:
        """The links of `events` (module docstring), each event's by text first."""
        if not self.topics:
            return []
        found: list[Link] = []
        by_post: dict[str, list[str]] = {}  # this batch's matched posts: id -> topics
        children: list[Reply] = []
        for event in events:
            names = self.text_topics(event)
            if names:
                found.extend(Link(event.id, event.occurred_at, name, "text") for name in names)
                by_post[event.id] = names
            if self.replies(event.source, event.event_type):
                key = self._rules(event.source).link_key or ""
                post = self.post_of(event.source, event.payload.get(key))
                if post:
                    children.append(Reply(event, post, names))
        found.extend(self.post_links(children, by_post, post_topics))
        return found

    def post_links(
        self,
        children: Sequence[Reply],
        by_post: Mapping[str, Collection[str]],
        post_topics: PostTopics | None,
    ) -> list[Link]:
        """The links by post of `children`: each belongs to the topics its post belongs
        to by text (`by_post`: the batch's posts; else `post_topics`), those in its scope
        that it does not belong to by its own text already."""
        wanted = {child.post for child in children if child.post not in by_post}
        stored = post_topics(wanted) if post_topics is not None and wanted else {}
        found: list[Link] = []
        for event, post, own in children:
            topics = by_post.get(post) or stored.get(post)
            if not topics:
                continue
            scoped = {t.name for t in self._in_scope(event.source, event.source_id)}
            found.extend(
                Link(event.id, event.occurred_at, name, "post")
                for name in topics
                if name not in own and name in scoped
            )
        return found
