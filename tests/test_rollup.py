"""The daily rollup `sentiment_daily` equals a direct computation over the scores and
topic links after any sequence of what changes them (scoring, rescoring, edits,
redaction, topic links made and forgotten, two scorers at once), on every backend;
`sentiment report` reads it and gives the figures the scores give; `rollup --rebuild`
restores it after rows were written around sentpipe."""

from __future__ import annotations

import json
import math
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.connect import connect_pg, connect_sqlite
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.refresh.store import open_store as open_refresh_store
from sentiment_pipeline.sentiment import ScoreOptions, score_events, sentiment_report
from sentiment_pipeline.sentiment.figures import Sums, rounded
from sentiment_pipeline.sentiment.report import (
    BUCKETS,
    ReportRow,
    SentimentReport,
    report_sql,
    rollup_days,
)
from sentiment_pipeline.sentiment.rollup import rebuild_rollup
from sentiment_pipeline.sentiment.scorers import model_id_for
from sentiment_pipeline.topics.store import PostgresLinks, SqliteLinks
from sentiment_pipeline.topics.tagger import Link
from tests.fixtures.cli import invoke
from tests.test_sentiment import _event, _setup

START = datetime(2024, 3, 1, tzinfo=UTC)
SUBS = ("python", "stocks", "news")
TOPICS = ("tesla", "ford")
TEXTS = (
    "I love this, great work!",
    "This is awful and I hate it.",
    "the market opened today",
    "terrible, horrible, no good day",
    "Das ist wirklich eine sehr gute Nachricht für alle",
    "meh",
    None,
)
KEY = ("model", "topic", "via", "day", "source", "source_id", "language")


# --- the direct computation ---------------------------------------------------------------


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat()
    return str(value)[:10]


def direct(engine: sa.Engine) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """{rollup key: (events, positive, neutral, negative, compound sum, sum of squares)}
    from sentiment_scores and event_topics, in Python."""
    with engine.connect() as connection:
        scores = connection.execute(
            sa.text(
                "SELECT id, occurred_at, model, source, source_id, language, label, compound "
                "FROM sentiment_scores"
            )
        ).all()
        links = connection.execute(sa.text("SELECT id, topic, via FROM event_topics")).all()
    by_event: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for ident, topic, via in links:
        by_event[ident].append((topic, via))
    groups: dict[tuple[str, ...], list[tuple[str, float]]] = defaultdict(list)
    for ident, at, model, source, source_id, language, label, compound in scores:
        base = (_day(at), source, source_id, language or "")
        rows = [("", "")]
        for topic, via in by_event[ident]:
            rows.append((topic, "any"))
            if via == "text":
                rows.append((topic, "text"))
        for topic, via in rows:
            groups[(model, topic, via, *base)].append((label, compound))
    return {key: _sums(items) for key, items in groups.items()}


def _sums(items: list[tuple[str, float]]) -> tuple[Any, ...]:
    labels = [label for label, _ in items]
    return (
        len(items),
        labels.count("positive"),
        labels.count("neutral"),
        labels.count("negative"),
        math.fsum(c for _, c in items),
        math.fsum(c * c for _, c in items),
    )


