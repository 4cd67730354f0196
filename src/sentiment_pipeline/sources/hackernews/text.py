"""Hacker News text: its HTML as plain text, and the text rule of the source.

HN sends a comment's or a text post's `text` as a small HTML dialect: paragraphs are
opened by `<p>` (the first has none), `<i>` for emphasis, `<a href="…">` whose text is
the link itself, `<pre><code>` for code (indented, newlines meaningful), and entities
(`&#x27;`, `&quot;`, `&gt;`, `&#x2F;`). `html_to_text` makes plain text of it, for
scoring and for the export's `text` column; the export runs the same rule in SQL
(`sp_html_text`, migration 0006 on PostgreSQL, this function registered on SQLite), so
the rule is one that both can state exactly (docs/hackernews.md, "HTML as text"):

1. A tag is `<` followed by a letter, `/`, `!` or `?`, up to the first `>` (comments
   and declarations are tags too). A tag with no `>` after it drops the rest of the
   input; a `<` that opens no tag is text.
2. A tag's name is the letters and digits after `<` or `</`, lower-cased. `<p>`,
   `</p>`, `<pre>`, `</pre>`, `<div>`, `</div>` are a blank line, `<br>` and `<li>` a
   line break (`<br/>` too); every other tag is dropped, its text kept (a link keeps
   its text, not its `href`).
3. Entities with their `;` are decoded once (`&amp;lt;` is the text `&lt;`): the
   HTML 4 names (`html.entities.name2codepoint`) and `&apos;`, and every `&#NNN;` and
   `&#xHH;` (0, a surrogate or beyond U+10FFFF is U+FFFD); any other `&` stays.
4. Inside `<pre>` (until its `</pre>`) text is kept as sent; elsewhere runs of ASCII
   white space become one space, dropped at the start of a line or after a space.
5. Spaces and tabs before a line end go, three or more line ends become two, line
   ends at either end and white space at the end go; only white space is ''.

Titles are plain text on HN (no markup, no entities) and are taken as sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html.entities import name2codepoint
from typing import Any

__all__ = ["ENTITIES", "PLACEHOLDERS", "TEXT_KEYS", "hn_text", "html_to_text"]

TEXT_KEYS = ("title", "text")
# what HN and its mirrors show instead of a text that is gone: never the author's words
PLACEHOLDERS = frozenset({"[deleted]", "[dead]", "[flagged]", "[removed]"})
# the named entities decoded (rule 3): HTML 4's and `apos`; migration 0006 holds a copy
ENTITIES: dict[str, int] = {**name2codepoint, "apos": 39}
_BREAKS = {"p": "\n\n", "pre": "\n\n", "div": "\n\n", "br": "\n", "li": "\n"}
_END_BREAKS = frozenset({"p", "pre", "div"})
_WS = " \t\n\r\f\v"  # ASCII white space: the only white space the rule touches
_TAG = re.compile(r"<([A-Za-z/!?][^>]*)>")
_TAG_START = re.compile(r"<[A-Za-z/!?]")
_NAME = re.compile(r"/?([A-Za-z][A-Za-z0-9]*)")
_ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_LINE_END = re.compile(r"[ \t]+\n")
_GAPS = re.compile(r"\n{3,}")


def _terminated(html: str) -> str:
    """`html` less a tag it ends inside of (rule 1): from the first tag start after the
    last `>`. Linear in the length whatever the input."""
    tag = _TAG_START.search(html, html.rfind(">") + 1)
    return html if tag is None else html[: tag.start()]


def _entity(match: re.Match[str]) -> str:
    """One entity's character (rule 3), or the entity itself for an unknown name."""
    ref = match.group(1)
    if not ref.startswith("#"):
        point = ENTITIES.get(ref)
        return match.group(0) if point is None else chr(point)
    number = int(ref[2:], 16) if ref[1:2] in ("x", "X") else int(ref[1:])
    if number == 0 or 0xD800 <= number <= 0xDFFF or number > 0x10FFFF:
        return "\ufffd"
    return chr(number)


def _tag(tag: str, pre: int) -> tuple[str, int]:
    """The break a tag's inside (between `<` and `>`) makes, and the open `<pre>`
    count after it (rules 2 and 4)."""
    named = _NAME.match(tag)
    if named is None:  # <!-- … -->, <!DOCTYPE …>, <?…>, </ p>
        return "", pre
    name = named.group(1).lower()
    if tag.startswith("/"):
        if name == "pre":
            pre = max(0, pre - 1)
        return (_BREAKS[name] if name in _END_BREAKS else ""), pre
    if name == "pre" and not tag.endswith("/"):
        return _BREAKS[name], pre + 1
    return _BREAKS.get(name, ""), pre


def html_to_text(html: str) -> str:
    """The plain text of one HN HTML fragment (the module docstring's rule); '' for
    none. Never raises on malformed input."""
    if "<" not in html and "&" not in html:
        return _SPACES.sub(" ", html).strip(_WS)
    html = _terminated(html)
    texts = _TAG.split(html)  # text, tag inside, text, …, text
    parts: list[str] = []
    pre = 0  # open <pre> elements: their text keeps its white space
    line_start = True  # nothing but breaks since the last line break
    for index, piece in enumerate(texts):
        if index % 2:
            brk, pre = _tag(piece, pre)
            if brk:
                parts.append(brk)
                line_start = True
            continue
        data = _ENTITY.sub(_entity, piece) if "&" in piece else piece
        if not pre:
            data = _SPACES.sub(" ", data)
            if line_start or (parts and parts[-1].endswith(" ")):
                data = data.lstrip(" ")
        if data:
            parts.append(data)
            line_start = False
    text = _GAPS.sub("\n\n", _LINE_END.sub("\n", "".join(parts)))
    return text.strip("\n").rstrip(_WS) if text.strip(_WS) else ""


def _usable(payload: Mapping[str, Any], key: str, markup: bool) -> str:
    """The payload's string at `key` as plain text, or '' (none, not a string, or a
    deletion placeholder)."""
    value = payload.get(key)
    if not isinstance(value, str) or value.strip() in PLACEHOLDERS:
        return ""
    text = html_to_text(value) if markup else value.strip()
    return "" if text in PLACEHOLDERS else text


def hn_text(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The text to score of one HN event, or None when it has none: a comment's (or a
    poll option's) `text`; a story's, job's or poll's `title`, a blank line and its
    `text`. Deleted items carry no text (the Firebase API drops it, Algolia sends null)
    and placeholders (`[deleted]`, `[dead]`, `[flagged]`) are no text."""
    if event_type in ("comment", "pollopt"):
        parts = [_usable(payload, "text", markup=True)]
    else:
        parts = [_usable(payload, "title", markup=False), _usable(payload, "text", markup=True)]
    return "\n\n".join(part for part in parts if part) or None
