"""Parsing in worker processes (`parallel`): what crosses between processes comes back
as it went, the pool keeps the input's order and its failures, small inputs never start
one, and an ingest with workers stores, dead-letters and counts exactly what one
without them does (NDJSON and dumps, hostile lines included)."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline import parallel
from sentiment_pipeline.dto import (
    RawEventDTO,
    Rejected,
    Validated,
    dump_json,
    plain_validated,
    ship,
    shipped_event,
    unship,
    validate_record,
)
from sentiment_pipeline.errors import SentpipeError
from sentiment_pipeline.parallel import BlockPool
from sentiment_pipeline.sources import ndjson as ndjson_module
from sentiment_pipeline.sources.reddit_dump import FILTERED
from sentiment_pipeline.sources.reddit_dump import reader as reader_module
from sentiment_pipeline.sources.reddit_dump.synthetic import (
    dump_lines,
    dump_objects,
    write_dump,
)
from tests.fixtures.cli import invoke
from tests.fixtures.events import stored_rows

SENTPIPE = Path(sys.executable).with_name("sentpipe")
CASES = Path(__file__).parent / "data" / "cases"  # inputs that once failed (issue 10)


def _case_lines(*names: str) -> list[bytes]:
    return [
        line
        for name in names
        for path in sorted((CASES / name).glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
    ]


_MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
_NAMES = st.sampled_from(["reddit", "python", "Rust_lang", "a.b-c"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def _events(draw: st.DrawFn) -> Validated:
    payload = draw(st.dictionaries(st.text(), _JSON, max_size=4))
    record = {
        "id": draw(st.text(min_size=1, max_size=12).filter(str.isprintable).filter(str.strip)),
        "occurred_at": draw(_MOMENTS),
        "source": draw(_NAMES),
        "source_id": draw(_NAMES),
        "event_type": draw(st.sampled_from(["submission", "comment"])),
        "payload": payload,
    }
    checked = validate_record(record, 1 << 30)
    if not isinstance(checked, Validated):
        return draw(st.nothing())
    return Validated(checked.event, draw(st.booleans()))


def _plain(checked: Validated, as_epoch: bool) -> tuple[Any, ...]:
    e = checked.event
    moment = e.occurred_at.timestamp() if as_epoch else e.occurred_at
    return (e.id, moment, e.source, e.source_id, e.event_type, e.payload_bytes)


_ITEMS = st.lists(
    _events()
    | st.builds(_plain, _events(), st.booleans())  # a worker's plain events
    | st.just(FILTERED)
    | st.builds(Rejected, _JSON, st.text())
    | st.dictionaries(st.text(), _JSON, max_size=2),
    max_size=12,
)


def _fields(item: Any) -> Any:
    if type(item) is tuple:
        item = plain_validated(item)  # type: ignore[arg-type]
    if type(item) is Validated:
        e = item.event
        values = (e.id, e.occurred_at, e.source, e.source_id, e.event_type, e.payload_bytes)
        return ("event", values, e.occurred_at.tzinfo, e.payload, item.sanitized)
    return item


@settings(max_examples=300, deadline=None)
@given(_ITEMS)
def test_unship_gives_back_what_ship_was_given(items: list[Any]) -> None:
    shipped = pickle.loads(pickle.dumps(ship(items, FILTERED)))  # as between processes
    back = unship(shipped, FILTERED)
    assert [_fields(item) for item in back] == [_fields(item) for item in items]
    assert [item is FILTERED for item in back] == [item is FILTERED for item in items]
    for before, after in zip(items, back, strict=True):
        if type(before) is tuple:
            before = plain_validated(before)  # type: ignore[arg-type]
        if type(before) is Validated:
            assert after.event == before.event
            assert after.event.payload_json == before.event.payload_json


def test_times_cross_exactly_whole_seconds_or_not() -> None:
    moments = [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2023, 3, 1, 12, 0, 0, tzinfo=UTC),
        datetime(2023, 3, 1, 12, 0, 0, 999_999, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        datetime(2600, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
    items = [
        Validated(shipped_event(f"t3_{n}", moment, "reddit", "x", "comment", b"{}"), False)
        for n, moment in enumerate(moments)
    ]
    back = unship(pickle.loads(pickle.dumps(ship(items))))
    assert [item.event.occurred_at for item in back] == moments
    assert all(item.event.occurred_at.tzinfo is UTC for item in back)


def test_a_shipped_event_reads_its_payload_from_the_text() -> None:
    moment = datetime(2024, 1, 2, tzinfo=UTC)
    payload = {"title": "é 😀", "n": [1, 2.5, None, 10**30], "nested": {"a": -0.0}}
    text = dump_json(payload)
    event = shipped_event("t3_a", moment, "reddit", "python", "submission", text.encode())
    full = validate_record(
        {
            "id": "t3_a",
            "occurred_at": moment,
            "source": "reddit",
            "source_id": "python",
            "event_type": "submission",
            "payload": payload,
        }
    )
    assert isinstance(full, Validated)
    assert event.payload_json == text and event.payload_bytes == text.encode()
    assert event == full.event and full.event == event
    assert event.model_dump() == full.event.model_dump()
    assert event.to_record() == full.event.to_record()
    assert "payload=" in repr(event)
    assert isinstance(event, RawEventDTO)


# --- the pool ------------------------------------------------------------------------


def _pid_job(state: int, block: int) -> list[Any]:
    """Module level, so workers import it: which process did block `block`."""
    if block == state:
        raise ValueError(f"block {block} is bad")
    return [Rejected({"block": block, "pid": os.getpid()}, "") for _ in range(3)]


def _dying_job(state: int, block: int) -> list[Any]:
    if block >= 3 and os.getpid() != state:
        os._exit(7)  # a worker killed under it (out of memory, say)
    return []


def _slowly(blocks: int) -> Any:
    for block in range(blocks):
        time.sleep(0.05)  # the workers start meanwhile
        yield block


def _blocks_and_pids(pool: BlockPool, blocks: int) -> list[tuple[int, int]]:
    out = []
    for items in pool.map(_slowly(blocks)):
        assert len(items) == 3
        out.append((items[0].record["block"], items[0].record["pid"]))
    return out


def test_the_pool_keeps_the_order_and_works_in_other_processes() -> None:
    done = _blocks_and_pids(BlockPool(_pid_job, -1, 2, start_after=0), 40)
    assert [block for block, _ in done] == list(range(40))
    pids = {pid for _, pid in done}
    assert len(pids - {os.getpid()}) >= 1  # the workers did blocks (once started)


def test_small_inputs_never_start_a_pool() -> None:
    pool = BlockPool(_pid_job, -1, 2, start_after=5)
    assert {pid for _, pid in _blocks_and_pids(pool, 5)} == {os.getpid()}
    assert {pid for _, pid in _blocks_and_pids(BlockPool(_pid_job, -1, 0), 9)} == {os.getpid()}


def test_a_failing_block_raises_after_the_blocks_before_it() -> None:
    seen = []
    with pytest.raises(ValueError, match="block 25 is bad"):
        for items in BlockPool(_pid_job, 25, 2, start_after=0).map(range(40)):
            seen.append(items[0].record["block"])
    assert seen == list(range(25))


def test_a_dead_worker_is_a_clear_error() -> None:
    pool = BlockPool(_dying_job, os.getpid(), 2, start_after=0)
    with pytest.raises(SentpipeError, match="parsing worker process died") as caught:
        for _ in pool.map(itertools.count()):  # until the workers are up and one dies
            time.sleep(0.001)
    assert "SENTPIPE_PARSE_WORKERS=0" in (caught.value.hint or "")


def test_parse_workers_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentiment_pipeline.settings import Settings

    monkeypatch.setenv("SENTPIPE_PARSE_WORKERS", "0")
    assert parallel.parse_workers(Settings()) == 0
    monkeypatch.setenv("SENTPIPE_PARSE_WORKERS", "3")
    assert parallel.parse_workers(Settings()) == 3
    monkeypatch.delenv("SENTPIPE_PARSE_WORKERS")
    assert parallel.parse_workers(Settings()) == parallel.default_workers() in (0, 2)


# --- whole ingests, with and without workers -------------------------------------------


def _hostile_objects(count: int) -> list[dict[str, Any]]:
    posts = list(dump_objects("submission", 2016, count // 2, seed=11))
    return posts + list(dump_objects("comment", 2023, count - count // 2, seed=12))


def _event_lines(objects: list[dict[str, Any]]) -> list[bytes]:
    """NDJSON in event shape around the dump's own (hostile) bytes, and bad lines."""
    lines = [b"\xef\xbb\xbf"]  # a byte-order mark alone on the first line
    for obj, raw in zip(objects, dump_lines(objects), strict=True):
        head = {
            "id": obj.get("name") or f"t1_{obj['id']}",
            "occurred_at": obj["created_utc"],  # a numeric string in 2016: dead-lettered
            "source": "reddit",
            "source_id": obj["subreddit"],
            "event_type": "comment",
        }
        lines.append(json.dumps(head).encode()[:-1] + b',"payload":' + raw.rstrip(b"\n") + b"}")
    lines[50:50] = [b"", b"{not json", b'{"id":"x","payload":NaN}', b"[1,2]", b"   "]
    lines[300:300] = _case_lines(  # surrogates, a 4,400-digit integer, year 1, 200k chars
        "01-lone-surrogate-ingest",
        "03-integer-over-4300-digits",
        "05-year-before-1000",
        "08-csv-sink-field-over-128k",
    )
    lines[400:400] = [  # refused by validation: a time far ahead, a name that is a path
        b'{"id":"t3_f","occurred_at":99999999999,"source":"r","source_id":"s",'
        b'"event_type":"e","payload":{}}',
        b'{"id":"t3_p","occurred_at":1,"source":"r","source_id":"../x",'
        b'"event_type":"e","payload":{}}',
    ]
    lines[200:200] = [
        b'{"id":"t3_big","occurred_at":1,"source":"r","source_id":"s",'
        b'"event_type":"e","payload":{"n":1' + b"0" * 40 + b"}}"
    ]
    return lines


