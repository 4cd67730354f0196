"""RawEventDTO validation: timestamps, NUL stripping, size limit, path-safe names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sentiment_pipeline.dto import Rejected, Validated, validate_record
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


def test_nul_stripped_everywhere_and_flagged() -> None:
    result = ok(
        raw_event(id="t3_\x00x", payload={"ti\x00tle": "a\x00b", "list": ["\x00", {"k": "v\x00"}]})
    )
    assert result.sanitized
    assert result.event.id == "t3_x"
    assert result.event.payload == {"title": "ab", "list": ["", {"k": "v"}]}
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
