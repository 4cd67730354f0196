"""Reading, parsing and validation beside the writer: a reader thread, worker processes.

A file ingest keeps one core busy parsing and validating in Python while the database
server needs most of another; the writer, the sinks and the bookkeeping share that one
Python process. `BlockPool.map` runs a source's per-block job (bytes in, items out) in
a few worker processes and gives the results back in input order, so the main process
only decodes, writes and counts (docs/performance.md, "Backfill").

What crosses between processes is kept small and flat (`ship` / `unship`): a valid
event travels as its six column values, its payload as the JSON text already made (the
parsed payload is not sent; `RawEventDTO.payload` is parsed again from the text if
someone asks for it); everything else (dead letters, records left to the pipeline) is
pickled as it is.

Small inputs never pay for the pool: the first blocks are done in-process while the
workers start, and a pool is started only after `start_after` blocks.

A file source reads (and, without workers, parses) in a `ReaderThread`, so the event
loop and the writer go on while it waits for the disk or the decoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar

from sentiment_pipeline.dto.transport import FILTERED_TAG, plain_validated, ship, unship
from sentiment_pipeline.errors import SentpipeError

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = [
    "END",
    "START_AFTER_BLOCKS",
    "BlockPool",
    "LineBlock",
    "ReaderThread",
    "default_workers",
    "numbered_blocks",
    "parse_workers",
    "split_block",
]

Job = Callable[[Any, Any], list[Any]]
# A block of input lines: (number of its first line, how many, data), where `data` starts
# with the lines, each ended by b"\n" (but maybe the input's last), and may hold more.
# What a reader hands a worker: the lines are split off there (`split_block`).
LineBlock = tuple[int, int, bytes]

_WORKER_NICE = 10
_PARENT_CHECK_SECONDS = 0.5
START_AFTER_BLOCKS = 2  # blocks done in-process before a pool is started (small inputs)
_CLOSED_CHECK_SECONDS = 0.2  # how soon a reader thread waiting for room sees `close()`


def default_workers() -> int:
    """Worker processes for a file ingest when `SENTPIPE_PARSE_WORKERS` is unset: 2 (one
    keeps the writer fed on most records; two also fill the gaps while one waits), but
    none on a single core, where parsing in-process costs least."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if (cores or 1) > 1 else 0


def parse_workers(settings: Settings) -> int:
    """The worker count `settings.parse_workers` asks for (`SENTPIPE_PARSE_WORKERS`;
    unset: `default_workers()`)."""
    configured = settings.parse_workers
    return default_workers() if configured is None else configured


def numbered_blocks(blocks: Iterable[tuple[int, bytes]], first: int = 1) -> Iterator[LineBlock]:
    """`sources.jsonlines.count_lines`' `(count, data)` as `LineBlock`s: with the number of
    each block's first line, counting from `first`."""
    for count, data in blocks:
        yield first, count, data
        first += count


def split_block(block: LineBlock) -> tuple[int, list[bytes], bytes]:
    """`(first, lines, data)` of a `LineBlock`: its lines split off, without newlines."""
    first, count, data = block
    return first, data.split(b"\n", count)[:count], data


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's mallopt (malloc.h)
_MMAP_THRESHOLD = 32 << 20  # glibc's largest; blocks and messages are a few MB
_TRIM_THRESHOLD = 16 << 20
_ARENA_MAX = 2  # a block's events are made on one thread and freed on others


