"""RawEventDTO validation: timestamps, text cleaning, limits, path-safe names, exact
reasons, and the three ways of validating (model, fast path, plain path) agreeing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline.dto import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    RawEventDTO,
    Rejected,
    Validated,
    clean_text,
    dumps_exact,
    plain_event,
    plain_validated,
    stored_source_id,
    validate_plain,
    validate_record,
)
from sentiment_pipeline.dto.clean import clean
from sentiment_pipeline.dto.rules import FIRST_PLAIN_EPOCH
from sentiment_pipeline.dto.validate import _fast_event, _reason
from tests.fixtures.events import raw_event


def ok(raw: dict[str, Any]) -> Validated:
    result = validate_record(raw)
    assert isinstance(result, Validated), getattr(result, "reason", None)
    return result


def rejected(raw: Any, **kwargs: Any) -> str:
    result = validate_record(raw, **kwargs)
    assert isinstance(result, Rejected)
    return result.reason


@pytest.mark.parametrize(
    "value",
    [
        1700000000.25,
        "2023-11-14T22:13:20.25Z",
        "2023-11-14T17:13:20.25-05:00",
        datetime(2023, 11, 14, 23, 13, 20, 250000, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_occurred_at_forms_end_up_utc(value: Any) -> None:
    event = ok(raw_event(occurred_at=value)).event
    assert event.occurred_at == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC


def test_int_epoch() -> None:
    assert ok(raw_event(occurred_at=0)).event.occurred_at == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2023-11-14T22:13:20", datetime(2023, 1, 1), True, "soon", None])
def test_bad_timestamps(value: Any) -> None:
    assert "occurred_at" in rejected(raw_event(occurred_at=value))


def test_future_rejected_but_a_few_hours_ok() -> None:
    soon = datetime.now(UTC) + timedelta(hours=3)
    ok(raw_event(occurred_at=soon.isoformat()))
    later = datetime.now(UTC) + timedelta(days=2)
    assert "future" in rejected(raw_event(occurred_at=later.timestamp()))


def test_nul_replaced_everywhere_and_flagged() -> None:
    result = ok(
        raw_event(id="t3_\x00x", payload={"ti\x00tle": "a\x00b", "list": ["\x00", {"k": "v\x00"}]})
    )
    assert result.sanitized
    assert result.event.id == "t3_\ufffdx"
    assert result.event.payload == {"ti\ufffdtle": "a\ufffdb", "list": ["\ufffd", {"k": "v\ufffd"}]}
    assert "\\u0000" not in result.event.payload_json
    assert not ok(raw_event()).sanitized


def test_emoji_and_rtl_kept() -> None:
    text = "👩‍👩‍👧‍👦 🇺🇦 \u202eabc שלום"
    event = ok(raw_event(payload={"body": text})).event
    assert event.payload["body"] == text
    assert text in event.payload_json  # stored as UTF-8, not \\u escapes


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": ""}, "id"),
        ({"id": "   "}, "blank"),
        ({"payload": "text"}, "JSON object"),
        ({"payload": {"x": float("nan")}}, "JSON"),
        ({"payload": {"x": {1, 2}}}, "JSON"),
        ({"source_id": "../etc"}, "source_id"),
        ({"source_id": "a/b"}, "source_id"),
        ({"source": ""}, "source"),
        ({"event_type": ""}, "event_type"),
    ],
)
def test_rejections_have_reasons(changes: dict[str, Any], reason: str) -> None:
    assert reason in rejected(raw_event(**changes))


def test_missing_fields_and_non_objects() -> None:
    assert "missing field(s): payload" in rejected(
        {k: v for k, v in raw_event().items() if k != "payload"}
    )
    assert "not a JSON object" in rejected([1, 2])


def test_payload_size_limit() -> None:
    big = raw_event(payload={"body": "x" * 5000})
    assert "exceeds" in rejected(big, max_payload_bytes=4096)
    ok(raw_event(payload={"body": "x" * 200_000}))  # 200 KB is fine under the 1 MiB default


def test_to_record_round_trips() -> None:
    event = ok(raw_event()).event
    again = ok(event.to_record()).event
    assert again == event


def test_unstorable_text_replaced_in_every_string() -> None:
    """Lone surrogates (from `\\ud83d` escapes, Reddit, undecodable bytes) and NUL become
    U+FFFD in values, keys, id and source_id alike; one record counts once."""
    result = ok(
        raw_event(
            id="t3_\ud83dx",
            source="custom",
            source_id="feed",
            payload={"t\udc80": ["ok \ud83d", {"deep": {"k\x00": "\udfff"}}], "fine": "😀"},
        )
    )
    assert result.sanitized
    assert result.event.id == "t3_\ufffdx"
    assert result.event.payload == {
        "t\ufffd": ["ok \ufffd", {"deep": {"k\ufffd": "\ufffd"}}],
        "fine": "😀",
    }
    result.event.payload_json.encode("utf-8")  # storable: no error


def test_surrogate_pair_as_two_code_points_is_not_a_character() -> None:
    event = ok(raw_event(payload={"t": "\ud83d\ude00"})).event
    assert event.payload["t"] == "\ufffd\ufffd"


def test_keys_that_collide_once_cleaned_are_rejected() -> None:
    assert "same" in rejected(raw_event(payload={"a\x00": 1, "a\ud800": 2}))


def nested(depth: int) -> dict[str, Any]:
    """`depth` containers, the outer one a dict, alternating dicts and lists."""
    value: Any = 1
    for level in range(depth - 1):
        value = [value] if level % 2 == 0 else {"a": value}
    return {"a": value}


def test_nesting_limit() -> None:
    from sentiment_pipeline.dto import MAX_DEPTH

    ok(raw_event(payload=nested(MAX_DEPTH)))
    assert "deeper than 64" in rejected(raw_event(payload=nested(MAX_DEPTH + 1)))
    assert "deeper than 64" in rejected(raw_event(payload=nested(5000)))  # past the recursion limit
    wide = {f"k{n}": [{"x": n}] for n in range(500)}  # many containers, shallow
    ok(raw_event(payload=wide))


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), -float("inf"), 10**4400 - 1],
    ids=lambda v: type(v).__name__,
)
def test_numbers_the_backends_cannot_store_are_rejected(value: Any) -> None:
    assert "payload" in rejected(raw_event(payload={"score": value}))


def test_large_valid_integers_are_kept() -> None:
    big = int("9" * 4000)
    assert ok(raw_event(payload={"score": big})).event.payload["score"] == big


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00Z", "0999-06-01T02:00:00+00:00", -62135596800]
)
def test_years_before_1000_accepted(value: Any) -> None:
    assert ok(raw_event(occurred_at=value)).event.occurred_at.year in (1, 999)


def test_offset_past_year_one_is_rejected_not_raised() -> None:
    assert "years 1-9999" in rejected(raw_event(occurred_at="0001-01-01T00:00:00+01:00"))


@pytest.mark.parametrize("field", ["id", "event_type"])
@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x85"])
def test_control_characters_in_id_and_event_type_rejected(field: str, char: str) -> None:
    assert "control characters" in rejected(raw_event(**{field: f"a{char}b"}))


def test_reddit_subreddit_lower_cased() -> None:
    assert ok(raw_event(source_id="Python")).event.source_id == "python"
    assert ok(raw_event(source="custom", source_id="Feed")).event.source_id == "Feed"


@pytest.mark.parametrize(("source", "stored"), [("reddit", "python"), ("custom", "PyThon")])
def test_every_validation_path_stores_one_spelling(source: str, stored: str) -> None:
    """The plain path, the full path (fast and pydantic) and a model built directly all
    store `stored_source_id`'s spelling."""
    raw = raw_event(source=source, source_id="PyThon")
    payload = json.dumps(raw["payload"], separators=(",", ":")).encode()
    plain = validate_plain(raw, DEFAULT_MAX_PAYLOAD_BYTES, payload)
    assert plain is not None and plain.event.source_id == stored
    parsed = plain_event(raw, DEFAULT_MAX_PAYLOAD_BYTES, payload)
    assert parsed is not None and parsed[3] == stored
    assert ok(raw).event.source_id == stored
    built = RawEventDTO.model_validate({**raw, "occurred_at": "2024-01-01T00:00:00Z"})
    assert built.source_id == stored == stored_source_id(source, "PyThon")


