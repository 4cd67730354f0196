"""Every sink converges: rows the database stored but the CSV sink missed (a crash between
the two, a full disk, a failed append) are written to it by the next run, from the
database, exactly once (`pipeline.journal`, `BatchWriter.repair_followers`,
`CsvSink.repair`); a failed append never leaves a torn row; appends of several processes
to one day file never interleave."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.pipeline import journal as journals
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.pipeline.writer import BatchWriter
from sentiment_pipeline.sinks.base import Sink
from sentiment_pipeline.sinks.csv_sink import CsvSink, locked_day_file
from sentiment_pipeline.sinks.postgres import PostgresSink
from sentiment_pipeline.sinks.sqlite import SqliteSink
from tests.fixtures.events import event, stored_rows


def database_sink(url: str) -> Sink:
    parsed = parse_database_url(url)
    init_db(parsed)
    return SqliteSink(parsed) if parsed.backend == "sqlite" else PostgresSink(parsed)


@pytest.fixture
def database(any_db_url: str) -> Iterator[str]:
    database_sink(any_db_url).close()  # migrated
    yield any_db_url


def writer(url: str, csv_dir: Path, data: Path, **kwargs: Any) -> BatchWriter:
    sinks = [database_sink(url), CsvSink(csv_dir)]
    return BatchWriter(
        sinks, Spool(data / "spool"), 0.0, RunResult(), journal_dir=data / "journal", **kwargs
    )


def csv_ids(folder: Path) -> list[str]:
    ids: list[str] = []
    for path in sorted(folder.rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0][0] == "id"  # one header, first
        assert all(row[0] != "id" for row in rows[1:])
        ids += [row[0] for row in rows[1:]]
    return ids


def close_sinks(owner: BatchWriter) -> None:
    """Close the sinks a test gave a writer (the writer leaves them open)."""
    for sink in [*owner.leaders, *owner.followers]:
        sink.close()


def finish(done: BatchWriter) -> None:
    """The end of a run: the writer closed, then its owner closes the sinks."""
    done.close()
    close_sinks(done)


def kill(dead: BatchWriter) -> None:
    """What SIGKILL leaves of a writer: its journal as it is on disk, its lock gone."""
    assert dead.journal is not None and dead.journal._handle is not None
    dead.journal._handle.close()
    dead.journal._handle = None
    close_sinks(dead)


class FailingCsv(CsvSink):
    """A CSV sink whose disk is full."""

    def _append(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")


def test_a_follower_that_failed_gets_the_rows_from_the_next_run(
    database: str, tmp_path: Path
) -> None:
    data, folder = tmp_path / "data", tmp_path / "csv"
    first = BatchWriter(
        [database_sink(database), FailingCsv(folder)],
        None,
        0.0,
        RunResult(),
        journal_dir=data / "journal",
    )
    first.write([event(n) for n in range(1, 6)])
    first.write([event(n) for n in range(6, 9)])
    finish(first)
    assert any("csv sink failed" in error for error in first.result.errors)
    assert first.durable == 0
    assert journals.owed_rows(data / "journal") == 8
    assert len(stored_rows(database)) == 8 and csv_ids(folder) == []

    second = writer(database, folder, data)
    assert second.repair_followers() == 8
    second.write([event(n) for n in range(1, 9)])  # the same input again: duplicates
    finish(second)
    assert sorted(csv_ids(folder)) == sorted(event(n).id for n in range(1, 9))
    assert second.result.errors == [] and second.result.repaired == 8
    assert journals.owed_rows(data / "journal") == 0
    assert not list((data / "journal").glob("*.journal"))


def test_a_crash_between_the_commit_and_the_csv_loses_nothing(
    database: str, tmp_path: Path
) -> None:
    """SIGKILL after the database committed and before the CSV append: the journal holds
    the batch, not done; the next run writes it to the CSV from the database."""
    data, folder = tmp_path / "data", tmp_path / "csv"
    crashed = writer(database, folder, data)
    crashed.write([event(1), event(2)])  # a whole batch: both sinks
    crashed.flush()
    batch = [event(3), event(4)]
    assert crashed.journal is not None
    crashed.journal.begin(batch)
    crashed.leaders[0].write(batch)  # committed, then the process dies
    kill(crashed)

    rerun = writer(database, folder, data)
    assert rerun.repair_followers() == 2  # what core.run does before reading the input
    rerun.write([event(n) for n in range(1, 6)])  # the same input again, and one more
    finish(rerun)
    assert sorted(csv_ids(folder)) == sorted(event(n).id for n in range(1, 6))
    assert rerun.result.errors == []


def test_a_batch_that_never_reached_the_database_is_not_written_to_the_csv(
    database: str, tmp_path: Path
) -> None:
    data, folder = tmp_path / "data", tmp_path / "csv"
    crashed = writer(database, folder, data)
    assert crashed.journal is not None
    crashed.journal.begin([event(1)])  # journaled, then killed before the commit
    kill(crashed)
    rerun = writer(database, folder, data)
    assert rerun.repair_followers() == 0
    finish(rerun)
    assert csv_ids(folder) == [] and stored_rows(database) == []
    assert not list((data / "journal").glob("*.journal"))


def test_rows_a_running_run_is_about_to_write_are_left_to_it(database: str, tmp_path: Path) -> None:
    """A row stored by a run still going is in its live journal until its own CSV write:
    a repair by another process must not write it too (it would be there twice)."""
    data, folder = tmp_path / "data", tmp_path / "csv"
    dead = writer(database, folder, data)
    assert dead.journal is not None
    dead.journal.begin([event(1), event(2)])  # died before its commit
    kill(dead)

    running = writer(database, folder, data)
    assert running.journal is not None
    running.journal.begin([event(1)])  # committed by the running run, its CSV write to come
    running.leaders[0].write([event(1)])
    bare = database_sink(database)
    bare.write([event(2)])  # stored by a run with no CSV sink at all
    bare.close()

    repairer = writer(database, folder, data)
    assert repairer.repair_followers() == 1  # event 2 only
    finish(repairer)
    assert csv_ids(folder) == [event(2).id]
    kill(running)  # (its batch stays owed: it never wrote it to the CSV)


def test_a_journal_of_another_database_is_kept_with_a_warning(tmp_path: Path) -> None:
    data, folder = tmp_path / "data", tmp_path / "csv"
    killed = writer(f"sqlite:///{tmp_path / 'one.db'}", folder, data)
    assert killed.journal is not None
    killed.journal.begin([event(1)])
    kill(killed)
    other = writer(f"sqlite:///{tmp_path / 'other.db'}", folder, data)
    assert other.repair_followers() == 0
    warned = [w for w in other.result.warnings if "one.db" in w and "owed to csv:" in w]
    assert warned
    finish(other)
    assert journals.owed_rows(data / "journal") == 1  # kept for a run on that database
    same = writer(f"sqlite:///{tmp_path / 'one.db'}", folder, data)
    assert same.repair_followers() == 0  # never committed: nothing to write
    finish(same)
    assert journals.owed_rows(data / "journal") == 0


def test_a_failed_append_is_cut_back_and_a_torn_row_is_cut(tmp_path: Path) -> None:
    sink = CsvSink(tmp_path)
    sink.write([event(1)])
    path = sink.path_for(event(1))
    before = path.read_bytes()
    with path.open("ab") as handle:  # a crash mid-row
        handle.write(b't3_2,2023-11-14T22:13:22.000000Z,reddit,python,submission,"{""ti')
    sink = CsvSink(tmp_path)
    sink.write([event(3)])
    assert path.read_bytes().startswith(before)
    assert csv_ids(tmp_path) == [event(1).id, event(3).id]

    full = CsvSink(tmp_path)
    size = path.stat().st_size
    real_write = os.write

    def half(descriptor: int, data: Any) -> int:
        real_write(descriptor, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "write", half)
        with pytest.raises(OSError):
            full.write([event(4)])
    assert path.stat().st_size == size  # the half row is gone at once
    assert csv_ids(tmp_path) == [event(1).id, event(3).id]


def test_a_failed_first_append_leaves_no_empty_file(tmp_path: Path) -> None:
    def full(descriptor: int, data: Any) -> int:
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "write", full)
        with pytest.raises(OSError):
            CsvSink(tmp_path).write([event(1)])
    assert not list(tmp_path.rglob("*.csv"))


def _append_many(folder: str, start: int, count: int) -> None:
    sink = CsvSink(Path(folder))
    sink.follow_leader()
    for n in range(start, start + count):
        sink.write([event(n, payload={"title": "x" * (n % 7000), "n": n})])


def test_appends_of_several_processes_never_interleave(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_many, args=(str(tmp_path), 1 + 200 * i, 200))
        for i in range(3)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    ids = csv_ids(tmp_path)
    assert sorted(ids) == sorted(event(n).id for n in range(1, 601))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    present=st.sets(st.integers(1, 40), max_size=40),
    asked=st.lists(st.integers(1, 40), max_size=60),
)
def test_repair_writes_exactly_what_a_file_lacks(
    tmp_path_factory: pytest.TempPathFactory, present: set[int], asked: list[int]
) -> None:
    folder = tmp_path_factory.mktemp("csv")
    sink = CsvSink(folder)
    sink.follow_leader()
    if present:
        sink.write([event(n) for n in sorted(present)])
    repaired = CsvSink(folder).repair([event(n) for n in asked])
    assert repaired == len(set(asked) - present)
    ids = csv_ids(folder)
    assert sorted(ids) == sorted(event(n).id for n in present | set(asked))


def test_an_append_waiting_for_a_rewrite_goes_to_the_new_file(tmp_path: Path) -> None:
    """A rewrite (redaction) replaces a day file under its lock; an append that waited
    for the lock meanwhile must land in the new file, not in the replaced one."""
    CsvSink(tmp_path).write([event(1)])
    path = CsvSink(tmp_path).path_for(event(1))
    waiting = threading.Thread(target=lambda: CsvSink(tmp_path).write([event(2)]))
    with locked_day_file(path):
        waiting.start()
        time.sleep(0.3)  # the append is now waiting for the lock (a delay, not a timing)
        replacement = path.with_name("rewritten.tmp")
        replacement.write_bytes(path.read_bytes())
        os.replace(replacement, path)
    waiting.join(10)
    assert csv_ids(tmp_path) == [event(1).id, event(2).id]


def test_a_spool_that_cannot_be_written_stops_the_run_with_a_clear_error(
    tmp_path: Path,
) -> None:
    from sentiment_pipeline.errors import SentpipeError
    from sentiment_pipeline.sinks.memory import MemorySink

    blocked = tmp_path / "spool"
    blocked.write_text("a file where the spool folder should be", encoding="utf-8")
    down = BatchWriter([MemorySink(fail_always=True)], Spool(blocked), 0.0, RunResult())
    with pytest.raises(SentpipeError, match="cannot be spooled") as raised:
        down.write([event(1)])
    assert "SENTPIPE_DATA_DIR" in (raised.value.hint or "")
    assert down.durable == 0  # never counted as safe: a checkpoint stays before it


def test_a_dead_letter_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    from sentiment_pipeline.errors import SentpipeError
    from sentiment_pipeline.pipeline.deadletter import DeadLetterWriter

    blocked = tmp_path / "dead-letter"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(SentpipeError, match="cannot write a dead letter"):
        DeadLetterWriter(blocked).write({"id": 1}, "bad")


def test_rewrites_and_appends_of_other_processes_lose_nothing(tmp_path: Path) -> None:
    """Redaction rewrites a day file (a new file renamed over it) while another process
    appends to it: every appended row ends up in the file, and the rewrite holds."""
    from sentiment_pipeline.sinks.csv_sink import rewrite_payloads

    first = event(1)
    CsvSink(tmp_path).write([first])
    path = CsvSink(tmp_path).path_for(first)
    appender = multiprocessing.get_context("spawn").Process(
        target=_append_many, args=(str(tmp_path), 2, 300)
    )
    appender.start()
    texts = []
    deadline = time.monotonic() + 120
    while appender.is_alive() and time.monotonic() < deadline:  # rewrite all along
        texts.append(f'{{"title":"redacted {len(texts)}"}}')
        rewrite_payloads(path, {first.key: texts[-1]})
        time.sleep(0.002)  # let the appender take the lock too (flock is not fair)
    appender.join(60)
    assert appender.exitcode == 0 and texts
    assert sorted(csv_ids(tmp_path)) == sorted(event(n).id for n in range(1, 302))
    with path.open(newline="", encoding="utf-8") as handle:
        payload = next(row[5] for row in csv.reader(handle) if row[0] == first.id)
    assert payload == texts[-1]


# --- every command that writes catches up first -------------------------------------


def left_behind(data: Path, url: str, folder: Path) -> None:
    """What an outage and a kill leave: events 1-2 in the spool, events 3-4 stored in
    the database but missing from the CSV sink (a stale journal owes them)."""
    Spool(data / "spool").write([event(1), event(2)])
    killed = writer(url, folder, data)
    assert killed.journal is not None
    killed.journal.begin([event(3), event(4)])
    killed.leaders[0].write([event(3), event(4)])
    kill(killed)


def caught_up(data: Path, url: str, folder: Path) -> None:
    assert sorted(r.id for r in stored_rows(url)) == sorted(event(n).id for n in range(1, 5))
    assert sorted(csv_ids(folder)) == sorted(event(n).id for n in range(1, 5))
    assert not list((data / "spool").glob("*.ndjson"))
    assert not list((data / "journal").glob("*.journal"))


def cli_env(data: Path, url: str, folder: Path) -> dict[str, str]:
    return {
        "SENTPIPE_DATA_DIR": str(data),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_CSV_DIR": str(folder),
        "SENTPIPE_SINKS": "database,csv",
    }


def test_sentiment_score_catches_up_first(database: str, tmp_path: Path) -> None:
    from tests.fixtures.cli import invoke

    data, folder = tmp_path / "data", tmp_path / "csv"
    left_behind(data, database, folder)
    result = invoke("sentiment", "score", env=cli_env(data, database, folder))
    assert result.exit_code == 0, result.output
    caught_up(data, database, folder)
    assert "Scored 4 events" in result.output  # the spooled ones were scored too


def test_spool_status_and_replay_show_and_do_the_catch_up(database: str, tmp_path: Path) -> None:
    from tests.fixtures.cli import invoke

    data, folder = tmp_path / "data", tmp_path / "csv"
    left_behind(data, database, folder)
    env = cli_env(data, database, folder)
    status = invoke("spool", "status", "--json", env=env)
    assert json.loads(status.stdout) | {"directory": ""} == {
        "directory": "",
        "files": 1,
        "records": 2,
        "journal_rows": 2,
    }
    replay = invoke("spool", "replay", "--json", env=env)
    assert replay.exit_code == 0, replay.output
    assert (json.loads(replay.stdout)["replayed"], json.loads(replay.stdout)["repaired"]) == (2, 2)
    caught_up(data, database, folder)


def test_an_already_loaded_dump_still_replays_the_spool(database: str, tmp_path: Path) -> None:
    from sentiment_pipeline.sources.reddit_dump.synthetic import (
        dump_lines,
        dump_objects,
        write_dump,
    )
    from tests.fixtures.cli import invoke

    data, folder = tmp_path / "data", tmp_path / "csv"
    dump = write_dump(
        tmp_path / "python_comments.zst", dump_lines(dump_objects("comment", 2023, 5))
    )
    env = cli_env(data, database, folder)
    assert invoke("ingest", "reddit-dump", str(dump), env=env).exit_code == 0
    left_behind(data, database, folder)
    again = invoke("ingest", "reddit-dump", str(dump), "--json", env=env)
    assert again.exit_code == 0, again.output
    total = json.loads(again.stdout)["total"]
    assert (total["replayed"], total["repaired"], total["inserted"]) == (2, 2, 2)
    assert json.loads(again.stdout)["files"][0]["extra"]["already_complete"]
    assert len(stored_rows(database)) == 4 + 5 and len(csv_ids(folder)) == 4 + 5
    assert not list((data / "spool").glob("*.ndjson"))


def test_refresh_catches_up_first_but_not_a_dry_run(
    database: str, tmp_path: Path, fake_reddit: Any
) -> None:
    from tests.fixtures.cli import invoke
    from tests.test_scrape import reddit_env

    data, folder = tmp_path / "data", tmp_path / "csv"
    left_behind(data, database, folder)
    env = {**reddit_env(fake_reddit, data, database), "SENTPIPE_CSV_DIR": str(folder)}
    dry = invoke("refresh", "reddit", "--dry-run", env=env)
    assert dry.exit_code == 0, dry.output
    assert len(list((data / "spool").glob("*.ndjson"))) == 1  # a dry run writes nothing
    result = invoke("refresh", "reddit", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["replayed"], json.loads(result.stdout)["repaired"]) == (2, 2)
    caught_up(data, database, folder)


def test_stats_shows_what_is_not_stored_yet(database: str, tmp_path: Path) -> None:
    from tests.fixtures.cli import invoke

    data, folder = tmp_path / "data", tmp_path / "csv"
    left_behind(data, database, folder)
    env = cli_env(data, database, folder)
    shown = invoke("stats", "--json", env=env)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["pending"] == {"spooled": 2, "journal_rows": 2}
    assert "2 spooled records" in invoke("stats", env=env).output
    assert invoke("spool", "replay", env=env).exit_code == 0
    after = json.loads(invoke("stats", "--json", env=env).stdout)
    assert after["pending"] == {"spooled": 0, "journal_rows": 0}


def test_a_checkpoint_that_cannot_be_saved_is_a_clear_error(tmp_path: Path) -> None:
    from sentiment_pipeline.backfill.checkpoint import Checkpoint, CheckpointFile
    from sentiment_pipeline.errors import SentpipeError

    dump = tmp_path / "RC_2023-03.zst"
    dump.write_bytes(b"")
    blocked = tmp_path / "backfill"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(SentpipeError, match="cannot save the checkpoint"):
        CheckpointFile(blocked, dump).save(Checkpoint(10))


def test_a_full_disk_anywhere_is_one_line_not_an_internal_error(tmp_path: Path) -> None:
    """/dev/full answers every write with ENOSPC, like a full disk."""
    from sentiment_pipeline.cli.boundary import storage_error

    with pytest.raises(OSError) as raised, open("/dev/full", "wb") as full:
        full.write(b"x" * 10)
        full.flush()
    mapped = storage_error(raised.value)
    assert mapped is not None and "No space left on device" in mapped.one_line()
    assert "run the same command again" in mapped.one_line()
    assert storage_error(ValueError("a bug")) is None
    assert storage_error(FileNotFoundError(2, "No such file")) is None


def test_every_test_docs_guarantees_names_exists() -> None:
    """docs/guarantees.md holds each guarantee with the test that holds it: a renamed
    or removed test must not leave a guarantee pointing at nothing."""
    import re

    from tests.fixtures.isolation import ROOT

    text = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_\w+\.py)::(test_\w+)`", text))
    assert len(named) > 30
    for file, test in sorted(named):
        source = (ROOT / "tests" / file).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {test}\(", source, re.M), (file, test)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    moments=st.lists(
        st.datetimes(
            min_value=datetime(1, 1, 2),
            max_value=datetime(2026, 1, 1),
            timezones=st.just(UTC),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_a_journal_gives_back_exactly_the_keys_it_was_given(
    tmp_path_factory: pytest.TempPathFactory, moments: list[datetime]
) -> None:
    directory = tmp_path_factory.mktemp("journal")
    batch = [event(n, occurred_at=moment) for n, moment in enumerate(moments)]
    journal = journals.FollowerJournal(directory, "db", ["csv:/x"])
    done = journal.begin(batch[:1])
    journal.begin(batch)
    journal.done(done)
    assert journal.path is not None
    read = journals.read_journal(journal.path)
    journal.close()
    assert read.owed == list(dict.fromkeys(e.key for e in batch))
    assert (read.leader, read.followers) == ("db", ["csv:/x"])
