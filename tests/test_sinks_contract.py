"""One contract for all five sinks (memory, csv, sqlite, postgres, timescale): exact
WriteResult counts, idempotent writes, de-duplication within a batch, and reading back
exactly what was written. Then what only some sinks promise: the database sinks' missing
table message, the memory sink's injected failures, the registry, the CSV file layout."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.dto import RawEventDTO
from sentiment_pipeline.errors import ConfigError, TransientError
from sentiment_pipeline.settings import load_settings
from sentiment_pipeline.sinks import build_sinks, create_sink
from sentiment_pipeline.sinks.base import Sink
from sentiment_pipeline.sinks.csv_sink import COLUMNS, CsvSink
from sentiment_pipeline.sinks.memory import MemorySink
from tests.fixtures.events import event, stored_rows

HOSTILE = 'line1\nline2\r\n"quoted", comma, =1+1 👩‍👩‍👧‍👦 🇺🇦 \u202eevil שלום'

# (id, occurred_at as aware UTC, source, source_id, event_type, payload): what a sink keeps
Row = tuple[str, datetime, str, str, str, dict[str, Any]]


def row_of(item: RawEventDTO) -> Row:
    return (
        item.id,
        item.occurred_at.astimezone(UTC),
        item.source,
        item.source_id,
        item.event_type,
        item.payload,
    )


def rows_of(events: list[RawEventDTO]) -> list[Row]:
    return sorted({row_of(e)[:2]: row_of(e) for e in events}.values(), key=lambda r: r[:2])


@dataclass
class Harness:
    """A sink under test, how to read back what it stored, and how to open a second
    instance over the same storage (a new run; None for the memory sink)."""

    name: str
    sink: Sink
    read_back: Callable[[], list[Row]]
    reopen: Callable[[], Sink] | None


def _read_csv_tree(directory: Path) -> list[Row]:
    rows: list[Row] = []
    limit = csv.field_size_limit(1 << 30)  # payloads may exceed the default 128 KiB
    try:
        for path in directory.rglob("*.csv"):
            with path.open(newline="", encoding="utf-8") as handle:
                rows.extend(
                    (
                        line["id"],
                        datetime.fromisoformat(line["occurred_at"]).astimezone(UTC),
                        line["source"],
                        line["source_id"],
                        line["event_type"],
                        json.loads(line["payload"]),
                    )
                    for line in csv.DictReader(handle)
                )
    finally:
        csv.field_size_limit(limit)  # the sinks under test must cope with the default
    return sorted(rows, key=lambda r: r[:2])


def _read_database(url: str) -> list[Row]:
    return [
        (r.id, r.occurred_at, r.source, r.source_id, r.event_type, r.payload)
        for r in stored_rows(url)
    ]


@pytest.fixture(
    params=[
        "memory",
        "csv",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("timescale", marks=pytest.mark.timescale),
    ]
)
def harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    """Each sink built through the registry, as `--sink NAME` would build it."""
    kind = str(request.param)
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path / "data"))
    url = ""
    if kind in {"sqlite", "postgres", "timescale"}:
        url = str(request.getfixturevalue(f"{kind}_url"))
        init_db(parse_database_url(url))
        monkeypatch.setenv("SENTPIPE_DATABASE_URL", url)
    registry_name = {"postgres": "timescale"}.get(kind, kind)  # one sink for both servers
    settings = load_settings()

    def new_sink() -> Sink:
        return create_sink(registry_name, settings)

    sink = new_sink()
    opened = [sink]

    def reopen() -> Sink:
        opened.append(new_sink())
        return opened[-1]

    if kind == "memory":
        assert isinstance(sink, MemorySink)
        memory = sink
        yield Harness(kind, sink, lambda: rows_of(list(memory.rows.values())), None)
    elif kind == "csv":
        yield Harness(kind, sink, lambda: _read_csv_tree(settings.csv_path), reopen)
    else:
        yield Harness(kind, sink, lambda: _read_database(url), reopen)
    for each in opened:
        each.close()


def ids(events: Any) -> list[str]:
    return [e.id for e in events]


def test_write_reports_the_new_in_order_and_stores_them(harness: Harness) -> None:
    batch = [event(n, payload={"title": f"post {n}", "selftext": HOSTILE}) for n in range(30)]
    result = harness.sink.write(batch)
    assert ids(result.new) == ids(batch)
    assert (result.inserted, result.duplicates) == (30, 0)
    assert harness.read_back() == rows_of(batch)


def test_writing_again_is_idempotent(harness: Harness) -> None:
    batch = [event(n) for n in range(20)]
    harness.sink.write(batch)
    again = harness.sink.write(batch)
    assert (again.inserted, again.duplicates) == (0, 20)
    assert list(again.new) == []
    if harness.reopen is not None:  # a new run over the same storage
        next_run = harness.reopen().write(batch)
        assert (next_run.inserted, next_run.duplicates) == (0, 20)
    assert harness.read_back() == rows_of(batch)


def test_repeats_within_a_batch_are_stored_once(harness: Harness) -> None:
    one, two, three = event(1), event(2), event(3)
    result = harness.sink.write([one, two, one, three, two, one])
    assert ids(result.new) == ids([one, two, three])
    assert (result.inserted, result.duplicates) == (3, 3)
    assert harness.read_back() == rows_of([one, two, three])


def test_a_mixed_batch_reports_exactly_the_new(harness: Harness) -> None:
    harness.sink.write([event(n) for n in range(10)])
    mixed = [event(n) for n in range(5, 15)] + [event(12)]  # overlap plus an in-batch repeat
    result = harness.sink.write(mixed)
    assert ids(result.new) == ids(event(n) for n in range(10, 15))
    assert (result.inserted, result.duplicates) == (5, 6)
    assert harness.read_back() == rows_of([event(n) for n in range(15)])


def test_an_empty_batch_writes_nothing(harness: Harness) -> None:
    result = harness.sink.write([])
    assert (list(result.new), result.duplicates) == ([], 0)
    assert harness.read_back() == []


def test_same_id_at_another_time_is_another_row(harness: Harness) -> None:
    pair = [event(1), event(1, occurred_at=1_600_000_000)]
    result = harness.sink.write(pair)
    assert (result.inserted, result.duplicates) == (2, 0)
    assert harness.read_back() == rows_of(pair)


def test_hostile_text_round_trips_cleaned(harness: Harness) -> None:
    huge = "😀" * 50_000 + "x" * 100_000
    special = event(7, payload={"title": "t\x00itle", "body": huge, "nested": {"k\x00": [HOSTILE]}})
    harness.sink.write([special])
    ((*_, payload),) = harness.read_back()
    assert payload == {"title": "t\ufffditle", "body": huge, "nested": {"k\ufffd": [HOSTILE]}}


def test_a_new_run_skips_a_stored_payload_bigger_than_128_kib(harness: Harness) -> None:
    if harness.reopen is None:
        pytest.skip("the memory sink keeps nothing across runs")
    big = event(7, payload={"body": "x" * 200_000})
    harness.sink.write([big])
    result = harness.reopen().write([big, event(8)])
    assert ids(result.new) == [event(8).id]
    assert result.duplicates == 1
    assert harness.read_back() == rows_of([big, event(8)])


def test_an_offset_time_is_stored_as_the_same_instant(harness: Harness) -> None:
    harness.sink.write([event(3, occurred_at="2024-03-10T23:30:00-05:00")])
    ((_id, moment, *_),) = harness.read_back()
    assert moment == datetime(2024, 3, 11, 4, 30, tzinfo=UTC)


# What only some sinks promise --------------------------------------------------------


def test_missing_table_says_run_db_init(any_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_DATABASE_URL", any_db_url)
    sink = create_sink("database", load_settings())
    try:
        with pytest.raises(ConfigError) as raised:
            sink.write([event(1)])
    finally:
        sink.close()
    assert "raw_events does not exist" in raised.value.reason
    assert "sentpipe db init" in raised.value.one_line()


def test_memory_sink_injected_failures() -> None:
    sink = MemorySink(fail_times=1)
    with pytest.raises(TransientError):
        sink.write([event(1)])
    assert sink.write([event(1), event(1)]).inserted == 1
    assert sink.write([event(1)]).duplicates == 1
    always = MemorySink(fail_always=True)
    for _ in range(3):
        with pytest.raises(TransientError):
            always.write([event(1)])
    assert always.rows == {}


def test_registry_resolves_database_and_orders_leaders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path))
    sinks = build_sinks(["csv", "database", "sqlite"], load_settings())
    assert [s.name for s in sinks] == ["sqlite", "csv"]
    with pytest.raises(ConfigError) as raised:
        build_sinks(["nope"], load_settings())
    assert "Choose from: csv, database, memory, sqlite, timescale" in raised.value.one_line()


# The CSV sink's files ----------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_layout_and_rfc4180(tmp_path: Path) -> None:
    sink = CsvSink(tmp_path)
    late = event(1, occurred_at="2024-01-01T23:59:59.999999Z", payload={"selftext": HOSTILE})
    early = event(2, occurred_at="2024-01-02T00:00:00Z", source_id="datascience")
    result = sink.write([late, early])
    assert result.inserted == 2
    day1 = tmp_path / "reddit" / "python" / "2024-01-01.csv"
    day2 = tmp_path / "reddit" / "datascience" / "2024-01-02.csv"
    rows = read_csv(day1)
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["id"] == late.id
    assert json.loads(rows[0]["payload"])["selftext"] == HOSTILE
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
