"""One error mapper per backend: driver errors become sentpipe's error family.

Every command that touches a database (sinks, export, stats, `db init`/`db status`, the
scraper's marks) maps errors here, so each failure reads the same whoever meets it:

- wrong user, password or database (PostgreSQL): `ConfigError` "refused the login";
- cannot open: PostgreSQL `DatabaseUnreachable` "cannot connect to", SQLite
  `ConfigError` "cannot open SQLite database";
- `raw_events` missing: `ConfigError` "raw_events does not exist …" on both;
- connection lost (PostgreSQL) or database busy (SQLite): `DatabaseUnreachable`.

Driver text goes into messages only through `driver_message`, which first removes the
URL's password (in every form it could be echoed back in) from the whole text.

`retry=True` is for callers that retry themselves (the sinks, under the pipeline's
writer): unreachable, lost and busy then become `TransientError` instead of
`DatabaseUnreachable`. Driver modules are imported lazily.
"""

from __future__ import annotations

import re

from sentiment_pipeline.db.url import DatabaseURL, scrub_configured
from sentiment_pipeline.errors import ConfigError, DatabaseUnreachable, TransientError

__all__ = [
    "DOCKER_HINT",
    "driver_message",
    "map_db_error",
    "map_postgres_error",
    "map_sqlite_error",
    "missing_sqlite_file",
    "missing_table",
    "not_migrated",
    "unknown_revision",
]

DOCKER_HINT = (
    "is the server running? Start one with `docker compose -f compose.timescale.yml up -d`, "
    "or check SENTPIPE_DATABASE_URL"
)
_INIT_HINT = "run `sentpipe db init` first"
_LOGIN_PROBLEMS = ("password authentication failed", "does not exist", "no password supplied")
_BUSY = ("locked", "busy")


def _where(url: DatabaseURL) -> str:
    if url.backend == "sqlite":
        return f"SQLite database {url.sqlite_path}"
    return f"the database at {url.host_port}"


def missing_table(url: DatabaseURL, table: str = "raw_events") -> ConfigError:
    """`table` (default `raw_events`) is not there: the one message for every command
    and backend."""
    return ConfigError(f"{table} does not exist in {_where(url)}", _INIT_HINT)


def missing_relation(url: DatabaseURL, table: str) -> ConfigError:
    """A query met a table that is not there: a database older than this sentpipe
    (`not_migrated`, naming its revision) when the schema is behind, else
    `missing_table(url, table)`. Reads the revision (error path only)."""
    if table != "raw_events":
        from sentiment_pipeline.db.migrate import HEAD_REVISION, schema_revision

        try:
            current, has_table = schema_revision(url)
        except Exception:  # the check itself failed: say what the query said
            return missing_table(url, table)
        if has_table and current != HEAD_REVISION:
            return not_migrated(url, current, HEAD_REVISION)
    return missing_table(url, table)


def not_migrated(url: DatabaseURL, current: str | None, head: str) -> ConfigError:
    """The schema is older than this sentpipe's migrations (`current` None: tables exist
    but Alembic never ran): "… is not migrated (at revision X, head Y)"."""
    return ConfigError(
        f"{_where(url)} is not migrated (at revision {current or 'none'}, head {head})",
        _INIT_HINT,
    )


def unknown_revision(url: DatabaseURL, current: str, head: str) -> ConfigError:
    """The schema is at a revision this installation's migrations do not contain: a
    newer sentpipe migrated it."""
    return ConfigError(
        f"{_where(url)} is at revision {current}, which this sentpipe does not know (head {head})",
        "upgrade sentpipe to the version that migrated this database",
    )


def missing_sqlite_file(url: DatabaseURL) -> ConfigError:
    """A command was pointed at a SQLite file that does not exist (it is not created)."""
    return ConfigError(
        f"no SQLite database at {url.sqlite_path}",
        "run `sentpipe db init` first, or set SENTPIPE_DATABASE_URL",
    )


def _driver_error(error: BaseException) -> BaseException:
    """The driver's own error: SQLAlchemy wraps it in `.orig`."""
    return getattr(error, "orig", None) or error