def _ingest(tmp_path: Path, name: str, workers: int, *args: str) -> tuple[Any, ...]:
    """The run's --json summary, the stored rows, the dead letters and the CSV files."""
    data = tmp_path / name
    env = {
        "SENTPIPE_DATA_DIR": str(data),
        "SENTPIPE_DATABASE_URL": f"sqlite:///{data / 'sentpipe.db'}",
        "SENTPIPE_PARSE_WORKERS": str(workers),
        "SENTPIPE_BATCH_SIZE": "700",
    }
    invoke("db", "init", env=env)
    result = invoke(*args, "--json", env=env)
    assert result.exit_code == 0, result.output
    rows = [
        (row.id, row.occurred_at, row.source_id, json.dumps(row.payload, sort_keys=True))
        for row in stored_rows(env["SENTPIPE_DATABASE_URL"])
    ]
    letters = [
        {key: value for key, value in json.loads(line).items() if key != "time"}
        for path in sorted((data / "dead-letter").rglob("*"))
        if path.is_file()
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    csv.field_size_limit(2**31 - 1)  # case 08's 200,000-character comment
    csv_files = {}  # each file's rows without their ingested_at
    for path in sorted((data / "csv").rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows_read = list(csv.reader(handle))
        csv_files[str(path.relative_to(data))] = [row[:6] + row[7:] for row in rows_read]
    return json.loads(result.output), rows, letters, csv_files


def _counts(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("fetched", "valid", "invalid", "sanitized", "inserted", "duplicates")
    return {key: summary[key] for key in keys}


def _with_pool_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Start pools at once and count the blocks workers did."""
    pooled: list[int] = []
    original = BlockPool._result

    def counted(self: BlockPool, future: Any) -> list[Any]:
        pooled.append(1)
        return original(self, future)

    starting = BlockPool._use_pool

    def waiting(self: BlockPool, count: int) -> bool:  # no block in-process meanwhile
        if starting(self, count):
            return True
        if self._ready is None:
            return False
        self._ready.result()
        return True

    monkeypatch.setattr(parallel, "START_AFTER_BLOCKS", 0)
    monkeypatch.setattr(BlockPool, "_result", counted)
    monkeypatch.setattr(BlockPool, "_use_pool", waiting)
    return pooled


def test_ndjson_with_workers_stores_exactly_what_it_stores_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pooled = _with_pool_counted(monkeypatch)
    monkeypatch.setattr(ndjson_module, "_BLOCK_BYTES", 16_384)
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(_event_lines(_hostile_objects(600))) + b"\n")
    alone = _ingest(tmp_path, "alone", 0, "ingest", "ndjson", str(path))
    assert not pooled
    pooled_run = _ingest(tmp_path, "pooled", 2, "ingest", "ndjson", str(path))
    assert len(pooled) > 10
    assert _counts(pooled_run[0]) == _counts(alone[0])
    assert pooled_run[1:] == alone[1:]
    summary = alone[0]
    # 600 generated + the big integer + the cases' 11 records, of which case 03's huge
    # integer is dead-lettered; 5 refusals of the file's own
    assert summary["sanitized"] > 0 and summary["invalid"] == 6 and summary["inserted"] == 611


def test_a_dump_with_workers_stores_exactly_what_it_stores_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pooled = _with_pool_counted(monkeypatch)
    monkeypatch.setattr(reader_module, "READ_SIZE", 8_192)
    objects = _hostile_objects(1_000)
    lines = list(dump_lines(objects))
    lines[10:10] = [b"{broken\n", b"\n", b'"a string"\n']
    poll = json.loads((CASES / "09-poll-post" / "poll-post.json").read_text(encoding="utf-8"))
    lines[500:500] = [json.dumps({**poll, "subreddit": "python"}).encode() + b"\n"]
    path = write_dump(tmp_path / "python_comments.zst", lines)
    args = ("ingest", "reddit-dump", str(path))
    alone = _ingest(tmp_path, "alone", 0, *args, "--subreddit", "python", "--limit", "900")
    assert not pooled
    pooled_run = _ingest(tmp_path, "pooled", 2, *args, "--subreddit", "python", "--limit", "900")
    assert len(pooled) > 5
    assert _counts(pooled_run[0]["total"]) == _counts(alone[0]["total"])
    assert pooled_run[0]["files"][0]["extra"] == alone[0]["files"][0]["extra"]
    assert pooled_run[1:] == alone[1:]
    assert alone[0]["total"]["sanitized"] > 0 and alone[0]["total"]["invalid"] >= 2


_ORPHAN = """
import sys, time
sys.path[:0] = {paths!r}
from sentiment_pipeline.parallel import BlockPool
from tests.test_parallel import _pid_job

def slowly():
    for block in range(10_000):
        time.sleep(0.01)
        yield block

if __name__ == "__main__":
    for _ in BlockPool(_pid_job, -1, 2, start_after=0).map(slowly()):
        pass
"""


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
            found.update(int(child) for child in handle.read().split())
    return found


def _alive(pid: int) -> bool:
    """Running, not ended (a zombie waiting for init to reap it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_workers_end_when_their_main_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "pool.py"
    root = Path(__file__).parents[1]
    script.write_text(_ORPHAN.format(paths=[str(root / "src"), str(root)]), encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(script)])
    deadline = time.monotonic() + 60
    while len(_children(process.pid)) < 3:  # two workers and multiprocessing's tracker
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    children = _children(process.pid)
    process.kill()  # SIGKILL: no chance to stop the pool
    process.wait()
    deadline = time.monotonic() + 10
    while any(_alive(child) for child in children):
        assert time.monotonic() < deadline, "worker processes outlived their main process"
        time.sleep(0.1)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_to_the_whole_process_group_stops_cleanly_and_resumes(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """A terminal's Ctrl-C, or a service manager's SIGTERM to every process of the
    service, reaches the workers too: they leave it to the main process, which stops,
    keeps its checkpoint, and the next run stores exactly the rest."""
    total = 60_000
    path = write_dump(tmp_path / "RC_2019-03.zst", dump_lines(dump_objects("comment", 2019, total)))
    settings = {
        "SENTPIPE_DATA_DIR": str(tmp_path / "data"),
        "SENTPIPE_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'sentpipe.db'}",
        "SENTPIPE_PARSE_WORKERS": "2",
        "SENTPIPE_BATCH_SIZE": "500",
    }
    assert invoke("db", "init", env=settings).exit_code == 0
    env = {**os.environ, **settings, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    command = [str(SENTPIPE), "ingest", "reddit-dump", str(path), "--json"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 120
    checkpoints = tmp_path / "data" / "backfill"
    while not list(checkpoints.glob("*.json")) and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()[1].decode()
    os.killpg(process.pid, stop)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err, err.decode()
    first = json.loads(out)["files"][0]
    if first["extra"]["complete"]:
        pytest.skip("the run ended before the signal reached it")  # pragma: no cover
    assert first["stop_reason"] == "interrupted"
    second = subprocess.run(command, env=env, capture_output=True, timeout=300, check=True)
    file = json.loads(second.stdout)["files"][0]
    assert file["extra"]["complete"]
    assert file["extra"]["resumed_from_line"] == first["extra"]["lines_done"]
    ids = [row.id for row in stored_rows(env["SENTPIPE_DATABASE_URL"])]
    assert len(ids) == len(set(ids)) == total


# --- the reader thread -------------------------------------------------------------------


def test_a_reader_thread_gives_the_items_then_end_or_the_error() -> None:
    def failing() -> Any:
        yield from (1, 2)
        raise ValueError("cut off")

    async def read(items: Any) -> list[Any]:
        reads = parallel.ReaderThread(items, "test-reader", depth=1)
        got: list[Any] = []
        while not got or (got[-1] is not parallel.END and not isinstance(got[-1], Exception)):
            got.append(await reads.get())
        return got

    assert asyncio.run(read(range(5))) == [0, 1, 2, 3, 4, parallel.END]
    *items, error = asyncio.run(read(failing()))
    assert items == [1, 2] and isinstance(error, ValueError) and str(error) == "cut off"


def test_a_closed_reader_thread_ends_and_closes_its_items() -> None:
    """A consumer that stops early (Ctrl-C, `--limit`) leaves no thread behind: the one
    waiting for room ends, and the items' generator is closed there (a `BlockPool` in it
    stops its workers)."""
    closed = threading.Event()

    def endless() -> Any:
        try:
            yield from itertools.count()
        finally:
            closed.set()

    async def read_two() -> list[Any]:
        reads = parallel.ReaderThread(endless(), "test-reader", depth=2)
        try:
            return [await reads.get(), await reads.get()]
        finally:
            reads.close()

    assert asyncio.run(read_two()) == [0, 1]
    assert closed.wait(5)
    deadline = time.monotonic() + 5
    while any(thread.name == "test-reader" for thread in threading.enumerate()):
        assert time.monotonic() < deadline, "the reader thread is still running"
        time.sleep(0.05)
