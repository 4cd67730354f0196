"""`sentpipe scrape reddit` as a library: Reddit posts and comments into the pipeline.

`reddit_records` is the source (an async iterator of event records, one task per
subreddit on one shared client); `scrape_reddit` is the whole run: targets, lock,
high-water marks from the database, the source, `ingest_async`, the `RunResult`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.errors import ConfigError, DatabaseUnreachable
from sentiment_pipeline.result import RunResult
from sentiment_pipeline.settings import Settings, SubredditTarget
from sentiment_pipeline.sources.reddit_client import (
    BudgetExhausted,
    RequestMeter,
    current_subreddit,
    describe_error,
    make_reddit,
)
from sentiment_pipeline.sources.reddit_worker import (
    SubredditStats,
    SubredditWorker,
    WorkerConfig,
    refresh_since,
)

__all__ = [
    "RedditScrapeOptions",
    "TargetOverrides",
    "reddit_records",
    "resolve_targets",
    "scrape_reddit",
]

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


@dataclass(frozen=True)
class TargetOverrides:
    """Command-line options that override every target's YAML settings for one run."""

    sort: str | None = None
    time_filter: str | None = None
    limit: int | None = None
    comments: bool | None = None
    more_comments: int | None = None
    comment_depth: int | None = None


def resolve_targets(
    configured: Sequence[SubredditTarget], names: Sequence[str], overrides: TargetOverrides
) -> list[SubredditTarget]:
    """Named subreddits (repeatable or comma-separated) or the YAML list, plus overrides."""
    wanted = [part.strip() for name in names for part in name.split(",") if part.strip()]
    by_name = {target.name.lower(): target for target in configured}
    try:
        if wanted:
            targets = [
                by_name.get(SubredditTarget(name=n).name.lower()) or SubredditTarget(name=n)
                for n in wanted
            ]
        else:
            targets = list(configured)
        changes = {k: v for k, v in dataclasses.asdict(overrides).items() if v is not None}
        targets = [SubredditTarget.model_validate({**t.model_dump(), **changes}) for t in targets]
    except ValueError as error:
        first = str(error).splitlines()
        raise ConfigError(
            f"invalid scrape target: {first[-1].strip() if first else error}",
            "check --subreddit and the options given with it",
        ) from error
    if not targets:
        raise ConfigError(
            "no subreddits to scrape",
            "pass --subreddit NAME or list them under `subreddits:` in the YAML config",
        )
    unique: dict[str, SubredditTarget] = {}
    for target in targets:
        unique.setdefault(target.name.lower(), target)
    return list(unique.values())


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


def _uses_database(settings: Settings, sink_names: Sequence[str] | None) -> bool:
    from sentiment_pipeline.sinks import resolve_name

    names = list(sink_names or settings.sinks)
    return any(resolve_name(n, settings) in ("timescale", "sqlite") for n in names)


async def scrape_reddit_async(
    settings: Settings,
    targets: Sequence[SubredditTarget],
    options: RedditScrapeOptions,
    *,
    sink_names: Sequence[str] | None = None,
    dry_run: bool = False,
    on_progress: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """One scrape: lock, marks, fetch, write. Raises `LockHeld`, `ConfigError`, …"""
    from sentiment_pipeline.db.queries import read_marks
    from sentiment_pipeline.ingest import ingest_async
    from sentiment_pipeline.lock import run_lock
    from sentiment_pipeline.sources.reddit_client import check_credentials
    from sentiment_pipeline.sources.reddit_payload import SOURCE

    check_credentials(settings)
    result = RunResult()
    with run_lock(settings.lock_path, wait=options.wait_for_lock, command="sentpipe scrape"):
        marks = Marks()
        if _uses_database(settings, sink_names):
            marks = await asyncio.to_thread(read_marks, settings.database, SOURCE)
            # Stored submissions we may meet again: young ones (comment refresh), the
            # overlap below each mark, and a --since backfill. Known ones keep their trees.
            floors = [refresh_since(options.refresh_hours)]
            floors += [
                m - timedelta(seconds=options.overlap_seconds)
                for (_, kind), m in marks.latest.items()
                if kind == "submission"
            ]
            floors += [options.since] if options.since is not None else []
            marks = await asyncio.to_thread(read_marks, settings.database, SOURCE, min(floors))
        source = reddit_records(settings, targets, options, result, marks, on_progress)
        await ingest_async(
            settings,
            source,
            sink_names=sink_names,
            dry_run=dry_run,
            on_progress=on_progress,
            result=result,
        )
    return result


def scrape_reddit(
    settings: Settings,
    targets: Sequence[SubredditTarget],
    options: RedditScrapeOptions,
    **kwargs: Any,
) -> RunResult:
    """Synchronous `scrape_reddit_async` (one event loop per run)."""
    return asyncio.run(scrape_reddit_async(settings, targets, options, **kwargs))
