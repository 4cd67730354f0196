"""`sentpipe ingest reddit-dump`: dumps of every era into every backend, zstd `--long=31`,
bytes split at chunk edges, cut-off input, standard input, filters, --limit, --json,
resume after SIGINT, and one row for a post both scraped and backfilled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.fake_reddit import RunningFakeReddit
from sentiment_pipeline.sources.decode import compression_of
from sentiment_pipeline.sources.reddit_dump import DumpReader, DumpReadError
from sentiment_pipeline.sources.reddit_dump import reader as reader_module
from sentiment_pipeline.sources.reddit_dump.synthetic import (
    ERAS,
    dump_lines,
    dump_objects,
    write_dump,
)
from tests.fixtures.cli import invoke
from tests.fixtures.events import stored_rows
from tests.test_scrape import fake_env

SENTPIPE = Path(sys.executable).with_name("sentpipe")
REPLACEMENT = "\ufffd"


def env_for(tmp_path: Path, url: str | None = None) -> dict[str, str]:
    url = url or f"sqlite:///{tmp_path / 'data' / 'sentpipe.db'}"
    values = {
        "SENTPIPE_DATA_DIR": str(tmp_path / "data"),
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_SINKS": "database",
    }
    assert invoke("db", "init", env=values).exit_code == 0
    return values


def run_dump(env: dict[str, str], *args: str, input: bytes | None = None) -> dict[str, Any]:
    result = invoke("ingest", "reddit-dump", *args, "--json", env=env, input=input)
    assert result.exit_code in (0, 1), result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def epoch(value: Any) -> float:
    return float(value)


def test_every_eras_drift_in_both_kinds(any_db_url: str, tmp_path: Path) -> None:
    env = env_for(tmp_path, any_db_url)
    files: list[str] = []
    sent: dict[str, dict[str, Any]] = {}
    for year in ERAS:
        for kind, prefix in (("submission", "RS"), ("comment", "RC")):
            objects = list(dump_objects(kind, year, 40, seed=year))
            for obj in objects:
                sent[("t3_" if kind == "submission" else "t1_") + obj["id"]] = obj
            files.append(str(write_dump(tmp_path / f"{prefix}_{year}-03.zst", dump_lines(objects))))
    # A per-subreddit file whose records have no `subreddit`: the name gives it.
    objects = list(dump_objects("comment", 2023, 40, subreddit=None, seed=99))
    sent.update({"t1_" + obj["id"]: obj for obj in objects})
    files.append(str(write_dump(tmp_path / "AskScience_comments.zst", dump_lines(objects))))

    data = run_dump(env, *files)

    total = data["total"]
    assert data["exit_code"] == 0, total["errors"]
    assert (total["fetched"], total["valid"], total["inserted"]) == (440, 440, 440)
    assert [f["extra"]["complete"] for f in data["files"]] == [True] * 11
    hostile = sum(
        1
        for obj in sent.values()
        for text in [obj.get("title", obj.get("body", ""))]
        if any(mark in text for mark in ("\x00", "@@SURROGATE@@", "@@BYTE@@"))
    )
    assert total["sanitized"] == hostile > 0
    rows = {row.id: row for row in stored_rows(any_db_url)}
    assert rows.keys() == sent.keys()
    for fullname, obj in sent.items():
        row = rows[fullname]
        assert row.source == "reddit"
        assert row.source_id == ("python" if "subreddit" in obj else "askscience")
        assert row.event_type == ("submission" if fullname.startswith("t3_") else "comment")
        assert row.occurred_at == datetime.fromtimestamp(epoch(obj["created_utc"]), UTC)
        text_field = "title" if "title" in obj else "body"
        if "@@" not in obj[text_field] and "\x00" not in obj[text_field]:
            assert row.payload == obj  # as sent: string created_utc, edited, _meta, …
        else:
            assert REPLACEMENT in row.payload[text_field]
    assert rows["t1_" + objects[0]["id"]].payload["_meta"] == objects[0]["_meta"]


def test_a_long_31_frame_needs_the_raised_window_limit(tmp_path: Path) -> None:
    path = write_dump(tmp_path / "RC_2019-03.zst", dump_lines(dump_objects("comment", 2019, 50)))
    assert zstandard.get_frame_parameters(path.read_bytes()).window_size == 2**31
    with path.open("rb") as handle, pytest.raises(zstandard.ZstdError, match="too much memory"):
        zstandard.ZstdDecompressor().stream_reader(handle).read(100)
    with DumpReader(str(path)) as reader:
        assert len(list(reader.lines())) == 50
        assert reader.bytes_read == reader.size == path.stat().st_size


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "zstd"])
def test_a_character_cut_at_every_chunk_edge_stays_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compress: bool
) -> None:
    lines = [f'{{"body":"ümlaut € 😀 中文 {n}"}}'.encode() for n in range(30)]
    path = write_dump(tmp_path / "RC_2020-01.x", [line + b"\n" for line in lines], compress)
    # One byte per chunk (plain) or per compressed read (zstd): every character is cut.
    monkeypatch.setattr(reader_module, "CHUNK_SIZE", 1)
    monkeypatch.setattr(reader_module, "READ_SIZE", 1)
    with DumpReader(str(path)) as reader:
        assert list(reader.lines()) == list(enumerate(lines, start=1))
    with DumpReader(str(path)) as reader:
        assert list(reader.lines(skip=27)) == [(n, lines[n - 1]) for n in (28, 29, 30)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=6).map(lambda b: b.replace(b"\n", b"")), max_size=12),
    st.booleans(),
    st.integers(1, 9),
    st.integers(0, 14),
)
def test_blocks_give_every_line_after_the_skipped_ones_whatever_the_chunks(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[bytes],
    newline_at_end: bool,
    chunk_size: int,
    skip: int,
) -> None:
    """Line numbers, the skipped prefix and a last line without its newline come out the
    same for any chunk size; each block's `data` starts with its first line."""
    content = b"\n".join(lines) + (b"\n" if newline_at_end and lines else b"")
    assume(compression_of(content) is None)  # that is a compressed file
    expected = content.split(b"\n")
    if expected[-1] == b"":
        expected.pop()  # the file ends with a newline (or is empty)
    path = tmp_path_factory.mktemp("blocks") / "lines.ndjson"
    path.write_bytes(content)
    original = reader_module.CHUNK_SIZE
    reader_module.CHUNK_SIZE = chunk_size
    try:
        with DumpReader(str(path)) as reader:
            blocks = list(reader.blocks(skip))
    finally:
        reader_module.CHUNK_SIZE = original
    numbered = [(first + i, line) for first, block, _ in blocks for i, line in enumerate(block)]
    assert numbered == list(enumerate(expected, start=1))[skip:]
    assert all(data.startswith(block[0]) for _, block, data in blocks)


def test_a_cut_off_last_line_is_dead_lettered_with_file_and_line(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    lines = list(dump_lines(dump_objects("submission", 2019, 5, hostile=False)))
    path = tmp_path / "RS_2019-03.ndjson"
    path.write_bytes(b"".join(lines[:4]) + lines[4][:50])  # no newline, broken JSON
    data = run_dump(env, str(path))
    assert (data["total"]["inserted"], data["total"]["invalid"]) == (4, 1)
    letters = [
        json.loads(line)
        for file in (tmp_path / "data" / "dead-letter").glob("*.ndjson")
        for line in file.read_text(encoding="utf-8").splitlines()
    ]
    assert [letter["error"].split(":")[0] for letter in letters] == ["RS_2019-03.ndjson line 5"]


def test_a_cut_off_zstd_file_stores_the_complete_lines_and_fails(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    whole = write_dump(tmp_path / "whole.zst", dump_lines(dump_objects("comment", 2016, 2000)))
    cut = tmp_path / "RC_2016-03.zst"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with DumpReader(str(cut)) as reader, pytest.raises(DumpReadError):
        list(reader.lines())
    result = invoke("ingest", "reddit-dump", str(cut), "--json", env=env)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    (file,) = data["files"]
    assert "ends inside a frame" in file["errors"][0]
    assert not file["extra"]["complete"]
    assert 0 < file["inserted"] == file["extra"]["lines_done"] < 2000


def test_standard_input(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    path = write_dump(tmp_path / "x.zst", dump_lines(dump_objects("comment", 2023, 30)))
    data = run_dump(env, "-", input=path.read_bytes())
    assert data["total"]["inserted"] == 30
    assert not (tmp_path / "data" / "backfill").exists()  # no checkpoint for a pipe


def mixed(year: int, names: Iterable[str], each: int) -> list[bytes]:
    lines: list[bytes] = []
    for seed, name in enumerate(names, start=1):
        lines += dump_lines(dump_objects("submission", year, each, subreddit=name, seed=seed))
    return lines


def test_filters_limit_and_resume_after_limit(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    path = write_dump(tmp_path / "RS_2019-03.zst", mixed(2019, ["Python", "rust", "golang"], 100))
    data = run_dump(env, str(path), "--subreddit", "PYTHON", "-s", "Rust", "--dry-run")
    assert (data["total"]["valid"], data["total"]["extra"]["filtered"]) == (200, 100)
    assert set(data["total"]["per_source_id"]) == {"python", "rust"}

    start = datetime(2019, 3, 1, tzinfo=UTC).timestamp()
    objects = list(dump_objects("submission", 2019, 100, subreddit="Python", seed=1))
    created = [epoch(obj["created_utc"]) for obj in objects]
    since, until = created[10], created[20]
    assert start < since
    data = run_dump(
        env,
        str(path),
        "-s",
        "python",
        "--since",
        datetime.fromtimestamp(since, UTC).isoformat(),
        "--until",
        datetime.fromtimestamp(until, UTC).isoformat(),
        "--dry-run",
    )
    assert data["total"]["valid"] == sum(since <= c < until for c in created) == 10

    first = run_dump(env, str(path), "--limit", "120")
    assert first["total"]["inserted"] == 120
    assert first["total"]["stopped_early"] and first["total"]["stop_reason"] == "--limit reached"
    assert first["files"][0]["extra"]["lines_done"] == 120
    second = run_dump(env, str(path))
    assert second["files"][0]["extra"]["resumed_from_line"] == 120
    assert (second["total"]["inserted"], second["total"]["duplicates"]) == (180, 0)
    again = run_dump(env, str(path))
    assert again["files"][0]["extra"]["already_complete"]
    assert again["total"]["fetched"] == 0
    restart = run_dump(env, str(path), "--restart")
    assert (restart["total"]["inserted"], restart["total"]["duplicates"]) == (0, 300)


def test_bad_lines_are_dead_lettered_and_kind_comes_from_the_option(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    good = dump_lines(dump_objects("comment", 2019, 3, hostile=False))
    path = tmp_path / "unknown.jsonl"
    bare = {"id": "zz1", "created_utc": 1_600_000_000, "subreddit": "x", "body": "no kind"}
    path.write_bytes(
        b"".join(good)
        + b'{"broken\n'
        + json.dumps({"id": "a", "created_utc": 1_600_000_000, "link_id": "t3_b"}).encode()
        + b"\n"
        + json.dumps(bare).encode()
        + b"\n"
    )
    data = run_dump(env, str(path))
    assert (data["total"]["inserted"], data["total"]["invalid"]) == (3, 3)
    reasons = sorted(
        json.loads(line)["error"]
        for file in (tmp_path / "data" / "dead-letter").glob("*.ndjson")
        for line in file.read_text(encoding="utf-8").splitlines()
    )
    assert reasons[0].startswith("unknown.jsonl line 4: not JSON")
    assert reasons[1].startswith("unknown.jsonl line 5: no `subreddit`")
    assert reasons[2].startswith("unknown.jsonl line 6: cannot tell a submission")
    data = run_dump(env, str(path), "--kind", "comment", "--restart")
    assert data["total"]["inserted"] == 1  # the bare record, as t1_zz1
    assert "t1_zz1" in {row.id for row in stored_rows(env["SENTPIPE_DATABASE_URL"])}


def test_a_scraped_post_and_the_same_post_from_a_dump_are_one_row(
    fake_reddit: RunningFakeReddit, tmp_path: Path, timescale_url: str
) -> None:
    env = fake_env(fake_reddit, tmp_path, timescale_url)
    result = invoke("scrape", "reddit", "-s", "tiny", "--no-comments", env=env)
    assert result.exit_code == 0, result.output
    scraped = stored_rows(timescale_url)
    assert len(scraped) == 5
    # The dump's copy: what Reddit sent, with the dump's own drift (an int created_utc
    # as a string, no `name`, an extra `_meta`).
    lines = []
    for row in scraped:
        obj = dict(row.payload)
        obj["created_utc"] = str(int(float(obj["created_utc"])))
        obj.pop("name", None)
        obj["_meta"] = {"retrieved_on": 1_700_000_000}
        lines.append(json.dumps(obj).encode() + b"\n")
    path = write_dump(tmp_path / "tiny_submissions.zst", lines)
    data = run_dump(env, str(path))
    assert (data["total"]["inserted"], data["total"]["duplicates"]) == (0, 5)
    assert [row.id for row in stored_rows(timescale_url)] == [row.id for row in scraped]


def checkpoint_lines(data_dir: Path) -> int:
    files = list((data_dir / "backfill").glob("*.json"))
    if not files:
        return 0
    try:
        return int(json.loads(files[0].read_text(encoding="utf-8"))["lines_done"])
    except (ValueError, KeyError):
        return 0


def test_resume_after_sigint_stores_exactly_the_rest(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    total = 60_000
    path = write_dump(tmp_path / "RC_2019-03.zst", dump_lines(dump_objects("comment", 2019, total)))
    command = [str(SENTPIPE), "ingest", "reddit-dump", str(path), "--json"]
    source_tree = str(Path(__file__).parents[1] / "src")
    child_env = {**os.environ, **env, "SENTPIPE_BATCH_SIZE": "500", "PYTHONPATH": source_tree}
    process = subprocess.Popen(
        command, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while checkpoint_lines(tmp_path / "data") == 0 and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    first = json.loads(out)["files"][0]
    stored = len(stored_rows(env["SENTPIPE_DATABASE_URL"]))
    if first["extra"]["complete"]:
        pytest.skip("the run ended before the signal reached it")  # pragma: no cover
    assert first["stopped_early"] and first["stop_reason"] == "interrupted"
    done = first["extra"]["lines_done"]
    assert checkpoint_lines(tmp_path / "data") == done
    assert 0 < done <= stored == first["inserted"] < total

    second = run_dump(env, str(path))
    file = second["files"][0]["extra"]
    assert file["resumed_from_line"] == done and file["complete"]
    assert file["lines_read"] == total - done
    assert second["total"]["inserted"] == total - stored
    assert second["total"]["duplicates"] == stored - done  # written, not yet checkpointed
    ids = [row.id for row in stored_rows(env["SENTPIPE_DATABASE_URL"])]
    assert len(ids) == len(set(ids)) == total
