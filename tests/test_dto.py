"""RawEventDTO validation: timestamps, text cleaning, limits, path-safe names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sentiment_pipeline.dto import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    RawEventDTO,
    Rejected,
    Validated,
    plain_event,
    stored_source_id,
    validate_plain,
    validate_record,
)
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
