"""The SQL behind `export csv`: its columns in one canonical text form, and the query.

Byte-identical CSV from TimescaleDB, PostgreSQL and SQLite needs every value rendered to
text *in SQL*, the same way on both dialects, so no backend's driver formats anything:

- timestamps: `2024-01-02T03:04:05.123456Z` (UTC, always six fraction digits);
- booleans: `true` / `false`; NULL (or a key absent from the payload): an empty field;
- payload fields: strings as is, numbers as PostgreSQL prints a JSON number, objects and
  arrays (and `--payload`) in PostgreSQL's `jsonb::text` form. PostgreSQL produces that
  for free; SQLite reproduces it with the `sp_pg_json` function (see export/sqlite.py);
- `sentiment_compound`: fixed 4 decimals (`0.4404`, `-1.0000`, `0.0000`), rounded half
  away from zero from the float's 15 significant digits (PostgreSQL's
  `round(compound::numeric, 4)`; `sp_fixed4` on SQLite); `sentiment_label` and `language`
  (the scored text's, `sentiment.language`) as stored. All three come from
  `sentiment_scores` LEFT JOINed on (id, occurred_at) for one model, so an unscored event
  (or one scored before languages were detected: `language`) has empty cells;
- `topics`: the event's topics in `event_topics`, names sorted bytewise and joined by
  `;` (names never hold one), empty when it has none; with `via="text"` only the links
  by its own text (`db.filters.topic_names_sql`). A database migrated before
  `event_topics` existed gives empty cells.

The display columns (`author`, `title`, `text`, `score`, `permalink`, `parent_id`,
`container` and its other name `subreddit`) come from each source's `DisplayColumns`
(`sources.source_spec`): one expression when every source reads the same payload keys,
else a `CASE source WHEN … END` over the registered sources, the generic rule for the
rest. A source whose text is HTML (`DisplayColumns.text_markup`, Hacker News) has its
`text` through `sp_html_text(…)` (migration 0006 on PostgreSQL, the Python rule
registered on SQLite: the same plain text on every backend); a PostgreSQL database
before 0006 gives that text as stored (`html_text=False`). `url` is the payload's `url`
field for every source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sentiment_pipeline.db.filters import Dialect, EventFilter, topic_names_sql, where_sql
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sources import DisplayColumns, generic_spec, known_specs

__all__ = [
    "ALL_COLUMNS",
    "DEFAULT_COLUMNS",
    "SENTIMENT_COLUMNS",
    "TYPED_KINDS",
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
    "topics",  # added last (a new column at the end keeps the others' positions)
)
# export column -> the `DisplayColumns` field that fills it
_DISPLAY = {
    "author": "author",
    "title": "title",
    "text": "text",
    "score": "score",
    "permalink": "url",
    "parent_id": "parent",
    "container": "container",
    "subreddit": "container",
}
_PAYLOAD_FIELDS = ("url",)
_PLAIN = ("id", "source", "source_id", "event_type")
_TIMES = ("occurred_at", "ingested_at", "processed_at")
SENTIMENT_COLUMNS = ("sentiment_compound", "sentiment_label", "language")
ALL_COLUMNS = (
    *DEFAULT_COLUMNS,
    "subreddit",
    "container",
    "url",
    "processed_at",
    "payload",
    *SENTIMENT_COLUMNS,
)
# Each column's typed form in a Parquet export (export/parquet.py builds the Arrow types):
# the canonical text above, parsed. `timestamp` is `timestamp[us, tz=UTC]`; `int64` a
# whole number (any other text, e.g. a score of `1.5` or `true`, is null); `float64`
# from the 4-decimal text; `bool` from `true`/`false`; `list` the `;`-joined names as a
# list of strings (none: an empty list); `string` the text as the CSV has it.
TYPED_KINDS: dict[str, str] = {
    "id": "string",
    "occurred_at": "timestamp",
    "source": "string",
    "source_id": "string",
    "event_type": "string",
    "author": "string",
    "title": "string",
    "text": "string",
    "score": "int64",
    "permalink": "string",
    "parent_id": "string",
    "ingested_at": "timestamp",
    "processed": "bool",
    "topics": "list",
    "subreddit": "string",
    "container": "string",
    "url": "string",
    "processed_at": "timestamp",
    "payload": "string",
    "sentiment_compound": "float64",
    "sentiment_label": "string",
    "language": "string",
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# "A plain number" (left unguarded by --excel-safe although it starts with "-"): a minus,
# ASCII digits, and optionally one "." followed by more digits. `-5`, `-0.25`; not `-.5`,
# `-5.`, `-1e5`, `-1.2.3`. PostgreSQL tests it with this regex, SQLite with the
# equivalent GLOBs in `_excel_safe`; tests/test_excel_safe.py holds both to one answer.
PLAIN_NUMBER_REGEX = r"^-[0-9]+(\.[0-9]+)?$"


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
    """The payload's `key` as canonical text (see the module docstring)."""
    if dialect == "postgresql":
        return f"(payload->>{_literal(key)})"
    path = _literal(f"$.{key}" if key.isidentifier() else '$."' + key.replace('"', '""') + '"')
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
            f"(CASE WHEN left({expr}, 1) IN ({starts}) AND {expr} !~ '{PLAIN_NUMBER_REGEX}' "
            f"THEN '''' || {expr} ELSE {expr} END)"
        )
    starts = ", ".join(f"char({ord(c)})" for c in _FORMULA_STARTS)
    plain = (
        f"({expr} GLOB '-[0-9]*' AND {expr} NOT GLOB '-*[^0-9.]*' "
        f"AND {expr} NOT GLOB '*.*.*' AND {expr} NOT GLOB '*.')"
    )
    return (
        f"(CASE WHEN substr({expr}, 1, 1) IN ({starts}) AND NOT {plain} "
        f"THEN '''' || {expr} ELSE {expr} END)"
    )


