"""Create SQLAlchemy engines and turn connection failures into actionable errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError, DatabaseUnreachable, first_line

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["DOCKER_HINT", "connect_error", "create_engine", "ensure_sqlite_dir"]

DOCKER_HINT = (
    "is the server running? Start one with `docker compose -f compose.timescale.yml up -d`, "
    "or check SENTPIPE_DATABASE_URL"
)

_CONFIG_PROBLEMS = ("password authentication failed", "does not exist", "no password supplied")


def ensure_sqlite_dir(url: DatabaseURL) -> None:
    if url.backend == "sqlite":
        try:
            url.sqlite_path.absolute().parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(
                f"cannot create the folder for SQLite file {url.sqlite_path}: {error.strerror}",
                "set SENTPIPE_DATA_DIR or SENTPIPE_DATABASE_URL to a writable place",
            ) from error


def create_engine(url: DatabaseURL, **kwargs: Any) -> Engine:
    """An engine with sensible defaults: short connect timeout, SQLite WAL and busy wait."""
    import sqlalchemy

    ensure_sqlite_dir(url)
    if url.backend == "postgresql":
        connect_args = {"connect_timeout": 5, "application_name": "sentpipe"}
        return sqlalchemy.create_engine(
            url.sqlalchemy, connect_args=connect_args, pool_pre_ping=True, **kwargs
        )
    engine = sqlalchemy.create_engine(url.sqlalchemy, **kwargs)

    @sqlalchemy.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def connect_error(url: DatabaseURL, error: BaseException) -> Exception:
    """Map a driver error at connect time to ConfigError (bad credentials/db) or unreachable."""
    first = first_line(error)
    if url.backend == "sqlite":
        return ConfigError(
            f"cannot open SQLite database {url.sqlite_path}: {first}",
            "check SENTPIPE_DATABASE_URL / SENTPIPE_DATA_DIR and file permissions",
        )
    where = f"PostgreSQL at {url.host_port}"
    if any(problem in first for problem in _CONFIG_PROBLEMS):
        return ConfigError(
            f"{where} refused the login: {first}",
            "check the user, password and database name in SENTPIPE_DATABASE_URL",
        )
    return DatabaseUnreachable(f"cannot connect to {where} ({first})", DOCKER_HINT)
