"""NDJSON source: one JSON object per line, already in RawEventDTO shape.

Feeds the spool, tests and other producers through the same core. A line that is not
JSON becomes a `Rejected` record (dead-lettered), never a crash.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.errors import ConfigError

__all__ = ["ndjson_records"]

_LINES_PER_READ = 2000


def _open(path: str) -> IO[str]:
    if path == "-":
        return sys.stdin
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"input file {path!r} does not exist", "give an NDJSON file or - for stdin"
        )
    return file.open(encoding="utf-8", errors="replace")


def _read_chunk(handle: IO[str]) -> list[str]:
    lines = []
    for line in handle:
        lines.append(line)
        if len(lines) >= _LINES_PER_READ:
            break
    return lines


async def ndjson_records(path: str) -> AsyncIterator[Any]:
    """Yield parsed records; file reads happen in a thread so writing overlaps reading."""
    handle = _open(path)
    line_number = 0
    try:
        while True:
            lines = await asyncio.to_thread(_read_chunk, handle)
            if not lines:
                return
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