def driver_message(url: DatabaseURL, error: BaseException) -> str:
    """The first line of a driver's error (SQLAlchemy's `.orig` when wrapped; the type
    name when empty), after removing `url`'s and the configured password from all of it
    (a password holding a line break must not leave its first part behind)."""
    cause = _driver_error(error)
    lines = scrub_configured(url.scrub(str(cause))).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def map_postgres_error(
    url: DatabaseURL, error: Exception, *, connecting: bool = False, retry: bool = False
) -> Exception:
    """Map a psycopg error (or a SQLAlchemy error wrapping one) raised while talking to
    the PostgreSQL server at `url`.

    `connecting`: the error came from opening the connection, so an `OperationalError`
    means "refused the login" (`ConfigError`, exit 2) or "cannot connect"
    (`DatabaseUnreachable`, exit 3), and a `ProgrammingError` an option of the URL that
    libpq rejects (`ConfigError`); afterwards an `OperationalError` means the connection
    was lost. Driver text is scrubbed of the password (`driver_message`).
    A missing table gives `missing_table(url)`. Anything else (a bug, a constraint) is
    returned unchanged: `raise mapped from error` only when `mapped is not error`.
    """
    import psycopg
    from psycopg import errors as pg_errors

    cause = _driver_error(error)
    where = f"PostgreSQL at {url.host_port}"
    first = driver_message(url, error)
    if isinstance(cause, pg_errors.UndefinedTable):
        named = re.search(r'relation "([^"]+)" does not exist', first)
        return missing_relation(url, named.group(1) if named else "raw_events")
    if connecting and isinstance(cause, psycopg.ProgrammingError):
        return ConfigError(
            f"libpq cannot use SENTPIPE_DATABASE_URL: {first}",
            "fix the URL's options (docs/configuration.md)",
        )
    if connecting:
        if any(problem in first for problem in _LOGIN_PROBLEMS):
            return ConfigError(
                f"{where} refused the login: {first}",
                "check the user, password and database name in SENTPIPE_DATABASE_URL",
            )
        if retry:
            return TransientError(f"cannot connect to {where} ({first})")
        return DatabaseUnreachable(f"cannot connect to {where} ({first})", DOCKER_HINT)
    if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError):
        if retry:
            return TransientError(f"lost the connection to {where}: {first}")
        return DatabaseUnreachable(
            f"lost the connection to {where}: {first}",
            "check that the server is up, then run the command again",
        )
    return error


def map_sqlite_error(
    url: DatabaseURL, error: Exception, *, connecting: bool = False, retry: bool = False
) -> Exception:
    """Map a `sqlite3` error (or a SQLAlchemy error wrapping one) for the file at `url`.

    Busy/locked (another writer held the lock past the 30 s busy wait) gives
    `TransientError` with `retry`, else `DatabaseUnreachable`; "no such table" gives
    `missing_table(url)`; while `connecting`, any other `sqlite3.Error` (not a database,
    permissions, unreadable) is a `ConfigError`. Anything else is returned unchanged.
    """
    import sqlite3

    cause = _driver_error(error)
    path = url.sqlite_path
    first = driver_message(url, error)
    if isinstance(cause, sqlite3.OperationalError):
        if any(word in first for word in _BUSY):
            if retry:
                return TransientError(f"SQLite database {path} is busy: {first}")
            return DatabaseUnreachable(
                f"SQLite database {path} is busy: {first}",
                "another process holds its write lock: run the command again shortly",
            )
        named = re.search(r"no such table: (?:\w+\.)?(\w+)", first)
        if named:
            return missing_relation(url, named.group(1))
    if connecting and isinstance(cause, sqlite3.Error):
        return ConfigError(
            f"cannot open SQLite database {path}: {first}",
            "check SENTPIPE_DATABASE_URL / SENTPIPE_DATA_DIR and file permissions",
        )
    return error


def map_db_error(
    url: DatabaseURL, error: Exception, *, connecting: bool = False, retry: bool = False
) -> Exception:
    """`map_postgres_error` or `map_sqlite_error`, by the URL's backend."""
    mapper = map_sqlite_error if url.backend == "sqlite" else map_postgres_error
    return mapper(url, error, connecting=connecting, retry=retry)
