"""Hacker News's entry in the source registry (`sources.source_spec("hackernews")`).

Its settings (`settings.py`), its text for scoring (`text.py`: HN's HTML as plain text,
a story's title and text, a comment's text), its display columns (each tries the
Firebase key, then Algolia's: `by`/`author`, `score`/`points`, `parent`/`parent_id`) and
its metric label: the story kind (`sentpipe_kind_*{kind="ask"}`), which is also the
stored `source_id`. No container: HN has no groups (the kind is the `source_id`
column already). No high-water-mark query yet: the scrape command brings it.
"""

from __future__ import annotations

from sentiment_pipeline.sources import DisplayColumns, SourceSpec
from sentiment_pipeline.sources.hackernews.refresh import RULES
from sentiment_pipeline.sources.hackernews.settings import HackerNewsSettings
from sentiment_pipeline.sources.hackernews.text import TEXT_KEYS, hn_text

__all__ = ["SPEC"]

SPEC = SourceSpec(
    name="hackernews",
    settings=HackerNewsSettings,
    text_of=hn_text,
    text_keys=TEXT_KEYS,
    columns=DisplayColumns(
        author=("by", "author"),
        title=("title",),
        text=("text",),
        url=("url",),
        score=("score", "points"),
        parent=("parent", "parent_id"),
        container=None,
    ),
    marks=None,
    target_label="kind",
    refresh=RULES,
)
