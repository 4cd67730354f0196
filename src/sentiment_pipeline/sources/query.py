"""The topic query language: words, "phrases", AND/OR/NOT, parentheses, title:/text:.

Grammar (NOT binds tightest, then AND, then OR; terms side by side mean AND):

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*
    unary   := "NOT" unary | primary
    primary := "(" or ")" | FIELD primary | WORD | '"' PHRASE '"'
    FIELD   := "title:" | "text:"        (what it applies to follows without a space)

Only upper-case AND, OR, NOT are operators: `and`, `or`, `not` are words. A field
before a group applies to every term in it (`title:(a OR b)` is `title:a OR title:b`).

Matching (docs/topics.md has the user's version): texts and terms are case-folded
(`str.casefold`, then NFC) and cut into words. A word is a run of letters, digits and
connector punctuation (Unicode categories L*, N*, Pc, so `_` too) with the combining
marks (M*) inside or after it; in scripts written without spaces between words (Han,
kana, Hangul, Thai, Lao, Khmer, Myanmar) every letter is a word of its own. Everything
else separates words. A term matches when its words occur as consecutive words of the
text: `tesla` matches "Tesla's", "#tesla", "(tesla)", not "teslas" or "TeslaCoil";
`"model 3"` and `model-3` both match "Model-3" and "model 3". A post's title and text
are searched separately (a phrase never spans the two); a comment has only text.

Speed: a `Matcher` compiles its query once. `literals` (case-folded words, at least one
of which is a substring of any text the query matches; None when the query can match
without any, as `NOT x`) rejects most texts with a few substring tests; the rest are
cut into words by one compiled regex and joined with spaces, so that each term is one
substring test (" model 3 " in " i love my model 3 ") in a tree of closures.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Literal, NamedTuple, TypeAlias

from sentiment_pipeline.errors import ConfigError

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "And",
    "Field",
    "Matcher",
    "Node",
    "Not",
    "Or",
    "Query",
    "Term",
    "broaden",
    "fold",
    "parse",
    "render",
    "words",
]

Field: TypeAlias = Literal["title", "text"]
FIELDS: tuple[Field, ...] = ("title", "text")
_FIELD_NAMES: dict[str, Field] = {name: name for name in FIELDS}
OPERATORS = frozenset({"AND", "OR", "NOT"})

# Parentheses and NOTs nested deeper than this are a configuration error, not a
# RecursionError: no real topic comes close.
MAX_DEPTH = 64

# Scripts written without spaces between words (code point ranges; only their letters,
# marks and digits count): each character is a word of its own, so that a term matches
# as a run of characters anywhere (特斯拉 in 我喜欢特斯拉汽车, 테슬라 in 테슬라는).
_UNSPACED: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3021, 0x303B),  # Hangzhou numerals, kana repeat marks
    (0x3040, 0x31FF),  # Hiragana, Katakana, Bopomofo, Hangul compatibility jamo
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul jamo extended-A
    (0xAC00, 0xD7FF),  # Hangul syllables, jamo extended-B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFFDC),  # half-width Katakana and Hangul
    (0x1B000, 0x1B16F),  # kana supplement and extended-A
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)
# Where assigned characters are: planes 4-13 are unassigned and 15-16 private use.
_ASSIGNED = ((0, 0x40000), (0xE0000, 0xE1000))


# --- words ------------------------------------------------------------------------------


def fold(text: str) -> str:
    """`text` case-folded for matching: `str.casefold` ("Straße" -> "strasse"), then NFC,
    so that precomposed and combining accents compare equal. ASCII takes a fast path."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", text.casefold())


def _ranges(points: Iterable[int]) -> str:
    """Sorted code points as the inside of a regex character class (`a-zà-ö…`)."""
    out: list[str] = []
    start = prev = -2
    for cp in points:
        if cp != prev + 1:
            if start >= 0:
                out.append(f"\\U{start:08x}-\\U{prev:08x}")
            start = cp
        prev = cp
    if start >= 0:
        out.append(f"\\U{start:08x}-\\U{prev:08x}")
    return "".join(out)


