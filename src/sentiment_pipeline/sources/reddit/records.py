"""Reddit's listings: submissions and comments of many subreddits from one asyncpraw client.

`reddit_records` is an async iterator of event records (or `Rejected`), one task per
subreddit on one shared client (client.py: the requests meter and backoff; worker.py: one
subreddit's listings and comment trees; payload.py: Reddit JSON -> record), and fills a
`ScrapeReport` (report.py) as it goes. A leaf: it imports nothing of the pipeline, the
sinks, the scrape job or the CLI.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
from sentiment_pipeline.sources.reddit.follow import (
    FollowPlan,
    FollowState,
    GroupWalk,
    Member,
    build_member,
    followable,
    group_path,
    utc_now,
)
from sentiment_pipeline.sources.reddit.report import (
    GroupStats,
    RequestTotals,
    ScrapeReport,
    SubredditStats,
)
from sentiment_pipeline.sources.reddit.settings import CommentsFrom, SubredditTarget
from sentiment_pipeline.sources.reddit.worker import SubredditWorker, WorkerConfig, refresh_since

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = ["RedditScrapeOptions", "ScrapeReport", "SubredditStats", "reddit_records"]

_QUEUE_SIZE = 2000
# groups of several subreddits walked at once: each holds up to two pages of 100 items;
# Reddit's rate limit (about 1.7 requests a second) gains nothing from more
GROUPS_IN_FLIGHT = 2


@dataclass(frozen=True)
class _Done:
    """Queued after a subreddit's last record: `mark` is its completed walk's post mark,
    `comment_mark` its comment listing's (None: the walk was stopped, failed, or keeps no
    such mark). Going through the queue, it reaches the reader only after every record
    the walk emitted."""

    source_id: str
    mark: datetime | None
    comment_mark: datetime | None = None


@dataclass(frozen=True)
class RedditScrapeOptions:
    """Run-wide options (per-subreddit ones live on `SubredditTarget`).

    `since`: only posts from this aware UTC moment on (a `new` listing pages back to it).
    `refresh_hours`: re-fetch comments of stored posts younger than this many hours.
    `max_requests` / `max_duration` (seconds): stop cleanly at these bounds.
    `overlap_seconds`: page this far below the stored high-water mark.
    `listing_cap`: Reddit's listing limit (items), to warn about gaps.
    `wait_for_lock`: wait for a running scrape instead of failing with `LockHeld`.
    `comments_from`: `auto` (the group listings; trees for first runs, backfills and
    gaps), `listing` (listings only) or `trees` (one tree per post, each subreddit
    alone: the strategy before the listings). `follow`: what `--every` remembers between
    runs (activity, due times); None for a single run.
    """

    since: datetime | None = None
    refresh_hours: float = 48.0
    max_requests: int | None = None
    max_duration: float | None = None
    overlap_seconds: float = 300.0
    listing_cap: int = 1000
    wait_for_lock: bool = False
    comments_from: CommentsFrom = "auto"
    follow: FollowState | None = None


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
    report.comment_marks.clear()
    report.checked.clear()
    report.groups.clear()
    report.comments_from = options.comments_from
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
    marks = marks or Marks()
    reddit = make_reddit(settings, meter)
    worker = SubredditWorker(reddit, meter, marks, config, queue.put, asyncio.Lock())
    run = _Run(worker, report, failures, queue, options, marks)
    tasks = [asyncio.create_task(job) for job in run.jobs(targets)]
    running = sum(len(stats) for stats in run.finishing)
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
                if item.comment_mark is not None:
                    report.comment_marks[item.source_id] = item.comment_mark
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


@dataclass
class _Run:
    """The tasks of one run: a subreddit alone on the tree path (`comments_from="trees"`,
    and targets the group listings cannot serve), the others in groups (`follow.py`).
    Each task queues a `_Done` per subreddit after its last record; `finishing` lists
    the subreddits each task will report."""

    worker: SubredditWorker
    report: ScrapeReport
    failures: dict[str, BaseException]
    queue: asyncio.Queue[Any]
    options: RedditScrapeOptions
    marks: Marks
    finishing: list[list[str]] = field(default_factory=list)
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(GROUPS_IN_FLIGHT))

    def jobs(self, targets: Sequence[SubredditTarget]) -> list[Coroutine[Any, Any, None]]:
        """One coroutine per tree-path subreddit and per group due now."""
        trees = self.options.comments_from == "trees"
        alone = [t for t in targets if trees or not followable(t)]
        jobs = [self._alone(t) for t in alone]
        self.finishing = [[t.name.lower()] for t in alone]
        followed = [t for t in targets if not trees and followable(t)]
        if not followed:
            return jobs
        state = self.options.follow
        started = utc_now() if state is None else datetime.fromtimestamp(state.clock(), UTC)
        members = [
            build_member(
                t,
                self.report.subreddits[t.name.lower()],
                self.marks,
                since=self.options.since,
                overlap=timedelta(seconds=self.options.overlap_seconds),
                comments_from=self.options.comments_from,
            )
            for t in followed
        ]
        plan = FollowPlan(
            members,
            self.marks,
            self.options.follow,
            listing_cap=self.options.listing_cap,
            started=started,
        )
        for group, stats in plan.due():
            self.report.groups[group_path(group)] = stats
            self.finishing.append(stats.members)
            jobs.append(self._group(group, stats, plan))
        return jobs

    async def _alone(self, target: SubredditTarget) -> None:
        counters = self.report.subreddits[target.name.lower()]
        count_requests_into(counters)  # this task and the comment-tree tasks it starts
        mark = None
        try:
            mark = await self.worker.run(target, counters)
            counters.status = "done"
        except BudgetExhausted as stop:
            counters.status = "stopped"
            self.report.stop(str(stop))
        except Exception as error:  # reported per subreddit
            counters.status = "failed"
            self.failures[target.name] = error
        finally:
            await self.queue.put(_Done(target.name.lower(), mark))

    async def _group(self, members: list[Member], stats: GroupStats, plan: FollowPlan) -> None:
        shared = len(members) > 1
        if shared:  # a few at a time: their pages in memory stay flat in their number
            await self.slots.acquire()
        try:
            await self._walk_group(members, stats, plan)
        finally:
            if shared:
                # asyncpraw's items hold reference cycles: free the group's pages now,
                # not at the next full collection, so memory stays flat in the groups
                gc.collect()
                self.slots.release()

    async def _walk_group(self, members: list[Member], stats: GroupStats, plan: FollowPlan) -> None:
        walk = GroupWalk(
            self.worker,
            members,
            stats,
            comments_from=self.options.comments_from,
            marks=self.marks,
            listing_cap=self.options.listing_cap,
            started=plan.started,
        )
        post_marks: dict[str, datetime] = {}
        comment_marks: dict[str, datetime] = {}
        try:
            post_marks, comment_marks = await walk.run()
            for member in plan.silent(members):
                await walk.check_silent(member)
            self.report.checked.update(walk.checked)
            plan.polled(members)
            stats.status = "done" if any(m.failed is None for m in members) else "failed"
        except BudgetExhausted as stop:
            stats.status = "stopped"
            for member in members:
                member.stats.status = "stopped"
            self.report.stop(str(stop))
            post_marks, comment_marks = {}, {}
        except Exception as error:  # the group's listing failed: each member reports it
            stats.status = "failed"
            for member in members:
                member.failed = member.failed or error
            post_marks, comment_marks = {}, {}
            plan.polled(members)  # tried: due again after its interval, not at once
        finally:
            for member in members:
                name = member.source_id
                if member.failed is not None:
                    member.stats.status = "failed"
                    self.failures[member.target.name] = member.failed
                elif member.stats.status not in ("stopped",):
                    member.stats.status = "done"
                ok = member.failed is None
                await self.queue.put(
                    _Done(
                        name,
                        post_marks.get(name) if ok else None,
                        comment_marks.get(name) if ok else None,
                    )
                )


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
