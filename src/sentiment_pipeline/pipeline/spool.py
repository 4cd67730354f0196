"""The spool: batches the database could not take, kept on disk until it can.

Each batch is one NDJSON file under `<data dir>/spool/`, written to a temporary name,
fsynced and renamed, so a file is either whole or absent. Replay removes a file only
after its rows are committed.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentiment_pipeline.dto import RawEventDTO, dump_json

__all__ = ["Spool"]


class Spool:
    """The spool folder: `write` a batch as one file (whole or absent), `files` oldest
    first, `read` one back, `remove` it once every sink has its rows."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, batch: Sequence[RawEventDTO]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        final = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.ndjson"
        temporary = final.with_suffix(".tmp")
        try:
            with temporary.open("w", encoding="utf-8") as handle:
                for event in batch:
                    handle.write(dump_json(event.to_record()) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            temporary.unlink(missing_ok=True)  # a full disk: no half file left behind
            raise
        os.replace(temporary, final)
        return final

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.ndjson"))

    def pending_records(self) -> int:
        total = 0
        for path in self.files():
            with path.open("rb") as handle:
                total += sum(1 for _ in handle)
        return total

    @staticmethod
    def read(path: Path) -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)
