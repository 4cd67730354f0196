"""Database URLs: the one parser, masking, and scrubbing the password out of text.

Every consumer (settings, `config show`, engines, psycopg and sqlite3 connections, error
messages) reads a URL through `parse_database_url`, so all of them agree on where the
password is and which file a SQLite URL names. The rule, also used by `mask_url` for
URLs the parser refuses (so masking never misses the password):

- the user name and password are everything between `://` and the LAST `@`, split at
  their first `:`; a raw `@ / ? #` in them, or a `%` not followed by two hex digits, is
  refused (they must be percent-encoded, and so must `@` anywhere else in the URL);
- a PostgreSQL port is a number from 1 to 65535;
- a SQLite URL names exactly one path: `sqlite:///relative.db` or `sqlite:////abs.db`,
  percent-decoded once; a `?` query is refused.

No refusal message holds any part of the user name or password. Pure string work (no
SQLAlchemy import) so `config show` and error messages stay cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, unquote_to_bytes

from sentiment_pipeline.errors import ConfigError

__all__ = [
    "ENCODE_HINT",
    "MASK",
    "DatabaseURL",
    "default_sqlite_url",
    "mask_url",
    "note_configured_url",
    "parse_database_url",
    "scrub",
    "scrub_configured",
    "sqlite_database",
    "url_secrets",
]

Backend = Literal["postgresql", "sqlite"]

MASK = "***"
ENCODE_HINT = "percent-encode the password in SENTPIPE_DATABASE_URL (for example `@` as `%40`)"
_FORMS_HINT = "use postgresql://USER:PASSWORD@HOST:PORT/DB or sqlite:///PATH"
_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_USERINFO_RAW = "@/?#"
# Secrets shorter than this are not scrubbed from free text: one to three characters
# occur everywhere in ordinary messages (and hide nothing worth hiding).
_MIN_SECRET = 4
# sentpipe's own name is printed in hints and messages whatever the password is: a
# password that is part of it is not scrubbed (it would garble every message, hiding
# nothing).
_OWN_NAME = "sentpipe"


@dataclass(frozen=True)
class DatabaseURL:
    """A validated database URL, decoded into its parts (`password` never in `repr`).

    Engines are built from the parts (`db.engine`); `sqlalchemy` and `libpq` are
    canonical, correctly percent-encoded strings for drivers and tools; `masked` is for
    display. For SQLite only `database` (the decoded path) is set: see `sqlite_path`."""

    backend: Backend
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None  # decoded; None: libpq's default (the local socket)
    port: int | None = None
    database: str | None = None  # PostgreSQL database name, or the SQLite path
    query: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        return self.masked

    @property
    def masked(self) -> str:
        """The URL with its password replaced by `***`: safe to print."""
        return mask_url(self.sqlalchemy)

    @property
    def sqlalchemy(self) -> str:
        """Canonical SQLAlchemy URL (`postgresql+psycopg://…` or `sqlite:///PATH`)."""
        if self.backend == "sqlite":
            return "sqlite:///" + quote(str(self.database), safe="/")
        return self._postgres("postgresql+psycopg")

    @property
    def libpq(self) -> str:
        """The URL as psycopg/libpq expects it (`postgresql://`, parts percent-encoded).

        Raises `ValueError` for a SQLite URL."""
        if self.backend != "postgresql":
            raise ValueError("not a PostgreSQL URL")
        return self._postgres("postgresql")

    @property
    def sqlite_path(self) -> Path:
        """The one file a SQLite URL names (relative to the working directory unless
        absolute). Raises `ValueError` for a PostgreSQL URL."""
        if self.backend != "sqlite" or self.database is None:
            raise ValueError("not a SQLite URL")
        return Path(self.database)

    @property
    def host_port(self) -> str:
        """`host:port` for messages (`localhost` and 5432 when not given)."""
        host = self.host or "localhost"
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.port or 5432}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every form of this URL's password (and a `password=` query value) that text
        could hold: see `url_secrets`."""
        found = [self.password or ""] + [v for k, v in self.query if k.lower() == "password"]
        return _forms(found)

    def scrub(self, text: str) -> str:
        """`text` with this URL's password, in any of its forms, replaced by `***`."""
        return scrub(text, self.secrets)

    def _userinfo(self) -> str:
        if self.username is None and self.password is None:
            return ""
        password = "" if self.password is None else ":" + quote(self.password, safe="")
        return f"{quote(self.username or '', safe='')}{password}@"

    def _postgres(self, scheme: str) -> str:
        userinfo = self._userinfo()
        host = self.host or ""
        host = f"[{host}]" if ":" in host else quote(host, safe="")
        port = f":{self.port}" if self.port is not None else ""
        database = "/" + quote(self.database, safe="") if self.database is not None else ""
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.query)
        return f"{scheme}://{userinfo}{host}{port}{database}{'?' + query if query else ''}"


