"""The SQL of the sentiment stage, one class per backend: claim, upsert + mark, count.

A batch is claimed, scored and finished (`finish` upserts its scores and sets
`processed = true, processed_at = now()` in one transaction), so a crash at any point
leaves every event either processed with its score (skipped texts: without one) or
unprocessed without one; none is scored twice.

- PostgreSQL/TimescaleDB: `claim` is `… WHERE processed = false … ORDER BY occurred_at
  LIMIT n FOR UPDATE SKIP LOCKED` (the partial index
  `ix_raw_events_processed_occurred_at`) and opens the batch's transaction; `finish`
  writes and commits in that same transaction, so a crash rolls back both and the row
  locks keep `sentpipe refresh` (which sets `processed = false` on an edit) waiting until
  the batch is committed. Scores go in with one `INSERT … SELECT FROM unnest(arrays) ON
  CONFLICT DO UPDATE`, the marks with one `UPDATE … FROM unnest(…)`: three statements
  per batch, whatever its size. The store has two connections (`lanes = 2`): while
  batch k is scored on one, batch k - 1 is finished and batch k + 1 claimed on the other
  (`sentiment.run`'s I/O thread), each batch in its own transaction; SKIP LOCKED keeps
  batches disjoint between lanes as between workers.
- SQLite (`lanes = 1`): one writer, so callers hold a lock file and no other scorer
  runs. `claim` is a plain read (no transaction is held while the batch is scored, so
  scrapers keep writing); `finish` is one `BEGIN IMMEDIATE` transaction. If another
  connection committed since the claim (`PRAGMA data_version`), `finish` first reads the
  batch's rows again and leaves alone every event that changed or is no longer waiting
  (a `refresh` edit): it is not marked and gets no score, and `finish` returns its key,
  so the run's counts stay honest and a later claim scores its new text.

Connections come from db/connect.py (`connect_pg(autocommit=False)`, `connect_sqlite`)
and driver errors go through db/errors.py's mapper, so a missing table, a lost server or
a busy file reads as everywhere else in sentpipe.

With `rescore_before` set, events processed before that moment are claimed again too
(the definition of `--rescore`: every matching event once more in this run).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sentiment_pipeline.db import rollup
from sentiment_pipeline.db.errors import map_db_error, missing_table
from sentiment_pipeline.db.filters import source_id_sql
from sentiment_pipeline.db.queries import payload_text_sql
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import SentpipeError
from sentiment_pipeline.timeparse import storage_text

if TYPE_CHECKING:
    import psycopg

__all__ = ["Claimed", "EventScope", "Key", "ScoreRow", "SentimentStore", "open_store"]


@dataclass(frozen=True)
class EventScope:
    """Which events a run may claim (every condition given must hold); `source_ids`
    match as `db.filters.SourceIdMatch` says (subreddit names in any spelling).

    `unscorable`: sources never claimed (their spec has no text rule). `text_keys`: the
    payload keys a claim fetches into `Claimed.payload` (`sentiment.clean.text_plan`)."""

    source_ids: tuple[str, ...] = ()
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    rescore_before: datetime | None = None  # also processed events processed before this
    unscorable: tuple[str, ...] = ()
    text_keys: tuple[str, ...] = ()


class Claimed(NamedTuple):
    id: str
    occurred_at: Any  # the driver's value, written back unchanged
    source: str
    source_id: str
    event_type: str
    payload: dict[str, str]  # the scope's `text_keys` whose value is text (as the backend
    # gives `->>` / `json_extract`: PostgreSQL renders numbers as text, SQLite leaves them)


Key = tuple[str, Any]  # (id, occurred_at): an event's primary key


class ScoreRow(NamedTuple):
    id: str
    occurred_at: Any
    model: str
    source: str
    source_id: str
    event_type: str
    compound: float
    pos: float | None  # VADER's shares; None for other models
    neu: float | None
    neg: float | None
    label: str
    text_chars: int
    language: str  # sentiment.language: `en`, `es`, …, `und`
    probabilities: str | None  # JSON object class -> probability; None for VADER


_COLUMNS = ", ".join(ScoreRow._fields)
_UPDATES = ", ".join(f"{name} = {{new}}.{name}" for name in (*ScoreRow._fields[3:], "scored_at"))


class SentimentStore(Protocol):
    """`lanes`: batches that may be in flight at once, each on its own lane (0, 1, …):
    claimed on a lane, then finished or rolled back on it before the lane claims again.
    `finish` returns the keys of claimed events it left alone (changed since the claim;
    always empty on PostgreSQL, where the claim's row locks keep them unchanged)."""

    backend: str  # "postgresql" or "sqlite"
    lanes: int

    def server_now(self) -> datetime: ...
    def claim(self, n: int, scope: EventScope, lane: int = 0) -> list[Claimed]: ...
    def finish(
        self, scores: Sequence[ScoreRow], claimed: Sequence[Claimed], lane: int = 0
    ) -> set[Key]: ...
    def rollback(self, lane: int | None = None) -> None: ...
    def count_waiting(self, scope: EventScope) -> int: ...
    def close(self) -> None: ...


def _scope_sql(scope: EventScope, mark: str, dialect: str) -> tuple[str, list[Any]]:
    params: list[Any] = []
    false = "false" if dialect == "postgresql" else "FALSE"
    if scope.rescore_before is not None:
        clauses = [f"(processed = {false} OR processed_at < {mark})"]
        params.append(
            scope.rescore_before if dialect == "postgresql" else storage_text(scope.rescore_before)
        )
    else:
        clauses = [f"processed = {false}"]
    if scope.unscorable:
        clauses.append(f"source NOT IN ({', '.join([mark] * len(scope.unscorable))})")
        params.extend(scope.unscorable)
    if scope.source_ids:
        clause, values = source_id_sql(mark, scope.source_ids)
        clauses.append(clause)
        params.extend(values)
    for bound, op in ((scope.since, ">="), (scope.until, "<")):
        if bound is not None:
            clauses.append(f"occurred_at {op} {mark}")
            params.append(bound if dialect == "postgresql" else storage_text(bound))
    return " AND ".join(clauses), params


class PostgresStore:
    """psycopg 3, one connection (not autocommit) per lane, one transaction per batch;
    lane 0's is `_conn` (also for counts and reports), lane 1's opens on first use."""

    backend = "postgresql"
    lanes = 2

    def __init__(self, url: DatabaseURL) -> None:
        from sentiment_pipeline.db.connect import connect_pg

        self._url = url
        self._conn: psycopg.Connection[Any] = connect_pg(url, autocommit=False)
        with self._guard():
            row = self._conn.execute(
                "SELECT to_regclass('sentiment_scores') IS NOT NULL"
            ).fetchone()
            self._conn.commit()
        if row is None or not row[0]:
            self._conn.close()
            raise missing_table(url, "sentiment_scores")
        self._lanes: list[psycopg.Connection[Any] | None] = [self._conn, None]

    def _guard(self) -> _Mapped:
        return _Mapped(self._url)

    def _lane(self, lane: int) -> psycopg.Connection[Any]:
        conn = self._lanes[lane]
        if conn is None:
            from sentiment_pipeline.db.connect import connect_pg

            with self._guard():
                conn = self._lanes[lane] = connect_pg(self._url, autocommit=False)
        return conn

    def server_now(self) -> datetime:
        with self._guard():
            row = self._conn.execute("SELECT clock_timestamp()").fetchone()
            self._conn.commit()
        assert row is not None
        value: datetime = row[0]
        return value

    def claim(self, n: int, scope: EventScope, lane: int = 0) -> list[Claimed]:
        """Locks and returns up to `n` waiting events in the lane's new transaction."""
        where, params = _scope_sql(scope, "%s", "postgresql")
        sql = (
            f"SELECT id, occurred_at, source, source_id, event_type{_fields(scope, 'postgresql')} "
            f"FROM raw_events WHERE {where} ORDER BY occurred_at LIMIT %s FOR UPDATE SKIP LOCKED"
        )
        conn = self._lane(lane)
        with self._guard():
            rows = conn.execute(sql, [*params, n]).fetchall()
        return [_claimed(row, scope.text_keys) for row in rows]

    def finish(
        self, scores: Sequence[ScoreRow], claimed: Sequence[Claimed], lane: int = 0
    ) -> set[Key]:
        """Scores and marks in the claim's transaction, then commit; nothing is stale."""
        conn = self._lane(lane)
        with self._guard():
            if scores:
                scope = _rollup_scope(scores)
                rollup.lock(conn, "postgresql")
                rollup.retract(conn, "postgresql", scope)  # a rescore replaces a score
                columns = list(zip(*scores, strict=True))
                conn.execute(
                    f"INSERT INTO sentiment_scores ({_COLUMNS}, scored_at) "
                    "SELECT id, occurred_at, model, source, source_id, event_type, compound, "
                    "pos, neu, neg, label, text_chars, language, probabilities::jsonb, now() "
                    "FROM unnest(%s::text[], %s::timestamptz[], %s::text[], "
                    "%s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], "
                    "%s::float8[], %s::float8[], %s::text[], %s::int[], %s::text[], %s::text[]) "
                    f"AS s({_COLUMNS}) ON CONFLICT (id, occurred_at, model) DO UPDATE SET "
                    f"{_UPDATES.format(new='EXCLUDED')}",
                    [list(column) for column in columns],
                )
                rollup.add(conn, "postgresql", scope)
            if claimed:
                conn.execute(
                    "UPDATE raw_events AS r SET processed = true, processed_at = now() "
                    "FROM unnest(%s::text[], %s::timestamptz[]) AS c(id, occurred_at) "
                    "WHERE r.id = c.id AND r.occurred_at = c.occurred_at",
                    [[c.id for c in claimed], [c.occurred_at for c in claimed]],
                )
            conn.commit()
        return set()

    def rollback(self, lane: int | None = None) -> None:
        """Ends the lane's transaction (every open lane's when None)."""
        for i, conn in enumerate(self._lanes):
            if conn is not None and lane in (None, i):
                with self._guard():
                    conn.rollback()

    def count_waiting(self, scope: EventScope) -> int:
        where, params = _scope_sql(scope, "%s", "postgresql")
        with self._guard():
            row = self._conn.execute(
                f"SELECT count(*) FROM raw_events WHERE {where}", params
            ).fetchone()
            self._conn.commit()
        return int(row[0]) if row else 0

    def close(self) -> None:
        for conn in self._lanes:
            if conn is not None:
                conn.close()


class _Mapped:
    """Driver errors through the backend's mapper (db/errors.py): a lost connection or a
    busy SQLite file is DatabaseUnreachable (exit 3), a dropped table the `db init`
    ConfigError; the caller rolls the batch back."""

    def __init__(self, url: DatabaseURL) -> None:
        self._url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, _tb: Any) -> None:
        if isinstance(error, Exception) and not isinstance(error, SentpipeError):
            mapped = map_db_error(self._url, error)
            if mapped is not error:
                raise mapped from None


