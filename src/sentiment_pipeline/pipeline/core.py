"""The ingestion core: async source -> validation -> batches -> sinks.

A bounded queue sits between the source and the writer, so fetching overlaps writing and
memory stays flat. Batches flush at `batch_size` records or `flush_interval` seconds and
are written in a worker thread, off the event loop. Nothing is lost: invalid records go to
dead letters, and batches the database cannot take (after retries) go to the spool.
One record's bug never ends a run: an exception nobody foresaw while validating a record
dead-letters that record as `internal error: <type>: <message>`, the run goes on, and the
result carries an error (exit 1) asking for a report.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import sys
import time
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment_pipeline.dto import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    Chunk,
    Parsed,
    RawEventDTO,
    Rejected,
    Validated,
    validate_record,
)
from sentiment_pipeline.pipeline.deadletter import DeadLetterWriter
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.pipeline.writer import BatchWriter
from sentiment_pipeline.sinks.base import Sink

__all__ = ["Chunk", "PipelineOptions", "run"]

LOGGER = logging.getLogger(__name__)
_END = object()
_REPORTED_INTERNAL_ERRORS = 10  # the first few are listed in the result; all are counted
REPORT_HINT = "a bug: rerun with --debug for the traceback and report it"


@dataclass(frozen=True)
class PipelineOptions:
    batch_size: int = 5000
    flush_interval: float = 2.0
    queue_size: int = 10_000
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    retry_seconds: float = 60.0
    dry_run: bool = False
    replay_spool: bool = True

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> PipelineOptions:
        return cls(
            batch_size=settings.batch_size,
            flush_interval=settings.flush_interval,
            queue_size=settings.queue_size,
            max_payload_bytes=settings.max_payload_bytes,
            retry_seconds=settings.db_retry_seconds,
            **overrides,
        )


# The cycle collector's default (a pass every 700 allocations, full passes over every
# live object now and then) cost ~40% of the ingest CPU: a run keeps tens of thousands of
# parsed payloads alive in its queues, and each is a few dozen containers. JSON payloads
# hold no cycles (reference counting frees them), so during a run passes are rarer.
_RUN_GC_THRESHOLD = (100_000, 50, 1000)
# The writer thread gives up the GIL at every wait on the server and then waits for the
# busy producer to hand it back, by default after up to 5 ms: the database sat idle for
# ~20% of an ingest run (a GIL "convoy"). Handing it back within 0.5 ms keeps the server
# fed: `ingest ndjson` ran ~10% faster (docs/performance.md, "Backfill").
_RUN_SWITCH_INTERVAL = 0.0005


@contextlib.contextmanager
def _run_tuning() -> Iterator[None]:
    """For the duration of a run: rarer cycle collections (`_RUN_GC_THRESHOLD`) and a
    shorter GIL switch interval (`_RUN_SWITCH_INTERVAL`); the previous values after."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, _RUN_SWITCH_INTERVAL))
    previous = gc.get_threshold()
    tune_gc = previous[0] != 0  # 0: the collector is tuned off by someone else
    if tune_gc:
        gc.set_threshold(*_RUN_GC_THRESHOLD)
    try:
        yield
    finally:
        if tune_gc:
            gc.set_threshold(*previous)
        sys.setswitchinterval(interval)


async def run(
    source: AsyncIterable[Any],
    sinks: Sequence[Sink],
    *,
    options: PipelineOptions | None = None,
    dead_letters: DeadLetterWriter | None = None,
    spool: Spool | None = None,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[RunResult], None] | None = None,
    result: RunResult | None = None,
    on_durable: Callable[[int], None] | None = None,
    journal_dir: Path | None = None,
) -> RunResult:
    """Run one ingestion; returns counts. Raises only what the source raises, after
    flushing everything already collected.

    Before the source is read: the spool is replayed and followers that an earlier run
    left behind are repaired (`journal_dir`: the follower journals; None keeps none).
    `on_durable(n)` is called (in the writer thread) whenever the first `n` valid events
    of this run, in input order, are safely stored or spooled (see `BatchWriter`).
    `sinks` and `dead_letters` belong to the caller: they are used, never closed here
    (`pipeline.job.open_job` opens and closes them)."""
    with _run_tuning():
        return await _run(
            source,
            sinks,
            options=options,
            dead_letters=dead_letters,
            spool=spool,
            stop=stop,
            on_progress=on_progress,
            result=result,
            on_durable=on_durable,
            journal_dir=journal_dir,
        )


