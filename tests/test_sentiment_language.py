"""The language of every scored text: detection, the skip rule (VADER scores English and
undetermined texts), `--language`, `report --by language`/`--language`, the export's
`language` column, and migration 0007 on scores stored before it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentiment_pipeline.cli import app
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.sentiment import ScoreOptions, score_events, sentiment_report
from sentiment_pipeline.sentiment.language import (
    MIN_WORDS,
    UNDETERMINED,
    detect_languages,
)
from tests.test_sentiment import SENTPIPE, _event, _scores, _setup

runner = CliRunner()

ENGLISH = "I really love how this community helps new people, thank you all"
SPANISH = "Me encanta cómo esta comunidad ayuda a la gente nueva, muchas gracias"
GERMAN = "Ich finde das Update wirklich schlecht und die Akkulaufzeit ist furchtbar"
FRENCH = "Je ne comprends pas pourquoi tout le monde aime cette nouvelle version"
SHORT = ("lol", "damn", "nope", "+1", "👍👍", "so true")


def test_detects_the_language_of_ordinary_comments() -> None:
    assert detect_languages([ENGLISH, SPANISH, GERMAN, FRENCH]) == ["en", "es", "de", "fr"]


def test_short_texts_and_texts_without_letters_are_undetermined() -> None:
    """One- and two-word texts are guessed badly (`damn` as Swedish): they are `und`."""
    assert all(len(text.split()) < MIN_WORDS for text in SHORT)
    assert detect_languages(list(SHORT)) == [UNDETERMINED] * len(SHORT)
    assert detect_languages(["", "   ", "1 2 3 4 5", "!!! ??? ..."]) == [UNDETERMINED] * 4


def test_shouting_and_line_breaks_do_not_change_the_language() -> None:
    assert detect_languages([ENGLISH.upper(), ENGLISH.replace(" ", "\n")]) == ["en", "en"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=300), max_size=8))
def test_any_text_gets_one_code(texts: list[str]) -> None:
    codes = detect_languages(texts)
    assert len(codes) == len(texts)
    assert all(code and code.isascii() and code.isalpha() and code.islower() for code in codes)


def _mixed() -> list[dict[str, Any]]:
    texts = [ENGLISH, SPANISH, GERMAN, FRENCH, "lol", None, "this is awful and I hate it"]
    return [_event(i, text) for i, text in enumerate(texts)]


def test_vader_scores_english_and_undetermined_only(any_db_url: str, tmp_path: Path) -> None:
    engine = _setup(any_db_url, _mixed())
    url = parse_database_url(any_db_url)
    result = score_events(url, ScoreOptions(batch_size=3), lock_path=tmp_path / "l")
    assert (result.scored, result.tally.no_text, result.tally.language) == (3, 1, 3)
    assert result.to_dict()["skipped_by_reason"] == {"no_text": 1, "language": 3}
    assert result.to_dict()["languages"] == {"en": 2, "und": 1}
    scores = _scores(engine)
    assert {key: row["language"] for key, row in scores.items()} == {
        "t1_000000": "en",
        "t1_000004": "und",
        "t1_000006": "en",
    }
    assert all(row["probabilities"] is None for row in scores.values())
    with engine.connect() as connection:  # skipped events are processed: not claimed again
        waiting = connection.execute(
            sa.text("SELECT count(*) FROM raw_events WHERE NOT processed")
        ).scalar()
    assert waiting == 0
    engine.dispose()


def test_language_option_names_what_to_score(any_db_url: str, tmp_path: Path) -> None:
    engine = _setup(any_db_url, _mixed())
    url = parse_database_url(any_db_url)
    lock = tmp_path / "l"
    only = score_events(url, ScoreOptions(languages=("es", "de")), lock_path=lock)
    assert (only.scored, only.tally.language) == (3, 3)  # es, de, und; en twice, fr skipped
    assert {row["language"] for row in _scores(engine).values()} == {"es", "de", "und"}
    every = score_events(url, ScoreOptions(languages=("any",), rescore=True), lock_path=lock)
    assert (every.scored, every.tally.language, every.tally.no_text) == (6, 0, 1)
    assert {row["language"] for row in _scores(engine).values()} == {"en", "es", "de", "fr", "und"}
    engine.dispose()


def test_cli_language_report_and_export(any_db_url: str, tmp_path: Path) -> None:
    engine = _setup(any_db_url, _mixed())
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    scored = runner.invoke(
        app, ["sentiment", "score", "--language", "any", "--json"], env=env, catch_exceptions=False
    )
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.output)["languages"] == {
        "en": 2,
        "es": 1,
        "de": 1,
        "fr": 1,
        "und": 1,
    }
    report = runner.invoke(app, ["sentiment", "report", "--by", "language", "--json"], env=env)
    assert report.exit_code == 0, report.output
    rows = json.loads(report.output)["rows"]
    assert [(r["language"], r["events"]) for r in rows] == [
        ("de", 1),
        ("en", 2),
        ("es", 1),
        ("fr", 1),
        ("und", 1),
    ]
    assert all("source_id" in r for r in rows)
    english = runner.invoke(
        app, ["sentiment", "report", "--language", "EN", "--by", "source", "--json"], env=env
    )
    data = json.loads(english.output)
    assert data["filters"]["languages"] == ["en"] and [r["events"] for r in data["rows"]] == [2]
    table = runner.invoke(app, ["sentiment", "report", "--by", "language"], env=env)
    assert table.exit_code == 0 and table.output.splitlines()[0].split("\t")[0] == "language"
    out = tmp_path / "x.csv"
    exported = runner.invoke(
        app, ["export", "csv", "-o", str(out), "--columns", "id,language,sentiment_label"], env=env
    )
    assert exported.exit_code == 0, exported.output
    rows_csv = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["id"]: r["language"] for r in rows_csv} == {
        "t1_000000": "en",
        "t1_000001": "es",
        "t1_000002": "de",
        "t1_000003": "fr",
        "t1_000004": "und",
        "t1_000005": "",  # no text: no score
        "t1_000006": "en",
    }
    engine.dispose()


def test_installed_command_reports_language_skips(sqlite_url: str, tmp_path: Path) -> None:
    _setup(sqlite_url, _mixed()).dispose()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path), "PATH": ""}
    done = subprocess.run(
        [SENTPIPE, "sentiment", "score"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Scored 3 events, skipped 4 (1 no text, 3 language)" in done.stdout


def test_scores_from_before_0007_keep_their_values_and_have_no_language(
    any_db_url: str, tmp_path: Path
) -> None:
    """Migration 0007 adds columns: stored VADER rows are unchanged, language empty."""
    from alembic import command

    from sentiment_pipeline.db.migrate import alembic_config

    url = parse_database_url(any_db_url)
    engine = _setup(any_db_url, [_event(0, ENGLISH), _event(1, "this is awful and I hate it")])
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
        connection.commit()
    with engine.begin() as connection:  # what a 0006 scorer stored
        connection.execute(
            sa.text(
                "INSERT INTO sentiment_scores (id, occurred_at, model, source, source_id, "
                "event_type, compound, pos, neu, neg, label, text_chars) SELECT id, "
                "occurred_at, 'vader-3.3.2+clean2', source, source_id, event_type, 0.8, 0.5, "
                "0.5, 0.0, 'positive', 10 FROM raw_events"
            )
        )
    before = {
        k: {c: v[c] for c in ("compound", "pos", "neu", "neg")} for k, v in _scores(engine).items()
    }
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
    after = _scores(engine)
    assert {
        k: {c: v[c] for c in ("compound", "pos", "neu", "neg")} for k, v in after.items()
    } == before
    assert {row["language"] for row in after.values()} == {None}
    report = sentiment_report(url, model="vader-3.3.2+clean2", by=("language",))
    assert [(row.language, row.language_label(), row.events) for row in report.rows] == [
        (None, "n/a", 2)
    ]
    engine.dispose()


@pytest.mark.parametrize("code", ["en", "es"])
def test_report_language_filter_without_matches_is_empty(
    sqlite_url: str, tmp_path: Path, code: str
) -> None:
    _setup(sqlite_url, [_event(0, GERMAN)]).dispose()
    url = parse_database_url(sqlite_url)
    score_events(url, ScoreOptions(languages=("any",)), lock_path=tmp_path / "l")
    assert sentiment_report(url, languages=(code,)).rows == []
    assert len(sentiment_report(url, languages=("de",)).rows) == 1


def test_short_english_the_model_half_guesses_as_another_language_is_undetermined() -> None:
    """fastText calls `bad news terrible, horrible day` Catalan at 0.62: below
    MIN_CONFIDENCE it is `und`, so VADER still scores it."""
    assert detect_languages(["Bad news\n\nterrible, horrible day", "horrible day, terrible"]) == [
        UNDETERMINED,
        UNDETERMINED,
    ]


def test_scripts_without_spaces_are_detected() -> None:
    texts = ["これは本当に良いです", "这个真的很好", "ภาษาไทยดีมาก", "好"]
    assert detect_languages(texts) == ["ja", "zh", "th", UNDETERMINED]