def _segments() -> Iterator[tuple[range, bool]]:
    """The assigned code points in runs, each with whether it is in an unspaced script."""
    for lo, hi in _ASSIGNED:
        cp = lo
        for u_lo, u_hi in _UNSPACED:
            if u_hi < cp or u_lo >= hi:
                continue
            if cp < u_lo:
                yield range(cp, u_lo), False
            cp = min(u_hi + 1, hi)
            yield range(max(u_lo, lo), cp), True
        if cp < hi:
            yield range(cp, hi), False


_ASTRAL = "\\U00010000-\\U0010ffff"  # beyond the Basic Multilingual Plane (BMP)
_has_astral = re.compile(f"[{_ASTRAL}]").search


@cache
def _word_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The regexes of one word (module docstring), for text within the BMP and for any
    text, built once from the Unicode database (~0.1 s): a letter, digit or connector
    followed by letters, digits, connectors and marks, or an unspaced-script character
    alone. `re` looks a BMP character up in a bitmap but compares one beyond it with
    each range in turn, so the second regex tries those ranges only after a lookahead
    has seen such a character."""
    single: list[int] = []
    start: list[int] = []
    inner: list[int] = []
    category = unicodedata.category
    for points, unspaced in _segments():
        for cp in points:
            kind = category(chr(cp))
            if kind[0] not in "LMN" and kind != "Pc":
                continue
            if unspaced:
                single.append(cp)
                continue
            inner.append(cp)
            if kind[0] != "M":
                start.append(cp)

    def bmp(points: list[int]) -> str:
        return f"[{_ranges(cp for cp in points if cp <= 0xFFFF)}]"

    def astral(points: list[int]) -> str:
        return f"(?=[{_ASTRAL}])[{_ranges(cp for cp in points if cp > 0xFFFF)}]"

    rest = f"{bmp(inner)}*(?:{astral(inner)}{bmp(inner)}*)*"
    return (
        re.compile(f"{bmp(start)}{bmp(inner)}*|{bmp(single)}"),
        re.compile(f"{bmp(start)}{rest}|{bmp(single)}|{astral(start)}{rest}|{astral(single)}"),
    )


def _split(folded: str) -> list[str]:
    """The words of non-ASCII `folded` text."""
    within_bmp, anywhere = _word_patterns()
    return (anywhere if _has_astral(folded) else within_bmp).findall(folded)


# ASCII text, lower-cased and with every character but a letter, digit or "_" (the
# only ASCII word characters) turned into a space, by one `str.translate`.
_ASCII_WORDS = "".join(
    ch.lower() if ch.isalnum() or ch == "_" else " " for ch in map(chr, range(128))
)


def _spaced(text: str, folded: str) -> str:
    """The words of `text` (`folded` is `fold(text)`), joined and surrounded by single
    spaces: " i love my model 3 " ("  " for none)."""
    if text.isascii():
        return " " + " ".join(text.translate(_ASCII_WORDS).split()) + " "
    return " " + " ".join(_split(folded)) + " "


def words(text: str) -> list[str]:
    """The words of `text` as matching sees them: case-folded, in order."""
    if text.isascii():
        return text.translate(_ASCII_WORDS).split()
    return _split(fold(text))


# --- the syntax tree --------------------------------------------------------------------

_FIELD_PREFIX = re.compile(r"([A-Za-z]+):")


def _bare_problem(text: str) -> str | None:
    """Why `text` cannot be written as a bare (unquoted) word, or None if it can."""
    if not text or any(ch.isspace() or ch in '()"' for ch in text):
        return "has spaces, parentheses or quotes"
    if text in OPERATORS:
        return "is an operator"
    if text[0] in "-+":
        return 'starts with "-" or "+"'
    if _FIELD_PREFIX.match(text):
        return "starts like a field prefix"
    return None


@dataclass(frozen=True, slots=True)
class Term:
    """A word or a "phrase" (`text` as written, without quotes), optionally in one field
    (`title` or `text`; None: either). `words` is what is matched (see `words`)."""

    text: str
    phrase: bool = False
    field: Field | None = None
    words: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        found = tuple(words(self.text))
        if not found:
            raise ValueError(f"term {self.text!r} has no letters or digits")
        if self.field is not None and self.field not in FIELDS:
            raise ValueError(f"unknown field {self.field!r}")
        if self.phrase:
            if '"' in self.text or " ".join(self.text.split()) != self.text:
                raise ValueError(f"phrase {self.text!r} has a quote or uneven spaces")
        elif (problem := _bare_problem(self.text)) is not None:
            raise ValueError(f"word {self.text!r} {problem}")
        object.__setattr__(self, "words", found)


@dataclass(frozen=True, slots=True)
class Not:
    """Matches where `operand` does not."""

    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    """Matches where every operand (two or more) does."""

    operands: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.operands) < 2:
            raise ValueError("And needs two or more operands")


@dataclass(frozen=True, slots=True)
class Or:
    """Matches where any operand (two or more) does."""

    operands: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.operands) < 2:
            raise ValueError("Or needs two or more operands")


Node: TypeAlias = Term | Not | And | Or


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: the root of its tree. `str(query)` is its canonical text."""

    root: Node

    def terms(self) -> Iterator[Term]:
        """Every term, left to right (repeats included)."""
        return _terms(self.root)

    def __str__(self) -> str:
        return render(self)