def stored(engine: sa.Engine) -> dict[tuple[str, ...], tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM sentiment_daily")).mappings().all()
    return {
        (r["model"], r["topic"], r["via"], _day(r["day"]), r["source"], r["source_id"],
         r["language"]): (
            r["events"], r["positive"], r["neutral"], r["negative"], r["compound_sum"],
            r["compound_sumsq"],
        )
        for r in rows
    }  # fmt: skip


def assert_rollup_is_direct(engine: sa.Engine) -> None:
    want, got = direct(engine), stored(engine)
    assert set(got) == set(want)
    for key, figures in want.items():
        assert got[key][:4] == figures[:4], key
        assert math.isclose(got[key][4], figures[4], abs_tol=1e-9), key
        assert math.isclose(got[key][5], figures[5], abs_tol=1e-9), key


# --- what changes scores and links ----------------------------------------------------------


class World:
    """One database and the operations a property test applies to it."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url = url
        self.db: DatabaseURL = parse_database_url(url)
        self.tmp_path = tmp_path
        self.engine = _setup(url, [])
        self.next_id = 0
        with self.engine.begin() as connection:
            for table in ("sentiment_daily", "event_topics", "sentiment_scores", "raw_events"):
                connection.execute(sa.text(f"DELETE FROM {table}"))

    def keys(self, picks: list[int]) -> list[tuple[str, datetime]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT id, occurred_at FROM raw_events ORDER BY id")
            ).all()
        if not rows:
            return []
        chosen = {rows[p % len(rows)] for p in picks}
        return [(ident, _moment(at)) for ident, at in sorted(chosen)]

    def ingest(self, specs: list[tuple[int, int, int]]) -> None:
        events = []
        for sub, minutes, text in specs:
            self.next_id += 1
            events.append(_event(self.next_id, TEXTS[text], sub=SUBS[sub], minutes=minutes))
        with self.engine.begin() as connection:
            from sentiment_pipeline.db.models import RawEventORM

            connection.execute(sa.insert(RawEventORM.__table__), events)

    def score(self, rescore: bool = False, limit: int | None = None, lock: str = "s") -> None:
        options = ScoreOptions(batch_size=3, rescore=rescore, max_events=limit)
        score_events(self.db, options, lock_path=self.tmp_path / f"{lock}.lock")

    def two_scorers(self) -> None:
        errors: list[BaseException] = []

        def run(name: str) -> None:
            try:
                self.score(lock=name)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []

    def edit(self, picks: list[int], text: int) -> None:
        """What `refresh` does with an edit: the new text, and `processed` cleared."""
        with self.engine.begin() as connection:
            for ident, _ in self.keys(picks):
                payload = json.dumps({"subreddit": "x", "body": TEXTS[text]})
                cast = "CAST(:payload AS jsonb)" if self.db.backend == "postgresql" else ":payload"
                connection.execute(
                    sa.text(
                        f"UPDATE raw_events SET payload = {cast}, processed = false WHERE id = :id"
                    ),
                    {"payload": payload, "id": ident},
                )

    def redact(self, picks: list[int]) -> None:
        keys = self.keys(picks)
        store = open_refresh_store(self.db)
        try:
            sqlite_keys = [(ident, _stored_time(self.db, at)) for ident, at in keys]
            store.redact(sqlite_keys)
        finally:
            store.close()

    def link(self, picks: list[int], topic: int, text: bool, forget: bool = False) -> None:
        keys = self.keys(picks)
        name = TOPICS[topic]
        links = [Link(ident, at, name, "text" if text else "post") for ident, at in keys]
        if self.db.backend == "postgresql":
            with connect_pg(self.db, autocommit=False) as pg, pg.cursor() as cursor:
                store = PostgresLinks(cursor)
                store.forget([name], keys) if forget else store.insert(links)
                pg.commit()
        else:
            connection = connect_sqlite(self.db)
            try:
                with connection:
                    sql_store = SqliteLinks(connection)
                    sql_store.forget([name], keys) if forget else sql_store.insert(links)
            finally:
                connection.close()


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stored_time(db: DatabaseURL, moment: datetime) -> Any:
    from sentiment_pipeline.timeparse import storage_text

    return moment if db.backend == "postgresql" else storage_text(moment)


picks = st.lists(st.integers(0, 15), min_size=1, max_size=6)
operation = st.one_of(
    st.tuples(
        st.just("ingest"),
        st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 6 * 24 * 60), st.integers(0, 6)),
            min_size=1,
            max_size=8,
        ),
    ),
    st.tuples(st.just("score"), st.none() | st.integers(1, 5)),
    st.tuples(st.just("rescore"), st.integers(1, 6)),
    st.tuples(st.just("two_scorers")),
    st.tuples(st.just("edit"), picks, st.integers(0, 6)),
    st.tuples(st.just("redact"), picks),
    st.tuples(st.just("link"), picks, st.integers(0, 1), st.booleans()),
    st.tuples(st.just("unlink"), picks, st.integers(0, 1)),
)


def apply(world: World, step: tuple[Any, ...]) -> None:
    name, *args = step
    if name == "ingest":
        world.ingest(args[0])
    elif name == "score":
        world.score(limit=args[0])
    elif name == "rescore":
        world.score(rescore=True, limit=args[0])
    elif name == "two_scorers":
        world.two_scorers()
    elif name == "edit":
        world.edit(*args)
    elif name == "redact":
        world.redact(*args)
    elif name == "link":
        world.link(*args)
    else:
        world.link(args[0], args[1], False, forget=True)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operation, min_size=1, max_size=12))
def test_rollup_equals_the_scores_after_any_sequence(
    any_db_url: str, tmp_path: Path, steps: list[tuple[Any, ...]]
) -> None:
    world = World(any_db_url, tmp_path)
    try:
        world.ingest([(i % 3, i * 397 % (6 * 24 * 60), i % 7) for i in range(12)])
        world.score()  # most steps then meet scored events
        for step in steps:
            apply(world, step)
        world.score()
        assert_rollup_is_direct(world.engine)
        assert_report_is_direct(world)
    finally:
        world.engine.dispose()


# --- the report reads the rollup and gives the scores' figures -----------------------------


def raw_rows(world: World, report: SentimentReport) -> list[tuple[Any, ...]]:
    """The report computed from the scores alone (one query, no rollup)."""
    sql, params = report_sql(report, world.db.backend, False)
    with world.engine.connect() as connection:
        rows = connection.exec_driver_sql(sql, tuple(params)).all()
    out = []
    for *group, bucket, n, pos, neu, neg, total, squares in rows:
        sums = Sums(int(n), int(pos), int(neu), int(neg), float(total), float(squares))
        start = (
            _moment(bucket) if not isinstance(bucket, int) else datetime.fromtimestamp(bucket, UTC)
        )
        out.append((*group, start, n, rounded(sums.mean_compound), rounded(sums.net_sentiment),
                    sums.mean_compound_ci95(), sums.net_sentiment_ci95()))  # fmt: skip
    return sorted(out, key=lambda row: tuple(str(part) for part in row))


def got_rows(report: SentimentReport) -> list[tuple[Any, ...]]:
    out = []
    for r in report.rows:
        group = {
            ("subreddit",): (r.source, r.source_id),
            ("topic",): (r.topic,),
            ("source", "language"): (r.source, r.language),
        }[report.by]
        out.append((*group, r.bucket, r.events, r.mean_compound, r.net_sentiment,
                    r.mean_compound_ci95, r.net_sentiment_ci95))  # fmt: skip
    return sorted(out, key=lambda row: tuple(str(part) for part in row))


def _close(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """Equal, but intervals to 1e-9 (their square roots see the sums' last bits)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x[:-2] != y[:-2]:
            return False
        for i, j in zip(x[-2:], y[-2:], strict=True):
            if (i is None) != (j is None):
                return False
            if i is not None and not all(
                math.isclose(p, q, abs_tol=2e-4) for p, q in zip(i, j, strict=True)
            ):
                return False
    return True


def assert_report_is_direct(world: World) -> None:
    model = model_id_for("vader")
    since = START + timedelta(days=1, hours=7)  # cuts a day: that part comes from the scores
    until = START + timedelta(days=5, hours=3)
    for bucket, by, topics, via in (
        ("1d", ("subreddit",), (), "any"),
        ("7d", ("topic",), (), "text"),
        ("1d", ("subreddit",), ("tesla",), "any"),
        ("1d", ("source", "language"), (), "any"),
    ):
        for window in ((None, None), (since, until)):
            report = sentiment_report(
                world.db, bucket=bucket, since=window[0], until=window[1], by=by,
                topics=topics, via=via,
            )  # fmt: skip
            expected = SentimentReport(model, bucket, window[0], window[1], (), [], topics, via, by)
            assert _close(got_rows(report), raw_rows(world, expected)), (bucket, by, window)


def test_report_plans_whole_days_from_the_rollup() -> None:
    model = model_id_for("vader")
    since = datetime(2024, 3, 1, 7, tzinfo=UTC)
    until = datetime(2024, 3, 9, tzinfo=UTC)
    days, windows = rollup_days(SentimentReport(model, "1d", since, until))
    assert days == (datetime(2024, 3, 2, tzinfo=UTC), until)
    assert windows == [(since, datetime(2024, 3, 2, tzinfo=UTC))]
    days, windows = rollup_days(SentimentReport(model, "1h", since, until))
    assert days is None and windows == [(since, until)]
    inside = SentimentReport(model, "1d", since, since + timedelta(hours=3))
    assert rollup_days(inside) == (None, [(since, since + timedelta(hours=3))])
    several = SentimentReport(model, "7d", topics=("a", "b"))
    assert rollup_days(several) == (None, [(None, None)])
    assert rollup_days(SentimentReport(model, "7d", topics=("a", "b"), by=("topic",)))[0] == (
        None,
        None,
    )


# --- rebuild --------------------------------------------------------------------------------


def test_rebuild_restores_the_rollup_after_sql_by_hand(any_db_url: str, tmp_path: Path) -> None:
    world = World(any_db_url, tmp_path)
    world.ingest([(i % 3, i * 397 % (6 * 24 * 60), i % 7) for i in range(30)])
    world.score()
    world.link([1, 2, 3], 0, True)
    before = stored(world.engine)
    with world.engine.begin() as connection:  # around sentpipe: the rollup does not know
        connection.execute(
            sa.text("UPDATE sentiment_scores SET compound = 0.5, label = 'positive'")
        )
        connection.execute(sa.text("DELETE FROM sentiment_daily WHERE source_id = 'news'"))
    assert stored(world.engine) != direct(world.engine)
    since = (START + timedelta(days=2, hours=5)).isoformat()
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    result = invoke("sentiment", "rollup", "--rebuild", "--since", since, "--json", env=env)
    assert result.exit_code == 0, result.output
    state = json.loads(result.output)
    assert state["rebuilt"] and state["since"] == "2024-03-03"
    partial = stored(world.engine)
    # the days before --since's are as they were, the rest as the scores now give them
    cut = "2024-03-03"
    assert _close_maps(partial, direct(world.engine), cut)
    assert {k: v for k, v in partial.items() if k[3] < cut and k[5] != "news"} == {
        k: v for k, v in before.items() if k[3] < cut and k[5] != "news"
    }
    rebuild_rollup(world.db)
    assert_rollup_is_direct(world.engine)
    world.engine.dispose()


def _close_maps(a: dict[Any, Any], b: dict[Any, Any], cut: str) -> bool:
    a = {k: v for k, v in a.items() if k[3] >= cut}
    b = {k: v for k, v in b.items() if k[3] >= cut}
    return set(a) == set(b) and all(
        a[k][:4] == b[k][:4]
        and all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(a[k][4:], b[k][4:], strict=True))
        for k in a
    )


def test_rollup_cli_state_and_errors(sqlite_url: str, tmp_path: Path) -> None:
    world = World(sqlite_url, tmp_path)
    world.ingest([(0, 60, 0), (1, 60 * 30, 1)])
    world.score()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    result = invoke("sentiment", "rollup", "--json", env=env)
    assert result.exit_code == 0, result.output
    state = json.loads(result.output)
    assert state["rows"] == 2 and state["first_day"] == "2024-03-01"
    assert state["last_day"] == "2024-03-02" and state["models"] == [model_id_for("vader")]
    result = invoke("sentiment", "rollup", "--since", "7d", env=env)
    assert result.exit_code == 2 and "--rebuild" in result.output
    world.engine.dispose()


def test_migration_fills_the_rollup_from_stored_scores(any_db_url: str, tmp_path: Path) -> None:
    from alembic import command

    from sentiment_pipeline.db.migrate import alembic_config

    world = World(any_db_url, tmp_path)
    world.ingest([(i % 3, i * 397 % (6 * 24 * 60), i % 7) for i in range(20)])
    world.score()
    world.link([0, 4, 5], 1, False)
    want = stored(world.engine)
    with world.engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
        command.upgrade(config, "head")
        connection.commit()
    assert set(stored(world.engine)) == set(want)
    assert_rollup_is_direct(world.engine)
    world.engine.dispose()


def test_report_of_a_day_equals_its_scores_on_every_backend(
    any_db_url: str, tmp_path: Path
) -> None:
    world = World(any_db_url, tmp_path)
    world.ingest([(0, 600 + i, i % 4) for i in range(9)])
    world.score()
    report = sentiment_report(world.db, bucket="1d")
    (row,) = report.rows
    with world.engine.connect() as connection:
        values = connection.execute(sa.text("SELECT compound, label FROM sentiment_scores")).all()
    compounds = [c for c, _ in values]
    mean = math.fsum(compounds) / len(compounds)
    sd = math.sqrt(math.fsum((c - mean) ** 2 for c in compounds) / (len(compounds) - 1))
    assert row.events == 9 and row.mean_compound == rounded(mean)
    low, high = row.mean_compound_ci95  # type: ignore[misc]
    assert math.isclose(low, max(-1, mean - 1.959963984540054 * sd / 3), abs_tol=1e-4)
    assert math.isclose(high, min(1, mean + 1.959963984540054 * sd / 3), abs_tol=1e-4)
    assert row.bucket.date() == date(2024, 3, 1)
    assert BUCKETS["1d"] == timedelta(days=1)
    world.engine.dispose()


@given(
    counts=st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)),
    values=st.lists(st.floats(-1, 1), min_size=120, max_size=120),  # one per score: n ≤ 120
)
def test_row_figures_are_the_sums_figures(
    counts: tuple[int, int, int], values: list[float]
) -> None:
    """The one-call figures of a report row equal `Sums`' own, and a row's intervals
    are the normal approximation over its scores."""
    from sentiment_pipeline.sentiment.figures import Z95, intervals, row_figures

    positive, neutral, negative = counts
    n = positive + neutral + negative
    xs = values[:n]
    sums = Sums(n, positive, neutral, negative, math.fsum(xs), math.fsum(x * x for x in xs))
    figures = (n, positive, neutral, negative, sums.compound_sum, sums.compound_sumsq)
    mean, pos, neu, neg, net = row_figures(*figures)
    mean_ci, net_ci = intervals(*figures)
    assert (mean_ci, net_ci) == (sums.mean_compound_ci95(), sums.net_sentiment_ci95())
    row = ReportRow.of(("reddit", "x", None, None), datetime(2024, 3, 1, tzinfo=UTC), sums)
    assert (row.mean_compound_ci95, row.net_sentiment_ci95) == (mean_ci, net_ci)
    if n:
        assert (mean, net) == (rounded(sums.mean_compound), rounded(sums.net_sentiment))
        assert (pos, neu, neg) == tuple(rounded(c / n) for c in counts)
        assert net_ci is None or net_ci[0] <= net <= net_ci[1]
    if n >= 2:  # the interval from its definition: mean ± z·s/√n over the scores
        centre = math.fsum(xs) / n
        sd = math.sqrt(math.fsum((x - centre) ** 2 for x in xs) / (n - 1))
        assert mean_ci is not None
        assert math.isclose(mean_ci[0], max(-1, centre - Z95 * sd / math.sqrt(n)), abs_tol=2e-4)
        assert math.isclose(mean_ci[1], min(1, centre + Z95 * sd / math.sqrt(n)), abs_tol=2e-4)
    else:
        assert (mean_ci, net_ci, row.mean_compound_ci95) == (None, None, None)


