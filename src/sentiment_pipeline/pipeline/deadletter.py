"""Dead letters: records that failed validation, kept for inspection, never dropped.

One JSON line per record in `<data dir>/dead-letter/YYYY-MM-DD.ndjson` (UTC date):
`{"time": ..., "error": ..., "record": ...}`. Writing a dead letter never fails on the
record: values JSON cannot hold are kept as their repr, text UTF-8 cannot encode (lone
surrogates) is written as JSON `\\uXXXX` escapes, so the line still says exactly what
arrived, and a record that cannot even be walked (a broken object, a cycle, nesting past
the recursion limit) is kept as `"record_repr"` instead.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sentiment_pipeline.errors import SentpipeError

__all__ = ["DeadLetterWriter", "dead_letter_line"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)[:10_000]
    except Exception as error:  # a broken __repr__ is a record's bug, not ours
        return f"<unrepresentable {type(value).__name__}: {type(error).__name__}>"


def dead_letter_line(now: datetime, error: str, record: Any) -> str:
    """One dead-letter line (no newline), whatever `record` holds."""
    entry = {"time": now.isoformat(), "error": error, "record": record}
    try:
        line = json.dumps(entry, ensure_ascii=False, default=_jsonable)
    except Exception:  # a cycle, nesting past the recursion limit, a raising __repr__
        entry = {"time": now.isoformat(), "error": error, "record_repr": _safe_repr(record)}
        line = json.dumps(entry, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: escape everything that is not ASCII
        line = json.dumps(entry, ensure_ascii=True, default=_jsonable)
    return line


class DeadLetterWriter:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self._handle: IO[str] | None = None
        self._day: str | None = None
        self.paths: set[Path] = set()

    def write(self, record: Any, error: str) -> None:
        """Append one dead letter. Raises `SentpipeError` when it cannot be written (a
        full disk): the run stops rather than drop the record."""
        try:
            self._write(record, error)
        except OSError as failure:
            raise SentpipeError(
                f"cannot write a dead letter in {self.directory}: {failure.strerror or failure}",
                "free space in SENTPIPE_DATA_DIR, then run the same command again",
            ) from failure

    def _write(self, record: Any, error: str) -> None:
        now = datetime.now(UTC)
        day = now.date().isoformat()
        if self._handle is None or day != self._day:
            self.close()
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{day}.ndjson"
            # backslashreplace: the last line of defence; dead_letter_line already escapes
            self._handle = path.open("a", encoding="utf-8", errors="backslashreplace")
            self._day = day
            self.paths.add(path)
        self._handle.write(dead_letter_line(now, error, record) + "\n")
        self._handle.flush()
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
