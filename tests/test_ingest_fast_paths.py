"""The ingest fast paths give exactly what the slow, obvious forms give.

- `sources.jsonlines.may_differ` (substring searches over a whole chunk) answers as the
  `_ORJSON_DIFFERS` regex it replaces, on single lines and on many lines at once, and
  `differing_lines` names exactly the lines of a block the regex matches;
- `sinks.csv_sink.csv_row` writes the bytes `csv.writer` writes (the CSV sink's files and
  `rewrite_payloads` must agree byte for byte);
- `dto.validate_plain` gives the same event as the full validation, or defers to it;
- `sources.jsonlines.parse_cleaned` (cleaning in the text, before parsing) gives the value
  the standard parser and validation's cleaning give, or defers to them; a dump's or an
  NDJSON file's blocks give the same items with it and without it.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.dto import (
    Validated,
    dump_json,
    ship,
    unship,
    validate_plain,
    validate_record,
)
from sentiment_pipeline.dto.clean import Unfit, clean
from sentiment_pipeline.sinks.csv_sink import CsvSink, csv_row
from sentiment_pipeline.sources import blocks
from sentiment_pipeline.sources.jsonlines import (
    _ORJSON_DIFFERS,
    differing_lines,
    may_differ,
    parse_cleaned,
    parse_line,
)
from sentiment_pipeline.sources.ndjson import validated_block
from sentiment_pipeline.sources.reddit_dump import FILTERED, DumpFilter, dump_block, hints_from_name
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


# Cleaning in the text (`parse_cleaned`): JSON text pieces, as bytes, with every kind of
# thing validation replaces by U+FFFD and every near miss (an escaped backslash before
# `u0000`, a surrogate pair, a pair in upper case, a lone half followed by other escapes).
_PIECES = st.sampled_from(
    [
        b"a",
        b"\xc3\xa9",  # é
        b"\xf0\x9f\x98\x80",  # an emoji, raw
        b"\\ud83d",
        b"\\uDE00",
        b"\\ud83d\\ude00",
        b"\\uD83D\\uDE00",
        b"\\ud83d\\ud83d\\ude00",
        b"\\ud83d\\u0041",
        b"\\u0000",
        b"\\\\u0000",
        b"\\\\ud83d",
        b"\\\\\\ud800",
        b"\\\\",
        b'\\"',
        b"\\n",
        b"\\u00e9",
        b"\xff",
        b"\xe2\x82",  # a sequence cut short
        b"\xed\xa0\x80",  # a surrogate in UTF-8: undecodable
        b"\xef\xbf\xbd",  # U+FFFD itself
    ]
)
_STRINGS = st.lists(_PIECES, max_size=5).map(lambda pieces: b'"' + b"".join(pieces) + b'"')


@st.composite
def _object_texts(draw: st.DrawFn, head: bytes) -> bytes:
    """A JSON object's text: `head` (its first members), then members whose keys and
    values are `_STRINGS` (keys may collide once cleaned)."""
    members = [head] if head else []
    for _ in range(draw(st.integers(0, 4))):
        members.append(draw(_STRINGS) + b":" + draw(_STRINGS | st.sampled_from([b"1", b"[]"])))
    return b"{" + b",".join(members) + b"}"


def _standard(line: bytes) -> Any:
    """What the standard path makes of a line: parsed, then cleaned (or the refusal)."""
    value = parse_line(line, 2)
    try:
        return clean(value)
    except Unfit:
        return "refused"


@settings(max_examples=500, deadline=None)
@given(_object_texts(b""))
def test_parse_cleaned_gives_the_standard_paths_cleaned_value(line: bytes) -> None:
    cleaned = parse_cleaned(line)
    if cleaned is None:
        return
    value, text = cleaned
    assert value == _standard(line)
    assert text == dump_json(value).encode()


def test_parse_cleaned_leaves_merged_keys_and_clean_lines_to_the_standard_path() -> None:
    merged = b'{"k\\ud800":1,"k\\u0000":2}'  # one key once cleaned: validation refuses it
    assert _standard(merged) == "refused"
    assert parse_cleaned(merged) is None
    assert parse_cleaned(b'{"a":"\\\\u0000 \\ud83d\\ude00 \\u00e9"}') is None  # nothing to clean
    # A repeated key dropped the value that needed cleaning: not sanitized, so not here.
    assert parse_cleaned(b'{"a":"\\ud83d","a":"x"}') is None
    assert parse_cleaned(b'{"a":"\\ud83d"}') == ({"a": "\ufffd"}, '{"a":"\ufffd"}'.encode())
    assert parse_cleaned(b'{"a":"\xe2\x82!"}')[0] == {"a": "\ufffd\ufffd!"}  # one per byte


def _without_cleaning(job: Any, monkeypatch: pytest.MonkeyPatch, module: Any) -> Any:
    with monkeypatch.context() as patched:
        patched.setattr(module, "parse_cleaned", lambda line: None)
        return job()


def _comparable(items: list[Any]) -> list[Any]:
    return [
        (item.sanitized, item.event.model_dump(), item.event.payload_bytes)
        if isinstance(item, Validated)
        else item
        for item in unship(ship(items, FILTERED), FILTERED)
    ]


_DUMP_HEAD = st.sampled_from(
    [
        b'"name":"t3_a1","subreddit":"Python","created_utc":1700000000',
        b'"id":"b2","subreddit":"python","created_utc":"1600000000","title":"x"',
        b'"name":"t1_c3","created_utc":1.5e9,"link_id":"t3_a1"',  # no subreddit
        b'"name":"t3_d4","subreddit":"py\\ud800","created_utc":1700000000',
        b'"name":"t3_e5","subreddit":"rust","created_utc":"17\\u0000"',
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_DUMP_HEAD.flatmap(_object_texts), min_size=1, max_size=6), st.booleans())
def test_dump_blocks_give_what_the_standard_path_gives(
    monkeypatch: pytest.MonkeyPatch, lines: list[bytes], only_python: bool
) -> None:
    data = b"\n".join(lines) + b"\n"
    filters = DumpFilter(frozenset({"python"}) if only_python else frozenset())
    hints = hints_from_name("python_submissions.zst")

    def job() -> list[Any]:
        return dump_block(3, list(lines), data, hints, None, filters, "f.zst", 1 << 20)

    assert _comparable(job()) == _comparable(_without_cleaning(job, monkeypatch, blocks))


_EVENT_HEAD = st.sampled_from(
    [
        b'"id":"t3_a","occurred_at":1700000000,"source":"reddit","source_id":"Python",'
        b'"event_type":"submission","payload":',
        b'"id":"t3_\\ud800","occurred_at":"2024-01-02T03:04:05Z","source":"reddit",'
        b'"source_id":"python","event_type":"comment","payload":',
        b'"id":"x","occurred_at":1700000000,"source":"s","source_id":"b\\u0000",'
        b'"event_type":"e","payload":',
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(_EVENT_HEAD, _object_texts(b"")), min_size=1, max_size=6))
def test_ndjson_blocks_give_what_the_standard_path_gives(
    monkeypatch: pytest.MonkeyPatch, parts: list[tuple[bytes, bytes]]
) -> None:
    lines = [b"{" + head + payload + b"}" for head, payload in parts]
    data = b"\n".join(lines) + b"\n"

    def job() -> list[Any]:
        return validated_block(1 << 20, (5, len(lines), data))

    assert _comparable(job()) == _comparable(_without_cleaning(job, monkeypatch, blocks))
