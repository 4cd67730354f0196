"""Which events a read-side command looks at: `EventFilter` and its SQL `WHERE` clause.

Shared by `export csv` and `stats`. Plain strings and parameters, no driver import:
PostgreSQL gets `%s` placeholders and aware datetimes, SQLite gets `?` placeholders and
the UTC text form the SQLite sink stores (`sqlite_time`), so comparisons stay textual
and use the `occurred_at` index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sentiment_pipeline.timeparse import storage_text

__all__ = ["Dialect", "EventFilter", "sqlite_time", "where_sql"]

Dialect = Literal["postgresql", "sqlite"]


@dataclass(frozen=True)
class EventFilter:
    """Which events: every given condition must hold (values within one field: any).

    Empty tuples and `None` mean "no condition". `since` is inclusive and `until`
    exclusive, both compared with `occurred_at` (aware datetimes, any zone).
    """

    sources: tuple[str, ...] = ()
    source_ids: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    processed: bool | None = None


def where_sql(dialect: Dialect, where: EventFilter) -> tuple[str, list[Any]]:
    """`WHERE …` (or `''` when `where` has no condition) and its positional parameters,
    in the dialect's placeholder style (`%s` for psycopg, `?` for sqlite3)."""
    mark = "%s" if dialect == "postgresql" else "?"
    clauses: list[str] = []
    params: list[Any] = []

    def any_of(column: str, values: Sequence[str]) -> None:
        if values:
            clauses.append(f"{column} IN ({', '.join(mark for _ in values)})")
            params.extend(values)

    any_of("source", where.sources)
    any_of("source_id", where.source_ids)
    any_of("event_type", where.event_types)
    for bound, op in ((where.since, ">="), (where.until, "<")):
        if bound is not None:
            clauses.append(f"occurred_at {op} {mark}")
            params.append(bound if dialect == "postgresql" else sqlite_time(bound))
    if where.processed is not None:
        clauses.append("processed" if where.processed else "NOT processed")
    return (f"WHERE {' AND '.join(clauses)}" if clauses else "", params)


def sqlite_time(moment: datetime) -> str:
    """An aware moment as the SQLite sink stores it: UTC `'YYYY-MM-DD HH:MM:SS.ffffff'`
    text (so `occurred_at` comparisons are plain text comparisons)."""
    return storage_text(moment)
