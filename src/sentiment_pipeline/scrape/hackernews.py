"""`sentpipe scrape hn` as a library: Hacker News stories and comments into the pipeline.

Like the Reddit job (`scrape.reddit`): the targets are resolved (`resolve_hn_targets`:
`--list` or the YAML `hn_lists`, and every topic), the run lock taken, the job opened
(`pipeline.open_job`: sinks built, databases checked, the embedded default migrated),
the marks read when a database sink leads, and `sources.hackernews.hn_records` fed into
the pipeline. Stories already stored are looked up in that database (no request). Once
every record of the run is durable, the marks of the walks that completed are saved
(`collection_marks`, source `hackernews`: target `list:<name>` kind `list`, target
`topic:<name>` kind `search`); a walk cut short keeps its old mark, so the same command
run again walks that part again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError, DatabaseUnreachable, SentpipeError
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.scrape.job import Durable, reported
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sources.hackernews.collect import (
    HNReport,
    HNScrapeOptions,
    HNTarget,
    list_target,
    topic_target,
)
from sentiment_pipeline.sources.hackernews.payload import SOURCE
from sentiment_pipeline.sources.hackernews.settings import LISTS
from sentiment_pipeline.sources.topic import topics_from

__all__ = [
    "HNScrapeOptions",
    "HNScrapeResult",
    "hn_lock_path",
    "resolve_hn_targets",
    "scrape_hn",
    "scrape_hn_async",
]

LOGGER = logging.getLogger(__name__)


@dataclass
class HNScrapeResult(RunResult):
    """The pipeline's `RunResult` of an HN scrape plus the source's `HNReport`; `--json`
    puts `report.to_dict()` under `extra` (`extra.targets`, `extra.requests`)."""

    source: ClassVar[str] = SOURCE  # the per-source-id metrics are labelled `kind`
    report: HNReport = field(default_factory=HNReport)

    @property
    def extra(self) -> dict[str, Any]:
        return self.report.to_dict()


def hn_lock_path(settings: Settings) -> Path:
    """The lock of the HN jobs (`scrape hn`, `refresh hn`): one pace for HN's APIs at a
    time. Not Reddit's `scrape.lock`: a Reddit scrape and an HN scrape share no quota,
    so they run side by side (as two services do)."""
    from sentiment_pipeline.sources.hackernews.settings import HN_LOCK

    return settings.data_dir / HN_LOCK


def resolve_hn_targets(
    settings: Settings, lists: Sequence[str], *, topics_only: bool = False
) -> list[HNTarget]:
    """The run's targets: the lists named (repeatable, each may be comma-separated; else
    the YAML `hn_lists`; none with `topics_only`), then every topic of
    `settings.topics`. Raises `ConfigError` for an unknown list, for lists with
    `topics_only`, and when no target remains."""
    wanted = [part.strip() for name in lists for part in name.split(",") if part.strip()]
    unknown = [name for name in wanted if name not in LISTS]
    if unknown:
        raise ConfigError(f"unknown list {unknown[0]!r}", f"--list takes one of {', '.join(LISTS)}")
    if wanted and topics_only:
        raise ConfigError(
            "--list and --topics-only conflict", "drop --topics-only to read those lists too"
        )
    chosen = wanted or ([] if topics_only else list(settings.hn_lists))
    targets = [list_target(name) for name in dict.fromkeys(chosen)]
    targets += [topic_target(topic) for topic in topics_from(settings.topics)]
    if not targets:
        raise ConfigError(
            "nothing to collect from Hacker News",
            "pass --list top (new, best, ask, show, job) or --topic NAME=QUERY, or set "
            "`hn_lists:` or `topics:` in the YAML config",
        )
    return targets


def _save_marks(databases: Sequence[DatabaseURL], result: HNScrapeResult, durable: int) -> None:
    """Save the completed walks' marks in every database, only when each record of the
    run is stored by every sink and none waits in the spool (as `scrape.reddit`). A
    database that cannot take them now keeps its old marks (a warning in the log)."""
    from sentiment_pipeline.db.queries import save_marks
    from sentiment_pipeline.sources.hackernews.spec import MARKS

    report = result.report
    if result.spooled or durable < result.valid or not report.marks:
        return
    by_kind: dict[str, dict[str, datetime]] = {}
    for target, mark in report.marks.items():
        by_kind.setdefault(report.kinds[target], {})[target] = mark
    for url in databases:
        try:
            for kind, marks in by_kind.items():
                save_marks(url, MARKS, marks, kind=kind)
        except SentpipeError as error:
            LOGGER.warning("high-water marks not saved in %s: %s", url.masked, error)


def _known(url: DatabaseURL | None) -> Callable[[Sequence[str]], Any]:
    """`known(ids)`: the stored ones among these event ids (none without a database)."""
    from sentiment_pipeline.db.queries import stored_ids

    async def known(ids: Sequence[str]) -> set[str]:
        if url is None:
            return set()
        return await asyncio.to_thread(stored_ids, url, SOURCE, ids)

    return known


def _unreachable(result: HNScrapeResult, targets: Sequence[HNTarget]) -> None:
    """Every target failed without an answer: HN is unreachable (exit 3), not a run
    with failures."""
    report = result.report
    if targets and report.unreachable == len(targets):
        raise DatabaseUnreachable(
            f"cannot reach Hacker News ({report.failures[0].split(': ', 1)[-1]})",
            "check the network and SENTPIPE_HN_API_URL / SENTPIPE_HN_SEARCH_URL",
        )


async def scrape_hn_async(
    settings: Settings,
    targets: Sequence[HNTarget],
    options: HNScrapeOptions,
    *,
    dry_run: bool = False,
    on_progress: Callable[[HNScrapeResult], None] | None = None,
) -> HNScrapeResult:
    """One scrape of `targets` (see `resolve_hn_targets`) into the sinks.

    Takes the HN lock (`hn_lock_path`, shared with `refresh hn`), checks the
    databases before any request, reads the marks (one query) when a database sink
    leads, and runs the HN source through the pipeline; then saves the marks of the
    completed walks once every record is durable (never in a dry run, which writes
    nothing). `on_progress(result)` after each batch and each page of threads. A
    target's failure is one line in `result.errors` (exit 1). Raises `ConfigError`
    (unknown sink, database not migrated), `LockHeld`, `DatabaseUnreachable` (the
    database is down before the run, or HN unreachable for every target)."""
    from sentiment_pipeline.db.queries import read_marks
    from sentiment_pipeline.lock import run_lock
    from sentiment_pipeline.pipeline import open_job
    from sentiment_pipeline.sources.hackernews import hn_records
    from sentiment_pipeline.sources.hackernews.client import HNClient
    from sentiment_pipeline.sources.hackernews.settings import user_agent
    from sentiment_pipeline.sources.hackernews.spec import MARKS

    result = HNScrapeResult()
    started = time.monotonic()
    deadline = started + options.max_duration if options.max_duration else None
    lock = hn_lock_path(settings)
    with run_lock(lock, wait=options.wait_for_lock, command="sentpipe scrape hn or refresh hn"):
        async with open_job(settings, dry_run=dry_run, sinks_in_dry_run=True) as job:
            databases = job.databases
            marks: dict[str, datetime] = {}
            if databases:
                latest = (await asyncio.to_thread(read_marks, databases[0], MARKS)).latest
                marks = {target: mark for (target, _kind), mark in latest.items()}
            progress = None if on_progress is None else (lambda _: on_progress(result))
            client = HNClient(
                settings.hn_api_url,
                settings.hn_search_url,
                user_agent(settings),
                per_hour=options.per_hour or settings.hn_requests_per_hour,
                max_requests=options.max_requests,
                deadline=deadline,
            )
            async with client:
                source = hn_records(
                    client,
                    targets,
                    options,
                    result.report,
                    marks,
                    _known(databases[0] if databases else None),
                    progress,
                    redact=settings.deleted_content == "redact",
                )
                durable = Durable()
                await job.run(
                    reported(source, result, result.report),
                    on_progress=progress,
                    result=result,
                    on_durable=durable,
                )
            _unreachable(result, targets)
            if not dry_run:
                await asyncio.to_thread(_save_marks, databases, result, durable.count)
    return result


def scrape_hn(
    settings: Settings, targets: Sequence[HNTarget], options: HNScrapeOptions, **kwargs: Any
) -> HNScrapeResult:
    """Synchronous `scrape_hn_async` (one event loop per run); same arguments, result
    and errors."""
    return asyncio.run(scrape_hn_async(settings, targets, options, **kwargs))
