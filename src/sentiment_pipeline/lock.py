"""A run lock that a crashed run cannot leave behind: `flock` dies with the process.

The file keeps the holder's pid so a refused run can say who holds it; the file itself
stays on disk (deleting it would let two runs lock two different inodes).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sentiment_pipeline.errors import ConfigError, LockHeld

__all__ = ["abandoned", "holder_pid", "run_lock"]


def holder_pid(path: Path) -> int | None:
    """The pid written by the current (or last) holder, if readable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


@contextmanager
def run_lock(path: Path, wait: bool = False, command: str = "sentpipe scrape") -> Iterator[None]:
    """Hold an exclusive lock on `path`; raise `LockHeld` at once unless `wait`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ConfigError(
            f"cannot create lock file {path}: {error.strerror}",
            "set SENTPIPE_DATA_DIR to a writable folder",
        ) from error
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            pid = holder_pid(path)
            holder = f"pid {pid}" if pid is not None else "pid unknown"
            raise LockHeld(
                f"another {command} is running ({holder}, lock {path})",
                "wait for it, or pass --wait",
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode("ascii"))
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


@contextmanager
def abandoned(path: Path) -> Iterator[bool]:
    """Try to take the lock of a file whose writer holds it (`flock`) for as long as
    it lives (a journal of a run): True while we hold it, its writer being gone; False
    when a live process holds it, or the file is gone."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield path.exists()  # deleted before we took its lock: nothing left to take over
    finally:
        handle.close()
