"""Validation: a raw record becomes `Validated(event, sanitized)` or `Rejected(record, reason)`.

Three ways, one table of rules (`rules`): the model (`RawEventDTO`, whose validators give
every reason), the fast path that builds the event without pydantic when every field
plainly passes (`_fast_event`), and the plain path a parser's common record takes in a
few microseconds (`plain_event`: no cleaning, no reason, the event as a `PlainEvent`).
The quick ways never refuse: whatever might break a rule goes to the model, which
explains it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sentiment_pipeline.dto.clean import Unfit, cleaned
from sentiment_pipeline.dto.model import (
    FIELDS,
    Parsed,
    RawEventDTO,
    Rejected,
    Validated,
    constructed,
    dump_json,
)
from sentiment_pipeline.dto.rules import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    MAX_DEPTH,
    depth_problem,
    moment,
    plain_moment,
    plain_names,
    size_problem,
    stored_source_id,
)
from sentiment_pipeline.dto.transport import PlainEvent, plain_validated

__all__ = [
    "plain_event",
    "validate_cleaned",
    "validate_item",
    "validate_parsed",
    "validate_plain",
    "validate_record",
]

_NUL_ESCAPE = b"\\u0000"


class _Refused(Exception):
    """A record that is no event; the message is the dead letter's reason."""


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


def _reason(error: Exception) -> str:
    """The dead-letter reason of the model's ValidationError: `field: message; …`."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        parts = []
        for item in errors():
            where = ".".join(str(p) for p in item["loc"]) or "record"
            message = str(item["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {message}")
        return "; ".join(parts)
    return str(error)


def _fast_event(fields: dict[str, Any], keys_are_text: bool) -> RawEventDTO | None:
    """The event built without pydantic's validation (which copies the payload) when every
    field plainly passes the rules (`source_id` stored as `stored_source_id` says, as the
    model stores it); None to let the model decide (and explain). `keys_are_text`: the
    payload's keys are known to be strings (a parser's output)."""
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
        and (keys_are_text or all(type(key) is str for key in fields["payload"]))
    ):
        return None
    source_id = stored_source_id(source, source_id)
    if not plain_names(ident, kind, source, source_id):
        return None
    try:
        when = moment(fields["occurred_at"])
    except ValueError:
        return None
    return constructed(
        {
            "id": ident,
            "occurred_at": when,
            "source": source,
            "source_id": source_id,
            "event_type": kind,
            "payload": fields["payload"],
        }
    )


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
        and (nul_free or _NUL_ESCAPE not in payload_json)
        and len(payload_json) <= max_payload_bytes
    ):
        return None
    # Fewer brackets than the limit cannot nest past it; else look (Reddit objects with
    # media and awards hold hundreds, a few levels deep).
    if payload_json.count(b"{") + payload_json.count(b"[") > MAX_DEPTH and not _nests_within(
        payload, 1
    ):
        return None
    source_id = stored_source_id(source, source_id)
    if not plain_names(ident, kind, source, source_id):
        return None
    at = plain_moment(when)
    if at is None:
        return None
    return (ident, at, source, source_id, kind, payload_json)


def validate_cleaned(
    record: dict[str, Any], payload_json: bytes, max_payload_bytes: int
) -> Validated | None:
    """The event of a record whose text was cleaned before parsing
    (`sources.jsonlines.parse_cleaned`), counted as sanitized, when it plainly passes
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


def _check_shape(record: Any) -> None:
    """Raise _Refused unless `record` is a mapping with every field and an object payload."""
    if not isinstance(record, Mapping):
        raise _Refused(f"record is a {type(record).__name__}, not a JSON object")
    missing = [name for name in FIELDS if name not in record]
    if missing:
        raise _Refused(f"missing field(s): {', '.join(missing)}")
    payload = record["payload"]
    if not isinstance(payload, dict):
        raise _Refused(f"payload: must be a JSON object, not {type(payload).__name__}")


def _serialised(payload: dict[str, Any]) -> str:
    """`dump_json(payload)`; _Refused when it cannot be stored as JSON."""
    try:
        return dump_json(payload)
    except RecursionError:
        raise _Refused(f"payload: {depth_problem()}") from None
    except (TypeError, ValueError) as error:
        raise _Refused(f"payload: not JSON-serialisable ({error})") from None


def _validated(record: Any, max_payload_bytes: int, payload_json: str | None) -> Validated:
    """`validate_record`'s event; _Refused with the reason."""
    _check_shape(record)
    parsed = payload_json is not None
    if payload_json is None:
        payload_json = _serialised(record["payload"])
    try:
        data, payload_json, encoded, sanitized = cleaned(record, payload_json)
    except Unfit as error:
        raise _Refused(f"payload: {error}") from None
    size = len(encoded) if encoded is not None else len(payload_json.encode("utf-8"))
    problem = size_problem(size, max_payload_bytes)
    if problem is not None:
        raise _Refused(problem)
    fields = {k: data[k] for k in FIELDS}
    event = _fast_event(fields, keys_are_text=parsed)  # both store `stored_source_id`
    if event is None:
        try:
            event = RawEventDTO.model_validate(fields)
        except ValueError as error:
            raise _Refused(_reason(error)) from None
    event.__dict__["payload_json"] = payload_json  # the cached_properties' slots
    if encoded is not None:
        event.__dict__["payload_bytes"] = encoded
    return Validated(event, sanitized)


def validate_record(
    record: Any,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    payload_json: str | bytes | None = None,
) -> Validated | Rejected:
    """Validate and clean one raw record (a mapping in RawEventDTO shape).

    `payload_json`, when given, is the payload already serialised exactly as `dump_json`
    would (a `Parsed` record's, in UTF-8 bytes or as text); it is not serialised again.
    Returns `Validated(event, sanitized)` or `Rejected(record, reason)`; never raises for
    bad data (an exception here is a bug, which the pipeline dead-letters as such).
    """
    if type(payload_json) is bytes:
        if type(record) is dict:
            quick = validate_plain(record, max_payload_bytes, payload_json)
            if quick is not None:
                return quick
        payload_json = payload_json.decode()
    assert payload_json is None or type(payload_json) is str
    try:
        return _validated(record, max_payload_bytes, payload_json)
    except _Refused as refusal:
        return Rejected(record, str(refusal))


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
