"""The SQL of `event_topics` and `topic_matches`, one class per backend.

The sinks call `post_topics` and `insert` inside their write transaction (so an event
and its links commit together); `topics match` and `topics list` use the rest. Times
cross as aware datetimes; SQLite stores them as its UTC text (`timeparse.storage_text`).
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sentiment_pipeline.db import rollup
from sentiment_pipeline.timeparse import storage_text as sqlite_time
from sentiment_pipeline.timeparse import to_utc
from sentiment_pipeline.topics.tagger import Link

__all__ = [
    "LinkStore",
    "MatchState",
    "PostgresLinks",
    "PostgresMatch",
    "SqliteLinks",
    "SqliteMatch",
    "TopicFigures",
]


@dataclass(frozen=True)
class TopicFigures:
    """What `topics list` shows of one topic's stored links."""

    events: int
    by_text: int
    by_post: int
    newest: datetime | None


@dataclass(frozen=True)
class MatchState:
    """One `topic_matches` row: the definition matched with, the window's start, the
    keyset position of the last batch done, and when the window was finished."""

    topic: str
    definition: str
    since: datetime | None
    position_at: datetime | None
    position_id: str | None
    finished_at: datetime | None


class LinkStore(Protocol):
    """What the sinks and `topics match` need of a backend (see the classes below)."""

    def post_topics(self, ids: Collection[str]) -> dict[str, set[str]]: ...

    def insert(self, links: Sequence[Link]) -> None: ...


