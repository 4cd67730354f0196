"""The queries a collecting job needs: high-water marks, recent items, totals.

A target's mark lives in `collection_marks` (migration 0004): the newest item time of
its last completed walk, saved by the job (`save_marks`) once every record of the run is
durable, so a walk cut short never moves it. Which events a source's marks follow is the
source's own: its `MarkQuery` (declared in its `SourceSpec`, `sources.source_spec`).
Plain SQL through SQLAlchemy Core, for PostgreSQL and SQLite (which stores times as
'YYYY-MM-DD HH:MM:SS.ffffff' UTC text, `timeparse.storage_text`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.timeparse import storage_text, to_utc

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = [
    "Activity",
    "MarkQuery",
    "Marks",
    "event_totals",
    "payload_text_sql",
    "read_marks",
    "save_marks",
    "stored_ids",
]

MARKS_TABLE = "collection_marks"


def payload_text_sql(dialect: str, key: str, column: str = "payload") -> str:
    """SQL for the value of `column`'s top-level `key`: PostgreSQL's `->>` (text of any
    JSON value), SQLite's `json_extract` (its native value); NULL when absent. `key` is
    quoted, so any payload key a source names is safe to put in."""
    quoted = key.replace("'", "''")
    if dialect == "postgresql":
        return f"{column}->>'{quoted}'"
    return f"""json_extract({column}, '$."{quoted.replace('"', '""')}"')"""


# Keep the greater of the stored and the new mark (a slower, older run never lowers it).
_SAVE_MARK = {
    "postgresql": "GREATEST(collection_marks.mark, excluded.mark)",
    "sqlite": "MAX(collection_marks.mark, excluded.mark)",
}


@dataclass(frozen=True)
class MarkQuery:
    """A source's high-water-mark query: which stored events its marks follow.

    `item_type`: the event type a target's mark is the newest time of (the `kind` the
    mark is saved under; Reddit: `submission`). `child_type` / `link_key`: events of
    that type are counted per item in `Marks.recent`, the item named by the child's
    payload key `link_key` (Reddit: `comment`, `link_id`); None: no counts.
    `link_prefix` turns that key's value into the item's event id (HN: a comment's
    `story_id` 8863 names the event `hn_8863`; Reddit's `link_id` is the id already)."""

    source: str
    item_type: str
    child_type: str | None = None
    link_key: str | None = None
    link_prefix: str = ""

    def post_id(self, value: object) -> str | None:
        """The event id a reply's `link_key` value names, or None for no usable value."""
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            return None
        return f"{self.link_prefix}{value}"


@dataclass(frozen=True)
class Activity:
    """Stored events of one (source_id, event_type) from a moment on: how many, and the
    newest one's time: what a collector plans its polling from (`read_marks`)."""

    count: int
    newest: datetime


@dataclass
class Marks:
    """What is already stored for one source: the completed mark per (source_id, kind)
    (kind: the `MarkQuery.item_type`, the newest item time of the target's last
    completed walk), and per source_id the recent items with how many children (Reddit:
    comments) we hold for each."""

    latest: dict[tuple[str, str], datetime] = field(default_factory=dict)
    recent: dict[str, dict[str, int]] = field(default_factory=dict)
    activity: dict[tuple[str, str], Activity] = field(default_factory=dict)

    def latest_for(self, source_id: str, event_type: str) -> datetime | None:
        return self.latest.get((source_id, event_type))


def _as_utc(value: Any) -> datetime:
    if not isinstance(value, str | datetime):
        raise TypeError(f"unexpected timestamp {value!r}")
    return to_utc(value)


def _param(url: DatabaseURL, moment: datetime) -> Any:
    if url.backend == "sqlite":
        return storage_text(moment)
    return moment


def _has_table(connection: Connection, name: str = "raw_events") -> bool:
    from sqlalchemy import inspect

    return bool(inspect(connection).has_table(name))


def _connect(url: DatabaseURL) -> tuple[Any, Connection]:
    from sentiment_pipeline.db.connect import open_engine

    return open_engine(url)


def read_marks(
    url: DatabaseURL,
    query: MarkQuery,
    recent_since: Callable[[Marks], datetime | None] | None = None,
    activity_since: datetime | None = None,
) -> Marks:
    """Marks of `query.source`, read on one connection; empty when nothing is stored yet.

    `marks.latest` is always read: the rows of `collection_marks` (on a database not yet
    at 0004, which only a dry run reads, the newest stored `item_type` event per source
    id, the rule migration 0004 seeds with). `recent_since(marks)` is then called with it
    and returns the moment from which stored items (with their stored child counts) go
    into `marks.recent`; None skips that query. `activity_since`: also count the stored
    events per (source_id, event_type) from that moment on into `marks.activity`.
    Raises `ConfigError` or `DatabaseUnreachable` when the database cannot be opened.
    """
    marks = Marks()
    if url.backend == "sqlite" and not url.sqlite_path.exists():
        return marks  # nothing stored yet; do not create the file just to read it
    engine, connection = _connect(url)
    try:
        if not _has_table(connection):
            return marks
        _read_latest(connection, query, marks)
        floor = recent_since(marks) if recent_since is not None else None
        if floor is not None:
            _read_recent(connection, url, query, floor, marks)
        if activity_since is not None:
            _read_activity(connection, url, query, activity_since, marks)
        return marks
    finally:
        connection.close()
        engine.dispose()


def _read_latest(connection: Connection, query: MarkQuery, marks: Marks) -> None:
    """Fill `marks.latest` from `collection_marks` (or, before 0004, from raw_events)."""
    from sqlalchemy import text

    if _has_table(connection, MARKS_TABLE):
        sql = f"SELECT target, kind, mark FROM {MARKS_TABLE} WHERE source = :source"
    else:
        sql = (
            "SELECT source_id, event_type, MAX(occurred_at) FROM raw_events "
            "WHERE source = :source AND event_type = :kind GROUP BY source_id, event_type"
        )
    values = {"source": query.source, "kind": query.item_type}
    for target, kind, mark in connection.execute(text(sql), values):
        marks.latest[(target, kind)] = _as_utc(mark)


def _read_activity(
    connection: Connection, url: DatabaseURL, query: MarkQuery, since: datetime, marks: Marks
) -> None:
    """Fill `marks.activity`: events per (source_id, event_type) from `since` on."""
    from sqlalchemy import text

    rows = connection.execute(
        text(
            "SELECT source_id, event_type, COUNT(*), MAX(occurred_at) FROM raw_events "
            "WHERE source = :source AND occurred_at >= :since GROUP BY source_id, event_type"
        ),
        {"source": query.source, "since": _param(url, since)},
    )
    for source_id, event_type, count, newest in rows:
        marks.activity[(source_id, event_type)] = Activity(int(count), _as_utc(newest))


def _read_recent(
    connection: Connection, url: DatabaseURL, query: MarkQuery, floor: datetime, marks: Marks
) -> None:
    """Fill `marks.recent`: stored items from `floor` on, with their children counted."""
    from sqlalchemy import text

    values = {"source": query.source, "since": _param(url, floor), "item": query.item_type}
    rows = connection.execute(
        text(
            "SELECT source_id, id FROM raw_events WHERE source = :source "
            "AND event_type = :item AND occurred_at >= :since"
        ),
        values,
    )
    for source_id, ident in rows:
        marks.recent.setdefault(source_id, {})[ident] = 0
    if query.child_type is None or query.link_key is None:
        return
    key = query.link_key.replace("'", "''")
    link = (
        f"payload->>'{key}'" if url.backend == "postgresql" else f"json_extract(payload, '$.{key}')"
    )
    rows = connection.execute(
        text(
            f"SELECT source_id, {link}, COUNT(*) FROM raw_events WHERE source = :source "
            f"AND event_type = :child AND occurred_at >= :since GROUP BY source_id, {link}"
        ),
        {**values, "child": query.child_type},
    )
    for source_id, link_id, count in rows:
        held = marks.recent.get(source_id)
        if held is not None and link_id in held:
            held[link_id] = int(count)


def save_marks(
    url: DatabaseURL, query: MarkQuery, marks: Mapping[str, datetime], kind: str | None = None
) -> None:
    """Save each target's mark (`{source_id: newest item time}`, under `kind`, by default
    `query.item_type`) in one transaction,
    keeping the greater of the stored and the new one. The caller saves only marks of
    completed walks whose records are all durable. A missing SQLite file is left alone.
    Raises `ConfigError` or `DatabaseUnreachable` (the database is down or busy)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from sentiment_pipeline.db.errors import map_db_error

    if not marks or (url.backend == "sqlite" and not url.sqlite_path.exists()):
        return
    now = _param(url, datetime.now(UTC))
    rows = [
        {
            "source": query.source,
            "target": target,
            "kind": kind or query.item_type,
            "mark": _param(url, mark),
            "now": now,
        }
        for target, mark in marks.items()
    ]
    engine, connection = _connect(url)
    try:
        connection.execute(
            text(
                f"INSERT INTO {MARKS_TABLE} (source, target, kind, mark, updated_at) "
                "VALUES (:source, :target, :kind, :mark, :now) "
                "ON CONFLICT (source, target, kind) DO UPDATE SET "
                f"mark = {_SAVE_MARK[url.backend]}, updated_at = excluded.updated_at"
            ),
            rows,
        )
        connection.commit()
    except DBAPIError as error:
        mapped = map_db_error(url, error)
        if mapped is error:
            raise
        raise mapped from error
    finally:
        connection.close()
        engine.dispose()


def stored_ids(url: DatabaseURL, source: str, ids: Sequence[str]) -> set[str]:
    """Which of the event `ids` of `source` are stored (any time): what a collector
    skips without a request. One query on the `id` primary-key index; empty when
    nothing is stored yet. Raises `ConfigError` or `DatabaseUnreachable` when the
    database cannot be opened."""
    from sqlalchemy import bindparam, text

    if not ids or (url.backend == "sqlite" and not url.sqlite_path.exists()):
        return set()
    engine, connection = _connect(url)
    try:
        if not _has_table(connection):
            return set()
        sql = text("SELECT id FROM raw_events WHERE source = :source AND id IN :ids")
        sql = sql.bindparams(bindparam("ids", expanding=True))
        rows = connection.execute(sql, {"source": source, "ids": list(dict.fromkeys(ids))})
        return {row[0] for row in rows}
    finally:
        connection.close()
        engine.dispose()


def event_totals(url: DatabaseURL, source: str | None = None) -> dict[tuple[str, str], int]:
    """Stored events per (source_id, event_type), for summaries such as `sentpipe demo`."""
    from sqlalchemy import text

    engine, connection = _connect(url)
    try:
        if not _has_table(connection):
            return {}
        where = "WHERE source = :source " if source is not None else ""
        rows = connection.execute(
            text(
                f"SELECT source_id, event_type, COUNT(*) FROM raw_events {where}"
                "GROUP BY source_id, event_type"
            ),
            {"source": source} if source is not None else {},
        )
        return {(source_id, event_type): int(count) for source_id, event_type, count in rows}
    finally:
        connection.close()
        engine.dispose()
