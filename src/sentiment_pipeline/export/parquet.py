"""`export parquet` core: the `export csv` rows, typed, in zstd Parquet files.

Why this shape: the rows come from the very query `export csv` runs (export/columns.py:
every value in its canonical text), so both formats hold the same values under the same
filters, columns and order on every backend; only the last step differs. The rows
arrive as COPY-style CSV (PostgreSQL's own `COPY … (FORMAT csv)` messages; SQLite's text
rows quoted the same way, 5,000 at a time), and Arrow's C++ CSV reader parses each 1 MB
block into typed columns (`columns.TYPED_KINDS`): no Python object per value. Batches
are buffered into row groups (`ROW_GROUP_ROWS` rows or `ROW_GROUP_BYTES`), each written
on a writer thread while the next is read, so memory is about two row groups whatever
the row count (docs/export.md, "Memory and speed").

pyarrow is the optional extra `sentpipe[parquet]`, imported only here and only when a
Parquet export runs (`require_pyarrow`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sentiment_pipeline.db.filters import EventFilter
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.export import (
    DEFAULT_COLUMNS,
    ExportResult,
    Progress,
    atomic_output,
    day_filter,
    open_source,
    progress_offset,
    refuse_existing,
)
from sentiment_pipeline.export.columns import TYPED_KINDS
from sentiment_pipeline.export.paths import check_output_dir, check_output_file, stat_errors

if TYPE_CHECKING:
    import pyarrow as pa

    from sentiment_pipeline.export import _Source

__all__ = [
    "LAYOUTS",
    "ROW_GROUP_BYTES",
    "ROW_GROUP_ROWS",
    "arrow_schema",
    "check_target",
    "export_parquet",
    "partition_dir",
    "partition_value",
    "require_pyarrow",
    "typed_batch",
]

LAYOUTS = ("single", "partitioned")
ROW_GROUP_ROWS = 65_536  # a row group ends at this many rows or
ROW_GROUP_BYTES = 16 * 2**20  # this much Arrow data (long texts), whichever comes first
CSV_BLOCK_BYTES = 2**20  # Arrow's CSV reader parses the rows in blocks of about this size
SQLITE_CHUNK_ROWS = 5_000
COMPRESSION = "zstd"
EXTRA_HINT = "pip install 'sentpipe[parquet]'"
_WHOLE_NUMBER = r"^-?[0-9]{1,18}$"  # fits int64: longer digit runs are null, not an error


def require_pyarrow() -> Any:
    """The `pyarrow` module, with `pyarrow.parquet`, `.csv` and `.compute` loaded.
    Raises `ConfigError` naming the extra when pyarrow is not installed."""
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.csv
        import pyarrow.parquet
    except ImportError as error:
        raise ConfigError(
            f"Parquet export needs pyarrow, which is not installed ({error.name})",
            EXTRA_HINT,
        ) from None
    return pyarrow


def arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of a `columns.TYPED_KINDS` kind."""
    pa = require_pyarrow()
    types: dict[str, Any] = {
        "string": pa.string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "list": pa.list_(pa.string()),
    }
    return types[kind]


def arrow_schema(columns: Sequence[str]) -> pa.Schema:
    """The Parquet file's schema: `columns` in order, each of its documented type."""
    pa = require_pyarrow()
    return pa.schema([pa.field(name, arrow_type(TYPED_KINDS[name])) for name in columns])


# The CSV reader parses these kinds itself; `int64` and `list` are read as text and
# finished by `typed_batch` (a payload score may be any JSON value; lists need a split).
_READ_AS_TEXT = ("string", "int64", "list")


def _read_type(kind: str) -> pa.DataType:
    return arrow_type("string" if kind in _READ_AS_TEXT else kind)


def _typed(array: Any, kind: str) -> Any:
    """One column as Arrow's CSV reader gave it, in its `TYPED_KINDS` form. (No
    `pa.scalar`/`pa.array` of Python values here: those import pandas when it is
    installed, 40 MB of RSS for nothing.)"""
    pa = require_pyarrow()
    pc = pa.compute
    if kind == "int64":
        whole = pc.match_substring_regex(array, _WHOLE_NUMBER)
        return pc.if_else(whole, array, pa.nulls(len(array), pa.string())).cast(pa.int64())
    if kind == "list":  # a null (no topics) splits into an empty slot: an empty list
        names = pc.split_pattern(array, ";")
        return pa.ListArray.from_arrays(names.offsets, names.values)
    return array


