"""What crosses from a parsing worker process to the main one (`parallel.BlockPool`).

A valid event travels as its column values, its payload as the JSON text already made
(the parsed payload is not sent; `RawEventDTO.payload` is parsed again from the text if
someone asks for it); everything else (dead letters, records left to the pipeline) is
pickled as it is. `ship` / `unship` turn a block's items into that flat form and back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sentiment_pipeline.dto.model import RawEventDTO, Sentinel, Validated, constructed

__all__ = ["FILTERED_TAG", "PlainEvent", "plain_validated", "ship", "shipped_event", "unship"]

# Plain events (`validate.plain_event`): (id, time, source, source_id, event_type, payload
# UTF-8), the time an aware UTC datetime or float epoch seconds, as `datetime.fromtimestamp`
# reads them (the range checked, so it cannot fail).
PlainEvent = tuple[str, "datetime | float", str, str, str, bytes]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_FLOAT_SECONDS_BELOW = 2**34  # whole seconds below this are exact floats (year 2514)
FILTERED_TAG = Sentinel(__name__, "FILTERED_TAG")  # sent as a tag alone
_VALID, _SANITIZED, _FILTERED, _OTHER = 0, 1, 2, 3


def shipped_event(
    ident: str, occurred_at: datetime, source: str, source_id: str, kind: str, payload: bytes
) -> RawEventDTO:
    """An event validated elsewhere (a parsing worker, `parallel`), rebuilt from its
    column values and its payload's UTF-8 JSON text (`payload_bytes`); `payload` is
    parsed back from that text (`dump_json`'s, which `json.loads` reads exactly) when
    first used, which an ingest never does (the sinks store the text)."""
    return constructed(
        {
            "id": ident,
            "occurred_at": occurred_at,
            "source": source,
            "source_id": source_id,
            "event_type": kind,
            "payload_bytes": payload,
        }
    )


def plain_validated(plain: PlainEvent, sanitized: bool = False) -> Validated:
    """The `Validated` of a `PlainEvent`."""
    ident, moment, source, source_id, kind, payload = plain
    if type(moment) is float:
        moment = datetime.fromtimestamp(moment, UTC)
    assert isinstance(moment, datetime)
    return Validated(shipped_event(ident, moment, source, source_id, kind, payload), sanitized)


def ship(items: list[Any], filtered: object = FILTERED_TAG) -> tuple[Any, ...]:
    """A block's items in the flat form `unship` reads: `Validated` events and
    `PlainEvent` tuples as columns, `filtered` as a tag alone, anything else pickled as
    it is. A time is sent as float epoch seconds (a plain event's own, or a whole second
    from 1970 to 2514: exact, and rebuilt fastest), else as integer microseconds since
    the epoch; equal names are sent once."""
    tags = bytearray()
    ids: list[str] = []
    times: list[float | int] = []
    names: dict[str, str] = {}  # pickled once per block (pickle's memo)
    sources: list[str] = []
    source_ids: list[str] = []
    kinds: list[str] = []
    payloads: list[bytes] = []
    others: list[Any] = []
    name = names.setdefault
    for item in items:
        if type(item) is tuple:  # a `PlainEvent`
            ident, moment, source, source_id, kind, payload = item
            tags.append(_VALID)
        elif type(item) is Validated:
            event = item.event
            values = event.__dict__
            ident, moment = values["id"], values["occurred_at"]
            source, source_id, kind = values["source"], values["source_id"], values["event_type"]
            payload = event.payload_bytes
            tags.append(_SANITIZED if item.sanitized else _VALID)
        elif item is filtered:
            tags.append(_FILTERED)
            continue
        else:
            tags.append(_OTHER)
            others.append(item)
            continue
        if type(moment) is not float:
            stamp = moment.timestamp()
            if moment.microsecond or not 0 <= stamp < _FLOAT_SECONDS_BELOW:
                stamp = (moment - _EPOCH) // _MICROSECOND
            moment = stamp
        ids.append(ident)
        times.append(moment)
        sources.append(name(source, source))
        source_ids.append(name(source_id, source_id))
        kinds.append(name(kind, kind))
        payloads.append(payload)
    return (bytes(tags), ids, times, sources, source_ids, kinds, payloads, others)


def unship(shipped: tuple[Any, ...], filtered: object = FILTERED_TAG) -> list[Any]:
    """The items `ship` was given, in order; events (plain ones too) rebuilt as
    `Validated(shipped_event(...))`."""
    tags, ids, times, sources, source_ids, kinds, payloads, others = shipped
    out: list[Any] = []
    append = out.append
    column = 0
    other = 0
    epoch = _EPOCH
    utc = UTC
    from_seconds = datetime.fromtimestamp
    for tag in tags:
        if tag <= _SANITIZED:
            stamp = times[column]
            event = shipped_event(
                ids[column],
                from_seconds(stamp, utc)
                if type(stamp) is float
                else epoch + timedelta(microseconds=stamp),
                sources[column],
                source_ids[column],
                kinds[column],
                payloads[column],
            )
            append(Validated(event, tag == _SANITIZED))
            column += 1
        elif tag == _FILTERED:
            append(filtered)
        else:
            append(others[other])
            other += 1
    return out
