"""The sink protocol: write a batch, learn exactly which events were new; close.

Sinks are synchronous and called from one writer thread, so a sink needs no locking.
A sink raises `TransientError` for failures worth retrying (connection lost, server
restarting); the pipeline retries those with backoff and spools the batch if they last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sentiment_pipeline.dto import RawEventDTO

__all__ = ["Sink", "WriteResult", "dedupe_batch"]


@dataclass(frozen=True)
class WriteResult:
    """`new` are the events this write stored for the first time, in batch order;
    `duplicates` counts the rest (already stored, or repeated within the batch)."""

    new: Sequence[RawEventDTO]
    duplicates: int

    @property
    def inserted(self) -> int:
        return len(self.new)


@runtime_checkable
class Sink(Protocol):
    """Where validated events go. `is_database` sinks are the record of truth: when one
    is configured, the other sinks receive only the events it newly stored."""

    name: str
    is_database: bool

    def write(self, batch: Sequence[RawEventDTO]) -> WriteResult: ...

    def close(self) -> None: ...


def dedupe_batch(batch: Sequence[RawEventDTO]) -> tuple[list[RawEventDTO], int]:
    """Drop repeats of a primary key within one batch (keep the first); count them."""
    seen: set[tuple[str, object]] = set()
    unique: list[RawEventDTO] = []
    for event in batch:
        key = event.key
        if key not in seen:
            seen.add(key)
            unique.append(event)
    return unique, len(batch) - len(unique)
