"""The ingestion stage: source records -> validation -> batches -> sinks.

`run` is the core (core.py: a bounded queue, batches, a writer thread); `run_from_settings`
is what commands call: it builds the sinks, the dead-letter writer and the spool from
`Settings` and installs the stop signals. Nothing here knows typer or rich.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Sequence
from typing import Any

from sentiment_pipeline.pipeline import core
from sentiment_pipeline.pipeline.core import PipelineOptions, run
from sentiment_pipeline.pipeline.deadletter import DeadLetterWriter
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sinks import build_sinks
from sentiment_pipeline.sinks.base import Sink

__all__ = [
    "PipelineOptions",
    "RunResult",
    "replay_spool",
    "run",
    "run_from_settings",
    "run_from_settings_async",
]


async def run_from_settings_async(
    settings: Settings,
    source: AsyncIterable[Any],
    *,
    sink_names: Sequence[str] | None = None,
    sinks: Sequence[Sink] | None = None,
    dry_run: bool = False,
    on_progress: Callable[[RunResult], None] | None = None,
    stop: asyncio.Event | None = None,
    result: RunResult | None = None,
    on_durable: Callable[[int], None] | None = None,
) -> RunResult:
    """Build the sinks (unless given) and run `source` through `core.run`, with SIGINT and
    SIGTERM setting `stop`. See `core.run` for `on_progress` and `on_durable`."""
    if sinks is None:
        sinks = [] if dry_run else build_sinks(list(sink_names or settings.sinks), settings)
    stop = stop or asyncio.Event()
    restore_signals = core.install_stop_signals(stop)
    try:
        return await run(
            source,
            sinks,
            options=PipelineOptions.from_settings(settings, dry_run=dry_run),
            dead_letters=DeadLetterWriter(settings.dead_letter_dir),
            spool=Spool(settings.spool_dir),
            stop=stop,
            on_progress=on_progress,
            result=result,
            on_durable=on_durable,
        )
    finally:
        restore_signals()


def run_from_settings(settings: Settings, source: AsyncIterable[Any], **kwargs: Any) -> RunResult:
    """Synchronous wrapper for commands: one event loop per run."""
    return asyncio.run(run_from_settings_async(settings, source, **kwargs))


async def _nothing() -> Any:
    return
    yield  # pragma: no cover - makes this an async generator


def replay_spool(settings: Settings, sink_names: Sequence[str] | None = None) -> RunResult:
    """Write the spool (and nothing else) to the sinks."""
    return run_from_settings(settings, _nothing(), sink_names=sink_names)
