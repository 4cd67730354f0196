"""Reddit dump source: Pushshift / Arctic Shift files, one Reddit object per line.

`dump_items(reader, …)` walks one input (`reader.DumpReader`: zstd or plain, a file or
standard input) and gives `(line_number, item)` for every line past the resume point:
`item` is a `dto.Parsed` record (parsed by orjson, its payload serialised once), a plain
record (lines only the standard parser reads exactly, see `sources.ndjson.loads_exact`),
a `Rejected` (dead letter: `<file> line N: <reason>`), or `FILTERED` (a blank line or
one the filters drop, never validated). The records are the scraper's shape
(`records.dump_record`). A synchronous generator: the job runs it in a thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from orjson import JSONDecodeError, loads

from sentiment_pipeline.dto import (
    Parsed,
    Rejected,
    Sentinel,
    validate_cleaned,
    validate_item,
    validate_parsed,
)
from sentiment_pipeline.sources.ndjson import (
    BLANK,
    NUL_ESCAPE,
    SLOW,
    differing_lines,
    dumps_exact,
    lines_holding,
    parse_cleaned,
    parse_line,
)
from sentiment_pipeline.sources.reddit_dump.reader import DumpReader, DumpReadError
from sentiment_pipeline.sources.reddit_dump.records import (
    KINDS,
    FileHints,
    Kind,
    dump_record,
    hints_from_name,
)

__all__ = [
    "FILTERED",
    "KINDS",
    "DumpFilter",
    "DumpReadError",
    "DumpReader",
    "FileHints",
    "Kind",
    "dump_block",
    "dump_blocks",
    "dump_items",
    "hints_from_name",
]

FILTERED = Sentinel(__name__, "FILTERED")  # a line skipped, never validated


@dataclass(frozen=True)
class DumpFilter:
    """Which records to keep, checked before validation. `subreddits`: names in any case
    (empty: all); `since`/`until`: aware datetimes bounding `created_utc` (inclusive,
    exclusive)."""

    subreddits: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _quick: re.Pattern[bytes] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = frozenset(name.lower() for name in self.subreddits)
        object.__setattr__(self, "_names", names)
        quick = b"|".join(re.escape(name.encode()) for name in sorted(names))
        object.__setattr__(self, "_quick", re.compile(quick, re.IGNORECASE) if names else None)

    def line_may_match(self, line: bytes, hints: FileHints) -> bool:
        """False when the raw line cannot hold a wanted subreddit (skipped unparsed)."""
        if self._quick is None or hints.subreddit is not None:
            return True
        return self._quick.search(line) is not None

    def keeps(self, record: dict[str, Any]) -> bool:
        source_id = record["source_id"]
        if self._names and (not isinstance(source_id, str) or source_id.lower() not in self._names):
            return False
        if self.since is None and self.until is None:
            return True
        created = record["occurred_at"]
        if isinstance(created, bool) or not isinstance(created, int | float):
            return True  # not a number: validation says why
        if self.since is not None and created < self.since.timestamp():
            return False
        return self.until is None or created < self.until.timestamp()


def dump_items(
    reader: DumpReader,
    hints: FileHints,
    kind: Kind | None = None,
    filters: DumpFilter | None = None,
    skip: int = 0,
) -> Iterator[tuple[int, Any]]:
    """`(line_number, item)` for every line after the first `skip` (see the module
    docstring). Raises `DumpReadError` after the last complete line of a cut-off or
    corrupt zstd input."""
    for block in dump_blocks(reader, hints, kind, filters, skip):
        yield from block


def dump_blocks(
    reader: DumpReader,
    hints: FileHints,
    kind: Kind | None = None,
    filters: DumpFilter | None = None,
    skip: int = 0,
) -> Iterator[list[tuple[int, Any]]]:
    """`dump_items` a decoded chunk at a time (lists of `(line_number, item)`, ~1,000
    lines each): one pass over the chunk finds the lines orjson would read differently,
    and the loop stays in one function."""
    filters = filters or DumpFilter()
    for first, lines, data in reader.blocks(skip):
        items = dump_block(first, lines, data, hints, kind, filters, reader.label)
        yield list(enumerate(items, start=first))


def dump_block(
    first: int,
    lines: list[bytes],
    data: bytes,
    hints: FileHints,
    kind: Kind | None,
    filters: DumpFilter,
    label: str,
    max_payload_bytes: int | None = None,
) -> list[Any]:
    """The items of one block of `dump_blocks`, a line each, without their numbers:
    `lines` are numbered from `first`, `data` is the bytes they were split from (see
    `DumpReader.blocks`), `label` the input's name for dead letters. With
    `max_payload_bytes`, each record comes validated against it: a `dto.PlainEvent`
    for the common case, else as `dto.validate_item` gives it (`dto.validate_parsed`;
    a `parallel.BlockPool` job)."""
    quick = filters.line_may_match
    no_prefilter = filters._quick is None or hints.subreddit is not None
    keeps = filters.keeps
    everything = not filters.subreddits and filters.since is None and filters.until is None
    slow = differing_lines(lines, data, 1)
    nul = lines_holding(lines, data, 1, NUL_ESCAPE) if max_payload_bytes is not None else set()
    sanitized = partial(
        _sanitized, hints=hints, kind=kind, filters=filters, max_payload_bytes=max_payload_bytes
    )
    out: list[Any] = []
    append = out.append
    for index, line in enumerate(lines):
        number = first + index
        if not no_prefilter and not quick(line, hints):
            append(FILTERED)
            continue
        value = SLOW
        if index not in slow:  # `loads_exact(line, True)`, inline
            # What validation would clean (a NUL escape; orjson refuses a lone surrogate
            # or an undecodable byte) is cleaned in the text first, if that is exact.
            if index in nul and sanitized(out, line):
                continue
            try:
                value = loads(line)
            except JSONDecodeError:
                if sanitized(out, line):
                    continue
        fast = value is not SLOW
        if not fast:
            value = parse_line(line, number)
            if value is BLANK:
                append(FILTERED)
                continue
            if isinstance(value, Rejected):
                append(Rejected(value.record, f"{label} {value.reason}"))
                continue
        record = dump_record(value, hints, kind)
        if type(record) is not dict:
            assert isinstance(record, Rejected)
            kept = {"line": number, "record": record.record}
            append(Rejected(kept, f"{label} line {number}: {record.reason}"))
            continue
        if not everything and not keeps(record):
            append(FILTERED)
            continue
        payload_json = dumps_exact(value) if fast else None
        if max_payload_bytes is None:
            append(record if payload_json is None else Parsed(record, payload_json))
        elif payload_json is None:
            append(validate_item(record, max_payload_bytes))
        else:
            append(
                validate_parsed(record, payload_json, max_payload_bytes, nul_free=index not in nul)
            )
    return out


def _sanitized(
    out: list[Any],
    line: bytes,
    hints: FileHints,
    kind: Kind | None,
    filters: DumpFilter,
    max_payload_bytes: int | None,
) -> bool:
    """Append the line's event, sanitized, to `out` and return True when its record is
    a plain one once cleaned in the text (`sources.ndjson.parse_cleaned`: a fraction of
    the standard path's cost); False (nothing appended) leaves the line to that path,
    which also decides every refusal, filter and dead letter. Without
    `max_payload_bytes` (records left to the pipeline to validate) never."""
    if max_payload_bytes is None:
        return False
    cleaned = parse_cleaned(line)
    if cleaned is None:
        return False
    value, text = cleaned
    record = dump_record(value, hints, kind)
    if type(record) is not dict or not filters.keeps(record):
        return False
    event = validate_cleaned(record, text, max_payload_bytes)
    if event is None:
        return False
    out.append(event)
    return True