def sqlite_database(path: Path) -> DatabaseURL:
    """The SQLite database at `path` (no URL round trip: any file name works)."""
    return DatabaseURL("sqlite", database=str(path))


def default_sqlite_url(data_dir: Path) -> str:
    """`sqlite:///<data_dir>/sentpipe.db`, percent-encoded so it parses back to that file."""
    return sqlite_database(data_dir / "sentpipe.db").sqlalchemy


# --- the split ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Split:
    """A URL cut where sentpipe cuts it. `user`/`password` are raw (still encoded);
    `rest` is what follows the last `@` (or `://` when there is no user part)."""

    prefix: str  # "scheme://", or "" when the text has no scheme
    scheme: str | None
    user: str | None
    password: str | None
    rest: str


def _split(url: str) -> _Split:
    scheme, sep, rest = url.partition("://")
    prefix = f"{scheme}{sep}"
    if not sep or not _SCHEME.fullmatch(scheme):
        scheme, prefix, rest = "", "", url
    if rest.startswith("/") or "@" not in rest:
        return _Split(prefix, scheme or None, None, None, rest)
    userinfo, _, after = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    return _Split(prefix, scheme or None, user, password if colon else None, after)


def _well_formed(raw: str) -> bool:
    return not any(c in raw for c in _USERINFO_RAW) and not _BAD_ESCAPE.search(raw)


def mask_url(url: str) -> str:
    """`url` with its password (and any `password=` query value) replaced by `***`;
    a user name that cannot be parsed, or a port that is not a number, is masked too.
    Works on any text, also on URLs `parse_database_url` refuses, with the same split, so
    the password is never shown; text without a `scheme://` is masked whole."""
    parts = _split(url)
    if parts.scheme is None:
        return MASK if url.strip() else url
    rest = _mask_query(_mask_port(parts.rest))
    if parts.user is None:
        return parts.prefix + rest
    user = parts.user if _well_formed(parts.user) else MASK
    userinfo = user if parts.password is None else f"{user}:{MASK}"
    return f"{parts.prefix}{userinfo}@{rest}"


def _mask_port(rest: str) -> str:
    """A port that is not a number may be a password written without its `@`."""
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, after = rest[:end], rest[end:]
    host, colon, port = authority.rpartition(":")
    if not colon or (host.startswith("[") and not host.endswith("]")):
        return rest
    return rest if port.isdigit() or not port else f"{host}:{MASK}{after}"


def _mask_query(rest: str) -> str:
    head, mark, query = rest.partition("?")
    if not mark:
        return rest
    pairs = []
    for pair in query.split("&"):
        key, eq, _value = pair.partition("=")
        pairs.append(f"{key}={MASK}" if eq and unquote(key).lower() == "password" else pair)
    return f"{head}?{'&'.join(pairs)}"


# --- parsing -----------------------------------------------------------------------


def parse_database_url(url: str) -> DatabaseURL:
    """Parse `postgresql://` (also `postgres://`, `postgresql+psycopg://`,
    `postgresql+psycopg2://`: psycopg 3 either way) or `sqlite:///PATH`.

    Raises `ConfigError` (exit 2) for another scheme, text that is not a URL, a user
    name or password holding an unencoded `@ / ? #` or a bad `%`, a port that is not a
    number, or a SQLite URL without a path or with a `?` query. No message holds any
    part of the password."""
    text = url.strip()
    parts = _split(text)
    if parts.scheme is None:
        raise ConfigError("SENTPIPE_DATABASE_URL is not a URL (no `scheme://`)", _FORMS_HINT)
    scheme = parts.scheme.lower()
    if scheme in _POSTGRES_SCHEMES:
        return _parse_postgres(parts)
    if scheme == "sqlite":
        return _parse_sqlite(text)
    raise ConfigError(
        f"unsupported database URL scheme {scheme!r}",
        "use postgresql://… (TimescaleDB or PostgreSQL) or sqlite:///PATH",
    )


def _decode(raw: str, what: str, hint: str) -> str:
    """Percent-decode `raw` (UTF-8); `what` names the part in the refusal."""
    if _BAD_ESCAPE.search(raw):
        raise ConfigError(f"the {what} holds a `%` not followed by two hex digits", hint)
    try:
        decoded = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"the {what} is not UTF-8 once percent-decoded", hint) from None
    if "\x00" in decoded:
        raise ConfigError(f"the {what} holds a NUL character (`%00`)", hint)
    return decoded


def _userinfo(raw: str | None, what: str) -> str | None:
    if raw is None:
        return None
    for char in _USERINFO_RAW:
        if char in raw:
            raise ConfigError(
                f"the {what} in SENTPIPE_DATABASE_URL holds an unencoded `{char}`", ENCODE_HINT
            )
    return _decode(raw, f"{what} in SENTPIPE_DATABASE_URL", ENCODE_HINT)