def _terms(node: Node) -> Iterator[Term]:
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from _terms(node.operand)
    else:
        for operand in node.operands:
            yield from _terms(operand)


# --- rendering --------------------------------------------------------------------------


def render(query: Query) -> str:
    """The canonical text of `query`: explicit AND, parentheses only where the tree needs
    them. `parse(render(q)) == q` for every `Query` q."""
    return _render(query.root)


def _render(node: Node) -> str:
    if isinstance(node, Term):
        prefix = f"{node.field}:" if node.field else ""
        return prefix + (f'"{node.text}"' if node.phrase else node.text)
    if isinstance(node, Not):
        return "NOT " + _child(node.operand, (And, Or))
    if isinstance(node, And):
        return " AND ".join(_child(operand, (And, Or)) for operand in node.operands)
    return " OR ".join(_child(operand, (Or,)) for operand in node.operands)


def _child(node: Node, grouped: tuple[type, ...]) -> str:
    """`node` rendered as an operand, in parentheses when it is one of `grouped`."""
    text = _render(node)
    return f"({text})" if isinstance(node, grouped) else text


# --- parsing ----------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # "WORD", "PHRASE", "FIELD", "AND", "OR", "NOT", "(", ")", "END"
    text: str
    pos: int  # index in the query text (0-based; messages say pos + 1)


_STARTS = frozenset({"WORD", "PHRASE", "FIELD", "NOT", "("})


