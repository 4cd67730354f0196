"""One description of the database server, shared by `db init`, `db status` and `stats`.

`describe(rows, url)` reads the catalogue once and returns a `ServerInfo`: the engine and
its version, TimescaleDB (installed? available? which licence?) and the `raw_events`
layout (hypertable and chunk interval, chunks, size, approximate rows). The phrases
people read (`BackendInfo.description`, `TableInfo.layout`) are built here only, so every
command says the same thing about the same server.

The queries run through a `Rows` callable (SQL in, rows out), so the same code serves a
raw driver connection (`db.connect.Reader.rows`) and a SQLAlchemy one (`sqlalchemy_rows`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentiment_pipeline.db.url import DatabaseURL

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = [
    "BackendInfo",
    "Rows",
    "ServerInfo",
    "TableInfo",
    "describe",
    "inspect_backend",
    "inspect_table",
    "missing_sqlite_server",
    "sqlalchemy_rows",
]

Rows = Callable[[str], Sequence[Sequence[Any]]]
"""Run one parameterless SQL statement, return all its rows."""

_LICENCES = {"apache": "Apache licence", "timescale": "Timescale licence"}


@dataclass(frozen=True)
class BackendInfo:
    """The database engine. `kind` is `"timescaledb"` (the extension is installed in
    this database), `"postgresql"` or `"sqlite"`; versions are the servers' own strings."""

    kind: str
    server_version: str
    timescale_version: str | None = None  # installed in this database
    timescale_available: bool = False  # installable on this server
    timescale_license: str | None = None  # "apache" (no compression/CAggs) or "timescale"

    @property
    def description(self) -> str:
        """E.g. `TimescaleDB 2.19.3 (Apache licence) on PostgreSQL 17.12`,
        `PostgreSQL 15.8 (no TimescaleDB)` or `SQLite 3.45.1`."""
        if self.kind == "sqlite":
            return f"SQLite {self.server_version}"
        if self.timescale_version:
            licence = _LICENCES.get(self.timescale_license or "", self.timescale_license)
            edition = f" ({licence})" if licence else ""
            return (
                f"TimescaleDB {self.timescale_version}{edition} on PostgreSQL {self.server_version}"
            )
        return f"PostgreSQL {self.server_version} (no TimescaleDB)"


@dataclass(frozen=True)
class TableInfo:
    """`raw_events` as stored. `size_bytes`: table + indexes (all chunks of a
    hypertable); SQLite: the file plus its WAL. `approx_rows` is None when not counted."""

    exists: bool
    hypertable: bool = False
    chunk_interval: str | None = None  # TimescaleDB's text form: "7 days", "12:00:00"
    chunks: int | None = None
    approx_rows: int | None = None
    size_bytes: int | None = None

    @property
    def layout(self) -> str:
        """E.g. `hypertable, chunk interval 7 days, 4 chunks`, `plain table`, or
        `missing (run `sentpipe db init`)`."""
        if not self.exists:
            return "missing (run `sentpipe db init`)"
        if not self.hypertable:
            return "plain table"
        chunks = "" if self.chunks is None else f", {self.chunks} chunk{_s(self.chunks)}"
        return f"hypertable, chunk interval {self.chunk_interval}{chunks}"


@dataclass(frozen=True)
class ServerInfo:
    """What `db status` and `stats` both report about the server and `raw_events`."""

    backend: BackendInfo
    table: TableInfo

    @property
    def kind(self) -> str:
        return self.backend.kind

    @property
    def description(self) -> str:
        return self.backend.description

    @property
    def hypertable(self) -> bool:
        return self.table.hypertable

    @property
    def chunks(self) -> int | None:
        return self.table.chunks

    @property
    def size_bytes(self) -> int | None:
        return self.table.size_bytes

    def to_dict(self) -> dict[str, Any]:
        """The fields both commands' `--json` share (see docs/database.md)."""
        return {
            "kind": self.backend.kind,
            "description": self.backend.description,
            "server_version": self.backend.server_version,
            "timescaledb_version": self.backend.timescale_version,
            "timescaledb_license": self.backend.timescale_license,
            "hypertable": self.table.hypertable,
            "chunk_interval": self.table.chunk_interval,
            "chunks": self.table.chunks,
            "size_bytes": self.table.size_bytes,
        }


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _one(rows: Rows, sql: str) -> Any:
    found = rows(sql)
    return found[0][0] if found else None


