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
    TopicStats,
)
from sentiment_pipeline.sources.reddit.settings import CommentsFrom, SubredditTarget
from sentiment_pipeline.sources.reddit.topics import TopicSearch, TopicWalk, topic_searches
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
    topic: bool = False  # `source_id` is a topic's name, `mark` its search mark


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
    runs (activity, due times); None for a single run. `tree_template`: the tree
    settings (`comments`, `more_comments`, `comment_depth`) of a topic's post whose
    subreddit is not a target (None: the defaults).
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
    tree_template: SubredditTarget | None = None


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
    once every record of that walk has been yielded. Each topic of `settings.topics` is
    searched after the listings (`topics.py`; `report.topics`, its completed walk's
    mark in `report.topic_marks`).

    A subreddit that fails is skipped and recorded in `report.failures` (a topic in
    `report.topic_failures`); stopping at `--max-requests`/`--max-duration` sets
    `report.stopped_early`. Raises `ConfigError` when Reddit rejects the credentials or
    a topic without scope has a query Reddit cannot narrow, and `DatabaseUnreachable`
    when nothing could reach Reddit at all (network).
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
    searches = _searches(settings, report)
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
    tasks += [asyncio.create_task(job) for job in run.topic_jobs(searches, targets, tasks)]
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
                _settle(report, item)
                if on_progress is not None:
                    on_progress(report)
                continue
            yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await reddit.close()
    _report_failures(report, targets, failures, run.topic_errors)


def _searches(settings: Settings, report: ScrapeReport) -> list[TopicSearch]:
    """The topics' searches (`ConfigError` for one Reddit cannot narrow, no scope), each
    with its counters in `report.topics`."""
    from sentiment_pipeline.sources.topic import topics_from

    searches = topic_searches(topics_from(settings.topics))
    report.topics.clear()
    report.topic_marks.clear()
    report.topic_failures.clear()
    for search in searches:
        report.topics[search.topic.name] = TopicStats(search="reddit" if search.q else "scope")
    return searches


def _settle(report: ScrapeReport, done: _Done) -> None:
    """Record a finished walk's marks (a subreddit's, or a topic's)."""
    if done.topic:
        if done.mark is not None:
            report.topic_marks[done.source_id] = done.mark
        return
    if done.mark is not None:
        report.marks[done.source_id] = done.mark
    if done.comment_mark is not None:
        report.comment_marks[done.source_id] = done.comment_mark


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
    covered: set[str] = field(default_factory=set)  # posts whose comments the listings follow
    topic_errors: dict[str, BaseException] = field(default_factory=dict)

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

    def _cover(self, members: Sequence[Member]) -> None:
        """The posts a completed group walk met: their comments come through its comment
        listing or its trees, so a topic's search needs no tree for them."""
        for member in members:
            if member.failed is None:
                self.covered.update(member.posts_met)

    def topic_jobs(
        self,
        searches: Sequence[TopicSearch],
        targets: Sequence[SubredditTarget],
        listings: Sequence[asyncio.Task[None]],
    ) -> list[Coroutine[Any, Any, None]]:
        """One coroutine per topic; each starts once the `listings` tasks are done (their
        posts and trees are then known, so none is fetched twice)."""
        by_id = {t.name.lower(): t for t in targets}
        self.finishing += [[search.topic.name] for search in searches]
        return [self._topic(search, by_id, list(listings)) for search in searches]

    async def _topic(
        self,
        search: TopicSearch,
        targets: dict[str, SubredditTarget],
        listings: list[asyncio.Task[None]],
    ) -> None:
        name = search.topic.name
        stats = self.report.topics[name]
        mark = None
        try:
            if listings:
                await asyncio.wait(listings)
            if search.q:
                mark = await self._topic_walk(search, stats, targets).run()
            stats.status = "done"
        except BudgetExhausted as stop:
            stats.status = "stopped"
            self.report.stop(str(stop))
        except Exception as error:  # reported per topic
            stats.status = "failed"
            self.topic_errors[name] = error
        finally:
            await self.queue.put(_Done(name, mark, topic=True))

    def _topic_walk(
        self, search: TopicSearch, stats: TopicStats, targets: dict[str, SubredditTarget]
    ) -> TopicWalk:
        options = self.options
        return TopicWalk(
            self.worker,
            search,
            stats,
            self.marks,
            since=options.since,
            overlap=timedelta(seconds=options.overlap_seconds),
            cap=options.listing_cap,
            started=utc_now(),
            covered=self.covered | self.worker.trees_done,
            targets=targets,
            template=options.tree_template,
        )

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
            self._cover(members)
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
    report: ScrapeReport,
    targets: Sequence[SubredditTarget],
    failures: dict[str, BaseException],
    topic_errors: dict[str, BaseException],
) -> None:
    """Record per-subreddit and per-topic failures; raise for problems nothing survives."""
    from asyncprawcore.exceptions import RequestException

    for found, name, error in [
        *((report.failures, name, error) for name, error in failures.items()),
        *((report.topic_failures, name, error) for name, error in topic_errors.items()),
    ]:
        reason, credentials = describe_error(error)
        if credentials:
            raise ConfigError(
                reason, "check SENTPIPE_REDDIT_CLIENT_ID / _SECRET (and _USERNAME / _PASSWORD)"
            ) from error
        found[name] = reason
    every = [*failures.values(), *topic_errors.values()]
    network = all(isinstance(e, RequestException) for e in every)
    if every and len(every) == len(targets) + len(report.topics) and network:
        first = every[0]
        raise DatabaseUnreachable(
            f"cannot reach Reddit ({first})", "check the network and SENTPIPE_REDDIT_*_URL"
        )
