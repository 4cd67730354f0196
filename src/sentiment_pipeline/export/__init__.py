"""`export csv` core: stream events from any backend into one CSV file (optionally gzip),
standard output, or the partitioned `<dir>/<source>/<source_id>/<YYYY-MM-DD>.csv` tree.

Why this shape: the database renders every value (export/columns.py) and, on PostgreSQL,
quotes the CSV too, so Python only moves bytes and memory stays flat whatever the row
count. Files are written to a temporary name and renamed when complete, so an interrupted
export never leaves a truncated file that looks finished.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sentiment_pipeline.db.connect import Reader, open_reader
from sentiment_pipeline.db.errors import map_db_error, missing_table
from sentiment_pipeline.db.filters import Dialect, EventFilter, check_sources, where_sql
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.export.columns import (
    DEFAULT_COLUMNS,
    SENTIMENT_COLUMNS,
    parse_columns,
    select_sql,
)
from sentiment_pipeline.export.paths import (
    check_output_dir,
    check_output_file,
    output_error,
    stat_errors,
)
from sentiment_pipeline.sources import source_names

__all__ = [
    "DEFAULT_COLUMNS",
    "WRITEBACK_BYTES",
    "EventFilter",
    "ExportResult",
    "atomic_output",
    "count_events",
    "export_csv",
    "export_partitioned",
    "has_html_text",
    "parse_columns",
    "sentiment_model_id",
]

LOGGER = logging.getLogger(__name__)
Progress = Callable[[int], None]
GZIP_LEVEL = 1  # ~6x faster than level 6 for ~1/3 more bytes: export speed wins
WRITEBACK_BYTES = 16 * 2**20  # start writing each 16 MB to disk as soon as it is written


@dataclass
class ExportResult:
    """Rows written, and the files written (in order) when the target was a path."""

    rows: int
    files: list[Path] = field(default_factory=list)  # empty when written to a stream


def header(columns: tuple[str, ...]) -> bytes:
    """The CSV header row: column names, comma-separated, CRLF-terminated, UTF-8."""
    return (",".join(columns) + "\r\n").encode("utf-8")


def sentiment_model_id(reader: Reader, name: str | None) -> str:
    """The stored model id whose scores fill the sentiment columns: `name` is a registry
    name (`vader`), a registry model id or a model id found in `sentiment_scores`; None
    means vader's current id. Raises `ConfigError` for an unknown model (listing those
    that exist) or when `sentiment_scores` does not exist (run `sentpipe db init`)."""
    from sentiment_pipeline.sentiment.counts import check_stored_model
    from sentiment_pipeline.sentiment.scorers import is_model_spec, model_id_for

    exists = (
        "SELECT to_regclass('sentiment_scores') IS NOT NULL"
        if reader.dialect == "postgresql"
        else "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sentiment_scores'"
    )
    if not reader.rows(exists)[0][0]:
        raise missing_table(reader.url, "sentiment_scores")
    if name is None or is_model_spec(name):
        return model_id_for(name or "vader")
    check_stored_model(reader.rows, reader.dialect, name, name)
    return name


def has_topic_links(reader: Reader) -> bool:
    """True when the `event_topics` table exists (migration 0005)."""
    exists = (
        "SELECT to_regclass('event_topics') IS NOT NULL"
        if reader.dialect == "postgresql"
        else "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'event_topics'"
    )
    return bool(reader.rows(exists)[0][0])


def has_html_text(reader: Reader) -> bool:
    """True when `sp_html_text(text)` exists: PostgreSQL at migration 0006 or later;
    SQLite always (`export.sqlite.register_html_text` on the connection)."""
    if reader.dialect != "postgresql":
        return True
    return bool(reader.rows("SELECT to_regprocedure('sp_html_text(text)') IS NOT NULL")[0][0])


def _warn_raw_html(reader: Reader) -> None:
    """One warning line when stored events of a source whose text is HTML will be
    exported as stored (a PostgreSQL database before migration 0006)."""
    from sentiment_pipeline.sources import known_specs

    html = sorted(n for n, s in known_specs().items() if s.columns.text_markup == "html")
    marks = ", ".join(["%s"] * len(html))
    if html and reader.rows(f"SELECT 1 FROM raw_events WHERE source IN ({marks}) LIMIT 1", html):
        LOGGER.warning(
            "the text column of %s events is exported as stored HTML: this database "
            "has no sp_html_text yet (run `sentpipe db init` to migrate it)",
            ", ".join(html),
        )


class _Source:
    """One open database (`db.connect.Reader`): stream, count and group on either backend.
    With sentiment columns, `sentiment_model` is resolved once (`sentiment_model_id`).
    A topic filter on a database without `event_topics` is the `db init` ConfigError;
    the `topics` column there is empty. Without `sp_html_text` (PostgreSQL before 0006)
    HTML text goes out as stored, with one warning when there is any."""

    def __init__(
        self,
        url: DatabaseURL,
        columns: tuple[str, ...] = (),
        sentiment_model: str | None = None,
    ) -> None:
        self.dialect: Dialect = url.backend
        self._reader = open_reader(url)
        self._prepared = False  # the export session settings, applied before streaming
        self.sentiment_model: str | None = None
        self._sources: set[str] = set()  # source names `_checked` found registered or stored
        try:
            if url.backend == "sqlite":
                from sentiment_pipeline.export.sqlite import (
                    register_fixed4,
                    register_html_text,
                    register_pg_json,
                )

                register_pg_json(self._reader.connection)
                register_fixed4(self._reader.connection)
                register_html_text(self._reader.connection)
            if any(column in SENTIMENT_COLUMNS for column in columns):
                self.sentiment_model = sentiment_model_id(self._reader, sentiment_model)
            self.topic_links = has_topic_links(self._reader)
            self.html_text = has_html_text(self._reader)
            if not self.html_text and "text" in columns:
                _warn_raw_html(self._reader)
        except BaseException:
            self._reader.close()
            raise

    def query(
        self,
        where: EventFilter,
        columns: tuple[str, ...],
        excel_safe: bool = False,
        limit: int | None = None,
    ) -> tuple[str, list[Any]]:
        """The export SELECT (canonical text columns, `select_sql`) for these filters."""
        return select_sql(
            self.dialect,
            columns,
            self._checked(where),
            excel_safe,
            limit,
            self.sentiment_model,
            self.topic_links,
            self.html_text,
        )

    @property
    def connection(self) -> Any:
        """The open DB-API connection (psycopg or sqlite3); on PostgreSQL the export
        session settings are applied on first use."""
        connection = self._reader.connection
        if self.dialect == "postgresql" and not self._prepared:
            from sentiment_pipeline.export.postgres import prepare_session

            with self.mapped_errors():
                prepare_session(connection)
            self._prepared = True
        return connection

    @contextmanager
    def mapped_errors(self) -> Iterator[None]:
        """Driver errors raised inside become `ConfigError`/`DatabaseUnreachable`
        (`db.errors.map_db_error`); others propagate as they are."""
        try:
            yield
        except Exception as error:
            mapped = map_db_error(self._reader.url, error)
            if mapped is error:
                raise
            raise mapped from error

    def stream(
        self,
        where: EventFilter,
        columns: tuple[str, ...],
        out: BinaryIO,
        excel_safe: bool = False,
        limit: int | None = None,
        on_progress: Progress | None = None,
    ) -> int:
        sql, params = self.query(where, columns, excel_safe, limit)
        out.write(header(columns))
        connection = self.connection
        with self.mapped_errors():
            if self.dialect == "postgresql":
                from sentiment_pipeline.export.postgres import stream_pg_csv

                return stream_pg_csv(connection, sql, params, out, on_progress)
            from sentiment_pipeline.export.sqlite import stream_sqlite_csv

            return stream_sqlite_csv(connection, sql, params, len(columns), out, on_progress)

    def _checked(self, where: EventFilter) -> EventFilter:
        """`where` with its sources as stored (`check_sources`: a source that is neither
        registered nor stored is a ConfigError); a ConfigError too when it filters by
        topic and there is no event_topics table."""
        if where.topics and not self.topic_links:
            raise missing_table(self._reader.url, "event_topics")
        if not set(where.sources) <= self._sources:  # not all checked yet (a file each)
            sources = check_sources(where.sources, self.dialect, self._reader.rows, source_names())
            self._sources.update(sources)
            where = dataclasses.replace(where, sources=sources)
        return where

    def count(self, where: EventFilter) -> int:
        clause, params = where_sql(self.dialect, self._checked(where))
        return int(self._reader.rows(f"SELECT count(*) FROM raw_events {clause}", params)[0][0])

    def groups(self, where: EventFilter) -> list[tuple[str, str, str, int]]:
        """(source, source_id, UTC day, rows) in file order."""
        day = (
            "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            if self.dialect == "postgresql"
            else "substr(occurred_at, 1, 10)"
        )
        clause, params = where_sql(self.dialect, self._checked(where))
        sql = (
            f"SELECT source, source_id, {day} AS day, count(*) FROM raw_events {clause} "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        return [(str(a), str(b), str(c), int(n)) for a, b, c, n in self._reader.rows(sql, params)]

    def close(self) -> None:
        self._reader.close()


@contextmanager
def open_source(
    url: DatabaseURL, columns: tuple[str, ...] = (), sentiment_model: str | None = None
) -> Iterator[_Source]:
    source = _Source(url, columns, sentiment_model)
    try:
        yield source
    finally:
        source.close()


def refuse_existing(paths: list[Path], force: bool) -> None:
    existing = []
    for path in paths:
        with stat_errors(path):  # a name too long (a long, escaped source id)
            if path.exists():
                existing.append(path)
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ConfigError(
            f"{existing[0]} already exists{more}",
            "pass --force to overwrite it, or another path with -o",
        )


_refuse_existing = refuse_existing  # the name sentiment sample and report import


class _WritebackFile(io.FileIO):
    """A file opened for writing that asks the kernel to start writing every
    `WRITEBACK_BYTES` to disk as soon as they are written (`posix_fadvise` DONTNEED on
    that range: an asynchronous writeback; pages not yet clean stay cached), and keeps
    the `OSError` a write raised (`failed`: a full disk), whoever wrapped the file.

    Without it the whole export sits dirty in the page cache until the final `fsync`,
    which then waits for all of it (0.4-0.6 s at 1.4 GB), and writers get throttled
    once the dirty pages pass the kernel's limit (writing 1.4 GB took 3 s instead of
    0.4 s). With it the final fsync only waits for the last few MB (docs/performance.md)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "wb")
        self._written = 0  # bytes written so far (a new file: also the offset)
        self._started = 0  # bytes whose writeback was already asked for
        self.failed: OSError | None = None  # the first error a write raised

    def write(self, data: Any, /) -> int:
        try:
            count = self._write(data)
        except OSError as error:
            self.failed = self.failed or error
            raise
        self._written += count
        if self._written - self._started >= WRITEBACK_BYTES and _FADVISE:
            os.posix_fadvise(
                self.fileno(), self._started, self._written - self._started, os.POSIX_FADV_DONTNEED
            )
            self._started = self._written
        return count

    def _write(self, data: Any) -> int:
        """The plain write (a seam: tests make it fail like a full disk)."""
        return super().write(data) or 0


