"""CSV sink: `<csv dir>/<source>/<source_id>/<YYYY-MM-DD>.csv` by the event's UTC date.

Guarantees: RFC 4180 (CRLF rows, quoted fields), UTF-8, one header per file, appends across
runs, no duplicates. Following a database sink it receives exactly the rows the database
newly inserted; alone, it skips keys already present in that day's file. Each file's rows
of a batch go out in one write, and a torn last row (from a crash) is cut on reopen.

Times are in the canonical export form (`2024-01-02T03:04:05.123456Z`, timeparse.py).
Every row is one physical line (validation keeps control characters out of `id` and
`event_type`; the payload is compact JSON), which is what makes cutting a torn row at the
last CRLF safe. Reading its own files back has no field-size limit: any field this sink
can write, it can read.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sentiment_pipeline.dto import RawEventDTO
from sentiment_pipeline.sinks.base import WriteResult, dedupe_batch
from sentiment_pipeline.timeparse import canonical_text, day_name, to_utc

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = [
    "COLUMNS",
    "CsvSink",
    "csv_field",
    "csv_row",
    "day_file",
    "from_settings",
    "rewrite_payloads",
]

COLUMNS = (
    "id",
    "occurred_at",
    "source",
    "source_id",
    "event_type",
    "payload",
    "ingested_at",
    "processed",
    "processed_at",
)
LOGGER = logging.getLogger(__name__)


def csv_timestamp(moment: datetime) -> str:
    """The canonical UTC text of a moment (timeparse.canonical_text)."""
    if moment.tzinfo is UTC:  # validated events: already UTC, the quick way
        return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"
    return canonical_text(moment)


def csv_field(text: str) -> str:
    """One field as `csv.writer` (minimal quoting, CRLF rows) writes it: quoted, with
    inner quotes doubled, when it holds a comma, a quote, CR or LF."""
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def csv_field_utf8(text: bytes) -> bytes:
    """`csv_field` of UTF-8 text, in UTF-8."""
    if b'"' in text:
        return b'"' + text.replace(b'"', b'""') + b'"'
    if b"," in text or b"\n" in text or b"\r" in text:
        return b'"' + text + b'"'
    return text


def csv_row(fields: Sequence[str], end: str = "\r\n") -> str:
    """A row of `csv_field`s joined by commas, then `end` (the row's line ending, or the
    rest of the row already encoded), byte for byte what `csv.writer` writes for
    string fields."""
    return ",".join([csv_field(field) for field in fields]) + end


def _unlimited_fields() -> None:
    """Lift the csv module's 128 KiB field limit (a process-wide setting) to the largest
    value this platform's C long takes, once, so reading back never fails on a big field."""
    limit = sys.maxsize
    while limit > csv.field_size_limit():
        try:
            csv.field_size_limit(limit)
        except OverflowError:
            limit //= 2


def _key(row: list[str]) -> str:
    """(id, occurred_at) of a row read back; older files wrote `+00:00` times, so the time
    is re-rendered canonically when it parses."""
    try:
        stamp = canonical_text(to_utc(row[1]))
    except (ValueError, OverflowError):
        stamp = row[1]
    return f"{row[0]}\t{stamp}"


