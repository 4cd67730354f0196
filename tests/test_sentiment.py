"""`sentpipe sentiment score|report` on TimescaleDB, PostgreSQL and SQLite (real servers)."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment_pipeline.cli import app
from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.models import RawEventORM
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.sentiment import (
    ScoreOptions,
    clean_text,
    label_for,
    score_events,
    sentiment_report,
)
from sentiment_pipeline.sentiment.figures import rounded
from sentiment_pipeline.sentiment.report import BUCKETS
from sentiment_pipeline.sentiment.scorers import get_scorer
from sentiment_pipeline.sentiment.scorers.vader import (
    CHUNK_LIMIT,
    EXACT_LIMIT,
    chunks,
    vader_length,
)

runner = CliRunner()
SENTPIPE = str(Path(sys.executable).with_name("sentpipe"))
START = datetime(2024, 3, 1, tzinfo=UTC)
VADER = SentimentIntensityAnalyzer()


def _event(
    i: int,
    text: str | None,
    *,
    kind: str = "comment",
    sub: str = "python",
    title: str | None = None,
    minutes: int | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"subreddit": sub}
    if kind == "comment":
        payload["body"] = text
    else:
        payload["title"] = title or ""
        payload["selftext"] = text
    return {
        "id": f"{'t1' if kind == 'comment' else 't3'}_{i:06d}",
        "occurred_at": START + timedelta(minutes=i * 37 if minutes is None else minutes),
        "source": "reddit",
        "source_id": sub,
        "event_type": kind,
        "payload": payload,
    }


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(parse_database_url(url).sqlalchemy)


def _setup(url: str, events: list[dict[str, Any]]) -> sa.Engine:
    init_db(parse_database_url(url))
    engine = _engine(url)
    if events:
        with engine.begin() as connection:
            connection.execute(sa.insert(RawEventORM.__table__), events)
    return engine


def _scores(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM sentiment_scores")).mappings().all()
    return {row["id"]: dict(row) for row in rows}


def _counts(engine: sa.Engine) -> tuple[int, int, int]:
    """(events, processed, scores)"""
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM raw_events), "
                    "(SELECT count(*) FROM raw_events WHERE processed), "
                    "(SELECT count(*) FROM sentiment_scores)"
                )
            ).one()
        )


def _many(n: int, subs: tuple[str, ...] = ("python", "stocks", "news")) -> list[dict[str, Any]]:
    words = ("great", "awful", "fine", "love it", "hate this", "meh", "the market", ":)")
    out = []
    for i in range(n):
        text = None if i % 17 == 0 else f"{words[i % 8]} and {words[(i * 3) % 8]} today!"
        out.append(_event(i, text, sub=subs[i % len(subs)], minutes=i * 7))
    return out


# --- cleaning and scoring (no database) -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("I &lt;3 this &amp; that", "I <3 this & that"),
        ("see [the docs](https://example.com/x) now", "see the docs now"),
        ("go to https://example.com/a?b=c or www.x.org!", "go to or !"),
        ("> you are wrong\nNo, YOU are wrong!!! 😡", "No, YOU are wrong!!! 😡"),
        ("code:\n```\nx = 'terrible'\n```\nLooks GOOD :)", "code: Looks GOOD :)"),
        ("inline `bad()` call\n    indented awful code\nnice", "inline call nice"),
        ("nul\x00byte", "nulbyte"),
    ],
)
def test_cleaning_examples(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


def test_long_texts_are_chunked_and_bounded() -> None:
    text = "I love this. " * 20_000
    pieces = chunks(text)
    assert all(len(p) <= CHUNK_LIMIT for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert [len(p) for p in chunks("!" * 50_000)] == [CHUNK_LIMIT] * 100
    emoji = "😀😡🎉🚀" * 200  # 800 characters, but ~10,000 once VADER spells them out
    assert vader_length(emoji) > EXACT_LIMIT > len(emoji)
    emoji_pieces = chunks(emoji, CHUNK_LIMIT, vader_length)
    assert "".join(emoji_pieces) == emoji
    assert all(vader_length(p) <= CHUNK_LIMIT for p in emoji_pieces)
    scorer = get_scorer("vader")
    assert scorer.model_id.startswith("vader-3.")
    for exact in ("This is GREAT!!! :)", "Not bad at all. I hate waiting though! " * 120):
        assert len(exact) <= EXACT_LIMIT  # an ordinary long comment: VADER's own scores
        assert tuple(scorer.score(exact)) == tuple(
            VADER.polarity_scores(exact)[k] for k in ("compound", "pos", "neu", "neg")
        )
    assert scorer.score(text).compound > 0.5
    assert scorer.score(emoji) != tuple(
        VADER.polarity_scores(emoji)[k] for k in ("compound", "pos", "neu", "neg")
    )


def test_labels_use_vader_thresholds() -> None:
    assert [label_for(x) for x in (0.05, 0.0499, -0.0499, -0.05)] == [
        "positive",
        "neutral",
        "neutral",
        "negative",
    ]


# --- scoring on every backend -------------------------------------------------------------


def test_scores_equal_vader_on_cleaned_text(any_db_url: str, tmp_path: Path) -> None:
    texts = [
        "I absolutely LOVE this!!! 😍",
        "This is the worst &amp; most awful thing :(",
        "> quoted hate\nmeh, it is fine I guess",
        "Check [this great link](https://x.org) — not bad at all",
        "مرحبا this is good ‏RTL‏ text",
    ]
    events = [_event(i, t) for i, t in enumerate(texts)]
    events.append(_event(99, "Amazing results", kind="submission", title="Terrible title?"))
    engine = _setup(any_db_url, events)
    result = score_events(
        parse_database_url(any_db_url), ScoreOptions(), lock_path=tmp_path / "s.lock"
    )
    assert (result.scored, result.skipped, result.waiting) == (6, 0, 0)
    scores = _scores(engine)
    expected_texts = {e["id"]: clean_text(e["payload"].get("body") or "") for e in events[:-1]}
    expected_texts["t3_000099"] = clean_text("Terrible title?\n\nAmazing results")
    for ident, text in expected_texts.items():
        vader = VADER.polarity_scores(text)
        row = scores[ident]
        assert (row["compound"], row["pos"], row["neu"], row["neg"]) == (
            vader["compound"],
            vader["pos"],
            vader["neu"],
            vader["neg"],
        )
        assert row["label"] == label_for(vader["compound"])
        assert row["text_chars"] == len(text)
        assert row["model"] == result.model
    assert _counts(engine) == (6, 6, 6)
    engine.dispose()


def test_skipped_and_hostile_texts(any_db_url: str, tmp_path: Path) -> None:
    events = [
        _event(0, "[deleted]"),
        _event(1, "[removed]"),
        _event(2, ""),
        _event(3, None),
        _event(4, "   "),
        _event(5, "https://only-a-link.example.com"),
        _event(6, "😀🎉😡" * 267),
        _event(7, "‮evil RTL override‬ in a great comment"),
        _event(8, "wow " * 50_000),
        _event(9, "!" * 50_000),
        _event(10, "[deleted]", kind="submission", title="[deleted]"),
    ]
    engine = _setup(any_db_url, events)
    result = score_events(
        parse_database_url(any_db_url), ScoreOptions(batch_size=3), lock_path=tmp_path / "l"
    )
    assert (result.scored, result.skipped) == (4, 7)
    assert _counts(engine) == (11, 11, 4)
    assert set(_scores(engine)) == {"t1_000006", "t1_000007", "t1_000008", "t1_000009"}
    again = score_events(parse_database_url(any_db_url), ScoreOptions(), lock_path=tmp_path / "l")
    assert (again.scored, again.skipped) == (0, 0)
    engine.dispose()


def test_filters_max_events_and_rescore(any_db_url: str, tmp_path: Path) -> None:
    engine = _setup(any_db_url, _many(60))
    url = parse_database_url(any_db_url)
    lock = tmp_path / "l"
    first = score_events(url, ScoreOptions(source_ids=("stocks",), batch_size=7), lock_path=lock)
    assert first.scored + first.skipped == 20
    assert {r["source_id"] for r in _scores(engine).values()} == {"stocks"}
    capped = score_events(url, ScoreOptions(max_events=9, batch_size=4), lock_path=lock)
    assert capped.scored + capped.skipped == 9
    until = START + timedelta(minutes=7 * 30)
    window = score_events(url, ScoreOptions(until=until), lock_path=lock)
    assert window.waiting == 0
    rest = score_events(url, ScoreOptions(), lock_path=lock)
    assert _counts(engine)[1] == 60
    assert first.scored + capped.scored + window.scored + rest.scored == _counts(engine)[2]

    before = _scores(engine)["t1_000001"]
    with engine.begin() as connection:  # an edited comment
        connection.execute(
            sa.update(RawEventORM.__table__)
            .where(RawEventORM.__table__.c.id == "t1_000001")
            .values(payload={"subreddit": "stocks", "body": "absolutely horrible, I hate it"})
        )
    nothing = score_events(url, ScoreOptions(), lock_path=lock)
    assert nothing.scored == 0
    assert _scores(engine)["t1_000001"]["compound"] == before["compound"]
    rescored = score_events(url, ScoreOptions(rescore=True, batch_size=11), lock_path=lock)
    assert rescored.scored + rescored.skipped == 60
    after = _scores(engine)["t1_000001"]
    assert after["compound"] == VADER.polarity_scores("absolutely horrible, I hate it")["compound"]
    assert after["label"] == "negative"
    assert (
        len(_scores(engine))
        == _counts(engine)[2]
        == first.scored + capped.scored + (window.scored + rest.scored)
    )
    engine.dispose()


def test_empty_database_and_dry_run(any_db_url: str, tmp_path: Path) -> None:
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    engine = _setup(any_db_url, [])
    result = runner.invoke(app, ["sentiment", "score", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["scored"] == 0
    report = runner.invoke(app, ["sentiment", "report"], env=env)
    assert report.exit_code == 0 and "No scores" in report.output, report.output
    with engine.begin() as connection:
        connection.execute(sa.insert(RawEventORM.__table__), _many(5))
    dry = runner.invoke(app, ["sentiment", "score", "--dry-run", "--json"], env=env)
    assert json.loads(dry.output)["waiting"] == 5 and json.loads(dry.output)["dry_run"]
    assert _counts(engine) == (5, 0, 0)
    engine.dispose()


def test_unmigrated_database_points_to_db_init(any_db_url: str, tmp_path: Path) -> None:
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    if any_db_url.startswith("sqlite"):
        sqlite_path = parse_database_url(any_db_url).sqlite_path
        sqlite_path.touch()
    for command in (["sentiment", "score"], ["sentiment", "report"]):
        result = runner.invoke(app, command, env=env)
        assert result.exit_code == 2, result.output
        assert "sentpipe db init" in result.output
        assert "Traceback" not in result.output


def test_missing_sentiment_table_points_to_db_init(any_db_url: str, tmp_path: Path) -> None:
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    engine = _setup(any_db_url, _many(3))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE sentiment_scores"))
    engine.dispose()
    for command in (["sentiment", "score"], ["sentiment", "report"]):
        result = runner.invoke(app, command, env=env)
        assert result.exit_code == 2, result.output
        assert "sentiment_scores does not exist" in result.output
        assert "Run `sentpipe db init` first" in result.output
        assert len(result.output.strip().splitlines()) <= 2  # the error and its hint


def test_plot_without_matplotlib_names_the_extra(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(sqlite_url, _many(3)).dispose()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    result = runner.invoke(app, ["sentiment", "report", "--plot", str(tmp_path / "x.png")], env=env)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert "matplotlib" in lines[0] and "sentpipe[plot]" in result.output
    assert len(lines) <= 2 and "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists()


def test_unknown_model_and_bucket(sqlite_url: str, tmp_path: Path) -> None:
    _setup(sqlite_url, []).dispose()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    result = runner.invoke(app, ["sentiment", "score", "--model", "nope"], env=env)
    assert result.exit_code == 2 and "Choose from vader" in result.output
    result = runner.invoke(app, ["sentiment", "report", "--bucket", "2d"], env=env)
    assert result.exit_code == 2 and "1h, 1d, 7d" in result.output


def test_sqlite_second_scorer_exits_4(sqlite_url: str, tmp_path: Path) -> None:
    from sentiment_pipeline.lock import run_lock

    _setup(sqlite_url, _many(3)).dispose()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    with run_lock(tmp_path / "sentiment.lock"):
        result = runner.invoke(app, ["sentiment", "score"], env=env)
    assert result.exit_code == 4, result.output
    assert f"pid {os.getpid()}" in result.output
    with run_lock(tmp_path / "scrape.lock"):  # a running scrape does not block scoring
        result = runner.invoke(app, ["sentiment", "score", "--workers", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 process" in result.output


# --- many workers on PostgreSQL/TimescaleDB -------------------------------------------------


@pytest.fixture(params=["timescale", "postgres"])
def pg_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def _run(url: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
    }
    return subprocess.Popen(
        [SENTPIPE, "sentiment", "score", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_installed_score_under_cron_prints_a_timestamped_summary(
    sqlite_url: str, tmp_path: Path
) -> None:
    _setup(sqlite_url, _many(30))
    process = _run(sqlite_url, tmp_path)  # stdout is a pipe, as under cron
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    line = out.strip().splitlines()[-1]
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Scored \d+ events, skipped \d+ .* 0 still waiting\."
    assert re.fullmatch(pattern, line), line


def test_two_scorers_at_once_take_disjoint_events(pg_url: str, tmp_path: Path) -> None:
    events = _many(3000)
    engine = _setup(pg_url, events)
    runs = [_run(pg_url, tmp_path, "--json", "--batch-size", "40") for _ in range(2)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        results.append(json.loads(out))
    assert sum(r["scored"] + r["skipped"] for r in results) == 3000
    assert all(r["scored"] > 0 for r in results)  # both took part
    total, processed, scores = _counts(engine)
    assert (total, processed) == (3000, 3000)
    assert scores == sum(r["scored"] for r in results)  # nobody scored an event twice
    assert scores == sum(1 for e in events if e["payload"]["body"])
    engine.dispose()


def test_workers_option_uses_processes(pg_url: str, tmp_path: Path) -> None:
    engine = _setup(pg_url, _many(800))
    result = runner.invoke(
        app,
        ["sentiment", "score", "--workers", "2", "--batch-size", "25", "--json"],
        env={"SENTPIPE_DATABASE_URL": pg_url, "SENTPIPE_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["workers"] == 2 and data["scored"] + data["skipped"] == 800
    assert _counts(engine) == (800, 800, data["scored"])
    engine.dispose()


def test_killed_worker_loses_nothing(pg_url: str, tmp_path: Path) -> None:
    events = _many(6000)
    engine = _setup(pg_url, events)
    run = _run(pg_url, tmp_path, "--batch-size", "50", "--quiet")
    deadline = time.monotonic() + 180  # a slow start on a busy machine is not a failure
    while _counts(engine)[1] < 200 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    assert run.poll() is None, "the scorer ended before it could be killed"
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL
    _, processed, _ = _counts(engine)
    assert 0 < processed < 6000
    with engine.connect() as connection:
        unscored = connection.execute(
            sa.text(
                "SELECT r.id, r.payload FROM raw_events r WHERE r.processed AND NOT EXISTS "
                "(SELECT 1 FROM sentiment_scores s WHERE s.id = r.id "
                "AND s.occurred_at = r.occurred_at)"
            )
        ).all()
    assert all(payload.get("body") is None for _, payload in unscored)  # only skipped ones
    again = _run(pg_url, tmp_path, "--json")
    _out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert _counts(engine) == (6000, 6000, sum(1 for e in events if e["payload"]["body"]))
    engine.dispose()


# --- report ------------------------------------------------------------------------------


def _expected_report(engine: sa.Engine, width: timedelta) -> list[tuple[Any, ...]]:
    """Independent figures: raw score rows grouped in Python."""
    origin = datetime(2000, 1, 3, tzinfo=UTC)
    groups: dict[tuple[str, datetime], list[tuple[float, str]]] = defaultdict(list)
    for row in _scores(engine).values():
        moment = row["occurred_at"]
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        start = origin + ((moment - origin) // width) * width
        groups[(row["source_id"], start)].append((row["compound"], row["label"]))
    out = []
    for (sub, start), items in sorted(groups.items()):
        n = len(items)
        out.append(
            (
                sub,
                start,
                n,
                rounded(math.fsum(c for c, _ in items) / n),
                *(
                    rounded(sum(1 for _, lab in items if lab == k) / n)
                    for k in ("positive", "neutral", "negative")
                ),
            )
        )
    return out


@pytest.mark.parametrize("bucket", ["1h", "1d", "7d"])
def test_report_equals_direct_computation(any_db_url: str, tmp_path: Path, bucket: str) -> None:
    from sentiment_pipeline.sentiment.report import BUCKETS

    engine = _setup(any_db_url, _many(400))
    url = parse_database_url(any_db_url)
    score_events(url, ScoreOptions(), lock_path=tmp_path / "l")
    report = sentiment_report(url, bucket=bucket)
    got = [
        (r.source_id, r.bucket, r.events, r.mean_compound, r.positive, r.neutral, r.negative)
        for r in report.rows
    ]
    assert got == _expected_report(engine, BUCKETS[bucket])
    narrowed = sentiment_report(
        url, bucket=bucket, source_ids=("news",), since=START + timedelta(hours=5)
    )
    assert narrowed.rows and all(
        r.source_id == "news" and r.bucket + BUCKETS[bucket] > START + timedelta(hours=5)
        for r in narrowed.rows
    )
    engine.dispose()


def test_report_cli_json_and_plot(any_db_url: str, tmp_path: Path) -> None:
    from PIL import Image

    engine = _setup(any_db_url, _many(120))
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    assert runner.invoke(app, ["sentiment", "score", "--quiet"], env=env).exit_code == 0
    result = runner.invoke(app, ["sentiment", "report", "--json", "--subreddit", "news"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["version"] == 1 and data["bucket"] == "1d"
    assert {row["source_id"] for row in data["rows"]} == {"news"}
    assert sum(row["events"] for row in data["rows"]) == sum(
        1 for r in _scores(engine).values() if r["source_id"] == "news"
    )
    png = tmp_path / "chart.png"
    result = runner.invoke(app, ["sentiment", "report", "--plot", str(png)], env=env)
    assert result.exit_code == 0, result.output
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 100 and image.size[1] > 100
        assert len(image.getcolors(maxcolors=1_000_000) or []) > 2  # something was drawn
    bad = runner.invoke(app, ["sentiment", "report", "--plot", str(tmp_path / "x.jpg")], env=env)
    assert bad.exit_code == 2 and ".png or .svg" in bad.output
    engine.dispose()


def test_installed_command_help() -> None:
    result = subprocess.run(
        [SENTPIPE, "sentiment", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "score" in result.stdout and "report" in result.stdout


# --- schema --------------------------------------------------------------------------------


def test_migration_up_down_up(any_db_url: str) -> None:
    from alembic import command

    from sentiment_pipeline.db.migrate import alembic_config

    init_db(parse_database_url(any_db_url))
    engine = _engine(any_db_url)
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert inspector.get_pk_constraint("sentiment_scores")["constrained_columns"] == [
            "id",
            "occurred_at",
            "model",
        ]
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        connection.commit()
        assert not sa.inspect(connection).has_table("sentiment_scores")
        assert sa.inspect(connection).has_table("raw_events")
        command.upgrade(config, "head")
        connection.commit()
        assert sa.inspect(connection).has_table("sentiment_scores")
    engine.dispose()


def test_timescale_hypertable_uses_raw_events_interval(timescale_url: str) -> None:
    result = runner.invoke(
        app,
        ["db", "init", "--chunk-interval", "2 days"],
        env={"SENTPIPE_DATABASE_URL": timescale_url},
    )
    assert result.exit_code == 0, result.output
    engine = _engine(timescale_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions "
                "ORDER BY hypertable_name"
            )
        ).all()
    assert [(name, interval) for name, interval in rows] == [
        ("event_topics", timedelta(days=2)),
        ("raw_event_revisions", timedelta(days=2)),
        ("raw_events", timedelta(days=2)),
        ("sentiment_scores", timedelta(days=2)),
    ]
    engine.dispose()


def test_stats_shows_scored_not_scorable_waiting(any_db_url: str, tmp_path: Path) -> None:
    engine = _setup(any_db_url, _many(40))
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    url = parse_database_url(any_db_url)
    done = score_events(url, ScoreOptions(max_events=30), lock_path=tmp_path / "l")
    assert done.skipped == 2  # the run's events without text (0 and 17)
    result = runner.invoke(app, ["stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (entry,) = data["sentiment"]
    assert entry == {"model": done.model, "scored": done.scored, "skipped": 0, "waiting": 10}
    assert data["not_scorable"] == {"reddit": 2}  # no text: not scorable, never skipped
    text = runner.invoke(app, ["stats"], env=env)
    assert f"{done.scored:,} scored, 2 not scorable (reddit 2), 10 waiting" in text.output
    engine.dispose()


# The three records of shared case 05: an ordinary year, year 1 and year 999.
OLD_YEARS = {
    "t3_ya0001": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
    "t3_ya0002": datetime(1, 1, 1, tzinfo=UTC),
    "t3_ya0003": datetime(999, 6, 1, 12, tzinfo=UTC),
}


def _bucket_start(moment: datetime, width: timedelta) -> str:
    origin = datetime(2000, 1, 3, tzinfo=UTC)  # TimescaleDB's default origin, a Monday
    return (moment - (moment - origin) % width).isoformat()


def test_years_before_1000_are_scored_and_reported(any_db_url: str, tmp_path: Path) -> None:
    """`--since`/`--until`/`--rescore` bounds and report buckets before the year 1000
    (four-digit years on SQLite, whose times compare as text)."""
    env = {"SENTPIPE_DATABASE_URL": any_db_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    assert runner.invoke(app, ["db", "init"], env=env).exit_code == 0
    lines = [
        json.dumps(
            {
                "id": ident,
                "occurred_at": moment.isoformat(),
                "source": "reddit",
                "source_id": "python",
                "event_type": "submission",
                "payload": {"title": "what a great day"},
            }
        )
        for ident, moment in OLD_YEARS.items()
    ]
    source = tmp_path / "input.ndjson"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingested = runner.invoke(app, ["ingest", "ndjson", str(source), "--sink", "database"], env=env)
    assert ingested.exit_code == 0, ingested.output

    def score(*args: str) -> int:
        result = runner.invoke(app, ["sentiment", "score", "--json", *args], env=env)
        assert result.exit_code == 0, result.output
        return int(json.loads(result.stdout)["scored"])

    def starts(*args: str) -> list[str]:
        result = runner.invoke(app, ["sentiment", "report", "--json", *args], env=env)
        assert result.exit_code == 0, result.output
        return [row["bucket_start"] for row in json.loads(result.stdout)["rows"]]

    assert score("--since", "0500-01-01") == 2  # years 999 and 2023
    assert score("--until", "1000-01-01") == 1  # year 1
    assert score("--rescore", "--since", "0001-01-01", "--until", "1000-01-01") == 2
    day = [_bucket_start(m, timedelta(days=1)) for m in sorted(OLD_YEARS.values())]
    assert day == ["0001-01-01T00:00:00+00:00", "0999-06-01T00:00:00+00:00", day[2]]
    assert starts() == day
    assert starts("--since", "0500-01-01", "--until", "2000-01-01") == [day[1]]
    assert starts("--until", "0999-06-01T12:00:00Z") == [day[0]]
    for width in ("1h", "7d"):
        expected = [_bucket_start(m, BUCKETS[width]) for m in sorted(OLD_YEARS.values())]
        assert starts("--bucket", width) == expected
    plain = runner.invoke(app, ["sentiment", "report"], env=env)  # not a terminal: TSV
    cells = [line.split()[:3] for line in plain.stdout.splitlines()]
    assert ["python", "0999-06-01T00:00:00+00:00", "1"] in cells
