"""Property: hostile batches go validation -> every sink -> export -> read back intact.

Hypothesis generates records with any Unicode (lone surrogates, NUL, RTL overrides, emoji
sequences), deep and wide JSON, extreme numbers, timestamps across years 1-9999 and huge
strings, and pushes each batch through the pipeline into SQLite, PostgreSQL and
TimescaleDB (each with a CSV sink behind it). For every batch: no exception escapes; each
record is stored exactly as validation cleaned it or dead-lettered with a reason; the rest
of the batch is stored; the exported CSV bytes are identical on the three backends; the
CSV sink's files read back to the same events. CI runs a fixed, derandomized set of
examples (`CI=true`); locally the seed varies.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
import tempfile
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.dto import MAX_DEPTH, RawEventDTO, Validated, validate_record
from sentiment_pipeline.export import export_csv
from sentiment_pipeline.export.columns import ALL_COLUMNS
from sentiment_pipeline.pipeline import PipelineOptions, run
from sentiment_pipeline.pipeline.deadletter import DeadLetterWriter
from sentiment_pipeline.sinks.csv_sink import CsvSink
from sentiment_pipeline.sinks.postgres import PostgresSink
from sentiment_pipeline.sinks.sqlite import SqliteSink
from sentiment_pipeline.timeparse import canonical_text

IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
# Everything but ingested_at, which each backend stamps itself.
COLUMNS = tuple(c for c in ALL_COLUMNS if c != "ingested_at")

SPECIALS = [
    "\x00",
    "\ud83d",
    "\udc80",
    "\ud83d\ude00",  # a pair as two code points: still two lone surrogates
    "\u202e",
    "\u2028",
    "👩\u200d👩\u200d👧\u200d👦",
    "🇺🇦",
    "\r\n",
    '"',
    ",",
    "=1+1",
    "-5",
    "-.5",
    "-1.2.3",
    "\\N",
    "\t",
    "é",
]
text = st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(max_size=6)), max_size=6).map("".join)
huge = st.sampled_from(["x" * 200_000, "😀" * 60_000, "\u202e" * 40_000 + "\x00"])
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.sampled_from([10**4000, -(10**300), 2**63, -(2**63) - 1, 0]),
    st.floats(),  # NaN and infinities included: those records are dead-lettered
    st.sampled_from([1e308, -1e-320, 5e-324, -0.0, 0.1, 1e16, 123456789.123456789]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=24,
)


@st.composite
def deep(draw: st.DrawFn) -> Any:
    value: Any = draw(scalars)
    for level in range(draw(st.integers(MAX_DEPTH - 3, MAX_DEPTH + 2)) - 1):
        value = [value] if level % 2 else {draw(text): value}
    return value


payloads = st.dictionaries(
    text,
    st.one_of(json_values, huge, deep(), st.lists(st.integers(), min_size=200, max_size=300)),
    max_size=5,
)
moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime.now() - timedelta(days=2),
    timezones=st.just(UTC),
)


@st.composite
def occurred(draw: st.DrawFn) -> Any:
    moment = draw(moments)
    form = draw(st.sampled_from(["iso", "offset", "epoch", "datetime"]))
    if form == "iso":
        return moment.isoformat().replace("+00:00", "Z")
    if form == "offset":  # near year 1, a positive offset falls outside: dead-lettered
        return moment.astimezone(timezone(timedelta(hours=draw(st.integers(-12, 12))))).isoformat()
    if form == "epoch":
        return moment.timestamp()
    return moment


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    size = draw(st.integers(1, 6))
    return [
        {
            "id": f"{n}-{draw(text)}",
            "occurred_at": draw(occurred()),
            "source": draw(st.sampled_from(["reddit", "custom"])),
            "source_id": draw(st.sampled_from(["python", "Python", "data_sci", "a.b-c"])),
            "event_type": draw(st.sampled_from(["submission", "comment", "ev\ud83dent", "e\nv"])),
            "payload": draw(payloads),
        }
        for n in range(size)
    ]


def _decimal_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _clear(url: DatabaseURL) -> None:
    if url.backend == "sqlite":
        import sqlite3

        with sqlite3.connect(url.sqlite_path) as conn:
            conn.execute("DELETE FROM raw_events")
        return
    with psycopg.connect(url.libpq, autocommit=True) as conn:
        conn.execute("DELETE FROM raw_events")


def _sink(url: DatabaseURL) -> SqliteSink | PostgresSink:
    return SqliteSink(url) if url.backend == "sqlite" else PostgresSink(url)


def _store(url: DatabaseURL, batch: list[dict[str, Any]], work: Path) -> tuple[Any, Path]:
    """One pipeline run into `url` plus a CSV sink; returns (result, dead-letter dir)."""
    _clear(url)
    letters = work / "dead-letter"
    sinks = [_sink(url), CsvSink(work / "csv")]

    async def source() -> Any:
        for record in batch:
            yield record

    with closing(DeadLetterWriter(letters)) as dead_letters:
        try:
            result = asyncio.run(
                run(
                    source(),
                    sinks,
                    options=PipelineOptions(batch_size=3),
                    dead_letters=dead_letters,
                )
            )
        finally:
            for sink in sinks:  # ours: the pipeline leaves them open
                sink.close()
    return result, letters


def _export(url: DatabaseURL, excel_safe: bool) -> bytes:
    out = io.BytesIO()
    export_csv(url, out, columns=COLUMNS, excel_safe=excel_safe)
    return out.getvalue()


def _check_csv_sink(directory: Path, expected: dict[str, RawEventDTO]) -> None:
    csv.field_size_limit(sys.maxsize)
    found: dict[str, dict[str, str]] = {}
    for path in directory.rglob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                found[row["id"]] = row
    assert set(found) == set(expected)
    for key, event in expected.items():
        row = found[key]
        assert row["occurred_at"] == canonical_text(event.occurred_at)
        assert row["payload"] == event.payload_json
        assert row["source_id"] == event.source_id and row["event_type"] == event.event_type


@pytest.fixture
def urls(timescale_url: str, postgres_url: str, sqlite_url: str) -> list[DatabaseURL]:
    parsed = [parse_database_url(u) for u in (timescale_url, postgres_url, sqlite_url)]
    for url in parsed:
        init_db(url)
    return parsed


@settings(
    max_examples=25,
    derandomize=IN_CI,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(batch=batches())
def test_hostile_batches_round_trip_on_every_backend(
    urls: list[DatabaseURL], tmp_path: Path, batch: list[dict[str, Any]]
) -> None:
    checked = [validate_record(record) for record in batch]  # never raises
    valid = {c.event.id: c.event for c in checked if isinstance(c, Validated)}
    rejected = len(batch) - len(valid)
    exports: list[tuple[bytes, bytes]] = []
    for url in urls:
        work = Path(tempfile.mkdtemp(dir=tmp_path))
        result, letters = _store(url, batch, work)
        assert result.errors == [] and not result.spooled
        assert (result.valid, result.invalid, result.inserted) == (len(valid), rejected, len(valid))
        lines = [
            json.loads(line)
            for path in letters.glob("*.ndjson")
            for line in path.read_text(encoding="utf-8").split("\n")
            if line
        ]
        assert len(lines) == rejected and all(line["error"] for line in lines)
        _check_csv_sink(work / "csv", valid)

        plain = _export(url, excel_safe=False)
        rows = list(csv.DictReader(io.StringIO(plain.decode("utf-8"), newline="")))
        assert [row["id"] for row in rows] == [
            e.id for e in sorted(valid.values(), key=lambda e: (e.occurred_at, e.id.encode()))
        ]
        for row in rows:
            event = valid[row["id"]]
            assert row["occurred_at"] == canonical_text(event.occurred_at)
            assert (row["source"], row["source_id"], row["event_type"]) == (
                event.source,
                event.source_id,
                event.event_type,
            )
            assert _decimal_json(row["payload"]) == _decimal_json(event.payload_json)
        exports.append((plain, _export(url, excel_safe=True)))
    assert exports[0] == exports[1] == exports[2], "CSV bytes differ between backends"