def typed_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch as `_csv_batches` reads it, typed by `schema` (`arrow_schema`)."""
    pa = require_pyarrow()
    arrays = [_typed(batch.column(i), TYPED_KINDS[field.name]) for i, field in enumerate(schema)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _blocks(chunks: Iterator[Any]) -> Iterator[bytes]:
    """Whole-row chunks joined into blocks of at least `CSV_BLOCK_BYTES` (the last may be
    smaller); a block never splits a row."""
    pending: list[Any] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= CSV_BLOCK_BYTES:
            yield b"".join(pending)
            pending.clear()
            size = 0
    if pending:
        yield b"".join(pending)


def _csv_batches(chunks: Iterator[Any], columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """Batches of the CSV rows in `chunks` (whole rows in PostgreSQL's COPY CSV form, no
    header): NULL is an unquoted empty field, an empty string a quoted one; timestamps,
    booleans and floats parsed by Arrow's C++ reader, the rest text. Each block is parsed
    on this thread (the database cursor is read here too)."""
    pa = require_pyarrow()
    names = list(columns)
    read_options = pa.csv.ReadOptions(column_names=names, use_threads=False)
    parse_options = pa.csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    convert_options = pa.csv.ConvertOptions(
        column_types={name: _read_type(TYPED_KINDS[name]) for name in names},
        true_values=["true"],
        false_values=["false"],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        null_values=[""],
    )
    for block in _blocks(chunks):
        table = pa.csv.read_csv(
            pa.py_buffer(block),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        yield from table.to_batches()


def _pg_chunks(connection: Any, sql: str, params: Sequence[Any]) -> Iterator[Any]:
    """The query's rows as `COPY … TO STDOUT (FORMAT csv)` messages (one row each)."""
    statement = f"COPY ({sql}) TO STDOUT (FORMAT csv)"
    with connection.cursor() as cursor, cursor.copy(statement, params or None) as copy:
        yield from copy


def _sqlite_chunks(connection: Any, sql: str, params: Sequence[Any], width: int) -> Iterator[bytes]:
    """The query's rows as COPY-style CSV, `SQLITE_CHUNK_ROWS` rows a chunk."""
    from sentiment_pipeline.export.sqlite import pg_csv_rows

    cursor = connection.execute(sql, params)
    try:
        while rows := cursor.fetchmany(SQLITE_CHUNK_ROWS):
            yield pg_csv_rows(rows, single=width == 1)
    finally:
        cursor.close()


def _write_file(
    source: _Source,
    where: EventFilter,
    columns: tuple[str, ...],
    path: Path,
    limit: int | None,
    on_progress: Progress | None,
    make_parents: bool,
) -> int:
    """Write the rows of one query to `path` atomically (creating its missing folders
    with `make_parents`); return the row count."""
    schema = arrow_schema(columns)
    sql, params = source.query(where, columns, limit=limit)
    connection = source.connection
    chunks = (
        _pg_chunks(connection, sql, params)
        if source.dialect == "postgresql"
        else _sqlite_chunks(connection, sql, params, len(columns))
    )
    rows = 0
    with atomic_output(path, make_parents=make_parents) as out:
        groups = _RowGroups(out, schema)
        try:
            with source.mapped_errors():
                for text in _csv_batches(chunks, columns):
                    groups.add(typed_batch(text, schema))
                    rows += text.num_rows
                    if on_progress is not None:
                        on_progress(rows)
            groups.finish()
        finally:
            groups.close()
    if on_progress is not None:
        on_progress(rows)
    return rows


class _RowGroups:
    """Batches buffered into row groups of `ROW_GROUP_ROWS` rows or `ROW_GROUP_BYTES`,
    each encoded and compressed on a writer thread while the next is read (Arrow releases
    the GIL), at most one in flight: memory stays at about two row groups.

    Dictionary encoding is asked only for the columns that repeat (`_DICTIONARY`; trying
    it on every text chunk costs time for nothing); min/max statistics are kept for all
    but the free-text columns."""

    def __init__(self, out: Any, schema: pa.Schema) -> None:
        from concurrent.futures import Future, ThreadPoolExecutor

        pa = require_pyarrow()
        self._pa = pa
        self._schema = schema
        self._writer = pa.parquet.ParquetWriter(
            out,
            schema,
            compression=COMPRESSION,
            use_dictionary=[name for name in schema.names if name in _DICTIONARY],
            write_statistics=[name for name in schema.names if name not in _FREE_TEXT],
        )
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="parquet-writer")
        self._in_flight: Future[None] | None = None
        self._pending: list[Any] = []
        self._rows = self._bytes = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._rows += batch.num_rows
        self._bytes += batch.nbytes
        if self._rows >= ROW_GROUP_ROWS or self._bytes >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        table = self._pa.Table.from_batches(self._pending, self._schema)
        self._pending, self._rows, self._bytes = [], 0, 0
        self._wait()
        self._in_flight = self._thread.submit(self._writer.write_table, table)

    def _wait(self) -> None:
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()

    def finish(self) -> None:
        """Write what is buffered and wait until it is written (writer errors raise)."""
        if self._pending:
            self._flush()
        self._wait()

    def close(self) -> None:
        """Stop the writer thread and close the file (after `finish`, or on an error)."""
        self._thread.shutdown(wait=True)
        self._writer.close()


