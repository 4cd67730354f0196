"""SQLAlchemy engines, configured in one place (migrations and the scraper's marks).

Open one through `db.connect.open_engine`, which also maps connect failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

__all__ = ["create_engine", "engine_url", "ensure_sqlite_dir"]


def ensure_sqlite_dir(url: DatabaseURL) -> None:
    """Create the folder of a SQLite URL's file (no-op for PostgreSQL).

    Raises `ConfigError` when the folder cannot be created."""
    if url.backend == "sqlite":
        try:
            url.sqlite_path.absolute().parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(
                f"cannot create the folder for SQLite file {url.sqlite_path}: {error.strerror}",
                "set SENTPIPE_DATA_DIR or SENTPIPE_DATABASE_URL to a writable place",
            ) from error


def engine_url(url: DatabaseURL) -> URL:
    """SQLAlchemy's URL built from the parsed parts, never from text: SQLite gets exactly
    `url.sqlite_path` (the file the sinks and readers open), PostgreSQL the decoded user,
    password, host, port, database and query."""
    from sqlalchemy.engine import URL

    if url.backend == "sqlite":
        return URL.create("sqlite", database=str(url.sqlite_path))
    query: dict[str, list[str]] = {}
    for key, value in url.query:
        query.setdefault(key, []).append(value)
    return URL.create(
        "postgresql+psycopg",
        username=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        database=url.database,
        query={key: values[0] if len(values) == 1 else values for key, values in query.items()},
    )


def create_engine(url: DatabaseURL, **kwargs: Any) -> Engine:
    """An engine with sensible defaults: PostgreSQL gets a 5 s connect timeout and
    pre-ping; SQLite gets WAL, a 30 s busy wait and its folder created. `kwargs` go to
    `sqlalchemy.create_engine`. Connecting is lazy: nothing is opened here."""
    import sqlalchemy

    ensure_sqlite_dir(url)
    if url.backend == "postgresql":
        connect_args = {"connect_timeout": 5, "application_name": "sentpipe"}
        return sqlalchemy.create_engine(
            engine_url(url), connect_args=connect_args, pool_pre_ping=True, **kwargs
        )
    engine = sqlalchemy.create_engine(engine_url(url), **kwargs)

    @sqlalchemy.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine
