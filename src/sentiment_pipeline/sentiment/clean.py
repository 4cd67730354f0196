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
- typographic apostrophes and quotes become ASCII `'` and `"` (`QUOTES`, below): VADER's
  negation list and punctuation stripping know only the ASCII ones, so `I don’t like
  it` (what phone keyboards type) would score like `I do like it`;
- case, punctuation, emoji and emoticons are kept, and runs of blanks become one space.

`CLEANING_VERSION` numbers what this module does to a text; it is part of a scorer's
model id (`vader-3.3.2+clean2`), so scores of a text cleaned differently never share an
id. 1 (ids without `+clean`): markup only. 2: markup, then `QUOTES`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sentiment_pipeline.sources import generic_spec, known_specs, source_spec

__all__ = ["CLEANING_VERSION", "QUOTES", "TextPlan", "clean_text", "event_text", "text_plan"]

CLEANING_VERSION = 2  # bump whenever clean_text changes the text of some input

# Typed instead of ASCII ' and " by phone keyboards, word processors ("smart quotes"),
# European keyboards (´) and fonts/OCR (primes). Guillemets and CJK brackets are left
# alone: VADER reads no meaning into them either way.
APOSTROPHES = (
    "\u2019"  # ’ RIGHT SINGLE QUOTATION MARK (iOS/Android/macOS/Word apostrophe)
    "\u2018"  # ‘ LEFT SINGLE QUOTATION MARK
    "\u201a"  # ‚ SINGLE LOW-9 QUOTATION MARK (German opening single quote)
    "\u201b"  # ‛ SINGLE HIGH-REVERSED-9 QUOTATION MARK
    "\u02bc"  # ʼ MODIFIER LETTER APOSTROPHE
    "\u2032"  # ′ PRIME
    "\u00b4"  # ´ ACUTE ACCENT (the apostrophe key of German/Nordic layouts)
    "\uff07"  # ＇ FULLWIDTH APOSTROPHE
)
DOUBLE_QUOTES = (
    "\u201c"  # “ LEFT DOUBLE QUOTATION MARK
    "\u201d"  # ” RIGHT DOUBLE QUOTATION MARK
    "\u201e"  # „ DOUBLE LOW-9 QUOTATION MARK
    "\u201f"  # ‟ DOUBLE HIGH-REVERSED-9 QUOTATION MARK
    "\u2033"  # ″ DOUBLE PRIME
    "\uff02"  # ＂ FULLWIDTH QUOTATION MARK
)
QUOTES: dict[int, str] = {ord(c): "'" for c in APOSTROPHES} | {ord(c): '"' for c in DOUBLE_QUOTES}

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
    if not text.isascii():  # after the markup rules, so they match as they always did
        text = text.translate(QUOTES)
    # = _BLANKS.sub(" ", text).strip() (`\s` and str.split's blanks are both
    # str.isspace), 4x faster on a long text
    return " ".join(text.split())


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
