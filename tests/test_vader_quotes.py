"""Typographic apostrophes and quotes (issue 26): what phone keyboards type scores like
ASCII, plain texts score exactly as raw VADER, and the cleaning version in the model id
(`vader-3.3.2+clean2`) keeps old scores apart until `sentiment score --rescore`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment_pipeline.cli import app
from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.models import RawEventORM
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.sentiment import clean
from sentiment_pipeline.sentiment.clean import QUOTES, clean_text, event_text
from sentiment_pipeline.sentiment.scorers import (
    get_scorer,
    model_id_for,
    older_model_ids,
)
from sentiment_pipeline.sentiment.scorers.vader import VaderScorer
from tests.fixtures.rollup import rebuild_rollup

runner = CliRunner()
VADER = SentimentIntensityAnalyzer().polarity_scores
SCORER = get_scorer("vader")
START = datetime(2024, 3, 1, tzinfo=UTC)

# The phone-typed negations (U+2019) and whether raw VADER flips their sign: "buy"
# is in no lexicon, so the last one is neutral however its apostrophe was typed.
PHONE = [
    ("I don\u2019t like this at all", True),
    ("This isn\u2019t good", True),
    ("I can\u2019t recommend it", True),
    ("It wasn\u2019t worth it", True),
    ("I won\u2019t buy this again", False),
]
TYPOGRAPHIC = "".join(chr(code) for code in QUOTES)


def _ascii(text: str) -> str:
    return text.replace("\u2019", "'")


def _score(text: str) -> float:
    """The compound sentpipe stores for a Reddit comment with this body."""
    cleaned = event_text("reddit", "comment", {"body": text})
    assert cleaned is not None
    return SCORER.score(cleaned).compound


# --- cleaning and scoring (no database) -------------------------------------------------


@pytest.mark.parametrize(("text", "flips"), PHONE)
def test_phone_negations_score_like_ascii(text: str, flips: bool) -> None:
    raw, ascii_ = VADER(text)["compound"], VADER(_ascii(text))["compound"]
    if flips:  # the bug: raw VADER reads the typographic negation as no negation
        assert raw > 0.05 and ascii_ < -0.05
    else:
        assert raw == ascii_ == 0.0
    assert clean_text(text) == _ascii(text)
    assert _score(text) == ascii_


@pytest.mark.parametrize("mark", sorted(c for c, r in QUOTES.items() if r == "'"))
def test_every_apostrophe_negates(mark: int) -> None:
    assert _score(f"I don{chr(mark)}t like it") == VADER("I don't like it")["compound"] < -0.05


@pytest.mark.parametrize("pair", ["\u201c\u201d", "\u201e\u201c", "\u201f\u201d", "\uff02\uff02"])
def test_typographic_quotes_no_longer_hide_a_word(pair: str) -> None:
    """VADER strips only ASCII punctuation off a word: `“great”` was no word it knew."""
    text = f"The service was {pair[0]}great{pair[1]}"
    assert VADER(text)["compound"] == 0.0
    assert _score(text) == VADER('The service was "great"')["compound"] > 0.05


def test_the_documented_set() -> None:
    assert {f"U+{c:04X}" for c in QUOTES} == {
        *("U+2019", "U+2018", "U+201A", "U+201B", "U+02BC", "U+2032", "U+00B4", "U+FF07"),
        *("U+201C", "U+201D", "U+201E", "U+201F", "U+2033", "U+FF02"),
    }
    assert set(QUOTES.values()) == {"'", '"'}
    docs = (Path(__file__).parents[1] / "docs" / "sentiment.md").read_text()
    for code in QUOTES:
        assert f"U+{code:04X}" in docs


def test_markup_rules_still_see_their_own_characters() -> None:
    """Normalised after the markup rules: a link or quote line is handled as before."""
    assert clean_text("> it\u2019s bad\nI don\u2019t mind") == "I don't mind"
    assert clean_text("see [it\u2019s](https://x.org/a) \u201cok\u201d") == 'see it\'s "ok"'


PLAIN_TEXTS = [
    "I don't like this at all",
    "This isn't good",
    "I can't recommend it",
    "It wasn't worth it",
    "I won't buy this again",
    'The service was "great"',
    "VADER is smart, handsome, and funny!!!",
    "The book was kind of good.",
    "At least it isn't a horrible book.",
    "Today SUX!",
    "Make sure you :) or :D today!",
    "Not bad at all",
    "I love it 😍 but the ending 😡",
    "Très bien, ça marche — naïve café",
    "the market is down 5% and I'm nervous...",
    "",
    "meh",
]
# Words VADER reacts to: lexicon, negations, boosters, "but", caps, emoticons, emoji.
WORDS = st.sampled_from(
    [
        "good",
        "bad",
        "great",
        "awful",
        "love",
        "hate",
        "not",
        "never",
        "isn't",
        "don't",
        "can't",
        "won't",
        "nor",
        "very",
        "extremely",
        "kind",
        "of",
        "sort",
        "but",
        "BUT",
        "GOOD",
        ":)",
        ":(",
        ";)",
        "<3",
        "😍",
        "😡",
        "🎉",
        "!",
        "!!",
        "?",
        "??",
        "the",
        "it",
        "is",
        "was",
        "I",
        "you",
        ".",
        ",",
        ";",
        "-",
        "no",
        "yes",
        "without",
        "least",
        "sux",
        "lol",
    ]
)
NOT_TYPOGRAPHIC = st.characters(blacklist_characters=TYPOGRAPHIC, blacklist_categories=("Cs",))


@pytest.mark.parametrize("text", PLAIN_TEXTS)
def test_plain_texts_score_exactly_as_raw_vader(text: str) -> None:
    assert clean_text(text) == text
    assert SCORER.score(text) == tuple(VADER(text)[k] for k in ("compound", "pos", "neu", "neg"))


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS | st.text(NOT_TYPOGRAPHIC, min_size=1, max_size=8), min_size=1))
def test_property_plain_texts_score_exactly_as_raw_vader(words: list[str]) -> None:
    text = " ".join(words)
    cleaned = clean_text(text)
    expected = VADER(cleaned)
    assert SCORER.score(cleaned) == tuple(expected[k] for k in ("compound", "pos", "neu", "neg"))


@settings(max_examples=300, deadline=None)
@given(st.text(NOT_TYPOGRAPHIC, max_size=300))
def test_property_cleaning_without_typographic_marks_is_unchanged(text: str) -> None:
    """The text VADER reads is what cleaning 1 gave (cleaning 2 without its quote table)."""
    new = clean_text(text)
    saved = clean.QUOTES
    clean.QUOTES = {}
    try:
        assert clean_text(text) == new
    finally:
        clean.QUOTES = saved


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(WORDS, st.sampled_from(["'", *TYPOGRAPHIC])), min_size=1))
def test_property_however_typed_scores_the_same(parts: list[tuple[str, str]]) -> None:
    """Any mix of typographic marks scores like the same text typed in ASCII."""
    typed = " ".join(word.replace("'", mark) for word, mark in parts)
    ascii_ = "".join(QUOTES.get(ord(c), c) for c in typed)
    assert _score(typed) == VADER(clean_text(ascii_))["compound"]
    assert all(c not in clean_text(typed) for c in TYPOGRAPHIC)


def test_model_id_names_the_cleaning_version() -> None:
    current = model_id_for("vader")
    assert re.fullmatch(r"vader-\d+\.\d+\.\d+\+clean2", current)
    assert SCORER.model_id == current == VaderScorer.identify()
    assert older_model_ids("vader") == (current.removesuffix("+clean2"),)


# --- storage, rescore, report, export, stats (SQLite, PostgreSQL, TimescaleDB) -----------


def _events() -> list[dict[str, Any]]:
    texts = [text for text, _ in PHONE] + ["I love it", "plain and simple"]
    return [
        {
            "id": f"t1_{i:06d}",
            "occurred_at": START + timedelta(hours=i),
            "source": "reddit",
            "source_id": "phones",
            "event_type": "comment",
            "payload": {"subreddit": "phones", "body": text},
        }
        for i, text in enumerate(texts)
    ]


def _rows(engine: sa.Engine) -> dict[tuple[str, str], float]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, model, compound FROM sentiment_scores"))
        return {(str(i), str(m)): float(c) for i, m, c in rows}


def _invoke(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_old_id_scores_stay_readable_until_rescore(any_db_url: str, tmp_path: Path) -> None:
    init_db(parse_database_url(any_db_url))
    engine = sa.create_engine(parse_database_url(any_db_url).sqlalchemy)
    with engine.begin() as connection:
        connection.execute(sa.insert(RawEventORM.__table__), _events())
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    current, old = model_id_for("vader"), older_model_ids("vader")[0]

    first = json.loads(_invoke(env, "sentiment", "score", "--json"))
    assert (first["model"], first["scored"]) == (current, 7)
    stored = _rows(engine)
    assert {model for _, model in stored} == {current}
    assert stored[("t1_000000", current)] == VADER("I don't like this at all")["compound"]

    with engine.begin() as connection:  # as an older sentpipe left them: raw VADER, old id
        connection.execute(sa.text(f"UPDATE sentiment_scores SET model = '{old}'"))
        for event in _events():
            compound = VADER(event["payload"]["body"])["compound"]
            connection.execute(
                sa.text(f"UPDATE sentiment_scores SET compound = {compound} WHERE id = :id"),
                {"id": event["id"]},
            )
        rebuild_rollup(connection)

    again = json.loads(_invoke(env, "sentiment", "score", "--json"))
    assert again["scored"] == 0  # processed: not scored again without --rescore
    empty = _invoke(env, "sentiment", "report", "--model", "vader")
    assert f"No scores for {current}" in empty and old in empty and "--rescore" in empty
    named = json.loads(_invoke(env, "sentiment", "report", "--model", old, "--json"))
    assert named["model"] == old and sum(row["events"] for row in named["rows"]) == 7
    cols = ("export", "csv", "-o", "-", "--columns", "id,sentiment_compound")
    assert _invoke(env, *cols, "--sentiment-model", old).count("0.3612") == 2
    assert "0.3612" not in _invoke(env, *cols) and "-0.2755" not in _invoke(env, *cols)
    stats = json.loads(_invoke(env, "stats", "--json"))["sentiment"]
    assert [(m["model"], m["scored"]) for m in stats] == [(old, 7)]

    rescored = json.loads(_invoke(env, "sentiment", "score", "--rescore", "--json"))
    assert (rescored["model"], rescored["scored"]) == (current, 7)
    after = _rows(engine)
    for event in _events():
        body = event["payload"]["body"]
        assert after[(event["id"], current)] == VADER(_ascii(body))["compound"]
        assert after[(event["id"], old)] == VADER(body)["compound"]  # kept, still readable
    report = json.loads(_invoke(env, "sentiment", "report", "--json"))
    assert report["model"] == current and sum(row["events"] for row in report["rows"]) == 7
    exported = _invoke(env, *cols)
    assert exported.count("-0.2755") == 2 and "0.3612" not in exported
    stats = json.loads(_invoke(env, "stats", "--json"))["sentiment"]
    assert sorted((m["model"], m["scored"]) for m in stats) == sorted([(old, 7), (current, 7)])
    engine.dispose()
