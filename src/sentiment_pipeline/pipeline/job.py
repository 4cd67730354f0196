"""One job's set-up and teardown: the sinks, their databases, the dead letters, the spool.

Every command that writes events (scrape, refresh, a backfill, `ingest ndjson`, the
catch-up and `spool replay`) opens its job the same way:

    async with open_job(settings, dry_run=dry_run) as job:
        result = await job.run(source, ...)

`open_job` builds the sinks (database sinks first), checks their databases before the
first record is read (`prepare_databases`), creates the dead-letter writer and yields
the `Job`; on the way out, however the block ends (a return, an exception, a failed
check half way), it closes exactly what it opened, in reverse order. Whoever opens a
thing closes it: the pipeline (`core.run`) and its `BatchWriter` use the sinks and the
dead-letter writer, and close neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import SentpipeError, TransientError
from sentiment_pipeline.pipeline import core
from sentiment_pipeline.pipeline.deadletter import DeadLetterWriter
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.signals import stopping
from sentiment_pipeline.sinks import build_sinks
from sentiment_pipeline.sinks.base import Sink

__all__ = ["Job", "database_urls", "open_job", "prepare_databases"]

LOGGER = logging.getLogger(__name__)


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


@dataclass
class Job:
    """What `open_job` opened for one job: its `sinks` (database sinks first; none in a
    dry run unless asked for), its `dead_letters` writer and its `spool`. `dry_run`: the
    pipeline validates and writes nothing."""

    settings: Settings
    sinks: list[Sink]
    dead_letters: DeadLetterWriter
    spool: Spool
    dry_run: bool = False

    @property
    def databases(self) -> list[DatabaseURL]:
        """The databases the job's sinks write to (`database_urls`)."""
        return database_urls(self.sinks)

    async def run(
        self,
        source: AsyncIterable[Any],
        *,
        stop: asyncio.Event | None = None,
        on_progress: Callable[[RunResult], None] | None = None,
        result: RunResult | None = None,
        on_durable: Callable[[int], None] | None = None,
    ) -> RunResult:
        """Run `source` through the pipeline (`core.run`) into the job's sinks; may be
        called more than once. SIGINT and SIGTERM set `stop` while it runs (`signals`);
        see `core.run` for `on_progress` and `on_durable`. Returns the `RunResult`."""
        with stopping(stop or asyncio.Event()) as stop_event:
            return await core.run(
                source,
                self.sinks,
                options=core.PipelineOptions.from_settings(self.settings, dry_run=self.dry_run),
                dead_letters=self.dead_letters,
                spool=self.spool,
                stop=stop_event,
                on_progress=on_progress,
                result=result,
                on_durable=on_durable,
                journal_dir=self.settings.journal_dir,
            )


def _close_sinks(sinks: Sequence[Sink]) -> None:
    """Close every sink; a failure to close (a dead link) is logged, not raised."""
    for sink in sinks:
        try:
            sink.close()
        except (TransientError, SentpipeError, OSError) as error:
            LOGGER.debug("closing %s: %s", sink.name, error)


@contextlib.asynccontextmanager
async def open_job(
    settings: Settings,
    *,
    dry_run: bool = False,
    sinks_in_dry_run: bool = False,
) -> AsyncIterator[Job]:
    """Open one job: build the sinks `settings.sinks` names (a command's `--sink` is
    already in it: flags are the settings' top layer), check their databases
    (`prepare_databases`, in a thread), create the dead-letter writer; yield the `Job`;
    close all of it on the way out, whatever happens.

    `dry_run`: no database is checked and nothing will be written; no sink is built
    either, unless `sinks_in_dry_run` (a scrape reads its marks through them). Raises
    what `build_sinks` raises (`ConfigError`: an unknown sink) and what the check
    raises (`ConfigError`, `DatabaseUnreachable`), having closed what it built."""
    with contextlib.ExitStack() as opened:
        sinks: list[Sink] = []
        if sinks_in_dry_run or not dry_run:
            sinks = build_sinks(list(settings.sinks), settings)
        opened.callback(_close_sinks, sinks)
        if not dry_run:
            await asyncio.to_thread(prepare_databases, settings, sinks)
        dead_letters = opened.enter_context(
            contextlib.closing(DeadLetterWriter(settings.dead_letter_dir))
        )
        yield Job(settings, sinks, dead_letters, Spool(settings.spool_dir), dry_run)
