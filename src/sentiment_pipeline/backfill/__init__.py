"""`sentpipe ingest reddit-dump` as a library: dump files into the pipeline, resumably.

For each input in turn (`backfill_async`): open it (`sources.reddit_dump.DumpReader`),
read its checkpoint (`checkpoint.CheckpointFile`, under `<data dir>/backfill/`), skip the
lines already done without parsing them, and feed the rest through validation into the
pipeline, in a job of its own per file (`pipeline.open_job`). The pipeline reports how
many of the run's events are durable (stored by every sink, or spooled); the line
tracker turns that into the highest line below which nothing is pending and saves it as
the checkpoint. So a stop
(Ctrl-C, SIGTERM, `--limit`, a crash, a database outage) loses nothing and repeats
little: the same command continues where the checkpoint says.

Every file is looked at before the first is loaded (`DumpReader.check`): what is not
NDJSON (plain, or zstd, gzip, bzip2, xz) is refused with a ConfigError before anything
is written. One run loads a file at a time: its lock (`lock.run_lock`, beside the
checkpoint) is held while the file loads; another run of it exits 4 (`LockHeld`) or,
with `wait_for_lock`, waits and then finds it loaded. A file read to its end that gave
dead letters and no valid record is not a dump: its run fails and it stays unloaded.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_pipeline.backfill.checkpoint import Checkpoint, CheckpointFile
from sentiment_pipeline.dto import Rejected, Validated
from sentiment_pipeline.errors import ExitCode
from sentiment_pipeline.parallel import (
    END,
    BlockPool,
    LineBlock,
    ReaderThread,
    parse_workers,
    split_block,
)
from sentiment_pipeline.pipeline import Chunk, catch_up_async, open_job
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sources.reddit_dump import (
    FILTERED,
    DumpFilter,
    DumpReader,
    DumpReadError,
    FileHints,
    Kind,
    dump_block,
    hints_from_name,
)
from sentiment_pipeline.sources.sniff import no_valid_record

__all__ = [
    "BackfillOptions",
    "BackfillResult",
    "CheckpointProgress",
    "DumpProgress",
    "FileResult",
    "backfill",
    "backfill_async",
]


@dataclass(frozen=True)
class BackfillOptions:
    """One backfill run. `kind` overrides the record's and file name's kind; `filters`
    are applied before validation; `limit` caps the records (after filters, over all
    files) this run hands to validation; `restart` ignores the checkpoints (they are
    written again); `dry_run` validates only (and keeps no checkpoint, takes no lock);
    `wait_for_lock` waits for another run loading the same file instead of `LockHeld`."""

    kind: Kind | None = None
    filters: DumpFilter = field(default_factory=DumpFilter)
    limit: int | None = None
    restart: bool = False
    dry_run: bool = False
    wait_for_lock: bool = False


@dataclass
class FileResult(RunResult):
    """The pipeline's `RunResult` for one input, plus where it stands: `resumed_from_line`
    (lines skipped from the checkpoint), `lines_read` (lines walked this run), `filtered`
    (lines the filters dropped, and blank lines), `lines_done` (the checkpoint after this
    run), `complete` (every line done) and `already_complete` (nothing to do)."""

    path: str = ""
    resumed_from_line: int = 0
    lines_read: int = 0
    filtered: int = 0
    lines_done: int = 0
    complete: bool = False
    already_complete: bool = False

    @property
    def extra(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "resumed_from_line": self.resumed_from_line,
            "lines_read": self.lines_read,
            "filtered": self.filtered,
            "lines_done": self.lines_done,
            "complete": self.complete,
            "already_complete": self.already_complete,
        }


@dataclass
class BackfillResult:
    """Every input's `FileResult`, in order, and their sum (`total`). `catch_up` is what
    the run did before the first file (the spool replayed, followers repaired)."""

    files: list[FileResult] = field(default_factory=list)
    catch_up: RunResult | None = None

    @property
    def total(self) -> FileResult:
        """The catch-up's and the files' counts summed (`path` empty; `complete` when
        every file is)."""
        complete = bool(self.files) and all(f.complete for f in self.files)
        total = FileResult(path="", complete=complete)
        for part in [self.catch_up] if self.catch_up is not None else []:
            total.absorb(part)
        for result in self.files:
            total.absorb(result)
            total.lines_read += result.lines_read
            total.filtered += result.filtered
        return total

    @property
    def exit_code(self) -> ExitCode:
        return self.total.exit_code

    def to_dict(self) -> dict[str, Any]:
        """`{"files": [FileResult.to_dict()…], "total": {…}, "exit_code": n}`."""
        return {
            "files": [result.to_dict() for result in self.files],
            "total": self.total.to_dict(),
            "exit_code": int(self.exit_code),
        }


@dataclass
class DumpProgress:
    """A snapshot for progress displays: input `index` of `count`, compressed bytes read
    of `bytes_total` (None for standard input), lines walked, and the file's result."""

    path: str
    index: int
    count: int
    bytes_read: int
    bytes_total: int | None
    lines: int
    result: FileResult
    finished: bool = False


