"""The pipelined scorer (sentiment/run.py `_loop`, store.py lanes): crashes, I/O errors,
stops and budgets leave every event processed with exactly one score (or skipped) or
waiting without one, on TimescaleDB, PostgreSQL and SQLite."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.sentiment import ScoreOptions, score_events
from sentiment_pipeline.sentiment import run as run_module
from sentiment_pipeline.sentiment.store import SQLiteStore
from tests.test_rollup import assert_rollup_is_direct
from tests.test_sentiment import _counts, _event, _many, _run, _setup


@pytest.fixture(params=["timescale", "postgres", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=["timescale", "postgres"])
def pg_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def _texts(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["payload"]["body"])


def _consistent(engine: sa.Engine) -> tuple[int, int]:
    """Asserts the invariant of a batch: each processed event has exactly one score row
    (none when it has no text), each waiting one none. Returns (processed, scores)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT r.id, r.processed, r.payload, count(s.id) FROM raw_events r "
                "LEFT JOIN sentiment_scores s ON s.id = r.id AND s.occurred_at = r.occurred_at "
                "GROUP BY r.id, r.occurred_at, r.processed, r.payload"
            )
        ).all()
        orphans = connection.execute(
            sa.text(
                "SELECT count(*) FROM sentiment_scores s WHERE NOT EXISTS (SELECT 1 FROM "
                "raw_events r WHERE r.id = s.id AND r.occurred_at = s.occurred_at)"
            )
        ).scalar_one()
    assert orphans == 0
    processed = scores = 0
    for event_id, done, payload, n in rows:
        body = (json.loads(payload) if isinstance(payload, str) else payload).get("body")
        if done:
            processed += 1
            assert n == (1 if body else 0), event_id
        else:
            assert n == 0, f"{event_id}: a score row but not processed"
        scores += n
    return processed, scores


def _wait_processed(engine: sa.Engine, run: Any, at_least: int) -> None:
    deadline = time.monotonic() + 180  # a slow start on a busy machine is not a failure
    while _counts(engine)[1] < at_least and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    assert run.poll() is None, "the scorer ended before the test could interrupt it"


def test_sigkill_mid_run_loses_nothing_and_scores_nothing_twice(
    db_url: str, tmp_path: Path
) -> None:
    events = _many(5000)
    engine = _setup(db_url, events)
    run = _run(db_url, tmp_path, "--batch-size", "20", "--quiet")
    _wait_processed(engine, run, 300)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL
    processed, scores = _consistent(engine)
    assert 0 < processed < 5000
    assert_rollup_is_direct(engine)  # each batch's rollup part committed with it, or not
    again = _run(db_url, tmp_path, "--json")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    data = json.loads(out)
    assert data["scored"] + data["skipped"] == 5000 - processed
    assert data["scored"] == _texts(events) - scores
    assert _consistent(engine) == (5000, _texts(events))
    assert_rollup_is_direct(engine)
    engine.dispose()


def test_connection_killed_mid_run_exits_3_and_keeps_committed_batches(
    pg_url: str, tmp_path: Path
) -> None:
    events = _many(5000)
    engine = _setup(pg_url, events)
    run = _run(pg_url, tmp_path, "--batch-size", "20", "--quiet")
    _wait_processed(engine, run, 200)
    with engine.connect() as connection:
        killed = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'sentpipe'"
            )
        ).scalar_one()
        connection.commit()
    assert killed >= 1
    _out, err = run.communicate(timeout=120)
    assert run.returncode == 3, err
    engine.dispose()  # its pooled connections may be gone too
    engine = sa.create_engine(parse_database_url(pg_url).sqlalchemy)
    processed, _ = _consistent(engine)
    assert 0 < processed < 5000
    again = _run(pg_url, tmp_path, "--json")
    _out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert _consistent(engine) == (5000, _texts(events))
    engine.dispose()


