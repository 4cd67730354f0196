"""Search over posts: a per-subreddit word index and the result order.

Each subreddit keeps an inverted index (word -> positions of its posts, per field)
built on the first search and then kept up to date: posts that arrive later (live,
``add_posts``) are indexed on the next search, and a post whose text ``changes``
rewrites (edit, delete, remove) is re-indexed then. So a search costs about the number
of posts its words match, not a pass over every post. Matching rules: ``query``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import query
from .listing import TIME_SPANS, hot_rank
from .models import Post
from .newest import key_of
from .query import And, Node, Not, Text

SORTS = ("relevance", "new", "top", "comments", "hot")
DEFAULT_SORT = "relevance"
DEFAULT_SPAN = "all"
_TITLE_WEIGHT = 2  # relevance: a query word in the title counts this much, in the body 1


def post_text(post: Post, name: str) -> str:
    """A post's field ``name`` (``title`` or ``selftext``) as text ("" when missing)."""
    value = post.data.get(name)
    return value if isinstance(value, str) else ""


@dataclass
class _Field:
    """One field of every indexed post: its words per post, and word -> positions."""

    words: list[list[str]] = field(default_factory=list)
    postings: dict[str, set[int]] = field(default_factory=dict)

    def put(self, position: int, text: str) -> None:
        found = query.words(text)
        if position == len(self.words):
            self.words.append(found)
        else:
            for word in set(self.words[position]):
                self.postings[word].discard(position)
            self.words[position] = found
        for word in set(found):
            self.postings.setdefault(word, set()).add(position)

    def find(self, text: Text) -> set[int]:
        """Positions whose field holds ``text`` (a word in any form, or the phrase)."""
        hits: set[int] | None = None
        for word in text.words:
            one: set[int] = set()
            for form in query.forms(word):
                one |= self.postings.get(form, set())
            hits = one if hits is None else hits & one
            if not hits:
                return set()
        if hits is None:
            return set()
        if len(text.words) == 1:
            return hits
        return {p for p in hits if query.has_phrase(text.words, self.words[p])}


class SearchIndex:
    """The word index of one subreddit's posts (positions are ``state.posts`` indices)."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.fields = {name: _Field() for name in query.FIELDS}
        self._stale: set[int] = set()

    def sync(self, posts: list[Post]) -> None:
        """Index the posts appended since the last call and re-index changed ones."""
        for post in posts[len(self.posts) :]:
            self._put(len(self.posts), post)
        for position in sorted(self._stale):
            self._put(position, self.posts[position])
        self._stale.clear()

    def changed(self, post: Post) -> None:
        """``post``'s title or self-text changed: re-index it on the next ``sync``."""
        if post.index < len(self.posts) and self.posts[post.index] is post:
            self._stale.add(post.index)

    def _put(self, position: int, post: Post) -> None:
        if position == len(self.posts):
            self.posts.append(post)
        for name, index in self.fields.items():
            index.put(position, post_text(post, name))

    def evaluate(self, node: Node) -> Matches:
        """The positions matching ``node``, with the per-field hits of its Texts."""
        matches = Matches(self)
        matches.positions = matches.of(node)
        return matches


class Matches:
    """One query's evaluation on one index; remembers each Text's hits for ranking."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.positions: set[int] = set()
        self.hits: dict[Text, dict[str, set[int]]] = {}

    def text(self, node: Text) -> dict[str, set[int]]:
        """Per field, the positions holding ``node`` (all fields unless it names one)."""
        found = self.hits.get(node)
        if found is None:
            names = (node.field,) if node.field else query.FIELDS
            found = {name: self.index.fields[name].find(node) for name in names}
            self.hits[node] = found
        return found

    def of(self, node: Node) -> set[int]:
        """The positions matching ``node``."""
        if isinstance(node, Text):
            return set().union(*self.text(node).values())
        if isinstance(node, Not):
            return set(range(len(self.index.posts))) - self.of(node.child)
        if isinstance(node, And):
            out = self.of(node.children[0])
            for child in node.children[1:]:
                if not out:
                    break
                out &= self.of(child)
            return out
        return set().union(*(self.of(child) for child in node.children))

    def relevance(self, position: int, wanted: Iterable[Text]) -> int:
        """How well a matched post fits: per wanted Text, 2 in the title, 1 in the body."""
        score = 0
        for text in wanted:
            hits = self.text(text)
            score += _TITLE_WEIGHT * (position in hits.get("title", ()))
            score += position in hits.get("selftext", ())
        return score


Found = tuple[Post, int]  # a matching post and its relevance
_KEYS: dict[str, Callable[[Found], float]] = {
    "relevance": lambda pair: pair[1],
    "top": lambda pair: pair[0].score,
    "comments": lambda pair: pair[0].num_comments,
    "hot": lambda pair: hot_rank(pair[0]),
}


def ordered(found: list[Found], sort: str) -> list[Post]:
    """``(post, relevance)`` pairs in the order of search ``sort``; ties newest first."""
    newest = sorted(found, key=lambda pair: key_of(pair[0].created_utc, pair[0].name))
    newest.reverse()
    if sort != "new":
        # stable: equal keys stay newest first
        newest.sort(key=_KEYS.get(sort, _KEYS[DEFAULT_SORT]), reverse=True)
    return [post for post, _ in newest]


def run(
    indices: list[SearchIndex], node: Node, sort: str, span: str | None, now: float
) -> list[Post]:
    """Every post of ``indices`` matching ``node`` within time span ``span`` (``t``),
    in the order of ``sort``; unknown sorts and spans fall back to relevance and all."""
    window = TIME_SPANS.get(span or DEFAULT_SPAN, TIME_SPANS[DEFAULT_SPAN])
    since = -math.inf if window is None else now - window
    wanted = query.positives(node)
    found: list[Found] = []
    for index in indices:
        matches = index.evaluate(node)
        for position in matches.positions:
            post = index.posts[position]
            if post.created_utc >= since:
                score = matches.relevance(position, wanted) if sort == "relevance" else 0
                found.append((post, score))
    return ordered(found, sort)
