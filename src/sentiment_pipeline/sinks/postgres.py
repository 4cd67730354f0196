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

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo

from sentiment_pipeline.dburl import DatabaseURL
from sentiment_pipeline.dto import RawEventDTO
from sentiment_pipeline.errors import ConfigError, TransientError
from sentiment_pipeline.sinks.base import WriteResult, dedupe_batch

__all__ = ["PostgresSink"]

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
_JSONB_OID = 3802


class JsonbTextDumper(Dumper):
    """Binary jsonb from already-serialised JSON text (version byte 1 + UTF-8), so the
    DTO's cached `payload_json` is sent as is instead of being `json.dumps`ed again."""

    format = Format.BINARY
    oid = _JSONB_OID

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + str(obj).encode()


def register_jsonb_text(connection: psycopg.Connection[Any]) -> None:
    """Make COPY `set_types([... "jsonb"])` use `JsonbTextDumper` on this connection."""
    connection.adapters.register_dumper(None, JsonbTextDumper)


def copy_rows(cursor: psycopg.Cursor[Any], statement: str, events: Sequence[RawEventDTO]) -> None:
    """Binary COPY of events (columns as `_COLUMNS`); shared with bench/ingest.py."""
    with cursor.copy(statement) as copy:
        copy.set_types(_TYPES)
        for e in events:
            copy.write_row((e.id, e.occurred_at, e.source, e.source_id, e.event_type,
                            e.payload_json))


class PostgresSink:
    """Idempotent, exact-count batch writer over one lazily opened psycopg connection."""

    name = "timescale"
    is_database = True

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._stage_ready = False

    def write(self, batch: Sequence[RawEventDTO]) -> WriteResult:
        unique, repeats = dedupe_batch(batch)
        if not unique:
            return WriteResult(new=[], duplicates=repeats)
        conn = self._connection()
        try:
            try:
                new = self._probe_and_copy(conn, unique)
            except pg_errors.UniqueViolation:
                new = self._stage_and_merge(conn, unique)  # a concurrent writer won a key
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            self._drop()
            raise TransientError(f"lost the connection to {self._where()}: {_first(error)}") from error
        except pg_errors.UndefinedTable as error:
            raise ConfigError(
                f"raw_events does not exist in {self.url.masked}", "run `sentpipe db init`"
            ) from error
        return WriteResult(new=new, duplicates=repeats + len(unique) - len(new))

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
            existing: set[Key] = set(cur.fetchall()) if cur.rowcount else set()
            new = [e for e in events if e.key not in existing] if existing else events
            if new:
                copy_rows(cur, _COPY_TABLE, new)
            return new

    def _stage_and_merge(
        self, conn: psycopg.Connection[Any], events: list[RawEventDTO]
    ) -> list[RawEventDTO]:
        with conn.transaction(), conn.cursor() as cur:
            if not self._stage_ready:
                cur.execute(_CREATE_STAGE)
                self._stage_ready = True
            copy_rows(cur, _COPY_STAGE, events)
            cur.execute(_MERGE_STAGE, binary=True)
            inserted: set[Key] = set(cur.fetchall())
            return [e for e in events if e.key in inserted]

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
            from sentiment_pipeline.db.engine import connect_error

            mapped = connect_error(self.url, error)
            if isinstance(mapped, ConfigError):
                raise mapped from None
            raise TransientError(mapped.args[0]) from None
        register_jsonb_text(conn)
        self._conn = conn
        self._stage_ready = False
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def _where(self) -> str:
        return f"PostgreSQL at {self.url.host_port}"


def _first(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
