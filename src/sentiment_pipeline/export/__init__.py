"""`export csv` core: stream events from any backend into one CSV file (optionally gzip),
standard output, or the partitioned `<dir>/<source>/<source_id>/<YYYY-MM-DD>.csv` tree.

Why this shape: the database renders every value (export/columns.py) and, on PostgreSQL,
quotes the CSV too, so Python only moves bytes and memory stays flat whatever the row
count. Files are written to a temporary name and renamed when complete, so an interrupted
export never leaves a truncated file that looks finished.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.export.columns import (
    DEFAULT_COLUMNS,
    EventFilter,
    parse_columns,
    select_sql,
    where_sql,
)

__all__ = [
    "DEFAULT_COLUMNS",
    "EventFilter",
    "ExportResult",
    "count_events",
    "export_csv",
    "export_partitioned",
    "parse_columns",
]

Progress = Callable[[int], None]
GZIP_LEVEL = 1  # ~6x faster than level 6 for ~1/3 more bytes: export speed wins


@dataclass
class ExportResult:
    rows: int
    files: list[Path] = field(default_factory=list)  # empty when written to a stream


def header(columns: tuple[str, ...]) -> bytes:
    return (",".join(columns) + "\r\n").encode("utf-8")


class _Source:
    """One open database: the same three operations on PostgreSQL and SQLite."""

    def __init__(self, url: DatabaseURL) -> None:
        self.dialect = url.backend
        self._connection: Any
        if url.backend == "postgresql":
            from sentiment_pipeline.export.postgres import connect_pg

            self._connection = connect_pg(url)
        else:
            from sentiment_pipeline.export.sqlite import connect_sqlite

            self._connection = connect_sqlite(url)

    def stream(
        self,
        where: EventFilter,
        columns: tuple[str, ...],
        out: BinaryIO,
        excel_safe: bool = False,
        limit: int | None = None,
        on_progress: Progress | None = None,
    ) -> int:
        sql, params = select_sql(self.dialect, columns, where, excel_safe, limit)
        out.write(header(columns))
        if self.dialect == "postgresql":
            from sentiment_pipeline.export.postgres import stream_pg_csv

            return stream_pg_csv(self._connection, sql, params, out, on_progress)
        from sentiment_pipeline.export.sqlite import stream_sqlite_csv

        return stream_sqlite_csv(self._connection, sql, params, len(columns), out, on_progress)

    def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return list(self._connection.execute(sql, params).fetchall())

    def count(self, where: EventFilter) -> int:
        clause, params = where_sql(self.dialect, where)
        return int(self.fetch(f"SELECT count(*) FROM raw_events {clause}", params)[0][0])

    def groups(self, where: EventFilter) -> list[tuple[str, str, str, int]]:
        """(source, source_id, UTC day, rows) in file order."""
        day = (
            "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            if self.dialect == "postgresql"
            else "substr(occurred_at, 1, 10)"
        )
        clause, params = where_sql(self.dialect, where)
        sql = (
            f"SELECT source, source_id, {day} AS day, count(*) FROM raw_events {clause} "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        return [(str(a), str(b), str(c), int(n)) for a, b, c, n in self.fetch(sql, params)]

    def close(self) -> None:
        self._connection.close()


@contextmanager
def _open_source(url: DatabaseURL) -> Iterator[_Source]:
    source = _Source(url)
    try:
        yield source
    finally:
        source.close()


def _refuse_existing(paths: list[Path], force: bool) -> None:
    existing = [path for path in paths if path.exists()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ConfigError(
            f"{existing[0]} already exists{more}", "pass --force to overwrite, or choose -o"
        )


@contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """Write to `.<name>.partial`, rename over `path` on success, remove it on failure.
    A `.gz` name gets gzip with no name or time in its header (reproducible bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    raw = partial.open("wb")
    stream: BinaryIO = raw
    if path.name.endswith(".gz"):
        stream = gzip.GzipFile(  # type: ignore[assignment]
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
        )
    try:
        yield stream
        if stream is not raw:
            stream.close()
        raw.flush()
        os.fsync(raw.fileno())
        raw.close()
        os.replace(partial, path)
    except BaseException:
        raw.close()
        partial.unlink(missing_ok=True)
        raise


def count_events(url: DatabaseURL, where: EventFilter, limit: int | None = None) -> int:
    """How many rows an export with these filters writes (for a progress bar's total)."""
    with _open_source(url) as source:
        total = source.count(where)
    return min(total, limit) if limit is not None else total


def export_csv(
    url: DatabaseURL,
    target: Path | BinaryIO,
    where: EventFilter | None = None,
    columns: tuple[str, ...] = DEFAULT_COLUMNS,
    *,
    excel_safe: bool = False,
    limit: int | None = None,
    force: bool = False,
    on_progress: Progress | None = None,
) -> ExportResult:
    """Export matching events in (occurred_at, id) order to a file path or a binary stream."""
    where = where or EventFilter()
    if isinstance(target, Path):
        _refuse_existing([target], force)
    with _open_source(url) as source:
        if not isinstance(target, Path):
            rows = source.stream(where, columns, target, excel_safe, limit, on_progress)
            target.flush()
            return ExportResult(rows)
        with atomic_output(target) as out:
            rows = source.stream(where, columns, out, excel_safe, limit, on_progress)
    return ExportResult(rows, [target])


def _day_filter(where: EventFilter, source: str, source_id: str, day: str) -> EventFilter:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    end = start + timedelta(days=1)
    return dataclasses.replace(
        where,
        sources=(source,),
        source_ids=(source_id,),
        since=max(start, where.since) if where.since else start,
        until=min(end, where.until) if where.until else end,
    )


def _offset(on_progress: Progress | None, done: int) -> Progress | None:
    """Report rows across files: this file's count plus those already written."""
    if on_progress is None:
        return None
    report = on_progress
    return lambda rows: report(done + rows)


def export_partitioned(
    url: DatabaseURL,
    directory: Path,
    where: EventFilter | None = None,
    columns: tuple[str, ...] = DEFAULT_COLUMNS,
    *,
    excel_safe: bool = False,
    limit: int | None = None,
    force: bool = False,
    on_progress: Progress | None = None,
) -> ExportResult:
    """One file per (source, source_id, UTC day), like the CSV sink; each file in
    (occurred_at, id) order. `limit` counts rows across all files, in file order."""
    where = where or EventFilter()
    result = ExportResult(0)
    with _open_source(url) as source:
        groups = source.groups(where)
        paths = [directory / s / sid / f"{day}.csv" for s, sid, day, _ in groups]
        _refuse_existing(paths, force)
        for (src, sid, day, _), path in zip(groups, paths, strict=True):
            remaining = None if limit is None else limit - result.rows
            if remaining is not None and remaining <= 0:
                break
            progress = _offset(on_progress, result.rows)
            with atomic_output(path) as out:
                result.rows += source.stream(
                    _day_filter(where, src, sid, day),
                    columns,
                    out,
                    excel_safe,
                    remaining,
                    progress,
                )
            result.files.append(path)
    return result
