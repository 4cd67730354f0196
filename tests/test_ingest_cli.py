"""`sentpipe ingest ndjson` and `sentpipe spool …` through CliRunner and the installed
command, including a clean stop on SIGTERM."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.cli import invoke
from tests.fixtures.events import ndjson_line

SENTPIPE = Path(sys.executable).with_name("sentpipe")


SELFTEXT = 'a,"b"\nc =SUM(A1) 😀'  # a CSV-hostile field


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": ""}
    assert invoke("db", "init", env=values).exit_code == 0
    return values


def test_ingest_counts_json_and_dead_letters(tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "in.ndjson"
    source.write_text(
        "\n".join(
            [
                ndjson_line(1),
                ndjson_line(2),
                "{broken",
                ndjson_line(3, occurred_at="2020-01-01"),
                ndjson_line(1),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = invoke("ingest", "ndjson", str(source), "--json", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {k: data[k] for k in ("fetched", "valid", "invalid", "inserted", "duplicates")} == {
        "fetched": 5,
        "valid": 3,
        "invalid": 2,
        "inserted": 2,
        "duplicates": 1,
    }
    assert data["per_source_id"]["python"]["inserted"] == 2
    assert data["exit_code"] == 0
    dead = list((tmp_path / "data" / "dead-letter").glob("*.ndjson"))
    reasons = [json.loads(x)["error"] for x in dead[0].read_text().splitlines()]
    assert reasons[0].startswith("line 3: not JSON")
    assert "timezone" in reasons[1]
    again = invoke("ingest", "ndjson", str(source), "--json", env=env)
    assert json.loads(again.output)["duplicates"] == 3


def test_ingest_stdin_and_csv_only(tmp_path: Path, env: dict[str, str]) -> None:
    text = "\n".join(ndjson_line(n, payload={"selftext": SELFTEXT}) for n in range(10)) + "\n"
    result = invoke("ingest", "ndjson", "-", "--sink", "csv", "--json", input=text, env=env)
    assert json.loads(result.output)["inserted"] == 10
    again = invoke("ingest", "ndjson", "-", "--sink", "csv", "--json", input=text, env=env)
    assert json.loads(again.output)["duplicates"] == 10  # CSV alone skips known keys
    files = list((tmp_path / "data" / "csv" / "reddit" / "python").glob("*.csv"))
    total = 0
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        total += len(rows)
        assert json.loads(rows[0]["payload"])["selftext"] == SELFTEXT
    assert total == 10


def test_missing_file_is_a_usage_error(env: dict[str, str]) -> None:
    result = invoke("ingest", "ndjson", "nope.ndjson", env=env)
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_spool_status_and_replay_when_empty(env: dict[str, str]) -> None:
    status = invoke("spool", "status", "--json", env=env)
    assert json.loads(status.output)["records"] == 0
    replay = invoke("spool", "replay", "--json", env=env)
    assert replay.exit_code == 0 and json.loads(replay.output)["replayed"] == 0


def test_sigterm_flushes_and_exits_cleanly(tmp_path: Path, env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [str(SENTPIPE), "ingest", "ndjson", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env, "SENTPIPE_FLUSH_INTERVAL": "30"},
        cwd=tmp_path,
    )
    assert process.stdin is not None
    for n in range(25):
        process.stdin.write(ndjson_line(n) + "\n")
    process.stdin.flush()
    time.sleep(1.5)  # let it read the lines; the batch is not flushed yet (30 s interval)
    process.send_signal(signal.SIGTERM)
    # stdin stays open: the process must not wait for it
    process.wait(timeout=30)
    assert process.stderr is not None
    err = process.stderr.read()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    assert process.returncode == 0, err
    assert "received SIGTERM" in err
    assert "stopped early" in err
    csv_files = list((tmp_path / "data" / "csv").rglob("*.csv"))
    rows = 0
    for path in csv_files:
        assert path.read_bytes().endswith(b"\r\n")  # no half-written line
        with path.open(newline="", encoding="utf-8") as handle:
            rows += len(list(csv.DictReader(handle)))
    assert rows == 25
