"""The sink protocol: write a batch, learn exactly which events were new; close.

Sinks are synchronous and called from one writer thread, so a sink needs no locking.
A sink raises `TransientError` for failures worth retrying (connection lost, server
restarting); the pipeline retries those with backoff and spools the batch if they last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from sentiment_pipeline.dto import RawEventDTO
from sentiment_pipeline.topics.tagger import Link

__all__ = [
    "FollowsLeader",
    "Repairable",
    "Sink",
    "StoredRows",
    "TakesLinks",
    "WriteResult",
    "dedupe_batch",
    "leaders_and_followers",
]


@dataclass(frozen=True)
class WriteResult:
    """`new` are the events this write stored for the first time, in batch order;
    `duplicates` counts the rest (already stored, or repeated within the batch); `links`
    the topic links of the new events it stored with them (`topics.Tagger`)."""

    new: Sequence[RawEventDTO]
    duplicates: int
    links: Sequence[Link] = ()

    @property
    def inserted(self) -> int:
        return len(self.new)


@runtime_checkable
class Sink(Protocol):
    """Where validated events go. `is_database` sinks are the record of truth: when one
    is configured, the other sinks receive only the events it newly stored."""

    name: str
    is_database: bool

    def write(self, batch: Sequence[RawEventDTO]) -> WriteResult:
        """Store `batch` (validated events, any order, repeats allowed); return which were
        new. Raises `TransientError` for failures worth retrying, `ConfigError` for a
        sink that cannot work as configured (e.g. the table is missing)."""
        ...

    def close(self) -> None:
        """Release connections and files; the sink may be closed more than once."""
        ...


@runtime_checkable
class FollowsLeader(Protocol):
    """A non-database sink that can follow a leading database sink: after
    `follow_leader()` it receives exactly the events the leader newly stored, so it
    drops its own de-duplication (the CSV sink: no look-up of keys in its files)."""

    def follow_leader(self) -> None: ...


@runtime_checkable
class TakesLinks(Protocol):
    """A follower that keeps the topic links of the events it is sent (the CSV sink's
    `topic=<name>/` files): `write_links` is called with the leader's links of a batch
    before the batch itself, so a crash between the two is repaired by the rerun."""

    def write_links(self, links: Sequence[Link]) -> None: ...


@runtime_checkable
class StoredRows(Protocol):
    """A leading database that gives its rows back by key, so a follower that missed
    some can be repaired from it (`pipeline.journal`). `identity` names the database
    without any secret (`postgresql://user:***@host:5432/db`, `sqlite:/abs/path.db`)."""

    identity: str

    def stored(self, keys: Sequence[tuple[str, datetime]]) -> list[RawEventDTO]:
        """The stored events of those keys (id, aware `occurred_at`), as they are stored
        now; keys not stored are left out. Raises `TransientError` when unreachable."""
        ...


@runtime_checkable
class Repairable(Protocol):
    """A follower that can take rows it may hold already (`repair`): it writes only
    those it lacks. `identity` names where it writes (`csv:/abs/folder`)."""

    name: str
    identity: str

    def repair(self, events: Sequence[RawEventDTO]) -> int:
        """Write the events this sink does not hold yet; how many it wrote. Raises
        `OSError` (a full disk) or `TransientError`; a failed repair writes nothing torn."""
        ...


def leaders_and_followers(sinks: Sequence[Sink]) -> tuple[list[Sink], list[Sink]]:
    """Split sinks into leaders (`is_database`, in order) and followers (the rest).

    When a leader exists, every follower that declares `FollowsLeader` is told to
    follow it; this is the one place that decides it, for every sink alike.
    """
    leaders = [sink for sink in sinks if sink.is_database]
    followers = [sink for sink in sinks if not sink.is_database]
    if leaders:
        for follower in followers:
            if isinstance(follower, FollowsLeader):
                follower.follow_leader()
    return leaders, followers


def dedupe_batch(batch: Sequence[RawEventDTO]) -> tuple[list[RawEventDTO], int]:
    """Drop repeats of a primary key within one batch (keep the first); count them."""
    if len({event.id for event in batch}) == len(batch):  # the usual case: no key twice
        return list(batch), 0  # (str hashes are cached; fresh datetimes' are not)
    seen: set[tuple[str, object]] = set()
    unique: list[RawEventDTO] = []
    for event in batch:
        key = event.key
        if key not in seen:
            seen.add(key)
            unique.append(event)
    return unique, len(batch) - len(unique)
