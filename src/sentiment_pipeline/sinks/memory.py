"""In-memory sink for tests: idempotent on the primary key, with injectable failures.

`fail_times=N` makes the first N writes raise TransientError (as a lost connection
would); `fail_always=True` makes every write fail, to exercise retries and the spool.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sentiment_pipeline.dto import RawEventDTO
from sentiment_pipeline.errors import TransientError
from sentiment_pipeline.sinks.base import WriteResult, dedupe_batch

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = ["MemorySink", "from_settings"]


class MemorySink:
    name = "memory"
    is_database = True

    def __init__(self, fail_times: int = 0, fail_always: bool = False) -> None:
        self.rows: dict[tuple[str, datetime], RawEventDTO] = {}
        self.fail_times = fail_times
        self.fail_always = fail_always
        self.writes = 0
        self.closed = False

    def write(self, batch: Sequence[RawEventDTO]) -> WriteResult:
        self.writes += 1
        if self.fail_always or self.fail_times > 0:
            self.fail_times -= 1
            raise TransientError("memory sink: injected failure")
        unique, repeats = dedupe_batch(batch)
        new = [event for event in unique if event.key not in self.rows]
        for event in new:
            self.rows[event.key] = event
        return WriteResult(new=new, duplicates=repeats + len(unique) - len(new))

    def close(self) -> None:
        self.closed = True


def from_settings(settings: Settings) -> MemorySink:
    return MemorySink()
