"""The fake's own small stand-in for Reddit's search syntax: words, parser, matcher.

Reddit's search is Lucene-like over a post's title and self-text. This module parses the
subset a client needs and matches it *at least as broadly* as a case-insensitive
whole-word match, so a client that re-checks results with a strict whole-word matcher
never misses an item because the fake was narrower:

- **Words.** A text is case-folded and split into runs of letters and digits
  (``[^\\W_]+``): every other character, underscore and apostrophe included, separates
  words, so ``Tesla's``, ``(tesla)``, ``e-tesla`` and ``tesla_fan`` all contain the word
  ``tesla``.
- **Forms.** A query word ``w`` matches the text words ``w``, ``ws`` and ``wes``, and,
  when ``w`` has 4 or more characters and ends in ``s``, ``w`` without that ``s`` (a
  crude plural rule; Reddit stems more cleverly, and more broadly in places).
- **Grammar.** Terms are implicitly ANDed; ``AND``, ``OR`` and ``NOT`` (upper case only;
  precedence NOT > AND > OR), a leading ``-`` (NOT) or ``+`` (nothing), parentheses,
  ``"quoted phrases"``, and the fields ``title:`` and ``selftext:`` before a word, a
  phrase or a parenthesised group. Reddit's other fields (``author:``, ``subreddit:``,
  ``flair:``, ``site:``, ``url:``, ``self:``, ``nsfw:``, ...) are accepted and their
  clause dropped: the fake does not filter on them, which is broader, not narrower. A
  bare word that splits into several words (``tesla.com``, ``model-3``, ``foo:bar``) is
  a phrase, as Lucene's analyser makes it; one that splits into none (``&``) is dropped.
- **Unparseable** queries (an unclosed quote or parenthesis, an operator with nothing
  on one side, empty parentheses, nothing to search for) parse to ``None``.

Nothing here imports from outside ``fake_reddit``: the fake is an independent stand-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

FIELDS = ("title", "selftext")
_WORD = re.compile(r"[^\W_]+")
_LEX = re.compile(
    r"""\s*(?:
        (?P<open>\() | (?P<close>\)) | (?P<phrase>"[^"]*") | (?P<unclosed>")
        | (?P<sign>[-+])(?=[^\s\-+]) | (?P<word>[^\s()"]+)
    )""",
    re.VERBOSE,
)
_FIELD = re.compile(r"(?i)([a-z_]+):(.*)\Z", re.DOTALL)
# Reddit's other search fields: the fake does not filter on them, so such a clause is
# dropped (matches everything), which keeps the fake at least as broad as Reddit.
_IGNORED_FIELDS = frozenset(
    {"author", "subreddit", "flair", "flair_name", "flair_text", "site", "url", "self"}
    | {"nsfw", "spoiler", "timestamp"}
)
_OPERATORS = frozenset({"AND", "OR", "NOT"})


def words(text: str) -> list[str]:
    """The words of ``text``: case-folded runs of letters and digits, in order."""
    return _WORD.findall(text.casefold())


@lru_cache(maxsize=4096)
def forms(word: str) -> frozenset[str]:
    """The text words a query word matches: itself, a plural, or its singular."""
    out = {word, word + "s", word + "es"}
    if len(word) >= 4 and word.endswith("s"):
        out.add(word[:-1])
    return frozenset(out)


def has_phrase(phrase: tuple[str, ...], text_words: list[str]) -> bool:
    """Whether ``text_words`` holds the query words ``phrase`` consecutively (each word
    in any of its ``forms``)."""
    if not phrase:
        return False
    allowed = [forms(w) for w in phrase]
    first, span = allowed[0], len(allowed)
    for start in range(len(text_words) - span + 1):
        if text_words[start] in first and all(
            text_words[start + k] in allowed[k] for k in range(1, span)
        ):
            return True
    return False


@dataclass(frozen=True)
class Text:
    """One word (``words`` of length 1) or a phrase, in one field or (None) in both."""

    words: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True)
class Not:
    """Items that do not match ``child``."""

    child: Node


@dataclass(frozen=True)
class And:
    """Items that match every child."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Items that match any child."""

    children: tuple[Node, ...]


Node = Text | Not | And | Or


class Unparseable(ValueError):
    """The query cannot be parsed (Reddit answers such queries with nothing)."""


def _lex(q: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens; kinds: open, close, phrase, sign, word, op."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(q):
        found = _LEX.match(q, pos)
        if found is None or found.end() == pos:  # only trailing blanks are left
            break
        pos = found.end()
        kind = found.lastgroup
        if kind is None:
            break
        if kind == "unclosed":
            raise Unparseable("unclosed quote")
        text = found.group(kind)
        tokens.append(("op" if kind == "word" and text in _OPERATORS else kind, text))
    return tokens


def _with_field(node: Node, field: str) -> Node:
    """``node`` with ``field`` set on every Text that names none."""
    if isinstance(node, Text):
        return node if node.field else Text(node.words, field)
    if isinstance(node, Not):
        return Not(_with_field(node.child, field))
    return type(node)(tuple(_with_field(child, field) for child in node.children))


def _join(kind: type[And] | type[Or], parts: list[Node | None]) -> Node | None:
    """Combine parts, dropping those that hold nothing to search for."""
    kept = tuple(p for p in parts if p is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kind(kept)


def _text(raw: str) -> Text | None:
    """A bare word or a phrase's content: one word, a phrase, or nothing."""
    found = tuple(words(raw))
    return Text(found) if found else None


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary (AND? unary)*;
    unary := (NOT | - | +) unary | primary; primary := ( or ) | phrase | word."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise Unparseable("unexpected end")
        self.pos += 1
        return token

    def parse(self) -> Node | None:
        node = self.or_expr()
        if self.peek() is not None:
            raise Unparseable(f"unexpected {self.peek()}")
        return node

    def or_expr(self) -> Node | None:
        parts = [self.and_expr()]
        while self.peek() == ("op", "OR"):
            self.take()
            parts.append(self.and_expr())
        return _join(Or, parts)

    def and_expr(self) -> Node | None:
        parts = [self.unary()]
        while (token := self.peek()) is not None and token not in {("close", ")"), ("op", "OR")}:
            if token == ("op", "AND"):
                self.take()
            parts.append(self.unary())
        return _join(And, parts)

    def unary(self) -> Node | None:
        kind, text = self.take()
        if (kind, text) in {("op", "NOT"), ("sign", "-")}:
            child = self.unary()
            return None if child is None else Not(child)
        if kind == "sign":  # "+": required, as every implicit AND term already is
            return self.unary()
        return self.primary(kind, text)

    def primary(self, kind: str, text: str) -> Node | None:
        if kind == "open":
            node = self.or_expr()
            if self.take()[0] != "close":
                raise Unparseable("unclosed parenthesis")
            return node
        if kind == "phrase":
            return _text(text[1:-1])
        if kind != "word":
            raise Unparseable(f"unexpected {text!r}")
        field = _FIELD.match(text)
        name = field.group(1).lower() if field else ""
        if field is None or name not in {*FIELDS, *_IGNORED_FIELDS}:
            return _text(text)
        rest = field.group(2)
        if not rest:
            next_kind, next_text = self.take()
            if next_kind not in {"open", "phrase", "word"}:
                raise Unparseable(f"nothing after {text!r}")
            clause = self.primary(next_kind, next_text)
        else:
            clause = _text(rest)
        if clause is None or name in _IGNORED_FIELDS:
            return None
        return _with_field(clause, name)


def parse(q: str) -> Node | None:
    """The query tree of ``q``, or None when it is unparseable or searches for nothing."""
    try:
        return _Parser(_lex(q)).parse()
    except Unparseable:
        return None


def positives(node: Node, negated: bool = False) -> list[Text]:
    """The Texts an item should contain (not under a NOT), for relevance ranking."""
    if isinstance(node, Text):
        return [] if negated else [node]
    if isinstance(node, Not):
        return positives(node.child, not negated)
    return [t for child in node.children for t in positives(child, negated)]
