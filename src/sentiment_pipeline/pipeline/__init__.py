"""The ingestion stage: source records -> validation -> batches -> sinks.

`run` is the core (core.py: a bounded queue, batches, a writer thread); `run_from_settings`
is what commands call: it builds the sinks, checks their databases (`prepare_databases`:
reachable and migrated, before the first record is read), builds the dead-letter writer
and the spool from `Settings` and installs the stop signals. Nothing here knows typer or
rich.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Sequence
from typing import Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.pipeline import core
from sentiment_pipeline.pipeline.core import Chunk, PipelineOptions, run
from sentiment_pipeline.pipeline.deadletter import DeadLetterWriter
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sinks import build_sinks
from sentiment_pipeline.sinks.base import Sink

__all__ = [
    "Chunk",
    "PipelineOptions",
    "RunResult",
    "catch_up_async",
    "catch_up_pending",
    "database_urls",
    "prepare_databases",
    "replay_spool",
    "run",
    "run_from_settings",
    "run_from_settings_async",
]


def database_urls(sinks: Sequence[Sink]) -> list[DatabaseURL]:
    """The databases `sinks` write to, each once: the `url` of every leading
    (`is_database`) sink that has one. The memory sink leads but has no database."""
    urls: list[DatabaseURL] = []
    for sink in sinks:
        url = getattr(sink, "url", None)
        if sink.is_database and isinstance(url, DatabaseURL) and url not in urls:
            urls.append(url)
    return urls


def prepare_databases(settings: Settings, sinks: Sequence[Sink]) -> None:
    """Before the first request or read: every database `sinks` write to is reachable
    and at the head revision (`db.migrate.ensure_schema`). The embedded SQLite default
    (`settings.embedded_database`) is migrated here; any other database is not. No
    database sink (e.g. `--sink csv` alone): nothing to check.

    Raises `ConfigError` (not migrated, missing file or table: "run `sentpipe db
    init`"; login refused) or `DatabaseUnreachable`."""
    from sentiment_pipeline.db.migrate import ensure_schema

    for url in database_urls(sinks):
        ensure_schema(url, migrate=settings.embedded_database and url == settings.database)


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
    """Run `source` through the pipeline into `sinks`, or into the sinks named by
    `sink_names` (default: the settings'), which are built here and their databases
    checked first (`prepare_databases`); a caller passing `sinks` checks them itself.
    `dry_run` validates and writes nothing (no sinks, no check). Returns the `RunResult`;
    raises `ConfigError` / `DatabaseUnreachable` before reading `source` when a database
    is not ready. SIGINT and SIGTERM set `stop`; see `core.run` for `on_progress` and
    `on_durable`."""
    if sinks is None:
        sinks = [] if dry_run else build_sinks(list(sink_names or settings.sinks), settings)
        try:
            await asyncio.to_thread(prepare_databases, settings, sinks)
        except BaseException:
            for sink in sinks:
                sink.close()
            raise
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
            journal_dir=settings.journal_dir,
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
    """Catch up and nothing else: write the spool to the sinks and repair the followers
    earlier runs left behind (`pipeline.journal`); their databases are checked first, as
    for any run (`prepare_databases`). `spooled` counts the rows still waiting."""
    return run_from_settings(settings, _nothing(), sink_names=sink_names)


async def catch_up_async(
    settings: Settings,
    sink_names: Sequence[str] | None = None,
    stop: asyncio.Event | None = None,
) -> RunResult:
    """`replay_spool` in a running event loop (`stop` is set by SIGINT/SIGTERM)."""
    return await run_from_settings_async(settings, _nothing(), sink_names=sink_names, stop=stop)


def catch_up_pending(settings: Settings) -> bool:
    """True when the spool holds batches or a journal may owe rows to a follower: the
    work `replay_spool` does first (cheap: two folder listings)."""
    from sentiment_pipeline.pipeline.journal import SUFFIX

    journal_dir = settings.journal_dir
    return bool(Spool(settings.spool_dir).files()) or (
        journal_dir.is_dir() and any(journal_dir.glob(f"*{SUFFIX}"))
    )