@given(
    value=st.one_of(
        st.floats(-2, 2, allow_nan=False),
        # within a hair of a 4-place half, where the two roundings could part
        st.builds(
            lambda k, nudge: (k + 0.5) / 10000 + nudge,
            st.integers(-20000, 20000),
            st.floats(-2e-9, 2e-9),
        ),
        st.sampled_from([0.0, -0.0, -0.00004, 0.00005, -0.00005, 1e300, -1e-300]),
    )
)
def test_rounded_is_round_through_ten_places(value: float) -> None:
    """The fast `rounded` gives `round(round(value, 10), 4)` exactly, sign of zero
    included."""
    expected = round(round(value, 10), 4)
    got = rounded(value)
    assert got == expected and math.copysign(1, got) == math.copysign(1, expected)


def test_a_database_before_the_rollup_says_to_migrate(any_db_url: str, tmp_path: Path) -> None:
    """A command reading a table a later migration adds, on a database not yet migrated
    to it, says so in one line (exit 2) instead of failing on the missing table."""
    from alembic import command

    from sentiment_pipeline.db.migrate import HEAD_REVISION, alembic_config

    world = World(any_db_url, tmp_path)
    world.ingest([(0, 60, 0)])
    world.score()
    with world.engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
        connection.commit()
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    for args in (("sentiment", "report"), ("sentiment", "rollup")):
        result = invoke(*args, env=env)
        assert result.exit_code == 2, result.output
        assert f"not migrated (at revision 0007, head {HEAD_REVISION})" in result.output
        assert "sentpipe db init" in result.output and "Traceback" not in result.output
    world.engine.dispose()


def test_report_filters_are_checked_and_named_when_nothing_matches(
    sqlite_url: str, tmp_path: Path
) -> None:
    world = World(sqlite_url, tmp_path)
    world.ingest([(1, 60, 0), (1, 120, 1)])  # r/stocks
    world.score()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    for spelling in ("R/Stocks", "/R/STOCKS", "r/stocks", " Stocks "):
        data = json.loads(
            invoke("sentiment", "report", "--subreddit", spelling, "--json", env=env).output
        )
        assert sum(row["events"] for row in data["rows"]) == 2, spelling
    backwards = invoke(
        "sentiment", "report", "--since", "2024-03-05", "--until", "2024-03-01", env=env
    )
    assert backwards.exit_code == 2 and "is not before --until" in backwards.output
    exported = invoke(
        "export", "csv", "-o", "-", "--since", "2024-03-05", "--until", "2024-03-05", env=env
    )
    assert exported.exit_code == 2 and "is not before --until" in exported.output
    none = invoke("sentiment", "report", "--subreddit", "nosuch", env=env)
    assert none.exit_code == 0 and "match --subreddit" in none.output
    assert "run `sentpipe sentiment score`" not in none.output
    world.engine.dispose()
