"""Two `ingest reddit-dump` runs of one file at once: the second exits 4 naming the
first's pid, or with `--wait` queues behind it and finds the file loaded; every record
is stored once (database and CSV). Checkpoint temporary files are unique per write, so
concurrent saves never trip over each other."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sentiment_pipeline.backfill.checkpoint import Checkpoint, CheckpointFile
from sentiment_pipeline.lock import holder_pid, run_lock
from sentiment_pipeline.sources.reddit_dump.synthetic import dump_lines, dump_objects, write_dump
from tests.fixtures.cli import invoke
from tests.fixtures.events import stored_rows
from tests.test_dump_inputs import SENTPIPE, csv_ids, data_env, installed


def _lock_of(tmp_path: Path, dump: Path) -> Path:
    return CheckpointFile(tmp_path / "data" / "backfill", dump).lock_path


def _waits_for(pid: int, lock: Path) -> bool:
    """True when /proc/locks shows `pid` blocked on the flock of `lock`."""
    inode = f":{lock.stat().st_ino} "
    text = Path("/proc/locks").read_text(encoding="ascii")
    return any("->" in line and f" {pid} " in line and inode in line for line in text.splitlines())


def _until(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_second_run_of_a_dump_is_refused_and_a_waiting_one_finds_it_loaded(
    any_db_url: str, tmp_path: Path
) -> None:
    if not Path("/proc/locks").exists():  # pragma: no cover
        pytest.skip("needs Linux's /proc/locks to see a run waiting for the lock")
    env = data_env(tmp_path, any_db_url, sinks="database,csv")
    total = 10_000
    dump = write_dump(
        tmp_path / "RC_2019-03.zst", dump_lines(dump_objects("comment", 2019, total, hostile=False))
    )
    lock = _lock_of(tmp_path, dump)
    command = [str(SENTPIPE), "ingest", "reddit-dump", str(dump), "--json"]
    children = {**os.environ, **env}
    first = subprocess.Popen(command, env=children, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    waiting: subprocess.Popen[bytes] | None = None
    try:
        _until(lambda: holder_pid(lock) == first.pid or first.poll() is not None, "no lock")
        os.kill(first.pid, signal.SIGSTOP)  # holding the lock, paused mid-load
        if holder_pid(lock) != first.pid:  # pragma: no cover
            pytest.skip("the first run ended before it could be paused")

        refused = installed(env, "ingest", "reddit-dump", str(dump))
        assert refused.returncode == 4, refused.stderr
        assert (
            f"another sentpipe ingest reddit-dump of RC_2019-03.zst is running (pid {first.pid}, "
            f"lock {lock})" in refused.stderr
        )
        assert "--wait" in refused.stderr

        waiting = subprocess.Popen(
            [*command, "--wait"], env=children, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        _until(lambda: _waits_for(waiting.pid, lock), "the --wait run is not waiting for the lock")
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err.decode()
    assert waiting is not None
    waited_out, waited_err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, waited_err.decode()

    (loaded,) = json.loads(out)["files"]
    assert (loaded["inserted"], loaded["extra"]["complete"]) == (total, True)
    (again,) = json.loads(waited_out)["files"]
    assert again["extra"]["already_complete"] and again["fetched"] == 0
    stored = [row.id for row in stored_rows(any_db_url)]
    assert len(stored) == len(set(stored)) == total
    in_csv = csv_ids(tmp_path / "data")
    assert len(in_csv) == len(set(in_csv)) == total
    assert list((tmp_path / "data" / "backfill").glob("*.tmp")) == []


def test_a_held_dump_lock_refuses_a_run_but_not_a_dry_run_or_standard_input(
    tmp_path: Path,
) -> None:
    env = data_env(tmp_path)
    dump = write_dump(tmp_path / "RS_2016-01.zst", dump_lines(dump_objects("submission", 2016, 30)))
    with run_lock(_lock_of(tmp_path, dump)):
        refused = invoke("ingest", "reddit-dump", str(dump), env=env)
        assert refused.exit_code == 4
        assert f"pid {os.getpid()}" in refused.output and "pass --wait" in refused.output
        assert stored_rows(env["SENTPIPE_DATABASE_URL"]) == []
        assert list((tmp_path / "data" / "backfill").glob("*.json")) == []  # no checkpoint
        dry = invoke("ingest", "reddit-dump", str(dump), "--dry-run", "--json", env=env)
        assert dry.exit_code == 0 and json.loads(dry.stdout)["total"]["valid"] == 30
        piped = invoke("ingest", "reddit-dump", "-", "--json", env=env, input=dump.read_bytes())
        assert piped.exit_code == 0 and json.loads(piped.stdout)["total"]["inserted"] == 30
    loaded = invoke("ingest", "reddit-dump", str(dump), "--json", env=env)
    assert loaded.exit_code == 0 and json.loads(loaded.stdout)["total"]["duplicates"] == 30


def test_checkpoint_saves_at_once_never_share_a_temporary_file(tmp_path: Path) -> None:
    dump = tmp_path / "RS_2016-01.zst"
    dump.write_bytes(b"x")
    checkpoint = CheckpointFile(tmp_path / "backfill", dump)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def save_many(offset: int) -> None:
        start.wait()
        for n in range(200):
            try:
                checkpoint.save(Checkpoint(offset + n))
            except BaseException as error:  # pragma: no cover - what the test is about
                errors.append(error)

    threads = [threading.Thread(target=save_many, args=(i * 1000,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert checkpoint.load().lines_done % 1000 < 200
    assert sorted(path.name for path in (tmp_path / "backfill").iterdir()) == [checkpoint.path.name]


def test_a_killed_runs_temporary_checkpoint_is_removed_by_the_next(tmp_path: Path) -> None:
    env = data_env(tmp_path)
    dump = write_dump(tmp_path / "RS_2016-01.zst", dump_lines(dump_objects("submission", 2016, 10)))
    checkpoint = CheckpointFile(tmp_path / "data" / "backfill", dump)
    checkpoint.path.parent.mkdir(parents=True)
    stale = checkpoint.path.with_name(f"{checkpoint.path.name}.999999.0badf00d.tmp")
    stale.write_text('{"path": ', encoding="utf-8")  # a write a SIGKILL cut short
    result = invoke("ingest", "reddit-dump", str(dump), env=env)
    assert result.exit_code == 0, result.output
    assert not stale.exists()
    assert checkpoint.load() == Checkpoint(10, complete=True)
