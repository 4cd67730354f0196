"""CSV sink: `<csv dir>/<source>/<source_id>/<YYYY-MM-DD>.csv` by the event's UTC date.

Topic links (docs/topics.md) go to `<csv dir>/topic=<name>/<YYYY-MM-DD>.csv`, one file
per topic and day, with the columns of the `event_topics` table (`LINK_COLUMNS`): a
folder name no source can have (`=` is not allowed in one), hive-style. They are
written before the events they link, each link once, so an interrupted write is
completed by the rerun. Following a database, they are the links it stored; alone,
this sink links the events it writes itself (a comment's post only when it came in the
same batch: across runs that needs the database).

Guarantees: RFC 4180 (CRLF rows, quoted fields), UTF-8, one header per file, appends across
runs, no duplicates. Following a database sink it receives exactly the rows the database
newly inserted; alone, it skips keys already present in that day's file. Each file's rows
of a batch go out in one write under the file's `flock` (several processes may append to
one file); a write that fails (a full disk) is cut back off at once, and a torn last row
(from a crash) is cut by the next writer. Rows the database stored but this sink missed
(a crash between the two, a full disk) are written by a later run from the database
(`repair`, driven by `pipeline.journal`).

Times are in the canonical export form (`2024-01-02T03:04:05.123456Z`, timeparse.py).
Every row is one physical line (validation keeps control characters out of `id` and
`event_type`; the payload is compact JSON), which is what makes cutting a torn row at the
last CRLF safe. Reading its own files back has no field-size limit: any field this sink
can write, it can read.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import logging
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sentiment_pipeline.dto import RawEventDTO
from sentiment_pipeline.sinks.base import WriteResult, dedupe_batch
from sentiment_pipeline.timeparse import canonical_text, day_name, to_utc
from sentiment_pipeline.topics import Link, Tagger, tagger_for

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = [
    "COLUMNS",
    "LINK_COLUMNS",
    "CsvSink",
    "csv_field",
    "csv_row",
    "day_file",
    "from_settings",
    "replace_topic_day",
    "rewrite_payloads",
    "topic_folder",
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
LINK_COLUMNS = ("id", "occurred_at", "topic", "via")
_Keyed = TypeVar("_Keyed", RawEventDTO, Link)  # a row's subject: an event or a topic link
LOGGER = logging.getLogger(__name__)
_TAIL_BLOCK = 1 << 20  # bytes read back at a time to find a torn row's start


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
    """Appends events to day files (module docstring). `repair(events)` writes those a
    file lacks (`sinks.base.Repairable`), for rows a run left out (`pipeline.journal`)."""

    name = "csv"
    is_database = False

    def __init__(
        self, directory: Path, dedupe_against_files: bool = True, tagger: Tagger | None = None
    ) -> None:
        self.directory = directory
        self.tagger = tagger  # links the events it writes when no database leads
        # True when no database leads: then keys already in the file are skipped.
        self.dedupe_against_files = dedupe_against_files
        # path -> (inode, size, keys) of a file as this sink last saw it
        self._seen: dict[Path, tuple[int, int, set[str]]] = {}

    @property
    def identity(self) -> str:
        """Where it writes (`sinks.base.Repairable`)."""
        return f"csv:{self.directory.absolute()}"

    def follow_leader(self) -> None:
        """A database sink leads: it sends only rows it newly stored, so skip file look-ups."""
        self.dedupe_against_files = False

    def path_for(self, event: RawEventDTO) -> Path:
        day = day_name(event.occurred_at)
        return self.directory / event.source / event.source_id / f"{day}.csv"

    def write(self, batch: Sequence[RawEventDTO]) -> WriteResult:
        # Following a database, a batch is the rows it newly stored: unique already.
        if not self.dedupe_against_files:
            return WriteResult(new=self._write(batch, check=False), duplicates=0)
        unique, repeats = dedupe_batch(batch)
        links = self._own_links(unique)
        new = self._write(unique, check=True)
        fresh = {event.key for event in new}
        links = [link for link in links if (link.id, link.occurred_at) in fresh]
        return WriteResult(new=new, duplicates=repeats + len(unique) - len(new), links=links)

    def repair(self, events: Sequence[RawEventDTO]) -> int:
        """Append the events whose key the day file lacks (and their topic links, by
        their text and by a post among them); how many were appended."""
        unique, _ = dedupe_batch(events)
        self._own_links(unique)
        return len(self._write(unique, check=True))

    def _own_links(self, events: Sequence[RawEventDTO]) -> list[Link]:
        """Link `events` to the configured topics and write the links (those missing)."""
        links = self.tagger.links(events) if self.tagger is not None else []
        self.write_links(links)
        return links

    def write_links(self, links: Sequence[Link]) -> None:
        """Append the topic links a `topic=<name>/<day>.csv` file lacks (`TakesLinks`).
        Raises `OSError` (a full disk: that file is cut back, as the events' are)."""
        by_file: dict[Path, list[tuple[Link, str]]] = defaultdict(list)
        for link in links:
            stamp = csv_timestamp(link.occurred_at)
            by_file[topic_folder(self.directory, link.topic) / f"{stamp[:10]}.csv"].append(
                (link, stamp)
            )
        for path, rows in by_file.items():
            self._append(path, rows, _link_bytes, check=True)

    def _write(self, events: Sequence[RawEventDTO], check: bool) -> list[RawEventDTO]:
        """Append `events` to their day files (`check`: those a file lacks); the events
        appended, grouped by file."""
        # (source, source_id, day) -> the events and their canonical times, in batch order
        by_day: dict[tuple[str, str, str], list[tuple[RawEventDTO, str]]] = defaultdict(list)
        for event in events:
            stamp = csv_timestamp(event.occurred_at)
            by_day[(event.source, event.source_id, stamp[:10])].append((event, stamp))
        new: list[RawEventDTO] = []
        ingested = csv_timestamp(datetime.now(UTC))
        for (source, source_id, day), rows in by_day.items():
            path = self.directory / source / source_id / f"{day}.csv"

            def render(rows: list[tuple[RawEventDTO, str]], header: bool) -> bytes:
                return _row_bytes(rows, ingested, header)

            new.extend(self._append(path, rows, render, check))
        return new

    def _append(
        self,
        path: Path,
        rows: list[tuple[_Keyed, str]],
        render: Callable[[list[tuple[_Keyed, str]], bool], bytes],
        check: bool,
    ) -> list[_Keyed]:
        """Append rows to one day file in one write, under the file's lock, and fsync;
        `check`: only rows whose key the file lacks. A failed write (a full disk) is cut
        back off, so the file never keeps a torn row. Returns the rows appended."""
        with locked_day_file(path) as (descriptor, size):
            if check:
                rows = self._fresh(path, descriptor, size, rows)
            else:
                self._seen.pop(path, None)
            if not rows:
                return []
            data = render(rows, size == 0)
            try:
                _write_all(descriptor, data)
                os.fsync(descriptor)
            except OSError:
                self._seen.pop(path, None)
                _cut_back(path, descriptor, size)
                raise
            if check:
                inode, _, keys = self._seen[path]
                keys.update(f"{event.id}\t{stamp}" for event, stamp in rows)
                self._seen[path] = (inode, size + len(data), keys)
        return [event for event, _ in rows]

    def _fresh(
        self, path: Path, descriptor: int, size: int, rows: list[tuple[_Keyed, str]]
    ) -> list[tuple[_Keyed, str]]:
        """The rows whose key the file lacks, each key once (the file's keys are read
        back unless it is as this sink left it)."""
        inode = os.fstat(descriptor).st_ino
        cached = self._seen.get(path)
        if cached is None or cached[:2] != (inode, size):
            cached = (inode, size, _read_keys(path) if size else set())
            self._seen[path] = cached
        seen = cached[2]
        fresh: dict[str, tuple[_Keyed, str]] = {}
        for event, stamp in rows:
            key = f"{event.id}\t{stamp}"
            if key not in seen:
                fresh.setdefault(key, (event, stamp))
        return list(fresh.values())

    def close(self) -> None:
        self._seen.clear()


def _link_bytes(rows: list[tuple[Link, str]], header: bool) -> bytes:
    """Topic links as rows of `LINK_COLUMNS` (the topic a path-safe name, never quoted)."""
    parts = [csv_row(LINK_COLUMNS)] if header else []
    parts.extend(
        f"{csv_field(link.id)},{stamp},{link.topic},{link.via}\r\n" for link, stamp in rows
    )
    return "".join(parts).encode()


def _row_bytes(rows: list[tuple[RawEventDTO, str]], ingested: str, header: bool) -> bytes:
    """The rows as `csv_row` writes them (RFC 4180), built in bulk: source and source_id
    are path-safe names and the stamp is canonical time text, none ever quoted; the
    payload, the bulk of a row, is quoted as UTF-8 bytes (as the parser or validation
    left it), the rest encoded on its own (one emoji would make a whole row's str four
    bytes a character)."""
    parts = [csv_row(COLUMNS).encode()] if header else []
    tail = f",{csv_field(ingested)},false,\r\n".encode()
    append = parts.append
    for e, stamp in rows:
        append(
            f"{csv_field(e.id)},{stamp},{e.source},{e.source_id},"
            f"{csv_field(e.event_type)},".encode()
        )
        append(csv_field_utf8(e.payload_bytes))
        append(tail)
    return b"".join(parts)


def _write_all(descriptor: int, data: bytes) -> None:
    """`os.write` until all of `data` is written (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def _read_keys(path: Path) -> set[str]:
    """The keys of a day file's rows (`_key`), read with no field-size limit."""
    _unlimited_fields()
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        return {_key(row) for row in reader if len(row) >= 2}


@contextlib.contextmanager
def locked_day_file(path: Path) -> Iterator[tuple[int, int]]:
    """`(descriptor, size)` of a day file opened for appending (created if need be)
    under an exclusive `flock`, its torn last row (left by a crash) cut off first.

    Every writer of a day file takes it, so appends of several processes and a rewrite
    (`rewrite_payloads`, which replaces the file) never interleave; a file replaced or
    removed while we waited for its lock is opened again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = -1
            if current != os.fstat(descriptor).st_ino:
                continue  # replaced or removed meanwhile: open what is there now
            yield descriptor, _cut_torn_tail(path, descriptor)
            return
        finally:
            os.close(descriptor)  # releases the lock


def _cut_torn_tail(path: Path, descriptor: int) -> int:
    """Cut a torn last row (no CRLF at the end) back to the last CRLF; the size after."""
    size = os.fstat(descriptor).st_size
    if size == 0 or os.pread(descriptor, 2, size - 2) == b"\r\n":
        return size
    cut = 0
    end = size
    while end > 0:  # read back a block at a time for the last CRLF
        start = max(0, end - _TAIL_BLOCK)
        block = os.pread(descriptor, min(size, end + 1) - start, start)  # +1: CRLF across
        found = block.rfind(b"\r\n")
        if found >= 0:
            cut = start + found + 2
            break
        end = start
    os.ftruncate(descriptor, cut)
    LOGGER.warning("cut a torn last row from %s (left by an interrupted run)", path)
    return cut


def _cut_back(path: Path, descriptor: int, size: int) -> None:
    """After a failed append: the file back to `size` (best effort: the next writer
    cuts a torn row anyway); a file left empty is removed."""
    try:
        os.ftruncate(descriptor, size)
        if size == 0:
            path.unlink(missing_ok=True)
    except OSError as error:
        LOGGER.warning("could not cut the failed append off %s: %s", path, error)


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
    as this sink writes it, so the rest of the file is unchanged byte for byte. The
    file's lock is held throughout (`locked_day_file`: a torn last row is cut first, and
    an append waiting meanwhile goes to the new file). Returns how many rows changed (0:
    the file is left alone, also when it does not exist)."""
    if not path.exists():
        return 0
    wanted = {
        f"{ident}\t{canonical_text(moment)}": text for (ident, moment), text in payloads.items()
    }
    with locked_day_file(path) as (_, size):
        if size == 0:  # removed meanwhile: the lock made an empty file, which goes again
            path.unlink(missing_ok=True)
            return 0
        text, changed = _rewritten(path, wanted)
        if changed:
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with temporary.open("w", newline="", encoding="utf-8", errors="surrogateescape") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
    return changed


def topic_folder(directory: Path, topic: str) -> Path:
    """`<csv dir>/topic=<name>`: where one topic's link files are (module docstring)."""
    return directory / f"topic={topic}"


def replace_topic_day(directory: Path, topic: str, day: str, links: Sequence[Link]) -> None:
    """Make `topic=<topic>/<day>.csv` hold exactly `links` (in their order; none: the
    file goes), atomically under the file's lock, as `rewrite_payloads` replaces a day
    file: what `topics match` leaves in the database, mirrored. Raises `OSError`."""
    path = topic_folder(directory, topic) / f"{day}.csv"
    if not links and not path.exists():
        return
    with locked_day_file(path):
        if not links:
            path.unlink(missing_ok=True)
            return
        data = _link_bytes([(link, csv_timestamp(link.occurred_at)) for link in links], True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with temporary.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)


def _rewritten(path: Path, wanted: dict[str, str]) -> tuple[str, int]:
    """The file's text with the payloads of the `wanted` keys replaced; how many."""
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
    return buffer.getvalue(), changed


def from_settings(settings: Settings) -> CsvSink:
    return CsvSink(settings.csv_path, tagger=tagger_for(settings))