_FADVISE = hasattr(os, "posix_fadvise")  # Linux and most Unixes; not macOS or Windows


def _discard(raw: io.BufferedWriter[_WritebackFile], partial: Path) -> None:
    """Close `raw` (its flush may fail again: a full disk) and remove the partial file."""
    try:
        raw.close()
    except OSError:
        pass
    finally:
        partial.unlink(missing_ok=True)


def _remove_empty(folders: list[Path]) -> None:
    """Remove `folders` (deepest first) while they are empty: a failed file leaves no
    empty tree behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return  # holds a finished file: so do the folders above it
            # never made (mkdir failed first, a name too long): try the next one up


@contextmanager
def atomic_output(path: Path, *, make_parents: bool = True) -> Iterator[BinaryIO]:
    """Write to `.<name>.<pid>.partial`, rename over `path` on success, remove it on
    failure. A `.gz` name gets gzip with no name or time in its header (reproducible
    bytes). The bytes go to disk while the export runs (`_WritebackFile`) and are fsynced
    before the rename. `make_parents` creates the missing folders first (a partitioned
    export's; a single file's folder must exist: `paths.check_output_file`), and
    removes those still empty when the file fails.

    Raises `ConfigError` (`paths.output_error`: one line naming `path`) when the file
    cannot be created, written (a full disk, whatever the writer wrapping the stream
    raised), flushed or renamed; the partial file is removed first."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    created: list[Path] = []  # the folders made here, deepest first: removed on failure
    try:
        if make_parents:
            created = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
            path.parent.mkdir(parents=True, exist_ok=True)
        file = _WritebackFile(partial)
    except OSError as error:
        _remove_empty(created)
        raise output_error(path, error) from error
    raw = io.BufferedWriter(file)
    stream: BinaryIO = raw
    if path.name.endswith(".gz"):
        import gzip

        stream = gzip.GzipFile(  # type: ignore[assignment]
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
        )
    finishing = False  # past the caller's writes: any OSError is this file's
    try:
        yield stream
        finishing = True
        if stream is not raw:
            stream.close()
        raw.flush()
        os.fsync(raw.fileno())
        raw.close()
        os.replace(partial, path)
    except BaseException as error:
        _discard(raw, partial)
        _remove_empty(created)
        failed = file.failed or (error if finishing and isinstance(error, OSError) else None)
        if failed is not None and isinstance(error, Exception):
            raise output_error(path, failed) from error
        raise


