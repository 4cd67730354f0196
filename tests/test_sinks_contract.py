"""The same contract for every database sink (TimescaleDB, PostgreSQL, SQLite, memory),
plus the CSV sink's layout and de-duplication."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.dto import RawEventDTO, Validated, validate_record
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.settings import load_settings
from sentiment_pipeline.sinks import build_sinks, create_sink
from sentiment_pipeline.sinks.base import Sink
from sentiment_pipeline.sinks.csv_sink import COLUMNS, CsvSink
from sentiment_pipeline.sinks.memory import MemorySink

HOSTILE = 'line1\nline2\r\n"quoted", comma, =1+1 👩‍👩‍👧‍👦 🇺🇦 \u202eevil שלום'


def event(n: int, **changes: Any) -> RawEventDTO:
    raw: dict[str, Any] = {
        "id": f"t3_{n:x}",
        "occurred_at": 1700000000 + n * 3600.5,
        "source": "reddit",
        "source_id": "python",
        "event_type": "submission",
        "payload": {"title": f"post {n}", "selftext": HOSTILE, "score": n, "edited": 1.5},
    }
    raw.update(changes)
    checked = validate_record(raw)
    assert isinstance(checked, Validated)
    return checked.event


@pytest.fixture
def database_sink(
    any_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Sink, str]]:
    init_db(parse_database_url(any_db_url))
    monkeypatch.setenv("SENTPIPE_DATABASE_URL", any_db_url)
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path))
    sink = create_sink("database", load_settings())
    yield sink, any_db_url
    sink.close()


def stored(url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(parse_database_url(url).sqlalchemy)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT id, occurred_at, source, source_id, event_type, payload "
                "FROM raw_events ORDER BY id"
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_idempotent_exact_counts(database_sink: tuple[Sink, str]) -> None:
    sink, url = database_sink
    batch = [event(n) for n in range(50)]
    first = sink.write(batch)
    assert (first.inserted, first.duplicates) == (50, 0)
    assert [e.id for e in first.new] == [e.id for e in batch]
    second = sink.write(batch)
    assert (second.inserted, second.duplicates) == (0, 50)
    assert list(second.new) == []
    assert len(stored(url)) == 50


def test_mixed_batch_reports_exactly_the_new(database_sink: tuple[Sink, str]) -> None:
    sink, url = database_sink
    sink.write([event(n) for n in range(0, 10)])
    mixed = [event(n) for n in range(5, 15)] + [event(12)]  # overlap plus an in-batch repeat
    result = sink.write(mixed)
    assert [e.id for e in result.new] == [event(n).id for n in range(10, 15)]
    assert result.duplicates == 6
    assert len(stored(url)) == 15


def test_same_id_other_time_is_a_different_row(database_sink: tuple[Sink, str]) -> None:
    sink, _url = database_sink
    result = sink.write([event(1), event(1, occurred_at=1600000000)])
    assert result.inserted == 2


def test_hostile_text_round_trips(database_sink: tuple[Sink, str]) -> None:
    sink, url = database_sink
    huge = "😀" * 50_000 + "x" * 100_000
    special = event(7, payload={"title": "t\x00itle", "body": huge, "nested": {"k\x00": [HOSTILE]}})
    sink.write([special])
    (row,) = stored(url)
    payload = row[5] if isinstance(row[5], dict) else __import__("json").loads(row[5])
    assert payload == {"title": "t\ufffditle", "body": huge, "nested": {"k\ufffd": [HOSTILE]}}


def test_timezone_is_the_same_instant(database_sink: tuple[Sink, str]) -> None:
    sink, url = database_sink
    sink.write([event(3, occurred_at="2024-03-10T23:30:00-05:00")])
    (row,) = stored(url)
    moment = row[1]
    if isinstance(moment, str):  # SQLite hands back text via a text() query
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    assert moment == datetime(2024, 3, 11, 4, 30, tzinfo=UTC)


def test_missing_table_says_run_db_init(
    any_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTPIPE_DATABASE_URL", any_db_url)
    sink = create_sink("database", load_settings())
    with pytest.raises(ConfigError) as raised:
        sink.write([event(1)])
    assert "raw_events does not exist" in raised.value.reason
    assert "sentpipe db init" in raised.value.one_line()
    sink.close()


def test_memory_sink_contract_and_failures() -> None:
    sink = MemorySink(fail_times=1)
    from sentiment_pipeline.errors import TransientError

    with pytest.raises(TransientError):
        sink.write([event(1)])
    assert sink.write([event(1), event(1)]).inserted == 1
    assert sink.write([event(1)]).duplicates == 1


def test_registry_resolves_database_and_orders_leaders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SENTPIPE_DATABASE_URL", raising=False)
    sinks = build_sinks(["csv", "database", "sqlite"], load_settings())
    assert [s.name for s in sinks] == ["sqlite", "csv"]
    with pytest.raises(ConfigError) as raised:
        build_sinks(["nope"], load_settings())
    assert "Choose from: csv, database, memory, sqlite, timescale" in raised.value.one_line()


# CSV sink --------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_layout_and_rfc4180(tmp_path: Path) -> None:
    sink = CsvSink(tmp_path)
    late = event(1, occurred_at="2024-01-01T23:59:59.999999Z")
    early = event(2, occurred_at="2024-01-02T00:00:00Z", source_id="datascience")
    result = sink.write([late, early])
    assert result.inserted == 2
    day1 = tmp_path / "reddit" / "python" / "2024-01-01.csv"
    day2 = tmp_path / "reddit" / "datascience" / "2024-01-02.csv"
    rows = read_csv(day1)
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["id"] == late.id
    assert __import__("json").loads(rows[0]["payload"])["selftext"] == HOSTILE
    assert rows[0]["occurred_at"] == "2024-01-01T23:59:59.999999Z"  # the export form
    assert read_csv(day2)[0]["source_id"] == "datascience"
    raw = day1.read_bytes()
    assert raw.startswith(b"id,occurred_at,") and raw.endswith(b"\r\n")


def test_csv_appends_with_one_header_and_skips_known_keys(tmp_path: Path) -> None:
    CsvSink(tmp_path).write([event(1, occurred_at="2024-01-01T10:00:00Z")])
    again = CsvSink(tmp_path)  # a new run
    result = again.write(
        [event(1, occurred_at="2024-01-01T10:00:00Z"), event(2, occurred_at="2024-01-01T11:00:00Z")]
    )
    assert (result.inserted, result.duplicates) == (1, 1)
    path = tmp_path / "reddit" / "python" / "2024-01-01.csv"
    assert [r["id"] for r in read_csv(path)] == [event(1).id, event(2).id]
    assert path.read_text(encoding="utf-8").count("id,occurred_at") == 1


def test_csv_cuts_a_torn_last_row(tmp_path: Path) -> None:
    sink = CsvSink(tmp_path)
    sink.write([event(1, occurred_at="2024-01-01T10:00:00Z")])
    path = tmp_path / "reddit" / "python" / "2024-01-01.csv"
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write('t3_torn,2024-01-01T11:00:00+00:00,reddit,python,submission,"{""ti')
    CsvSink(tmp_path).write([event(2, occurred_at="2024-01-01T12:00:00Z")])
    assert [r["id"] for r in read_csv(path)] == [event(1).id, event(2).id]


def test_pandas_reads_it(tmp_path: Path) -> None:
    import pandas

    CsvSink(tmp_path).write([event(1, occurred_at="2024-01-01T10:00:00Z")])
    frame = pandas.read_csv(tmp_path / "reddit" / "python" / "2024-01-01.csv")
    assert frame.shape[0] == 1
