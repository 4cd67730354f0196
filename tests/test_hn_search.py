"""A topic query as Algolia's HN search (`sources.hackernews.search.topic_search`): AND
becomes required words, an OR anywhere makes every word optional, NOTs are dropped,
and the search is never narrower than the local `Matcher` (checked against the fake
Algolia's own matching, `fake_hn.search`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline.fake_hn import search as fake_search
from sentiment_pipeline.fake_hn.models import Item
from sentiment_pipeline.fake_hn.text import hn_escape
from sentiment_pipeline.sources.hackernews.search import AlgoliaSearch, topic_search
from sentiment_pipeline.sources.query import And, Matcher, Node, Not, Or, Query, Term, parse


@pytest.mark.parametrize(
    ("query", "words", "optional"),
    [
        ("rust", "rust", ""),
        ("rust AND tokio", "rust tokio", ""),
        ("rust tokio", "rust tokio", ""),
        ('"memory safety" rust', "memory safety rust", ""),
        ("title:rust text:async", "rust async", ""),
        ("rust OR golang", "rust golang", "rust golang"),
        ("rust AND (tokio OR async)", "rust tokio async", "rust tokio async"),
        ("rust NOT golang", "rust", ""),
        ("rust AND NOT (golang OR zig)", "rust", ""),
        ("rust OR rust", "rust", "rust"),
    ],
)
def test_translation(query: str, words: str, optional: str) -> None:
    found = topic_search(parse(query))
    assert found is not None
    assert (found.query, found.optional) == (words, optional)
    assert found.tags == "(story,comment,poll,job)"  # every indexed item type


@pytest.mark.parametrize("query", ["NOT rust", "NOT (rust OR golang)", "rust OR NOT golang"])
def test_a_query_no_search_can_narrow_has_none(query: str) -> None:
    assert topic_search(parse(query)) is None


# --- never narrower than the Matcher ---------------------------------------------------

# ASCII words: the fake Algolia lower-cases (`str.lower`) where the Matcher case-folds
# and segments Unicode; on ASCII the two agree on what a word is.
VOCAB = ["rust", "tokio", "async", "golang", "zig", "memory", "safety", "model", "3", "db"]
SEPARATORS = [" ", " ", ", ", ". ", "-", "'", "(", ")", "\n", "/", "#", ":", "&", "<", '"']

terms = st.one_of(
    st.builds(
        Term, st.sampled_from(VOCAB), st.just(False), st.sampled_from([None, "title", "text"])
    ),
    st.builds(
        Term,
        st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3).map(" ".join),
        st.just(True),
        st.sampled_from([None, "title", "text"]),
    ),
)
trees: st.SearchStrategy[Node] = st.recursive(
    terms,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=7,
)
texts = st.lists(
    st.tuples(
        st.sampled_from([*VOCAB, "other", "words"]),
        st.sampled_from([str, str.upper, str.title]),
        st.sampled_from(SEPARATORS),
    ),
    max_size=8,
).map(lambda parts: "".join(case(word) + sep for word, case, sep in parts))


def _fake_item(title: str | None, text: str) -> Item:
    """A story (with a title) or a comment as the fake holds it: text as HN's HTML."""
    if title is None:
        return Item(1, "comment", "comment", "someone", 1, 2, text=hn_escape(text), parent=2)
    return Item(2, "story", "ask", "someone", 1, 2, title=title, text=hn_escape(text))


def _fake_matches(search: AlgoliaSearch, item: Item) -> bool:
    params = {"query": search.query, "optionalWords": search.optional, "tags": search.tags}
    return fake_search.matches(item, fake_search.parse_query(params))


@settings(max_examples=400, deadline=None)
@given(root=trees, title=st.none() | texts, text=texts)
def test_the_search_finds_every_item_the_matcher_matches(
    root: Node, title: str | None, text: str
) -> None:
    query = Query(root)
    if not Matcher(query).matches(text, title):
        return
    search = topic_search(query)
    if search is None:  # no narrowing search: the caller reads nothing (says so)
        return
    assert _fake_matches(search, _fake_item(title, text)), (str(query), search, title, text)


@settings(max_examples=200, deadline=None)
@given(root=trees)
def test_no_search_only_for_queries_that_can_match_without_a_word(root: Node) -> None:
    query = Query(root)
    search = topic_search(query)
    if search is None:
        assert Matcher(query).literals is None  # it matches some text without any term
    else:
        assert search.query and set(search.optional.split()) <= set(search.query.split())