def count_events(url: DatabaseURL, where: EventFilter, limit: int | None = None) -> int:
    """How many rows an export with these filters writes (for a progress bar's total).

    Raises `ConfigError` (no database file, no `raw_events`, login refused) or
    `DatabaseUnreachable`, like `export_csv`."""
    with open_source(url) as source:
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
    sentiment_model: str | None = None,
) -> ExportResult:
    """Export the events matching `where` (default: all) as CSV, in (occurred_at, id) order.

    `target` is a path (written atomically: a `.partial` file renamed when complete; a
    `.gz` name is gzip-compressed) or a binary stream (flushed, not closed). The CSV is
    UTF-8, RFC 4180 (CRLF rows, a header row of `columns`), every value in the canonical
    text form of export/columns.py, so the bytes are the same on every backend.
    `excel_safe` prefixes `'` to cells a spreadsheet would evaluate; `limit` caps the
    rows; `on_progress(rows written so far)` is called as rows go out.

    Returns an `ExportResult` (rows, and `[target]` for a path). Raises `ConfigError`
    (the path exists and not `force`; it cannot be written, or its folder does not
    exist, both before any query: `paths.check_output_file`; a write fails, a full disk:
    `atomic_output`; no SQLite file; no `raw_events`; login refused) or
    `DatabaseUnreachable` (server down, or the connection lost mid-export: the partial
    file is removed)."""
    where = where or EventFilter()
    if isinstance(target, Path):
        check_output_file(target)
        refuse_existing([target], force)
    with open_source(url, columns, sentiment_model) as source:
        if not isinstance(target, Path):
            rows = source.stream(where, columns, target, excel_safe, limit, on_progress)
            target.flush()
            return ExportResult(rows)
        with atomic_output(target, make_parents=False) as out:
            rows = source.stream(where, columns, out, excel_safe, limit, on_progress)
    return ExportResult(rows, [target])