class _Lexer:
    """The query text -> tokens; raises ConfigError for a malformed word or phrase."""

    def __init__(self, source: str, fail: Callable[[str, str], ConfigError]) -> None:
        self.source = source
        self.fail = fail
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        source, i = self.source, 0
        while i < len(source):
            ch = source[i]
            if ch.isspace():
                i += 1
            elif ch in "()":
                self.tokens.append(_Token(ch, ch, i))
                i += 1
            elif ch == '"':
                i = self._phrase(i)
            else:
                end = i
                while end < len(source) and not (source[end].isspace() or source[end] in '()"'):
                    end += 1
                self._bare(source[i:end], i)
                i = end
        self.tokens.append(_Token("END", "", len(source)))
        return self.tokens

    def _phrase(self, start: int) -> int:
        end = self.source.find('"', start + 1)
        at = f"at position {start + 1}"
        if end < 0:
            raise self.fail(f"unterminated quote {at}", 'close the phrase with a second "')
        text = " ".join(self.source[start + 1 : end].split())
        if not text:
            raise self.fail(f"empty phrase {at}", "put words between the quotes, or remove them")
        if not words(text):
            raise self.fail(
                f'phrase "{text}" {at} has no letters or digits',
                "only letters and digits are matched: put words in the phrase, or remove it",
            )
        self.tokens.append(_Token("PHRASE", text, start))
        return end + 1

    def _bare(self, text: str, pos: int) -> None:
        at = f"at position {pos + 1}"
        prefix = _FIELD_PREFIX.match(text)
        if prefix:
            self._field(text, pos, prefix)
        elif text in OPERATORS:
            self.tokens.append(_Token(text, text, pos))
        elif text[0] in "-+":
            raise self.fail(
                f'"{text}" {at} starts with "{text[0]}", which is not an operator',
                f'write NOT before a term to exclude it, or quote it ("{text}") to match its words',
            )
        elif not words(text):
            raise self.fail(
                f'"{text}" {at} has no letters or digits',
                "only letters and digits are matched: remove it (the operators are AND, "
                "OR and NOT, in upper case)",
            )
        else:
            self.tokens.append(_Token("WORD", text, pos))

    def _field(self, text: str, pos: int, prefix: re.Match[str]) -> None:
        name = prefix.group(1).lower()
        if name not in _FIELD_NAMES:
            raise self.fail(
                f'unknown field "{prefix.group(0)}" at position {pos + 1}',
                f'the fields are title: and text:; to match "{text}" as words, put it in quotes',
            )
        self.tokens.append(_Token("FIELD", name, pos))
        rest, after = text[prefix.end() :], pos + prefix.end()
        if rest:
            self._bare(rest, after)
        elif self.source[after : after + 1] not in ("(", '"'):
            raise self.fail(
                f'"{prefix.group(0)}" at position {pos + 1} has no word, phrase or group '
                "right after it",
                f"write what to match right after the colon, without a space: {name}:tesla, "
                f'{name}:"model 3" or {name}:(tesla OR ford)',
            )


