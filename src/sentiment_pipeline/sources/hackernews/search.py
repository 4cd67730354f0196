"""A topic query as Algolia's HN search, and the time slices that keep each search under
its 1,000-hit cap (docs/hackernews.md, "Topics").

Algolia's query string has no operators (algolia.com/doc/api-reference/api-parameters/
query: words side by side must all match) and no fields here; `optionalWords` relaxes
it to "any of these words". Like the Reddit translation (`sources.reddit.search`), the
search only brings candidates and the local `Matcher` decides, so the translation is
never narrower than the query: NOTs are dropped (`query.broaden`), a query that is one AND
of terms becomes those terms' words, all required; any other query (an OR anywhere)
becomes all its terms' words, every one optional, so a hit needs any one of them.
Fields (`title:`, `text:`) and phrases become their plain words (a phrase's words
anywhere in the item). A query whose broadened form matches anything (`NOT x`) has no
search: `topic_search` returns None and the caller says so.

No query returns more than 1,000 hits whatever the page (algolia/hn-search#230), so a
walk reads `search_by_date` (newest first) 1,000 hits at a time and moves the window's
upper bound to the oldest hit it got: every request reads the first page of its
window, never past the cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentiment_pipeline.sources.query import And, Node, Or, Query, Term, broaden

__all__ = ["HIT_CAP", "AlgoliaSearch", "topic_search"]

HIT_CAP = 1000  # hits any one Algolia query reaches (and the largest hitsPerPage)


@dataclass(frozen=True)
class AlgoliaSearch:
    """One search's parameters: `query` (words), `optional` (the words that may be
    missing: all of them, or none), `tags` (Algolia's tag filter)."""

    query: str
    optional: str = ""
    tags: str = "(story,comment,poll,job)"


def _terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    assert isinstance(node, And | Or)  # broaden leaves no Not
    return [term for operand in node.operands for term in _terms(operand)]


def _has_or(node: Node) -> bool:
    if isinstance(node, Term):
        return False
    assert isinstance(node, And | Or)  # broaden leaves no Not
    return isinstance(node, Or) or any(_has_or(operand) for operand in node.operands)


def topic_search(query: Query) -> AlgoliaSearch | None:
    """The Algolia search of a topic's query (module docstring); None when no search can
    narrow it (`NOT x`, `a OR NOT b`)."""
    node = broaden(query.root, negated=False)
    if node is None:
        return None
    found = list(dict.fromkeys(w for term in _terms(node) for w in term.words))
    text = " ".join(found)
    return AlgoliaSearch(query=text, optional=text if _has_or(node) else "")
