"""RawEventDTO: one event, validated and cleaned so every sink can store it as is.

Why the rules: PostgreSQL cannot store U+0000 in TEXT or JSONB (Reddit text has it), no
backend can store a lone UTF-16 surrogate (it has no UTF-8 form), JSONB rejects NaN,
naive timestamps are ambiguous, and `source`/`source_id` become CSV path parts.

The policy (docs/data-quality.md): a record that breaks a rule is rejected with a reason,
never silently changed, with two exceptions. (1) Text no backend can store (U+0000 and
every surrogate code point U+D800-U+DFFF) is replaced by U+FFFD in every string of the
record, payload keys included, and the record counts once as `sanitized`. (2) Reddit
subreddit names (`source_id` when `source` is `reddit`) are lower-cased. Limits: payload
nesting at most `MAX_DEPTH` levels, payload JSON at most `max_payload_bytes` of UTF-8,
`occurred_at` in years 1-9999 UTC and at most a day in the future, no control characters
in `id` or `event_type` (each CSV row stays one line).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sentiment_pipeline.timeparse import to_utc

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "MAX_DEPTH",
    "REPLACEMENT",
    "Chunk",
    "Parsed",
    "PlainEvent",
    "RawEventDTO",
    "Rejected",
    "Sentinel",
    "Validated",
    "clean_text",
    "compact_json",
    "dump_json",
    "dumps_exact",
    "plain_event",
    "plain_validated",
    "shipped_event",
    "stored_source_id",
    "validate_cleaned",
    "validate_item",
    "validate_parsed",
    "validate_plain",
    "validate_record",
]

DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576
MAX_DEPTH = 64  # nested objects/arrays in a payload, the payload object itself included
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
FUTURE_TOLERANCE = timedelta(days=1)
_TOLERANCE_SECONDS = FUTURE_TOLERANCE.total_seconds()
_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
_FIELDS = ("id", "occurred_at", "source", "source_id", "event_type", "payload")
_SAFE_NAMES: set[str] = set()  # names `_path_safe` passed (a dump has few sources)


def _path_safe(name: str) -> bool:
    """The rule for `source` and `source_id` (they become folder names), remembered for
    up to 10,000 names."""
    if name in _SAFE_NAMES:
        return True
    if _PATH_PART.match(name) is None or ".." in name:
        return False
    if len(_SAFE_NAMES) < 10_000:
        _SAFE_NAMES.add(name)
    return True


def stored_source_id(source: str, source_id: str) -> str:
    """`source_id` as validation stores it for `source`: a Reddit subreddit name
    lower-cased (Reddit treats `Python` and `python` as one subreddit: one spelling),
    any other source's id as given. Filters that compare with stored ids use it too."""
    return source_id.lower() if source == "reddit" else source_id


