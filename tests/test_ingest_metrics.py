"""Metrics for the long jobs: `ingest ndjson` and `ingest reddit-dump` write the
Prometheus file (`--metrics-file PATH`, or `SENTPIPE_METRICS_DIR`), and a backfill keeps
its progress gauges current at each checkpoint while it runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.backfill import BackfillOptions, CheckpointProgress, backfill
from sentiment_pipeline.service import BackfillGauges, parse_metrics, write_metrics
from sentiment_pipeline.service import progress as progress_module
from sentiment_pipeline.settings import load_settings
from sentiment_pipeline.sources.reddit_dump.synthetic import dump_lines, dump_objects, write_dump
from tests.fixtures.cli import invoke
from tests.fixtures.events import ndjson_line

SENTPIPE = Path(sys.executable).with_name("sentpipe")
DUMP = "sentpipe_ingest_reddit_dump.prom"


def value(text: str, name: str, **labels: str) -> float | None:
    return parse_metrics(text).get((name, tuple(sorted(labels.items()))))


def read(path: Path, name: str, **labels: str) -> float | None:
    return value(path.read_text(encoding="utf-8"), name, **labels)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {
        "SENTPIPE_DATA_DIR": str(tmp_path / "data"),
        "SENTPIPE_SINKS": "database,csv",
        "SENTPIPE_BATCH_SIZE": "50",
        "SENTPIPE_FLUSH_INTERVAL": "0.05",
        "SENTPIPE_PARSE_WORKERS": "0",
    }
    assert invoke("db", "init", env=values).exit_code == 0
    return values


def a_dump(tmp_path: Path, count: int, name: str = "RS_2023-03.zst") -> Path:
    objects = dump_objects("submission", 2023, count, seed=7)
    return write_dump(tmp_path / name, dump_lines(objects))


def test_ingest_ndjson_writes_its_metrics_file(tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "in.ndjson"
    lines = [ndjson_line(1), ndjson_line(2), "{broken", ndjson_line(3, source_id="rust")]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    metrics = tmp_path / "m" / "ingest.prom"
    done = invoke("ingest", "ndjson", str(source), "--metrics-file", str(metrics), env=env)
    assert done.exit_code == 0, done.output
    labels = {"command": "ingest_ndjson"}
    assert read(metrics, "sentpipe_last_exit_code", **labels) == 0
    assert read(metrics, "sentpipe_last_success_timestamp_seconds", **labels) is not None
    assert read(metrics, "sentpipe_run_events_inserted", **labels) == 3
    assert read(metrics, "sentpipe_run_events_dead_lettered", **labels) == 1
    # NDJSON may hold any source: its per-target series are labelled `source_id`
    rust = {**labels, "source_id": "rust"}
    assert read(metrics, "sentpipe_source_id_events_inserted", **rust) == 1

    refused = tmp_path / "page.html"
    refused.write_text("<!doctype html><html></html>\n", encoding="utf-8")
    done = invoke("ingest", "ndjson", str(refused), "--metrics-file", str(metrics), env=env)
    assert done.exit_code == 2, done.output
    assert read(metrics, "sentpipe_last_exit_code", **labels) == 2  # a failed run too
    assert read(metrics, "sentpipe_last_success_timestamp_seconds", **labels) is not None


def test_the_installed_command_names_the_files_after_the_commands(
    tmp_path: Path, env: dict[str, str]
) -> None:
    source = tmp_path / "in.ndjson"
    source.write_text("\n".join(ndjson_line(n) for n in range(1, 6)) + "\n", encoding="utf-8")
    dump = a_dump(tmp_path, 120)
    folder = tmp_path / "metrics"
    environment = {**os.environ, **env, "SENTPIPE_METRICS_DIR": str(folder)}
    for args in (["ndjson", str(source)], ["reddit-dump", str(dump)]):
        done = subprocess.run(
            [str(SENTPIPE), "ingest", *args, "-q"],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["sentpipe_ingest_ndjson.prom", DUMP]
    ndjson = folder / "sentpipe_ingest_ndjson.prom"
    assert read(ndjson, "sentpipe_run_events_inserted", command="ingest_ndjson") == 5
    labels = {"command": "ingest_reddit_dump"}
    assert read(folder / DUMP, "sentpipe_run_events_inserted", **labels) == 120
    where = {**labels, "file": str(dump)}
    assert read(folder / DUMP, "sentpipe_backfill_lines_done", **where) == 120
    size = dump.stat().st_size
    assert read(folder / DUMP, "sentpipe_backfill_bytes_done", **where) == size
    assert read(folder / DUMP, "sentpipe_backfill_bytes_total", **where) == size


@pytest.mark.parametrize("command", ["ndjson", "reddit-dump"])
def test_help_names_the_metrics_file_option(command: str) -> None:
    done = invoke("ingest", command, "--help", env={"COLUMNS": "200"})
    assert done.exit_code == 0
    assert re.search(r"--metrics-file\s+PATH", done.output), done.output


def test_a_backfill_reports_each_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTPIPE_SINKS", "database")
    monkeypatch.setenv("SENTPIPE_BATCH_SIZE", "50")
    monkeypatch.setenv("SENTPIPE_PARSE_WORKERS", "0")
    settings = load_settings()
    dump = a_dump(tmp_path, 400)
    seen: list[CheckpointProgress] = []
    backfill(settings, [str(dump)], BackfillOptions(limit=260), on_checkpoint=seen.append)
    lines = [progress.lines_done for progress in seen]
    assert lines == sorted(set(lines)) and lines[-1] == 260 and len(lines) >= 5
    assert all(p.bytes_total == dump.stat().st_size and not p.complete for p in seen)
    done = [progress.bytes_done for progress in seen]
    assert done == sorted(done) and 0 < done[-1] < dump.stat().st_size

    seen.clear()
    backfill(settings, [str(dump)], on_checkpoint=seen.append)
    assert seen[0].lines_done > 260  # resumed
    assert (seen[-1].lines_done, seen[-1].bytes_done, seen[-1].complete) == (
        400,
        dump.stat().st_size,
        True,
    )
    seen.clear()
    backfill(settings, [str(dump)], on_checkpoint=seen.append)  # loaded already
    assert [(p.lines_done, p.bytes_done, p.complete) for p in seen] == [
        (400, dump.stat().st_size, True)
    ]


def test_the_metrics_file_shows_a_backfill_going_on(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write while the run goes on is kept (the file is replaced each time): they
    show the lines and bytes done growing, the run not finished (no exit code yet) and
    the last success of the run before; the file after the run is the final one."""
    snapshots: list[str] = []

    def kept(path: Path, metrics: Any) -> None:
        write_metrics(path, metrics)
        snapshots.append(path.read_text(encoding="utf-8"))

    monkeypatch.setattr(progress_module, "write_metrics", kept)
    dump = a_dump(tmp_path, 400)
    size = dump.stat().st_size
    metrics = tmp_path / "m" / "dump.prom"
    labels = {"command": "ingest_reddit_dump"}
    where = {**labels, "file": str(dump)}
    args = ["ingest", "reddit-dump", str(dump), "--metrics-file", str(metrics)]

    done = invoke(*args, "--limit", "260", env=env)
    assert done.exit_code == 0, done.output
    assert snapshots
    assert all(value(s, "sentpipe_last_exit_code", **labels) is None for s in snapshots)
    assert value(snapshots[-1], "sentpipe_backfill_lines_done", **where) == 260
    assert read(metrics, "sentpipe_last_exit_code", **labels) == 0
    assert read(metrics, "sentpipe_backfill_lines_done", **where) == 260
    assert 0 < (read(metrics, "sentpipe_backfill_bytes_done", **where) or 0) < size
    assert read(metrics, "sentpipe_backfill_bytes_total", **where) == size
    first_success = read(metrics, "sentpipe_last_success_timestamp_seconds", **labels)
    assert first_success is not None

    snapshots.clear()
    done = invoke(*args, env=env)  # goes on from the checkpoint
    assert done.exit_code == 0, done.output
    assert snapshots
    going_on = [value(s, "sentpipe_backfill_lines_done", **where) or 0 for s in snapshots]
    assert going_on == sorted(going_on) and going_on[0] > 260 and going_on[-1] == 400
    for text in snapshots:
        assert value(text, "sentpipe_last_success_timestamp_seconds", **labels) == first_success
        assert value(text, "sentpipe_backfill_bytes_total", **where) == size
    assert read(metrics, "sentpipe_backfill_bytes_done", **where) == size
    assert read(metrics, "sentpipe_run_events_inserted", **labels) == 140
    later = read(metrics, "sentpipe_last_success_timestamp_seconds", **labels)
    assert later is not None and later > first_success
    assert sorted(p.name for p in metrics.parent.iterdir()) == ["dump.prom"]  # no temporaries


def test_the_gauges_merge_checkpoints_and_write_the_last(tmp_path: Path) -> None:
    path = tmp_path / "progress.prom"
    with BackfillGauges(path, "ingest_reddit_dump", 1_700_000_000.0) as gauges:
        for line in range(1, 101):
            gauges(CheckpointProgress("RC_2024-01.zst", line, line * 10, 1000))
        gauges(CheckpointProgress("-", 7, 70, None))
    text = path.read_text(encoding="utf-8")
    where = {"command": "ingest_reddit_dump", "file": "RC_2024-01.zst"}
    assert value(text, "sentpipe_backfill_lines_done", **where) == 100
    assert value(text, "sentpipe_backfill_bytes_done", **where) == 1000
    stdin = {"command": "ingest_reddit_dump", "file": "stdin"}
    assert value(text, "sentpipe_backfill_lines_done", **stdin) == 7
    assert value(text, "sentpipe_backfill_bytes_total", **stdin) is None  # no size
    assert value(text, "sentpipe_last_run_timestamp_seconds", command="ingest_reddit_dump") == (
        1_700_000_000.0
    )
    assert gauges.per_file()["RC_2024-01.zst"] == {
        "lines_done": 100.0,
        "bytes_done": 1000.0,
        "bytes_total": 1000.0,
    }
    unwritten = BackfillGauges(None, "ingest_reddit_dump", 0.0)  # no file: only kept
    unwritten(CheckpointProgress("a.zst", 1, 1, 2))
    unwritten.close()
    assert unwritten.per_file() == {"a.zst": {"lines_done": 1, "bytes_done": 1, "bytes_total": 2}}
