"""`sources.query` (parse, render, Matcher) and `sources.reddit.search.reddit_query`.

Examples first: the issue's tesla query, precedence, Unicode word boundaries, case,
fields on posts and comments, the prefilter's literals, every malformed query. Then
properties (hypothesis): random trees survive render -> parse; the matcher agrees with a
slow reference written here (its own Unicode tokenizer, a tree walk) on random texts
built from a small vocabulary with random separators, case, punctuation, accents, CJK,
Hangul and emoji; the prefilter never rejects a match; the Reddit query is never
narrower than the topic's (and exactly as wide without NOT), read with local semantics.
"""

from __future__ import annotations

import pickle
import unicodedata
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sources.query import (
    MAX_DEPTH,
    And,
    Field,
    Matcher,
    Node,
    Not,
    Or,
    Query,
    Term,
    parse,
    render,
    words,
)
from sentiment_pipeline.sources.reddit.search import reddit_query

TESLA = '(tesla OR "model 3" OR "model y") NOT "nikola tesla"'


def T(text: str, field: Field | None = None) -> Term:
    return Term(text, phrase=" " in text, field=field)


def matches(query: str, text: str, title: str | None = None) -> bool:
    return Matcher(parse(query)).matches(text, title)


# --- the issue's example ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I love my new Tesla!", True),
        ("Is the Model 3 better than the model Y?", True),
        ("MODEL-Y deliveries are up", True),
        ("Tesla's margins, #tesla, (tesla), tesla.", True),
        ("Nikola Tesla invented alternating current", False),
        ("Nikola Tesla would have loved the Model 3", False),  # NOT excludes the whole text
        ("nikola  --  TESLA", False),
        ("teslas everywhere", False),
        ("the TeslaCoil is loud", False),
        ("a model 3d printer", False),
        ("models 3 and y", False),
        ("", False),
    ],
)
def test_the_tesla_topic(text: str, expected: bool) -> None:
    assert matches(TESLA, text) is expected


def test_the_tesla_topic_in_canonical_form_and_its_prefilter() -> None:
    query = parse(TESLA, topic="tesla")
    assert render(query) == '(tesla OR "model 3" OR "model y") AND NOT "nikola tesla"'
    assert str(query) == render(query)
    assert Matcher(query).literals == {"tesla", "model"}
    assert [t.text for t in query.terms()] == ["tesla", "model 3", "model y", "nikola tesla"]


# --- precedence and the tree --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "root"),
    [
        ("a OR b c NOT d", Or((T("a"), And((T("b"), T("c"), Not(T("d"))))))),
        ("a b OR c", Or((And((T("a"), T("b"))), T("c")))),
        ("a OR b AND c", Or((T("a"), And((T("b"), T("c")))))),
        ("a AND b c", And((T("a"), T("b"), T("c")))),
        ("NOT a b", And((Not(T("a")), T("b")))),
        ("NOT a OR b", Or((Not(T("a")), T("b")))),
        ("NOT (a b)", Not(And((T("a"), T("b"))))),
        ("NOT NOT a", Not(Not(T("a")))),
        ("(a OR b) c", And((Or((T("a"), T("b"))), T("c")))),
        ("(a b) c", And((And((T("a"), T("b"))), T("c")))),
        ("a OR (b OR c)", Or((T("a"), Or((T("b"), T("c")))))),
        ("((a))", T("a")),
        ("a and b or NOT not", And((T("a"), T("and"), T("b"), T("or"), Not(T("not"))))),
        ("And Or Not", And((T("And"), T("Or"), T("Not")))),
        ('a"b c"d', And((T("a"), T("b c"), T("d")))),
        ("NOT(a)OR(b)", Or((Not(T("a")), T("b")))),
        ('"a  AND\tb "', Term("a AND b", phrase=True)),
        ('title:a text:"b c"', And((T("a", "title"), T("b c", "text")))),
        ("TITLE:a Text:b", And((T("a", "title"), T("b", "text")))),
        ("title:(a OR NOT b)", Or((T("a", "title"), Not(T("b", "title"))))),
        ("Tesla's model-3 12:30", And((T("Tesla's"), T("model-3"), T("12:30")))),
    ],
)
def test_precedence_and_juxtaposition(text: str, root: Node) -> None:
    assert parse(text) == Query(root)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a b c", "a AND b AND c"),
        ("a OR b c", "a OR b AND c"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("(a b) c", "(a AND b) AND c"),
        ("NOT (a OR b)", "NOT (a OR b)"),
        ("NOT NOT a", "NOT NOT a"),
        ('title:(a OR "b  c")', 'title:a OR title:"b c"'),
        ("TITLE:a", "title:a"),
    ],
)
def test_render_is_canonical(text: str, canonical: str) -> None:
    assert render(parse(text)) == canonical
    assert parse(canonical) == parse(text)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Term(""),
        lambda: Term("!!"),
        lambda: Term("a b"),
        lambda: Term("AND"),
        lambda: Term("-a"),
        lambda: Term("body:a"),
        lambda: Term("a(b"),
        lambda: Term('a"b', phrase=True),
        lambda: Term(" a b", phrase=True),
        lambda: Term("a", field="body"),  # type: ignore[arg-type]
        lambda: And((T("a"),)),
        lambda: Or(()),
    ],
)
def test_trees_the_parser_cannot_produce_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


