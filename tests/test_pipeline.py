"""The batching pipeline: overlap, dead letters, retries, the spool, CSV following the DB,
and a clean stop."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.dto import Chunk, Rejected
from sentiment_pipeline.pipeline.core import PipelineOptions, run
from sentiment_pipeline.pipeline.deadletter import DeadLetterWriter
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.sinks.csv_sink import CsvSink
from sentiment_pipeline.sinks.memory import MemorySink
from tests.fixtures.events import raw_event


async def records(items: list[Any], delay: float = 0.0) -> AsyncIterator[Any]:
    for item in items:
        if delay:
            await asyncio.sleep(delay)
        yield item


OPTIONS = PipelineOptions(batch_size=10, flush_interval=0.05, queue_size=5, retry_seconds=0.2)


async def test_counts_and_batches(tmp_path: Path) -> None:
    sink = MemorySink()
    nul = {"t": "x\x00"}  # every record needs sanitising
    items = [raw_event(n, source_id="python" if n % 2 else "rust", payload=nul) for n in range(25)]
    items.append(raw_event(3, payload=nul))
    result = await run(records(items), [sink], options=OPTIONS)
    assert (result.fetched, result.valid, result.inserted, result.duplicates) == (26, 26, 25, 1)
    assert result.sanitized == 26
    assert result.batches == 3
    assert result.per_source_id["python"].inserted == 12
    assert result.per_source_id["python"].duplicates == 1
    assert result.per_source_id["rust"].inserted == 13
    assert len(sink.rows) == 25
    assert not sink.closed  # the caller's sink: the pipeline uses it and leaves it open


async def test_flushes_by_time_while_the_source_is_slow() -> None:
    sink = MemorySink()
    seen: list[int] = []

    async def slow() -> AsyncIterator[Any]:
        yield raw_event(1)
        await asyncio.sleep(0.3)  # longer than flush_interval: the first record is written
        seen.append(len(sink.rows))
        yield raw_event(2)

    await run(slow(), [sink], options=OPTIONS)
    assert seen == [1]


async def test_invalid_records_are_dead_lettered(tmp_path: Path) -> None:
    sink = MemorySink()
    bad = raw_event(2, occurred_at="yesterday")
    items = [raw_event(1), bad, Rejected({"line": 3}, "line 3: not JSON"), raw_event(4)]
    with closing(DeadLetterWriter(tmp_path / "dead-letter")) as dead:
        result = await run(records(items), [sink], options=OPTIONS, dead_letters=dead)
        assert dead._handle is not None  # the caller's writer: left open for its owner
    assert (result.valid, result.invalid, result.inserted) == (2, 2, 2)
    (path,) = (tmp_path / "dead-letter").glob("*.ndjson")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["record"] for line in lines] == [bad, {"line": 3}]
    assert "occurred_at" in lines[0]["error"] and lines[0]["time"]


async def test_transient_failure_is_retried() -> None:
    sink = MemorySink(fail_times=2)
    result = await run(records([raw_event(1)]), [sink], options=PipelineOptions(retry_seconds=10))
    assert result.inserted == 1 and result.spooled == 0 and not result.errors


async def test_database_down_spools_then_replays(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    down = MemorySink(fail_always=True)
    csv_sink = CsvSink(tmp_path / "csv")
    result = await run(
        records([raw_event(n) for n in range(25)]), [down, csv_sink], options=OPTIONS, spool=spool
    )
    assert result.spooled == 25
    assert int(result.exit_code) == 3
    assert spool.pending_records() == 25
    assert not (tmp_path / "csv").exists()  # the CSV follows the database: nothing yet

    back = MemorySink()
    csv_sink = CsvSink(tmp_path / "csv")
    again = await run(
        records([raw_event(n) for n in range(20, 30)]),
        [back, csv_sink],
        options=OPTIONS,
        spool=spool,
    )
    assert again.replayed == 25
    assert len(back.rows) == 30
    assert spool.files() == []
    assert int(again.exit_code) == 0
    lines = sum(
        len(p.read_text(encoding="utf-8").splitlines()) - 1
        for p in (tmp_path / "csv").rglob("*.csv")
    )
    assert lines == 30  # every row once, none twice


async def test_csv_gets_exactly_the_rows_the_database_inserted(tmp_path: Path) -> None:
    database = MemorySink()
    csv_sink = CsvSink(tmp_path)
    await run(records([raw_event(1), raw_event(2)]), [database, csv_sink], options=OPTIONS)
    csv_sink = CsvSink(tmp_path)
    result = await run(records([raw_event(2), raw_event(3)]), [database, csv_sink], options=OPTIONS)
    assert result.inserted == 1
    assert csv_sink.dedupe_against_files is False
    content = "".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.csv"))
    assert content.count("t3_2,") == 1 and content.count("t3_3,") == 1


async def test_stop_flushes_what_is_in_flight() -> None:
    sink = MemorySink()
    stop = asyncio.Event()

    async def endless() -> AsyncIterator[Any]:
        n = 0
        while True:
            n += 1
            if n == 7:
                stop.set()
            yield raw_event(n)
            await asyncio.sleep(0.001)

    result = await run(endless(), [sink], options=OPTIONS, stop=stop)
    assert result.stopped_early and result.stop_reason == "interrupted"
    assert len(sink.rows) == result.valid >= 6


async def test_a_stop_while_the_queue_is_full_writes_every_event_it_counted() -> None:
    """A chunk counted as fetched and valid, whose put was waiting for queue space when
    the stop came, is written too: the summary's valid = inserted + duplicates."""

    class SlowSink(MemorySink):
        def write(self, batch: Any) -> Any:
            time.sleep(0.02)  # the queue fills up behind it
            return super().write(batch)

    sink = SlowSink()
    stop = asyncio.Event()

    async def chunks() -> AsyncIterator[Any]:
        n = 0
        while True:
            yield Chunk(raw_event(n + k) for k in range(7))
            n += 7
            if n > 200:
                stop.set()

    options = PipelineOptions(batch_size=10, flush_interval=0.05, queue_size=20)
    result = await run(chunks(), [sink], options=options, stop=stop)
    assert result.stopped_early
    assert result.valid == result.inserted + result.duplicates == len(sink.rows) > 0


