"""`stats` core: what is in the database, how fresh it is, and where it lives.

Three queries, whatever the table size: one grouped scan gives the counts, first/last
times and freshness; one bucketed, index-bounded scan gives events per UTC day
(`time_bucket` on TimescaleDB, `date_trunc` on PostgreSQL, the date prefix on SQLite);
and a few catalogue lookups describe the backend. Per topic, one grouped scan of
`event_topics` (when it exists) gives events, links by `via`, scored events and the
newest event. The result is a plain dataclass whose
`to_dict()` is the documented `--json` shape (docs/stats.md).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sentiment_pipeline.db.backend import ServerInfo, describe
from sentiment_pipeline.db.connect import Reader, open_reader
from sentiment_pipeline.db.errors import missing_table
from sentiment_pipeline.db.filters import EventFilter, SourceIdMatch, link_sql, where_sql
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.timeparse import canonical_text, to_utc

__all__ = ["JSON_SCHEMA_VERSION", "Stats", "TopicFigures", "collect_stats", "iso"]

JSON_SCHEMA_VERSION = 1


def iso(moment: datetime | None) -> str | None:
    """The canonical UTC form also used in CSV exports (timeparse.canonical_text)."""
    return None if moment is None else canonical_text(moment)


@dataclass
class TopicFigures:
    """One topic's figures over the events `stats` counts: `events` linked (by links the
    `via` filter counts), those links per `via` (`text`, `post`), the linked events with
    a score from any model, and the newest linked event (aware UTC)."""

    topic: str
    events: int = 0
    by_via: dict[str, int] = field(default_factory=dict)
    scored: int = 0
    last_occurred_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "events": self.events,
            "by_via": dict(sorted(self.by_via.items())),
            "scored": self.scored,
            "last_occurred_at": iso(self.last_occurred_at),
        }


@dataclass
class Stats:
    """Every figure of `sentpipe stats`. Counts are exact; times are aware UTC datetimes
    (None when there are no events); `per_day` is (UTC date, events), oldest first;
    `backend` is the same server description `db status` prints."""

    generated_at: datetime
    backend: ServerInfo
    source_ids: tuple[str, ...] = ()
    since: datetime | None = None
    total: int = 0
    processed: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    by_source_id: list[tuple[str, str, int]] = field(default_factory=list)
    by_event_type: dict[str, int] = field(default_factory=dict)
    first_occurred_at: datetime | None = None
    last_occurred_at: datetime | None = None
    last_ingested_at: datetime | None = None
    per_day: list[tuple[date, int]] = field(default_factory=list)
    sentiment: list[Any] = field(default_factory=list)  # sentiment.counts.ModelCounts
    # source -> events with no text to score (sentiment.counts), largest first
    not_scorable: dict[str, int] = field(default_factory=dict)
    last_observed_at: datetime | None = None  # newest `refresh` observation
    revisions_by_state: dict[str, int] = field(default_factory=dict)  # latest state per item
    # Not in the database yet: records in the spool (the database was down) and rows of
    # interrupted runs the CSV sink may lack (journals); the next writing run handles both.
    spooled: int = 0
    journal_rows: int = 0
    topic_names: tuple[str, ...] = ()  # the topic filter (empty: none)
    via: str = "any"  # which topic links count
    topics: list[TopicFigures] = field(default_factory=list)  # by events, most first

    @property
    def unprocessed(self) -> int:
        return self.total - self.processed

    @property
    def newest_event_age(self) -> timedelta | None:
        return None if self.last_occurred_at is None else self.generated_at - self.last_occurred_at

    @property
    def last_ingest_age(self) -> timedelta | None:
        return None if self.last_ingested_at is None else self.generated_at - self.last_ingested_at

    @property
    def unmatched_source_ids(self) -> list[str]:
        """The `source_ids` filter values that no counted event matched (a typo, most
        likely), in the order given."""
        wanted = {value: SourceIdMatch.of([value]) for value in self.source_ids}
        return [
            value
            for value, match in wanted.items()
            if not any(match.matches(s, sid) for s, sid, _ in self.by_source_id)
        ]

    @property
    def unmatched_topics(self) -> list[str]:
        """The topic filter's names no counted event is linked to, in the order given."""
        found = {figures.topic for figures in self.topics}
        return [name for name in self.topic_names if name not in found]

    def is_stale(self, max_age: timedelta) -> bool:
        """True when nothing was ingested within `max_age` (or ever): a stopped scraper."""
        age = self.last_ingest_age
        return age is None or age > max_age

    def to_dict(self, max_age: timedelta | None = None) -> dict[str, Any]:
        """The documented `--json` shape (docs/stats.md, schema 1); `stale` is the
        verdict for `max_age`, or None without one."""
        newest, ingest = self.newest_event_age, self.last_ingest_age
        return {
            "schema": JSON_SCHEMA_VERSION,
            "generated_at": iso(self.generated_at),
            "filters": {
                "source_ids": list(self.source_ids),
                "since": iso(self.since),
                "topics": list(self.topic_names),
                "via": self.via,
            },
            "backend": self.backend.to_dict(),
            "total": self.total,
            "processed": self.processed,
            "unprocessed": self.unprocessed,
            "by_source": self.by_source,
            "by_source_id": [
                {"source": s, "source_id": sid, "events": n} for s, sid, n in self.by_source_id
            ],
            "by_event_type": self.by_event_type,
            "first_occurred_at": iso(self.first_occurred_at),
            "last_occurred_at": iso(self.last_occurred_at),
            "last_ingested_at": iso(self.last_ingested_at),
            "newest_event_age_seconds": None if newest is None else newest.total_seconds(),
            "last_ingest_age_seconds": None if ingest is None else ingest.total_seconds(),
            "per_day": [{"date": d.isoformat(), "events": n} for d, n in self.per_day],
            "stale": None if max_age is None else self.is_stale(max_age),
            "sentiment": [counts.to_dict() for counts in self.sentiment],
            "not_scorable": self.not_scorable,
            "refresh": {
                "last_observed_at": iso(self.last_observed_at),
                "by_state": self.revisions_by_state,
            },
            "pending": {"spooled": self.spooled, "journal_rows": self.journal_rows},
            "topics": [figures.to_dict() for figures in self.topics],
        }


