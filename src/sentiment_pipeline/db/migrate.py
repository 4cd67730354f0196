"""Run the Alembic migrations that ship inside the package (`sentpipe db init`), and
check a database is at head before a command writes to it (`ensure_schema`).

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
from sentiment_pipeline.db.connect import open_engine, open_reader
from sentiment_pipeline.db.errors import (
    missing_sqlite_file,
    missing_table,
    not_migrated,
    unknown_revision,
)
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError, DatabaseUnreachable, SentpipeError, first_line

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

__all__ = [
    "InitResult",
    "StatusResult",
    "db_status",
    "ensure_schema",
    "init_db",
    "migrations_dir",
    "schema_revision",
]

_SIDE_FILES = ("-wal", "-shm", "-journal")
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


# The newest packaged migration's revision, known without importing Alembic, so a
# command's schema check (`ensure_schema`) costs one query. A test holds it equal to
# `head_revision(alembic_config())`: a new migration must move it.
HEAD_REVISION = "0009"


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


def schema_revision(url: DatabaseURL) -> tuple[str | None, bool]:
    """`(revision, has_raw_events)` of an existing database, read through
    `db.connect.open_reader` (a SQLite file must exist; it is never created). `revision`
    is None when Alembic never ran there. Raises `ConfigError` (login refused, missing or
    unreadable SQLite file) or `DatabaseUnreachable`."""
    with open_reader(url, require_table=False) as reader:
        if reader.dialect == "postgresql":
            found = reader.rows(
                "SELECT to_regclass('alembic_version') IS NOT NULL, "
                "to_regclass('raw_events') IS NOT NULL"
            )[0]
            has_version, has_table = bool(found[0]), bool(found[1])
        else:
            names = {
                row[0]
                for row in reader.rows(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name IN ('alembic_version', 'raw_events')"
                )
            }
            has_version, has_table = "alembic_version" in names, "raw_events" in names
        if not has_version:
            return None, has_table
        versions = reader.rows("SELECT version_num FROM alembic_version")
        return (str(versions[0][0]) if versions else None), has_table


def ensure_schema(url: DatabaseURL, *, migrate: bool) -> InitResult | None:
    """Check, before a command's first request or read, that the database at `url` is
    reachable and migrated to the head of the packaged migrations.

    With `migrate` (the embedded SQLite default) a missing file, an empty database or an
    older revision is migrated to head here (`init_db`), under a lock next to the file so
    two first runs do not migrate at once; a SQLite file this call created is removed
    again if the migration fails. Without `migrate` nothing is created or changed.

    Returns the `InitResult` when it migrated, else None. Raises `ConfigError`, exit 2:
    no SQLite file at the path (`no SQLite database at PATH`), `raw_events does not
    exist …`, `… is not migrated (at revision X, head Y)` — each with the hint "run
    `sentpipe db init` first" — or a revision newer than this installation knows (even
    with `migrate`); login refused or an unreadable file. Raises `DatabaseUnreachable`
    (exit 3) when the server cannot be reached.
    """
    head = HEAD_REVISION  # Alembic (~0.2 s to import) only when there is work to do
    if url.backend == "sqlite" and not url.sqlite_path.exists():
        if not migrate:
            raise missing_sqlite_file(url)
        return _migrate_embedded(url, head)
    current, has_table = schema_revision(url)
    if current == head:
        return None
    from alembic.script import ScriptDirectory

    config = alembic_config()
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    if current is not None and current not in known:
        raise unknown_revision(url, current, head)
    if migrate:
        return _migrate_embedded(url, head) if url.backend == "sqlite" else init_db(url)
    if current is None and not has_table:
        raise missing_table(url)
    raise not_migrated(url, current, head)


def _migrate_embedded(url: DatabaseURL, head: str) -> InitResult | None:
    """Migrate a SQLite database under `<file>.migrate.lock` (waiting for another run
    doing the same); re-read the revision once the lock is held."""
    from sentiment_pipeline.lock import run_lock

    path = url.sqlite_path
    lock = path.with_name(f"{path.name}.migrate.lock")
    with run_lock(lock, wait=True, command="sentpipe migration"):
        created = not path.exists()
        if not created and schema_revision(url)[0] == head:
            return None  # another run migrated it while we waited
        try:
            return init_db(url)
        except BaseException:
            if created:
                for leftover in (path, *(path.with_name(path.name + s) for s in _SIDE_FILES)):
                    leftover.unlink(missing_ok=True)
            raise