# --- words, case, Unicode -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("tesla", "Tesla's", True),
        ("tesla", "Tesla’s", True),
        ("tesla", "#tesla", True),
        ("tesla", "tesla.", True),
        ("tesla", "(tesla)", True),
        ("tesla", "r/tesla", True),
        ("tesla", "@Tesla:", True),
        ("tesla", "🚗tesla🚗", True),
        ("tesla", "I ❤️ tesla", True),
        ("tesla", "teslas", False),
        ("tesla", "TeslaCoil", False),
        ("tesla", "tesla_model", False),
        ("tesla", "tesla3", False),
        ("tesla", "atesla", False),
        ("3", "model 3", True),
        ("3", "model3", False),
        ("3.5", "version 3,5", True),
        ("café", "CAFÉ au lait", True),
        ("café", "cafe\u0301 au lait", True),  # decomposed accent
        ("cafe\u0301", "café", True),
        ("cafe", "café", False),
        ("café", "cafés", False),
        ("straße", "STRASSE", True),
        ("strasse", "Straße", True),
        ("STRASSE", "die straße", True),
        ("σς", "ΣΣ", True),
        ("naïve", "so NAÏVE!", True),
        ("特斯拉", "我喜欢特斯拉汽车", True),
        ("特斯拉", "特 斯 拉", True),
        ("特斯拉", "特斯", False),
        ("汽车", "我喜欢特斯拉汽车", True),
        ("テスラ", "新しいテスラです", True),
        ("테슬라", "테슬라는 좋아요", True),
        ("Москва", "в МОСКВА-сити", True),
        ("Москва", "Москвабад", False),
        ("tesla", "ｔｅｓｌａ", False),  # full-width: compatibility forms are not folded
        ("Tesla's", "tesla s", True),
        ("Tesla's", "Tesla’s", True),
        ('"model 3"', "model\n\t--3", True),
        ('"model 3"', "model_3", False),
        ("model-3", "Model 3", True),
    ],
)
def test_whole_words_case_and_unicode(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


def test_words_are_cut_as_documented() -> None:
    assert words("Tesla's #TESLA (tesla) teslas tesla_x 12:30") == [
        *("tesla", "s", "tesla", "tesla", "teslas", "tesla_x", "12", "30")
    ]
    assert words("Straße café cafe\u0301 I ❤️ it") == [*("strasse", "café", "café", "i", "it")]
    assert words("我喜欢特斯拉 테슬라는 model3") == [*"我喜欢特斯拉", *"테슬라는", "model3"]
    assert words("\u0301x 😂y") == ["x", "y"]  # a mark starts no word
    assert words("𝐛𝐨𝐥𝐝\U0001d167x 𠀀𠀁 y\U0001d167") == [
        "𝐛𝐨𝐥𝐝\U0001d167x",
        "𠀀",
        "𠀁",
        "y\U0001d167",
    ]


# --- fields: posts and comments -----------------------------------------------------------


def test_fields_on_posts_and_comments() -> None:
    title_only = Matcher(parse("title:tesla"))
    assert title_only.matches("any text", title="Tesla news")
    assert not title_only.matches("tesla", title="news")
    assert not title_only.matches("tesla")  # a comment has no title
    assert not title_only.matches("tesla", title="")

    text_only = Matcher(parse("text:tesla"))
    assert text_only.matches("tesla")
    assert text_only.matches("about tesla", title="news")
    assert not text_only.matches("news", title="tesla")

    either = Matcher(parse("tesla"))
    assert either.matches("", title="Tesla news")
    assert either.matches("tesla", title="news")

    assert matches("NOT title:tesla", "tesla")  # true of every comment
    assert not matches("NOT title:tesla", "x", title="tesla")
    assert matches("title:tesla text:recall", "a recall", title="Tesla")
    assert not matches("title:tesla text:recall", "tesla", title="recall")


def test_a_phrase_never_spans_title_and_text() -> None:
    assert not matches('"tesla model"', "model 3 is nice", title="I like tesla")
    assert matches("tesla model", "model 3 is nice", title="I like tesla")


# --- the prefilter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "literals"),
    [
        ("tesla", {"tesla"}),
        ('"nikola tesla"', {"nikola"}),
        ("tesla OR ford", {"tesla", "ford"}),
        ("tesla OR teslas", {"tesla"}),  # "tesla" is inside "teslas"
        ("tesla (model OR nikola)", {"tesla"}),  # any one AND operand will do
        ("tesla NOT nikola", {"tesla"}),
        ("NOT NOT tesla", {"tesla"}),
        ("NOT (NOT tesla OR NOT ford)", {"tesla"}),
        ("NOT tesla", None),
        ("tesla OR NOT ford", None),
        ("NOT (tesla ford)", None),
        ("title:tesla", {"tesla"}),
        ("Straße", {"strasse"}),
    ],
)
def test_literals(query: str, literals: set[str] | None) -> None:
    assert Matcher(parse(query)).literals == literals