def _utc(value: Any) -> datetime | None:
    """A driver value (PostgreSQL: aware datetime; SQLite: UTC text) as an aware datetime."""
    if value is None:
        return None
    return to_utc(value if isinstance(value, datetime) else str(value))


def _per_day_sql(kind: str) -> str:
    if kind == "timescaledb":
        return "time_bucket('1 day', occurred_at)"
    if kind == "postgresql":
        return "date_trunc('day', occurred_at AT TIME ZONE 'UTC')"
    return "substr(occurred_at, 1, 10)"


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return to_utc(value).date()
    return date.fromisoformat(str(value))


def collect_stats(
    url: DatabaseURL,
    source_ids: tuple[str, ...] = (),
    since: datetime | None = None,
    days: int = 14,
    now: datetime | None = None,
    *,
    topics: tuple[str, ...] = (),
    via: str = "any",
) -> Stats:
    """Gather every figure `sentpipe stats` shows, for events of `source_ids` (all when
    empty; matched as `db.filters.SourceIdMatch` says) from `since` on, linked to one of
    `topics` when given (by links `via` counts: `any`, `text`); the chart covers `days`
    ≥ 1 UTC days ending on `now`'s date (default: the current time). A topic no event is
    linked to has no figures (`Stats.unmatched_topics`).

    Raises `ConfigError` (no SQLite file, which is never created; no `raw_events`, or no
    `event_topics` with `topics`; login refused) or `DatabaseUnreachable` (server down
    or connection lost)."""
    now = now or datetime.now(UTC)
    with open_reader(url) as reader:
        backend = describe(reader.rows, url, count_rows=False)
        where = EventFilter(source_ids=source_ids, since=since, topics=topics, via=via)
        stats = Stats(now, backend, source_ids, since, topic_names=topics, via=via)
        linked = _has_table(reader, "event_topics")
        if topics and not linked:
            raise missing_table(url, "event_topics")
        _counts(reader, where, stats)
        first_day = now.date() - timedelta(days=days - 1)
        start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
        _per_day(reader, where, max(start, since or start), stats)
        stats.per_day = _fill_days(stats.per_day, first_day, days)
        from sentiment_pipeline.sentiment.counts import sentiment_figures

        figures = sentiment_figures(url)
        stats.sentiment, stats.not_scorable = figures.models, figures.not_scorable
        _revisions(reader, stats)
        if linked:
            stats.topics = _topics(reader, where)
        return stats