def _parse_postgres(parts: _Split) -> DatabaseURL:
    user = _userinfo(parts.user, "user name")
    password = _userinfo(parts.password, "password")
    if "#" in parts.rest:
        raise ConfigError(
            "SENTPIPE_DATABASE_URL holds an unencoded `#` after the host",
            "percent-encode `#` as `%23`",
        )
    hint = "percent-encode `%` as `%25`"
    before_query, _, query_text = parts.rest.partition("?")
    query = _query(query_text, hint)
    hostport, slash, path = before_query.partition("/")
    host, port = _host_port(hostport, hint)
    database = _decode(path, "database name", hint) if slash and path else None
    return DatabaseURL("postgresql", user or None, password, host, port, database, query)


def _host_port(text: str, hint: str) -> tuple[str | None, int | None]:
    if text.startswith("["):
        host, _, after = text[1:].partition("]")
        port_text = after.removeprefix(":")
        if after and not after.startswith(":"):
            port_text = "x"  # `[::1]junk`: refused as a bad port below
    else:
        host, _, port_text = text.partition(":")
        host = _decode(host, "host", hint)
    return host or None, _port(port_text)


def _port(text: str) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise ConfigError(
            "the port in SENTPIPE_DATABASE_URL is not a number from 1 to 65535",
            "write HOST:PORT with a numeric port, e.g. 127.0.0.1:5432",
        )
    return int(text)


def _query(text: str, hint: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for pair in text.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            pairs.append((_decode(key, "query", hint), _decode(value, "query", hint)))
    return tuple(pairs)


def _parse_sqlite(text: str) -> DatabaseURL:
    rest = text.partition("://")[2]
    if not rest.startswith("/") or rest == "/":
        raise ConfigError(
            f"SQLite URL {mask_url(text)!r} has no file path",
            "use sqlite:///relative/path.db or sqlite:////absolute/path.db",
        )
    if "?" in rest:
        raise ConfigError(
            f"SQLite URL {mask_url(text)!r} has a `?` query, which sentpipe does not take",
            "write only the file's path; percent-encode a `?` in the file name as `%3F`",
        )
    path = _decode(rest[1:], "SQLite file name", "percent-encode a `%` in the file name as `%25`")
    if path == ":memory:":
        raise ConfigError(
            "an in-memory SQLite database keeps nothing between connections",
            "give a file path: sqlite:///relative/path.db or sqlite:////absolute/path.db",
        )
    return sqlite_database(Path(path))


# --- scrubbing ---------------------------------------------------------------------


def _forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as text could hold it: as is, percent-encoded, inside `repr` and
    inside JSON strings; secrets shorter than 4 characters are left out."""
    found: set[str] = set()
    for secret in secrets:
        if len(secret) < _MIN_SECRET:
            continue
        found.update(
            {
                secret,
                quote(secret, safe=""),
                quote(secret),
                repr(secret)[1:-1],
                json.dumps(secret)[1:-1],
                json.dumps(secret, ensure_ascii=False)[1:-1],
            }
        )
    return tuple(sorted(found, key=len, reverse=True))


def url_secrets(url: str) -> tuple[str, ...]:
    """The password forms in `url` as written (even one `parse_database_url` refuses):
    raw, percent-decoded and re-encoded; also a `password=` query value. Text without a
    `scheme://` counts as a secret whole."""
    parts = _split(url.strip())
    raw = [parts.password or "", "" if parts.scheme else url.strip()]
    _head, _mark, query = parts.rest.partition("?")
    for pair in query.split("&"):
        key, _eq, value = pair.partition("=")
        if unquote(key).lower() == "password":
            raw.append(value)
    return _forms([*raw, *(unquote(value) for value in raw)])


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret replaced by `***`, longest first, until
    none is left (`abab` in `ababab`: a second pass takes what the first left). A secret
    that is part of the name "sentpipe" is left alone."""
    ordered = sorted(
        {s for s in secrets if s and s.lower() not in _OWN_NAME}, key=len, reverse=True
    )
    if not ordered:
        return text
    pattern = re.compile("|".join(re.escape(s) for s in ordered))
    while True:  # each pass shortens the text (secrets are longer than the mask)
        text, count = pattern.subn(MASK, text)
        if not count:
            return text


_configured: list[str] = []


def note_configured_url(url: str) -> None:
    """Remember the password of the configured database URL (settings call this while
    validating, before refusing a URL), for `scrub_configured`."""
    _configured[:] = url_secrets(url)


def scrub_configured(text: str) -> str:
    """`text` without the configured database password (the CLI's error boundary)."""
    return scrub(text, _configured)