def test_a_path_safe_name_is_matched_whole() -> None:
    """A trailing newline is no part of a folder name (a `$` anchor let it through)."""
    assert "source_id" in rejected(raw_event(source="custom", source_id="feed\n"))
    assert "source" in rejected(raw_event(source="custom\n"))


# The reasons as dead letters carry them (a contract): exact texts.
_EXACT_REASONS = [
    ({"id": ""}, "id: String should have at least 1 character"),
    ({"id": "x" * 513}, "id: String should have at most 512 characters"),
    ({"id": " \u3000"}, "id: must not be blank"),
    ({"id": "a\x85"}, "id: must not contain control characters (tab, newline, …)"),
    ({"id": 5}, "id: Input should be a valid string"),
    ({"event_type": "e" * 65}, "event_type: String should have at most 64 characters"),
    (
        {"id": "", "event_type": "a\tb"},
        "id: String should have at least 1 character; "
        "event_type: must not contain control characters (tab, newline, …)",
    ),
    (
        {"source_id": ".x"},
        "source_id: '.x' must be 1-128 letters, digits, '_', '-' or '.', "
        "not starting with '.' or '-' (it becomes a folder name)",
    ),
    ({"occurred_at": True}, "occurred_at: a boolean is not a timestamp"),
    ({"occurred_at": "soon"}, "occurred_at: 'soon' is not an ISO 8601 timestamp"),
    (
        {"occurred_at": "2024-01-01T00:00:00"},
        "occurred_at: timestamp has no timezone (give an offset or Z, or epoch seconds)",
    ),
    (
        {"occurred_at": "0001-01-01T00:00:00+01:00"},
        "occurred_at: '0001-01-01T00:00:00+01:00' is outside years 1-9999 in UTC",
    ),
    ({"occurred_at": 1e300}, "occurred_at: epoch seconds 1e+300 out of range"),
    ({"occurred_at": None}, "occurred_at: NoneType is not a timestamp"),
    ({"payload": []}, "payload: must be a JSON object, not list"),
]