@dataclass(frozen=True)
class CheckpointProgress:
    """Where one input stands at a checkpoint (for metrics): `lines_done` (every line up
    to it needs nothing more), `bytes_done` (bytes of the input, compressed as read, by
    the time the last block of lines wholly done had been read: within about a block of
    the exact position; all of them once complete), `bytes_total` (the file's size; None
    for standard input), `complete`."""

    path: str
    lines_done: int
    bytes_done: int
    bytes_total: int | None
    complete: bool = False


@dataclass
class _Saver:
    """Where an input's checkpoints go: its checkpoint `file` (None: standard input or a
    dry run keep none) and `on_checkpoint` (its progress, for metrics)."""

    path: str
    file: CheckpointFile | None
    size: int | None
    on_checkpoint: Callable[[CheckpointProgress], None] | None

    def __call__(self, checkpoint: Checkpoint, bytes_done: int) -> None:
        """Save `checkpoint` (`CheckpointFile.save` raises `SentpipeError` on a full
        disk), then report it."""
        if self.file is not None:
            self.file.save(checkpoint)
        self.report(checkpoint, bytes_done)

    def report(self, checkpoint: Checkpoint, bytes_done: int) -> None:
        if self.on_checkpoint is not None:
            progress = CheckpointProgress(
                self.path, checkpoint.lines_done, bytes_done, self.size, checkpoint.complete
            )
            self.on_checkpoint(progress)


class _LineTracker:
    """Turns "the first n valid events are durable" into "lines up to L are done".

    `queued(line)` for each valid event handed on, `handled(line)` once a line needs
    nothing more (filtered, dead-lettered, or handed on); `durable(n)` comes from the
    writer thread. The done line is the one before the oldest event not yet durable, or
    the last handled line when none is pending. Saves the checkpoint when it moves, with
    the bytes read by the time that line was (`marked`, from the reader thread).
    """

    def __init__(self, start: int, save: Callable[[Checkpoint, int], None]) -> None:
        self._lock = threading.Lock()
        self._pending: deque[int] = deque()
        self._popped = 0
        self._through = start
        self.done = start
        self._save = save
        self._marks: deque[tuple[int, int]] = deque()  # (last line of a block, bytes read)
        self.bytes_done = 0

    def marked(
        self, blocks: Iterator[LineBlock], bytes_read: Callable[[], int]
    ) -> Iterator[LineBlock]:
        """`blocks` as they are, each noted with `bytes_read()` once it was read."""
        for block in blocks:
            mark = (block[0] + block[1] - 1, bytes_read())
            with self._lock:
                self._marks.append(mark)
            yield block

    def queued(self, line: int) -> None:
        with self._lock:
            self._pending.append(line)

    def queued_all(self, lines: list[int]) -> None:
        """`queued` for each of `lines`, in order."""
        with self._lock:
            self._pending.extend(lines)

    def handled(self, line: int) -> None:
        with self._lock:
            self._through = line

    def durable(self, count: int) -> None:
        with self._lock:
            while self._popped < count and self._pending:
                self._pending.popleft()
                self._popped += 1
            line = self._pending[0] - 1 if self._pending else self._through
            moved = line > self.done
            if moved:
                self.done = line
                while self._marks and self._marks[0][0] <= line:
                    self.bytes_done = self._marks.popleft()[1]
            bytes_done = self.bytes_done
        if moved:
            self._save(Checkpoint(line), bytes_done)

    @property
    def all_durable(self) -> bool:
        with self._lock:
            return not self._pending


@dataclass
class _Budget:
    """The `--limit` left over all files (None: no limit)."""

    left: int | None

    def take(self) -> bool:
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


@dataclass(frozen=True)
class _DumpJob:
    """What a parsing worker needs to know of the input (sent with every block)."""

    hints: FileHints
    kind: Kind | None
    filters: DumpFilter
    label: str
    max_payload_bytes: int