async def test_source_error_propagates_after_flushing() -> None:
    sink = MemorySink()

    async def broken() -> AsyncIterator[Any]:
        yield raw_event(1)
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        await run(broken(), [sink], options=OPTIONS)
    assert len(sink.rows) == 1


async def test_sink_error_does_not_hang_the_producer() -> None:
    class Broken(MemorySink):
        def write(self, batch: Any) -> Any:
            raise ValueError("bad sink")

    with pytest.raises(ValueError, match="bad sink"):
        await asyncio.wait_for(
            run(records([raw_event(n) for n in range(100)]), [Broken()], options=OPTIONS), 10
        )


async def test_dry_run_writes_nothing() -> None:
    sink = MemorySink()
    result = await run(records([raw_event(1)]), [sink], options=PipelineOptions(dry_run=True))
    assert result.valid == 1 and result.inserted == 0 and not sink.rows


async def test_the_writer_goes_on_while_the_producer_holds_the_event_loop() -> None:
    """The next full batch waits in the writer's hands, so it is written as soon as the
    one before is stored, not when the event loop next gets a turn (a producer parsing a
    chunk holds it); writes still run one at a time, in order."""
    spans: list[tuple[float, float, int]] = []

    class Slow(MemorySink):
        def write(self, batch: Any) -> Any:
            started = time.monotonic()
            time.sleep(0.1)
            try:
                return super().write(batch)
            finally:
                spans.append((started, time.monotonic(), len(batch)))

    held_until: list[float] = []

    async def busy() -> AsyncIterator[Any]:
        yield Chunk(raw_event(n) for n in range(30))  # three batches at once
        await asyncio.sleep(0.05)  # the consumer hands the first two over
        time.sleep(0.5)  # parsing a big chunk: the event loop is held
        held_until.append(time.monotonic())
        yield raw_event(30)

    sink = Slow()
    options = PipelineOptions(batch_size=10, flush_interval=5, queue_size=100)
    result = await run(busy(), [sink], options=options)
    assert result.inserted == 31 and len(sink.rows) == 31
    assert [size for _, _, size in spans] == [10, 10, 10, 1]
    assert spans[1][0] < held_until[0]  # the second batch did not wait for the loop
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
