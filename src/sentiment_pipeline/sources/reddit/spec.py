"""Reddit's entry in the source registry (`sources.source_spec("reddit")`).

Its settings (`settings.py`), its text for scoring (`text.py`), the payload keys of its
display columns (the export's `text` is `selftext`, else `body`; its `permalink` the
item's own link; its container the `subreddit`), its high-water-mark query (the newest
`submission` per subreddit, and the comments held per post through `link_id`) and its
metric label (`sentpipe_subreddit_*{subreddit="…"}`).
"""

from __future__ import annotations

from sentiment_pipeline.db.queries import MarkQuery
from sentiment_pipeline.sources import DisplayColumns, SourceSpec
from sentiment_pipeline.sources.reddit.refresh import RULES
from sentiment_pipeline.sources.reddit.settings import RedditSettings
from sentiment_pipeline.sources.reddit.text import TEXT_KEYS, reddit_text

__all__ = ["MARKS", "SPEC"]

# the newest submission per subreddit; comments counted per post through `link_id`
MARKS = MarkQuery(source="reddit", item_type="submission", child_type="comment", link_key="link_id")

SPEC = SourceSpec(
    name="reddit",
    settings=RedditSettings,
    text_of=reddit_text,
    text_keys=TEXT_KEYS,
    columns=DisplayColumns(
        author=("author",),
        title=("title",),
        text=("selftext", "body"),
        url=("permalink",),
        score=("score",),
        parent=("parent_id",),
        container="subreddit",
    ),
    marks=MARKS,
    target_label="subreddit",
    refresh=RULES,
)