def _dump_job(job: _DumpJob, block: LineBlock) -> list[Any]:
    """A block's items, a line each, every record validated (`dto.plain_event`, else
    `dto.validate_item`); filtered lines and dead letters as they are. `block`: one of
    `DumpReader.counted_blocks`."""
    first, lines, data = split_block(block)
    return dump_block(
        first, lines, data, job.hints, job.kind, job.filters, job.label, job.max_payload_bytes
    )


def _numbered(blocks: Iterator[LineBlock], pool: BlockPool) -> Iterator[list[tuple[int, Any]]]:
    """`pool.map(blocks)` with each item's line number (the pool keeps the order)."""
    firsts: deque[int] = deque()

    def fed() -> Iterator[LineBlock]:
        for block in blocks:
            firsts.append(block[0])
            yield block

    for items in pool.map(fed()):
        yield list(enumerate(items, start=firsts.popleft()))


async def _records(
    reader: DumpReader,
    options: BackfillOptions,
    max_payload_bytes: int,
    workers: int,
    start: int,
    tracker: _LineTracker,
    result: FileResult,
    budget: _Budget,
    tick: Callable[[], None],
) -> AsyncIterator[Any]:
    """The pipeline's source for one input: chunks (`pipeline.Chunk`) of validated
    events (lines tracked) and dead letters; filtered lines are only counted."""
    job = _DumpJob(
        hints_from_name(reader.path), options.kind, options.filters, reader.label, max_payload_bytes
    )
    pool = BlockPool(_dump_job, job, workers, filtered=FILTERED)
    blocks = tracker.marked(reader.counted_blocks(start), lambda: reader.bytes_read)
    chunks = ReaderThread(_numbered(blocks, pool), "sentpipe-dump-reader")
    try:
        while True:
            chunk = await chunks.get()
            if chunk is END:
                result.complete = True
                return
            if isinstance(chunk, DumpReadError):
                result.errors.append(str(chunk))
                return
            if isinstance(chunk, BaseException):
                raise chunk
            out = Chunk()
            valid: list[int] = []
            last = None
            limited = False
            for number, item in chunk:
                result.lines_read += 1
                if item is FILTERED:
                    result.filtered += 1
                    last = number
                    continue
                if type(item) is not Rejected:
                    if not budget.take():
                        limited = True
                        break
                    if type(item) is Validated:
                        valid.append(number)
                out.append(item)
                last = number
            tracker.queued_all(valid)
            if out:
                yield out
            if last is not None:
                tracker.handled(last)
            if limited:
                result.stopped_early = True
                result.stop_reason = "--limit reached"
                return
            tick()
    finally:
        chunks.close()


def _checked_reader(path: str) -> DumpReader:
    """`path` opened, and refused (ConfigError) unless it is a dump (`DumpReader.check`)."""
    reader = DumpReader(path)
    try:
        reader.check()
    except BaseException:
        reader.close()
        raise
    return reader


@contextmanager
def _file_lock(settings: Settings, path: str, options: BackfillOptions) -> Iterator[None]:
    """Hold the file's run lock (none for standard input or a dry run: they keep no
    checkpoint); LockHeld when another run loads it, unless `options.wait_for_lock`.
    Temporary checkpoint files a killed run left are removed once it is held."""
    if path == "-" or options.dry_run:
        yield
        return
    from sentiment_pipeline.lock import run_lock

    checkpoint = CheckpointFile(settings.data_dir / "backfill", Path(path))
    command = f"sentpipe ingest reddit-dump of {Path(path).name}"
    with run_lock(checkpoint.lock_path, wait=options.wait_for_lock, command=command):
        checkpoint.remove_stale_temporaries()
        yield


def _judged(result: FileResult, reader: DumpReader, filters: DumpFilter) -> bool:
    """What a file read to its end turned out to be: an empty one gets a warning; one
    that, read from its first line, gave dead letters and no valid record is no dump
    (an error in `result`, and True). Filters that dropped records leave nothing to
    tell."""
    if reader.sniff().empty:
        result.warnings.append(f"{reader.label} is empty: nothing to load")
    filtering = bool(filters.subreddits) or filters.since is not None or filters.until is not None
    if result.resumed_from_line or (filtering and result.filtered):
        return False
    error = no_valid_record(reader.label, result.valid, result.invalid, "a Reddit dump")
    if error is not None:
        result.errors.append(error)
    return error is not None


