"""The event model (`RawEventDTO`) and the items sources hand the pipeline.

The model's validators raise the messages of `rules` (the one table of rules);
`constructed` builds an event whose fields are known valid without running them (the fast
paths of `validate` and the events rebuilt from a worker's `transport`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from sentiment_pipeline.dto.rules import field_problem, moment, stored_source_id

__all__ = [
    "FIELDS",
    "Chunk",
    "Parsed",
    "RawEventDTO",
    "Rejected",
    "Sentinel",
    "Validated",
    "compact_json",
    "constructed",
    "dump_json",
    "dumps_exact",
]

FIELDS = ("id", "occurred_at", "source", "source_id", "event_type", "payload")


def dump_json(value: Any) -> str:
    """Compact, UTF-8 (not \\u-escaped) JSON: the form stored in JSONB and CSV."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def compact_json(text: str | bytes) -> bytes:
    """JSON text (a database's, with its own spacing) as `dump_json`'s compact UTF-8."""
    return dump_json(json.loads(text)).encode()


def dumps_exact(value: Any) -> bytes | None:
    """`dump_json(value)` in UTF-8, by orjson (~10x faster), for a value whose numbers
    print the same in both (`sources.jsonlines.loads_exact` says which parsed values do);
    None when orjson cannot (nesting past its limit, an integer past 64 bits, a lone
    surrogate): then use `dump_json`."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return None


class RawEventDTO(BaseModel):
    """A validated event, mirroring `raw_events` minus the database-filled columns. The
    text fields' rules and messages are `rules.field_problem`'s, the time's `rules.moment`'s."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    occurred_at: datetime
    source: str
    source_id: str
    event_type: str
    payload: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        # The stored spelling of `source_id` (`stored_source_id`), however the event is built.
        if isinstance(data, Mapping):
            source, source_id = data.get("source"), data.get("source_id")
            if isinstance(source, str) and isinstance(source_id, str):
                stored = stored_source_id(source, source_id)
                if stored != source_id:
                    return {**data, "source_id": stored}
        return data

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _occurred_at(cls, value: Any) -> datetime:
        return moment(value)

    @field_validator("id", "event_type", "source", "source_id", mode="after")
    @classmethod
    def _text_rules(cls, value: str, info: ValidationInfo) -> str:
        problem = field_problem(info.field_name or "", value)
        if problem is not None:
            raise ValueError(problem)
        return value

    def __getattr__(self, name: str) -> Any:
        # An event built from its serialised payload alone (`validate_plain`,
        # `shipped_event`): the payload is parsed back from that text on first use.
        if name == "payload" and "payload_bytes" in self.__dict__:
            payload = json.loads(self.__dict__["payload_bytes"])
            self.__dict__["payload"] = payload
            return payload
        return super().__getattr__(name)  # type: ignore[misc]

    def _loaded(self) -> None:
        """Parse a payload kept as text only, for what reads fields from `__dict__`."""
        if "payload" not in self.__dict__:
            self.payload  # noqa: B018

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RawEventDTO):
            self._loaded()
            other._loaded()
        return super().__eq__(other)

    def __repr_args__(self) -> Any:
        self._loaded()
        return super().__repr_args__()

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        self._loaded()
        return super().model_dump(**kwargs)

    def model_dump_json(self, **kwargs: Any) -> str:
        self._loaded()
        return super().model_dump_json(**kwargs)

    @property
    def key(self) -> tuple[str, datetime]:
        """The primary key: (id, occurred_at)."""
        return (self.id, self.occurred_at)

    @cached_property
    def payload_json(self) -> str:
        """Compact JSON of the payload (`dump_json`'s text), serialised once (validation
        already did it)."""
        values = self.__dict__
        if "payload_bytes" in values:
            return values["payload_bytes"].decode()  # type: ignore[no-any-return]
        return dump_json(self.payload)

    @cached_property
    def payload_bytes(self) -> bytes:
        """`payload_json` in UTF-8: what the sinks write (a parser's output as it is)."""
        return self.payload_json.encode()

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


# Every event built without pydantic has all its fields set: one set for all of them
# (~470 bytes an event less, where ingests hold tens of thousands). Safe to share: a
# frozen model never changes it, and pydantic copies it before `model_copy` updates it.
_FIELDS_SET = set(FIELDS)
_SLOTS = BaseModel.__dict__  # pydantic's instance slots, set through their descriptors
_set_values = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__


def constructed(values: dict[str, Any]) -> RawEventDTO:
    """The event holding `values` (its fields, already valid), unvalidated: what
    `model_construct` does without its per-call overhead, and with the slot descriptors
    called directly (0.5 µs an event, against 0.8 by `object.__setattr__`)."""
    event = RawEventDTO.__new__(RawEventDTO)
    _set_values(event, values)
    _set_fields_set(event, _FIELDS_SET)
    _set_extra(event, None)
    _set_private(event, None)
    return event


class Validated(NamedTuple):
    """A valid event; `sanitized`: unstorable characters were replaced by U+FFFD.
    (A named tuple: immutable, and built ~10x faster than a frozen dataclass.)"""

    event: RawEventDTO
    sanitized: bool


@dataclass(frozen=True)
class Rejected:
    """A record that is no event, and why (the dead letter's reason)."""

    record: Any
    reason: str


class Sentinel:
    """A marker object that stays itself through pickling (it is pickled by name, as
    the global `name` of `module`), so a worker process's items can carry it."""

    def __init__(self, module: str, name: str) -> None:
        self.__module__ = module
        self.name = name

    def __reduce__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name


class Chunk(list[Any]):
    """Many source items at once (records, `Parsed`, `Validated`, `Rejected`, in input
    order): the pipeline (`pipeline.core.run`) takes a chunk in one step and hands its
    valid events on as one list, so a fast source (a dump, a file) pays no await per
    record."""


class Parsed(NamedTuple):
    """A raw record whose payload a parser already serialised in `dump_json`'s exact form,
    in UTF-8 (see `sources.jsonlines.loads_exact`), so validation need not serialise it
    again."""

    record: dict[str, Any]
    payload_json: bytes