class _Parser:
    """Tokens -> tree, by recursive descent (module docstring's grammar)."""

    def __init__(self, tokens: list[_Token], fail: Callable[[str, str], ConfigError]) -> None:
        self.tokens = tokens
        self.fail = fail
        self.i = 0
        self.depth = 0

    def run(self) -> Node:
        if self.tokens[0].kind == "END":
            raise self.fail(
                "empty query: no word or phrase at position 1",
                'write at least one word or "phrase", e.g. tesla OR "model 3"',
            )
        node = self._or(None)
        extra = self.tokens[self.i]
        if extra.kind != "END":  # _or stops only at the end or at an unopened ")"
            raise self.fail(
                f'unexpected ")" at position {extra.pos + 1}',
                'remove it, or add the "(" it closes',
            )
        return node

    def _peek(self) -> _Token:
        return self.tokens[self.i]

    def _next(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def _or(self, field: Field | None) -> Node:
        items = [self._and(field)]
        while self._peek().kind == "OR":
            self._next()
            items.append(self._and(field))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self, field: Field | None) -> Node:
        items = [self._unary(field)]
        while True:
            kind = self._peek().kind
            if kind == "AND":
                self._next()
            elif kind not in _STARTS:
                break
            items.append(self._unary(field))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _unary(self, field: Field | None) -> Node:
        if self._peek().kind != "NOT":
            return self._primary(field)
        self._deeper(self._next())
        node = Not(self._unary(field))
        self.depth -= 1
        return node

    def _primary(self, field: Field | None) -> Node:
        token = self._next()
        if token.kind in ("WORD", "PHRASE"):
            return Term(token.text, phrase=token.kind == "PHRASE", field=field)
        if token.kind == "FIELD":
            if field is not None:
                raise self.fail(
                    f'field "{token.text}:" at position {token.pos + 1} is inside "{field}:"',
                    "give each term one field: take the inner one out of the group",
                )
            return self._primary(_FIELD_NAMES[token.text])
        if token.kind == "(":
            return self._group(token, field)
        raise self._missing(token)

    def _group(self, opening: _Token, field: Field | None) -> Node:
        at = f"at position {opening.pos + 1}"
        if self._peek().kind == ")":
            raise self.fail(f"empty parentheses {at}", "put terms inside them, or remove them")
        self._deeper(opening)
        node = self._or(field)
        self.depth -= 1
        if self._next().kind != ")":  # _or stops only at ")" or at the end
            raise self.fail(f'unclosed "(" {at}', 'add the ")" that closes it')
        return node

    def _deeper(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(
                f'"{token.text}" at position {token.pos + 1} is nested more than {MAX_DEPTH} deep',
                "simplify the query",
            )

    def _missing(self, token: _Token) -> ConfigError:
        """The error for `token` where a term should be (it is END, ")", AND or OR)."""
        before = self.tokens[self.i - 2] if self.i >= 2 else None
        if before is not None and before.kind in OPERATORS:
            example = (
                'tesla NOT "nikola tesla"' if before.kind == "NOT" else f"tesla {before.kind} ford"
            )
            return self.fail(
                f'"{before.text}" at position {before.pos + 1} has nothing after it',
                f"put a word, phrase or group after it (e.g. {example}), or remove it",
            )
        if before is not None and before.kind == "FIELD":
            return self.fail(
                f'"{before.text}:" at position {before.pos + 1} has no word, phrase or group '
                "after it",
                f"write what to match right after the colon: {before.text}:tesla",
            )
        if token.kind in ("AND", "OR"):
            return self.fail(
                f'"{token.text}" at position {token.pos + 1} has nothing before it',
                "put a word, phrase or group before it, or remove it",
            )
        if token.kind == ")":
            return self.fail(
                f'unexpected ")" at position {token.pos + 1}',
                'remove it, or add the "(" it closes',
            )
        assert before is not None and before.kind == "("  # END right after "("
        return self.fail(f'unclosed "(" at position {before.pos + 1}', 'add the ")" that closes it')


def parse(text: str, *, topic: str = "") -> Query:
    """`text` as a `Query`. A malformed query raises `ConfigError` whose reason names the
    topic (when given) and the position (counted in characters from 1), and whose hint
    says how to fix it."""

    def fail(reason: str, hint: str) -> ConfigError:
        return ConfigError(f'topic "{topic}": {reason}' if topic else reason, hint)

    tokens = _Lexer(text, fail).run()
    return Query(_Parser(tokens, fail).run())


# --- matching ---------------------------------------------------------------------------

# A compiled (sub)query: (title's words, text's words) -> match. Each argument is the
# words joined and surrounded by single spaces (" i love my model 3 "); "" for none.
_Test: TypeAlias = Callable[[str, str], bool]


class Matcher:
    """One query compiled for matching many texts (module docstring: "Speed").

    `literals`: case-folded words, one of which occurs in (the title or text of) every
    matching event; None when the query can match without any (`NOT x`)."""

    __slots__ = ("_prefilter", "_test", "_titles", "literals", "query")

    def __init__(self, query: Query) -> None:
        self.query = query
        self.literals = _literals(query.root, negated=False)
        self._prefilter = _prefilter(self.literals)
        self._test = _compile(query.root)
        self._titles = any(term.field != "text" for term in query.terms())

    def __reduce__(self) -> tuple[type[Matcher], tuple[Query]]:
        """Pickled as its query (for worker processes): compiled again on arrival."""
        return (Matcher, (self.query,))

    def matches(self, text: str, title: str | None = None) -> bool:
        """Whether the query matches an event: a comment's `text`, or a post's `title`
        and `text` (its selftext; "" for a link post). `title:` terms never match a
        comment (`title` None)."""
        body = fold(text)
        title = title if title and self._titles else ""
        head = fold(title)
        prefilter = self._prefilter
        if prefilter is not None and not (prefilter(body) or (head and prefilter(head))):
            return False
        return self._test(_spaced(title, head) if head else "", _spaced(text, body))


def _literals(node: Node, *, negated: bool) -> frozenset[str] | None:
    """The prefilter of `node` (or of NOT `node` when `negated`): a set of folded words
    one of which is a substring of any text it matches; None when there is none."""
    if isinstance(node, Term):
        return None if negated else frozenset({max(node.words, key=lambda w: (len(w), w))})
    if isinstance(node, Not):
        return _literals(node.operand, negated=not negated)
    parts = [_literals(operand, negated=negated) for operand in node.operands]
    if isinstance(node, And) != negated:  # every operand must match: any one's set will do
        known = [part for part in parts if part is not None]
        return min(known, key=lambda s: (len(s), -min(map(len, s)))) if known else None
    sets = [part for part in parts if part is not None]
    if len(sets) < len(parts):  # one operand may match alone: all sets are needed
        return None
    union = frozenset(w for part in sets for w in part)
    return frozenset(w for w in union if not any(v != w and v in w for v in union))


def _prefilter(literals: frozenset[str] | None) -> Callable[[str], bool] | None:
    """A fast test of "one of `literals` is a substring" (None for no prefilter)."""
    if literals is None:
        return None
    ordered = sorted(literals, key=lambda w: (-len(w), w))
    if len(ordered) == 1:
        only = ordered[0]
        return lambda text: only in text
    if len(ordered) <= 8:
        return lambda text: any(w in text for w in ordered)
    search = re.compile("|".join(map(re.escape, ordered))).search
    return lambda text: search(text) is not None


def _compile(node: Node) -> _Test:
    if isinstance(node, Term):
        return _term_test(node)
    if isinstance(node, Not):
        inner = _compile(node.operand)
        return lambda head, body: not inner(head, body)
    tests = [_compile(operand) for operand in node.operands]
    combine = _both if isinstance(node, And) else _either
    test = tests[0]
    for other in tests[1:]:
        test = combine(test, other)
    return test


def _term_test(term: Term) -> _Test:
    needle = " " + " ".join(term.words) + " "
    if term.field == "title":
        return lambda head, body: needle in head
    if term.field == "text":
        return lambda head, body: needle in body
    return lambda head, body: needle in body or needle in head


def _both(a: _Test, b: _Test) -> _Test:
    return lambda head, body: a(head, body) and b(head, body)


def _either(a: _Test, b: _Test) -> _Test:
    return lambda head, body: a(head, body) or b(head, body)


def broaden(node: Node, *, negated: bool) -> Node | None:
    """A NOT-free tree matching at least what `node` (or NOT `node` when `negated`)
    matches; None for "anything". NOTs are pushed down to the terms (De Morgan), then
    each negated term becomes "anything": it leaves an AND and makes an OR match
    anything. What a search API that cannot say NOT safely is asked for (`sources.reddit.
    search`, `sources.hackernews.search`)."""
    if isinstance(node, Term):
        return None if negated else node
    if isinstance(node, Not):
        return broaden(node.operand, negated=not negated)
    parts = [broaden(operand, negated=negated) for operand in node.operands]
    if isinstance(node, And) != negated:  # all must match; "anything" adds nothing
        kept = [part for part in parts if part is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else And(tuple(kept))
    sure = [part for part in parts if part is not None]
    if len(sure) < len(parts):  # one operand matching anything: the OR does too
        return None
    return Or(tuple(sure))