def _pg_escape(char: str) -> str:
    return {"\t": "\\t", "\r": "\\r"}.get(char, char)


def column_sql(
    dialect: Dialect,
    name: str,
    excel_safe: bool = False,
    topics: str | None = "any",
    html_text: bool = True,
) -> str:
    """One output column as a text-valued SQL expression in the canonical form. `topics`
    is which links the `topics` column lists (`any`, `text`; None: event_topics does not
    exist, the cells are empty). Topic names never start like a formula
    (`sources.topic.TOPIC_NAME`), so `excel_safe` leaves them. `html_text`: the
    database has `sp_html_text`, so HTML text goes out as plain text (else as stored)."""
    expr: str
    if name == "topics":
        return "NULL" if topics is None else topic_names_sql(dialect, topics)
    if name in _PLAIN:
        expr = name
    elif name in _TIMES:
        return _timestamp(dialect, name)
    elif name == "processed":
        return "(CASE WHEN processed THEN 'true' ELSE 'false' END)"
    elif name in _DISPLAY:
        expr = _display_sql(dialect, _DISPLAY[name], html_text)
    elif name == "payload":
        expr = "payload::text" if dialect == "postgresql" else "sp_pg_json(payload)"
    elif name in _PAYLOAD_FIELDS:
        expr = _json_field(dialect, name)
    elif name == "sentiment_compound":  # a number: never a formula, even when negative
        return (
            "round(s_compound::numeric, 4)::text"
            if dialect == "postgresql"
            else ("sp_fixed4(s_compound)")
        )
    elif name == "sentiment_label":
        return "s_label"
    elif name == "language":  # a detector's code (`en`, `und`): never a formula
        return "s_language"
    else:  # parse_columns guards this
        raise ValueError(f"unknown column {name!r}")
    return _excel_safe(dialect, expr) if excel_safe else expr


