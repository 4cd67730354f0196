"""RawEventDTO: one event, validated and cleaned so every sink can store it as is.

Why the rules: PostgreSQL cannot store U+0000 in TEXT or JSONB (Reddit text has it), JSONB
rejects NaN, naive timestamps are ambiguous, and `source`/`source_id` become CSV path
parts. A record that breaks a rule is rejected with a reason, never silently changed,
except NUL characters, which are stripped and counted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "RawEventDTO",
    "Rejected",
    "Validated",
    "dump_json",
    "strip_nul",
    "validate_record",
]

DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576
FUTURE_TOLERANCE = timedelta(days=1)
_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
_FIELDS = ("id", "occurred_at", "source", "source_id", "event_type", "payload")


def dump_json(value: Any) -> str:
    """Compact, UTF-8 (not \\u-escaped) JSON: the form stored in JSONB and CSV."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def strip_nul(value: Any) -> Any:
    """Remove U+0000 from every string in a JSON-like value, dictionary keys included."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_nul(v) for v in value]
    return value


def _to_utc(value: Any) -> datetime:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, int | float):
        try:
            moment = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise ValueError(f"epoch seconds {value!r} out of range") from error
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from error
    elif isinstance(value, datetime):
        moment = value
    else:
        raise ValueError(f"{type(value).__name__} is not a timestamp")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamp has no timezone (give an offset or Z, or epoch seconds)")
    moment = moment.astimezone(UTC)
    if moment > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise ValueError(f"timestamp {moment.isoformat()} is more than a day in the future")
    return moment


class RawEventDTO(BaseModel):
    """A validated event, mirroring `raw_events` minus the database-filled columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=512)
    occurred_at: datetime
    source: str
    source_id: str
    event_type: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any]

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _occurred_at(cls, value: Any) -> datetime:
        return _to_utc(value)

    @field_validator("id", "event_type", mode="after")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("source", "source_id", mode="after")
    @classmethod
    def _path_safe(cls, value: str) -> str:
        if not _PATH_PART.match(value) or ".." in value:
            raise ValueError(
                f"{value!r} must be 1-128 letters, digits, '_', '-' or '.', "
                "not starting with '.' or '-' (it becomes a folder name)"
            )
        return value

    @property
    def key(self) -> tuple[str, datetime]:
        """The primary key: (id, occurred_at)."""
        return (self.id, self.occurred_at)

    @cached_property
    def payload_json(self) -> str:
        """Compact JSON of the payload, serialised once (validation already did it)."""
        return dump_json(self.payload)

    def to_record(self) -> dict[str, Any]:
        """The DTO as a JSON-ready dict (the NDJSON / spool form)."""
        return {
            "id": self.id,
            "occurred_at": self.occurred_at.isoformat(),
            "source": self.source,
            "source_id": self.source_id,
            "event_type": self.event_type,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class Validated:
    event: RawEventDTO
    sanitized: bool  # NUL characters were stripped


@dataclass(frozen=True)
class Rejected:
    record: Any
    reason: str


def _reason(error: Exception) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        parts = []
        for item in errors():
            where = ".".join(str(p) for p in item["loc"]) or "record"
            message = str(item["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {message}")
        return "; ".join(parts)
    return str(error)


def validate_record(
    record: Any, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> Validated | Rejected:
    """Validate one raw record; never raises for bad data."""
    if not isinstance(record, Mapping):
        return Rejected(record, f"record is a {type(record).__name__}, not a JSON object")
    missing = [name for name in _FIELDS if name not in record]
    if missing:
        return Rejected(record, f"missing field(s): {', '.join(missing)}")
    payload = record["payload"]
    if not isinstance(payload, dict):
        return Rejected(record, f"payload: must be a JSON object, not {type(payload).__name__}")
    try:
        payload_json = dump_json(payload)
    except (TypeError, ValueError) as error:
        return Rejected(record, f"payload: not JSON-serialisable ({error})")
    sanitized = False
    data: Mapping[str, Any] = record
    head = (record["id"], record["source"], record["source_id"], record["event_type"])
    if "\\u0000" in payload_json or any(isinstance(v, str) and "\x00" in v for v in head):
        data = strip_nul({k: record[k] for k in _FIELDS})
        payload_json = dump_json(data["payload"])
        sanitized = True
    size = len(payload_json.encode("utf-8"))
    if size > max_payload_bytes:
        return Rejected(record, f"payload: {size} bytes exceeds the {max_payload_bytes}-byte limit")
    try:
        event = RawEventDTO.model_validate({k: data[k] for k in _FIELDS})
    except ValueError as error:
        return Rejected(record, _reason(error))
    event.__dict__["payload_json"] = payload_json  # the cached_property's slot
    return Validated(event, sanitized)