# Columns whose values repeat (dictionary-encoded) and free text (no min/max statistics).
_DICTIONARY = frozenset(
    {"source", "source_id", "event_type", "author", "subreddit", "container", "topics"}
    | {"sentiment_label", "language"}
)
_FREE_TEXT = frozenset({"title", "text", "permalink", "url", "payload", "parent_id", "topics"})


def partition_value(value: str) -> str:
    """A hive partition value made safe as one path segment: every byte outside
    `A-Z a-z 0-9 _ . - ~` percent-encoded (UTF-8), so `/`, `=`, `%`, NUL or `..` cannot
    leave or split the directory (readers decode it: pyarrow's `hive` flavour, DuckDB)."""
    return quote(value, safe="") or "%00"


def partition_dir(directory: Path, source: str, source_id: str, day: str) -> Path:
    """`directory/source=…/container=…/day=YYYY-MM-DD`, values `partition_value`-escaped."""
    return (
        directory
        / f"source={partition_value(source)}"
        / f"container={partition_value(source_id)}"
        / f"day={day}"
    )


def check_target(target: Path, layout: str) -> None:
    """What `-o` must be: `single`, a `.parquet` file path (not an existing folder);
    `partitioned`, a folder (not an existing file, not a `.parquet` name). Either must be
    writable, a single file's folder must exist and a folder's parent too
    (`paths.check_output_file`, `paths.check_output_dir`). Raises `ConfigError` otherwise."""
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}", f"choose from {', '.join(LAYOUTS)}")
    with stat_errors(target):
        _check_kind(target, layout)


def _check_kind(target: Path, layout: str) -> None:
    if layout == "single":
        if target.is_dir():
            raise ConfigError(
                f"{target} is a folder, and --layout single writes one file",
                "give -o FILE.parquet, or add --layout partitioned to write into the folder",
            )
        if target.suffix != ".parquet":
            raise ConfigError(
                f"{target} does not end in .parquet",
                "give -o FILE.parquet (or --layout partitioned -o DIR for a folder)",
            )
        check_output_file(target)
        return
    if (target.exists() and not target.is_dir()) or target.suffix == ".parquet":
        raise ConfigError(
            f"{target} is a file name, and --layout partitioned writes a folder",
            "give -o DIR (or --layout single -o FILE.parquet for one file)",
        )
    check_output_dir(target)


def export_parquet(
    url: DatabaseURL,
    target: Path,
    where: EventFilter | None = None,
    columns: tuple[str, ...] = DEFAULT_COLUMNS,
    *,
    layout: str = "single",
    limit: int | None = None,
    force: bool = False,
    on_progress: Progress | None = None,
    sentiment_model: str | None = None,
) -> ExportResult:
    """Export the events matching `where` as zstd Parquet: the rows, columns and order of
    `export_csv`, each column typed (`columns.TYPED_KINDS`, `arrow_schema`).

    `layout="single"`: `target` is one `.parquet` file. `layout="partitioned"`: `target`
    is a folder; one file per (source, source id, UTC day) at
    `target/source=S/container=ID/day=YYYY-MM-DD/part-0.parquet` (`partition_dir`), each
    in (occurred_at, id) order; `limit` counts rows across files in that order. Every file
    is written to a temporary name and renamed when complete.

    Returns the rows and the files written, in order. Raises `ConfigError` (pyarrow
    missing; the wrong kind of `target`, or one that cannot be written, before any query:
    `check_target`; a file exists and not `force`; a write fails, a full disk; what
    `export_csv` raises) or `DatabaseUnreachable` (the partial file is removed)."""
    require_pyarrow()
    check_target(target, layout)
    where = where or EventFilter()
    result = ExportResult(0)
    with open_source(url, columns, sentiment_model) as source:
        if layout == "single":
            refuse_existing([target], force)
            result.rows = _write_file(source, where, columns, target, limit, on_progress, False)
            result.files.append(target)
            return result
        with source.mapped_errors():
            groups = source.groups(where)
        paths = [partition_dir(target, s, sid, day) / "part-0.parquet" for s, sid, day, _ in groups]
        refuse_existing(paths, force)
        for (src, sid, day, _), path in zip(groups, paths, strict=True):
            remaining = None if limit is None else limit - result.rows
            if remaining is not None and remaining <= 0:
                break
            result.rows += _write_file(
                source,
                day_filter(where, src, sid, day),
                columns,
                path,
                remaining,
                progress_offset(on_progress, result.rows),
                True,
            )
            result.files.append(path)
    return result
