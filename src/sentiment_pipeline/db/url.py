"""Database URL handling: accepted schemes, the embedded default, and password masking.

Pure string work (no SQLAlchemy import) so `config show` and error messages stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from sentiment_pipeline.errors import ConfigError

__all__ = ["DatabaseURL", "default_sqlite_url", "mask_url", "parse_database_url"]

Backend = Literal["postgresql", "sqlite"]

_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}


@dataclass(frozen=True)
class DatabaseURL:
    """A validated database URL: `sqlalchemy` is what SQLAlchemy gets (psycopg 3 driver)."""

    sqlalchemy: str
    backend: Backend

    @property
    def masked(self) -> str:
        return mask_url(self.sqlalchemy)

    @property
    def libpq(self) -> str:
        """The URL as psycopg/libpq expects it (no `+psycopg` driver suffix)."""
        return self.sqlalchemy.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def sqlite_path(self) -> Path:
        if self.backend != "sqlite":
            raise ValueError("not a SQLite URL")
        return Path(self.sqlalchemy.removeprefix("sqlite:///"))

    @property
    def host_port(self) -> str:
        parts = urlsplit(self.sqlalchemy)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'sentpipe.db'}"


def parse_database_url(url: str) -> DatabaseURL:
    """Accept `postgresql://`, `postgresql+psycopg://` and `sqlite:///PATH`; reject the rest."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"SENTPIPE_DATABASE_URL {mask_url(url)!r} is not a URL",
            "use postgresql://USER:PASSWORD@HOST:PORT/DB or sqlite:///PATH",
        )
    scheme = scheme.lower()
    if scheme in _POSTGRES_SCHEMES:
        return DatabaseURL(f"postgresql+psycopg://{rest}", "postgresql")
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ConfigError(
                f"SQLite URL {url!r} has no file path",
                "use sqlite:///relative/path.db or sqlite:////absolute/path.db",
            )
        return DatabaseURL(f"sqlite:///{rest[1:]}", "sqlite")
    raise ConfigError(
        f"unsupported database URL scheme {scheme!r}",
        "use postgresql://… (TimescaleDB or PostgreSQL) or sqlite:///PATH",
    )


def mask_url(url: str) -> str:
    """Replace the password in a URL by `***`; leave everything else readable."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
