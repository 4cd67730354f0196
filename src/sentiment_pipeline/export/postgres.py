"""PostgreSQL/TimescaleDB side of export: stream `COPY … TO STDOUT` (db/connect.py connects).

The server does the CSV work: every column is already canonical text (export/columns.py),
`COPY (SELECT …) TO STDOUT (FORMAT csv)` quotes it, and we only move bytes. The protocol
sends exactly one CopyData message per row, so turning COPY's LF row ends into RFC 4180
CRLF is a slice per message (newlines inside quoted fields are left alone).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import psycopg

__all__ = ["SESSION_SETTINGS", "prepare_session", "stream_pg_csv"]

# Set once on the export connection. A parallel plan cannot keep the `occurred_at` index
# order across chunks or workers: with a filter such as --subreddit the planner chose
# Gather Merge over a parallel seq scan and a full Sort of every matching row (written
# to disk beyond work_mem: 561 MB at 1M rows). Serial, the same filters scan the index
# in time order and sort only runs of equal timestamps (docs/performance.md).
SESSION_SETTINGS = ("SET max_parallel_workers_per_gather = 0",)

_FLUSH_ROWS = 2048
_CRLF = b"\r\n"


def prepare_session(connection: psycopg.Connection[Any]) -> None:
    """Apply `SESSION_SETTINGS` to the export connection (psycopg errors propagate)."""
    for statement in SESSION_SETTINGS:
        connection.execute(statement)


def stream_pg_csv(
    connection: psycopg.Connection[Any],
    sql: str,
    params: Sequence[Any],
    out: BinaryIO,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Copy the query's rows to `out` as CRLF-terminated CSV rows; return the count.

    `sql` is a SELECT with `%s` placeholders for `params`; `on_progress(rows so far)` is
    called every 2,048 rows and at the end. psycopg errors propagate (the caller maps)."""
    count = 0
    pending: list[memoryview] = []
    write = out.write
    statement = f"COPY ({sql}) TO STDOUT (FORMAT csv)"
    # psycopg binds COPY parameters client-side (the server cannot).
    with connection.cursor() as cursor, cursor.copy(statement, params or None) as copy:
        for data in copy:
            pending.append(memoryview(data)[:-1])  # drop the LF row end
            if len(pending) == _FLUSH_ROWS:
                write(_CRLF.join(pending))
                write(_CRLF)
                count += _FLUSH_ROWS
                pending.clear()
                if on_progress is not None:
                    on_progress(count)
    if pending:
        write(_CRLF.join(pending))
        write(_CRLF)
        count += len(pending)
    if on_progress is not None:
        on_progress(count)
    return count