def sqlalchemy_rows(connection: Connection) -> Rows:
    """A `Rows` over a SQLAlchemy connection (inside its current transaction)."""
    return lambda sql: connection.exec_driver_sql(sql).all()


def inspect_backend(rows: Rows, url: DatabaseURL) -> BackendInfo:
    """The engine, its version and TimescaleDB's presence and licence."""
    if url.backend == "sqlite":
        return BackendInfo(kind="sqlite", server_version=str(_one(rows, "SELECT sqlite_version()")))
    version = str(_one(rows, "SHOW server_version")).split()[0]
    available = bool(
        _one(rows, "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
    )
    installed = _one(rows, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    license_ = None
    if installed:
        license_ = _one(rows, "SELECT current_setting('timescaledb.license', true)")
    return BackendInfo(
        kind="timescaledb" if installed else "postgresql",
        server_version=version,
        timescale_version=str(installed) if installed else None,
        timescale_available=available,
        timescale_license=str(license_) if license_ else None,
    )


def _sqlite_size(url: DatabaseURL) -> int:
    path = url.sqlite_path
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def inspect_table(
    rows: Rows, url: DatabaseURL, backend: BackendInfo, *, count_rows: bool = True
) -> TableInfo:
    """`raw_events`' layout and size; `count_rows=False` skips the row estimate (which
    counts a plain PostgreSQL table that was never analysed)."""
    if backend.kind == "sqlite":
        found = rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'raw_events'")
        if not found:
            return TableInfo(exists=False)
        # max(rowid) is O(log n) and exact while rows are never deleted.
        approx = int(_one(rows, "SELECT coalesce(max(rowid), 0) FROM raw_events"))
        return TableInfo(
            exists=True,
            approx_rows=approx if count_rows else None,
            size_bytes=_sqlite_size(url),
        )
    if not _one(rows, "SELECT to_regclass('raw_events') IS NOT NULL"):
        return TableInfo(exists=False)
    if backend.kind == "timescaledb":
        interval = _one(
            rows,
            "SELECT time_interval::text FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = 'raw_events' AND column_name = 'occurred_at'",
        )
        if interval is not None:
            found = rows(
                "SELECT (SELECT count(*) FROM timescaledb_information.chunks "
                "WHERE hypertable_name = 'raw_events'), hypertable_size('raw_events')"
                + (", approximate_row_count('raw_events')" if count_rows else "")
            )
            chunks, size = found[0][0], found[0][1]
            return TableInfo(
                exists=True,
                hypertable=True,
                chunk_interval=str(interval),
                chunks=int(chunks),
                approx_rows=max(int(found[0][2] or 0), 0) if count_rows else None,
                size_bytes=int(size or 0),
            )
    size = int(_one(rows, "SELECT pg_total_relation_size('raw_events')") or 0)
    if not count_rows:
        return TableInfo(exists=True, size_bytes=size)
    estimate = _one(
        rows, "SELECT reltuples::bigint FROM pg_class WHERE oid = 'raw_events'::regclass"
    )
    if estimate is None or estimate < 0:  # never analysed: small enough to count
        estimate = _one(rows, "SELECT count(*) FROM raw_events")
    return TableInfo(exists=True, approx_rows=int(estimate), size_bytes=size)


def describe(rows: Rows, url: DatabaseURL, *, count_rows: bool = True) -> ServerInfo:
    """`inspect_backend` and `inspect_table` together: the one server description."""
    backend = inspect_backend(rows, url)
    return ServerInfo(backend, inspect_table(rows, url, backend, count_rows=count_rows))


def missing_sqlite_server() -> ServerInfo:
    """The description of a SQLite database whose file does not exist yet (the library
    version stands in for the server's; nothing is created)."""
    return ServerInfo(BackendInfo("sqlite", sqlite3.sqlite_version), TableInfo(exists=False))