@pytest.mark.parametrize(("changes", "reason"), _EXACT_REASONS)
def test_reasons_are_exact(changes: dict[str, Any], reason: str) -> None:
    assert rejected(raw_event(**changes)) == reason


# --- the three ways of validating agree ------------------------------------------------
#
# The model (`RawEventDTO`, every reason), the fast path (`_fast_event`, no pydantic) and
# the plain path (`plain_event`, a parser's common record) read one table of rules: a quick
# path's event is the model's, it answers by itself for every record of its kind that the
# model accepts, and what it leaves to the model gets the model's reason.

_ODD = ["a", "Z", "0", "_", ".", "-", " ", "\t", "\n", "\x00", "\x1f", "\x7f", "\x85", "é", "K"]
_ODD += ["\u212a", "\u2028", "\u3000", "\ud800", "/", ".."]


def _around(limit: int) -> st.SearchStrategy[str]:
    """Text of about `limit` characters, one of them odd."""
    return st.builds(
        lambda size, odd, at: ("a" * size)[:at] + odd + ("a" * size)[at + 1 :],
        st.integers(limit - 2, limit + 1),
        st.sampled_from(_ODD),
        st.integers(0, limit + 1),
    )


_ODD_TYPES = st.sampled_from([None, 5, 1.5, True, b"ab", ["a"], {"a": 1}])
_EDGES = ["", " ", "\u3000 ", "a\tb", "x\n", "\x85", "\x00", "\ud800", "..", "a..b", ".x", "-x"]
_EDGES += ["a/b", "_", "K"]
_SHORT = st.lists(st.sampled_from(_ODD), max_size=4).map("".join)


def _odd(*more: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(_EDGES), _SHORT, _ODD_TYPES, *more)


