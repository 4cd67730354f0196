"""The queries the scraper needs: high-water marks, recent submissions, totals.

A target's mark lives in `collection_marks` (migration 0004): the newest post time of
its last completed walk, saved by the scrape job (`save_marks`) once every record of the
run is durable, so a walk cut short never moves it. Plain SQL through SQLAlchemy Core,
for PostgreSQL and SQLite (which stores times as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text,
`timeparse.storage_text`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.timeparse import storage_text, to_utc

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["Marks", "event_totals", "read_marks", "save_marks"]

MARKS_TABLE = "collection_marks"

# Keep the greater of the stored and the new mark (a slower, older run never lowers it).
_SAVE_MARK = {
    "postgresql": "GREATEST(collection_marks.mark, excluded.mark)",
    "sqlite": "MAX(collection_marks.mark, excluded.mark)",
}


@dataclass
class Marks:
    """What is already stored for one source: the completed mark per (source_id, kind)
    (kind "submission": the newest post time of the target's last completed walk), and
    per source_id the recent submissions with how many comments we hold for each."""

    latest: dict[tuple[str, str], datetime] = field(default_factory=dict)
    recent: dict[str, dict[str, int]] = field(default_factory=dict)

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
    source: str,
    recent_since: Callable[[Marks], datetime | None] | None = None,
) -> Marks:
    """Marks for `source`, read on one connection; empty when nothing is stored yet.

    `marks.latest` is always read: the rows of `collection_marks` (on a database not yet
    at 0004, which only a dry run reads, the newest stored submission per source id, the
    rule migration 0004 seeds with). `recent_since(marks)` is then called with it and
    returns the moment from which stored submissions (with their stored comment counts)
    go into `marks.recent`; None skips that query. Raises `ConfigError` or
    `DatabaseUnreachable` when the database cannot be opened.
    """
    marks = Marks()
    if url.backend == "sqlite" and not url.sqlite_path.exists():
        return marks  # nothing stored yet; do not create the file just to read it
    engine, connection = _connect(url)
    try:
        if not _has_table(connection):
            return marks
        _read_latest(connection, source, marks)
        floor = recent_since(marks) if recent_since is not None else None
        if floor is not None:
            _read_recent(connection, url, source, floor, marks)
        return marks
    finally:
        connection.close()
        engine.dispose()


def _read_latest(connection: Connection, source: str, marks: Marks) -> None:
    """Fill `marks.latest` from `collection_marks` (or, before 0004, from raw_events)."""
    from sqlalchemy import text

    if _has_table(connection, MARKS_TABLE):
        query = f"SELECT target, kind, mark FROM {MARKS_TABLE} WHERE source = :source"
    else:
        query = (
            "SELECT source_id, 'submission', MAX(occurred_at) FROM raw_events "
            "WHERE source = :source AND event_type = 'submission' GROUP BY source_id"
        )
    for target, kind, mark in connection.execute(text(query), {"source": source}):
        marks.latest[(target, kind)] = _as_utc(mark)


def _read_recent(
    connection: Connection, url: DatabaseURL, source: str, floor: datetime, marks: Marks
) -> None:
    """Fill `marks.recent`: stored submissions from `floor` on, with their comments."""
    from sqlalchemy import text

    since = _param(url, floor)
    rows = connection.execute(
        text(
            "SELECT source_id, id FROM raw_events WHERE source = :source "
            "AND event_type = 'submission' AND occurred_at >= :since"
        ),
        {"source": source, "since": since},
    )
    for source_id, ident in rows:
        marks.recent.setdefault(source_id, {})[ident] = 0
    link = (
        "payload->>'link_id'"
        if url.backend == "postgresql"
        else "json_extract(payload, '$.link_id')"
    )
    rows = connection.execute(
        text(
            f"SELECT source_id, {link}, COUNT(*) FROM raw_events WHERE source = :source "
            f"AND event_type = 'comment' AND occurred_at >= :since GROUP BY source_id, {link}"
        ),
        {"source": source, "since": since},
    )
    for source_id, link_id, count in rows:
        held = marks.recent.get(source_id)
        if held is not None and link_id in held:
            held[link_id] = int(count)


def save_marks(
    url: DatabaseURL, source: str, marks: Mapping[str, datetime], kind: str = "submission"
) -> None:
    """Save each target's mark (`{source_id: newest post time}`) in one transaction,
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
        {"source": source, "target": target, "kind": kind, "mark": _param(url, mark), "now": now}
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
