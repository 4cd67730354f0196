"""Topics as configured: a name, a query (`sources.query`) and an optional scope.

The YAML file's `topics:` mapping (and `SENTPIPE_TOPICS` as JSON, and `--topic
NAME=QUERY` on `scrape reddit`) holds `TopicSettings`; `topics_from` parses them into
`Topic`s, raising `ConfigError` (exit 2) that names the topic and the position of a
malformed query. A topic's `subreddits` scope limits the Reddit events it can match
(and where Reddit's search looks for its posts); events of other sources are matched
whatever the scope. docs/topics.md is the user's version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, field_validator

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sources.query import Matcher, Query, parse, render

__all__ = [
    "TOPIC_NAME",
    "Topic",
    "TopicSettings",
    "parse_topic_flag",
    "topics_from",
]

# A topic's name: a label in metrics, a folder name (`topic=<name>`), a CLI argument.
TOPIC_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_NAME_RULE = "1-64 lower-case letters, digits, '_', '-' or '.', starting with a letter or digit"


class TopicSettings(BaseModel):
    """One `topics:` entry: the query as written and the optional subreddit scope."""

    model_config = {"extra": "forbid"}

    query: str
    subreddits: list[str] | None = None

    @field_validator("subreddits")
    @classmethod
    def _clean_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        names = []
        for raw in value:
            name = raw.strip().removeprefix("/r/").removeprefix("r/")
            if not name or not all(c.isalnum() or c == "_" for c in name):
                raise ValueError(f"{raw!r} is not a subreddit name (letters, digits, _)")
            names.append(name)
        return names


@dataclass(frozen=True)
class Topic:
    """A parsed topic. `subreddits`: the scope's stored source ids (lower case), None
    for no scope; `text`: the query as written."""

    name: str
    text: str
    query: Query
    subreddits: frozenset[str] | None = None
    matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", Matcher(self.query))

    def holds(self, source: str, source_id: str) -> bool:
        """Whether an event of `source`/`source_id` is in scope (module docstring)."""
        return self.subreddits is None or source != "reddit" or source_id in self.subreddits

    @property
    def definition(self) -> str:
        """The canonical query and scope as one text: stored links were made by this
        definition; a different one means `topics match` is due."""
        scope = sorted(self.subreddits) if self.subreddits is not None else None
        return json.dumps({"query": render(self.query), "subreddits": scope}, sort_keys=True)


def _checked_name(name: str) -> str:
    if TOPIC_NAME.fullmatch(name) is None:
        raise ConfigError(
            f"topic name {name!r} is not allowed", f"a topic name is {_NAME_RULE}: rename it"
        )
    return name


def topics_from(configured: Mapping[str, TopicSettings]) -> list[Topic]:
    """The configured topics parsed, in name order. Raises `ConfigError` for a bad name
    or a malformed query (the reason names the topic and the position)."""
    topics = []
    for name in sorted(configured):
        entry = configured[name]
        query = parse(entry.query, topic=_checked_name(name))
        scope = frozenset(s.lower() for s in entry.subreddits) if entry.subreddits else None
        topics.append(Topic(name=name, text=entry.query, query=query, subreddits=scope))
    return topics


def parse_topic_flag(value: str) -> tuple[str, TopicSettings]:
    """`--topic NAME=QUERY` as (name, settings without scope). Raises `ConfigError` when
    there is no `=`, no name or no query (the query itself is checked by `topics_from`)."""
    name, equals, query = value.partition("=")
    name = name.strip()
    if not equals or not name or not query.strip():
        raise ConfigError(
            f"--topic {value!r} is not NAME=QUERY",
            "write it as --topic tesla='tesla OR \"model 3\"'",
        )
    return _checked_name(name), TopicSettings(query=query.strip())
