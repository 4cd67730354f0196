"""SQLite side of export: render JSON like PostgreSQL, stream CSV (db/connect.py opens).

SQLite keeps the payload as the text it was given; PostgreSQL's jsonb prints it re-ordered
and spaced. `pg_json_text` (registered as the SQL function `sp_pg_json`) reproduces the
jsonb form so `--payload` and object-valued fields match across backends byte for byte.
Rows are fetched in chunks of 5,000 and quoted like COPY, so memory stays flat.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, BinaryIO

__all__ = [
    "fixed4",
    "pg_csv_rows",
    "pg_json_text",
    "register_fixed4",
    "register_html_text",
    "register_pg_json",
    "stream_sqlite_csv",
]

CHUNK_ROWS = 5000
_needs_quotes = re.compile('[",\r\n]').search


def _key_order(item: tuple[str, Any]) -> tuple[int, bytes]:
    raw = item[0].encode("utf-8")
    return (len(raw), raw)  # jsonb: shorter keys first, then bytewise


def _render(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):  # PostgreSQL numeric: no exponent, scale kept, no -0
        return format(abs(value) if value.is_zero() else value, "f")
    if isinstance(value, list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    items = sorted(value.items(), key=_key_order)
    return (
        "{"
        + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_render(v)}" for k, v in items)
        + "}"
    )


def pg_json_text(text: str | None) -> str | None:
    """JSON text as PostgreSQL's `jsonb::text` prints it."""
    if text is None:
        return None
    return _render(json.loads(text, parse_float=Decimal))


def register_pg_json(connection: sqlite3.Connection) -> None:
    """Register `pg_json_text` as the deterministic SQL function `sp_pg_json(text)`."""
    connection.create_function("sp_pg_json", 1, pg_json_text, deterministic=True)


_FOUR_PLACES = Decimal("0.0001")


def fixed4(value: float | None) -> str | None:
    """`value` with exactly 4 decimals as PostgreSQL's `round(value::numeric, 4)::text`
    prints it: from the float's 15 significant digits, half away from zero, no `-0`."""
    if value is None:
        return None
    rounded = Decimal(f"{value:.15g}").quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP)
    return format(abs(rounded) if rounded.is_zero() else rounded, "f")


def register_fixed4(connection: sqlite3.Connection) -> None:
    """Register `fixed4` as the deterministic SQL function `sp_fixed4(real)`."""
    connection.create_function("sp_fixed4", 1, fixed4, deterministic=True)


def register_html_text(connection: sqlite3.Connection) -> None:
    """Register `sources.hackernews.text.html_to_text` as the deterministic SQL function
    `sp_html_text(text)`: the rule PostgreSQL's `sp_html_text` (migration 0006) states,
    so an HTML `text` column is the same plain text on every backend. NULL stays NULL;
    a non-string (a JSON number) is text already: as it comes."""
    from sentiment_pipeline.sources.hackernews.text import html_to_text

    def html_text(value: Any) -> Any:
        return html_to_text(value) if isinstance(value, str) else value

    connection.create_function("sp_html_text", 1, html_text, deterministic=True)


def _field(value: str | None) -> str:
    """One field quoted exactly as PostgreSQL's COPY CSV quotes it."""
    if value is None:
        return ""
    if value == "" or _needs_quotes(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def pg_csv_rows(rows: Sequence[Sequence[str | None]], single: bool = False) -> bytes:
    """Rows as CSV bytes, CRLF-terminated. (Per-field Python beats the `csv` module ~3x
    on long text, and only this way do empty strings and NULL stay distinct.)"""
    if single:  # COPY also quotes a lone `\.`, the end-of-data marker
        lines = ['"\\."' if row[0] == "\\." else _field(row[0]) for row in rows]
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")
    text = "".join([",".join([_field(value) for value in row]) + "\r\n" for row in rows])
    return text.encode("utf-8")


def stream_sqlite_csv(
    connection: sqlite3.Connection,
    sql: str,
    params: Sequence[Any],
    width: int,
    out: BinaryIO,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write the query's rows (already canonical text, `width` columns) as CSV rows to
    `out`; return the count. `on_progress(rows so far)` is called every 5,000 rows."""
    count = 0
    cursor = connection.execute(sql, params)
    try:
        while rows := cursor.fetchmany(CHUNK_ROWS):
            out.write(pg_csv_rows(rows, single=width == 1))
            count += len(rows)
            if on_progress is not None:
                on_progress(count)
    finally:
        cursor.close()
    return count