def test_queries_and_matchers_pickle() -> None:
    query = parse(TESLA)
    assert pickle.loads(pickle.dumps(query)) == query
    matcher = pickle.loads(pickle.dumps(Matcher(query)))
    assert matcher.query == query and matcher.literals == {"tesla", "model"}
    assert matcher.matches("my model Y") and not matcher.matches("nikola tesla's model y")
    assert next(pickle.loads(pickle.dumps(query)).terms()).words == ("tesla",)


def test_many_literals() -> None:
    query = " OR ".join(f"word{i}x" for i in range(20))
    matcher = Matcher(parse(query))
    assert matcher.literals is not None and len(matcher.literals) == 20
    assert matcher.matches("a Word13x b")
    assert not matcher.matches("word13 word13xy")
    assert matches("特斯拉", "特斯拉") and len(Matcher(parse("特斯拉")).literals or ()) == 1


# --- malformed queries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "empty query: no word or phrase at position 1"),
        ("   ", "empty query: no word or phrase at position 1"),
        ("tesla OR ford)", 'unexpected ")" at position 14'),
        (") tesla", 'unexpected ")" at position 1'),
        ("(tesla OR ford", 'unclosed "(" at position 1'),
        ("tesla (ford", 'unclosed "(" at position 7'),
        ("(", 'unclosed "(" at position 1'),
        ("tesla ()", "empty parentheses at position 7"),
        ("tesla OR", '"OR" at position 7 has nothing after it'),
        ("tesla AND", '"AND" at position 7 has nothing after it'),
        ("(tesla OR)", '"OR" at position 8 has nothing after it'),
        ("tesla AND OR ford", '"AND" at position 7 has nothing after it'),
        ("OR tesla", '"OR" at position 1 has nothing before it'),
        ("(AND tesla)", '"AND" at position 2 has nothing before it'),
        ("NOT", '"NOT" at position 1 has nothing after it'),
        ("tesla NOT", '"NOT" at position 7 has nothing after it'),
        ("(NOT)", '"NOT" at position 2 has nothing after it'),
        ('"model 3', "unterminated quote at position 1"),
        ('tesla "model 3', "unterminated quote at position 7"),
        ('""', "empty phrase at position 1"),
        ('tesla "  "', "empty phrase at position 7"),
        ('"!!"', 'phrase "!!" at position 1 has no letters or digits'),
        ("tesla &&", '"&&" at position 7 has no letters or digits'),
        ("🚗", '"🚗" at position 1 has no letters or digits'),
        ("body:tesla", 'unknown field "body:" at position 1'),
        ("tesla http://x.com", 'unknown field "http:" at position 7'),
        ("title: tesla", '"title:" at position 1 has no word, phrase or group right after it'),
        ("title:", '"title:" at position 1 has no word, phrase or group right after it'),
        ("title:AND", '"title:" at position 1 has no word, phrase or group after it'),
        ("title:(text:x)", 'field "text:" at position 8 is inside "title:"'),
        ("title:text:x", 'field "text:" at position 7 is inside "title:"'),
        ("-tesla", '"-tesla" at position 1 starts with "-", which is not an operator'),
        ("tesla +ford", '"+ford" at position 7 starts with "+", which is not an operator'),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), f"nested more than {MAX_DEPTH}"),
        ("NOT " * (MAX_DEPTH + 1) + "a", f"nested more than {MAX_DEPTH}"),
    ],
)
def test_malformed_queries_name_the_position(query: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(query, topic="tesla")
    error = caught.value
    assert error.reason.startswith('topic "tesla": ')
    assert reason in error.reason
    assert "at position " in error.reason
    assert error.hint and "^" not in error.hint
    assert "\n" not in error.one_line()


def test_the_error_of_the_issue() -> None:
    with pytest.raises(ConfigError) as caught:
        parse("tesla OR ford)", topic="tesla")
    assert caught.value.reason == 'topic "tesla": unexpected ")" at position 14'
    assert caught.value.exit_code == 2
    with pytest.raises(ConfigError) as untitled:
        parse("tesla OR ford)")
    assert untitled.value.reason == 'unexpected ")" at position 14'


# --- Reddit's search syntax ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "reddit"),
    [
        (TESLA, 'tesla OR "model 3" OR "model y"'),
        ("tesla", "tesla"),
        ("tesla ford", "tesla AND ford"),
        ("title:tesla text:(ford OR gm)", "title:tesla AND (selftext:ford OR selftext:gm)"),
        ('title:"model 3" OR text:Tesla\'s', 'title:"model 3" OR selftext:"Tesla\'s"'),
        ("a (b c) (d OR (e OR f))", "a AND b AND c AND (d OR e OR f)"),
        ("a OR b c", "a OR (b AND c)"),
        ("tesla and", 'tesla AND "and"'),
        ("café 特斯拉", "café AND 特斯拉"),
        ("NOT tesla", ""),
        ("tesla OR NOT ford", ""),
        ("NOT (tesla NOT ford)", ""),
        ("tesla NOT NOT ford", "tesla AND ford"),
        ("tesla NOT (ford OR gm)", "tesla"),
        ("tesla OR NOT (NOT ford OR gm)", "tesla OR ford"),
    ],
)
def test_reddit_query(query: str, reddit: str) -> None:
    assert reddit_query(parse(query)) == reddit


