"""Read-only queries the scraper needs: high-water marks, recent submissions, totals.

The database is the only state: marks come from `max(occurred_at)`, so they cannot
drift from what was stored. Plain SQL through SQLAlchemy Core, for PostgreSQL and SQLite
(which stores `occurred_at` as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.timeparse import storage_text, to_utc

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["Marks", "event_totals", "read_marks"]


@dataclass
class Marks:
    """What is already stored for one source: the newest event per (source_id, type),
    and per source_id the recent submissions with how many comments we hold for each."""

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


def _has_table(connection: Connection) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(connection).has_table("raw_events"))


def _connect(url: DatabaseURL) -> tuple[Any, Connection]:
    from sentiment_pipeline.db.connect import open_engine

    return open_engine(url)


def read_marks(
    url: DatabaseURL,
    source: str,
    recent_since: Callable[[Marks], datetime | None] | None = None,
) -> Marks:
    """Marks for `source`, read on one connection; empty when nothing is stored yet.

    `marks.latest` is always read. `recent_since(marks)` is then called with it and
    returns the moment from which stored submissions (with their stored comment counts)
    go into `marks.recent`; None skips that query. Raises `ConfigError` or
    `DatabaseUnreachable` when the database cannot be opened.
    """
    from sqlalchemy import text

    marks = Marks()
    if url.backend == "sqlite" and not url.sqlite_path.exists():
        return marks  # nothing stored yet; do not create the file just to read it
    engine, connection = _connect(url)
    try:
        if not _has_table(connection):
            return marks
        rows = connection.execute(
            text(
                "SELECT source_id, event_type, MAX(occurred_at) FROM raw_events "
                "WHERE source = :source GROUP BY source_id, event_type"
            ),
            {"source": source},
        )
        for source_id, event_type, latest in rows:
            marks.latest[(source_id, event_type)] = _as_utc(latest)
        floor = recent_since(marks) if recent_since is not None else None
        if floor is None:
            return marks
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
        return marks
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
