"""What database we are talking to: engine version, TimescaleDB presence and licence,
hypertable layout and an approximate row count. Used by `db init`, `db status`, `stats`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["BackendInfo", "TableInfo", "inspect_backend", "inspect_table"]


@dataclass(frozen=True)
class BackendInfo:
    kind: str  # "timescaledb", "postgresql" or "sqlite"
    server_version: str
    timescale_version: str | None = None  # installed in this database
    timescale_available: bool = False  # installable on this server
    timescale_license: str | None = None  # "apache" (no compression/CAggs) or "timescale"

    @property
    def description(self) -> str:
        if self.kind == "sqlite":
            return f"SQLite {self.server_version}"
        if self.timescale_version:
            return f"TimescaleDB {self.timescale_version} on PostgreSQL {self.server_version}"
        major = self.server_version.split(".")[0]
        return f"PostgreSQL {major} (no TimescaleDB)"


@dataclass(frozen=True)
class TableInfo:
    exists: bool
    hypertable: bool = False
    chunk_interval: str | None = None
    chunks: int | None = None
    approx_rows: int | None = None


def inspect_backend(connection: Connection) -> BackendInfo:
    from sqlalchemy import text

    if connection.dialect.name == "sqlite":
        version = connection.execute(text("SELECT sqlite_version()")).scalar_one()
        return BackendInfo(kind="sqlite", server_version=str(version))
    version = str(connection.execute(text("SHOW server_version")).scalar_one()).split()[0]
    available = bool(
        connection.execute(
            text("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
        ).scalar_one()
    )
    installed = connection.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    ).scalar_one_or_none()
    license_ = None
    if installed:
        license_ = connection.execute(
            text("SELECT current_setting('timescaledb.license', true)")
        ).scalar_one_or_none()
    return BackendInfo(
        kind="timescaledb" if installed else "postgresql",
        server_version=version,
        timescale_version=str(installed) if installed else None,
        timescale_available=available,
        timescale_license=str(license_) if license_ else None,
    )


def inspect_table(connection: Connection, backend: BackendInfo) -> TableInfo:
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("raw_events"):
        return TableInfo(exists=False)
    if backend.kind == "sqlite":
        # max(rowid) is O(log n) and exact while rows are never deleted.
        rows = connection.execute(text("SELECT coalesce(max(rowid), 0) FROM raw_events"))
        return TableInfo(exists=True, approx_rows=int(rows.scalar_one()))
    if backend.kind == "timescaledb":
        dimension = connection.execute(
            text(
                "SELECT time_interval::text FROM timescaledb_information.dimensions "
                "WHERE hypertable_name = 'raw_events' AND column_name = 'occurred_at'"
            )
        ).scalar_one_or_none()
        if dimension is not None:
            chunks = connection.execute(
                text(
                    "SELECT count(*) FROM timescaledb_information.chunks "
                    "WHERE hypertable_name = 'raw_events'"
                )
            ).scalar_one()
            rows = connection.execute(
                text("SELECT approximate_row_count('raw_events')")
            ).scalar_one()
            return TableInfo(
                exists=True,
                hypertable=True,
                chunk_interval=str(dimension),
                chunks=int(chunks),
                approx_rows=max(int(rows or 0), 0),
            )
    estimate = connection.execute(
        text("SELECT reltuples::bigint FROM pg_class WHERE oid = 'raw_events'::regclass")
    ).scalar_one()
    if estimate is None or estimate < 0:  # never analysed: small enough to count
        estimate = connection.execute(text("SELECT count(*) FROM raw_events")).scalar_one()
    return TableInfo(exists=True, approx_rows=int(estimate))
