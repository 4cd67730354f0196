"""Redactions in flight: the rows a refresh is blanking, on disk until every copy is.

A redaction blanks the database rows (one transaction), deletes their scores, then
rewrites the rows in the CSV day files. A refresh killed between the two would leave the
deleted text in the CSV for good: the item is recorded as observed, so no later run
visits it again. So the keys are written to `<data dir>/journal/redact-*.json` (fsynced,
and held with `flock` while the run lives) before the database is touched, and the file
is removed once every copy is blanked. Every refresh (and `--purge-deleted-only`) first
finishes the redactions of runs that are gone (`unfinished`): files nobody holds.

A key is `[id, occurred_at]` with `occurred_at` as the store gave it (SQLite's stored
text, PostgreSQL's time in ISO form), which both stores take back as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sentiment_pipeline.lock import abandoned

__all__ = ["PREFIX", "in_flight", "unfinished"]

PREFIX = "redact-"


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@contextlib.contextmanager
def in_flight(directory: Path, keys: Sequence[tuple[str, Any]]) -> Iterator[None]:
    """Hold the keys on disk while their redaction runs; the file goes when the block
    ends without an error (one that raises leaves it for the next run)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}.json"
    with path.open("wb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        data = json.dumps([[ident, _plain(moment)] for ident, moment in keys])
        handle.write(data.encode())
        handle.flush()
        os.fsync(handle.fileno())
        yield
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def unfinished(directory: Path) -> Iterator[list[tuple[Path, list[tuple[str, str]]]]]:
    """The redactions of runs that are gone, `(file, keys)`, locked for the caller while
    it finishes them; the caller removes each file it finished. A file that cannot be
    read (cut short before its fsync: its redaction never began) is removed."""
    with contextlib.ExitStack() as stack:
        found: list[tuple[Path, list[tuple[str, str]]]] = []
        paths = sorted(directory.glob(f"{PREFIX}*.json")) if directory.is_dir() else []
        for path in paths:
            if not stack.enter_context(abandoned(path)):
                continue
            try:
                keys = [(str(k[0]), str(k[1])) for k in json.loads(path.read_bytes())]
            except (OSError, ValueError, TypeError, IndexError):
                path.unlink(missing_ok=True)
                continue
            found.append((path, keys))
        yield found
