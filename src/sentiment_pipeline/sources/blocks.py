"""The block loop both file sources share: a block of lines in, one item a line out.

`parse_block` parses each line (`jsonlines`: orjson wherever it is exact, the standard
parser elsewhere), turns its value into an event record (`LineRecords.record`: the NDJSON
source's lines are records already, a dump's objects are shaped by
`reddit_dump.DumpRecords`) and, given `max_payload_bytes`, validates it where it was
parsed (a reading thread or a worker process: `parallel.BlockPool`). The common line
costs one orjson parse, one serialisation of its payload and `dto.plain_event`; what
validation would clean (a NUL escape, a lone surrogate, an undecodable byte) is cleaned
in the text first when that is exact (`jsonlines.parse_cleaned`), and every other line
goes the standard way, which decides every refusal and gives its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from orjson import JSONDecodeError, loads

from sentiment_pipeline.dto import (
    Parsed,
    Rejected,
    validate_cleaned,
    validate_item,
    validate_parsed,
)
from sentiment_pipeline.sources.jsonlines import (
    BLANK,
    NUL_ESCAPE,
    differing_lines,
    dumps_exact,
    lines_holding,
    parse_cleaned,
    parse_line,
)

__all__ = ["LineRecords", "parse_block"]


class LineRecords(Protocol):
    """What a source tells the block loop: how a parsed line becomes its record."""

    @property
    def blank(self) -> object | None:
        """The item for a blank line (None: no item)."""
        ...

    @property
    def wanted(self) -> Callable[[bytes], bool] | None:
        """A test of the raw line: False skips it unparsed, as `blank` (None: no test)."""
        ...

    def record(self, value: Any, number: int) -> Any:
        """The event record (a dict) of line `number`'s parsed `value`, or the item that
        stands for the line instead (a `Rejected`, a skipped line's marker)."""
        ...

    def refused(self, rejected: Rejected) -> Rejected:
        """The dead letter of a line the parser refused (`jsonlines.parse_line`)."""
        ...


class _Every:
    """Every line index (a block with no bytes to search: each line goes the standard way)."""

    def __contains__(self, index: object) -> bool:
        return True


_EVERY = _Every()
_NONE: frozenset[int] = frozenset()


def parse_block(
    first: int,
    lines: Sequence[Any],
    data: bytes | None,
    max_payload_bytes: int | None = None,
    records: LineRecords | None = None,
    *,
    separator: int = 1,
) -> list[Any]:
    """The items of a block's `lines`, numbered from `first`, in order.

    `data` is the bytes the lines were cut from, each followed by `separator` bytes (as
    for `jsonlines.differing_lines`); None for lines of text, which all go the standard
    way. `records` shapes the records (None: each line is a record, a blank one gives no
    item). Without `max_payload_bytes` an item is a record (`dto.Parsed` when its payload
    was serialised), a `Rejected` or a `records` marker; with it, records come validated:
    a `dto.PlainEvent` for the common case, else what `dto.validate_item` gives."""
    slow: _Every | set[int] = _EVERY
    nul: frozenset[int] | set[int] = _NONE
    if data is not None:
        slow = differing_lines(lines, data, separator)
        if max_payload_bytes is not None:
            nul = lines_holding(lines, data, separator, NUL_ESCAPE)
    validating = max_payload_bytes is not None and data is not None
    wanted, skipped = (None, None) if records is None else (records.wanted, records.blank)
    out: list[Any] = []
    append = out.append
    for index, line in enumerate(lines):
        if wanted is not None and not wanted(line):
            append(skipped)
            continue
        if index in slow:
            _standard(out, line, first + index, max_payload_bytes, records)
            continue
        # What validation would clean (a NUL escape; orjson refuses a lone surrogate or
        # an undecodable byte) is cleaned in the text first, if that is exact.
        if index in nul and _cleaned(out, line, first + index, max_payload_bytes, records):
            continue
        try:
            value = loads(line)
        except JSONDecodeError:
            if not (validating and _cleaned(out, line, first + index, max_payload_bytes, records)):
                _standard(out, line, first + index, max_payload_bytes, records)
            continue
        record = value if records is None else records.record(value, first + index)
        payload = record.get("payload") if type(record) is dict else None
        text = dumps_exact(payload) if type(payload) is dict else None
        if text is not None and max_payload_bytes is not None:  # the common line, inline
            append(validate_parsed(record, text, max_payload_bytes, nul_free=index not in nul))
        else:
            append(_finished(record, max_payload_bytes, text, records))
    return out


def _finished(
    record: Any, max_payload_bytes: int | None, text: bytes | None, records: LineRecords | None
) -> Any:
    """The item of a line orjson parsed but for the common case: its record with the
    payload's text (`dto.Parsed`), or validated with `max_payload_bytes`; a source's
    marker as it is."""
    if type(record) is not dict and records is not None:  # a `Rejected` or a marker
        return record
    if max_payload_bytes is None:
        return record if text is None else Parsed(record, text)
    return validate_item(record, max_payload_bytes)


def _standard(
    out: list[Any],
    line: bytes | str,
    number: int,
    max_payload_bytes: int | None,
    records: LineRecords | None,
) -> None:
    """Append the item of a line only the standard parser reads exactly (or refuses)."""
    value = parse_line(line, number)
    if value is BLANK:
        if records is not None and records.blank is not None:
            out.append(records.blank)
        return
    if isinstance(value, Rejected):
        out.append(value if records is None else records.refused(value))
        return
    record = value if records is None else records.record(value, number)
    if max_payload_bytes is None or (records is not None and type(record) is not dict):
        out.append(record)
        return
    out.append(validate_item(record, max_payload_bytes))


def _cleaned(
    out: list[Any],
    line: bytes,
    number: int,
    max_payload_bytes: int | None,
    records: LineRecords | None,
) -> bool:
    """Append the line's event, sanitized, to `out` and return True when its record is
    a plain one once cleaned in the text (`jsonlines.parse_cleaned`: a fraction of the
    standard path's cost); False (nothing appended) leaves the line to that path, which
    also decides every refusal, filter and dead letter."""
    if max_payload_bytes is None:
        return False
    cleaned = parse_cleaned(line)
    if cleaned is None:
        return False
    value, text = cleaned
    record = value if records is None else records.record(value, number)
    if type(record) is not dict:
        return False
    payload = record.get("payload")
    if payload is not value:  # (a dump's payload is the whole line)
        text = dumps_exact(payload) if type(payload) is dict else None  # type: ignore[assignment]
    event = None if text is None else validate_cleaned(record, text, max_payload_bytes)
    if event is None:
        return False
    out.append(event)
    return True
