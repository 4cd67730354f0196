"""Run the pipeline from settings: build the sinks, dead letters and spool, handle signals.

This is what the CLI commands call; it knows nothing of typer or rich.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Sequence
from typing import Any

from sentiment_pipeline import pipeline
from sentiment_pipeline.deadletter import DeadLetterWriter
from sentiment_pipeline.result import RunResult
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sinks import build_sinks
from sentiment_pipeline.sinks.base import Sink
from sentiment_pipeline.spool import Spool

__all__ = ["ingest", "ingest_async", "replay_spool"]


async def ingest_async(
    settings: Settings,
    source: AsyncIterable[Any],
    *,
    sink_names: Sequence[str] | None = None,
    sinks: Sequence[Sink] | None = None,
    dry_run: bool = False,
    on_progress: Callable[[RunResult], None] | None = None,
    stop: asyncio.Event | None = None,
    result: RunResult | None = None,
) -> RunResult:
    if sinks is None:
        sinks = [] if dry_run else build_sinks(list(sink_names or settings.sinks), settings)
    stop = stop or asyncio.Event()
    restore_signals = pipeline.install_stop_signals(stop)
    try:
        return await pipeline.run(
            source,
            sinks,
            options=pipeline.PipelineOptions.from_settings(settings, dry_run=dry_run),
            dead_letters=DeadLetterWriter(settings.dead_letter_dir),
            spool=Spool(settings.spool_dir),
            stop=stop,
            on_progress=on_progress,
            result=result,
        )
    finally:
        restore_signals()


def ingest(settings: Settings, source: AsyncIterable[Any], **kwargs: Any) -> RunResult:
    """Synchronous wrapper for commands: one event loop per run."""
    return asyncio.run(ingest_async(settings, source, **kwargs))


async def _nothing() -> Any:
    return
    yield  # pragma: no cover - makes this an async generator


def replay_spool(settings: Settings, sink_names: Sequence[str] | None = None) -> RunResult:
    """Write the spool (and nothing else) to the sinks."""
    return ingest(settings, _nothing(), sink_names=sink_names)
