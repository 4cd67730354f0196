"""Reddit's text for scoring: what a post or comment says, never a placeholder.

Submissions: `title` + blank line + `selftext`; comments (and any event with a `body`):
`body`. Reddit's deletion and removal placeholders (`[deleted]`, `[removed]`,
`[ Removed by Reddit ]`, …, see `removed.is_placeholder`, which also takes their
variants) are dropped: they say nothing of the author's feeling. The scorer cleans the
text (`sentiment.clean.clean_text`) after this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentiment_pipeline.sources.reddit.removed import is_placeholder

__all__ = ["TEXT_KEYS", "reddit_text"]

TEXT_KEYS = ("title", "selftext", "body")


def _usable(payload: Mapping[str, Any], key: str) -> str:
    """The payload's string at `key`, or '' for none, a non-string or a placeholder."""
    value = payload.get(key)
    if not isinstance(value, str) or not value or is_placeholder(value):
        return ""
    return value


def reddit_text(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The raw text to score of one Reddit event, or None when it has none (see the
    module docstring). A comment, or any event whose `body` is a non-empty string, uses
    `body`; the others `title` and `selftext`."""
    body = payload.get("body")
    if event_type == "comment" or (isinstance(body, str) and body):
        parts = [_usable(payload, "body")]
    else:
        parts = [_usable(payload, "title"), _usable(payload, "selftext")]
    return "\n\n".join(part for part in parts if part) or None
