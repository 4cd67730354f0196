"""A topic query in Reddit's search syntax, to fetch candidate posts (docs/topics.md,
"Reddit's search syntax").

Reddit's search (`/search`, `/r/<sub>/search`, parameter `q`) finds posts only, never
comments, and matches its own way (its tokenizer, maybe stemming; a field-less word also
looks at the author and subreddit names). So it only brings candidates: the local
`Matcher` decides. The translation is therefore never narrower than the query, term by
term: a term becomes the same word or phrase on Reddit (`title:` stays `title:`, `text:`
becomes `selftext:`, a field-less term stays field-less, i.e. Reddit's widest field),
AND and OR stay, and every negated term is dropped. A negated term cannot be translated
without risking losses: Reddit's `NOT nikola` would also drop posts whose author,
subreddit, or a word Reddit stems to "nikola", says so, which the local matcher keeps.
NOTs are first pushed down to the terms (De Morgan), then each negated term is replaced
by "anything", which removes it from an AND and makes an OR match anything.
"""

from __future__ import annotations

import re

from sentiment_pipeline.sources.query import And, Node, Or, Query, Term, broaden

__all__ = ["REDDIT_QUERY_LIMIT", "reddit_query"]

# The longest `q` Reddit's API documentation allows (characters); not enforced here.
REDDIT_QUERY_LIMIT = 512

_FIELDS = {None: "", "title": "title:", "text": "selftext:"}
_PLAIN = re.compile(r"\w+")  # safe unquoted: no field, escape or special character
_OPERATORS = frozenset({"and", "or", "not"})  # quoted in any case, to be sure


def reddit_query(query: Query) -> str:
    """`query` in Reddit's search syntax, never narrower than `query` (module
    docstring). "" when Reddit's search cannot narrow anything (`NOT x`, or `a OR NOT
    b`): read the subreddits' listings instead."""
    node = broaden(query.root, negated=False)
    return "" if node is None else _render(node)


def _render(node: Node) -> str:
    if isinstance(node, Term):
        return _FIELDS[node.field] + _term(node)
    assert isinstance(node, And | Or)  # broaden leaves no Not
    joiner = " AND " if isinstance(node, And) else " OR "
    return joiner.join(_operand(operand, type(node)) for operand in node.operands)


def _operand(node: Node, parent: type) -> str:
    """An operand of an AND or OR: nested groups of the same kind are flattened, every
    other group is in parentheses (Reddit's precedence of AND over OR is not
    documented)."""
    if isinstance(node, Term):
        return _render(node)
    if type(node) is parent:
        return _render(node)
    return f"({_render(node)})"


def _term(term: Term) -> str:
    """A word as it is when plain, else the text in quotes: Reddit then cuts it into
    words with the same tokenizer as the posts it indexed (backslashes, its escape
    character, become spaces)."""
    if not term.phrase and _PLAIN.fullmatch(term.text) and term.text.lower() not in _OPERATORS:
        return term.text
    return '"' + term.text.replace("\\", " ") + '"'
