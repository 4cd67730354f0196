"""The job skeleton (`pipeline.open_job`): it closes exactly what it opened, on every way
out, with real SQLite and CSV sinks; the pipeline and its writer close nothing they were
handed; the jobs (catch-up, ingest, backfill) open their sinks through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.backfill import BackfillOptions, backfill_async
from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.ingest import ingest_ndjson_async
from sentiment_pipeline.pipeline import job as job_module
from sentiment_pipeline.pipeline import open_job, replay_spool
from sentiment_pipeline.pipeline.deadletter import DeadLetterWriter
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.pipeline.writer import BatchWriter
from sentiment_pipeline.settings import Settings, load_settings
from sentiment_pipeline.sinks.csv_sink import CsvSink
from sentiment_pipeline.sinks.sqlite import SqliteSink
from sentiment_pipeline.sources.reddit_dump.synthetic import dump_lines, dump_objects, write_dump
from tests.fixtures.events import event, ndjson_line, raw_event, stored_rows


def settings_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """The embedded SQLite database and the CSV sink under `tmp_path/data`."""
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTPIPE_SINKS", "database,csv")
    monkeypatch.setenv("SENTPIPE_BATCH_SIZE", "10")
    monkeypatch.setenv("SENTPIPE_FLUSH_INTERVAL", "0.05")
    monkeypatch.setenv("SENTPIPE_PARSE_WORKERS", "0")
    for key, value in env.items():
        monkeypatch.setenv(f"SENTPIPE_{key}", value)
    return load_settings()


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every SQLite or CSV sink closed during the test, in order, once per close."""
    calls: list[Any] = []
    for kind in (SqliteSink, CsvSink):
        original = kind.close

        def close(self: Any, original: Any = original) -> None:
            calls.append(self)
            original(self)

        monkeypatch.setattr(kind, "close", close)
    return calls


@pytest.fixture
def letters(monkeypatch: pytest.MonkeyPatch) -> list[DeadLetterWriter]:
    """Every dead-letter writer a job creates."""
    made: list[DeadLetterWriter] = []

    class Recorded(DeadLetterWriter):
        def __init__(self, directory: Path) -> None:
            super().__init__(directory)
            made.append(self)

    monkeypatch.setattr(job_module, "DeadLetterWriter", Recorded)
    return made


async def records(items: list[Any], fail: BaseException | None = None) -> AsyncIterator[Any]:
    for item in items:
        yield item
    if fail is not None:
        raise fail


def same(found: list[Any], expected: list[Any]) -> bool:
    """The same objects (not equal ones), in the same order."""
    return len(found) == len(expected) and all(a is b for a, b in zip(found, expected, strict=True))


async def test_a_job_closes_what_it_opened_once_and_the_pipeline_closes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    closed: list[Any],
    letters: list[DeadLetterWriter],
) -> None:
    settings = settings_for(tmp_path, monkeypatch)
    async with open_job(settings) as job:
        assert [sink.name for sink in job.sinks] == ["sqlite", "csv"]
        result = await job.run(records([raw_event(1), raw_event(2, occurred_at="yesterday")]))
        assert (result.inserted, result.invalid) == (1, 1)
        sqlite = job.sinks[0]
        assert isinstance(sqlite, SqliteSink)
        assert closed == []  # the run is over and nothing is closed: the job owns them
        assert sqlite._connection is not None
        assert same(letters, [job.dead_letters]) and job.dead_letters._handle is not None
        again = await job.run(records([raw_event(3)]))  # a job may run more than once
        assert again.inserted == 1
    assert same(closed, job.sinks)
    assert sqlite._connection is None
    assert job.dead_letters._handle is None
    assert [row.id for row in stored_rows(settings.database.sqlalchemy)] == [
        event(1).id,
        event(3).id,
    ]


async def test_a_check_that_fails_half_way_closes_the_sinks_built_and_nothing_else(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    closed: list[Any],
    letters: list[DeadLetterWriter],
) -> None:
    """Sinks built, then the database check fails (not migrated): the built sinks are
    closed, the dead-letter writer was never made, the block never ran."""
    absent = tmp_path / "absent.db"
    settings = settings_for(tmp_path, monkeypatch, DATABASE_URL=f"sqlite:///{absent}")
    entered = False
    with pytest.raises(ConfigError, match="no SQLite database"):
        async with open_job(settings):
            entered = True
    assert not entered
    assert [type(sink) for sink in closed] == [SqliteSink, CsvSink]
    assert letters == []


