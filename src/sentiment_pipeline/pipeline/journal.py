"""The follower journal: which committed batches a follower sink (the CSV sink) still owes.

A follower receives the rows the leading database newly stored, *after* the database
committed them. Whatever comes between the commit and the follower's own write — SIGKILL,
a full disk, an error of the follower — would leave those rows out of the follower for
good: a rerun finds them stored and sends the follower nothing. So before the leader
writes batch `n`, the writer appends the batch's keys to this run's journal and fsyncs it;
once every follower has the batch's new rows (written and fsynced), it appends `done n`.

A journal file belongs to one live run, which holds an exclusive `flock` on it until it
ends; a run that ends with every batch done deletes its file. A file nobody holds is
*stale*: its run died or a follower failed. The next run that writes to the same database
and follower takes it over (`stale_journals`): the keys of its unfinished batches that the
database holds, and that no live journal holds (that run's own follower write is still to
come), are written to the follower unless it has them already (`BatchWriter.repair`), then
the file is deleted.

One file per run under `<data dir>/journal/`, NDJSON: a header
`{"journal": 1, "leader": ID, "followers": [ID, …]}`, then `{"batch": n, "keys": [[id,
time], …]}` and `{"done": n}` lines. Identities name the database (without its password)
and the follower (`csv:<folder>`); a torn last line (a crash mid-append) is ignored, as
its batch was never written to the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from sentiment_pipeline.dto import RawEventDTO
from sentiment_pipeline.lock import abandoned
from sentiment_pipeline.timeparse import to_utc

__all__ = ["FollowerJournal", "JournalFile", "live_keys", "owed_rows", "stale_journals"]

LOGGER = logging.getLogger(__name__)
Key = tuple[str, datetime]
SUFFIX = ".journal"
# A journal whose batches are all done is cut back to its header once it grows past
# this, so a run of days keeps a small file.
_TRIM_BYTES = 4 << 20


class FollowerJournal:
    """This run's journal (see the module docstring). Created lazily on the first batch;
    `close()` deletes the file when every batch is done, else leaves it for the next run.

    Raises `OSError` from `begin` when the journal cannot be written (a full disk): the
    writer must then not commit the batch, since nothing would record the debt."""

    def __init__(self, directory: Path, leader: str, followers: Sequence[str]) -> None:
        self.directory = directory
        self.leader = leader
        self.followers = list(followers)
        self.path: Path | None = None
        self._handle: IO[bytes] | None = None
        self._header = 0
        self._next = 0
        self._open_batches: set[int] = set()
        self._lock = threading.Lock()

    @property
    def owed(self) -> int:
        """Batches begun and not done (a follower failed, or the batch was spooled)."""
        return len(self._open_batches)

    def begin(self, batch: Sequence[RawEventDTO]) -> int:
        """Record `batch`'s keys durably before the leader writes it; its number."""
        with self._lock:
            handle = self._handle or self._create()
            number = self._next
            self._next += 1
            keys = [(event.id, event.occurred_at) for event in batch]
            handle.write(orjson.dumps({"batch": number, "keys": keys}) + b"\n")
            handle.flush()
            os.fdatasync(handle.fileno())
            self._open_batches.add(number)
            return number

    def done(self, number: int) -> None:
        """Every follower holds batch `number`'s new rows (they fsynced them). Not fsynced
        itself: a lost `done` only makes the next run check that batch again."""
        with self._lock:
            if self._handle is None or number not in self._open_batches:
                return
            self._open_batches.discard(number)
            try:
                self._handle.write(b'{"done": %d}\n' % number)
                self._handle.flush()
                if not self._open_batches and self._handle.tell() > _TRIM_BYTES:
                    self._handle.truncate(self._header)
            except OSError as error:  # a full disk: the batch stays owed, which is safe
                LOGGER.debug("journal %s: %s", self.path, error)

    def close(self) -> None:
        """Delete the file if nothing is owed; release it either way."""
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is None:
                return
            if not self._open_batches and self.path is not None:
                self.path.unlink(missing_ok=True)
            handle.close()  # releases the flock

    def _create(self) -> IO[bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")  # a file name, not a moment's text
        path = self.directory / f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        handle = path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            header = {"journal": 1, "leader": self.leader, "followers": self.followers}
            handle.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            _fsync_directory(self.directory)
        except BaseException:
            handle.close()
            path.unlink(missing_ok=True)
            raise
        self._header = handle.tell()
        self.path, self._handle = path, handle
        return handle


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@dataclass
class JournalFile:
    """A journal read back: its identities and the keys of its unfinished batches."""

    path: Path
    leader: str = ""
    followers: list[str] = field(default_factory=list)
    owed: list[Key] = field(default_factory=list)


def read_journal(path: Path) -> JournalFile:
    """Parse a journal file; lines that do not parse (a torn last line) are skipped."""
    found = JournalFile(path)
    batches: dict[int, list[Key]] = {}
    with path.open("rb") as handle:
        for raw in handle:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(line, dict):
                continue
            if "journal" in line:
                found.leader = str(line.get("leader", ""))
                found.followers = [str(f) for f in line.get("followers", [])]
            elif "batch" in line:
                batches[int(line["batch"])] = [_key(item) for item in line.get("keys", [])]
            elif "done" in line:
                batches.pop(int(line["done"]), None)
    found.owed = list(dict.fromkeys(key for keys in batches.values() for key in keys))
    return found


def _key(item: Any) -> Key:
    return (str(item[0]), to_utc(str(item[1])))


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"*{SUFFIX}"))


@contextlib.contextmanager
def stale_journals(directory: Path) -> Iterator[list[JournalFile]]:
    """The journals whose runs are gone, locked for the caller while it repairs them;
    the caller deletes each file it has repaired (`path.unlink`)."""
    with contextlib.ExitStack() as stack:
        found: list[JournalFile] = []
        for path in _files(directory):
            if stack.enter_context(abandoned(path)):
                try:
                    found.append(read_journal(path))
                except OSError as error:
                    LOGGER.warning("cannot read journal %s: %s", path, error)
        yield found


def live_keys(directory: Path, exclude: Collection[Path] = ()) -> set[Key]:
    """Every key of unfinished batches in the journals of runs still going (`exclude`:
    files the caller holds itself): their own followers will write those rows, or leave
    them owed, so a repair must not."""
    keys: set[Key] = set()
    for path in _files(directory):
        if path in exclude:
            continue
        with abandoned(path) as gone:
            if gone:
                continue
        try:
            journal = read_journal(path)
        except OSError:
            continue
        keys.update(journal.owed)
    return keys


def owed_rows(directory: Path) -> int:
    """Rows owed to followers by journals of runs that are gone (for `stats` and
    `spool status`): keys of unfinished batches, some perhaps already in the follower."""
    total = 0
    for path in _files(directory):
        with abandoned(path) as gone:
            if not gone:
                continue
            try:
                total += len(read_journal(path).owed)
            except OSError:
                continue
    return total
