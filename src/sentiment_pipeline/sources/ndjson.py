"""NDJSON source: one JSON object per line, already in RawEventDTO shape.

Feeds the spool, tests and other producers through the same core. A line that is not
JSON becomes a `Rejected` record (dead-lettered), never a crash.
"""

from __future__ import annotations

import asyncio
import io
import json
import select
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.errors import ConfigError

__all__ = ["ndjson_records"]

_LINES_PER_CHUNK = 2000


def _open(path: str) -> IO[str]:
    if path == "-":
        return sys.stdin
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"input file {path!r} does not exist", "give an NDJSON file or - for stdin"
        )
    return file.open(encoding="utf-8", errors="replace")


def _has_pending_input(handle: IO[str]) -> bool:
    """True when more input is readable right now (always true for a regular file)."""
    try:
        readable, _, _ = select.select([handle], [], [], 0)
    except (OSError, ValueError, io.UnsupportedOperation):
        return True
    return bool(readable)


def _start_reader(handle: IO[str], loop: asyncio.AbstractEventLoop) -> asyncio.Queue[Any]:
    """Read lines in a daemon thread and hand them over in chunks.

    A chunk goes out at _LINES_PER_CHUNK lines or as soon as a pipe has nothing more to
    give, so a slow producer's lines are not held back. The bounded queue gives
    back-pressure; a daemon thread never keeps the process alive on a stop signal.
    """
    chunks: asyncio.Queue[Any] = asyncio.Queue(maxsize=8)

    def put(item: Any) -> None:
        asyncio.run_coroutine_threadsafe(chunks.put(item), loop).result()

    def work() -> None:
        try:
            lines: list[str] = []
            for line in handle:
                lines.append(line)
                if len(lines) >= _LINES_PER_CHUNK or not _has_pending_input(handle):
                    put(lines)
                    lines = []
            if lines:
                put(lines)
            put(None)
        except RuntimeError:  # the event loop is gone: nothing is waiting any more
            return
        except BaseException as error:
            put(error)

    threading.Thread(target=work, name="sentpipe-ndjson-reader", daemon=True).start()
    return chunks


async def ndjson_records(path: str) -> AsyncIterator[Any]:
    """Yield parsed records; reads happen off the event loop so writing overlaps reading."""
    handle = _open(path)
    chunks = _start_reader(handle, asyncio.get_running_loop())
    line_number = 0
    try:
        while True:
            lines = await chunks.get()
            if lines is None:
                return
            if isinstance(lines, BaseException):
                raise lines
            for line in lines:
                line_number += 1
                text = line.strip()
                if not text:
                    continue
                try:
                    yield json.loads(text)
                except json.JSONDecodeError as error:
                    yield Rejected(
                        {"line": line_number, "text": text[:10_000]},
                        f"line {line_number}: not JSON ({error.msg})",
                    )
    finally:
        if handle is not sys.stdin:
            handle.close()