async def test_an_exception_inside_the_block_closes_everything(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    closed: list[Any],
    letters: list[DeadLetterWriter],
) -> None:
    settings = settings_for(tmp_path, monkeypatch)
    items = [raw_event(1), {"id": "no time"}]
    with pytest.raises(RuntimeError, match="the source broke"):
        async with open_job(settings) as job:
            sinks = job.sinks
            await job.run(records(items, fail=RuntimeError("the source broke")))
    assert same(closed, sinks)
    sqlite = sinks[0]
    assert isinstance(sqlite, SqliteSink) and sqlite._connection is None
    (dead_letters,) = letters
    assert dead_letters.count == 1 and dead_letters._handle is None
    assert [row.id for row in stored_rows(settings.database.sqlalchemy)] == [event(1).id]


async def test_a_sink_that_fails_to_close_does_not_keep_the_others_open(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    closed: list[Any],
    letters: list[DeadLetterWriter],
) -> None:
    settings = settings_for(tmp_path, monkeypatch)

    def broken(self: Any) -> None:
        closed.append(self)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(SqliteSink, "close", broken)
    async with open_job(settings) as job:
        await job.run(records([raw_event(1), {"id": "bad"}]))
    assert same(closed, job.sinks)
    assert letters[0]._handle is None


async def test_a_dry_run_builds_and_checks_nothing_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed: list[Any]
) -> None:
    absent = tmp_path / "absent.db"
    settings = settings_for(tmp_path, monkeypatch, DATABASE_URL=f"sqlite:///{absent}")
    unknown = settings.model_copy(update={"sinks": ["no-such-sink"]})
    async with open_job(unknown, dry_run=True) as job:
        assert job.sinks == []
        result = await job.run(records([raw_event(1)]))
        assert (result.valid, result.inserted, result.dry_run) == (1, 0, True)
    # a scrape's dry run: the sinks are built (their marks are read), nothing is checked
    async with open_job(settings, dry_run=True, sinks_in_dry_run=True) as job:
        assert [sink.name for sink in job.sinks] == ["sqlite", "csv"]
        assert job.databases == [settings.database]
    assert same(closed, job.sinks)
    assert not absent.exists()


def test_a_spool_replay_opens_and_closes_its_own_sinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed: list[Any]
) -> None:
    settings = settings_for(tmp_path, monkeypatch)
    Spool(settings.spool_dir).write([event(1), event(2)])
    result = replay_spool(settings)
    assert (result.replayed, result.spooled) == (2, 0)
    assert [type(sink) for sink in closed] == [SqliteSink, CsvSink]
    assert isinstance(closed[0], SqliteSink) and closed[0]._connection is None


def test_the_writer_leaves_the_sinks_it_was_given_open(tmp_path: Path, closed: list[Any]) -> None:
    url = parse_database_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    init_db(url)
    sinks: list[Any] = [SqliteSink(url), CsvSink(tmp_path / "csv")]
    writer = BatchWriter(sinks, None, 0.0, RunResult(), overlap=True)
    writer.write([event(1)])
    writer.close()
    assert closed == []
    assert sinks[0]._connection is not None
    assert sinks[0].write([event(2)]).inserted == 1  # still usable by its owner
    for sink in sinks:
        sink.close()


async def test_every_job_opens_its_sinks_through_the_skeleton(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed: list[Any]
) -> None:
    """`ingest ndjson` and a backfill (its catch-up first, then a job per file): every
    sink built is closed exactly once, by the job that built it."""
    settings = settings_for(tmp_path, monkeypatch)
    kind = ("submission", 2023, 25)
    opened: list[Any] = []
    build = job_module.build_sinks

    def built(names: list[str], settings: Settings) -> list[Any]:
        sinks = build(names, settings)
        opened.extend(sinks)
        return sinks

    monkeypatch.setattr(job_module, "build_sinks", built)
    source = tmp_path / "in.ndjson"
    source.write_text("\n".join(ndjson_line(n) for n in range(1, 4)) + "\n", encoding="utf-8")
    result = await ingest_ndjson_async(settings, str(source))
    assert result.inserted == 3
    assert same(closed, opened) and len(opened) == 2

    dumps = [
        str(write_dump(tmp_path / f"RS_2023-0{n}.zst", dump_lines(dump_objects(*kind, seed=n))))
        for n in (1, 2)
    ]
    outcome = await backfill_async(settings, dumps, BackfillOptions())
    assert all(file.complete for file in outcome.files)
    assert same(closed, opened) and len(opened) == 2 + 2 * 3  # catch-up, then one per file
