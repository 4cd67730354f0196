"""Hacker News's entry in the source registry (`sources.source_spec("hackernews")`).

Its settings (`settings.py`), its text for scoring (`text.py`: HN's HTML as plain text,
a story's title and text, a comment's text), its display columns (each tries the
Firebase key, then Algolia's: `by`/`author`, `score`/`points`, `parent`/`parent_id`; the
`text` column as plain text, `text_markup="html"`) and
its metric label: the story kind (`sentpipe_kind_*{kind="ask"}`), which is also the
stored `source_id`. No container: HN has no groups (the kind is the `source_id`
column already). Its marks (`MARKS`) are the scrape's own, one per list and per topic
(`collection_marks` rows of source `hackernews`), read and saved by `scrape.hackernews`.
"""

from __future__ import annotations

from sentiment_pipeline.db.queries import MarkQuery
from sentiment_pipeline.sources import DisplayColumns, SourceSpec
from sentiment_pipeline.sources.hackernews.refresh import RULES
from sentiment_pipeline.sources.hackernews.settings import HackerNewsSettings
from sentiment_pipeline.sources.hackernews.text import TEXT_KEYS, hn_text

__all__ = ["MARKS", "SPEC"]

# a list's or topic's mark: the newest item time of its last completed walk; a comment
# replies to the story its Algolia payload names (`story_id`: the event `hn_<id>`)
MARKS = MarkQuery(
    source="hackernews",
    item_type="story",
    child_type="comment",
    link_key="story_id",
    link_prefix="hn_",
)

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
        text_markup="html",  # the export's text column: sp_html_text, html_to_text's rule
    ),
    marks=MARKS,
    target_label="kind",
    refresh=RULES,
)
