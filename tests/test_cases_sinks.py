"""The handed cases about sinks converging, through the installed command:

- 29: the CSV sink's disk fills up during an ingest with database + CSV sinks; space is
  freed and the same command runs again (input in tests/data/cases/29-csv-sink-disk-full/);
- 33: a dump backfilled while its database restarts (A), and while it is down longer than
  the retry window (B), then the same command again.

Case 17 (files that are not dumps) is in test_dump_inputs.py, 20 (refresh, one item
stored twice) in test_refresh_shapes.py, 36 (passwords) in test_secrets.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from tests.fixtures.databases import libpq_url
from tests.fixtures.isolation import ROOT
from tests.fixtures.tcp_proxy import TcpProxy
from tests.test_dump_inputs import installed
from tests.test_fault_matrix import csv_ids, db_ids, small_disk

SENTPIPE = Path(sys.executable).with_name("sentpipe")
CASE_29 = ROOT / "tests" / "data" / "cases" / "29-csv-sink-disk-full" / "input.ndjson"


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(SENTPIPE), *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_case_29_the_csv_disk_fills_up_then_the_same_command_repairs_it(
    any_db_url: str, tmp_path: Path
) -> None:
    init_db(parse_database_url(any_db_url))
    with small_disk(tmp_path / "csvdisk", 256 * 1024) as folder:
        (folder / "filler").write_bytes(b"\0" * (256 * 1024 - 40 * 1024))
        env = {
            "SENTPIPE_DATA_DIR": str(tmp_path / "data"),
            "SENTPIPE_DATABASE_URL": any_db_url,
            "SENTPIPE_CSV_DIR": str(folder),
        }
        first = installed(env, "ingest", "ndjson", str(CASE_29))
        assert first.returncode == 1, first.stderr
        assert "csv sink failed" in first.stderr and "No space left on device" in first.stderr
        assert len(db_ids(any_db_url)) == 60 and len(csv_ids(folder)) < 60
        (folder / "filler").unlink()
        second = installed(env, "ingest", "ndjson", str(CASE_29), "--json")
        assert second.returncode == 0, second.stderr
        result = json.loads(second.stdout)
        assert (result["duplicates"], result["repaired"]) == (60, 60)
        ids = csv_ids(folder)
        assert len(ids) == len(set(ids)) == 60
        assert set(ids) == set(db_ids(any_db_url))


def write_case_33_dump(path: Path, prefix: str) -> Path:
    """60,000 comments of r/python with ids `<prefix>NNNNNN` (as the case's make_dump.py)."""
    import zstandard

    raw = "".join(
        json.dumps(
            {
                "id": f"{prefix}{i:06d}",
                "subreddit": "python",
                "created_utc": 1700000000 + i,
                "body": "some words here " * 20,
                "link_id": "t3_x",
            }
        )
        + "\n"
        for i in range(60_000)
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(raw))
    return path


def ids_with(url: str, prefix: str) -> int:
    return sum(1 for ident in db_ids(url) if ident.startswith(f"t1_{prefix}"))


def csv_with(folder: Path, prefix: str) -> list[str]:
    return [ident for ident in csv_ids(folder) if ident.startswith(f"t1_{prefix}")]


def wait_for_rows(url: str, prefix: str, rows: int, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 120
    while ids_with(url, prefix) < rows:
        assert process.poll() is None and time.monotonic() < deadline, process.poll()
        time.sleep(0.02)


@pytest.mark.parametrize(
    "server",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("timescale", marks=pytest.mark.timescale),
    ],
)
def test_case_33_the_database_restarts_then_stays_down_during_a_backfill(
    server: str, tmp_path: Path, tcp_proxy: type[TcpProxy], request: pytest.FixtureRequest
) -> None:
    direct = str(request.getfixturevalue(f"{server}_url"))
    init_db(parse_database_url(direct))
    host, port = libpq_url(direct).split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = tcp_proxy(host, int(port))
    via_proxy = parse_database_url(direct).sqlalchemy.replace(
        f"{host}:{port}", f"127.0.0.1:{proxy.port}"
    )
    csv_dir = tmp_path / "data" / "csv"
    env = {
        "SENTPIPE_DATA_DIR": str(tmp_path / "data"),
        "SENTPIPE_DATABASE_URL": via_proxy,
        "SENTPIPE_BATCH_SIZE": "1000",
    }

    # (A) a quick restart: the writer reconnects, the run completes
    restart = write_case_33_dump(tmp_path / "restart" / "python_comments.zst", "r")
    process = start(env, "ingest", "reddit-dump", str(restart))
    wait_for_rows(direct, "r", 15_000, process)
    proxy.down()
    time.sleep(0.5)  # the server "restarting" (shorter than the retry window)
    proxy.up()
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert ids_with(direct, "r") == 60_000
    assert sorted(csv_with(csv_dir, "r")) == sorted(f"t1_r{i:06d}" for i in range(60_000))

    # (B) down past the retry window: spooled, exit 3; back: the same command converges
    outage = write_case_33_dump(tmp_path / "outage" / "python_comments.zst", "o")
    down_env = {**env, "SENTPIPE_DB_RETRY_SECONDS": "2"}
    process = start(down_env, "ingest", "reddit-dump", str(outage))
    wait_for_rows(direct, "o", 15_000, process)
    proxy.down()
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 3, output
    assert "spooled" in output
    proxy.up()
    again = installed(down_env, "ingest", "reddit-dump", str(outage))
    assert again.returncode == 0, again.stderr
    assert ids_with(direct, "o") == 60_000
    written = csv_with(csv_dir, "o")
    assert len(written) == len(set(written)) == 60_000
    assert not list((tmp_path / "data" / "spool").glob("*.ndjson"))
    status = json.loads(installed(down_env, "spool", "status", "--json").stdout)
    assert (status["records"], status["journal_rows"]) == (0, 0)