# --- properties ---------------------------------------------------------------------------

# The reference tokenizer: its own rule for scripts without spaces (by character name),
# which agrees with the module's ranges on the vocabulary below.
_UNSPACED_NAMES = ("CJK UNIFIED IDEOGRAPH", "HIRAGANA", "KATAKANA", "HANGUL", "THAI")


def ref_words(text: str) -> list[str]:
    out: list[str] = []
    current = ""
    for ch in unicodedata.normalize("NFC", text.casefold()):
        kind = unicodedata.category(ch)
        if kind[0] in "LMN" and unicodedata.name(ch, "").startswith(_UNSPACED_NAMES):
            out += [current, ch] if current else [ch]
            current = ""
        elif kind[0] in "LN" or kind == "Pc" or (kind[0] == "M" and current):
            current += ch
        else:
            out += [current] if current else []
            current = ""
    return [*out, current] if current else out


def ref_has(needle: Sequence[str], haystack: Sequence[str], *, loose: bool = False) -> bool:
    """Whether `needle` occurs as consecutive words of `haystack`; `loose`: each word may
    also be the start of the text's word (a model of a search that stems: wider)."""
    n = len(needle)
    windows = (haystack[i : i + n] for i in range(len(haystack) - n + 1))
    if loose:
        return any(
            all(h.startswith(w) for w, h in zip(needle, window, strict=True)) for window in windows
        )
    return any(list(window) == list(needle) for window in windows)


def ref_match(node: Node, title: list[str] | None, text: list[str], *, loose: bool = False) -> bool:
    if isinstance(node, Term):
        needle = ref_words(node.text)
        in_title = title is not None and ref_has(needle, title, loose=loose)
        in_text = ref_has(needle, text, loose=loose)
        return {None: in_title or in_text, "title": in_title, "text": in_text}[node.field]
    if isinstance(node, Not):
        return not ref_match(node.operand, title, text, loose=loose)
    results = (ref_match(operand, title, text, loose=loose) for operand in node.operands)
    return all(results) if isinstance(node, And) else any(results)


VOCAB = [
    *("tesla", "model", "3", "y", "nikola", "teslas", "tesla_x", "and", "or"),
    *("café", "cafe\u0301", "straße", "strasse", "naïve", "σς", "Москва"),
    *("特斯拉", "汽车", "テスラ", "테슬라", "는", "𝐛𝐨𝐥𝐝", "𠀀"),  # the last two beyond the BMP
]
SEPARATORS = [
    *(" ", " ", " ", "  ", ", ", ". ", "'", "’", "-", "#", "(", ")", "\n", ":", "/"),
    *("😂", " ❤️ ", "—", "", "", "_", "\u0301", " \u0301", "\u0308", "3", "ß", "车", "\U0001d167"),
]
CASES = [str, str.upper, str.lower, str.title, str.capitalize]

