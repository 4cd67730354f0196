"""PostgresSink: store events in `raw_events` (a TimescaleDB hypertable or a plain table).

Guarantees, per `write(batch)`:

- idempotent on the primary key (id, occurred_at): writing a batch again stores nothing;
- exact counts: `new` is exactly the events this call inserted, in batch order, and
  `duplicates` counts the rest (repeats within the batch plus rows already stored), so the
  CSV sink can follow `new` as a faithful log of the database;
- one transaction per batch: a failed write stores nothing.

Why this shape (see docs/performance.md, "Ingest"): binary COPY is the fastest way in but
fails on a duplicate key, and staging + `INSERT … ON CONFLICT` costs ~25% of throughput.
So the batch's keys are first probed against the primary-key index (cheap; the time bound
lets TimescaleDB skip chunks), and only the absent rows are COPYed straight into the
table. A concurrent writer can still insert a key between probe and COPY; the resulting
unique violation rolls the transaction back and the batch is redone through a temp
staging table with `ON CONFLICT DO NOTHING RETURNING`, which stays exact under races.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Dumper
from psycopg.pq import Format

from sentiment_pipeline.db.errors import map_postgres_error
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.dto import RawEventDTO, compact_json, shipped_event
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sinks.base import WriteResult, dedupe_batch
from sentiment_pipeline.timeparse import to_utc
from sentiment_pipeline.topics import Link, Tagger, tagger_for
from sentiment_pipeline.topics.store import PostgresLinks

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = ["PostgresSink", "copy_rows", "from_settings", "register_jsonb_text"]

Key = tuple[str, datetime]

_COLUMNS = "id, occurred_at, source, source_id, event_type, payload"
_TYPES = ["text", "timestamptz", "text", "text", "text", "jsonb"]
_COPY_TABLE = f"COPY raw_events ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_COPY_STAGE = f"COPY pg_temp.sentpipe_stage ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_CREATE_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS sentpipe_stage "
    "(id text, occurred_at timestamptz, source text, source_id text, event_type text, "
    "payload jsonb) ON COMMIT DELETE ROWS"
)
_MERGE_STAGE = (
    f"INSERT INTO raw_events ({_COLUMNS}) SELECT {_COLUMNS} FROM pg_temp.sentpipe_stage "
    "ON CONFLICT DO NOTHING RETURNING id, occurred_at"
)
# The BETWEEN bound lets TimescaleDB exclude chunks; the join probes the PK index.
# %b: binary array parameters (psycopg's text array dumper is ~7x slower for 5k keys).
_PROBE = (
    "SELECT r.id, r.occurred_at FROM raw_events r "
    "JOIN unnest(%b::text[], %b::timestamptz[]) AS k(id, occurred_at) "
    "ON r.id = k.id AND r.occurred_at = k.occurred_at "
    "WHERE r.occurred_at BETWEEN %b AND %b"
)
_STORED = (
    "SELECT r.id, r.occurred_at, r.source, r.source_id, r.event_type, r.payload::text "
    "FROM raw_events r JOIN unnest(%s::text[], %s::timestamptz[]) AS k(id, occurred_at) "
    "ON r.id = k.id AND r.occurred_at = k.occurred_at WHERE r.occurred_at BETWEEN %s AND %s"
)
_JSONB_OID = 3802


class JsonbTextDumper(Dumper):
    """Binary jsonb from already-serialised JSON text, UTF-8 bytes or a str (version
    byte 1 + UTF-8), so the DTO's `payload_bytes` is sent as is instead of being
    `json.dumps`ed again."""

    format = Format.BINARY
    oid = _JSONB_OID

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + (obj if type(obj) is bytes else str(obj).encode())


def register_jsonb_text(connection: psycopg.Connection[Any]) -> None:
    """Make COPY `set_types([... "jsonb"])` use `JsonbTextDumper` on this connection."""
    connection.adapters.register_dumper(None, JsonbTextDumper)


def copy_rows(cursor: psycopg.Cursor[Any], statement: str, events: Sequence[RawEventDTO]) -> None:
    """Binary COPY of events (columns as `_COLUMNS`); shared with bench/ingest.py."""
    with cursor.copy(statement) as copy:
        copy.set_types(_TYPES)
        for e in events:
            copy.write_row(
                (e.id, e.occurred_at, e.source, e.source_id, e.event_type, e.payload_bytes)
            )


class PostgresSink:
    """Idempotent, exact-count batch writer over one lazily opened psycopg connection."""

    name = "timescale"
    is_database = True

    def __init__(self, url: DatabaseURL, tagger: Tagger | None = None) -> None:
        self.url = url
        self.tagger = tagger  # links each new event to its topics, in the same transaction
        self._links: list[Link] = []
        self._conn: psycopg.Connection[Any] | None = None
        # Commit-ack lost: (xid, events) of a write whose outcome is unknown; once resolved as
        # committed, its keys go to `_unreported` so the retry reports them as new.
        self._pending: tuple[int, list[RawEventDTO]] | None = None
        self._in_doubt: tuple[int, list[RawEventDTO]] | None = None
        self._unreported: set[Key] = set()

    def write(self, batch: Sequence[RawEventDTO]) -> WriteResult:
        unique, repeats = _dedupe(batch)
        if not unique:
            return WriteResult(new=[], duplicates=repeats)
        try:
            conn = self._connection()
            self._resolve_in_doubt(conn)
            self._links = []
            try:
                new = self._probe_and_copy(conn, unique)
            except pg_errors.UniqueViolation:
                self._pending = None
                new = self._stage_and_merge(conn, unique)  # a concurrent writer won a key
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            self._in_doubt, self._pending = self._pending, None
            self._drop()
            raise map_postgres_error(self.url, error, retry=True) from error
        except pg_errors.UndefinedTable as error:
            raise map_postgres_error(self.url, error) from error
        finally:
            self._pending = None
        if self._unreported:
            self._unreported.difference_update(e.key for e in new)
        return WriteResult(new=new, duplicates=repeats + len(unique) - len(new), links=self._links)

    def _link(self, cur: psycopg.Cursor[Any], events: Sequence[RawEventDTO]) -> None:
        """Store the topic links of `events` (just inserted) in the write's transaction."""
        if self.tagger is None or not events:
            self._links = []
            return
        store = PostgresLinks(cur)
        self._links = self.tagger.links(events, store.post_topics)
        store.insert(self._links)

    @property
    def identity(self) -> str:
        """The database, without its password (`sinks.base.StoredRows`)."""
        return self.url.masked

    def stored(self, keys: Sequence[Key]) -> list[RawEventDTO]:
        """The stored events of `keys` (`sinks.base.StoredRows`); payloads as compact
        JSON text of the stored jsonb. Raises `TransientError` when unreachable."""
        if not keys:
            return []
        times = [moment for _, moment in keys]
        try:
            rows = (
                self._connection()
                .execute(_STORED, ([k[0] for k in keys], times, min(times), max(times)))
                .fetchall()
            )
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            self._drop()
            raise map_postgres_error(self.url, error, retry=True) from error
        except pg_errors.UndefinedTable as error:
            raise map_postgres_error(self.url, error) from error
        return [
            shipped_event(ident, to_utc(moment), source, source_id, kind, compact_json(text))
            for ident, moment, source, source_id, kind, text in rows
        ]

    def close(self) -> None:
        self._drop()

    def _probe_and_copy(
        self, conn: psycopg.Connection[Any], events: list[RawEventDTO]
    ) -> list[RawEventDTO]:
        with conn.transaction(), conn.cursor() as cur:
            times = [e.occurred_at for e in events]
            cur.execute(
                _PROBE, ([e.id for e in events], times, min(times), max(times)), binary=True
            )
            existing: set[Key] = set(cur.fetchall())
            absent = [e for e in events if e.key not in existing] if existing else events
            if absent:
                row = cur.execute("SELECT txid_current()").fetchone()
                assert row is not None
                self._pending = (row[0], absent)
                copy_rows(cur, _COPY_TABLE, absent)
                self._link(cur, absent)
        return self._with_unreported(events, absent, existing)

    def _stage_and_merge(
        self, conn: psycopg.Connection[Any], events: list[RawEventDTO]
    ) -> list[RawEventDTO]:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(_CREATE_STAGE)
            row = cur.execute("SELECT txid_current()").fetchone()
            assert row is not None
            self._pending = (row[0], events)
            copy_rows(cur, _COPY_STAGE, events)
            cur.execute(_MERGE_STAGE, binary=True)
            inserted: set[Key] = set(cur.fetchall())
            new = [e for e in events if e.key in inserted]
            self._link(cur, new)
        return self._with_unreported(events, new, {e.key for e in events} - inserted)

    def _with_unreported(
        self, events: list[RawEventDTO], new: list[RawEventDTO], existing: set[Key]
    ) -> list[RawEventDTO]:
        """Count as new the rows an earlier, lost-ack write of ours committed."""
        if not self._unreported or not existing & self._unreported:
            return new
        keep = {e.key for e in new} | (existing & self._unreported)
        return [e for e in events if e.key in keep]

    def _resolve_in_doubt(self, conn: psycopg.Connection[Any]) -> None:
        """Ask the server whether the write whose commit ack was lost committed."""
        if self._in_doubt is None:
            return
        xid, events = self._in_doubt
        row = conn.execute("SELECT txid_status(%s)", (xid,)).fetchone()
        status = row[0] if row else None
        if status == "in progress":
            return  # the old backend has not noticed the broken connection yet; ask later
        if status == "committed":
            self._unreported.update(e.key for e in events)
        self._in_doubt = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        try:
            conn = psycopg.connect(
                self.url.libpq,
                autocommit=True,
                connect_timeout=5,
                application_name="sentpipe",
                prepare_threshold=None,  # custom plans keep chunk exclusion on the probe
            )
        except psycopg.Error as error:
            raise map_postgres_error(self.url, error, connecting=True, retry=True) from None
        register_jsonb_text(conn)
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


def from_settings(settings: Settings) -> PostgresSink:
    """Registry factory for `--sink timescale`: needs a PostgreSQL database URL."""
    if settings.database.backend != "postgresql":
        raise ConfigError(
            "the timescale sink needs a postgresql:// database URL",
            "set SENTPIPE_DATABASE_URL to your TimescaleDB/PostgreSQL server, or use --sink sqlite",
        )
    return PostgresSink(settings.database, tagger_for(settings))


def _dedupe(batch: Sequence[RawEventDTO]) -> tuple[list[RawEventDTO], int]:
    """`dedupe_batch`, skipped when all ids differ: str hashes are cached, while hashing
    fresh aware datetimes costs ~1 µs each, a measurable share of a 5k-row COPY."""
    if len({e.id for e in batch}) == len(batch):
        return list(batch), 0
    return dedupe_batch(batch)
