"""What the scorer reads: the text of an event, cleaned of markup but not of feeling.

`event_text` picks the text (submissions: title + selftext; comments: body) and returns
None for what cannot carry sentiment: empty text, and Reddit's removal and deletion
placeholders (`[deleted]`, `[removed]`, `[ Removed by Reddit ]`, …; every one is known
to `sources.reddit.removed.is_placeholder`, which also takes their variants). `clean_text`
removes what only adds noise for a lexicon scorer and keeps what VADER uses:

- HTML entities are unescaped (`&amp;` → `&`, `&gt;` → `>`), NUL characters dropped;
- fenced (```) and indented (4 spaces / tab) code blocks are removed;
- quoted lines (starting with `>`) are removed: they are someone else's words;
- markdown links `[text](url)` become `text`; bare URLs are removed;
- case, punctuation, emoji and emoticons are kept, and runs of blanks become one space.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from sentiment_pipeline.sources.reddit.removed import is_placeholder

__all__ = ["clean_text", "event_text"]

_FENCE = re.compile(r"^[ \t]*(```|~~~).*?(^[ \t]*\1[^\n]*$|\Z)", re.M | re.S)
_INDENTED = re.compile(r"^(?: {4}|\t)[^\n]*$", re.M)
_QUOTE = re.compile(r"^[ \t]*>[^\n]*$", re.M)
_LINK = re.compile(r"!?\[([^\]\n]{0,2000})\]\([^)\s]{0,2000}(?:\s+\"[^\"\n]{0,500}\")?\)")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,!?;:'\"]", re.I)
_INLINE_CODE = re.compile(r"`[^`\n]{0,2000}`")
_BLANKS = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """The text as the scorer sees it (see the module docstring); may return ''."""
    text = html.unescape(text.replace("\x00", ""))
    if "```" in text or "~~~" in text:
        text = _FENCE.sub(" ", text)
    if "    " in text or "\t" in text:
        text = _INDENTED.sub(" ", text)
    if ">" in text:
        text = _QUOTE.sub(" ", text)
    if "`" in text:
        text = _INLINE_CODE.sub(" ", text)
    if "](" in text:
        text = _LINK.sub(r"\1", text)
    if "http" in text or "www." in text or "HTTP" in text or "WWW." in text:
        text = _URL.sub(" ", text)
    return _BLANKS.sub(" ", text).strip()


def _field(payload: Mapping[str, Any] | None, key: str) -> str:
    value = None if payload is None else payload.get(key)
    return value if isinstance(value, str) else ""


def _usable(text: str | None) -> str:
    """The text, or '' for none or a placeholder (never scored: it says nothing of
    the author's feeling)."""
    if not text or is_placeholder(text):
        return ""
    return text


def event_text(
    event_type: str, title: str | None, selftext: str | None, body: str | None
) -> str | None:
    """The cleaned text to score for one event, or None when there is nothing to score.

    Submissions use `title` + blank line + `selftext`; comments (and any other type) use
    `body`, falling back to title/selftext when a source has no body.
    """
    if event_type == "comment" or body:
        parts = [_usable(body)]
    else:
        parts = [_usable(title), _usable(selftext)]
    raw = "\n\n".join(part for part in parts if part)
    if not raw:
        return None
    cleaned = clean_text(raw)
    return cleaned or None


def payload_text(event_type: str, payload: Mapping[str, Any] | None) -> str | None:
    """`event_text` for a payload dict (for callers that hold the whole payload)."""
    return event_text(
        event_type, _field(payload, "title"), _field(payload, "selftext"), _field(payload, "body")
    )