def _keep_freed_memory() -> None:
    """Let glibc's malloc keep and reuse the memory of freed blocks and messages (a few MB
    each, many a second) instead of mapping fresh pages for each: its defaults handed
    them back to the kernel, and mapping them again was two thirds of an ingest's page
    faults (docs/performance.md, "Backfill"). And at most two arenas from now on: events
    made on the reading thread and freed on the writer's spread free memory over one
    arena per thread (~30 MB more at the peak). Process-wide, for the rest of the
    process; nothing where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    mallopt(_M_ARENA_MAX, _ARENA_MAX)


def _worker_start(parent: int) -> None:
    """In each worker: Ctrl-C and SIGTERM (a terminal's, or a service manager's to the
    whole group) are the main process's to handle: it stops the pool; a worker whose
    main process (`parent`) is gone ends within a second (`_end_with`). The cycle
    collector runs as rarely as in a pipeline run (`pipeline.core`); freed memory is
    kept for reuse (`_keep_freed_memory`); and a lower CPU priority (`_WORKER_NICE`), so
    the writer and a local database server, which set the pace, get a core first and the
    workers take what is left."""
    import gc

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)  # blocked since its birth
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    gc.set_threshold(100_000, 50, 1000)
    _keep_freed_memory()
    with contextlib.suppress(OSError):
        os.nice(_WORKER_NICE)


_STOPS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _stops_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM blocked in this thread while workers are spawned: a child
    starts with the mask of the thread that made it (kept across exec), so a stop that
    comes while a worker still imports waits, and is then ignored (`_worker_start`),
    instead of interrupting it with a traceback."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _end_with(parent: int) -> None:
    """End this worker once its main process is gone (killed, out of memory): its queue
    stays open in the other workers, so it would wait for work for ever."""
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(0)


def _shipped(job: Job, state: Any, block: Any, filtered: object) -> tuple[Any, ...]:
    return ship(job(state, block), filtered)


def _ready() -> bool:
    return True


class BlockPool:
    """An ordered map of `job(state, block)` over blocks, in up to `workers` processes.

    `job` is a module-level function (workers import it by name) returning a list of
    items, where a valid event may be a `dto.PlainEvent` tuple (given back as
    `Validated`); `state` (picklable) is sent with every block. `filtered` is the source's
    sentinel for a skipped item (sent as a tag: a sentinel does not survive pickling).
    `workers=0` runs everything in-process. Raises `SentpipeError` when a worker dies
    (killed, out of memory); what `job` raises is raised by `map`, in order."""

    def __init__(
        self,
        job: Job,
        state: Any,
        workers: int,
        *,
        filtered: object = FILTERED_TAG,
        start_after: int | None = None,
    ) -> None:
        self.job = job
        self.state = state
        self.workers = max(0, workers)
        self.filtered = filtered
        self.start_after = START_AFTER_BLOCKS if start_after is None else start_after
        self._executor: ProcessPoolExecutor | None = None
        self._ready: Future[bool] | None = None

    def map(self, blocks: Iterable[Any]) -> Iterator[list[Any]]:
        """The job's items for each block, in order; at most 2 × workers blocks in flight."""
        pending: deque[Future[tuple[Any, ...]]] = deque()
        limit = 2 * self.workers
        try:
            for count, block in enumerate(blocks):
                if not pending and not self._use_pool(count):
                    items = self.job(self.state, block)
                    yield [plain_validated(x) if type(x) is tuple else x for x in items]
                    continue
                assert self._executor is not None
                pending.append(
                    self._executor.submit(_shipped, self.job, self.state, block, self.filtered)
                )
                del block
                while len(pending) >= limit:
                    yield self._result(pending.popleft())
            while pending:
                yield self._result(pending.popleft())
        finally:
            for future in pending:
                future.cancel()
            self.close()

    def _use_pool(self, count: int) -> bool:
        """True once the workers are up: started after `start_after` blocks (in-process
        until then, and while they start)."""
        if self.workers == 0 or count < self.start_after:
            return False
        if self._executor is None:
            _keep_freed_memory()
            context = multiprocessing.get_context("spawn")  # no fork of a threaded process
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_worker_start,
                initargs=(os.getpid(),),  # not the worker's getppid(): it may be gone by then
            )
            with _stops_blocked():  # each submit while none is idle spawns a worker
                self._ready = self._executor.submit(_ready)
                for _ in range(self.workers - 1):
                    self._executor.submit(_ready)
        assert self._ready is not None
        return self._ready.done()

    def _result(self, future: Future[tuple[Any, ...]]) -> list[Any]:
        try:
            shipped = future.result()
        except BrokenProcessPool as error:
            raise SentpipeError(
                f"a parsing worker process died ({error})",
                "check memory (dmesg), or set SENTPIPE_PARSE_WORKERS=0 to parse in-process",
            ) from None
        return unship(shipped, self.filtered)

    def close(self) -> None:
        """Stop the workers; blocks not yet started are dropped."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


T = TypeVar("T")


class _End(enum.Enum):
    END = "END"


END: Final = _End.END  # `ReaderThread.get`'s answer once the items are done


class ReaderThread(Generic[T]):
    """`items` iterated in a daemon thread, at most `depth` ahead of the event loop's
    `get()` (back-pressure). Made in the event loop that reads it.

    `get()` gives each item in turn, then `END`, or the exception that ended the
    iteration (given back, not raised: the caller decides which ones end its input
    quietly). `close()` stops the thread at its next item and closes `items` there (a
    generator's `finally` runs: a `BlockPool` stops its workers); a daemon thread never
    keeps the process alive on a stop signal."""

    def __init__(self, items: Iterable[T], name: str, depth: int = 3) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._room = threading.Semaphore(depth)
        self._closed = threading.Event()
        threading.Thread(target=self._work, args=(items,), name=name, daemon=True).start()

    async def get(self) -> T | BaseException | Literal[_End.END]:
        """The next item, `END`, or the exception that ended the items."""
        item = await self._queue.get()
        self._room.release()
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop reading (the thread ends at its next item, within 0.2 s if waiting)."""
        self._closed.set()

    def _put(self, item: Any) -> bool:
        """Hand `item` over once there is room; False once closed or the loop is gone."""
        while not self._room.acquire(timeout=_CLOSED_CHECK_SECONDS):
            if self._closed.is_set():
                return False
        if self._closed.is_set():
            return False
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nothing is waiting any more
            return False
        return True

    def _work(self, items: Iterable[T]) -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not self._put(item):
                    return
            self._put(END)
        except BaseException as error:  # the items before it went first
            self._put(error)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # the thread's end is no one's error
                    close()
