"""The ingest fast paths give exactly what the slow, obvious forms give.

- `sources.ndjson.may_differ` (substring searches over a whole chunk) answers as the
  `_ORJSON_DIFFERS` regex it replaces, on single lines and on many lines at once, and
  `differing_lines` names exactly the lines of a block the regex matches;
- `sinks.csv_sink.csv_row` writes the bytes `csv.writer` writes (the CSV sink's files and
  `rewrite_payloads` must agree byte for byte);
- `dto.validate_plain` gives the same event as the full validation, or defers to it.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline.dto import Validated, dump_json, validate_plain, validate_record
from sentiment_pipeline.sinks.csv_sink import CsvSink, csv_row
from sentiment_pipeline.sources.ndjson import _ORJSON_DIFFERS, differing_lines, may_differ
from tests.fixtures.events import event

_NUMERIC = st.text(alphabet='0123456789eE-.+x \n"{}', max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.lists(_NUMERIC, min_size=1, max_size=5))
def test_may_differ_is_the_regex(lines: list[str]) -> None:
    for line in lines:
        data = line.encode()
        assert may_differ(data) == bool(_ORJSON_DIFFERS.search(data))
    chunk = "\n".join(lines).encode()
    assert may_differ(chunk) == bool(_ORJSON_DIFFERS.search(chunk))


@settings(max_examples=400, deadline=None)
@given(st.lists(_NUMERIC.map(lambda text: text.replace("\n", " ")), max_size=8), _NUMERIC)
def test_differing_lines_are_the_regex_matches(lines: list[str], after: str) -> None:
    encoded = [line.encode() for line in lines]
    expected = {i for i, line in enumerate(encoded) if _ORJSON_DIFFERS.search(line)}
    # split at the newline (a dump block, maybe with part of the next line after it)
    block = b"\n".join(encoded) + (b"\n" + after.encode() if encoded else b"")
    assert differing_lines(encoded, block, 1) == expected
    # lines that keep their newline (an NDJSON file's lines), joined as they are
    kept = [line + b"\n" for line in encoded]
    assert differing_lines(kept, b"".join(kept), 0) == expected


def test_may_differ_examples() -> None:
    assert may_differ(b'{"n":1234567890123456789}')  # 19 digits
    assert not may_differ(b'{"n":123456789012345678}')  # 18 digits
    assert may_differ(b'{"x":1e-5}') and may_differ(b'{"x":2E-7}')
    assert may_differ(b'{"x":0.00001}')
    assert not may_differ(b'{"t":"re-do e-mail","x":1e5,"y":0.001}')


_FIELD = st.text(alphabet=st.sampled_from('a,"\r\n \t\u2028é💥;\\x'), max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.lists(_FIELD, min_size=2, max_size=9))
def test_csv_row_is_csv_writer(fields: list[str]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(fields)
    assert csv_row(fields) == buffer.getvalue()


_ID = st.text(alphabet=st.sampled_from('a,"; é💥x'), min_size=1, max_size=8).filter(str.strip)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_ID, _FIELD), min_size=1, max_size=6, unique_by=lambda t: t[0]))
def test_csv_sink_rows_are_csv_writer(tmp_path_factory: Any, items: list[tuple[str, str]]) -> None:
    """The sink's unrolled rows are `csv.writer`'s bytes (ids and payload text with quotes,
    commas, CR/LF and non-ASCII; an empty payload object is the one left unquoted)."""
    folder = tmp_path_factory.mktemp("csv")
    events = [
        event(n, id=ident, payload={"body": body} if n % 3 else {})
        for n, (ident, body) in enumerate(items, start=1)
    ]
    CsvSink(folder).write(events)
    written = b"".join(path.read_bytes() for path in sorted(folder.rglob("*.csv")))
    rows = list(csv.reader(io.StringIO(written.decode(), newline="")))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    assert written == buffer.getvalue().encode()
    stored = [(row[0], row[5]) for row in rows if row[0] != "id"]
    assert sorted(stored) == sorted((e.id, e.payload_json) for e in events)


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "t3_abc",
        "occurred_at": 1_700_000_000,
        "source": "reddit",
        "source_id": "Python",
        "event_type": "submission",
        "payload": {"title": "hello", "n": [1, 2.5, None]},
    }
    record.update(changes)
    return record


def test_validate_plain_matches_the_full_path() -> None:
    for record in (
        _record(),
        _record(occurred_at=1_700_000_000.25),
        _record(occurred_at="2024-01-02T03:04:05+02:00"),
    ):
        text = dump_json(record["payload"]).encode()
        quick = validate_plain(record, 1 << 20, text)
        full = validate_record(dict(record), 1 << 20)
        assert isinstance(quick, Validated) and isinstance(full, Validated)
        assert quick.event.model_dump() == full.event.model_dump()
        assert quick.event.payload_json == full.event.payload_json
        assert quick.sanitized is full.sanitized is False


def test_validate_plain_defers_whatever_needs_a_reason_or_cleaning() -> None:
    cases = [
        _record(id=""),
        _record(id="a\tb"),
        _record(source_id="../etc"),
        _record(occurred_at=True),
        _record(occurred_at=10**12),  # far in the future
        _record(occurred_at=float("nan")),
        _record(payload={"t": "nul\x00"}),
        _record(id="x\ud800"),
        _record(payload={"big": "x" * 100}),  # over the limit given below
    ]
    for record in cases:
        text = dump_json(record["payload"]) if "\ud800" not in record["id"] else "{}"
        assert validate_plain(record, 64, text.encode()) is None, record


def _nested(levels: int) -> dict[str, Any]:
    """A payload `levels` objects deep (the payload itself is level 1)."""
    value: dict[str, Any] = {"end": 1}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


def test_validate_plain_measures_nesting_not_brackets() -> None:
    wide = {f"k{n}": {"a": [1, {"b": 2}]} for n in range(100)}  # 300 brackets, 4 deep
    for payload in (wide, _nested(64)):
        quick = validate_plain(_record(payload=payload), 1 << 20, dump_json(payload).encode())
        assert isinstance(quick, Validated)
        assert quick.event.payload == payload
    too_deep = _nested(65)
    deep_text = dump_json(too_deep).encode()
    assert validate_plain(_record(payload=too_deep), 1 << 20, deep_text) is None
    assert "deeper than 64" in str(validate_record(_record(payload=too_deep)))


def test_validate_plain_sizes_payloads_in_utf8_bytes() -> None:
    payload = {"t": "é" * 40}  # 40 characters, 80 bytes of text
    text = dump_json(payload)
    utf8 = text.encode()
    assert validate_plain(_record(payload=payload), len(text) + 40, utf8) is not None
    assert validate_plain(_record(payload=payload), len(text) + 39, utf8) is None


def test_a_cleaned_payload_is_written_as_dump_json_writes_it() -> None:
    """Cleaning a parsed payload (NUL -> U+FFFD) re-serialises it; orjson's quick form
    must equal `dump_json`'s, also where they differ (small floats) and for big ints."""
    for payload in (
        {"t": "nul\x00here", "n": [1, 2.5, None, True], "s": "é 💥 \u2028"},
        {"t": "nul\x00here", "tiny": 1e-05},
        {"t": "nul\x00here", "big": 2**70},
    ):
        checked = validate_record(_record(payload=payload), 1 << 20, dump_json(payload))
        assert isinstance(checked, Validated) and checked.sanitized
        cleaned = {**payload, "t": "nul\ufffdhere"}
        assert checked.event.payload_json == dump_json(cleaned)
        assert checked.event.payload == cleaned