bare_words = st.sampled_from(
    [*VOCAB, "Tesla", "TESLA", "Tesla's", "model-3", "STRASSE", "12:30", "3.5"]
)
phrases = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3).map(" ".join)
fields = st.sampled_from([None, None, "title", "text"])
terms = st.one_of(
    st.builds(Term, bare_words, st.just(False), fields),
    st.builds(Term, phrases, st.just(True), fields),
)


def trees(leaves: st.SearchStrategy[Term]) -> st.SearchStrategy[Node]:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(Not, children),
            st.lists(children, min_size=2, max_size=4).map(lambda xs: And(tuple(xs))),
            st.lists(children, min_size=2, max_size=4).map(lambda xs: Or(tuple(xs))),
        ),
        max_leaves=8,
    )


def _texts(pool: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Texts of words from `pool`, each in a random case, each followed by a separator
    (which may glue it to the next word, or be an accent or another letter)."""
    parts = st.tuples(pool, st.sampled_from(CASES), st.sampled_from(SEPARATORS))
    return st.lists(parts, max_size=8).map(
        lambda ps: "".join(case(word) + sep for word, case, sep in ps)
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[Node, str | None, str]:
    """(a query's tree, a title or None for a comment, a text), the texts mostly made of
    the query's own terms, so that matches and near misses are common."""
    root = draw(trees(terms))
    own = sorted({term.text for term in Query(root).terms()})
    pool = st.sampled_from(own) | st.sampled_from(VOCAB)
    return root, draw(st.none() | _texts(pool)), draw(_texts(pool))


def _term_or_none(text: str, phrase: bool, field: Field | None) -> Term | None:
    try:
        return Term(text, phrase=phrase, field=field)
    except ValueError:
        return None


# Any text the parser could have produced: Unicode words with punctuation, no spaces.
_wild_chars = st.characters(
    blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters='()"'
)
wild_terms = st.builds(
    _term_or_none,
    st.one_of(
        st.text(_wild_chars, min_size=1, max_size=8),
        st.lists(st.text(_wild_chars, min_size=1, max_size=6), min_size=1, max_size=3).map(
            " ".join
        ),
    ),
    st.booleans(),
    fields,
).filter(lambda term: term is not None)


@settings(deadline=None)
@given(trees(terms) | trees(wild_terms))
def test_render_then_parse_gives_the_query_back(root: Node) -> None:
    query = Query(root)
    assert parse(render(query)) == query


@settings(deadline=None, max_examples=300)
@given(cases())
def test_matcher_agrees_with_the_reference(case: tuple[Node, str | None, str]) -> None:
    root, title, text = case
    query = Query(root)
    expected = ref_match(root, _ref_title(title), ref_words(text))
    matcher = Matcher(query)
    assert matcher.matches(text, title) is expected
    assert Matcher(parse(render(query))).matches(text, title) is expected


@settings(deadline=None, max_examples=300)
@given(cases())
def test_the_prefilter_never_rejects_a_match(case: tuple[Node, str | None, str]) -> None:
    root, title, text = case
    literals = Matcher(Query(root)).literals
    if literals is None or not ref_match(root, _ref_title(title), ref_words(text)):
        return
    folded = unicodedata.normalize("NFC", f"{title or ''}\n{text}".casefold())
    assert any(literal in folded for literal in literals)


def _ref_title(title: str | None) -> list[str] | None:
    return None if title is None else ref_words(title)


@settings(deadline=None, max_examples=300)
@given(cases())
def test_the_reddit_query_is_never_narrower(case: tuple[Node, str | None, str]) -> None:
    """Read back (`selftext:` as `text:`), the Reddit query matches whatever the topic's
    query matches, even when Reddit matches each term more loosely than sentpipe (here:
    a word also matches longer words it starts, as stemming would); without NOT, and with
    sentpipe's own matching, it matches exactly the same."""
    root, title, text = case
    query = Query(root)
    local = ref_match(root, _ref_title(title), ref_words(text))
    reddit = reddit_query(query)
    if not reddit:
        return  # no search: the listings bring everything
    remote = parse(reddit.replace("selftext:", "text:"))
    assert not any(isinstance(node, Not) for node in _nodes(remote.root))
    loose = ref_match(remote.root, _ref_title(title), ref_words(text), loose=True)
    assert loose or not local
    if not any(isinstance(node, Not) for node in _nodes(root)):
        assert Matcher(remote).matches(text, title) is local


def _nodes(node: Node) -> list[Node]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return [node, *_nodes(node.operand)]
    return [node, *(n for operand in node.operands for n in _nodes(operand))]
