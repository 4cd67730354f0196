"""The ingestion stage: source records -> validation -> batches -> sinks.

`run` is the core (core.py: a bounded queue, batches, a writer thread); `open_job`
(job.py) is how a command sets one up: it builds the sinks, checks their databases
(reachable and migrated, before the first record is read), creates the dead-letter
writer and the spool from `Settings`, and closes what it opened; `Job.run` installs the
stop signals and runs a source. `run_from_settings` is both in one call. Nothing here
knows typer or rich.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable
from typing import Any

from sentiment_pipeline.pipeline.core import Chunk, PipelineOptions, run
from sentiment_pipeline.pipeline.job import Job, database_urls, open_job, prepare_databases
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.settings import Settings

__all__ = [
    "Chunk",
    "Job",
    "PipelineOptions",
    "RunResult",
    "catch_up_async",
    "catch_up_pending",
    "database_urls",
    "open_job",
    "prepare_databases",
    "replay_spool",
    "run",
    "run_from_settings",
    "run_from_settings_async",
]


async def run_from_settings_async(
    settings: Settings,
    source: AsyncIterable[Any],
    *,
    dry_run: bool = False,
    on_progress: Callable[[RunResult], None] | None = None,
    stop: asyncio.Event | None = None,
    result: RunResult | None = None,
    on_durable: Callable[[int], None] | None = None,
) -> RunResult:
    """Run `source` through the pipeline in a job of its own (`open_job`): into the
    sinks `settings.sinks` names, their databases checked first. `dry_run` validates and
    writes nothing (no sinks, no check). Returns the
    `RunResult`; raises `ConfigError` / `DatabaseUnreachable` before reading `source`
    when a database is not ready. SIGINT and SIGTERM set `stop`; see `core.run` for
    `on_progress` and `on_durable`."""
    async with open_job(settings, dry_run=dry_run) as job:
        return await job.run(
            source, stop=stop, on_progress=on_progress, result=result, on_durable=on_durable
        )


def run_from_settings(settings: Settings, source: AsyncIterable[Any], **kwargs: Any) -> RunResult:
    """Synchronous wrapper for commands: one event loop per run."""
    return asyncio.run(run_from_settings_async(settings, source, **kwargs))


async def _nothing() -> Any:
    return
    yield  # pragma: no cover - makes this an async generator


def replay_spool(settings: Settings) -> RunResult:
    """Catch up and nothing else: write the spool to the sinks and repair the followers
    earlier runs left behind (`pipeline.journal`); their databases are checked first, as
    for any run (`prepare_databases`). `spooled` counts the rows still waiting."""
    return run_from_settings(settings, _nothing())


async def catch_up_async(settings: Settings, stop: asyncio.Event | None = None) -> RunResult:
    """`replay_spool` in a running event loop (`stop` is set by SIGINT/SIGTERM)."""
    return await run_from_settings_async(settings, _nothing(), stop=stop)


def catch_up_pending(settings: Settings) -> bool:
    """True when the spool holds batches or a journal may owe rows to a follower: the
    work `replay_spool` does first (cheap: two folder listings)."""
    from sentiment_pipeline.pipeline.journal import SUFFIX

    journal_dir = settings.journal_dir
    return bool(Spool(settings.spool_dir).files()) or (
        journal_dir.is_dir() and any(journal_dir.glob(f"*{SUFFIX}"))
    )