# Each field: (plain values, odd values); a record takes odd values in a few fields only.
_FIELDS = {
    "id": (["t3_a", "x y"], _odd(_around(1), _around(512))),
    "event_type": (["comment"], _odd(_around(64))),
    "source": (["reddit", "custom", "Feed.x"], _odd(_around(128))),
    "source_id": (["python", "Python", "\u212a"], _odd()),
    "payload": (
        [{"title": "x", "n": 1}, {}],
        st.one_of(
            st.dictionaries(_SHORT, st.integers() | _SHORT, max_size=3),
            st.sampled_from([{1: "x"}, {"t": "\x00"}, {"n": [[[]]]}]),
        ),
    ),
}
_TEXT = ("id", "event_type", "source", "source_id")
_NOW = int(datetime.now(UTC).timestamp())
_EDGE_SECONDS = [FIRST_PLAIN_EPOCH - 1, FIRST_PLAIN_EPOCH, 0, -1, 253402300799, 253402300800]
_EDGE_SECONDS += [_NOW + 86400 - 60, _NOW + 86400 + 60, 10**20]
_EDGE_TIMES = [*_EDGE_SECONDS, *map(float, _EDGE_SECONDS), float("nan"), float("inf")]
_EDGE_TIMES += [-float("inf"), 1.7e9 + 0.25, True, None, datetime(2024, 1, 2)]
_EDGE_TIMES += [datetime(2024, 1, 2, tzinfo=UTC), "soon", "", "2024-13-01T00:00:00Z"]
_EDGE_TIMES += [
    "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05.123456+05:30",
    " 2024-01-02T03:04:05Z ",
    "2024-01-02T03:04:05",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+00:01",
    "9999-12-31T23:59:59-00:01",
    "9999-12-31T23:59:59Z",
    datetime.fromtimestamp(_NOW + 86400 - 60, UTC).isoformat(),
    datetime.fromtimestamp(_NOW + 86400 + 60, UTC).isoformat(),
]
_TIMES = st.one_of(
    st.sampled_from(_EDGE_TIMES),
    st.integers(FIRST_PLAIN_EPOCH - 10, _NOW + 2 * 86400),
    st.floats(allow_nan=True, allow_infinity=True),
)


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    odd = draw(st.sets(st.sampled_from(sorted(_FIELDS)), max_size=2))
    record = {
        name: draw(kinds[1] if name in odd else st.sampled_from(kinds[0]))
        for name, kinds in _FIELDS.items()
    }
    return {**record, "occurred_at": draw(_TIMES)}


def _values(event: RawEventDTO) -> tuple[Any, ...]:
    return (event.id, event.occurred_at, event.source, event.source_id, event.event_type)


def _model(fields: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "valid", _values(RawEventDTO.model_validate(fields))
    except ValueError as error:
        return "rejected", _reason(error)


def _storable(text: Any) -> bool:
    return type(text) is str and clean_text(text) == text


def _plain_kind(fields: dict[str, Any]) -> bool:
    """A record the plain path answers by itself when it is valid."""
    texts = [fields[name] for name in ("id", "event_type", "source", "source_id")]
    when = fields["occurred_at"]
    return (
        all(_storable(text) for text in texts)
        and all(type(key) is str for key in fields["payload"])
        and (
            (type(when) in (int, float) and when >= FIRST_PLAIN_EPOCH)
            or (type(when) is str and when == when.strip())
        )
    )


def _agree(fields: dict[str, Any]) -> None:
    """The three ways give one answer for `fields` (all six present)."""
    model = _model(fields)
    keys_are_text = all(type(key) is str for key in fields["payload"])
    fast = _fast_event(dict(fields), keys_are_text=False)
    if fast is not None:
        assert model == ("valid", _values(fast))
    elif model[0] == "valid":  # it answers for every record of text (cleaned, as it gets them)
        texts = [fields[name] for name in _TEXT]
        assert not (keys_are_text and all(_storable(text) for text in texts)), model
    text = dumps_exact(fields["payload"]) if keys_are_text else None
    plain = None if text is None else plain_event(fields, DEFAULT_MAX_PAYLOAD_BYTES, text)
    if plain is not None:
        assert model == ("valid", _values(plain_validated(plain).event))
    elif model[0] == "valid" and text is not None and b"\\u0000" not in text:
        assert not _plain_kind(fields), model
    # The whole (`validate_record`): the model's answer on the cleaned record.
    whole = validate_record(fields)
    cleaned = {name: clean(value) for name, value in fields.items()}
    if isinstance(whole, Validated):
        assert _model(cleaned) == ("valid", _values(whole.event))
        assert whole.sanitized == (cleaned != fields)
    else:
        assert ("rejected", whole.reason) == _model(cleaned)


@settings(max_examples=600, deadline=None)
@given(_records())
def test_the_model_the_fast_path_and_the_plain_path_agree(fields: dict[str, Any]) -> None:
    _agree(fields)


_LENGTHS = {"id": 512, "event_type": 64, "source": 128, "source_id": 128}
_ONE_ODD = [
    *((name, value) for name in _TEXT for value in [*_EDGES, 5, None, b"ab"]),
    *((name, "x" * (_LENGTHS[name] + more)) for name in _TEXT for more in (0, 1)),
    *(("occurred_at", value) for value in _EDGE_TIMES),
    *(("payload", value) for value in [{1: "x"}, {"t": "\x00"}, {"n": [[[]]]}, {"\ud800": 1}]),
]


@pytest.mark.parametrize(("name", "value"), _ONE_ODD)
def test_every_edge_alone_gets_one_answer(name: str, value: Any) -> None:
    _agree(raw_event(**{name: value}))
