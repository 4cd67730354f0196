"""Algolia's ``search`` / ``search_by_date`` over the fake's items.

Parameters and response follow hn.algolia.com/api ("Search"): ``query``, ``tags``
(comma = AND, ``(a,b)`` = OR), ``numericFilters`` (comma = AND; fields
``created_at_i``, ``points``, ``num_comments``; operators ``< <= = >= >``),
``hitsPerPage`` (default 20, at most 1000), ``page`` (from 0). No query reaches past
its first 1,000 hits, whatever the page (algolia/hn-search#230), so clients slice by
time. ``optionalWords`` (words separated by spaces or commas) makes those query words
optional: a hit holds every other word, and at least one word when all are optional
(Algolia's rule that more words are needed past each 1,000 hits is not modelled: no
query reads past 1,000). Approximations: every query word must occur as a whole word
(case-insensitive) in the title, the text (HTML stripped, entities decoded), the url or
the author; no typo tolerance, no prefix match of the last word, no stop words. ``search`` ranks by
points then recency (Algolia ranks by text relevance, then points); ``search_by_date``
is newest first. Dead items, deleted items and pollopts are not indexed.
"""

from __future__ import annotations

import html
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import views
from .models import Item

HIT_CAP = 1000
MAX_HITS_PER_PAGE = 1000
_WORD = re.compile(r"\w+")
_TAG = re.compile(r"<[^>]+>")
_NUMERIC = re.compile(r"^\s*(created_at_i|points|num_comments)\s*(<=|>=|<|>|=)\s*(-?\d+)\s*$")
_OPS: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
}


class SearchError(ValueError):
    """A parameter Algolia would answer 400 for."""


@dataclass(frozen=True)
class Query:
    """A parsed search request."""

    words: tuple[str, ...]
    optional: frozenset[str]
    tags: tuple[frozenset[str], ...]
    numeric: tuple[tuple[str, str, int], ...]
    hits_per_page: int
    page: int
    text: str


def plain(value: str | None) -> str:
    """HN HTML to plain text (for matching only)."""
    return html.unescape(_TAG.sub(" ", value or ""))


def parse_tags(raw: str) -> tuple[frozenset[str], ...]:
    """``story,(author_a,author_b)`` -> ({story}, {author_a, author_b})."""
    groups: list[frozenset[str]] = []
    for part in re.findall(r"\([^)]*\)|[^,()]+", raw):
        names = [t.strip() for t in part.strip("()").split(",") if t.strip()]
        if names:
            groups.append(frozenset(names))
    return tuple(groups)


def parse_numeric(raw: str) -> tuple[tuple[str, str, int], ...]:
    """``created_at_i>1,points>=5`` -> ((field, op, value), ...); ``SearchError`` if bad."""
    out = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        match = _NUMERIC.match(part)
        if match is None:
            raise SearchError(f"invalid numericFilters: {part!r}")
        out.append((match[1], match[2], int(match[3])))
    return tuple(out)


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(params.get(name, default))
    except ValueError as exc:
        raise SearchError(f"invalid {name}: {params[name]!r}") from exc


def parse_query(params: Mapping[str, str]) -> Query:
    """Read the URL parameters; ``SearchError`` for ones Algolia would reject."""
    text = params.get("query", "")
    per_page = min(MAX_HITS_PER_PAGE, max(0, _int(params, "hitsPerPage", 20)))
    return Query(
        words=tuple(w.lower() for w in _WORD.findall(text)),
        optional=frozenset(w.lower() for w in _WORD.findall(params.get("optionalWords", ""))),
        tags=parse_tags(params.get("tags", "")),
        numeric=parse_numeric(params.get("numericFilters", "")),
        hits_per_page=per_page,
        page=max(0, _int(params, "page", 0)),
        text=text,
    )


def item_tags(item: Item) -> set[str]:
    """Algolia's ``_tags``: type, ``author_<by>``, ``story_<root id>``, ask/show."""
    tags = {item.type, f"author_{item.by}", f"story_{item.story_id}"}
    if item.kind == "ask":
        tags.add("ask_hn")
    if item.kind == "show":
        tags.add("show_hn")
    return tags


def indexed(item: Item) -> bool:
    """Whether Algolia would hold the item (see the module docstring)."""
    return not (item.deleted or item.dead or item.type == "pollopt")


def _numbers(item: Item) -> dict[str, int]:
    points = item.score if item.type != "comment" else None
    return {"created_at_i": item.time, "points": points or 0, "num_comments": item.descendants}


def matches(item: Item, query: Query) -> bool:
    """Tags, numeric filters and words all hold for ``item``."""
    tags = item_tags(item)
    if not all(group & tags for group in query.tags):
        return False
    numbers = _numbers(item)
    if not all(_OPS[op](numbers[name], value) for name, op, value in query.numeric):
        return False
    if not query.words:
        return True
    held = words(item)
    required = [w for w in query.words if w not in query.optional]
    if required:
        return all(w in held for w in required)
    return any(w in held for w in query.words)  # every word optional: any one of them


def words(item: Item) -> frozenset[str]:
    """The lower-case words a query can match, computed once per item."""
    if item.words is None:
        haystack = f"{item.title or ''} {plain(item.text)} {item.url or ''} {item.by}"
        item.words = frozenset(w.lower() for w in _WORD.findall(haystack))
    return item.words


def hit(item: Item, items: Mapping[int, Item], query: Query) -> dict[str, Any]:
    """One result shaped like Algolia's hit (null where Algolia has null)."""
    root = items.get(item.story_id)
    is_comment = item.type == "comment"
    tags = sorted(item_tags(item), key=lambda t: (t.startswith(("author_", "story_")), t))
    highlight: dict[str, dict[str, Any]] = {
        name: {"value": value, "matchLevel": "full" if query.words else "none", "matchedWords": []}
        for name, value in (("title", item.title), ("author", item.by), ("url", item.url))
        if value is not None
    }
    return {
        "objectID": str(item.id),
        "created_at": views.iso(item.time),
        "created_at_i": item.time,
        "author": item.by,
        "title": None if is_comment else item.title,
        "url": None if is_comment else item.url,
        "story_text": None if is_comment else item.text,
        "comment_text": item.text if is_comment else None,
        "points": None if is_comment else item.score,
        "num_comments": None if is_comment else item.descendants,
        "story_id": item.story_id,
        "story_title": root.title if is_comment and root is not None else None,
        "story_url": root.url if is_comment and root is not None else None,
        "parent_id": item.parent if is_comment else None,
        "_tags": tags,
        "_highlightResult": highlight,
    }


def run(
    newest_first: list[Item], items: Mapping[int, Item], query: Query, by_date: bool, raw: str
) -> dict[str, Any]:
    """The response body; ``newest_first`` is every item, largest id first."""
    found = [i for i in newest_first if indexed(i) and matches(i, query)]
    if not by_date:
        found.sort(key=lambda i: (-(i.score or 0) if i.type != "comment" else 0, -i.id))
    per_page, page = query.hits_per_page, query.page
    reachable = min(len(found), HIT_CAP)
    start = page * per_page
    end = min(start + per_page, reachable)
    page_items = found[start:end] if start < reachable else []
    return {
        "hits": [hit(i, items, query) for i in page_items],
        "nbHits": len(found),
        "page": page,
        "nbPages": math.ceil(reachable / per_page) if per_page else 0,
        "hitsPerPage": per_page,
        "exhaustiveNbHits": True,
        "exhaustiveTypo": True,
        "query": query.text,
        "params": raw,
        "processingTimeMS": 1,
    }
