"""The fault matrix, through the installed command: for `ingest ndjson`, `ingest
reddit-dump` and `scrape reddit` (against the fake Reddit API), each of

- the CSV folder's disk full mid-run (a small tmpfs, as root), then space freed;
- SIGKILL at a random moment (several seeds);
- the database down longer than the retry window (a TCP proxy cut), then back;
- two runs at once;

the same command run again leaves the database and the CSV sink holding every valid
input record exactly once, and no run that left a sink behind exited 0
(docs/guarantees.md)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.fake_reddit import RunningFakeReddit, SubredditSpec
from sentiment_pipeline.fake_reddit.config import FaultSpec
from sentiment_pipeline.sources.reddit_dump.synthetic import dump_lines, dump_objects, write_dump
from tests.fixtures.databases import libpq_url
from tests.fixtures.fake_reddit import FakeRedditFactory
from tests.fixtures.tcp_proxy import TcpProxy

SENTPIPE = Path(sys.executable).with_name("sentpipe")
RECORDS_PER_SUBREDDIT = 1500
SUBREDDITS = ("python", "rust", "golang", "datascience")
TIMEOUT = 180


# --- inputs --------------------------------------------------------------------------


def dump_records() -> list[dict[str, Any]]:
    """Comments of four subreddits, a day and a half each (several CSV day files), with
    the hostile text the synthetic dumps carry (sanitized, still valid)."""
    objects: list[dict[str, Any]] = []
    for seed, name in enumerate(SUBREDDITS, start=1):
        objects += dump_objects("comment", 2023, RECORDS_PER_SUBREDDIT, name, seed=seed)
    return objects


def expected_ids(objects: list[dict[str, Any]]) -> set[str]:
    return {"t1_" + obj["id"] for obj in objects}


def write_ndjson(path: Path, objects: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for obj in objects:
            record = {
                "id": "t1_" + obj["id"],
                "occurred_at": int(obj["created_utc"]),
                "source": "reddit",
                "source_id": obj["subreddit"],
                "event_type": "comment",
                "payload": obj,
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


# --- what the sinks hold -------------------------------------------------------------


def db_ids(url: str) -> list[str]:
    parsed = parse_database_url(url)
    if parsed.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(parsed.sqlite_path, timeout=30)) as db:
            return [row[0] for row in db.execute("SELECT id FROM raw_events")]
    with psycopg.connect(parsed.libpq, autocommit=True) as db:
        return [row[0] for row in db.execute("SELECT id FROM raw_events").fetchall()]


def csv_ids(folder: Path) -> list[str]:
    ids: list[str] = []
    for path in sorted(folder.rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows and rows[0][0] == "id", path  # one header, first
        ids += [row[0] for row in rows[1:]]
    return ids


@dataclass
class Case:
    """One command against one database: how to run it, what it must end up storing."""

    args: list[str]
    env: dict[str, str]
    url: str
    csv_dir: Path
    expected: set[str] = field(default_factory=set)
    runs: list[tuple[int, str]] = field(default_factory=list)

    def start(self, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(SENTPIPE), *self.args, *extra],
            env={**os.environ, **self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def finish(self, process: subprocess.Popen[str]) -> int:
        output, _ = process.communicate(timeout=TIMEOUT)
        self.runs.append((process.returncode, output[-3000:]))
        return process.returncode

    def run(self, *extra: str, env: dict[str, str] | None = None, alone: bool = True) -> int:
        """Run to the end; a run alone that exits 0 must have left no sink behind."""
        code = self.finish(self.start(*extra, env=env))
        if code == 0 and alone:
            self.assert_converged()
        return code

    def stored(self) -> int:
        try:
            return len(db_ids(self.url))
        except (sqlite3.Error, psycopg.Error):
            return 0

    def kill_when_stored(self, process: subprocess.Popen[str], rows: int) -> None:
        """SIGKILL once at least `rows` are stored (or the run ended by itself)."""
        deadline = time.monotonic() + TIMEOUT
        while process.poll() is None and self.stored() < rows:
            assert time.monotonic() < deadline, "the run never got there"
            time.sleep(0.02)
        process.kill()
        self.finish(process)

    def assert_converged(self) -> None:
        """The database and the CSV sink hold every expected record exactly once."""
        stored, written = db_ids(self.url), csv_ids(self.csv_dir)
        history = "\n".join(f"exit {code}: {out}" for code, out in self.runs)
        assert len(stored) == len(set(stored)) == len(self.expected), history
        assert set(stored) == self.expected, history
        assert sorted(written) == sorted(stored), (len(written), len(set(written)), history)


def base_env(tmp_path: Path, url: str, csv_dir: Path) -> dict[str, str]:
    return {
        "SENTPIPE_DATA_DIR": str(tmp_path / "data"),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_CSV_DIR": str(csv_dir),
        "SENTPIPE_SINKS": "database,csv",
        "SENTPIPE_BATCH_SIZE": "250",  # many commits: many moments between the two sinks
        "SENTPIPE_FLUSH_INTERVAL": "0.2",
        "SENTPIPE_DB_RETRY_SECONDS": "1",
    }


def ndjson_case(tmp_path: Path, url: str, csv_dir: Path) -> Case:
    objects = dump_records()
    path = write_ndjson(tmp_path / "comments.ndjson", objects)
    return Case(
        ["ingest", "ndjson", str(path)],
        base_env(tmp_path, url, csv_dir),
        url,
        csv_dir,
        expected_ids(objects),
    )


def dump_case(tmp_path: Path, url: str, csv_dir: Path) -> Case:
    objects = dump_records()
    path = write_dump(tmp_path / "RC_2023-03.zst", dump_lines(objects))
    return Case(
        ["ingest", "reddit-dump", str(path)],
        base_env(tmp_path, url, csv_dir),
        url,
        csv_dir,
        expected_ids(objects),
    )


def scrape_case(
    tmp_path: Path, url: str, csv_dir: Path, fake_reddit_factory: FakeRedditFactory
) -> Case:
    """Two subreddits answering slowly enough to be interrupted; what a clean scrape of
    the same server stores is what the faulted runs must end with."""
    slow = FaultSpec(delay_seconds=0.03)
    fake: RunningFakeReddit = fake_reddit_factory(
        subreddits=(
            SubredditSpec("python", posts=40, seed=3, comments_per_post=6, faults=slow),
            SubredditSpec("rust", posts=40, seed=4, comments_per_post=6, faults=slow),
        )
    )
    env = {
        **base_env(tmp_path, url, csv_dir),
        "SENTPIPE_REDDIT_CLIENT_ID": fake.config.client_id,
        "SENTPIPE_REDDIT_CLIENT_SECRET": fake.config.client_secret,
        "SENTPIPE_REDDIT_OAUTH_URL": fake.url,
        "SENTPIPE_REDDIT_URL": fake.url,
    }
    case = Case(["scrape", "reddit", "-s", "python", "-s", "rust"], env, url, csv_dir)
    reference_db = tmp_path / "reference.db"
    reference = Case(
        case.args,
        {
            **env,
            "SENTPIPE_DATA_DIR": str(tmp_path / "reference"),
            "SENTPIPE_DATABASE_URL": f"sqlite:///{reference_db}",
            "SENTPIPE_CSV_DIR": str(tmp_path / "reference-csv"),
        },
        f"sqlite:///{reference_db}",
        tmp_path / "reference-csv",
    )
    init_db(parse_database_url(reference.url))
    assert reference.run(alone=False) == 0, reference.runs
    case.expected = set(db_ids(reference.url))
    assert len(case.expected) > 200
    return case


COMMANDS = ("ndjson", "dump", "scrape")


def backend_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh database of `backend` (sqlite, postgres, timescale) for one test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'sentpipe.db'}"
    return str(request.getfixturevalue(f"{backend}_url"))


@pytest.fixture
def make_case(tmp_path: Path, fake_reddit_factory: FakeRedditFactory) -> Iterator[Any]:
    def make(command: str, url: str, csv_dir: Path | None = None) -> Case:
        csv_dir = csv_dir or tmp_path / "csv"
        init_db(parse_database_url(url))
        if command == "ndjson":
            return ndjson_case(tmp_path, url, csv_dir)
        if command == "dump":
            return dump_case(tmp_path, url, csv_dir)
        return scrape_case(tmp_path, url, csv_dir, fake_reddit_factory)

    yield make


# --- the CSV folder's disk fills up --------------------------------------------------


@contextlib.contextmanager
def small_disk(folder: Path, size: int) -> Iterator[Path]:
    """A tmpfs of `size` bytes mounted on `folder` (root only)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full disk is a small tmpfs, which needs root (CI runs as root)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("timescale", marks=pytest.mark.timescale)]
)
def test_the_csv_disk_fills_up_then_space_is_freed(
    command: str, backend: str, tmp_path: Path, make_case: Any, request: pytest.FixtureRequest
) -> None:
    url = backend_url(backend, tmp_path, request)
    with small_disk(tmp_path / "csv", 16 << 20) as folder:
        case = make_case(command, url, folder)
        filler = folder / "filler"
        room = 400_000 if command != "scrape" else 60_000  # a fraction of what the run writes
        filler.write_bytes(b"\0" * ((16 << 20) - room))
        first = case.run(alone=False)
        assert first != 0, case.runs  # the CSV sink fell behind: never exit 0
        assert "csv sink failed" in case.runs[-1][1] and "No space left" in case.runs[-1][1]
        assert len(csv_ids(folder)) < len(case.expected)
        filler.unlink()
        assert case.run() == 0, case.runs  # the same command again: converged (checked)


