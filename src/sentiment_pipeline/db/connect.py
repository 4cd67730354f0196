"""The one place that opens a database, for every command.

- `open_reader(url)`: a raw driver connection for the read side (`export`, `stats`,
  `db status`): psycopg (autocommit, UTF-8) or sqlite3. It checks that `raw_events`
  exists (unless told not to) and never creates an empty SQLite file.
- `connect_pg(url)` / `connect_sqlite(url)`: the same, per backend, when a caller needs
  the driver's own connection (`COPY … TO STDOUT`, SQL functions).
- `open_engine(url)`: a SQLAlchemy engine and connection (migrations, the scraper's
  marks), built by `db/engine.py`.

Every failure goes through the backend's error mapper (`db/errors.py`), so opening a
database fails with the same one-line message whichever command does it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sentiment_pipeline.db.errors import map_db_error, missing_sqlite_file, missing_table
from sentiment_pipeline.db.filters import Dialect
from sentiment_pipeline.db.url import DatabaseURL

if TYPE_CHECKING:
    import sqlite3

    import psycopg
    from sqlalchemy import Connection
    from sqlalchemy.engine import Engine

__all__ = ["Reader", "connect_pg", "connect_sqlite", "open_engine", "open_reader"]

_PG_HAS_TABLE = "SELECT to_regclass('raw_events') IS NOT NULL"
_SQLITE_HAS_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'raw_events'"


def connect_pg(
    url: DatabaseURL, *, require_table: bool = True, autocommit: bool = True
) -> psycopg.Connection[Any]:
    """A UTF-8 psycopg connection to the PostgreSQL server at `url`, in autocommit mode
    unless `autocommit=False` (then the caller commits; e.g. one transaction per batch).

    Raises `ConfigError` (login refused; `raw_events` missing while `require_table`) or
    `DatabaseUnreachable` (server down or unreachable within 5 s)."""
    import psycopg

    try:
        connection = psycopg.connect(
            url.libpq, connect_timeout=5, application_name="sentpipe", autocommit=True
        )
    except psycopg.Error as error:
        raise map_db_error(url, error, connecting=True) from None
    try:
        connection.execute("SET client_encoding TO 'UTF8'")
        row = connection.execute(_PG_HAS_TABLE).fetchone()
    except psycopg.Error as error:
        connection.close()
        raise map_db_error(url, error, connecting=True) from None
    if require_table and not (row and row[0]):
        connection.close()
        raise missing_table(url)
    connection.autocommit = autocommit
    return connection


def connect_sqlite(url: DatabaseURL, *, require_table: bool = True) -> sqlite3.Connection:
    """An sqlite3 connection (30 s busy wait) to an existing SQLite file.

    Raises `ConfigError` when the file does not exist (it is never created), cannot be
    read as a database, or lacks `raw_events` while `require_table`."""
    import sqlite3

    path = url.sqlite_path
    if not path.is_file():
        raise missing_sqlite_file(url)
    connection: sqlite3.Connection | None = None
    try:
        connection = sqlite3.connect(path, timeout=30)
        found = connection.execute(_SQLITE_HAS_TABLE).fetchone()
    except sqlite3.Error as error:
        if connection is not None:
            connection.close()
        raise map_db_error(url, error, connecting=True) from None
    if require_table and found is None:
        connection.close()
        raise missing_table(url)
    return connection


class Reader:
    """One open read connection on either backend: `rows()` runs a query with mapped
    errors (a lost connection is `DatabaseUnreachable`, exit 3). A context manager."""

    def __init__(self, url: DatabaseURL, connection: Any) -> None:
        self.url = url
        self.connection = connection  # psycopg.Connection or sqlite3.Connection

    @property
    def dialect(self) -> Dialect:
        """`"postgresql"` or `"sqlite"`: which placeholder style and SQL to use."""
        return self.url.backend

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of `sql` (positional `params`: `%s` on PostgreSQL, `?` on SQLite)."""
        try:
            return [tuple(row) for row in self.connection.execute(sql, params).fetchall()]
        except Exception as error:
            mapped = map_db_error(self.url, error)
            if mapped is error:
                raise
            raise mapped from error

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_reader(url: DatabaseURL, *, require_table: bool = True) -> Reader:
    """`connect_pg` or `connect_sqlite` by the URL's backend, wrapped in a `Reader`."""
    if url.backend == "postgresql":
        return Reader(url, connect_pg(url, require_table=require_table))
    return Reader(url, connect_sqlite(url, require_table=require_table))


def open_engine(url: DatabaseURL) -> tuple[Engine, Connection]:
    """A SQLAlchemy engine (`db.engine.create_engine`) and one connection from it; the
    caller closes the connection and disposes of the engine. Creates a missing SQLite
    file (migrations need one). Connect failures raise the mapped `ConfigError` or
    `DatabaseUnreachable`."""
    from sqlalchemy.exc import DBAPIError

    from sentiment_pipeline.db.engine import create_engine

    engine = create_engine(url)
    try:
        return engine, engine.connect()
    except DBAPIError as error:
        engine.dispose()
        raise map_db_error(url, error, connecting=True) from None
