"""What the scorer reads: the text of an event, cleaned of markup but not of feeling.

`event_text` asks the event's source for its text (`sources.source_spec(source).text_of`:
Reddit's rule takes title + selftext of a post, the body of a comment, and never a
removal placeholder; a source no package registers gets the generic rule, the payload's
`text`, else `title` + `body`) and returns None when there is none or nothing is left
once cleaned. `clean_text` removes what only adds noise for a lexicon scorer and keeps
what VADER uses:

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
from dataclasses import dataclass
from typing import Any

from sentiment_pipeline.sources import generic_spec, known_specs, source_spec

__all__ = ["TextPlan", "clean_text", "event_text", "text_plan"]

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


@dataclass(frozen=True)
class TextPlan:
    """What the scorer needs of the registry for one run: the payload keys any source's
    text rule reads (the claim fetches only these), and the sources whose registered
    spec has no text rule (never claimed: `not scorable`)."""

    keys: tuple[str, ...]
    unscorable: tuple[str, ...]


def text_plan() -> TextPlan:
    """The `TextPlan` of every registered source plus the generic rule."""
    specs = known_specs()
    keys: dict[str, None] = dict.fromkeys(generic_spec("").text_keys)
    for spec in specs.values():
        keys.update(dict.fromkeys(spec.text_keys))
    unscorable = tuple(name for name, spec in specs.items() if spec.text_of is None)
    return TextPlan(tuple(keys), unscorable)


def event_text(source: str, event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The cleaned text to score for one event of `source`, or None when there is
    nothing to score: the source's text rule (`sources.source_spec(source).text_of`)
    found none, or nothing is left once cleaned."""
    raw = source_spec(source).text(event_type, payload)
    if not raw:
        return None
    cleaned = clean_text(raw)
    return cleaned or None