def dump_json(value: Any) -> str:
    """Compact, UTF-8 (not \\u-escaped) JSON: the form stored in JSONB and CSV."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def compact_json(text: str | bytes) -> bytes:
    """JSON text (a database's, with its own spacing) as `dump_json`'s compact UTF-8."""
    return dump_json(json.loads(text)).encode()


def dumps_exact(value: Any) -> bytes | None:
    """`dump_json(value)` in UTF-8, by orjson (~10x faster), for a value whose numbers
    print the same in both (`sources.ndjson.loads_exact` says which parsed values do);
    None when orjson cannot (nesting past its limit, an integer past 64 bits, a lone
    surrogate): then use `dump_json`."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return None


def clean_text(text: str) -> str:
    """`text` with U+0000 and every surrogate code point replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


class _Unfit(ValueError):
    """A payload too deep, or whose keys collide once cleaned."""


def _clean(value: Any, depth: int = 1) -> Any:
    """A JSON-like value with `clean_text` applied to every string, keys included; the
    very same object when nothing changed. Raises _Unfit past `MAX_DEPTH` containers."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        if depth > MAX_DEPTH:
            raise _Unfit(f"nested deeper than {MAX_DEPTH} levels")
        out = {}
        changed = False
        for key, item in value.items():
            new_key = clean_text(key) if isinstance(key, str) else key
            new_item = _clean(item, depth + 1)
            changed = changed or new_key is not key or new_item is not item
            out[new_key] = new_item
        if len(out) != len(value):
            raise _Unfit("two keys are the same once unstorable characters are replaced")
        return out if changed else value
    if isinstance(value, list | tuple):
        if depth > MAX_DEPTH:
            raise _Unfit(f"nested deeper than {MAX_DEPTH} levels")
        items = [_clean(item, depth + 1) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return items if changed else value
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
    try:
        moment = to_utc(moment)
    except OverflowError:
        raise ValueError(f"{value!r} is outside years 1-9999 in UTC") from None
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
        return _to_utc(value)

    @field_validator("id", "event_type", mode="after")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters (tab, newline, …)")
        return value

    @field_validator("source", "source_id", mode="after")
    @classmethod
    def _path_safe(cls, value: str) -> str:
        if not _path_safe(value):
            raise ValueError(
                f"{value!r} must be 1-128 letters, digits, '_', '-' or '.', "
                "not starting with '.' or '-' (it becomes a folder name)"
            )
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


class Validated(NamedTuple):
    """A valid event; `sanitized`: unstorable characters were replaced by U+FFFD.
    (A named tuple: immutable, and built ~10x faster than a frozen dataclass.)"""

    event: RawEventDTO
    sanitized: bool


@dataclass(frozen=True)
class Rejected:
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
    in UTF-8 (see `sources.ndjson.loads_exact`), so validation need not serialise it
    again."""

    record: dict[str, Any]
    payload_json: bytes


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


def _head_unstorable(record: Mapping[str, Any]) -> bool:
    return any(
        isinstance(record[name], str) and _UNSTORABLE.search(record[name]) is not None
        for name in ("id", "source", "source_id", "event_type", "occurred_at")
    )


_ALL_FIELDS = frozenset(_FIELDS)
# Every event built without pydantic has all its fields set: one set for all of them
# (~470 bytes an event less, where ingests hold tens of thousands). Safe to share: a
# frozen model never changes it, and pydantic copies it before `model_copy` updates it.
_FIELDS_SET = set(_ALL_FIELDS)


def _fast_event(fields: dict[str, Any], keys_are_text: bool) -> RawEventDTO | None:
    """The event built without pydantic's validation (which copies the payload) when every
    field plainly passes RawEventDTO's rules (`source_id` stored as `stored_source_id`
    says, as pydantic's path stores it); None to let pydantic decide (and explain).
    `keys_are_text`: the payload's keys are known to be strings (a parser's output)."""
    ident, source, source_id, kind = (
        fields["id"],
        fields["source"],
        fields["source_id"],
        fields["event_type"],
    )
    if not (
        type(ident) is str
        and type(source) is str
        and type(source_id) is str
        and type(kind) is str
        and 0 < len(ident) <= 512
        and 0 < len(kind) <= 64
        and ident.strip()
        and kind.strip()
        and not _CONTROL.search(ident)
        and not _CONTROL.search(kind)
        and _path_safe(source)
        and _path_safe(source_id)
        and (keys_are_text or all(type(key) is str for key in fields["payload"]))
    ):
        return None
    try:
        moment = _to_utc(fields["occurred_at"])
    except ValueError:
        return None
    return _constructed(
        {
            "id": ident,
            "occurred_at": moment,
            "source": source,
            "source_id": stored_source_id(source, source_id),
            "event_type": kind,
            "payload": fields["payload"],
        }
    )


_SLOTS = BaseModel.__dict__  # pydantic's instance slots, set through their descriptors
_set_values = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__


def _constructed(values: dict[str, Any]) -> RawEventDTO:
    """The event holding `values` (its fields, already valid), unvalidated: what
    `model_construct` does without its per-call overhead, and with the slot descriptors
    called directly (0.5 µs an event, against 0.8 by `object.__setattr__`)."""
    event = RawEventDTO.__new__(RawEventDTO)
    _set_values(event, values)
    _set_fields_set(event, _FIELDS_SET)
    _set_extra(event, None)
    _set_private(event, None)
    return event


_CONTROL_OR_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _nests_within(value: dict[str, Any] | list[Any], depth: int) -> bool:
    """True when no object or array in `value` (itself at `depth`) lies past MAX_DEPTH."""
    if depth > MAX_DEPTH:
        return False
    items: Iterable[Any] = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        if (kind is dict or kind is list) and not _nests_within(item, depth + 1):
            return False
    return True


# Plain events (`plain_event`): (id, time, source, source_id, event_type, payload UTF-8),
# the time an aware UTC datetime or float epoch seconds, as `datetime.fromtimestamp`
# reads them (the range checked, so it cannot fail).
PlainEvent = tuple[str, "datetime | float", str, str, str, bytes]
_FIRST_EPOCH = -62135596800 + 1  # 0001-01-01T00:00:01Z: earlier goes the full way


def plain_event(
    record: dict[str, Any], max_payload_bytes: int, payload_json: bytes, *, nul_free: bool = False
) -> PlainEvent | None:
    """`validate_plain`'s checks, the event as a `PlainEvent` tuple (what a parsing worker
    sends on, without building it); None whenever any rule might not plainly pass.
    `nul_free`: the caller knows the payload's text holds no NUL escape."""
    try:
        ident = record["id"]
        source = record["source"]
        source_id = record["source_id"]
        kind = record["event_type"]
        payload = record["payload"]
        when = record["occurred_at"]
    except KeyError:
        return None
    if not (
        type(payload) is dict
        and type(ident) is str
        and type(source) is str
        and type(source_id) is str
        and type(kind) is str
        and 0 < len(ident) <= 512
        and 0 < len(kind) <= 64
        and (nul_free or b"\\u0000" not in payload_json)
        and len(payload_json) <= max_payload_bytes
    ):
        return None
    # Fewer brackets than the limit cannot nest past it; else look (Reddit objects with
    # media and awards hold hundreds, a few levels deep).
    if payload_json.count(b"{") + payload_json.count(b"[") > MAX_DEPTH and not _nests_within(
        payload, 1
    ):
        return None
    # (A path-safe name holds neither control nor unstorable characters.)
    if _CONTROL_OR_UNSTORABLE.search(ident + kind) or ident.isspace() or kind.isspace():
        return None
    source_id = stored_source_id(source, source_id)
    if not (_path_safe(source) and _path_safe(source_id)):
        return None
    when_type = type(when)
    moment: datetime | float
    if when_type is int or when_type is float:
        if not _FIRST_EPOCH <= when <= time.time() + _TOLERANCE_SECONDS:  # NaN fails too
            return None
        moment = float(when)  # exact: an int this small is a float exactly
    elif when_type is str:  # ISO text with an offset; anything else goes the full way
        try:
            moment = datetime.fromisoformat(when)
            if moment.utcoffset() is None:
                return None
            if moment.tzinfo is not UTC:
                moment = moment.astimezone(UTC)
            if moment.timestamp() > time.time() + _TOLERANCE_SECONDS:
                return None
        except (ValueError, OverflowError, OSError):
            return None
    else:
        return None
    return (ident, moment, source, source_id, kind, payload_json)


