"""Run the Alembic migrations that ship inside the package (`sentpipe db init`).

The wheel carries `migrations/` as `sentiment_pipeline/migrations` (hatch force-include);
an editable install or a checkout finds the top-level folder instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sentiment_pipeline.db.backend import BackendInfo, TableInfo, inspect_backend, inspect_table
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError, SentpipeError, first_line

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection
    from sqlalchemy.engine import Engine

__all__ = ["InitResult", "StatusResult", "db_status", "init_db", "migrations_dir"]

_INTERVAL = re.compile(r"^\s*\d+\s*(second|minute|hour|day|week|month)s?\s*$", re.IGNORECASE)


@dataclass
class InitResult:
    backend: BackendInfo
    table: TableInfo
    before: str | None
    head: str
    notices: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.head


@dataclass
class StatusResult:
    url: str
    backend: BackendInfo
    table: TableInfo
    current: str | None
    head: str


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


def _connect(url: DatabaseURL) -> tuple[Engine, Connection]:
    from sqlalchemy.exc import DBAPIError

    from sentiment_pipeline.db.engine import connect_error, create_engine

    engine = create_engine(url)
    try:
        return engine, engine.connect()
    except DBAPIError as error:
        raise connect_error(url, error) from None


def init_db(
    url: DatabaseURL, chunk_interval: str | None = None, require_timescale: bool = False
) -> InitResult:
    """Migrate to head. A database already at head is left alone (apart from a new
    chunk interval, which TimescaleDB applies to chunks created from now on)."""
    if chunk_interval is not None:
        chunk_interval = validate_interval(chunk_interval)
    config = alembic_config()
    head = head_revision(config)
    engine, connection = _connect(url)
    notices: list[str] = []
    try:
        backend = inspect_backend(connection)
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
        backend = inspect_backend(connection)
        table = inspect_table(connection, backend)
        if before == head and chunk_interval is not None and table.hypertable:
            from sqlalchemy import text

            connection.execute(
                text("SELECT set_chunk_time_interval('raw_events', CAST(:i AS interval))"),
                {"i": chunk_interval},
            )
            connection.commit()
            table = inspect_table(connection, backend)
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
        raise SentpipeError(f"migration failed: {first}", "rerun with --debug") from error


def db_status(url: DatabaseURL) -> StatusResult:
    config = alembic_config()
    head = head_revision(config)
    engine, connection = _connect(url)
    try:
        backend = inspect_backend(connection)
        table = inspect_table(connection, backend)
        current = current_revision(connection)
        return StatusResult(url.masked, backend, table, current, head)
    finally:
        connection.rollback()
        connection.close()
        engine.dispose()
