"""Hacker News text: its HTML as plain text, and the text rule of the source.

HN sends a comment's or a text post's `text` as a small HTML dialect: paragraphs are
opened by `<p>` (the first has none), `<i>` for emphasis, `<a href="…">` whose text is
the link itself, `<pre><code>` for code (indented, newlines meaningful), and entities
(`&#x27;`, `&quot;`, `&gt;`, `&#x2F;`, any named or numeric one). `html_to_text` makes
plain text of it for scoring and for display:

- `<p>` (and `</p>`, `<pre>`, `</pre>`) become a blank line, `<br>` a line break;
- a link keeps its text (not its `href`); every other tag is dropped, text kept;
- inside `<pre>` the text is kept as sent (newlines and indentation); elsewhere runs
  of white space become one space;
- entities are decoded once (`&amp;lt;` is the text `&lt;`);
- broken HTML never raises: an unterminated tag at the end (`<a href="x`) is dropped,
  a stray `<` that opens no tag stays text, unclosed tags close themselves.

Titles are plain text on HN (no markup, no entities) and are taken as sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

__all__ = ["PLACEHOLDERS", "TEXT_KEYS", "hn_text", "html_to_text"]

TEXT_KEYS = ("title", "text")
# what HN and its mirrors show instead of a text that is gone: never the author's words
PLACEHOLDERS = frozenset({"[deleted]", "[dead]", "[flagged]", "[removed]"})
_BREAKS = {"p": "\n\n", "pre": "\n\n", "br": "\n", "div": "\n\n", "li": "\n"}
_TAG_START = re.compile(r"<[A-Za-z/!?]")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_LINE_END = re.compile(r"[ \t]+\n")
_GAPS = re.compile(r"\n{3,}")


def _terminated(html: str) -> str:
    """`html` less a comment or a tag it ends inside of (HTMLParser would give that back
    as text); linear in the length whatever the input."""
    end = html.rfind("-->")
    comment = html.find("<!--", end + 3 if end >= 0 else 0)
    if comment >= 0:
        html = html[:comment]
    tag = _TAG_START.search(html, html.rfind(">") + 1)
    return html if tag is None else html[: tag.start()]


class _PlainText(HTMLParser):
    """Collects the text of the fed HTML (`parts`), breaks for block tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pre = 0  # open <pre> elements: their text keeps its white space
        self.line_start = True  # nothing but breaks since the last line break

    def _break(self, tag: str) -> None:
        brk = _BREAKS.get(tag, "")
        if brk:
            if self.parts and not self.pre:
                self.parts[-1] = self.parts[-1].rstrip(" ")
            self.parts.append(brk)
            self.line_start = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)
        if tag == "pre":
            self.pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)  # <br/>, <p/>: no content to track

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in ("p", "pre", "div"):
            self._break(tag)

    def handle_data(self, data: str) -> None:
        if not self.pre:
            data = _SPACES.sub(" ", data)
            if self.line_start or (self.parts and self.parts[-1].endswith(" ")):
                data = data.lstrip(" ")
        if data:
            self.parts.append(data)
            self.line_start = False


def html_to_text(html: str) -> str:
    """The plain text of one HN HTML fragment (see the module docstring); '' for none.
    Never raises on malformed input."""
    if "<" not in html and "&" not in html:
        return _SPACES.sub(" ", html).strip()
    fragment = _terminated(html)
    parser = _PlainText()
    try:
        parser.feed(fragment)
        parser.close()
    except Exception:  # HTMLParser is lenient; a future version's error must not end a run
        return _SPACES.sub(" ", fragment).strip()
    text = _GAPS.sub("\n\n", _LINE_END.sub("\n", "".join(parser.parts)))
    return text.strip("\n").rstrip() if text.strip() else ""


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
