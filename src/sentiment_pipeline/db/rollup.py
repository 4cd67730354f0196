"""`sentiment_daily`, the daily rollup of sentiment scores (migration 0008): the one place
that writes it.

Every transaction that changes `sentiment_scores` or `event_topics` keeps the rollup
equal to what its rows would give, on every backend, without continuous aggregates:

1. `lock` (PostgreSQL: one transaction-scoped advisory lock; SQLite's write
   transaction is exclusive already), so rollup writers take turns and each one's
   statements see every earlier one's committed rows;
2. `retract` the contributions of the rows it is about to change;
3. change its rows;
4. `add` the contributions of the changed rows.

The contributions of a score: the row `('', '')` of its (model, day, source, source_id,
language), and per topic link of its event `(topic, 'any')`, plus `(topic, 'text')` when
the link is by the event's own text. A `Scope` says which contributions: those of the
scores of some events (`events`, optionally of one model), or those of some topic links
(`links`). Rows whose count falls to 0 are removed.

`rebuild` recomputes the rollup from the scores, for every day or from a day on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sentiment_pipeline.timeparse import storage_text

__all__ = ["FIGURES", "KEY", "LOCK_KEY", "Scope", "add", "lock", "rebuild", "retract", "sums_sql"]

KEY = ("model", "topic", "via", "day", "source", "source_id", "language")
LOCK_KEY = 0x73656E7470697065  # "sentpipe": the advisory lock rollup writers take
FIGURES = ("events", "positive", "neutral", "negative", "compound_sum", "compound_sumsq")


def sums_sql(prefix: str = "", sign: int = 1, named: bool = False) -> str:
    """The six figures (`FIGURES`) as SQL aggregates over scores' `label` and
    `compound` columns named `prefix` + name, each times `sign` when it is not 1 and
    named as its figure when `named`: how the rollup and a report read from the scores
    count a set of scores."""
    label, compound = f"{prefix}label", f"{prefix}compound"
    parts = [
        "count(*)",
        *(f"sum(CASE WHEN {label} = '{name}' THEN 1 ELSE 0 END)" for name in FIGURES[1:4]),
        f"sum({compound})",
        f"sum({compound} * {compound})",
    ]
    if sign != 1:
        parts = [f"{sign} * {part}" for part in parts]
    if named:
        parts = [f"{part} AS {name}" for part, name in zip(parts, FIGURES, strict=True)]
    return ", ".join(parts)


_SCORE = "s.model, s.source, s.source_id, coalesce(s.language, '') AS language, s.label, s.compound"

Key = tuple[str, datetime]


@dataclass(frozen=True)
class Scope:
    """Which contributions a `retract`/`add` covers.

    - `keys` (id, occurred_at) with `links_only` False: every contribution of the scores
      of these events (of `model` only, when set);
    - `keys` with `topics` and `links_only`: the contributions of the links of these
      events to these topics.
    """

    keys: Sequence[Key] = ()
    model: str | None = None
    topics: Sequence[str] = ()
    links_only: bool = False

    @classmethod
    def events(cls, keys: Sequence[Key], model: str | None = None) -> Scope:
        return cls(keys=keys, model=model)

    @classmethod
    def links(cls, keys: Sequence[Key], topics: Sequence[str]) -> Scope:
        return cls(keys=keys, topics=topics, links_only=True)

    def empty(self) -> bool:
        return not self.keys or (self.links_only and not self.topics)


def lock(connection: Any, dialect: str) -> None:
    """Take the rollup writers' lock for the rest of the transaction (PostgreSQL), and
    turn off JIT compilation for it: over a hypertable's chunks the planner prices the
    contributions' few index lookups high enough to compile them, which took 74 s for
    one batch of 2,000 events over 53 chunks (the lookups themselves: milliseconds)."""
    if dialect == "postgresql":
        connection.execute("SET LOCAL jit = off")
        connection.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def retract(connection: Any, dialect: str, scope: Scope) -> None:
    """Subtract `scope`'s contributions, as the rows stand now (before they change)."""
    _apply(connection, dialect, scope, -1)


def add(connection: Any, dialect: str, scope: Scope) -> None:
    """Add `scope`'s contributions, as the rows stand now (after they changed)."""
    _apply(connection, dialect, scope, 1)


def _day(dialect: str, column: str = "s.occurred_at") -> str:
    if dialect == "postgresql":
        return f"CAST({column} AT TIME ZONE 'UTC' AS date)"
    return f"substr({column}, 1, 10)"


def _keys_table(dialect: str, scope: Scope) -> tuple[str, list[Any]]:
    """`k(id, occurred_at)`: the scope's event keys as a table, and its parameters."""
    ids = [ident for ident, _ in scope.keys]
    if dialect == "postgresql":
        times = [moment for _, moment in scope.keys]
        return "unnest(%s::text[], %s::timestamptz[]) AS k(id, occurred_at)", [ids, times]
    pairs = json.dumps([[ident, _sqlite_time(moment)] for ident, moment in scope.keys])
    return (
        "(SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS "
        "occurred_at FROM json_each(?)) AS k",
        [pairs],
    )


def _sqlite_time(moment: datetime | str) -> str:
    return moment if isinstance(moment, str) else storage_text(moment)