def _keys_sql(dialect: Dialect, keys: tuple[str, ...]) -> str:
    """The first of the payload `keys` present and not null, as text (NULL for none)."""
    fields = [_json_field(dialect, key) for key in keys]
    if not fields:
        return "NULL"
    return fields[0] if len(fields) == 1 else f"coalesce({', '.join(fields)})"


def _keys_of(columns: DisplayColumns, name: str) -> tuple[str, ...]:
    value = getattr(columns, name)
    if name == "container":
        return () if value is None else (value,)
    keys: tuple[str, ...] = value
    return keys


def _display_sql(dialect: Dialect, name: str, html_text: bool = True) -> str:
    """One display column over every source: the generic rule's expression, or a `CASE`
    on `source` for the registered sources that read other keys (or whose `text` is
    HTML: `sp_html_text` of it, when `html_text`)."""
    generic = _keys_sql(dialect, _keys_of(generic_spec("").columns, name))
    cases = []
    for source, spec in known_specs().items():
        expr = _keys_sql(dialect, _keys_of(spec.columns, name))
        if name == "text" and html_text and spec.columns.text_markup == "html":
            expr = f"sp_html_text({expr})"
        if expr != generic:
            cases.append(f"WHEN {_literal(source)} THEN {expr}")
    if not cases:
        return generic
    return f"(CASE source {' '.join(cases)} ELSE {generic} END)"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sentiment_join(dialect: Dialect) -> str:
    """` LEFT JOIN` of one model's scores (its id is the first parameter). The derived
    table exposes only `s_`-prefixed names, so the filters' bare column names still
    mean raw_events' own."""
    mark = "%s" if dialect == "postgresql" else "?"
    return (
        " LEFT JOIN (SELECT id AS s_id, occurred_at AS s_at, compound AS s_compound, "
        f"label AS s_label, language AS s_language FROM sentiment_scores WHERE model = {mark}"
        ") AS s "
        "ON s.s_id = raw_events.id AND s.s_at = raw_events.occurred_at"
    )


def select_sql(
    dialect: Dialect,
    columns: Sequence[str],
    where: EventFilter,
    excel_safe: bool = False,
    limit: int | None = None,
    sentiment_model: str | None = None,
    topic_links: bool = True,
    html_text: bool = True,
) -> tuple[str, list[Any]]:
    """The export query: canonical text columns, in (occurred_at, id) order. Sentiment
    columns need `sentiment_model` (a stored model id) for their join.

    The order is on the *stored* columns (qualified, so the names do not resolve to the
    formatted output columns of the same name), which the `occurred_at` index delivers:
    an ordered scan of the chunks (TimescaleDB) or an index scan (PostgreSQL, SQLite),
    with only runs of equal timestamps sorted by `id` (Incremental Sort; SQLite's "temp
    b-tree for right part of ORDER BY"), never the whole table. The stored order equals
    the text order: the canonical timestamp text is fixed-width UTC with every digit.

    `topic_links` False (no event_topics table yet) makes the `topics` cells empty; the
    `topics` column lists the links `where.via` counts. `html_text` False (no
    `sp_html_text` yet: PostgreSQL before migration 0006) exports HTML text as stored."""
    via = where.via if topic_links else None
    exprs = ", ".join(
        f"{column_sql(dialect, c, excel_safe, via, html_text)} AS {c}" for c in columns
    )
    clause, params = where_sql(dialect, where)
    join = ""
    if any(c in SENTIMENT_COLUMNS for c in columns):
        if sentiment_model is None:
            raise ValueError("sentiment columns need a sentiment_model")
        join = sentiment_join(dialect)
        params = [sentiment_model, *params]
    # Ties on occurred_at are broken bytewise (COLLATE "C" = SQLite's BINARY).
    order = (
        'raw_events.occurred_at, raw_events.id COLLATE "C"'
        if dialect == "postgresql"
        else "raw_events.occurred_at, raw_events.id"
    )
    sql = f"SELECT {exprs} FROM raw_events{join} {clause} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params
