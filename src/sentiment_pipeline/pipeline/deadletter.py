"""Dead letters: records that failed validation, kept for inspection, never dropped.

One JSON line per record in `<data dir>/dead-letter/YYYY-MM-DD.ndjson` (UTC date):
`{"time": ..., "error": ..., "record": ...}`. Unserialisable values are kept as repr.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

__all__ = ["DeadLetterWriter"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


class DeadLetterWriter:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self._handle: IO[str] | None = None
        self._day: str | None = None
        self.paths: set[Path] = set()

    def write(self, record: Any, error: str) -> None:
        now = datetime.now(UTC)
        day = now.strftime("%Y-%m-%d")
        if self._handle is None or day != self._day:
            self.close()
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{day}.ndjson"
            self._handle = path.open("a", encoding="utf-8")
            self._day = day
            self.paths.add(path)
        line = json.dumps(
            {"time": now.isoformat(), "error": error, "record": record},
            ensure_ascii=False,
            default=_jsonable,
        )
        self._handle.write(line + "\n")
        self._handle.flush()
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
