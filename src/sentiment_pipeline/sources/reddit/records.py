"""Reddit's listings: submissions and comments of many subreddits from one asyncpraw client.

`reddit_records` is an async iterator of event records (or `Rejected`), one task per
subreddit on one shared client (client.py: the requests meter and backoff; worker.py: one
subreddit's listings and comment trees; payload.py: Reddit JSON -> record), and fills a
`ScrapeReport` (report.py) as it goes. A leaf: it imports nothing of the pipeline, the
sinks, the scrape job or the CLI.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.errors import ConfigError, DatabaseUnreachable
from sentiment_pipeline.sources.reddit.client import (
    BudgetExhausted,
    RequestMeter,
    count_requests_into,
    describe_error,
    make_reddit,
)
from sentiment_pipeline.sources.reddit.report import RequestTotals, ScrapeReport, SubredditStats
from sentiment_pipeline.sources.reddit.settings import SubredditTarget
from sentiment_pipeline.sources.reddit.worker import SubredditWorker, WorkerConfig, refresh_since

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = ["RedditScrapeOptions", "ScrapeReport", "SubredditStats", "reddit_records"]

_QUEUE_SIZE = 2000


@dataclass(frozen=True)
class _Done:
    """Queued after a subreddit's last record: `mark` is its completed walk's mark (None:
    the walk was stopped, failed, or keeps no mark). Going through the queue, it reaches
    the reader only after every record the walk emitted."""

    source_id: str
    mark: datetime | None


@dataclass(frozen=True)
class RedditScrapeOptions:
    """Run-wide options (per-subreddit ones live on `SubredditTarget`).

    `since`: only posts from this aware UTC moment on (a `new` listing pages back to it).
    `refresh_hours`: re-fetch comments of stored posts younger than this many hours.
    `max_requests` / `max_duration` (seconds): stop cleanly at these bounds.
    `overlap_seconds`: page this far below the stored high-water mark.
    `listing_cap`: Reddit's listing limit (items), to warn about gaps.
    `wait_for_lock`: wait for a running scrape instead of failing with `LockHeld`.
    """

    since: datetime | None = None
    refresh_hours: float = 48.0
    max_requests: int | None = None
    max_duration: float | None = None
    overlap_seconds: float = 300.0
    listing_cap: int = 1000
    wait_for_lock: bool = False


async def reddit_records(
    settings: Settings,
    targets: Sequence[SubredditTarget],
    options: RedditScrapeOptions,
    report: ScrapeReport,
    marks: Marks | None = None,
    on_progress: Callable[[ScrapeReport], None] | None = None,
) -> AsyncIterator[dict[str, Any] | Rejected]:
    """Yield submission and comment records (or `Rejected`) of every target.

    Targets are fetched concurrently, one task per subreddit on one client. `report` is
    filled while records flow (`report.subreddits` keyed by the lower-cased name, in
    target order) and is complete when the iterator ends. `marks` (what is stored
    already) make `new` listings incremental and skip known comment trees.
    `on_progress(report)` is called each time a subreddit finishes. A `new` listing
    whose walk completed (listing and comment trees) puts its mark in `report.marks`
    once every record of that walk has been yielded.

    A subreddit that fails is skipped and recorded in `report.failures`; stopping at
    `--max-requests`/`--max-duration` sets `report.stopped_early`. Raises `ConfigError`
    when Reddit rejects the credentials, and `DatabaseUnreachable` when no subreddit
    could reach Reddit at all (network).
    """
    deadline = time.monotonic() + options.max_duration if options.max_duration else None
    report.requests = RequestTotals(max_requests=options.max_requests)
    meter = RequestMeter(totals=report.requests, deadline=deadline)
    stats = report.subreddits
    stats.clear()
    report.marks.clear()
    for target in targets:
        stats[target.name.lower()] = SubredditStats()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=_QUEUE_SIZE)
    config = WorkerConfig(
        since=options.since,
        overlap=timedelta(seconds=options.overlap_seconds),
        refresh_since=refresh_since(options.refresh_hours),
        listing_cap=options.listing_cap,
    )
    failures: dict[str, BaseException] = {}
    reddit = make_reddit(settings, meter)
    worker = SubredditWorker(reddit, meter, marks or Marks(), config, queue.put, asyncio.Lock())

    async def one(target: SubredditTarget) -> None:
        counters = stats[target.name.lower()]
        count_requests_into(counters)  # this task and the comment-tree tasks it starts
        mark = None
        try:
            mark = await worker.run(target, counters)
            counters.status = "done"
        except BudgetExhausted as stop:
            counters.status = "stopped"
            report.stop(str(stop))
        except Exception as error:  # reported per subreddit
            counters.status = "failed"
            failures[target.name] = error
        finally:
            await queue.put(_Done(target.name.lower(), mark))

    tasks = [asyncio.create_task(one(t)) for t in targets]
    running = len(tasks)
    try:
        while running:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic()) + 5.0
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:  # a request hangs past --max-duration: stop here
                report.stop("reached --max-duration")
                break
            if type(item) is _Done:
                running -= 1
                if item.mark is not None:
                    report.marks[item.source_id] = item.mark
                if on_progress is not None:
                    on_progress(report)
                continue
            yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await reddit.close()
    _report_failures(report, targets, failures)


def _report_failures(
    report: ScrapeReport, targets: Sequence[SubredditTarget], failures: dict[str, BaseException]
) -> None:
    """Record per-subreddit failures; raise for problems no subreddit survives."""
    from asyncprawcore.exceptions import RequestException

    for name, error in failures.items():
        reason, credentials = describe_error(error)
        if credentials:
            raise ConfigError(
                reason, "check SENTPIPE_REDDIT_CLIENT_ID / _SECRET (and _USERNAME / _PASSWORD)"
            ) from error
        report.failures[name] = reason
    network = all(isinstance(e, RequestException) for e in failures.values())
    if failures and len(failures) == len(targets) and network:
        first = next(iter(failures.values()))
        raise DatabaseUnreachable(
            f"cannot reach Reddit ({first})", "check the network and SENTPIPE_REDDIT_*_URL"
        )