def _contributions(dialect: str, scope: Scope) -> tuple[str, list[Any]]:
    """SELECT of (KEY…, label, compound) per contribution of `scope`, and its parameters:
    the scope's scores read once (`x`), then one SELECT per kind of contribution."""
    mark = "%s" if dialect == "postgresql" else "?"
    keys, params = _keys_table(dialect, scope)
    # SQLite knows nothing of json_each's size and would scan the model's every score
    # per key: CROSS JOIN keeps the keys the outer loop (each score by its primary key)
    join = "CROSS JOIN" if dialect == "sqlite" else "JOIN"
    scores = f"{keys} {join} sentiment_scores s ON s.id = k.id AND s.occurred_at = k.occurred_at"
    link = f"{join} event_topics t ON t.id = x.id AND t.occurred_at = x.occurred_at"
    link_params: list[Any] = []
    if dialect == "postgresql":  # the keys' span: TimescaleDB reads only those chunks
        times = [moment for _, moment in scope.keys]
        scores += " AND s.occurred_at BETWEEN %s AND %s"
        link += " AND t.occurred_at BETWEEN %s AND %s"
        params += [min(times), max(times)]
        link_params += [min(times), max(times)]
    if scope.model is not None:
        scores += f" AND s.model = {mark}"
        params.append(scope.model)
    if scope.links_only:
        link += f" AND t.topic IN ({', '.join(mark for _ in scope.topics)})"
        link_params.extend(scope.topics)
    sql = _kinds(dialect, scores, link, "MATERIALIZED", every=not scope.links_only)
    return sql, [*params, *link_params, *link_params]


def _kinds(dialect: str, scores: str, link: str, materialized: str, every: bool) -> str:
    """The contributions of the scores `scores` selects (FROM clause over `s`): read as
    `x` (`materialized`: `MATERIALIZED`, read once, or `NOT MATERIALIZED`, inlined in
    each part), then one SELECT per kind: every score once (with `every`), per topic
    link (`link`: the JOIN of `event_topics t` to `x`), per link by the event's text."""
    fields = f"{_SCORE}, {_day(dialect)} AS day, s.id, s.occurred_at"
    columns = "x.model, x.source, x.source_id, x.language, x.label, x.compound, x.day"
    parts = [f"SELECT {columns}, '' AS topic, '' AS via FROM x"] if every else []
    parts += [
        f"SELECT {columns}, t.topic, 'any' AS via FROM x {link}",
        f"SELECT {columns}, t.topic, 'text' AS via FROM x {link} AND t.via = 'text'",
    ]
    return f"WITH x AS {materialized} (SELECT {fields} FROM {scores}) {' UNION ALL '.join(parts)}"


def _apply(connection: Any, dialect: str, scope: Scope, sign: int) -> None:
    """Upsert sign × the sums of `scope`'s contributions, in key order (so concurrent
    writers never wait on each other in a cycle); drop the rows that reach 0 events."""
    if scope.empty():
        return
    rows, params = _contributions(dialect, scope)
    columns = ", ".join(KEY)
    sums = sums_sql(sign=sign)
    updates = ", ".join(f"{name} = d.{name} + excluded.{name}" for name in FIGURES)
    where = "" if dialect == "postgresql" else "WHERE true "  # SQLite's upsert parse rule
    sql = (
        f"INSERT INTO sentiment_daily AS d ({columns}, {', '.join(FIGURES)}) "
        f"SELECT {columns}, {sums} FROM ({rows}) x {where}"
        f"GROUP BY {columns} ORDER BY {columns} "
        f"ON CONFLICT ({columns}) DO UPDATE SET {updates} "
        f"RETURNING {columns}, events"
    )
    emptied = [row[:-1] for row in connection.execute(sql, params).fetchall() if row[-1] <= 0]
    if emptied:
        mark = "%s" if dialect == "postgresql" else "?"
        match = " AND ".join(f"{name} = {mark}" for name in KEY)
        for row in emptied:
            connection.execute(f"DELETE FROM sentiment_daily WHERE {match}", list(row))


def rebuild(connection: Any, dialect: str, since: date | None = None) -> int:
    """Recompute the rollup from the scores, for every day (`since` None) or the days
    from `since` on (UTC), in the caller's transaction after `lock`; returns the rows
    written."""
    mark = "%s" if dialect == "postgresql" else "?"
    params: list[Any] = []
    where, cut, bound = "", "", None
    if since is not None:
        start = datetime.combine(since, time(), UTC)
        params = [since if dialect == "postgresql" else since.isoformat()]
        bound = start if dialect == "postgresql" else storage_text(start)
        where, cut = f" WHERE day >= {mark}", f" WHERE s.occurred_at >= {mark}"
    connection.execute(f"DELETE FROM sentiment_daily{where}", params)
    link = "JOIN event_topics t ON t.id = x.id AND t.occurred_at = x.occurred_at"
    # inlined: 10M scores are scanned per kind rather than held in a temporary table
    rows = _kinds(dialect, f"sentiment_scores s{cut}", link, "NOT MATERIALIZED", every=True)
    columns = ", ".join(KEY)
    cursor = connection.execute(
        f"INSERT INTO sentiment_daily ({columns}, {', '.join(FIGURES)}) "
        f"SELECT {columns}, {sums_sql()} FROM ({rows}) x GROUP BY {columns}",
        [bound] if since is not None else [],
    )
    return max(0, int(cursor.rowcount))