class SQLiteStore:
    """sqlite3 in autocommit mode: claims are plain reads, each `finish` one
    `BEGIN IMMEDIATE` transaction (see the module docstring)."""

    backend = "sqlite"
    lanes = 1

    def __init__(self, url: DatabaseURL) -> None:
        from sentiment_pipeline.db.connect import connect_sqlite

        self._url = url
        self._conn = connect_sqlite(url)
        self._conn.isolation_level = None  # autocommit; batches use BEGIN IMMEDIATE
        with self._guard():
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            found = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sentiment_scores'"
            ).fetchone()
        if found is None:
            self._conn.close()
            raise missing_table(url, "sentiment_scores")
        self._scope = EventScope()
        self._version = -1  # PRAGMA data_version before the last claim's read

    def _guard(self) -> _Mapped:
        return _Mapped(self._url)

    def server_now(self) -> datetime:
        return datetime.now(UTC)

    def _data_version(self) -> int:
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def _select(self, scope: EventScope) -> tuple[str, list[Any]]:
        where, params = _scope_sql(scope, "?", "sqlite")
        sql = (
            f"SELECT id, occurred_at, source, source_id, event_type{_fields(scope, 'sqlite')} "
            f"FROM raw_events WHERE {where}"
        )
        return sql, params

    def claim(self, n: int, scope: EventScope, lane: int = 0) -> list[Claimed]:
        """Up to `n` waiting events, read without a transaction (nothing is locked)."""
        sql, params = self._select(scope)
        with self._guard():
            self._version = self._data_version()
            rows = self._conn.execute(f"{sql} ORDER BY occurred_at LIMIT ?", [*params, n])
            claimed = [_claimed(row, scope.text_keys) for row in rows.fetchall()]
        self._scope = scope
        return claimed

    def _stale(self, claimed: Sequence[Claimed]) -> set[Key]:
        """The claimed events that changed or stopped waiting since the claim (read in
        the finish's transaction; only when another connection has committed since)."""
        if self._data_version() == self._version:
            return set()
        sql, params = self._select(self._scope)
        keys = json.dumps([[c.id, c.occurred_at] for c in claimed])
        rows = self._conn.execute(
            f"{sql} AND (id, occurred_at) IN (SELECT json_extract(value, '$[0]'), "
            "json_extract(value, '$[1]') FROM json_each(?))",
            [*params, keys],
        ).fetchall()
        now = {(c.id, c.occurred_at): c for c in (_claimed(r, self._scope.text_keys) for r in rows)}
        return {(c.id, c.occurred_at) for c in claimed if now.get((c.id, c.occurred_at)) != c}

    def finish(
        self, scores: Sequence[ScoreRow], claimed: Sequence[Claimed], lane: int = 0
    ) -> set[Key]:
        """Scores and marks of the events unchanged since the claim, in one
        transaction; returns the keys of the others (left waiting, without a score)."""
        now = storage_text(datetime.now(UTC))
        try:
            with self._guard():
                self._conn.execute("BEGIN IMMEDIATE")
                stale = self._stale(claimed)
                if stale:
                    scores = [s for s in scores if (s.id, s.occurred_at) not in stale]
                    claimed = [c for c in claimed if (c.id, c.occurred_at) not in stale]
                self._write(now, scores, claimed)
        except BaseException:
            self.rollback()
            raise
        return stale

    def _write(self, now: str, scores: Sequence[ScoreRow], claimed: Sequence[Claimed]) -> None:
        scope = _rollup_scope(scores)
        rollup.retract(self._conn, "sqlite", scope)  # a rescore replaces a score
        self._conn.executemany(
            f"INSERT INTO sentiment_scores ({_COLUMNS}, scored_at) "
            f"VALUES ({', '.join('?' * (len(ScoreRow._fields) + 1))}) "
            "ON CONFLICT (id, occurred_at, model) DO UPDATE SET "
            f"{_UPDATES.format(new='excluded')}",
            [(*row, now) for row in scores],
        )
        rollup.add(self._conn, "sqlite", scope)
        self._conn.executemany(
            "UPDATE raw_events SET processed = 1, processed_at = ? "
            "WHERE id = ? AND occurred_at = ?",
            [(now, c.id, c.occurred_at) for c in claimed],
        )
        self._conn.execute("COMMIT")

    def rollback(self, lane: int | None = None) -> None:
        if self._conn.in_transaction:
            with self._guard():
                self._conn.execute("ROLLBACK")

    def count_waiting(self, scope: EventScope) -> int:
        where, params = _scope_sql(scope, "?", "sqlite")
        with self._guard():
            row = self._conn.execute(
                f"SELECT count(*) FROM raw_events WHERE {where}", params
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()


def _rollup_scope(scores: Sequence[ScoreRow]) -> rollup.Scope:
    """The rollup contributions a batch of scores (of one model) replaces and adds."""
    keys = [(score.id, score.occurred_at) for score in scores]
    return rollup.Scope.events(keys, scores[0].model if scores else None)


def _fields(scope: EventScope, dialect: str) -> str:
    """`, <payload key as text>` for each of the scope's text keys."""
    return "".join(f", {payload_text_sql(dialect, key)}" for key in scope.text_keys)


def _claimed(row: Sequence[Any], keys: tuple[str, ...]) -> Claimed:
    """A claimed row: its first five columns, then the text keys (text values only)."""
    payload = {
        key: value for key, value in zip(keys, row[5:], strict=True) if isinstance(value, str)
    }
    return Claimed(row[0], row[1], row[2], row[3], row[4], payload)


def open_store(url: DatabaseURL) -> SentimentStore:
    """The store for `url`'s backend; ConfigError (unmigrated, bad login) or
    DatabaseUnreachable when it cannot be used."""
    if url.backend == "postgresql":
        return PostgresStore(url)
    return SQLiteStore(url)