@pytest.mark.parametrize("workers", [1, 2])
def test_max_events_is_exact(db_url: str, tmp_path: Path, workers: int) -> None:
    engine = _setup(db_url, _many(600))
    run = _run(
        db_url, tmp_path, "--json", "--batch-size", "40", "--max-events", "333",
        "--workers", str(workers),
    )  # fmt: skip
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    data = json.loads(out)
    assert data["scored"] + data["skipped"] == 333
    assert _consistent(engine)[0] == 333
    engine.dispose()


def test_two_pipelined_runs_of_two_workers_take_disjoint_events(
    pg_url: str, tmp_path: Path
) -> None:
    events = _many(3000)
    engine = _setup(pg_url, events)
    args = ("--json", "--batch-size", "30", "--workers", "2")
    runs = [_run(pg_url, tmp_path, *args) for _ in range(2)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        results.append(json.loads(out))
    assert sum(r["scored"] + r["skipped"] for r in results) == 3000
    assert sum(r["scored"] for r in results) == _texts(events)  # nobody scored twice
    assert _consistent(engine) == (3000, _texts(events))
    engine.dispose()


def test_a_stop_finishes_the_batch_in_flight_and_releases_the_next(
    db_url: str, tmp_path: Path
) -> None:
    engine = _setup(db_url, _many(1000))
    done: list[int] = []
    result = score_events(
        parse_database_url(db_url),
        ScoreOptions(batch_size=50),
        lock_path=tmp_path / "sentiment.lock",
        progress=lambda scored, skipped: done.append(scored + skipped),
        stop=lambda: bool(done),
    )
    processed, _ = _consistent(engine)
    assert result.scored + result.skipped == processed == sum(done)
    assert 50 <= processed <= 100  # the first batch and at most the one being scored
    assert result.waiting == 1000 - processed
    engine.dispose()


class _EditingStore(SQLiteStore):
    """Edits (as `sentpipe refresh` does) the first claimed event of the second batch
    between its claim and its finish, from another connection."""

    claims = 0

    def claim(self, n: int, scope: Any, lane: int = 0) -> Any:
        claimed = super().claim(n, scope, lane)
        type(self).claims += 1
        if type(self).claims == 2 and claimed:
            with sqlite3.connect(self._url.sqlite_path) as other:
                other.execute(
                    "UPDATE raw_events SET payload = json_set(payload, '$.body', ?), "
                    "processed = 0, processed_at = NULL WHERE id = ?",
                    ["edited: what a wonderful, wonderful day", claimed[0].id],
                )
        return claimed


def test_sqlite_event_edited_between_claim_and_finish_is_not_marked_with_a_stale_score(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [_event(i, f"plain text number {i}") for i in range(30)]
    engine = _setup(sqlite_url, events)
    monkeypatch.setattr(run_module, "open_store", _EditingStore)
    result = score_events(
        parse_database_url(sqlite_url),
        ScoreOptions(batch_size=10),
        lock_path=tmp_path / "sentiment.lock",
    )
    assert result.scored == 30 and result.skipped == 0  # the edited one counted once
    assert _consistent(engine) == (30, 30)
    edited = _event(10, None)["id"]
    with engine.connect() as connection:
        chars = connection.execute(
            sa.text("SELECT text_chars FROM sentiment_scores WHERE id = :id"), {"id": edited}
        ).scalar_one()
    assert chars == len("edited: what a wonderful, wonderful day")  # scored as edited
    engine.dispose()


# --- the cheaper steps give the same results -----------------------------------------


@given(st.text(alphabet=st.characters(), max_size=300))
def test_blank_collapsing_is_the_regex_one(text: str) -> None:
    from sentiment_pipeline.sentiment.clean import _BLANKS

    assert " ".join(text.split()) == _BLANKS.sub(" ", text).strip()


@given(st.lists(st.sampled_from(["a", "1", "+", "é", "日本", "😀", "  ", "\n", "x1"]), max_size=40))
def test_word_count_stops_early_with_the_same_answer(parts: list[str]) -> None:
    from sentiment_pipeline.sentiment.language import MIN_WORDS, _enough_words, _has_letter

    sample = " ".join(parts)
    full = sum(1 for word in sample.split() if _has_letter(word))
    assert _enough_words(sample) == (full >= MIN_WORDS)