def day_filter(where: EventFilter, source: str, source_id: str, day: str) -> EventFilter:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    end = start + timedelta(days=1)
    return dataclasses.replace(
        where,
        sources=(source,),
        source_ids=(source_id,),
        since=max(start, where.since) if where.since else start,
        until=min(end, where.until) if where.until else end,
    )


def progress_offset(on_progress: Progress | None, done: int) -> Progress | None:
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
    sentiment_model: str | None = None,
) -> ExportResult:
    """Export to `<directory>/<source>/<source_id>/<YYYY-MM-DD>.csv`, one file per
    (source, source_id, UTC day) like the CSV sink; each file as `export_csv` writes it,
    in (occurred_at, id) order. `limit` counts rows across all files, in file order;
    `on_progress` gets the running total over all files.

    Returns the rows and the files written, in order. Raises what `export_csv` raises;
    `ConfigError` names the first existing file when not `force` (nothing is written),
    or `directory` when it cannot be created or written (`paths.check_output_dir`: it is
    created if missing, its parent must exist).
    `sentiment_model` as for `export_csv`."""
    where = where or EventFilter()
    check_output_dir(directory)
    result = ExportResult(0)
    with open_source(url, columns, sentiment_model) as source:
        groups = source.groups(where)
        _check_folder_names(groups)
        paths = [directory / s / sid / f"{day}.csv" for s, sid, day, _ in groups]
        refuse_existing(paths, force)
        for (src, sid, day, _), path in zip(groups, paths, strict=True):
            remaining = None if limit is None else limit - result.rows
            if remaining is not None and remaining <= 0:
                break
            progress = progress_offset(on_progress, result.rows)
            with atomic_output(path) as out:
                result.rows += source.stream(
                    day_filter(where, src, sid, day),
                    columns,
                    out,
                    excel_safe,
                    remaining,
                    progress,
                )
            result.files.append(path)
    return result


def _check_folder_names(groups: Sequence[tuple[Any, ...]]) -> None:
    """ConfigError, before any file is written, for a stored source or source id that
    is no safe folder name (`dto.rules.path_safe`): validation never stores one, so it
    was written around sentpipe, and `..` or `/` in it would put files outside `-o`."""
    from sentiment_pipeline.dto.rules import path_safe

    for source, source_id, *_ in groups:
        for name in (source, source_id):
            if not path_safe(str(name)):
                raise ConfigError(
                    f"stored source or source id {name!r} is not a safe folder name "
                    "(written into the database around sentpipe)",
                    "export it with --layout single or as Parquet (its folder names are "
                    "escaped), or fix the row",
                )
