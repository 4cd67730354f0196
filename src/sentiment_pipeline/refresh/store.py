"""The SQL of the refresh, one class per backend: due candidates, revisions, edits, redaction.

- `due_items`: one query that picks the due items (see `observe.checkpoint`) among the
  stored items of the refreshed source (Reddit's spec, `sources.source_spec`) in the
  time window, oldest-due first: the schedule check is a `CASE` over the item's age on
  PostgreSQL (a registered function on SQLite), compared with the latest observation (an
  aggregate of `raw_event_revisions` over the same window, which TimescaleDB prunes to
  the recent chunks). Only the rows that are due get their text hashed (md5 in SQL:
  PostgreSQL's `md5`, a registered function on SQLite) and their comment count read, so
  a refresh with little due stays cheap.
- `record`: appends the observations, one per stored row (`COPY` on PostgreSQL), and
  applies edits (the patch's top-level keys replace the payload's, a null kept as null
  on every backend, `processed = false` so `sentiment score` scores the item again) in
  one transaction.
- `redact`: blanks payloads (Python does the blanking, so every backend blanks the same
  fields; idempotent) and deletes their sentiment scores and topic links (what their
  text made), in one transaction; returns
  every row it found, blanked now or before, so the CSV copies can be redone too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sentiment_pipeline.db import rollup
from sentiment_pipeline.db.queries import payload_text_sql
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.dto import dump_json
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.refresh.observe import (
    LATE_VISIT,
    Observation,
    checkpoint,
    redact_payload,
    rules_of,
)
from sentiment_pipeline.sources import SourceSpec, source_spec
from sentiment_pipeline.timeparse import storage_text

if TYPE_CHECKING:
    import psycopg

__all__ = ["DueItem", "Redacted", "RefreshStore", "due_window", "open_store"]

_HINT = "run `sentpipe db init` to create or upgrade the schema"
# the columns of raw_event_revisions as binary COPY needs them (migration 0003)
_REVISION_TYPES = ["text", "timestamptz", "timestamptz", "int4", "int4", "float8", "text", "text"]


class DueItem(NamedTuple):
    """A stored item due for a visit: key, where it belongs, the md5 of its stored
    text (`observe.text_hash` of the payload) and the most comments seen (the payload's
    count, `RefreshRules.count_keys`, or any revision; None when neither has a count).
    A tuple: the query's row as it comes."""

    id: str
    occurred_at: Any  # the driver's value, written back unchanged
    source_id: str
    event_type: str
    text_hash: str
    num_comments: int | None


def due_window(now: datetime, ages: Sequence[timedelta]) -> tuple[datetime, datetime]:
    """`(start, end)`: the `occurred_at` range in which an item can be due at `now` (it
    has reached the first age and is at most `LATE_VISIT` past the last one)."""
    return now - ages[-1] - LATE_VISIT, now - ages[0]


@dataclass(frozen=True)
class Redacted:
    """A stored item with its payload blanked: what a CSV rewrite needs. `changed`: the
    database payload was blanked by this call (False: it was blank already)."""

    id: str
    occurred_at: datetime  # aware UTC
    source: str
    source_id: str
    payload_json: str
    changed: bool = True


class RefreshStore(Protocol):
    backend: str

    def now(self) -> datetime: ...
    def due_items(
        self, now: datetime, ages: Sequence[timedelta], source_ids: Sequence[str]
    ) -> list[DueItem]: ...
    def record(self, observations: Sequence[Observation], observed_at: datetime) -> int: ...
    def redact(self, keys: Sequence[tuple[str, Any]]) -> tuple[list[Redacted], int]: ...
    def flagged(self, source_ids: Sequence[str]) -> list[tuple[str, Any]]: ...
    def close(self) -> None: ...


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _one_per_row(observations: Sequence[Observation]) -> list[Observation]:
    """One observation per stored row `(id, occurred_at)` (the last one given): the
    revision key `(id, occurred_at, observed_at)` takes one per row and moment."""
    return list({(o.id, o.occurred_at): o for o in observations}.values())