def plain_validated(plain: PlainEvent, sanitized: bool = False) -> Validated:
    """The `Validated` of a `PlainEvent`."""
    ident, moment, source, source_id, kind, payload = plain
    if type(moment) is float:
        moment = datetime.fromtimestamp(moment, UTC)
    assert isinstance(moment, datetime)
    return Validated(shipped_event(ident, moment, source, source_id, kind, payload), sanitized)


def validate_cleaned(
    record: dict[str, Any], payload_json: bytes, max_payload_bytes: int
) -> Validated | None:
    """The event of a record whose text was cleaned before parsing
    (`sources.ndjson.parse_cleaned`), counted as sanitized, when it plainly passes
    (`plain_event`); None: the standard path decides (and explains)."""
    plain = plain_event(record, max_payload_bytes, payload_json, nul_free=True)
    return None if plain is None else plain_validated(plain, sanitized=True)


def validate_plain(
    record: dict[str, Any], max_payload_bytes: int, payload_json: bytes
) -> Validated | None:
    """`validate_record`'s answer for the common record (a parser's dict with string
    fields, an epoch or ISO time, a payload already serialised in UTF-8, nothing to
    clean) in a few microseconds; None whenever any rule might not plainly pass, and the
    full path decides (and explains). The event keeps the payload's text only (the
    parsed payload is read back from it if asked for, see `RawEventDTO.payload_json`)."""
    plain = plain_event(record, max_payload_bytes, payload_json)
    return None if plain is None else plain_validated(plain)


def shipped_event(
    ident: str, occurred_at: datetime, source: str, source_id: str, kind: str, payload: bytes
) -> RawEventDTO:
    """An event validated elsewhere (a parsing worker, `parallel`), rebuilt from its
    column values and its payload's UTF-8 JSON text (`payload_bytes`); `payload` is
    parsed back from that text (`dump_json`'s, which `json.loads` reads exactly) when
    first used, which an ingest never does (the sinks store the text)."""
    return _constructed(
        {
            "id": ident,
            "occurred_at": occurred_at,
            "source": source,
            "source_id": source_id,
            "event_type": kind,
            "payload_bytes": payload,
        }
    )


def _dump_cleaned(payload: dict[str, Any], before: str | None) -> str:
    """`dump_json(payload)` of a cleaned payload whose text before cleaning was `before`
    (`dump_json`'s or, for a parsed line, orjson's exact text; None: not known). orjson
    (~10x faster) writes exactly `dump_json`'s text unless a float under 1e-4 (which
    `dump_json` writes with an exponent, `1e-05`, and which never reaches orjson's text:
    `sources.ndjson.loads_exact`) or an integer past 64 bits (orjson refuses it) is in
    it; cleaning replaces characters in strings only, so `before` without "e-" rules the
    floats out."""
    text = dumps_exact(payload) if before is not None and "e-" not in before else None
    return text.decode() if text is not None else dump_json(payload)