def _counts(reader: Reader, where: EventFilter, stats: Stats) -> None:
    clause, params = where_sql(reader.dialect, where)
    rows = reader.rows(
        "SELECT source, source_id, event_type, count(*), "
        "sum(CASE WHEN processed THEN 1 ELSE 0 END), min(occurred_at), max(occurred_at), "
        f"max(ingested_at) FROM raw_events {clause} GROUP BY source, source_id, event_type",
        params,
    )
    by_source: Counter[str] = Counter()
    by_source_id: Counter[tuple[str, str]] = Counter()
    by_type: Counter[str] = Counter()
    firsts, lasts, ingests = [], [], []
    for source, source_id, event_type, n, done, first, last, ingested in rows:
        stats.total += int(n)
        stats.processed += int(done or 0)
        by_source[source] += int(n)
        by_source_id[(source, source_id)] += int(n)
        by_type[event_type] += int(n)
        firsts.append(_utc(first))
        lasts.append(_utc(last))
        ingests.append(_utc(ingested))
    stats.by_source = dict(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0])))
    stats.by_source_id = [
        (s, sid, n) for (s, sid), n in sorted(by_source_id.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    stats.by_event_type = dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0])))
    stats.first_occurred_at = min((t for t in firsts if t), default=None)
    stats.last_occurred_at = max((t for t in lasts if t), default=None)
    stats.last_ingested_at = max((t for t in ingests if t), default=None)


def _per_day(reader: Reader, where: EventFilter, start: datetime, stats: Stats) -> None:
    bounded = dataclasses.replace(where, since=start)
    clause, params = where_sql(reader.dialect, bounded)
    kind = stats.backend.kind
    if kind == "timescaledb" and (not stats.backend.hypertable or where.topics):
        # With the topic semi-join and a time bound, TimescaleDB 2.19 fails to plan
        # GROUP BY time_bucket ("could not find pathkey item to sort"): same days by
        # date_trunc.
        kind = "postgresql"
    bucket = _per_day_sql(kind)
    rows = reader.rows(
        f"SELECT {bucket} AS day, count(*) FROM raw_events {clause} GROUP BY 1", params
    )
    stats.per_day = [(_day(day), int(n)) for day, n in rows]


def _fill_days(counts: list[tuple[date, int]], first: date, days: int) -> list[tuple[date, int]]:
    found = dict(counts)
    return [
        (first + timedelta(days=i), found.get(first + timedelta(days=i), 0)) for i in range(days)
    ]


def _has_table(reader: Reader, table: str) -> bool:
    """True when `table` exists (a later migration's table may not yet)."""
    if reader.dialect == "postgresql":
        return bool(reader.rows("SELECT to_regclass(%s) IS NOT NULL", [table])[0][0])
    return bool(reader.rows("SELECT count(*) FROM sqlite_master WHERE name = ?", [table])[0][0])


def _revisions(reader: Reader, stats: Stats) -> None:
    """The newest refresh observation and the items per latest state (no table: none)."""
    if not _has_table(reader, "raw_event_revisions"):
        return
    rows = reader.rows(
        "SELECT v.state, count(*), max(m.last) FROM raw_event_revisions v JOIN (SELECT id, "
        "occurred_at, max(observed_at) AS last FROM raw_event_revisions GROUP BY id, "
        "occurred_at) m ON m.id = v.id AND m.occurred_at = v.occurred_at "
        "AND m.last = v.observed_at GROUP BY v.state"
    )
    stats.revisions_by_state = {state: int(n) for state, n, _ in sorted(rows)}
    stats.last_observed_at = max((t for t in (_utc(r[2]) for r in rows) if t), default=None)


def _topics(reader: Reader, where: EventFilter) -> list[TopicFigures]:
    """Per topic (of `where.topics`, or every topic) and `via`: links, scored events and
    the newest event, over the events `where` keeps (one grouped scan of event_topics;
    raw_events is only probed when `where` has other conditions)."""
    links, params = link_sql(reader.dialect, where.topics, where.via, "t")
    rest = dataclasses.replace(where, topics=())
    clause, rest_params = where_sql(reader.dialect, rest)
    if clause:
        links += (
            " AND EXISTS (SELECT 1 FROM raw_events WHERE raw_events.id = t.id AND "
            f"raw_events.occurred_at = t.occurred_at AND {clause.removeprefix('WHERE ')})"
        )
    rows = reader.rows(
        "SELECT t.topic, t.via, count(*), sum(CASE WHEN EXISTS (SELECT 1 FROM "
        "sentiment_scores s WHERE s.id = t.id AND s.occurred_at = t.occurred_at) THEN 1 "
        f"ELSE 0 END), max(t.occurred_at) FROM event_topics t WHERE {links} "
        "GROUP BY t.topic, t.via",
        [*params, *rest_params],
    )
    figures: dict[str, TopicFigures] = {}
    for topic, via, n, scored, last in rows:
        one = figures.setdefault(str(topic), TopicFigures(str(topic)))
        one.events += int(n)
        one.by_via[str(via)] = int(n)
        one.scored += int(scored or 0)
        newest = _utc(last)
        if newest is not None and (one.last_occurred_at is None or newest > one.last_occurred_at):
            one.last_occurred_at = newest
    return sorted(figures.values(), key=lambda f: (-f.events, f.topic))