def _blanked(
    ident: str, occurred: Any, source: str, source_id: str, payload: dict[str, Any]
) -> Redacted:
    """The row blanked by the rules of its own source (a journal a run of another
    source left is finished by whichever refresh runs next)."""
    blank = redact_payload(payload, source_spec(source))
    return Redacted(
        ident, _utc(occurred), source, source_id, dump_json(blank), changed=blank != payload
    )


class PostgresStore:
    """psycopg 3 on one autocommit connection; writes in explicit transactions."""

    backend = "postgresql"

    def __init__(self, url: DatabaseURL, source: SourceSpec) -> None:
        from sentiment_pipeline.db.connect import connect_pg

        self.url = url
        self.source = source
        self._joined_text = _joined_text(source, "postgresql", "chr(31)")
        self._stored_count = _count_sql(source, "postgresql")
        self.conn: psycopg.Connection[Any] = connect_pg(url)
        row = self.conn.execute(
            "SELECT to_regclass('raw_event_revisions') IS NOT NULL, "
            "to_regclass('sentiment_scores') IS NOT NULL"
        ).fetchone()
        if row is None or not row[0] or not row[1]:
            self.conn.close()
            raise ConfigError(
                f"raw_event_revisions does not exist in the database at {url.host_port}", _HINT
            )

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        from sentiment_pipeline.db.errors import map_db_error

        try:
            yield
        except Exception as error:
            mapped = map_db_error(self.url, error)
            if mapped is error:
                raise
            raise mapped from error

    def now(self) -> datetime:
        with self._mapped():
            row = self.conn.execute("SELECT now()").fetchone()
        assert row is not None
        return _utc(row[0])

    def due_items(
        self, now: datetime, ages: Sequence[timedelta], source_ids: Sequence[str]
    ) -> list[DueItem]:
        """The due items (module docstring), oldest-due first, ties by id. The `CASE`
        is `observe.checkpoint` in SQL: the latest age the item has reached, as a moment;
        the window keeps it within `LATE_VISIT` of the last age."""
        start, end = due_window(now, ages)
        reached = " ".join("WHEN occurred_at <= %s THEN occurred_at + %s" for _ in ages)
        only = " AND source_id = ANY(%s)" if source_ids else ""
        sql = (
            "SELECT e.id, e.occurred_at, e.source_id, e.event_type, md5("
            f"{self._joined_text}), greatest("
            f"{self._stored_count}, r.most) FROM (SELECT id, occurred_at, source_id, event_type, "
            f"payload, CASE {reached} END AS due_at FROM raw_events WHERE source = %s "
            f"AND occurred_at >= %s AND occurred_at <= %s{only}) e LEFT JOIN (SELECT id, "
            "occurred_at, max(observed_at) AS last, max(num_comments) AS most FROM "
            "raw_event_revisions WHERE occurred_at >= %s AND occurred_at <= %s "
            "GROUP BY id, occurred_at) r ON r.id = e.id AND r.occurred_at = e.occurred_at "
            "WHERE e.due_at IS NOT NULL AND (r.last IS NULL OR r.last < e.due_at) "
            "ORDER BY e.due_at, e.id"
        )
        params: list[Any] = [x for age in reversed(ages) for x in (now - age, age)]
        params += [self.source.name, start, end, *([list(source_ids)] if source_ids else [])]
        params += [start, end]
        with self._mapped():
            rows = self.conn.execute(sql, params).fetchall()
        return list(map(DueItem._make, rows))

    def record(self, observations: Sequence[Observation], observed_at: datetime) -> int:
        observations = _one_per_row(observations)
        edits = [o for o in observations if o.patch is not None]
        with self._mapped(), self.conn.transaction():
            with self.conn.cursor().copy(
                "COPY raw_event_revisions (id, occurred_at, observed_at, score, num_comments, "
                "upvote_ratio, state, text_hash) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(_REVISION_TYPES)
                for o in observations:
                    copy.write_row(
                        (
                            o.id,
                            o.occurred_at,
                            observed_at,
                            o.score,
                            o.num_comments,
                            o.upvote_ratio,
                            o.state,
                            o.text_hash,
                        )
                    )
            if edits:
                self.conn.execute(
                    "UPDATE raw_events AS r SET payload = r.payload || c.patch, "
                    "processed = false, processed_at = NULL FROM unnest(%s::text[], "
                    "%s::timestamptz[], %s::text[]::jsonb[]) AS c(id, occurred_at, patch) "
                    "WHERE r.id = c.id AND r.occurred_at = c.occurred_at",
                    [
                        [o.id for o in edits],
                        [o.occurred_at for o in edits],
                        [dump_json(o.patch) for o in edits],
                    ],
                )
        return len(edits)

    def redact(self, keys: Sequence[tuple[str, Any]]) -> tuple[list[Redacted], int]:
        if not keys:
            return [], 0
        unique = list(dict.fromkeys(keys))
        ids, times = [k[0] for k in unique], [k[1] for k in unique]
        with self._mapped(), self.conn.transaction():
            rows = self.conn.execute(
                "SELECT r.id, r.occurred_at, r.source, r.source_id, r.payload FROM raw_events r "
                "JOIN unnest(%s::text[], %s::timestamptz[]) AS k(id, occurred_at) "
                "ON r.id = k.id AND r.occurred_at = k.occurred_at FOR UPDATE OF r",
                [ids, times],
            ).fetchall()
            found = [_blanked(*row) for row in rows]
            changed = [r for r in found if r.changed]
            if changed:
                self.conn.execute(
                    "UPDATE raw_events AS r SET payload = c.payload FROM unnest(%s::text[], "
                    "%s::timestamptz[], %s::text[]::jsonb[]) AS c(id, occurred_at, payload) "
                    "WHERE r.id = c.id AND r.occurred_at = c.occurred_at",
                    [
                        [c.id for c in changed],
                        [c.occurred_at for c in changed],
                        [c.payload_json for c in changed],
                    ],
                )
            scope = rollup.Scope.events(list(zip(ids, times, strict=True)))
            rollup.lock(self.conn, "postgresql")
            rollup.retract(self.conn, "postgresql", scope)  # the scores and links go
            cursor = self.conn.execute(
                "DELETE FROM sentiment_scores AS s USING unnest(%s::text[], %s::timestamptz[]) "
                "AS k(id, occurred_at) WHERE s.id = k.id AND s.occurred_at = k.occurred_at",
                [ids, times],
            )
            deleted = cursor.rowcount
            self.conn.execute(  # the links its text made go with the text
                "DELETE FROM event_topics AS t USING unnest(%s::text[], %s::timestamptz[]) "
                "AS k(id, occurred_at) WHERE t.id = k.id AND t.occurred_at = k.occurred_at",
                [ids, times],
            )
        return found, max(0, deleted)

    def flagged(self, source_ids: Sequence[str]) -> list[tuple[str, Any]]:
        only = " AND e.source_id = ANY(%s)" if source_ids else ""
        with self._mapped():
            rows = self.conn.execute(
                "SELECT DISTINCT ON (v.id, v.occurred_at) v.id, v.occurred_at, v.state "
                "FROM raw_event_revisions v JOIN raw_events e ON e.id = v.id "
                f"AND e.occurred_at = v.occurred_at WHERE e.source = %s{only} "
                "ORDER BY v.id, v.occurred_at, v.observed_at DESC",
                [self.source.name, *([list(source_ids)] if source_ids else [])],
            ).fetchall()
        return [(r[0], r[1]) for r in rows if r[2] in ("deleted", "removed")]

    def close(self) -> None:
        self.conn.close()


def _md5(text: str | None) -> str:
    return hashlib.md5((text or "").encode("utf-8"), usedforsecurity=False).hexdigest()


def _merge(payload: str, patch: str) -> str:
    """PostgreSQL's `payload || patch` for SQLite (`json_patch`, RFC 7386, would drop
    the keys whose patch value is null and merge nested objects): the patch's top-level
    keys replace the payload's, nulls included."""
    merged = json.loads(payload)
    merged.update(json.loads(patch))
    return dump_json(merged)


class SQLiteStore:
    """sqlite3 in autocommit mode with `BEGIN IMMEDIATE` around each write."""

    backend = "sqlite"

    def __init__(self, url: DatabaseURL, source: SourceSpec) -> None:
        from sentiment_pipeline.db.connect import connect_sqlite

        self.url = url
        self.source = source
        self._joined_text = _joined_text(source, "sqlite", "char(31)")
        self._stored_count = _count_sql(source, "sqlite")
        self.conn = connect_sqlite(url)
        self.conn.isolation_level = None
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.create_function("sentpipe_md5", 1, _md5, deterministic=True)
        self.conn.create_function("sentpipe_merge", 2, _merge, deterministic=True)
        names = {
            row[0]
            for row in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name IN ('raw_event_revisions', 'sentiment_scores')"
            )
        }
        if len(names) < 2:
            self.conn.close()
            raise ConfigError(f"raw_event_revisions does not exist in {url.sqlite_path}", _HINT)

    @contextmanager
    def _write(self) -> Iterator[None]:
        from sentiment_pipeline.db.errors import map_db_error

        try:
            self.conn.execute("BEGIN IMMEDIATE")
            yield
            self.conn.execute("COMMIT")
        except Exception as error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            mapped = map_db_error(self.url, error) if isinstance(error, sqlite3.Error) else error
            if mapped is error:
                raise
            raise mapped from error

    def now(self) -> datetime:
        return datetime.now(UTC)

    def due_items(
        self, now: datetime, ages: Sequence[timedelta], source_ids: Sequence[str]
    ) -> list[DueItem]:
        """As `PostgresStore.due_items`; the schedule check is `observe.checkpoint`
        itself, registered as `sentpipe_due_at` (stored times are fixed-width UTC text,
        so text order is time order)."""
        start, end = due_window(now, ages)

        def due_at(occurred_at: str | None) -> str | None:
            moment = None if occurred_at is None else checkpoint(_utc(occurred_at), now, ages)
            return None if moment is None else storage_text(moment)

        self.conn.create_function("sentpipe_due_at", 1, due_at, deterministic=True)
        only = f" AND source_id IN ({', '.join('?' for _ in source_ids)})" if source_ids else ""
        window = [storage_text(start), storage_text(end)]
        rows = self.conn.execute(
            "SELECT e.id, e.occurred_at, e.source_id, e.event_type, sentpipe_md5("
            f"{self._joined_text}), coalesce(max(e.stored, r.most), e.stored, r.most) FROM "
            f"(SELECT id, occurred_at, source_id, event_type, payload, {self._stored_count} "
            "AS stored, sentpipe_due_at(occurred_at) AS due_at FROM raw_events WHERE "
            f"source = ? AND occurred_at >= ? AND occurred_at <= ?{only}) e LEFT JOIN "
            "(SELECT id, occurred_at, max(observed_at) AS last, max(num_comments) AS most "
            "FROM raw_event_revisions WHERE occurred_at >= ? AND occurred_at <= ? GROUP BY "
            "id, occurred_at) r ON r.id = e.id AND r.occurred_at = e.occurred_at WHERE "
            "e.due_at IS NOT NULL AND (r.last IS NULL OR r.last < e.due_at) "
            "ORDER BY e.due_at, e.id",
            [self.source.name, *window, *source_ids, *window],
        ).fetchall()
        return list(map(DueItem._make, rows))

    def record(self, observations: Sequence[Observation], observed_at: datetime) -> int:
        seen = storage_text(observed_at)
        observations = _one_per_row(observations)
        edits = [o for o in observations if o.patch is not None]
        with self._write():
            self.conn.executemany(
                "INSERT INTO raw_event_revisions (id, occurred_at, observed_at, score, "
                "num_comments, upvote_ratio, state, text_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        o.id,
                        o.occurred_at,
                        seen,
                        o.score,
                        o.num_comments,
                        o.upvote_ratio,
                        o.state,
                        o.text_hash,
                    )
                    for o in observations
                ],
            )
            self.conn.executemany(
                "UPDATE raw_events SET payload = sentpipe_merge(payload, ?), processed = 0, "
                "processed_at = NULL WHERE id = ? AND occurred_at = ?",
                [(dump_json(o.patch), o.id, o.occurred_at) for o in edits],
            )
        return len(edits)

    def redact(self, keys: Sequence[tuple[str, Any]]) -> tuple[list[Redacted], int]:
        found: list[Redacted] = []
        deleted = 0
        with self._write():
            for ident, occurred in dict.fromkeys(keys):
                row = self.conn.execute(
                    "SELECT source, source_id, payload FROM raw_events "
                    "WHERE id = ? AND occurred_at = ?",
                    (ident, occurred),
                ).fetchone()
                if row is None:
                    continue
                item = _blanked(ident, occurred, row[0], row[1], json.loads(row[2]))
                if item.changed:
                    self.conn.execute(
                        "UPDATE raw_events SET payload = ? WHERE id = ? AND occurred_at = ?",
                        (item.payload_json, ident, occurred),
                    )
                found.append(item)
                rollup.retract(self.conn, "sqlite", rollup.Scope.events([(ident, occurred)]))
                deleted += self.conn.execute(
                    "DELETE FROM sentiment_scores WHERE id = ? AND occurred_at = ?",
                    (ident, occurred),
                ).rowcount
                self.conn.execute(  # the links its text made go with the text
                    "DELETE FROM event_topics WHERE id = ? AND occurred_at = ?", (ident, occurred)
                )
        return found, deleted

    def flagged(self, source_ids: Sequence[str]) -> list[tuple[str, Any]]:
        only = f" AND e.source_id IN ({', '.join('?' for _ in source_ids)})" if source_ids else ""
        rows = self.conn.execute(
            "SELECT v.id, v.occurred_at, v.state FROM raw_event_revisions v JOIN ("
            "SELECT id, occurred_at, max(observed_at) AS last FROM raw_event_revisions "
            "GROUP BY id, occurred_at) m ON m.id = v.id AND m.occurred_at = v.occurred_at "
            "AND m.last = v.observed_at JOIN raw_events e ON e.id = v.id "
            f"AND e.occurred_at = v.occurred_at WHERE e.source = ?{only}",
            [self.source.name, *source_ids],
        ).fetchall()
        return [(r[0], r[1]) for r in rows if r[2] in ("deleted", "removed")]

    def close(self) -> None:
        self.conn.close()