class CsvSink:
    name = "csv"
    is_database = False

    def __init__(self, directory: Path, dedupe_against_files: bool = True) -> None:
        self.directory = directory
        # True when no database leads: then keys already in the file are skipped.
        self.dedupe_against_files = dedupe_against_files
        self._seen: dict[Path, set[str]] = {}

    def follow_leader(self) -> None:
        """A database sink leads: it sends only rows it newly stored, so skip file look-ups."""
        self.dedupe_against_files = False

    def path_for(self, event: RawEventDTO) -> Path:
        day = day_name(event.occurred_at)
        return self.directory / event.source / event.source_id / f"{day}.csv"

    def write(self, batch: Sequence[RawEventDTO]) -> WriteResult:
        # Following a database, a batch is the rows it newly stored: unique already.
        unique, repeats = dedupe_batch(batch) if self.dedupe_against_files else (batch, 0)
        # (source, source_id, day) -> the events and their canonical times, in batch order
        by_day: dict[tuple[str, str, str], list[tuple[RawEventDTO, str]]] = defaultdict(list)
        for event in unique:
            stamp = csv_timestamp(event.occurred_at)
            by_day[(event.source, event.source_id, stamp[:10])].append((event, stamp))
        new: list[RawEventDTO] = []
        ingested = csv_timestamp(datetime.now(UTC))
        for (source, source_id, day), rows in by_day.items():
            path = self.directory / source / source_id / f"{day}.csv"
            fresh = self._filter_seen(path, rows) if self.dedupe_against_files else rows
            if fresh:
                self._append(path, fresh, ingested)
                new.extend(event for event, _ in fresh)
        return WriteResult(new=new, duplicates=repeats + len(unique) - len(new))

    def _filter_seen(
        self, path: Path, rows: list[tuple[RawEventDTO, str]]
    ) -> list[tuple[RawEventDTO, str]]:
        seen = self._seen.get(path)
        if seen is None:
            seen = self._read_keys(path)
            self._seen[path] = seen
        fresh = []
        for event, stamp in rows:
            key = f"{event.id}\t{stamp}"
            if key not in seen:
                seen.add(key)
                fresh.append((event, stamp))
        return fresh

    @staticmethod
    def _read_keys(path: Path) -> set[str]:
        if _repair_tail(path):  # also cuts a torn last row before it is read
            return set()
        _unlimited_fields()
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            return {_key(row) for row in reader if len(row) >= 2}

    def _append(self, path: Path, rows: list[tuple[RawEventDTO, str]], ingested: str) -> None:
        """Append the rows in one write (bytes built in bulk, `csv_row`'s RFC 4180 form)
        and fsync."""
        path.parent.mkdir(parents=True, exist_ok=True)
        parts = [csv_row(COLUMNS).encode()] if _repair_tail(path) else []
        tail = f",{csv_field(ingested)},false,\r\n".encode()
        # `csv_row` unrolled: source and source_id are path-safe names and the stamp is
        # canonical time text, none ever quoted; the payload, the bulk of a row, is
        # quoted as UTF-8 bytes (as the parser or validation left it), the rest encoded
        # on its own (one emoji would make a whole row's str four bytes a character).
        append = parts.append
        for e, stamp in rows:
            append(
                f"{csv_field(e.id)},{stamp},{e.source},{e.source_id},"
                f"{csv_field(e.event_type)},".encode()
            )
            append(csv_field_utf8(e.payload_bytes))
            append(tail)
        with path.open("ab") as handle:
            handle.write(b"".join(parts))
            handle.flush()
            os.fsync(handle.fileno())

    def close(self) -> None:
        self._seen.clear()


def _repair_tail(path: Path) -> bool:
    """Return True if the file is new or empty; cut a torn last row left by a crash."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return True
    if size == 0:
        return True
    with path.open("rb+") as handle:
        handle.seek(max(0, size - 2))
        if handle.read().endswith(b"\r\n"):
            return False
        handle.seek(0)
        data = handle.read()
        cut = data.rfind(b"\r\n")
        handle.truncate(cut + 2 if cut >= 0 else 0)
        LOGGER.warning("cut a torn last row from %s (left by an interrupted run)", path)
        return cut < 0


def day_file(directory: Path, source: str, source_id: str, occurred_at: datetime) -> Path:
    """The file an event of that source, source_id and time is appended to (the UTC
    day as `timeparse.day_name` writes it, four-digit years included)."""
    return directory / source / source_id / f"{day_name(occurred_at)}.csv"


def rewrite_payloads(path: Path, payloads: dict[tuple[str, datetime], str]) -> int:
    """Replace the payload column of the rows keyed `(id, occurred_at)` in one day file,
    atomically (a temporary file in the same folder, fsynced, then renamed over it).

    Rows are matched on the id and the time as a moment (a file from an older version
    with `+00:00` times matches too, see `_key`), fields of any size are read, and bytes
    that are not UTF-8 are written back as they were. Every other row is written back
    as this sink writes it, so the rest of the file is unchanged byte for byte. Returns
    how many rows changed (0: the file is left alone, also when it does not exist)."""
    if not path.exists():
        return 0
    wanted = {
        f"{ident}\t{canonical_text(moment)}": text for (ident, moment), text in payloads.items()
    }
    payload_column = COLUMNS.index("payload")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    changed = 0
    _unlimited_fields()
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as handle:
        for number, row in enumerate(csv.reader(handle)):
            text = wanted.get(_key(row)) if number and len(row) > payload_column else None
            if text is not None and row[payload_column] != text:
                row[payload_column] = text
                changed += 1
            writer.writerow(row)
    if changed:
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with temporary.open("w", newline="", encoding="utf-8", errors="surrogateescape") as out:
            out.write(buffer.getvalue())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    return changed


def from_settings(settings: Settings) -> CsvSink:
    return CsvSink(settings.csv_path)
