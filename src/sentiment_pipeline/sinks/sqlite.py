"""SQLite sink: the embedded default. Idempotent on (id, occurred_at), exact counts.

One `BEGIN IMMEDIATE` transaction per batch takes SQLite's write lock first, so the
probe for existing keys and the insert cannot race another writer; `new` is exact.
Timestamps are stored as UTC text in SQLAlchemy's format so the ORM reads them back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sentiment_pipeline.db.engine import ensure_sqlite_dir
from sentiment_pipeline.db.errors import map_sqlite_error, missing_table
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.dto import RawEventDTO, shipped_event
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sinks.base import WriteResult, dedupe_batch
from sentiment_pipeline.timeparse import storage_text, to_utc
from sentiment_pipeline.topics import Link, Tagger, tagger_for
from sentiment_pipeline.topics.store import SqliteLinks

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = ["SqliteSink", "format_timestamp", "from_settings"]

_PROBE_CHUNK = 900  # ids per probe query (under SQLite's old 999-parameter limit)


def format_timestamp(moment: datetime) -> str:
    """UTC wall time as SQLAlchemy's SQLite DateTime stores it (four-digit year)."""
    return storage_text(moment)


class SqliteSink:
    name = "sqlite"
    is_database = True

    def __init__(self, url: DatabaseURL, tagger: Tagger | None = None) -> None:
        self.url = url
        self.tagger = tagger  # links each new event to its topics, in the same transaction
        self.path = url.sqlite_path
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            ensure_sqlite_dir(self.url)
            connection: sqlite3.Connection | None = None
            try:
                connection = sqlite3.connect(
                    self.path, isolation_level=None, timeout=30, check_same_thread=False
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                table = connection.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='raw_events'"
                ).fetchone()
            except sqlite3.Error as error:
                if connection is not None:
                    connection.close()
                raise map_sqlite_error(self.url, error, connecting=True, retry=True) from None
            if table is None:
                connection.close()
                raise missing_table(self.url)
            self._connection = connection
        return self._connection

    def write(self, batch: Sequence[RawEventDTO]) -> WriteResult:
        unique, repeats = dedupe_batch(batch)
        if not unique:
            return WriteResult(new=[], duplicates=repeats)
        connection = self._connect()
        rows = [
            (
                e.id,
                format_timestamp(e.occurred_at),
                e.source,
                e.source_id,
                e.event_type,
                e.payload_json,
            )
            for e in unique
        ]
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                existing = self._existing(connection, [(r[0], r[1]) for r in rows])
                new_rows = []
                new_events = []
                for event, row in zip(unique, rows, strict=True):
                    if (row[0], row[1]) not in existing:
                        new_rows.append(row)
                        new_events.append(event)
                connection.executemany(
                    "INSERT INTO raw_events (id, occurred_at, source, source_id, event_type,"
                    " payload) VALUES (?, ?, ?, ?, ?, ?)",
                    new_rows,
                )
                links = self._link(connection, new_events)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as error:
            mapped = map_sqlite_error(self.url, error, retry=True)
            if mapped is error:
                raise
            raise mapped from error
        return WriteResult(
            new=new_events, duplicates=repeats + len(unique) - len(new_events), links=links
        )

    def _link(self, connection: sqlite3.Connection, events: list[RawEventDTO]) -> list[Link]:
        """Store the topic links of `events` (just inserted) in the write's transaction."""
        if self.tagger is None or not events:
            return []
        store = SqliteLinks(connection)
        links = self.tagger.links(events, store.post_topics)
        store.insert(links)
        return links

    @property
    def identity(self) -> str:
        """The database file (`sinks.base.StoredRows`)."""
        return f"sqlite:{self.path.absolute()}"

    def stored(self, keys: Sequence[tuple[str, datetime]]) -> list[RawEventDTO]:
        """The stored events of `keys` (`sinks.base.StoredRows`), payloads as stored."""
        wanted = {(ident, format_timestamp(moment)) for ident, moment in keys}
        ids = sorted({ident for ident, _ in keys})
        found: list[RawEventDTO] = []
        try:
            connection = self._connect()
            for start in range(0, len(ids), _PROBE_CHUNK):
                chunk = ids[start : start + _PROBE_CHUNK]
                rows = connection.execute(
                    "SELECT id, occurred_at, source, source_id, event_type, payload "
                    f"FROM raw_events WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.extend(
                    shipped_event(i, to_utc(t), src, sid, kind, payload.encode())
                    for i, t, src, sid, kind, payload in rows
                    if (i, t) in wanted
                )
        except sqlite3.OperationalError as error:
            mapped = map_sqlite_error(self.url, error, retry=True)
            if mapped is error:
                raise
            raise mapped from error
        return found

    @staticmethod
    def _existing(
        connection: sqlite3.Connection, keys: list[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Keys already stored. Probes by `id IN (…)`, which walks the primary-key index
        (a row-value `(id, occurred_at) IN (VALUES …)` makes SQLite scan the table)."""
        wanted = set(keys)
        ids = sorted({key[0] for key in keys})
        found: set[tuple[str, str]] = set()
        for start in range(0, len(ids), _PROBE_CHUNK):
            chunk = ids[start : start + _PROBE_CHUNK]
            placeholders = ",".join("?" * len(chunk))
            query = f"SELECT id, occurred_at FROM raw_events WHERE id IN ({placeholders})"
            found.update(row for row in connection.execute(query, chunk) if row in wanted)
        return found

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def from_settings(settings: Settings) -> SqliteSink:
    url = settings.database
    if url.backend != "sqlite":
        raise ConfigError(
            "the sqlite sink needs a sqlite:/// database URL",
            "unset SENTPIPE_DATABASE_URL for the embedded default, or use --sink timescale",
        )
    return SqliteSink(url, tagger_for(settings))
