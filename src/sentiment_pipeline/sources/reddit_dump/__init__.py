"""Reddit dump source: Pushshift / Arctic Shift files, one Reddit object per line.

`dump_items(reader, …)` walks one input (`reader.DumpReader`: zstd or plain, a file or
standard input) and gives `(line_number, item)` for every line past the resume point:
`item` is a `dto.Parsed` record (parsed by orjson, its payload serialised once), a plain
record (lines only the standard parser reads exactly, see `sources.jsonlines.loads_exact`),
a `Rejected` (dead letter: `<file> line N: <reason>`), or `FILTERED` (a blank line or
one the filters drop, never validated). The records are the scraper's shape
(`records.dump_record`). A synchronous generator: the job runs it in a thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sentiment_pipeline.dto import Rejected, Sentinel
from sentiment_pipeline.sources.blocks import parse_block
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
    "DumpRecords",
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

    @property
    def filtering(self) -> bool:
        """True when any filter is set (else every record is kept)."""
        return bool(self.subreddits) or self.since is not None or self.until is not None

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


@dataclass(frozen=True)
class DumpRecords:
    """How a dump's lines become records (`sources.blocks.LineRecords`): each object
    shaped by `records.dump_record`, then filtered; blank and filtered lines give
    `FILTERED`, refusals are dead letters naming the input (`label`) and the line."""

    hints: FileHints
    kind: Kind | None
    filters: DumpFilter
    label: str
    blank: object = FILTERED
    _filtering: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_filtering", self.filters.filtering)

    @property
    def wanted(self) -> Callable[[bytes], bool] | None:
        """The raw-line pre-filter (`DumpFilter.line_may_match`), None when none applies."""
        if self.filters._quick is None or self.hints.subreddit is not None:
            return None
        return partial(self.filters.line_may_match, hints=self.hints)

    def record(self, value: Any, number: int) -> Any:
        record = dump_record(value, self.hints, self.kind)
        if type(record) is not dict:
            assert isinstance(record, Rejected)
            kept = {"line": number, "record": record.record}
            return Rejected(kept, f"{self.label} line {number}: {record.reason}")
        if self._filtering and not self.filters.keeps(record):
            return FILTERED
        return record

    def refused(self, rejected: Rejected) -> Rejected:
        return Rejected(rejected.record, f"{self.label} {rejected.reason}")


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
    for the common case, else as `dto.validate_item` gives it (`sources.blocks.parse_block`;
    a `parallel.BlockPool` job)."""
    records = DumpRecords(hints, kind, filters, label)
    return parse_block(first, lines, data, max_payload_bytes, records)
