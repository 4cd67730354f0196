"""Topics downstream of collection: `sentiment report --topic/--by topic/--via`, `export csv
--topic/--via` and its `topics` column, `stats` per topic, on TimescaleDB, PostgreSQL and
SQLite. Links are written into event_topics with plain SQL (the writers are tested
elsewhere), next to events and scores made the usual way."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.filters import EventFilter
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.export import export_csv, export_partitioned, parse_columns
from sentiment_pipeline.sentiment import ScoreOptions, score_events, sentiment_report
from sentiment_pipeline.sentiment.figures import rounded
from sentiment_pipeline.sentiment.report import BUCKETS, SentimentReport, report_sql
from sentiment_pipeline.sentiment.scorers import model_id_for
from sentiment_pipeline.stats import collect_stats
from tests.fixtures.cli import invoke
from tests.fixtures.rollup import rebuild_rollup
from tests.test_export import HOSTILE, load
from tests.test_sentiment import SENTPIPE, START, _many, _setup

ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
NOW = datetime(2024, 1, 3, 12, 0, tzinfo=UTC)


def link(engine: sa.Engine, links: list[tuple[str, str, str]]) -> None:
    """Insert (event id, topic, via) rows into event_topics, the event's `occurred_at`
    copied from raw_events (so the stored form is the backend's own)."""
    with engine.begin() as connection:
        for ident, topic, via in links:
            connection.execute(
                sa.text(
                    "INSERT INTO event_topics (id, occurred_at, topic, via) "
                    "SELECT id, occurred_at, :topic, :via FROM raw_events WHERE id = :id"
                ),
                {"id": ident, "topic": topic, "via": via},
            )
        rebuild_rollup(connection)


def _links_for(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Deterministic links: tesla (text or post), ford (text), rivian (post only); many
    events in two or three topics."""
    out = []
    for i, event in enumerate(events):
        if i % 3 == 0:
            out.append((event["id"], "tesla", "text" if i % 2 == 0 else "post"))
        if i % 5 == 0:
            out.append((event["id"], "ford", "text"))
        if i % 4 == 1:
            out.append((event["id"], "rivian", "post"))
    return out


def _scored(url: str, tmp_path: Path, n: int = 240) -> sa.Engine:
    """`n` events over three subreddits, scored by VADER, with `_links_for` links."""
    events = _many(n)
    engine = _setup(url, events)
    score_events(parse_database_url(url), ScoreOptions(), lock_path=tmp_path / "s.lock")
    link(engine, _links_for(events))
    return engine


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _figures(items: list[tuple[float, str]]) -> tuple[Any, ...]:
    n = len(items)
    shares = (
        rounded(sum(1 for _, label in items if label == k) / n)
        for k in ("positive", "neutral", "negative")
    )
    return (n, rounded(math.fsum(c for c, _ in items) / n), *shares)


def _sql_by_topic(engine: sa.Engine, width: timedelta, via: str) -> list[tuple[Any, ...]]:
    """The per-topic report computed directly: event_topics JOIN sentiment_scores in SQL,
    bucketed and averaged in Python."""
    text_only = " AND t.via = 'text'" if via == "text" else ""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT t.topic, s.occurred_at, s.compound, s.label FROM event_topics t "
                "JOIN sentiment_scores s ON s.id = t.id AND s.occurred_at = t.occurred_at "
                f"WHERE s.model = :model{text_only}"
            ),
            {"model": model_id_for("vader")},
        ).all()
    groups: dict[tuple[str, datetime], list[tuple[float, str]]] = defaultdict(list)
    for topic, at, compound, label in rows:
        moment = _moment(at)
        groups[(topic, ORIGIN + ((moment - ORIGIN) // width) * width)].append((compound, label))
    return [(topic, b, *_figures(items)) for (topic, b), items in sorted(groups.items())]


def _got(report: SentimentReport) -> list[tuple[Any, ...]]:
    return [
        (r.topic, r.bucket, r.events, r.mean_compound, r.positive, r.neutral, r.negative)
        for r in report.rows
    ]


# --- sentiment report ---------------------------------------------------------------------


@pytest.mark.parametrize("via", ["any", "text"])
def test_report_by_topic_equals_sql(any_db_url: str, tmp_path: Path, via: str) -> None:
    engine = _scored(any_db_url, tmp_path)
    url = parse_database_url(any_db_url)
    for bucket in ("1d", "7d"):
        report = sentiment_report(url, bucket=bucket, by=("topic",), via=via)
        assert _got(report) == _sql_by_topic(engine, BUCKETS[bucket], via)
        assert all(r.source is None and r.source_id is None for r in report.rows)
    topics = {r.topic for r in sentiment_report(url, by=("topic",), via=via).rows}
    # rivian is linked by post only: --via text drops it
    assert topics == ({"tesla", "ford", "rivian"} if via == "any" else {"tesla", "ford"})
    engine.dispose()


def test_report_topic_filter_counts_each_event_once(any_db_url: str, tmp_path: Path) -> None:
    engine = _scored(any_db_url, tmp_path)
    url = parse_database_url(any_db_url)
    report = sentiment_report(url, topics=("tesla", "ford"))
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT s.source_id, s.occurred_at, s.compound, s.label FROM sentiment_scores s "
                "WHERE s.id IN (SELECT id FROM event_topics WHERE topic IN ('tesla', 'ford'))"
            )
        ).all()
    groups: dict[tuple[str, datetime], list[tuple[float, str]]] = defaultdict(list)
    width = BUCKETS["1d"]
    for sub, at, compound, label in rows:
        moment = _moment(at)
        groups[(sub, ORIGIN + ((moment - ORIGIN) // width) * width)].append((compound, label))
    expected = [(sub, b, *_figures(items)) for (sub, b), items in sorted(groups.items())]
    got = [
        (r.source_id, r.bucket, r.events, r.mean_compound, r.positive, r.neutral, r.negative)
        for r in report.rows
    ]
    assert got == expected
    # an event in both topics counts once here, in both groups under --by topic
    both = sentiment_report(url, topics=("tesla", "ford"), by=("topic",))
    assert sum(r.events for r in both.rows) > sum(r.events for r in report.rows)
    engine.dispose()


def test_report_by_subreddit_and_topic(any_db_url: str, tmp_path: Path) -> None:
    engine = _scored(any_db_url, tmp_path)
    url = parse_database_url(any_db_url)
    report = sentiment_report(url, by=("topic", "subreddit"), topics=("tesla",), bucket="7d")
    for by in (("topic",), ("subreddit",)):  # bounded by time too (TimescaleDB plans)
        for bucket in ("1h", "1d"):
            bounded = sentiment_report(
                url, by=by, topics=("tesla",), bucket=bucket, since=START + timedelta(hours=5)
            )
            assert bounded.rows and all(
                r.bucket + BUCKETS[bucket] > START + timedelta(hours=5) for r in bounded.rows
            )
    assert report.by == ("subreddit", "topic")
    with engine.connect() as connection:
        expected = dict(
            connection.execute(
                sa.text(
                    "SELECT s.source_id, count(*) FROM event_topics t JOIN sentiment_scores s "
                    "ON s.id = t.id AND s.occurred_at = t.occurred_at WHERE t.topic = 'tesla' "
                    "GROUP BY s.source_id"
                )
            ).all()
        )
    got: dict[str, int] = defaultdict(int)
    for row in report.rows:
        assert row.topic == "tesla" and row.source == "reddit"
        got[str(row.source_id)] += row.events
    assert got == expected
    assert [r.source_id for r in report.rows] == sorted(r.source_id or "" for r in report.rows)
    engine.dispose()


def test_report_cli_json_and_unknown_topic(any_db_url: str, tmp_path: Path) -> None:
    engine = _scored(any_db_url, tmp_path, n=90)
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    result = invoke("sentiment", "report", "--json", "--by", "topic", "--via", "text", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["version"] == 1 and data["by"] == ["topic"]
    assert data["filters"]["via"] == "text" and data["filters"]["topics"] == []
    assert {row["topic"] for row in data["rows"]} == {"tesla", "ford"}
    assert set(data["rows"][0]) == {
        "source",
        "source_id",
        "topic",
        "bucket_start",
        "events",
        "mean_compound",
        "positive",
        "neutral",
        "negative",
        "net_sentiment",
        "mean_compound_ci95",
        "net_sentiment_ci95",
    }
    plain = json.loads(invoke("sentiment", "report", "--json", env=env).output)
    assert "topic" not in plain["rows"][0]  # the ungrouped shape is unchanged
    tsv = invoke("sentiment", "report", "--by", "topic", "--by", "subreddit", env=env)
    assert tsv.exit_code == 0
    assert tsv.output.splitlines()[0].startswith("source_id\ttopic\tbucket_start\t")
    unknown = invoke("sentiment", "report", "--topic", "nosuchtopic", env=env)
    assert unknown.exit_code == 0
    assert "No scores for" in unknown.output and "nosuchtopic" in unknown.output
    # grouped by topic over a range no linked event is in: the note points at the links
    later = invoke("sentiment", "report", "--by", "topic", "--since", "2099-01-01", env=env)
    assert later.exit_code == 0 and "linked to a topic" in later.output
    assert "topics match" in later.output and "run `sentpipe sentiment score`" not in later.output
    empty = invoke("sentiment", "report", "--json", "--topic", "nosuchtopic", env=env)
    assert json.loads(empty.output)["rows"] == []
    bad = invoke("sentiment", "report", "--via", "post", env=env)
    assert bad.exit_code == 2
    engine.dispose()


def _explain_pg(db: DatabaseURL, sql: str, params: list[Any]) -> list[str]:
    import psycopg

    with psycopg.connect(db.libpq, autocommit=True) as conn:
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
    assert row is not None

    def walk(node: dict[str, Any]) -> list[str]:
        names = [str(node["Index Name"])] if "Index Name" in node else []
        for child in node.get("Plans", ()):
            names += walk(child)
        return names

    return walk(row[0][0]["Plan"])


def _many_links(engine: sa.Engine, db: DatabaseURL) -> None:
    """40,000 more scored events, each linked to one of 200 other topics, analysed: the
    few tesla links are then best found by the (topic, occurred_at) index, not by
    probing event_topics for every score."""
    if db.backend == "postgresql":
        series = "SELECT g AS n FROM generate_series(1, 40000) AS g"
        at = "timestamptz '2024-03-01' + n * interval '1 minute'"
    else:
        series = (
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 40000) "
            "SELECT n FROM g"
        )
        at = "strftime('%Y-%m-%d %H:%M:%f', '2024-03-01', '+' || n || ' minutes')"
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO sentiment_scores (id, occurred_at, model, source, source_id, "
                "event_type, compound, pos, neu, neg, label, text_chars, scored_at) "
                f"SELECT 'x' || n, {at}, :model, 'reddit', 'news', 'comment', 0.5, 0.5, 0.5, "
                f"0, 'positive', 10, {at} FROM ({series}) AS s"
            ),
            {"model": model_id_for("vader")},
        )
        connection.execute(
            sa.text(
                f"INSERT INTO event_topics SELECT 'x' || n, {at}, 'topic' || (n % 200), "
                f"'text' FROM ({series}) AS s"
            )
        )
        rebuild_rollup(connection)
        connection.execute(sa.text("ANALYZE"))


def test_report_topic_join_uses_the_topic_index(any_db_url: str, tmp_path: Path) -> None:
    engine = _scored(any_db_url, tmp_path, n=120)
    db = parse_database_url(any_db_url)
    _many_links(engine, db)
    timescale = False
    if db.backend == "postgresql":
        with engine.connect() as connection:
            timescale = bool(
                connection.execute(
                    sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
                ).scalar()
            )
    for by in (("topic",), ("subreddit",)):
        report = SentimentReport(model_id_for("vader"), "1d", topics=("tesla",), by=by)
        if db.backend == "postgresql":
            names = _explain_pg(db, *report_sql(report, "postgresql", timescale))
        else:
            sql, params = report_sql(report, "sqlite", False)
            with engine.connect() as connection:
                plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params))
                names = [str(row[-1]) for row in plan]
        assert any("ix_event_topics_topic_occurred_at" in name for name in names), (by, names)
    engine.dispose()


# --- export csv ---------------------------------------------------------------------------

# HOSTILE's events: t3_a (stocks), t1_b (stocks), t1_0 (wsb), t1_c (wsb)
EXPORT_LINKS = [
    ("t3_a", "tesla", "text"),
    ("t3_a", "ford", "post"),
    ("t1_b", "tesla", "post"),
    ("t1_c", "ford", "text"),
    ("t1_c", "z.last-one_9", "text"),
]


def _linked_export_db(url: str) -> DatabaseURL:
    db = load(url, HOSTILE, processed=["t1_b"])
    engine = sa.create_engine(db.sqlalchemy)
    link(engine, EXPORT_LINKS)
    engine.dispose()
    return db


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _export(db: DatabaseURL, where: EventFilter | None = None, cols: str = "id,topics") -> dict:
    buffer = io.BytesIO()
    export_csv(db, buffer, where, parse_columns(cols))
    rows = _rows(buffer.getvalue())
    assert rows[0] == cols.split(",")
    return {row[0]: row[-1] for row in rows[1:]}


def test_export_topics_column_and_filter(any_db_url: str) -> None:
    db = _linked_export_db(any_db_url)
    assert _export(db) == {
        "t3_a": "ford;tesla",
        "t1_b": "tesla",
        "t1_0": "",
        "t1_c": "ford;z.last-one_9",
    }
    assert _export(db, EventFilter(via="text")) == {
        "t3_a": "tesla",
        "t1_b": "",
        "t1_0": "",
        "t1_c": "ford;z.last-one_9",
    }
    assert list(_export(db, EventFilter(topics=("tesla",)))) == ["t3_a", "t1_b"]
    assert list(_export(db, EventFilter(topics=("tesla",), via="text"))) == ["t3_a"]
    assert list(_export(db, EventFilter(topics=("tesla", "ford")))) == ["t3_a", "t1_b", "t1_c"]
    assert _export(db, EventFilter(topics=("nosuchtopic",))) == {}
    # the default columns: the existing 13 in their order, topics appended
    buffer = io.BytesIO()
    export_csv(db, buffer, EventFilter(topics=("ford",), source_ids=("wsb",)))
    rows = _rows(buffer.getvalue())
    assert rows[0][-2:] == ["processed", "topics"] and len(rows[0]) == 14
    assert [(row[0], row[-1]) for row in rows[1:]] == [("t1_c", "ford;z.last-one_9")]


def test_export_topics_partitioned(any_db_url: str, tmp_path: Path) -> None:
    db = _linked_export_db(any_db_url)
    result = export_partitioned(
        db, tmp_path / "out", EventFilter(topics=("tesla",)), parse_columns("id,topics")
    )
    assert result.rows == 2
    assert [p.relative_to(tmp_path / "out").as_posix() for p in result.files] == [
        "reddit/stocks/2024-01-01.csv"
    ]


def test_export_cli_and_installed_command(sqlite_url: str, tmp_path: Path) -> None:
    db = _linked_export_db(sqlite_url)
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    args = ("export", "csv", "-o", "-", "--columns", "id,topics", "--topic", "ford")
    result = invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.replace("\r\n", "\n").splitlines() == [
        "id,topics",
        "t3_a,ford;tesla",
        "t1_c,ford;z.last-one_9",
    ]
    text_only = invoke(*args, "--via", "text", env=env)
    assert text_only.stdout.replace("\r\n", "\n").splitlines() == [
        "id,topics",
        "t1_c,ford;z.last-one_9",
    ]
    none = invoke("export", "csv", "-o", "-", "--topic", "nosuchtopic", env=env)
    assert none.exit_code == 0 and "no events for 'nosuchtopic'" in none.stderr
    out = tmp_path / "tesla.csv"
    completed = subprocess.run(
        [SENTPIPE, "export", "csv", "-o", str(out), "--topic", "tesla", "--quiet"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    rows = _rows(out.read_bytes())
    assert [(row[0], row[-1]) for row in rows[1:]] == [("t3_a", "ford;tesla"), ("t1_b", "tesla")]
    assert db.backend == "sqlite"


TOPIC_NAMES = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,12}", fullmatch=True)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.lists(TOPIC_NAMES, unique=True, max_size=6))
def test_topics_column_is_the_sorted_names(sqlite_url: str, names: list[str]) -> None:
    db = parse_database_url(sqlite_url)
    if not Path(db.sqlite_path).exists():
        load(sqlite_url, HOSTILE[:1])
    engine = sa.create_engine(db.sqlalchemy)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM event_topics"))
    link(engine, [("t3_a", name, "text") for name in names])
    engine.dispose()
    assert _export(db) == {"t3_a": ";".join(sorted(names))}


# --- stats --------------------------------------------------------------------------------


def test_stats_per_topic(any_db_url: str, tmp_path: Path) -> None:
    engine = _scored(any_db_url, tmp_path, n=60)
    with engine.begin() as connection:  # a few unscored linked events
        connection.execute(
            sa.text("DELETE FROM sentiment_scores WHERE id IN ('t1_000000', 't1_000003')")
        )
    db = parse_database_url(any_db_url)
    stats = collect_stats(db, now=NOW)
    with engine.connect() as connection:
        expected = connection.execute(
            sa.text(
                "SELECT t.topic, t.via, count(*), count(s.id), max(t.occurred_at) "
                "FROM event_topics t LEFT JOIN (SELECT DISTINCT id, occurred_at "
                "FROM sentiment_scores) s ON s.id = t.id AND s.occurred_at = t.occurred_at "
                "GROUP BY t.topic, t.via"
            )
        ).all()
    want: dict[str, dict[str, Any]] = {}
    for topic, via, n, scored, last in expected:
        one = want.setdefault(topic, {"events": 0, "by_via": {}, "scored": 0, "last": None})
        one["events"] += n
        one["by_via"][via] = n
        one["scored"] += scored
        one["last"] = max(filter(None, (one["last"], _moment(last))))
    got = {
        f.topic: {
            "events": f.events,
            "by_via": f.by_via,
            "scored": f.scored,
            "last": f.last_occurred_at,
        }
        for f in stats.topics
    }
    assert got == want
    assert want["tesla"]["scored"] < want["tesla"]["events"]  # two scores deleted
    assert [f.topic for f in stats.topics] == sorted(want, key=lambda t: (-want[t]["events"], t))
    data = stats.to_dict()["topics"]
    assert set(data[0]) == {"topic", "events", "by_via", "scored", "last_occurred_at"}

    narrowed = collect_stats(db, topics=("rivian",), via="text", now=NOW)
    assert narrowed.total == 0 and narrowed.topics == []
    assert narrowed.unmatched_topics == ["rivian"]
    rivian = collect_stats(db, topics=("rivian",), source_ids=("news",), now=NOW)
    assert [sid for _s, sid, _n in rivian.by_source_id] == ["news"]
    assert [f.topic for f in rivian.topics] == ["rivian"]
    assert rivian.topics[0].events == rivian.total
    engine.dispose()


def test_stats_cli_topics(any_db_url: str, tmp_path: Path) -> None:
    engine = _scored(any_db_url, tmp_path, n=60)
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    result = invoke("stats", env=env)
    assert result.exit_code == 0, result.output
    assert "via text" in result.output and "rivian" in result.output
    data = json.loads(invoke("stats", "--json", "--topic", "ford", env=env).output)
    assert data["filters"]["topics"] == ["ford"]
    assert [t["topic"] for t in data["topics"]] == ["ford"]
    assert data["total"] == data["topics"][0]["events"] == 12
    unknown = invoke("stats", "--topic", "nosuchtopic", env=env)
    assert unknown.exit_code == 0
    assert "no events for 'nosuchtopic'" in unknown.stderr
    engine.dispose()
