"""A long run's metrics file kept current while it runs: a backfill's progress per file.

A backfill reports each checkpoint (`backfill.CheckpointProgress`: lines done, bytes
done, the file's size) from the pipeline's writer thread. `BackfillGauges` remembers
the newest per file and, when the command has a metrics file, has it rewritten with them
(`write_metrics`, atomic; the run marked as going on: no exit code yet, the last success
carried over) by a thread of its own: the writer never waits for the disk, and
checkpoints that come faster than the file can be written are merged into the next
write. After the run the command writes the final file as always, with the same gauges
(`per_file`).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from sentiment_pipeline.service.metrics import RunFigures, RunMetrics, write_metrics

__all__ = ["BackfillGauges"]

LOGGER = logging.getLogger(__name__)


class BackfillGauges:
    """The progress gauges of one backfill run (`per_file`), written to `path` (None:
    only kept) as `command`'s metrics file of a run that started at `started_at` (Unix
    seconds). Call it with each checkpoint's progress; `close()` (or the end of a `with`
    block) waits for the last write, so the command's final write comes after it."""

    def __init__(self, path: Path | None, command: str, started_at: float) -> None:
        self.path = path
        self.command = command
        self.started_at = started_at
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._files: dict[str, dict[str, float]] = {}
        self._dirty = False
        self._closing = False
        self._thread: threading.Thread | None = None

    def __call__(self, progress: Any) -> None:
        """Take one checkpoint (`backfill.CheckpointProgress`), from any thread."""
        row = {"lines_done": float(progress.lines_done), "bytes_done": float(progress.bytes_done)}
        if progress.bytes_total is not None:
            row["bytes_total"] = float(progress.bytes_total)
        label = "stdin" if progress.path == "-" else progress.path
        with self._lock:
            self._files[label] = row
            if self.path is None or self._closing:
                return
            self._dirty = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write_loop, name="sentpipe-metrics", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def per_file(self) -> dict[str, dict[str, float]]:
        """{file: {"lines_done", "bytes_done", "bytes_total"}} as last reported (standard
        input as `stdin`, without a size)."""
        with self._lock:
            return {name: dict(row) for name, row in self._files.items()}

    def _write_loop(self) -> None:
        assert self.path is not None
        while True:
            with self._lock:
                while not (self._dirty or self._closing):
                    self._wake.wait()
                if not self._dirty:
                    return
                self._dirty = False
                figures = RunFigures(per_file={k: dict(v) for k, v in self._files.items()})
            metrics = RunMetrics(
                self.command,
                self.started_at,
                time.time() - self.started_at,
                0,
                figures,
                finished=False,
            )
            try:
                write_metrics(self.path, metrics)
            except OSError as error:  # the final write reports it; the run goes on
                LOGGER.warning("cannot write the metrics file %s: %s", self.path, error)

    def close(self) -> None:
        """Write what is pending, then stop the writing thread."""
        with self._lock:
            self._closing = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def __enter__(self) -> BackfillGauges:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
