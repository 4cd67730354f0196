"""The Reddit source: submissions and comments of many subreddits from one asyncpraw client.

`reddit_records` is an async iterator of event records (or `Rejected`), one task per
subreddit on one shared client (client.py: the requests meter and backoff; worker.py: one
subreddit's listings and comment trees; payload.py: Reddit JSON -> record). A leaf: it
imports nothing of the pipeline, the sinks or the CLI.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.errors import ConfigError, DatabaseUnreachable
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.settings import Settings, SubredditTarget
from sentiment_pipeline.sources.reddit.client import (
    BudgetExhausted,
    RequestMeter,
    current_subreddit,
    describe_error,
    make_reddit,
)
from sentiment_pipeline.sources.reddit.worker import (
    SubredditStats,
    SubredditWorker,
    WorkerConfig,
    refresh_since,
)

__all__ = ["RedditScrapeOptions", "reddit_records"]

_DONE = object()
_QUEUE_SIZE = 2000


@dataclass(frozen=True)
class RedditScrapeOptions:
    """Run-wide options (per-subreddit ones live on `SubredditTarget`)."""

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
    result: RunResult,
    marks: Marks | None = None,
    on_progress: Callable[[RunResult], None] | None = None,
) -> AsyncIterator[dict[str, Any] | Rejected]:
    """Yield submission and comment records of every target, concurrently fetched."""
    deadline = time.monotonic() + options.max_duration if options.max_duration else None
    meter = RequestMeter(max_requests=options.max_requests, deadline=deadline)
    stats = {t.name.lower(): SubredditStats() for t in targets}
    result.extra["subreddits"] = stats
    _update(result, meter)
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
        name = target.name.lower()
        current_subreddit.set(name)
        try:
            await worker.run(target, stats[name])
            stats[name].status = "done"
        except BudgetExhausted as stop:
            stats[name].status = "stopped"
            result.stopped_early = True
            result.stop_reason = result.stop_reason or str(stop)
        except Exception as error:  # reported per subreddit
            stats[name].status = "failed"
            failures[target.name] = error
        finally:
            await queue.put(_DONE)

    tasks = [asyncio.create_task(one(t)) for t in targets]
    running = len(tasks)
    try:
        while running:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic()) + 5.0
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:  # a request hangs past --max-duration: stop here
                result.stopped_early = True
                result.stop_reason = result.stop_reason or "reached --max-duration"
                break
            if item is _DONE:
                running -= 1
                if on_progress is not None:
                    _update(result, meter)
                    on_progress(result)
                continue
            yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await reddit.close()
        _update(result, meter)
    _report(result, targets, failures, stats)


def _update(result: RunResult, meter: RequestMeter) -> None:
    """Copy the meter into the result (plain values, so `--json` can print them)."""
    result.extra["requests"] = {
        "total": meter.total,
        "token": meter.tokens,
        "max_requests": meter.max_requests,
    }
    for name, stats in result.extra.get("subreddits", {}).items():
        stats.requests = meter.per_subreddit[name]
        stats.rate_limit_wait = meter.rate_limit_wait[name]


def _report(
    result: RunResult,
    targets: Sequence[SubredditTarget],
    failures: dict[str, BaseException],
    stats: dict[str, SubredditStats],
) -> None:
    """Turn per-subreddit failures into errors; raise for problems no subreddit survives."""
    from asyncprawcore.exceptions import RequestException

    for counters in stats.values():
        result.warnings.extend(counters.warnings)
    for name, error in failures.items():
        reason, credentials = describe_error(error)
        if credentials:
            raise ConfigError(
                reason, "check SENTPIPE_REDDIT_CLIENT_ID / _SECRET (and _USERNAME / _PASSWORD)"
            ) from error
        result.errors.append(f"r/{name}: {reason}")
    network = all(isinstance(e, RequestException) for e in failures.values())
    if failures and len(failures) == len(targets) and network:
        first = next(iter(failures.values()))
        raise DatabaseUnreachable(
            f"cannot reach Reddit ({first})", "check the network and SENTPIPE_REDDIT_*_URL"
        )
