"""`sentiment report`: per subreddit (source_id), topic and/or language per time bucket,
from the daily rollup `sentiment_daily` and the scores.

For each group (`by`: (source, source_id), topic, the text's language, or several) and
bucket: events scored, mean compound, the shares of positive / neutral / negative
labels, net sentiment and the 95 % intervals (`figures`). One query (`read_sql`) adds
up, per group and bucket, whole UTC days of daily and weekly buckets from the rollup
(`rollup_days`, `rollup_sql`) and, from the scores, hourly buckets, the parts of days
`since`/`until` cut, and a filter of several topics; both give the same counts and
sums, and the database returns the rows summed and in order, so Python only computes
each row's figures (a year of daily rows is tens of thousands).
Grouped by topic, the scores are joined to `event_topics` (an event in two topics counts
in both); a topic filter without that grouping keeps each event once
(`db.filters.topic_sql`). Buckets are aligned like TimescaleDB's default `time_bucket`
(UTC, origin Monday 2000-01-03): `time_bucket` on TimescaleDB, `date_bin` with the same
origin on PostgreSQL, epoch arithmetic on SQLite, so all three agree.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple

from sentiment_pipeline.db.filters import Dialect, link_sql, source_id_sql, topic_sql
from sentiment_pipeline.db.rollup import FIGURES, sums_sql
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.sentiment.figures import Interval, Sums, intervals, row_figures
from sentiment_pipeline.timeparse import check_window, storage_text

__all__ = [
    "BUCKETS",
    "GROUPINGS",
    "JSON_VERSION",
    "ReportRow",
    "SentimentReport",
    "sentiment_report",
]

JSON_VERSION = 1
BUCKETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
}
_ORIGIN_EPOCH = 946857600  # 2000-01-03T00:00:00Z, TimescaleDB's default origin
# what `by` may hold: the source's targets (source, source_id; Reddit: subreddits), topics
GROUPINGS = ("source", "subreddit", "topic", "language")  # subreddit: the source id
# the group columns a report's rows carry (`read_sql`)
GROUP_COLUMNS = ("source", "source_id", "topic", "language")
NOT_DETECTED = "n/a"  # how a table shows the language of a score stored before detection


class ReportRow(NamedTuple):
    """One group's figures in one bucket (a tuple: a year's report makes tens of
    thousands)."""

    source: str | None  # None when the report is grouped by neither source nor subreddit
    source_id: str | None
    bucket: datetime  # start of the bucket, UTC
    events: int
    mean_compound: float
    positive: float  # shares in [0, 1]
    neutral: float
    negative: float
    topic: str | None = None  # set when the report is grouped by topic
    language: str | None = None  # grouped by language: the code (None: not detected)
    net_sentiment: float = 0.0  # positive − negative share, in [−1, 1]
    # (events, positive, neutral, negative, compound sum, sum of squares) the figures
    # come from; the intervals are computed from them when read (a table needs none)
    sums: tuple[Any, ...] = ()

    @property
    def mean_compound_ci95(self) -> Interval | None:
        """The 95 % interval of the mean compound (None below 2 events; the formulas
        are `figures.intervals`)."""
        return intervals(*self.sums)[0] if self.sums else None

    @property
    def net_sentiment_ci95(self) -> Interval | None:
        """The 95 % interval of the net sentiment (None below 2 events)."""
        return intervals(*self.sums)[1] if self.sums else None

    @classmethod
    def of(
        cls,
        group: tuple[str | None, str | None, str | None, str | None],
        bucket: datetime,
        sums: Sums,
    ) -> ReportRow:
        """The row of `group` (source, source_id, topic, language) in the bucket starting
        at `bucket` from its counts and sums; figures rounded (`figures.rounded`)."""
        values = astuple(sums)
        mean, pos, neu, neg, net = row_figures(*values)
        source, source_id, topic, language = group
        return cls(
            source, source_id, bucket, sums.events, mean, pos, neu, neg, topic, language, net,
            values,
        )  # fmt: skip

    def group_label(self, qualified: bool = False) -> str:
        """The row's group as a heading or legend shows it: `stocks`, `tesla`, or
        `stocks · tesla` when grouped by both; `qualified`: the source id after its
        source (`hackernews/ask`), for a report over several sources; a report by
        source alone shows the source (`hackernews`)."""
        target = self.source_id
        if target is not None and qualified:
            target = f"{self.source}/{target}"
        elif target is None:
            target = self.source
        return " · ".join(part for part in (target, self.topic) if part is not None)

    def language_label(self) -> str:
        """The language as a table shows it: the code, or `n/a` (stored before detection)."""
        return self.language or NOT_DETECTED


@dataclass
class SentimentReport:
    """The report; `to_dict()` is the documented `--json` shape (docs/sentiment.md)."""

    model: str
    bucket: str
    since: datetime | None = None
    until: datetime | None = None
    source_ids: tuple[str, ...] = ()
    rows: list[ReportRow] = field(default_factory=list)
    topics: tuple[str, ...] = ()  # the topic filter (empty: none)
    via: str = "any"  # which topic links count (db.filters.VIAS)
    by: tuple[str, ...] = ("subreddit",)  # the grouping, a subset of GROUPINGS
    sources: tuple[str, ...] = ()  # the source filter, as stored (empty: every source)
    older: tuple[str, ...] = ()  # no rows, and these older ids of the model have scores
    languages: tuple[str, ...] = ()  # the language filter (empty: every language)

    def by_target(self) -> dict[tuple[str | None, str | None], list[ReportRow]]:
        """The rows per (source, source_id), each list in bucket order."""
        out: dict[tuple[str | None, str | None], list[ReportRow]] = {}
        for row in self.rows:
            out.setdefault((row.source, row.source_id), []).append(row)
        return out

    def mixed(self) -> bool:
        """Grouped by source id over more than one source: a source id alone is
        ambiguous (a subreddit could be called `ask`)."""
        return "subreddit" in self.by and len({row.source for row in self.rows}) > 1

    def by_group(self) -> dict[str, list[ReportRow]]:
        """The rows per group (`ReportRow.group_label`, qualified by the source when the
        report is `mixed`), each list in bucket order."""
        out: dict[str, list[ReportRow]] = {}
        qualified = self.mixed()
        by_language = "language" in self.by
        for row in self.rows:
            label = row.group_label(qualified)
            if by_language:
                label = " · ".join(part for part in (label, row.language_label()) if part)
            out.setdefault(label, []).append(row)
        return out

    def target_label(self) -> str:
        """What the source ids name, for a table's heading: the sources' common
        `target_label` (Reddit: `subreddit`), else `source_id`."""
        from sentiment_pipeline.sources import source_spec

        labels = {source_spec(row.source).target_label for row in self.rows if row.source}
        return labels.pop() if len(labels) == 1 else "source_id"

    def group_heading(self) -> str:
        """The heading of the group column: `target_label`, `topic`, or both."""
        parts = [self.target_label() if name == "subreddit" else name for name in self.by]
        if parts == ["language"]:
            return "language"
        if "subreddit" in self.by and "source" in parts:
            parts.remove("source")  # a source id's group names its source already
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.astimezone(UTC).isoformat()

        return {
            "version": JSON_VERSION,
            "model": self.model,
            "bucket": self.bucket,
            "by": list(self.by),
            "filters": {
                "since": iso(self.since),
                "until": iso(self.until),
                "sources": list(self.sources),
                "source_ids": list(self.source_ids),
                "topics": list(self.topics),
                "via": self.via,
                "languages": list(self.languages),
            },
            "rows": self._row_dicts(),
        }

    def _row_dicts(self) -> list[dict[str, Any]]:
        """The rows of `--json`: `topic` and `language` only when grouped by them; each
        bucket start formatted once (a year of daily rows has 365)."""
        by_topic, by_language = "topic" in self.by, "language" in self.by
        starts: dict[datetime, str] = {}
        out = []
        for row in self.rows:
            start = starts.get(row.bucket)
            if start is None:
                start = starts[row.bucket] = row.bucket.astimezone(UTC).isoformat()
            item: dict[str, Any] = {"source": row.source, "source_id": row.source_id}
            if by_topic:
                item["topic"] = row.topic
            if by_language:
                item["language"] = row.language
            mean_ci, net_ci = intervals(*row.sums) if row.sums else (None, None)
            item.update(
                bucket_start=start,
                events=row.events,
                mean_compound=row.mean_compound,
                positive=row.positive,
                neutral=row.neutral,
                negative=row.negative,
                net_sentiment=row.net_sentiment,
                mean_compound_ci95=None if mean_ci is None else [*mean_ci],
                net_sentiment_ci95=None if net_ci is None else [*net_ci],
            )
            out.append(item)
        return out


def _bucket_sql(backend: str, timescale: bool, width: timedelta, column: str) -> str:
    seconds = int(width.total_seconds())
    if backend == "postgresql":
        interval = f"'{seconds} seconds'::interval"
        if timescale:
            return f"time_bucket({interval}, {column})"
        return f"date_bin({interval}, {column}, '2000-01-03T00:00:00Z'::timestamptz)"
    epoch = f"CAST(strftime('%s', {column}) AS INTEGER)"
    offset = f"((({epoch} - {_ORIGIN_EPOCH}) % {seconds}) + {seconds}) % {seconds}"
    return f"({epoch} - {offset})"


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(int(value), UTC)


def _check(bucket: str, by: tuple[str, ...]) -> None:
    """ConfigError for an unknown bucket or grouping, or an empty grouping."""
    from sentiment_pipeline.errors import ConfigError

    if bucket not in BUCKETS:
        raise ConfigError(f"unknown bucket {bucket!r}", f"choose from {', '.join(BUCKETS)}")
    unknown = [name for name in by if name not in GROUPINGS]
    if unknown or not by:
        raise ConfigError(
            f"unknown grouping {unknown[0]!r}" if unknown else "--by is empty",
            f"choose from {', '.join(GROUPINGS)}",
        )


def _where(report: SentimentReport, dialect: Dialect) -> tuple[list[str], list[Any]]:
    """The conditions on the scores `s` (model, sources, source ids, bounds; the topic
    filter as `db.filters.topic_sql` when not grouped by topic) and their parameters (the
    model id first)."""
    mark = "%s" if dialect == "postgresql" else "?"
    clauses, params = scope_sql(report, mark, "s.")
    if report.topics and "topic" not in report.by:
        clause, values = topic_sql(dialect, report.topics, report.via, table="s")
        clauses.append(clause)
        params.extend(values)
    clauses_b, params_b = bounds_sql(report, dialect, "s")
    return clauses + clauses_b, params + params_b


def scope_sql(report: SentimentReport, mark: str, prefix: str = "") -> tuple[list[str], list[Any]]:
    """The conditions every reading of a report shares, on columns named `prefix` +
    name (`s.` for the scores, none for the rollup): the model, `--source`, `--subreddit`
    and `--language`; and their parameters, the model id first."""
    clauses, params = [f"{prefix}model = {mark}"], list[Any]([report.model])
    for column, values in (("source", report.sources), ("language", report.languages)):
        if values:
            clauses.append(f"{prefix}{column} IN ({', '.join(mark for _ in values)})")
            params.extend(values)
    if report.source_ids:
        clause, names = source_id_sql(mark, report.source_ids)
        clauses.append(clause)  # source and source_id: no other table read has them
        params.extend(names)
    return clauses, params


def bounds_sql(
    report: SentimentReport, dialect: Dialect, alias: str
) -> tuple[list[str], list[Any]]:
    """The conditions `alias.occurred_at` within [since, until) and their parameters
    (SQLite's stored UTC text on SQLite)."""
    mark = "%s" if dialect == "postgresql" else "?"
    clauses: list[str] = []
    params: list[Any] = []
    for bound, op in ((report.since, ">="), (report.until, "<")):
        if bound is not None:
            clauses.append(f"{alias}.occurred_at {op} {mark}")
            params.append(bound if dialect == "postgresql" else storage_text(bound))
    return clauses, params


def _topic_join(report: SentimentReport, dialect: Dialect) -> tuple[str, list[Any]]:
    """`FROM event_topics t JOIN sentiment_scores s …` with the link conditions (topic
    names, via, the bounds repeated on `t` so the (topic, occurred_at) index bounds the
    scan of event_topics) and their parameters; plain `FROM sentiment_scores s` when the
    report is not grouped by topic."""
    if "topic" not in report.by:
        return "sentiment_scores s", []
    links, params = link_sql(dialect, report.topics, report.via, "t")
    bounds, bound_params = bounds_sql(report, dialect, "t")
    on = " AND ".join(["s.id = t.id", "s.occurred_at = t.occurred_at", links, *bounds])
    return f"event_topics t JOIN sentiment_scores s ON {on}", [*params, *bound_params]


def _group_columns(report: SentimentReport) -> list[str]:
    """Which of `GROUP_COLUMNS` the report groups by, in that order."""
    names = {
        "source": "source" in report.by or "subreddit" in report.by,
        "source_id": "subreddit" in report.by,
        "topic": "topic" in report.by,
        "language": "language" in report.by,
    }
    return [name for name in GROUP_COLUMNS if names[name]]


def _order_sql(report: SentimentReport, dialect: Dialect) -> str:
    """ORDER BY of a query over the group columns and bucket `b`: source id, source,
    topic, language (not detected last), bucket; text compared by code point (`"C"` on
    PostgreSQL, SQLite's default), as Python compares strings."""
    collate = ' COLLATE "C"' if dialect == "postgresql" else ""
    columns = _group_columns(report)
    order = [f"{name}{collate}" for name in ("source_id", "source", "topic") if name in columns]
    if "language" in columns:  # NULL (stored before detection) last on every backend
        order += ["language IS NULL", f"language{collate}"]
    return ", ".join([*order, "b"])


def _scores_part(
    report: SentimentReport, dialect: Dialect, timescale: bool
) -> tuple[str, list[Any]]:
    """(group columns…, bucket start `b`, `FIGURES`) per group and bucket from the
    scores, unordered, and its parameters."""
    expressions = {
        "source": "s.source",
        "source_id": "s.source_id",
        "topic": "t.topic",
        "language": "NULLIF(s.language, '')",
    }
    columns = _group_columns(report)
    groups = [expressions[name] for name in columns]
    # TimescaleDB 2.19 fails to plan time_bucket over the topic join or semi-join with a
    # time bound ("could not find pathkey item to sort"): date_bin gives the same buckets.
    topical = "topic" in report.by or bool(report.topics)
    bucket = _bucket_sql(
        dialect, timescale and not topical, BUCKETS[report.bucket], "s.occurred_at"
    )
    source, source_params = _topic_join(report, dialect)
    clauses, params = _where(report, dialect)
    named = [f"{sql} AS {name}" for sql, name in zip(groups, columns, strict=True)]
    sql = (
        f"SELECT {', '.join([*named, f'{bucket} AS b'])}, {sums_sql('s.', named=True)} "
        f"FROM {source} WHERE {' AND '.join(clauses)} GROUP BY {', '.join([*groups, 'b'])}"
    )
    return sql, [*source_params, *params]


def report_sql(report: SentimentReport, dialect: Dialect, timescale: bool) -> tuple[str, list[Any]]:
    """The report from the scores alone, one query: (group columns…, bucket start,
    `FIGURES`) per group and bucket, in the rows' order."""
    sql, params = _scores_part(report, dialect, timescale)
    columns = ", ".join([*_group_columns(report), "b", *FIGURES])
    return f"SELECT {columns} FROM ({sql}) AS u ORDER BY {_order_sql(report, dialect)}", params


def read_sql(report: SentimentReport, dialect: Dialect, timescale: bool) -> tuple[str, list[Any]]:
    """The report's one query: (source, source_id, topic, language, bucket start,
    `FIGURES`) per group and bucket, in the rows' order, NULL for a column the report
    does not group by; whole days from the rollup (`rollup_days`), the rest from the
    scores, added up by the database."""
    days, windows = rollup_days(report)
    parts: list[str] = []
    params: list[Any] = []
    if days is not None:
        sql, values = rollup_sql(report, dialect, timescale, days)
        parts.append(sql)
        params.extend(values)
    for since, until in windows:
        sql, values = _scores_part(replace(report, since=since, until=until), dialect, timescale)
        parts.append(sql)
        params.extend(values)
    columns = _group_columns(report)
    select = [name if name in columns else f"NULL AS {name}" for name in GROUP_COLUMNS]
    # PostgreSQL sums bigints as numeric (Decimal in Python, slow to read): cast back
    sums = ", ".join(
        f"CAST(sum({name}) AS {'float8' if name.startswith('compound') else 'bigint'})"
        if dialect == "postgresql"
        else f"sum({name})"
        for name in FIGURES
    )
    sql = (
        f"SELECT {', '.join(select)}, b, {sums} FROM ({' UNION ALL '.join(parts)}) AS u "
        f"GROUP BY {', '.join([*columns, 'b'])} ORDER BY {_order_sql(report, dialect)}"
    )
    return sql, params


def sentiment_report(
    url: DatabaseURL,
    model: str = "vader",
    bucket: str = "1d",
    since: datetime | None = None,
    until: datetime | None = None,
    source_ids: tuple[str, ...] = (),
    *,
    topics: tuple[str, ...] = (),
    via: str = "any",
    by: tuple[str, ...] = ("subreddit",),
    sources: tuple[str, ...] = (),
    languages: tuple[str, ...] = (),
) -> SentimentReport:
    """Aggregate `model`'s scores (a registry name like `vader`, or a stored model id like
    `vader-3.3.2`) per group of `by` (GROUPINGS) per bucket, for events linked to one of
    `topics` (none: every event) by links `via` counts (`any`, `text`), of `sources`
    (none: every source; each registered or stored, `db.filters.check_sources`), of
    texts in `languages` (codes as `sentiment.language` stores them; none or `any`: all;
    ConfigError for a code the detector never gives). A topic
    no event is linked to gives no rows. Raises ConfigError for an unknown
    bucket/model/grouping/via/source or an unmigrated database, DatabaseUnreachable when
    the server does not answer."""
    from sentiment_pipeline.db.filters import check_sources, check_via
    from sentiment_pipeline.sentiment.scorers import is_model_spec, stored_model_id
    from sentiment_pipeline.sources import source_names

    _check(bucket, by)
    check_window(since, until)
    by = tuple(name for name in GROUPINGS if name in by)
    model_id = stored_model_id(model)
    report = SentimentReport(
        model_id, bucket, since, until, source_ids, [], topics, check_via(via), by
    )
    if languages:  # the detector's table of codes is read only when one is given
        from sentiment_pipeline.sentiment.language import check_languages

        codes = check_languages(languages, "--language", allow_any=True)
        report.languages = () if "any" in codes else codes
    store = open_store(url)
    try:
        connection = store._conn
        if sources:
            with store._guard():
                report.sources = check_sources(
                    sources,
                    url.backend,
                    lambda sql, p: connection.execute(sql, p).fetchall(),
                    source_names(),
                )
        timescale = _timescale(url, connection)
        with store._guard():  # a missing table reads as "run sentpipe db init"
            rows = _read(report, url.backend, timescale, connection)
        if not rows and is_model_spec(model):
            report.older = _stored_older_ids(store, model, url.backend)
        elif not rows:  # a stored id: one that was never stored is a typo, not "no scores"
            from sentiment_pipeline.sentiment.counts import check_stored_model

            with store._guard():
                check_stored_model(
                    lambda sql, p: connection.execute(sql, p).fetchall(),
                    url.backend,
                    model,
                    model_id,
                )
    finally:
        store.close()
    report.rows = rows
    return report


def _read(
    report: SentimentReport, dialect: Dialect, timescale: bool, connection: Any
) -> list[ReportRow]:
    """The report's rows (`read_sql`), figures computed (`figures.row_figures`)."""
    sql, params = read_sql(report, dialect, timescale)
    starts: dict[Any, datetime] = {}  # bucket value -> its start as a UTC datetime
    rows: list[ReportRow] = []
    make = ReportRow._make
    for values in _fetch(connection, dialect, sql, params):
        source, source_id, topic, language, moment = values[:5]
        bucket = starts.get(moment)
        if bucket is None:
            bucket = starts[moment] = _as_utc(moment)
        sums = values[5:]
        mean, pos, neu, neg, net = row_figures(*sums)
        rows.append(
            make((source, source_id, bucket, sums[0], mean, pos, neu, neg, topic, language, net,
                  sums))
        )  # fmt: skip
    return rows


def _fetch(connection: Any, dialect: Dialect, sql: str, params: list[Any]) -> list[Any]:
    """The rows of `sql`; on PostgreSQL in binary (no text to parse per value)."""
    if dialect == "postgresql":
        with connection.cursor(binary=True) as cursor:
            return list(cursor.execute(sql, params).fetchall())
    return list(connection.execute(sql, params).fetchall())


Window = tuple[datetime | None, datetime | None]


def rollup_days(report: SentimentReport) -> tuple[Window | None, list[Window]]:
    """Which part of the report the daily rollup gives: the whole UTC days within
    [since, until) as a window of day starts (None: the rollup does not serve this
    report), and the windows left to read from the scores (the parts of days the
    bounds cut). The rollup serves daily and weekly buckets, unless several topics
    filter a report not grouped by topic (an event in two of them counts once: only
    the scores know)."""
    whole = (report.since, report.until)
    several = len(report.topics) > 1 and "topic" not in report.by
    if report.bucket == "1h" or several:
        return None, [whole]
    first = None if report.since is None else _day_start(report.since, up=True)
    end = None if report.until is None else _day_start(report.until, up=False)
    if first is not None and end is not None and first >= end:
        return None, [whole]
    windows: list[Window] = []
    if first is not None and report.since is not None and first > report.since:
        windows.append((report.since, first))
    if end is not None and report.until is not None and end < report.until:
        windows.append((end, report.until))
    return (first, end), windows


def _day_start(moment: datetime, up: bool) -> datetime:
    """The UTC midnight at or after (`up`) or at or before `moment`."""
    start = datetime.combine(moment.astimezone(UTC).date(), time(), UTC)
    return start + timedelta(days=1) if up and start < moment else start


def rollup_sql(
    report: SentimentReport, dialect: Dialect, timescale: bool, days: Window
) -> tuple[str, list[Any]]:
    """(group columns…, bucket start `b`, `FIGURES`) of each row of `sentiment_daily`
    the report covers within `days` (day starts; None: unbounded), unsummed, and its
    parameters; a day's bucket is aligned as `_bucket_sql` aligns the scores'."""
    mark = "%s" if dialect == "postgresql" else "?"
    columns = [
        "NULLIF(language, '') AS language" if name == "language" else name
        for name in _group_columns(report)
    ]
    clauses, params = scope_sql(report, mark)
    if "topic" in report.by:
        clauses += ["topic <> ''", f"via = {mark}"]
        params.append(report.via)
    elif report.topics:  # one topic (several: `rollup_days` leaves it to the scores)
        clauses += [f"topic = {mark}", f"via = {mark}"]
        params += [report.topics[0], report.via]
    else:
        clauses += ["topic = ''", "via = ''"]
    if report.topics and "topic" in report.by:
        clauses.append(f"topic IN ({', '.join(mark for _ in report.topics)})")
        params.extend(report.topics)
    for bound, op in zip(days, (">=", "<"), strict=True):
        if bound is not None:
            clauses.append(f"day {op} {mark}")
            params.append(bound.date() if dialect == "postgresql" else bound.date().isoformat())
    # the day's start: a timestamptz on PostgreSQL; SQLite's text, which `_bucket_sql`
    # turns into epoch seconds
    start = "(CAST(day AS timestamp) AT TIME ZONE 'UTC')" if dialect == "postgresql" else "day"
    width = BUCKETS[report.bucket]
    if width == timedelta(days=1):  # a day is its own bucket
        bucket = start if dialect == "postgresql" else "CAST(strftime('%s', day) AS INTEGER)"
    else:
        bucket = _bucket_sql(dialect, timescale, width, start)
    sql = (
        f"SELECT {', '.join([*columns, f'{bucket} AS b', *FIGURES])} FROM sentiment_daily "
        f"WHERE {' AND '.join(clauses)}"
    )
    return sql, params


def _stored_older_ids(store: Any, model: str, backend: str) -> tuple[str, ...]:
    """The ids `model`'s scores were stored under by earlier cleanings that still have
    rows (`scorers.older_model_ids`): an empty report says how to reach them."""
    from sentiment_pipeline.sentiment.scorers import older_model_ids

    mark = "%s" if backend == "postgresql" else "?"
    sql = f"SELECT 1 FROM sentiment_scores WHERE model = {mark} LIMIT 1"
    with store._guard():
        return tuple(
            old for old in older_model_ids(model) if store._conn.execute(sql, [old]).fetchone()
        )


def open_store(url: DatabaseURL) -> Any:
    """The backend's sentiment store; it checks the tables exist (ConfigError otherwise)."""
    if url.backend == "postgresql":
        from sentiment_pipeline.sentiment.store import PostgresStore

        return PostgresStore(url)
    from sentiment_pipeline.sentiment.store import SQLiteStore

    return SQLiteStore(url)


def _timescale(url: DatabaseURL, connection: Any) -> bool:
    """Whether the server has TimescaleDB (its `time_bucket`)."""
    if url.backend != "postgresql":
        return False
    row = connection.execute(
        "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    return bool(row and row[0])
