"""Run the Alembic migrations that ship inside the package (`sentpipe db init`).

The wheel carries `migrations/` as `sentiment_pipeline/migrations` (hatch force-include);
an editable install or a checkout finds the top-level folder instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sentiment_pipeline.db.backend import (
    BackendInfo,
    ServerInfo,
    TableInfo,
    describe,
    inspect_backend,
    inspect_table,
    missing_sqlite_server,
    sqlalchemy_rows,
)
from sentiment_pipeline.db.connect import open_engine
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError, DatabaseUnreachable, SentpipeError, first_line

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

__all__ = ["InitResult", "StatusResult", "db_status", "init_db", "migrations_dir"]

_INTERVAL = re.compile(r"^\s*\d+\s*(second|minute|hour|day|week|month)s?\s*$", re.IGNORECASE)


@dataclass
class InitResult:
    """What `init_db` did: the revision `before` (None: empty database) and `head`,
    the server and table afterwards, and notices worth printing."""

    backend: BackendInfo
    table: TableInfo
    before: str | None
    head: str
    notices: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.head

    @property
    def server(self) -> ServerInfo:
        return ServerInfo(self.backend, self.table)


@dataclass
class StatusResult:
    """`db status`: the masked URL, the server description and the schema revision
    (`current` is None before `db init`)."""

    url: str
    backend: BackendInfo
    table: TableInfo
    current: str | None
    head: str

    @property
    def server(self) -> ServerInfo:
        return ServerInfo(self.backend, self.table)


def migrations_dir() -> Path:
    """The packaged migrations first, then the checkout's top-level folder."""
    package_root = Path(__file__).resolve().parent.parent
    for candidate in (package_root / "migrations", package_root.parent.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise SentpipeError(
        "the database migrations are missing from this installation",
        "reinstall sentpipe (pip install --force-reinstall sentpipe)",
    )


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision(config: Config) -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:
        raise SentpipeError(f"the migration history has {len(heads)} heads", "this is a bug")
    return heads[0]


def current_revision(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def validate_interval(value: str) -> str:
    if not _INTERVAL.match(value):
        raise ConfigError(
            f"--chunk-interval {value!r} is not an interval",
            "use a number and a unit, e.g. '1 day', '7 days' or '12 hours'",
        )
    return value.strip()


def init_db(
    url: DatabaseURL, chunk_interval: str | None = None, require_timescale: bool = False
) -> InitResult:
    """Migrate the database at `url` to head. A database already at head is left alone
    (apart from a new `chunk_interval` such as '1 day', which TimescaleDB applies to
    chunks created from now on).

    Raises `ConfigError` (bad interval, login refused, TimescaleDB required but missing
    or not installable), `DatabaseUnreachable`, or `SentpipeError` (migration failed)."""
    if chunk_interval is not None:
        chunk_interval = validate_interval(chunk_interval)
    config = alembic_config()
    head = head_revision(config)
    engine, connection = open_engine(url)
    rows = sqlalchemy_rows(connection)
    notices: list[str] = []
    try:
        backend = inspect_backend(rows, url)
        connection.rollback()
        if url.backend == "postgresql" and not backend.timescale_available:
            if require_timescale:
                raise ConfigError(
                    f"TimescaleDB is not available on PostgreSQL {backend.server_version} "
                    f"at {url.host_port}",
                    "install the timescaledb extension (or use compose.timescale.yml), "
                    "or drop --require-timescale to use a plain table",
                )
            notices.append(
                "TimescaleDB is not installed on this server: raw_events is a plain "
                "PostgreSQL table (not partitioned by time)."
            )
        before = current_revision(connection)
        connection.rollback()
        config.attributes["connection"] = connection
        config.attributes["chunk_interval"] = chunk_interval
        config.attributes["use_timescale"] = backend.timescale_available
        if before != head:
            _upgrade(config, connection, url)
        backend = inspect_backend(rows, url)
        table = inspect_table(rows, url, backend)
        if before == head and chunk_interval is not None and table.hypertable:
            from sqlalchemy import text

            connection.execute(
                text("SELECT set_chunk_time_interval('raw_events', CAST(:i AS interval))"),
                {"i": chunk_interval},
            )
            connection.commit()
            table = inspect_table(rows, url, backend)
            notices.append(f"chunk interval set to {chunk_interval} for new chunks")
        if backend.timescale_license == "apache":
            notices.append(
                "TimescaleDB Apache-licensed edition: hypertables work; compression, "
                "continuous aggregates and retention policies are not available."
            )
        connection.commit()
        return InitResult(backend, table, before, head, notices)
    finally:
        connection.close()
        engine.dispose()


def _upgrade(config: Config, connection: Connection, url: DatabaseURL) -> None:
    from alembic import command as alembic_command
    from sqlalchemy.exc import DBAPIError

    from sentiment_pipeline.db.errors import map_db_error

    try:
        alembic_command.upgrade(config, "head")
        connection.commit()
    except DBAPIError as error:
        connection.rollback()
        first = first_line(error)
        if "timescaledb" in first.lower() or "permission denied" in first.lower():
            raise ConfigError(
                f"cannot set up TimescaleDB at {url.host_port}: {first}",
                "the extension needs shared_preload_libraries=timescaledb and a role "
                "allowed to CREATE EXTENSION",
            ) from None
        mapped = map_db_error(url, error)
        if isinstance(mapped, DatabaseUnreachable):  # lost the server mid-migration
            raise mapped from error
        raise SentpipeError(f"migration failed: {first}", "rerun with --debug") from error


def db_status(url: DatabaseURL) -> StatusResult:
    """The server, `raw_events` and the schema revision, read-only. A SQLite file that
    does not exist is reported as such and not created. Raises `ConfigError` (login
    refused, unreadable file) or `DatabaseUnreachable`."""
    config = alembic_config()
    head = head_revision(config)
    if url.backend == "sqlite" and not url.sqlite_path.exists():
        server = missing_sqlite_server()
        return StatusResult(url.masked, server.backend, server.table, None, head)
    engine, connection = open_engine(url)
    try:
        server = describe(sqlalchemy_rows(connection), url)
        current = current_revision(connection)
        return StatusResult(url.masked, server.backend, server.table, current, head)
    finally:
        connection.rollback()
        connection.close()
        engine.dispose()
