"""The ingest fast paths give exactly what the slow, obvious forms give.

- `sources.ndjson.may_differ` (substring searches over a whole chunk) answers as the
  `_ORJSON_DIFFERS` regex it replaces, on single lines and on many lines at once;
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
from sentiment_pipeline.sinks.csv_sink import csv_row
from sentiment_pipeline.sources.ndjson import _ORJSON_DIFFERS, may_differ

_NUMERIC = st.text(alphabet='0123456789eE-.+x \n"{}', max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.lists(_NUMERIC, min_size=1, max_size=5))
def test_may_differ_is_the_regex(lines: list[str]) -> None:
    for line in lines:
        data = line.encode()
        assert may_differ(data) == bool(_ORJSON_DIFFERS.search(data))
    chunk = "\n".join(lines).encode()
    assert may_differ(chunk) == bool(_ORJSON_DIFFERS.search(chunk))


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
        text = dump_json(record["payload"])
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
        assert validate_plain(record, 64, text) is None, record
