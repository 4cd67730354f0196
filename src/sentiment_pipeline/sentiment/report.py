"""`sentiment report`: per subreddit (source_id) per time bucket, from sentiment_scores.

For each (source, source_id, bucket): events scored, mean compound, and the shares of
positive / neutral / negative labels. Buckets are aligned like TimescaleDB's default
`time_bucket` (UTC, origin Monday 2000-01-03): `time_bucket` on TimescaleDB, `date_bin`
with the same origin on PostgreSQL, epoch arithmetic on SQLite, so all three agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentiment_pipeline.db.filters import source_id_sql
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.timeparse import storage_text

__all__ = ["BUCKETS", "JSON_VERSION", "ReportRow", "SentimentReport", "sentiment_report"]

JSON_VERSION = 1
BUCKETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
}
_ORIGIN_EPOCH = 946857600  # 2000-01-03T00:00:00Z, TimescaleDB's default origin


@dataclass(frozen=True)
class ReportRow:
    source: str
    source_id: str
    bucket: datetime  # start of the bucket, UTC
    events: int
    mean_compound: float
    positive: float  # shares in [0, 1]
    neutral: float
    negative: float


@dataclass
class SentimentReport:
    """The report; `to_dict()` is the documented `--json` shape (docs/sentiment.md)."""

    model: str
    bucket: str
    since: datetime | None = None
    until: datetime | None = None
    source_ids: tuple[str, ...] = ()
    rows: list[ReportRow] = field(default_factory=list)

    def by_target(self) -> dict[tuple[str, str], list[ReportRow]]:
        """The rows per (source, source_id), each list in bucket order."""
        out: dict[tuple[str, str], list[ReportRow]] = {}
        for row in self.rows:
            out.setdefault((row.source, row.source_id), []).append(row)
        return out

    def target_label(self) -> str:
        """What the source ids name, for a table's heading: the sources' common
        `target_label` (Reddit: `subreddit`), else `source_id`."""
        from sentiment_pipeline.sources import source_spec

        labels = {source_spec(row.source).target_label for row in self.rows}
        return labels.pop() if len(labels) == 1 else "source_id"

    def to_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.astimezone(UTC).isoformat()

        return {
            "version": JSON_VERSION,
            "model": self.model,
            "bucket": self.bucket,
            "filters": {
                "since": iso(self.since),
                "until": iso(self.until),
                "source_ids": list(self.source_ids),
            },
            "rows": [
                {
                    "source": r.source,
                    "source_id": r.source_id,
                    "bucket_start": iso(r.bucket),
                    "events": r.events,
                    "mean_compound": r.mean_compound,
                    "positive": r.positive,
                    "neutral": r.neutral,
                    "negative": r.negative,
                }
                for r in self.rows
            ],
        }


def _bucket_sql(backend: str, timescale: bool, width: timedelta) -> str:
    seconds = int(width.total_seconds())
    if backend == "postgresql":
        interval = f"'{seconds} seconds'::interval"
        if timescale:
            return f"time_bucket({interval}, occurred_at)"
        return f"date_bin({interval}, occurred_at, '2000-01-03T00:00:00Z'::timestamptz)"
    epoch = "CAST(strftime('%s', occurred_at) AS INTEGER)"
    offset = f"((({epoch} - {_ORIGIN_EPOCH}) % {seconds}) + {seconds}) % {seconds}"
    return f"({epoch} - {offset})"


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(int(value), UTC)


def sentiment_report(
    url: DatabaseURL,
    model: str = "vader",
    bucket: str = "1d",
    since: datetime | None = None,
    until: datetime | None = None,
    source_ids: tuple[str, ...] = (),
) -> SentimentReport:
    """Aggregate `model`'s scores (a registry name like `vader`, or a stored model id like
    `vader-3.3.2`). Raises ConfigError for an unknown bucket/model or an unmigrated
    database, DatabaseUnreachable when the server does not answer."""
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.sentiment.scorers import SCORERS, model_id_for

    if bucket not in BUCKETS:
        raise ConfigError(f"unknown bucket {bucket!r}", f"choose from {', '.join(BUCKETS)}")
    model_id = model_id_for(model) if model in SCORERS else model
    report = SentimentReport(model_id, bucket, since, until, source_ids)
    mark = "%s" if url.backend == "postgresql" else "?"
    clauses = [f"model = {mark}"]
    params: list[Any] = [model_id]
    if source_ids:
        clause, values = source_id_sql(mark, source_ids)
        clauses.append(clause)
        params.extend(values)
    for bound, op in ((since, ">="), (until, "<")):
        if bound is not None:
            clauses.append(f"occurred_at {op} {mark}")
            params.append(bound if url.backend == "postgresql" else storage_text(bound))
    connection: Any
    if url.backend == "postgresql":
        from sentiment_pipeline.sentiment.store import PostgresStore

        store = PostgresStore(url)  # checks the tables exist
        connection = store._conn
        timescale = bool(
            connection.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()[0]
        )
    else:
        from sentiment_pipeline.sentiment.store import SQLiteStore

        store = SQLiteStore(url)  # type: ignore[assignment]
        connection = store._conn
        timescale = False
    bucket_expr = _bucket_sql(url.backend, timescale, BUCKETS[bucket])
    sql = (
        f"SELECT source, source_id, {bucket_expr} AS b, count(*), avg(compound), "
        "avg(CASE WHEN label = 'positive' THEN 1.0 ELSE 0.0 END), "
        "avg(CASE WHEN label = 'neutral' THEN 1.0 ELSE 0.0 END), "
        "avg(CASE WHEN label = 'negative' THEN 1.0 ELSE 0.0 END) "
        f"FROM sentiment_scores WHERE {' AND '.join(clauses)} "
        "GROUP BY source, source_id, b ORDER BY source_id, source, b"
    )
    try:
        rows = connection.execute(sql, params).fetchall()
    finally:
        store.close()
    report.rows = [
        ReportRow(
            source,
            source_id,
            _as_utc(b),
            int(n),
            round(float(mean), 4),
            round(float(pos), 4),
            round(float(neu), 4),
            round(float(neg), 4),
        )
        for source, source_id, b, n, mean, pos, neu, neg in rows
    ]
    return report