def _joined_text(source: SourceSpec, dialect: str, separator: str) -> str:
    """SQL joining the payload's text keys (the source's `text_keys`) by U+001F
    (`separator`, the dialect's), missing ones empty: the text `observe.text_hash` hashes."""
    return f" || {separator} || ".join(
        f"coalesce({payload_text_sql(dialect, key, 'e.payload')}, '')" for key in source.text_keys
    )


def _count_sql(source: SourceSpec, dialect: str) -> str:
    """SQL of the stored comment count: the first of the source's `count_keys` holding
    a number in the payload (`e.payload` on PostgreSQL, `payload` on SQLite), else NULL."""
    keys = rules_of(source).count_keys
    if dialect == "postgresql":
        cases = [
            f"CASE WHEN jsonb_typeof(e.payload->'{key}') = 'number' THEN "
            f"(e.payload->>'{key}')::numeric::bigint END"
            for key in keys
        ]
    else:
        cases = [
            f"CASE WHEN json_type(payload, '$.{key}') IN ('integer', 'real') THEN "
            f"CAST(json_extract(payload, '$.{key}') AS INTEGER) END"
            for key in keys
        ]
    if not cases:
        return "NULL"
    return cases[0] if len(cases) == 1 else f"coalesce({', '.join(cases)})"


def open_store(url: DatabaseURL, source: SourceSpec | None = None) -> RefreshStore:
    """The store for `url`'s backend, over `source`'s events (default: Reddit's, the
    source `refresh reddit` revisits). Raises `ConfigError` (no database, not migrated to
    0003, login refused) or `DatabaseUnreachable`."""
    spec = source if source is not None else source_spec("reddit")
    if url.backend == "postgresql":
        return PostgresStore(url, spec)
    return SQLiteStore(url, spec)