async def _run(
    source: AsyncIterable[Any],
    sinks: Sequence[Sink],
    *,
    options: PipelineOptions | None,
    dead_letters: DeadLetterWriter | None,
    spool: Spool | None,
    stop: asyncio.Event | None,
    on_progress: Callable[[RunResult], None] | None,
    result: RunResult | None,
    on_durable: Callable[[int], None] | None,
    journal_dir: Path | None,
) -> RunResult:
    options = options or PipelineOptions()
    result = result or RunResult()
    result.dry_run = options.dry_run
    stop = stop or asyncio.Event()
    started = time.monotonic()
    writer = BatchWriter(
        [] if options.dry_run else sinks,
        spool,
        options.retry_seconds,
        result,
        overlap=True,
        journal_dir=journal_dir,
    )
    # One dedicated thread: every sink call happens on it, in order, off the event loop.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentpipe-writer")
    in_thread = functools.partial(asyncio.get_running_loop().run_in_executor, executor)
    queue = _EventQueue(options.queue_size)
    producer: asyncio.Task[None] | None = None
    consumer: asyncio.Task[None] | None = None
    stopper = asyncio.create_task(stop.wait())
    try:
        if options.replay_spool and not options.dry_run:
            await in_thread(writer.replay_spool)
            await in_thread(writer.repair_followers)
        producer = asyncio.create_task(_produce(source, queue, options, dead_letters, result))
        consumer = asyncio.create_task(_consume(queue, writer, options, result, in_thread))
        if on_progress is not None:
            writer.on_batch = on_progress
        writer.on_durable = on_durable
        await asyncio.wait({producer, consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not producer.done():
            if stopper.done():
                result.stopped_early = True
                result.stop_reason = result.stop_reason or "interrupted"
            producer.cancel()  # a stop signal, or the writer failed
        await asyncio.gather(producer, return_exceptions=True)
        if not consumer.done():  # tell the writer the input has ended
            end = asyncio.create_task(queue.put(_END))
            await asyncio.wait({end, consumer}, return_when=asyncio.FIRST_COMPLETED)
            end.cancel()
        await consumer
    finally:
        stopper.cancel()
        for task in (producer, consumer):
            if task is not None and not task.done():
                task.cancel()
        await in_thread(writer.close)
        executor.shutdown(wait=True)
        result.duration = time.monotonic() - started
        if on_progress is not None:
            on_progress(result)
    error = producer.exception() if not producer.cancelled() else None
    if error is not None:
        raise error
    return result


class _EventQueue:
    """The bounded hand-off between producer and consumer: lists of events, bounded by
    the number of events (a put waits while `limit` or more are queued), so a chunk of a
    thousand costs one put. One producer, one consumer."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.count = 0
        self._items: deque[Any] = deque()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    async def put(self, events: Any) -> None:
        """Queue a list of events (or `_END`); waits while the queue is full."""
        while self.count >= self.limit:
            self._writable.clear()
            await self._writable.wait()
        self._items.append(events)
        if events is not _END:
            self.count += len(events)
        self._readable.set()

    def put_now(self, events: Any) -> None:
        """Queue a list of events at once, past the limit: events already counted, which
        a stop must not drop (`_produce`)."""
        self._items.append(events)
        self.count += len(events)
        self._readable.set()

    def get_nowait(self) -> Any:
        """The oldest list (or `_END`); raises asyncio.QueueEmpty."""
        if not self._items:
            raise asyncio.QueueEmpty
        events = self._items.popleft()
        if events is not _END:
            self.count -= len(events)
            if self.count < self.limit:
                self._writable.set()
        return events

    async def get(self) -> Any:
        while not self._items:
            self._readable.clear()
            await self._readable.wait()
        return self.get_nowait()


async def _produce(
    source: AsyncIterable[Any],
    queue: _EventQueue,
    options: PipelineOptions,
    dead_letters: DeadLetterWriter | None,
    result: RunResult,
) -> None:
    async for item in source:
        if type(item) is Chunk:
            events = [
                event
                for record in item
                if (event := _check(record, options, dead_letters, result)) is not None
            ]
        else:
            event = _check(item, options, dead_letters, result)
            events = [event] if event is not None else []
        if events:
            try:
                await queue.put(events)
            except asyncio.CancelledError:  # a stop while the queue was full: the
                queue.put_now(events)  # events are counted, so they are written too
                raise


def _check(
    record: Any,
    options: PipelineOptions,
    dead_letters: DeadLetterWriter | None,
    result: RunResult,
) -> RawEventDTO | None:
    """Count one source item; its valid event, or None (dead-lettered)."""
    result.fetched += 1
    if type(record) is Validated:  # a source that validated it already
        checked: Validated | Rejected = record
    elif isinstance(record, Rejected):
        _dead_letter(record, dead_letters, result)
        return None
    else:
        try:
            if isinstance(record, Validated):
                checked = record
            elif isinstance(record, Parsed):
                parsed, record = record, record.record
                checked = validate_record(record, options.max_payload_bytes, parsed.payload_json)
            else:
                checked = validate_record(record, options.max_payload_bytes)
        except Exception as error:  # a bug, not bad data: keep the record and go on
            checked = _internal_error(record, error, result)
    if type(checked) is not Validated:
        assert isinstance(checked, Rejected)
        _dead_letter(checked, dead_letters, result)
        return None
    event = checked.event
    result.valid += 1
    if checked.sanitized:
        result.sanitized += 1
    counts = result.counts_for(event.source_id)
    counts.fetched += 1
    counts.valid += 1
    return event


def _internal_error(record: Any, error: Exception, result: RunResult) -> Rejected:
    """Dead-letter material for a record whose validation raised; counts it in `result`
    (`internal_errors`) and lists the first `_REPORTED_INTERNAL_ERRORS` in its errors,
    then one line for all the rest."""
    try:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    except Exception:
        message = "(the error's message cannot be shown)"
    reason = f"internal error: {type(error).__name__}: {message}"
    LOGGER.debug("record %s raised while validating", result.fetched, exc_info=error)
    result.internal_errors += 1
    if result.internal_errors <= _REPORTED_INTERNAL_ERRORS:
        result.errors.append(f"record {result.fetched} dead-lettered: {reason} ({REPORT_HINT})")
    elif result.internal_errors == _REPORTED_INTERNAL_ERRORS + 1:
        result.errors.append("more records hit internal errors: see the dead letters")
    return Rejected(record, reason)


def _dead_letter(item: Rejected, writer: DeadLetterWriter | None, result: RunResult) -> None:
    result.invalid += 1
    try:
        source_id = item.record.get("source_id") if isinstance(item.record, dict) else None
    except Exception:  # a broken mapping: it is dead-lettered all the same
        source_id = None
    if isinstance(source_id, str):
        counts = result.counts_for(source_id)
        counts.fetched += 1
        counts.invalid += 1
    if writer is not None:
        writer.write(item.record, item.reason)
    LOGGER.debug("dead-lettered a record: %s", item.reason)


async def _consume(
    queue: _EventQueue,
    writer: BatchWriter,
    options: PipelineOptions,
    result: RunResult,
    in_thread: Callable[..., Awaitable[Any]],
) -> None:
    batch: list[RawEventDTO] = []
    deadline: float | None = None
    size = options.batch_size
    # Writes handed to the writer thread, oldest first: the one it is doing and the next,
    # already waiting in its executor, so the writer goes on the moment a batch is
    # stored. Handing one at a time left the server idle until this loop's next turn,
    # which the producer holds while it parses a chunk (~10% of an ingest run).
    writes: deque[asyncio.Future[Any]] = deque()

    async def hand_over(events: list[RawEventDTO]) -> None:
        writes.append(asyncio.ensure_future(in_thread(writer.write, events)))
        while len(writes) > 1:
            await asyncio.shield(writes[0])  # a write that raised ends the run, as before
            writes.popleft()

    try:
        while True:
            try:
                item = queue.get_nowait()  # the fast path: no task per list
            except asyncio.QueueEmpty:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    item = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    item = None
            if item is _END:
                break
            if item is not None:
                batch.extend(item)
                if deadline is None:
                    deadline = time.monotonic() + options.flush_interval
            while len(batch) >= size:
                pending, batch = batch[:size], batch[size:]
                deadline = None if not batch else deadline
                await hand_over(pending)
            if batch and item is None:
                pending, batch, deadline = batch, [], None
                await hand_over(pending)
    finally:
        # Every write handed over ends before the run does (also when cancelled, or when
        # one raised: that error is the run's), then what is left is flushed after them.
        for handed in writes:
            try:
                await asyncio.shield(handed)
            except BaseException as error:  # the first error is already on its way
                LOGGER.debug("a write after a failed one also failed", exc_info=error)
        if batch:  # flush what is in flight, even when cancelled
            await asyncio.shield(in_thread(writer.write, batch))