async def _one_file(
    settings: Settings,
    path: str,
    options: BackfillOptions,
    stop: asyncio.Event,
    budget: _Budget,
    report: Callable[[DumpProgress], None] | None,
    position: tuple[int, int],
    on_checkpoint: Callable[[CheckpointProgress], None] | None = None,
) -> FileResult:
    reader = _checked_reader(path)
    result = FileResult(path=path)
    checkpoint_file = None
    if path != "-" and not options.dry_run:
        checkpoint_file = CheckpointFile(settings.data_dir / "backfill", Path(path))
    save = _Saver(path, checkpoint_file, reader.size, on_checkpoint)
    saved = Checkpoint() if checkpoint_file is None or options.restart else checkpoint_file.load()
    result.resumed_from_line = result.lines_done = saved.lines_done
    if saved.complete:
        reader.close()
        result.complete = result.already_complete = True
        save.report(saved, reader.size or 0)
        return result
    tracker = _LineTracker(saved.lines_done, save)
    if checkpoint_file is not None and options.restart:
        checkpoint_file.save(Checkpoint())

    def progress(_: RunResult | None = None, finished: bool = False) -> None:
        if report is not None:
            lines = result.resumed_from_line + result.lines_read
            snapshot = DumpProgress(
                path, *position, reader.bytes_read, reader.size, lines, result, finished
            )
            report(snapshot)

    source = _records(
        reader,
        options,
        settings.max_payload_bytes,
        parse_workers(settings),
        saved.lines_done,
        tracker,
        result,
        budget,
        progress,
    )
    try:
        async with open_job(settings, dry_run=options.dry_run) as job:
            await job.run(
                source, on_progress=progress, stop=stop, result=result, on_durable=tracker.durable
            )
    finally:
        reader.close()
    everything_durable = options.dry_run or tracker.all_durable
    result.complete = result.complete and not result.stopped_early and everything_durable
    tracker.durable(0)  # the final position (lines after the last event)
    result.lines_done = tracker.done
    if result.complete and _judged(result, reader, options.filters):
        result.complete, result.lines_done = False, saved.lines_done
        save(saved, 0)  # the next run reads it again
    if result.complete:
        save(Checkpoint(tracker.done, complete=True), reader.bytes_read)
    progress(result, finished=True)
    return result


async def backfill_async(
    settings: Settings,
    paths: Sequence[str],
    options: BackfillOptions | None = None,
    on_progress: Callable[[DumpProgress], None] | None = None,
    stop: asyncio.Event | None = None,
    on_checkpoint: Callable[[CheckpointProgress], None] | None = None,
) -> BackfillResult:
    """Load `paths` (dump files, `-` for standard input) one after the other; returns
    each file's result. `on_checkpoint` is told where a file stands each time its
    checkpoint moves (from the pipeline's writer thread), once more when it is complete,
    and once for a file loaded already. A stop signal, `--limit` or an error ends the run after the
    current file's flush; the checkpoints say where the next run goes on.
    Raises ConfigError for a missing file or one that is not a dump (before anything
    is loaded; standard input when its turn comes), LockHeld when another run loads
    one of the files (unless `options.wait_for_lock`; the files before it are loaded)."""
    options = options or BackfillOptions()
    for path in paths:
        if path != "-":  # every file exists and is a dump, before the first is loaded
            with DumpReader(path) as reader:
                reader.check()
    stop = stop or asyncio.Event()
    budget = _Budget(options.limit)
    outcome = BackfillResult()
    if not options.dry_run:  # before the first file: the databases, the spool, the CSV
        outcome.catch_up = await catch_up_async(settings, stop)
        if outcome.catch_up.spooled or stop.is_set():  # the database went away again
            return outcome
    for index, path in enumerate(paths, start=1):
        with _file_lock(settings, path, options):
            result = await _one_file(
                settings,
                path,
                options,
                stop,
                budget,
                on_progress,
                (index, len(paths)),
                on_checkpoint,
            )
        outcome.files.append(result)
        if stop.is_set() or (result.stopped_early and not result.complete):
            break
    return outcome


def backfill(
    settings: Settings,
    paths: Sequence[str],
    options: BackfillOptions | None = None,
    on_progress: Callable[[DumpProgress], None] | None = None,
    on_checkpoint: Callable[[CheckpointProgress], None] | None = None,
) -> BackfillResult:
    """Synchronous `backfill_async` (one event loop per run)."""
    return asyncio.run(
        backfill_async(settings, paths, options, on_progress, on_checkpoint=on_checkpoint)
    )