def _by_post(rows: Iterator[tuple[str, str]] | list[tuple[str, str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for ident, topic in rows:
        found[ident].add(topic)
    return dict(found)


class PostgresLinks:
    """`event_topics` on PostgreSQL/TimescaleDB through one psycopg cursor (the caller's
    transaction)."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def post_topics(self, ids: Collection[str]) -> dict[str, set[str]]:
        """{post id: topics it belongs to by its text}, for those of `ids` with any."""
        if not ids:
            return {}
        self.cursor.execute(
            "SELECT id, topic FROM event_topics WHERE id = ANY(%s) AND via = 'text'", (list(ids),)
        )
        return _by_post(self.cursor.fetchall())

    def insert(self, links: Sequence[Link]) -> None:
        """Store `links` (a link already stored for the event and topic stays)."""
        if not links:
            return
        scope = _links_scope(links)
        rollup.lock(self.cursor, "postgresql")
        rollup.retract(self.cursor, "postgresql", scope)
        self.cursor.execute(
            "INSERT INTO event_topics (id, occurred_at, topic, via) "
            "SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::text[], %s::text[]) "
            "ON CONFLICT DO NOTHING",
            tuple(list(column) for column in zip(*links, strict=True)),
        )
        rollup.add(self.cursor, "postgresql", scope)

    def forget(self, topics: Sequence[str], keys: Sequence[tuple[str, datetime]]) -> None:
        """Remove the links of `topics` of the events `keys` (before re-matching them)."""
        if not topics or not keys:
            return
        times = [moment for _, moment in keys]
        rollup.lock(self.cursor, "postgresql")
        rollup.retract(self.cursor, "postgresql", rollup.Scope.links(keys, topics))
        self.cursor.execute(
            "DELETE FROM event_topics t USING unnest(%s::text[], %s::timestamptz[]) AS k(id, at) "
            "WHERE t.id = k.id AND t.occurred_at = k.at AND t.topic = ANY(%s) "
            "AND t.occurred_at BETWEEN %s AND %s",
            ([k for k, _ in keys], times, list(topics), min(times), max(times)),
        )


class SqliteLinks:
    """`event_topics` on SQLite through one connection (the caller's transaction)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def post_topics(self, ids: Collection[str]) -> dict[str, set[str]]:
        """{post id: topics it belongs to by its text}, for those of `ids` with any."""
        found: dict[str, set[str]] = {}
        wanted = list(ids)
        for start in range(0, len(wanted), 500):  # SQLite's parameter limit
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self.connection.execute(
                f"SELECT id, topic FROM event_topics WHERE via = 'text' AND id IN ({marks})",
                part,
            ).fetchall()
            for ident, topics in _by_post(rows).items():
                found.setdefault(ident, set()).update(topics)
        return found

    def insert(self, links: Sequence[Link]) -> None:
        """Store `links` (a link already stored for the event and topic stays)."""
        if not links:
            return
        scope = _links_scope(links)
        rollup.retract(self.connection, "sqlite", scope)
        self.connection.executemany(
            "INSERT OR IGNORE INTO event_topics (id, occurred_at, topic, via) VALUES (?, ?, ?, ?)",
            [(link.id, sqlite_time(link.occurred_at), link.topic, link.via) for link in links],
        )
        rollup.add(self.connection, "sqlite", scope)

    def forget(self, topics: Sequence[str], keys: Sequence[tuple[str, datetime]]) -> None:
        """Remove the links of `topics` of the events `keys` (before re-matching them)."""
        rollup.retract(self.connection, "sqlite", rollup.Scope.links(keys, topics))
        for topic in topics:
            self.connection.executemany(
                "DELETE FROM event_topics WHERE id = ? AND occurred_at = ? AND topic = ?",
                [(ident, sqlite_time(moment), topic) for ident, moment in keys],
            )


def _links_scope(links: Sequence[Link]) -> rollup.Scope:
    """The rollup contributions of `links`: their events' links to their topics."""
    keys = list(dict.fromkeys((link.id, link.occurred_at) for link in links))
    return rollup.Scope.links(keys, sorted({link.topic for link in links}))


# --- re-matching and listing ------------------------------------------------------------

# A stored event as the re-match reads it: key, source, source id, type, and the values
# of the payload keys `scan_keys` names (strings, or None).
ScanRow = tuple[Any, ...]
Position = tuple[datetime, str]  # (occurred_at, id): keyset order of raw_events


def _state(row: Sequence[Any] | None, topic: str) -> MatchState | None:
    if row is None:
        return None
    definition, since, at, ident, finished = row
    return MatchState(topic, definition, _moment(since), _moment(at), ident, _moment(finished))


def _moment(value: Any) -> datetime | None:
    return None if value is None else to_utc(value)


class _MatchSql:
    """The SQL `topics match` and `topics list` share, with the dialect's placeholder."""

    mark = "%s"

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def _time(self, moment: datetime | None) -> Any:
        return moment

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.connection.execute(sql, params).fetchall()]

    def scan(
        self,
        probe: Sequence[str],
        link: Sequence[str],
        after: Position | None,
        since: datetime | None,
        limit: int,
        literals: frozenset[str] | None = None,
    ) -> list[ScanRow]:
        """The next `limit` events in (occurred_at, id) order after `after` (from
        `since`, inclusive, when there is no position), as (id, occurred_at, source,
        source_id, event_type, probe, post): `probe` the payload values of the `probe`
        keys joined by spaces, for the literal prefilter (or, where the backend can
        test `literals` itself, whether it may hold one: a bool), `post` the first of
        the `link` keys' values."""
        probe_sql, params = self._probe(literals)
        lower, bounds = self._from(after, since)
        where = f"WHERE {lower}" if lower else ""
        params += bounds
        joined = self._joined([self._field(key) for key in probe])
        post = f"coalesce({', '.join(self._field(key) for key in link)}, NULL)" if link else "NULL"
        sql = (
            f"SELECT id, occurred_at, source, source_id, event_type, {probe_sql}, post FROM ("
            f"SELECT id, occurred_at, source, source_id, event_type, {joined} AS probe, "
            f"{post} AS post FROM raw_events {where} ORDER BY occurred_at, id "
            f"LIMIT {int(limit)}) AS batch ORDER BY occurred_at, id"
        )
        return self._rows(sql, params)

    def _joined(self, values: list[str]) -> str:
        return "concat_ws(' ', " + ", ".join(values) + ")"

    def _probe(self, literals: frozenset[str] | None) -> tuple[str, list[Any]]:
        """The probe column's SQL over the batch's joined text (`probe`) and its
        parameters: here the text itself."""
        return "probe", []

    def _field(self, key: str) -> str:
        raise NotImplementedError

    def _keyset(self, op: str, position: Position) -> tuple[str, list[Any]]:
        """The events past (`op` `>`) or up to (`<=`) `position` in (occurred_at, id)
        order, and its parameters; the plain bound on `occurred_at` beside the row
        comparison lets its index (and TimescaleDB's chunk exclusion) serve."""
        m = self.mark
        plain = ">=" if op == ">" else "<="
        moment = self._time(position[0])
        return f"occurred_at {plain} {m} AND (occurred_at, id) {op} ({m}, {m})", [
            moment,
            moment,
            position[1],
        ]

    def _from(self, after: Position | None, since: datetime | None) -> tuple[str, list[Any]]:
        """A window's lower bound: past `after`, else from `since` (inclusive); "" for
        none."""
        if after is not None:
            return self._keyset(">", after)
        if since is not None:
            return f"occurred_at >= {self.mark}", [self._time(since)]
        return "", []

    def forget_range(
        self,
        topics: Sequence[str],
        after: Position | None,
        last: Position,
        since: datetime | None = None,
    ) -> None:
        """Remove the links of `topics` of events after `after` (from `since` when
        there is none) up to `last`, in keyset order: the range a batch re-matches."""
        marks = ", ".join([self.mark] * len(topics))
        lower, low = self._from(after, since)
        upper, high = self._keyset("<=", last)
        where = f"topic IN ({marks}) {f'AND {lower} ' if lower else ''}AND {upper}"
        params = [*topics, *low, *high]
        dialect = "postgresql" if self.mark == "%s" else "sqlite"
        keys = self._rows(
            f"SELECT DISTINCT id, occurred_at FROM event_topics WHERE {where}", params
        )
        rollup.lock(self.connection, dialect)
        rollup.retract(self.connection, dialect, rollup.Scope.links(keys, topics))
        self.connection.execute(f"DELETE FROM event_topics WHERE {where}", params)

    def text_links_before(
        self, topics: Sequence[str], after: Position | None, since: datetime | None
    ) -> dict[str, set[str]]:
        """{event id: its topics by text} among `topics`, of the events before a
        re-match's window: up to `after` (keyset, inclusive), else before `since`; {}
        for a window that starts at the beginning."""
        marks = ", ".join([self.mark] * len(topics))
        if after is not None:
            bound, params = self._keyset("<=", after)
        elif since is not None:
            bound, params = f"occurred_at < {self.mark}", [self._time(since)]
        else:
            return {}
        rows = self._rows(
            f"SELECT id, topic FROM event_topics WHERE via = 'text' AND topic IN ({marks}) "
            f"AND {bound}",
            [*topics, *params],
        )
        return _by_post(rows)

    def topic_links(
        self, topic: str, start: datetime | None, after: Position | None, limit: int
    ) -> list[tuple[Any, ...]]:
        """The next `limit` links of `topic` as (id, occurred_at, via), in (occurred_at,
        id) order after `after` (else from `start`, inclusive; None: the first)."""
        lower, bounds = self._from(after, start)
        where = f"topic = {self.mark}" + (f" AND {lower}" if lower else "")
        return self._rows(
            f"SELECT id, occurred_at, via FROM event_topics WHERE {where} "
            f"ORDER BY occurred_at, id LIMIT {int(limit)}",
            [topic, *bounds],
        )

    def states(self) -> dict[str, MatchState]:
        """Every `topic_matches` row by topic."""
        rows = self._rows(
            "SELECT topic, definition, since, position_at, position_id, finished_at "
            "FROM topic_matches"
        )
        return {row[0]: state for row in rows if (state := _state(row[1:], row[0])) is not None}

    def save_state(self, state: MatchState) -> None:
        """Insert or replace the row of `state.topic`."""
        m = self.mark
        self.connection.execute(f"DELETE FROM topic_matches WHERE topic = {m}", [state.topic])
        self.connection.execute(
            "INSERT INTO topic_matches (topic, definition, since, position_at, position_id, "
            f"finished_at, updated_at) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m})",
            [
                state.topic,
                state.definition,
                self._time(state.since),
                self._time(state.position_at),
                state.position_id,
                self._time(state.finished_at),
                self._time(datetime.now(UTC)),
            ],
        )

    def figures(self) -> dict[str, TopicFigures]:
        """The stored links per topic: events, by text, by post, the newest event."""
        rows = self._rows(
            "SELECT topic, via, count(*), max(occurred_at) FROM event_topics GROUP BY topic, via"
        )
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        newest: dict[str, datetime] = {}
        for topic, via, number, latest in rows:
            counts[topic][via] = int(number)
            moment = to_utc(latest)
            if topic not in newest or moment > newest[topic]:
                newest[topic] = moment
        return {
            topic: TopicFigures(
                events=sum(by_via.values()),
                by_text=by_via.get("text", 0),
                by_post=by_via.get("post", 0),
                newest=newest.get(topic),
            )
            for topic, by_via in counts.items()
        }


class PostgresMatch(_MatchSql):
    """`_MatchSql` over a psycopg connection (autocommit off: the caller commits).

    The server tests the literals itself, so the texts of the events that hold none
    never cross the wire (their probe is NULL): `~*` folds ASCII letters exactly, and
    a text with any character beyond ASCII is sent for the caller's own test
    (`Tagger.may_match`), whatever the server's locale folds: never narrower than the
    matcher."""

    def _probe(self, literals: frozenset[str] | None) -> tuple[str, list[Any]]:
        """The text only where it may hold a literal, else NULL."""
        if literals is None:
            return "probe", []
        pattern = "|".join(re.sub(r"(\W)", r"\\\1", word) for word in sorted(literals))
        beyond_ascii = f"[^{chr(1)}-{chr(127)}]"
        return "CASE WHEN probe ~* %s OR probe ~ %s THEN probe END", [pattern, beyond_ascii]

    def fetch(self, fields: Sequence[str], keys: Sequence[Position]) -> list[ScanRow]:
        """(id, occurred_at, source, source_id, event_type, *the `fields`' payload
        values) of the events `keys` (`Position`s: occurred_at, id), in one query."""
        if not keys:
            return []
        values = ", ".join("r." + self._field(key) for key in fields)
        times = [moment for moment, _ in keys]
        return self._rows(
            f"SELECT r.id, r.occurred_at, r.source, r.source_id, r.event_type, {values} "
            "FROM raw_events r JOIN unnest(%s::text[], %s::timestamptz[]) AS k(id, at) "
            "ON r.id = k.id AND r.occurred_at = k.at WHERE r.occurred_at BETWEEN %s AND %s",
            [[ident for _, ident in keys], times, min(times), max(times)],
        )

    def _field(self, key: str) -> str:
        return "payload->>'" + key.replace("'", "''") + "'"


class SqliteMatch(_MatchSql):
    """`_MatchSql` over an sqlite3 connection (times as SQLite's UTC text)."""

    mark = "?"

    def fetch(self, fields: Sequence[str], keys: Sequence[Position]) -> list[ScanRow]:
        """(id, occurred_at, source, source_id, event_type, *the `fields`' payload
        values) of the events `keys` (`Position`s: occurred_at, id)."""
        values = ", ".join(self._field(key) for key in fields)
        rows: list[ScanRow] = []
        for moment, ident in keys:
            rows.extend(
                self._rows(
                    f"SELECT id, occurred_at, source, source_id, event_type, {values} "
                    "FROM raw_events WHERE id = ? AND occurred_at = ?",
                    [ident, self._time(moment)],
                )
            )
        return rows

    def _joined(self, values: list[str]) -> str:
        return " || ' ' || ".join(f"coalesce({value}, '')" for value in values)

    def _time(self, moment: datetime | None) -> Any:
        return None if moment is None else sqlite_time(moment)

    def _field(self, key: str) -> str:
        path = '$."' + key.replace('"', '\\"') + '"'
        return "json_extract(payload, '" + path.replace("'", "''") + "')"