# --- SIGKILL at a random moment ------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("seed", "backend"),
    [
        (1, "sqlite"),
        pytest.param(2, "postgres", marks=pytest.mark.postgres),
        pytest.param(3, "timescale", marks=pytest.mark.timescale),
    ],
)
def test_sigkill_at_a_random_moment_then_the_same_command(
    command: str,
    seed: int,
    backend: str,
    tmp_path: Path,
    make_case: Any,
    request: pytest.FixtureRequest,
) -> None:
    url = backend_url(backend, tmp_path, request)
    case = make_case(command, url)
    rng = random.Random(f"{command}-{seed}")
    for _ in range(2):  # killed twice, at two random points
        case.kill_when_stored(case.start(), rng.randrange(1, len(case.expected)))
    assert case.run() == 0, case.runs


# --- the database down longer than the retry window ----------------------------------


@pytest.mark.parametrize(
    ("command", "server"),
    [
        pytest.param("ndjson", "postgres", marks=pytest.mark.postgres),
        pytest.param("dump", "timescale", marks=pytest.mark.timescale),
        pytest.param("scrape", "postgres", marks=pytest.mark.postgres),
    ],
)
def test_the_database_down_past_the_retry_window_then_back(
    command: str,
    server: str,
    tmp_path: Path,
    make_case: Any,
    tcp_proxy: type[TcpProxy],
    request: pytest.FixtureRequest,
) -> None:
    direct = str(request.getfixturevalue(f"{server}_url"))
    parts = parse_database_url(direct)
    host, port = libpq_url(direct).split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = tcp_proxy(host, int(port))
    via_proxy = parts.sqlalchemy.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
    case = make_case(command, direct)
    case.env["SENTPIPE_DATABASE_URL"] = via_proxy
    process = case.start()
    deadline = time.monotonic() + TIMEOUT
    while case.stored() < len(case.expected) // 4:
        assert process.poll() is None and time.monotonic() < deadline, case.finish(process)
        time.sleep(0.02)
    proxy.down()
    code = case.finish(process)
    assert code == 3, case.runs  # rows wait in the spool: unreachable, not success
    assert "spooled" in case.runs[-1][1]
    proxy.up()
    assert case.run() == 0, case.runs
    assert not list((tmp_path / "data" / "spool").glob("*.ndjson"))


# --- two runs at once ----------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("timescale", marks=pytest.mark.timescale)]
)
def test_two_runs_at_once(
    command: str, backend: str, tmp_path: Path, make_case: Any, request: pytest.FixtureRequest
) -> None:
    url = backend_url(backend, tmp_path, request)
    case = make_case(command, url)
    both = [case.start(), case.start()]
    codes = sorted(case.finish(process) for process in both)
    if command == "ndjson":
        assert codes == [0, 0], case.runs  # no lock: the database decides who stores what
    else:
        assert codes == [0, 4], case.runs  # one at a time: the second is told who holds it
        assert "pid" in next(out for code, out in case.runs if code == 4)
    case.run()  # the same command again (for the one that was refused)
    case.assert_converged()
