"""The SQL behind `export csv`: its columns in one canonical text form, and the query.

Byte-identical CSV from TimescaleDB, PostgreSQL and SQLite needs every value rendered to
text *in SQL*, the same way on both dialects, so no backend's driver formats anything:

- timestamps: `2024-01-02T03:04:05.123456Z` (UTC, always six fraction digits);
- booleans: `true` / `false`; NULL (or a key absent from the payload): an empty field;
- payload fields: strings as is, numbers as PostgreSQL prints a JSON number, objects and
  arrays (and `--payload`) in PostgreSQL's `jsonb::text` form. PostgreSQL produces that
  for free; SQLite reproduces it with the `sp_pg_json` function (see export/sqlite.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sentiment_pipeline.db.filters import Dialect, EventFilter, where_sql
from sentiment_pipeline.errors import ConfigError

__all__ = [
    "ALL_COLUMNS",
    "DEFAULT_COLUMNS",
    "column_sql",
    "parse_columns",
    "select_sql",
]

DEFAULT_COLUMNS = (
    "id",
    "occurred_at",
    "source",
    "source_id",
    "event_type",
    "author",
    "title",
    "text",
    "score",
    "permalink",
    "parent_id",
    "ingested_at",
    "processed",
)
_PAYLOAD_FIELDS = ("author", "title", "score", "permalink", "parent_id", "subreddit", "url")
_PLAIN = ("id", "source", "source_id", "event_type")
_TIMES = ("occurred_at", "ingested_at", "processed_at")
ALL_COLUMNS = (*DEFAULT_COLUMNS, "subreddit", "url", "processed_at", "payload")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def parse_columns(spec: str | None, payload: bool = False) -> tuple[str, ...]:
    """`--columns id,occurred_at,text` (or the default set), plus `payload` with --payload."""
    names = (
        DEFAULT_COLUMNS
        if spec is None
        else tuple(part.strip() for part in spec.split(",") if part.strip())
    )
    unknown = [name for name in names if name not in ALL_COLUMNS]
    if unknown or not names:
        raise ConfigError(
            f"unknown column(s) {', '.join(unknown)}" if unknown else "--columns is empty",
            f"choose from {', '.join(ALL_COLUMNS)}",
        )
    if len(set(names)) != len(names):
        raise ConfigError("--columns lists a column twice", "name each column once")
    if payload and "payload" not in names:
        names = (*names, "payload")
    return names


def _json_field(dialect: Dialect, key: str) -> str:
    if dialect == "postgresql":
        return f"(payload->>'{key}')"
    path = f"'$.{key}'"
    return (
        f"(CASE json_type(payload, {path}) WHEN 'text' THEN json_extract(payload, {path}) "
        f"WHEN 'integer' THEN payload -> {path} WHEN 'true' THEN 'true' "
        f"WHEN 'false' THEN 'false' WHEN 'real' THEN sp_pg_json(payload -> {path}) "
        f"WHEN 'object' THEN sp_pg_json(payload -> {path}) "
        f"WHEN 'array' THEN sp_pg_json(payload -> {path}) END)"
    )


def _timestamp(dialect: Dialect, column: str) -> str:
    if dialect == "postgresql":
        return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    # SQLite stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' UTC text; pad the fraction to 6 digits.
    return (
        f"(substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || '.' || "
        f"substr(substr({column}, 21) || '000000', 1, 6) || 'Z')"
    )


def _excel_safe(dialect: Dialect, expr: str) -> str:
    """Prefix `'` to a cell a spreadsheet would evaluate; plain negative numbers stay."""
    if dialect == "postgresql":
        starts = ", ".join(f"E'{_pg_escape(c)}'" for c in _FORMULA_STARTS)
        return (
            f"(CASE WHEN left({expr}, 1) IN ({starts}) AND {expr} !~ '^-[0-9.]+$' "
            f"THEN '''' || {expr} ELSE {expr} END)"
        )
    starts = ", ".join(f"char({ord(c)})" for c in _FORMULA_STARTS)
    return (
        f"(CASE WHEN substr({expr}, 1, 1) IN ({starts}) AND NOT ({expr} GLOB '-[0-9]*' "
        f"AND {expr} NOT GLOB '-*[^0-9.]*') THEN '''' || {expr} ELSE {expr} END)"
    )


def _pg_escape(char: str) -> str:
    return {"\t": "\\t", "\r": "\\r"}.get(char, char)


def column_sql(dialect: Dialect, name: str, excel_safe: bool = False) -> str:
    """One output column as a text-valued SQL expression in the canonical form."""
    expr: str
    if name in _PLAIN:
        expr = name
    elif name in _TIMES:
        return _timestamp(dialect, name)
    elif name == "processed":
        return "(CASE WHEN processed THEN 'true' ELSE 'false' END)"
    elif name == "text":
        expr = f"coalesce({_json_field(dialect, 'selftext')}, {_json_field(dialect, 'body')})"
    elif name == "payload":
        expr = "payload::text" if dialect == "postgresql" else "sp_pg_json(payload)"
    elif name in _PAYLOAD_FIELDS:
        expr = _json_field(dialect, name)
    else:  # parse_columns guards this
        raise ValueError(f"unknown column {name!r}")
    return _excel_safe(dialect, expr) if excel_safe else expr


def select_sql(
    dialect: Dialect,
    columns: Sequence[str],
    where: EventFilter,
    excel_safe: bool = False,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """The export query: canonical text columns, in (occurred_at, id) order.

    The order is on the *stored* columns (qualified, so the names do not resolve to the
    formatted output columns of the same name), which the `occurred_at` index delivers:
    an ordered scan of the chunks (TimescaleDB) or an index scan (PostgreSQL, SQLite),
    with only runs of equal timestamps sorted by `id` (Incremental Sort; SQLite's "temp
    b-tree for right part of ORDER BY"), never the whole table. The stored order equals
    the text order: the canonical timestamp text is fixed-width UTC with every digit."""
    exprs = ", ".join(f"{column_sql(dialect, c, excel_safe)} AS {c}" for c in columns)
    clause, params = where_sql(dialect, where)
    # Ties on occurred_at are broken bytewise (COLLATE "C" = SQLite's BINARY).
    order = (
        'raw_events.occurred_at, raw_events.id COLLATE "C"'
        if dialect == "postgresql"
        else "raw_events.occurred_at, raw_events.id"
    )
    sql = f"SELECT {exprs} FROM raw_events {clause} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params
