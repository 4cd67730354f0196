"""Every request as a dict (route, path, params, status), in memory and optionally
as JSON lines in a file, so tests can count requests per route."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

LogEntry = dict[str, Any]


class RequestLog:
    """Append-only log shared by the server thread and the test thread."""

    def __init__(self, path: Path | None = None) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()
        self._path = path

    def record(self, entry: LogEntry) -> None:
        """Keep ``entry`` (and append it to the file, if any)."""
        with self._lock:
            self._entries.append(entry)
            if self._path is not None:
                with self._path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(entry) + "\n")

    def snapshot(self) -> list[LogEntry]:
        """A copy, oldest first."""
        with self._lock:
            return list(self._entries)

    def count(self, route: str | None = None, status: int | None = None) -> int:
        """Entries matching every given filter."""
        return sum(
            1
            for e in self.snapshot()
            if (route is None or e["route"] == route) and (status is None or e["status"] == status)
        )

    def clear(self) -> None:
        """Forget the in-memory entries."""
        with self._lock:
            self._entries.clear()