def validate_record(
    record: Any,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    payload_json: str | bytes | None = None,
) -> Validated | Rejected:
    """Validate and clean one raw record (a mapping in RawEventDTO shape).

    `payload_json`, when given, is the payload already serialised exactly as `dump_json`
    would (a `Parsed` record's, in UTF-8 bytes or as text); it is not serialised again.
    Returns
    `Validated(event, sanitized)` or `Rejected(record, reason)`; never raises for bad data
    (an exception here is a bug, which the pipeline dead-letters as such).
    """
    if type(payload_json) is bytes:
        if type(record) is dict:
            quick = validate_plain(record, max_payload_bytes, payload_json)
            if quick is not None:
                return quick
        payload_json = payload_json.decode()
    assert payload_json is None or type(payload_json) is str
    if not isinstance(record, Mapping):
        return Rejected(record, f"record is a {type(record).__name__}, not a JSON object")
    missing = [name for name in _FIELDS if name not in record]
    if missing:
        return Rejected(record, f"missing field(s): {', '.join(missing)}")
    payload = record["payload"]
    if not isinstance(payload, dict):
        return Rejected(record, f"payload: must be a JSON object, not {type(payload).__name__}")
    parsed = payload_json is not None
    if payload_json is None:
        try:
            payload_json = dump_json(payload)
        except RecursionError:
            return Rejected(record, f"payload: nested deeper than {MAX_DEPTH} levels")
        except (TypeError, ValueError) as error:
            return Rejected(record, f"payload: not JSON-serialisable ({error})")
    data: Mapping[str, Any] = record
    encoded: bytes | None
    try:
        encoded = payload_json.encode("utf-8")
    except UnicodeEncodeError:
        encoded = None
    sanitized = encoded is None or "\\u0000" in payload_json or _head_unstorable(record)
    deep = payload_json.count("{") + payload_json.count("[") > MAX_DEPTH  # an upper bound
    if sanitized or deep:
        try:
            cleaned = {k: _clean(record[k]) for k in _FIELDS}
        except _Unfit as error:
            return Rejected(record, f"payload: {error}")
        sanitized = any(cleaned[k] is not record[k] for k in _FIELDS)
        if sanitized:
            data = cleaned
            payload_json = _dump_cleaned(cleaned["payload"], payload_json)
            encoded = payload_json.encode("utf-8")
    size = len(encoded) if encoded is not None else len(payload_json.encode("utf-8"))
    if size > max_payload_bytes:
        return Rejected(record, f"payload: {size} bytes exceeds the {max_payload_bytes}-byte limit")
    fields = {k: data[k] for k in _FIELDS}
    event = _fast_event(fields, keys_are_text=parsed)  # both store `stored_source_id`
    if event is None:
        try:
            event = RawEventDTO.model_validate(fields)
        except ValueError as error:
            return Rejected(record, _reason(error))
    event.__dict__["payload_json"] = payload_json  # the cached_properties' slots
    if encoded is not None:
        event.__dict__["payload_bytes"] = encoded
    return Validated(event, sanitized)


def validate_item(item: Any, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Any:
    """A source's item validated where it was parsed (a reading thread, a worker
    process): a `Parsed` or plain record becomes `Validated` or `Rejected`; a `Rejected`
    stays as it is. On an unforeseen exception, the record itself, which the pipeline
    validates again and dead-letters as an internal error (`pipeline.core`)."""
    if type(item) is Rejected:
        return item
    try:
        if type(item) is Parsed:  # (`validate_record` tries `validate_plain` first)
            return validate_record(item.record, max_payload_bytes, item.payload_json)
        return validate_record(item, max_payload_bytes)
    except Exception:
        return item.record if isinstance(item, Parsed) else item


def validate_parsed(
    record: dict[str, Any], payload_json: bytes, max_payload_bytes: int, *, nul_free: bool = False
) -> Any:
    """`validate_item(Parsed(record, payload_json))` as a parsing worker wants it: the
    common record as a `PlainEvent` (`plain_event`; `nul_free` as there), else
    `validate_record`'s answer, without trying the quick checks twice; on an unforeseen
    exception, the record itself."""
    try:
        plain = plain_event(record, max_payload_bytes, payload_json, nul_free=nul_free)
        if plain is not None:
            return plain
        return validate_record(record, max_payload_bytes, payload_json.decode())
    except Exception:
        return record
