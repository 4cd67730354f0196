"""One JSON line per request, kept in memory and optionally in a file.

Tests assert on request counts (e.g. "250 posts in exactly 3 listing requests"),
benchmarks read the file afterwards.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO, Any

LogEntry = dict[str, Any]


class RequestLog:
    """Append-only request log shared between the server and test threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.entries: list[LogEntry] = []
        self._lock = threading.Lock()
        self._path = path
        self._file: IO[str] | None = None

    def open(self) -> None:
        """Open the JSON-lines file, if one was configured."""
        if self._path is not None and self._file is None:
            self._file = self._path.open("a", encoding="utf-8")

    def close(self) -> None:
        """Flush and close the file."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def record(self, entry: LogEntry) -> None:
        """Store ``entry`` and write it as one line."""
        with self._lock:
            self.entries.append(entry)
            if self._file is not None:
                self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self._file.flush()

    def snapshot(self) -> list[LogEntry]:
        """A copy safe to iterate while the server keeps appending."""
        with self._lock:
            return list(self.entries)

    def count(
        self,
        route: str | None = None,
        subreddit: str | None = None,
        status: int | None = None,
        member: str | None = None,
    ) -> int:
        """Count entries matching every given filter (names are case-insensitive;
        ``member``: listing requests whose ``a+b+c`` includes that subreddit)."""
        wanted = subreddit.lower() if subreddit is not None else None
        part = member.lower() if member is not None else None
        return sum(
            1
            for e in self.snapshot()
            if (route is None or e.get("route") == route)
            and (wanted is None or str(e.get("subreddit") or "").lower() == wanted)
            and (status is None or e.get("status") == status)
            and (part is None or part in (e.get("members") or ()))
        )

    def clear(self) -> None:
        """Forget in-memory entries (the file keeps them)."""
        with self._lock:
            self.entries.clear()
