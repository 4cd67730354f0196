"""Scrape one subreddit: its listing (incremental for `new`), then comment trees.

Runs as one task per subreddit on a shared client. Records go to `emit`; failures are
reported to the caller as exceptions, except per-submission comment problems, which are
warnings so one broken thread does not cost the subreddit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.settings import SubredditTarget
from sentiment_pipeline.sources.reddit.client import RequestMeter, expanding_more, with_backoff
from sentiment_pipeline.sources.reddit.payload import comment_record, submission_record
from sentiment_pipeline.sources.reddit.report import SubredditStats

__all__ = ["SubredditWorker", "WorkerConfig", "refresh_since"]

LOGGER = logging.getLogger(__name__)
TREES_IN_FLIGHT = 4
Emit = Callable[[dict[str, Any] | Rejected], Awaitable[None]]


@dataclass
class WorkerConfig:
    """Run-wide settings of every subreddit's worker: `since` (a `--since` floor),
    `overlap` (paged back below a stored mark), `refresh_since` (stored posts newer than
    this get their comments re-fetched) and `listing_cap` (Reddit's listing limit)."""

    since: datetime | None
    overlap: timedelta
    refresh_since: datetime
    listing_cap: int


class SubredditWorker:
    """Everything one subreddit needs: client, meter, marks, the shared `more` lock."""

    def __init__(
        self,
        reddit: Any,
        meter: RequestMeter,
        marks: Marks,
        config: WorkerConfig,
        emit: Emit,
        more_lock: asyncio.Lock,
    ) -> None:
        self.reddit = reddit
        self.meter = meter
        self.marks = marks
        self.config = config
        self.emit = emit
        self.more_lock = more_lock
        # The first request fetches the OAuth token; the others wait for it, or each
        # concurrent first request would fetch a token of its own.
        self.token_ready = asyncio.Event()
        self._first = True

    def _floor(self, target: SubredditTarget, source_id: str) -> datetime | None:
        """Stop paging below this time: `--since`, else the stored mark minus overlap."""
        if target.sort != "new":
            return None
        if self.config.since is not None:
            return self.config.since
        mark = self.marks.latest_for(source_id, "submission")
        return mark - self.config.overlap if mark is not None else None

    def _listing(self, subreddit: Any, target: SubredditTarget) -> Any:
        method = getattr(subreddit, target.sort)
        if target.sort in ("top", "controversial"):
            return method(time_filter=target.time_filter, limit=target.limit)
        return method(limit=target.limit)

    async def _next(self, listing: Any) -> Any:
        if self._first:
            self._first = False
        else:
            await self.token_ready.wait()
        try:
            return await with_backoff(listing.__anext__, self.meter)
        finally:
            self.token_ready.set()

    async def run(self, target: SubredditTarget, stats: SubredditStats) -> None:
        source_id = target.name.lower()
        stats.status = "listing"
        subreddit = await self.reddit.subreddit(target.name)  # lazy: no request
        listing = self._listing(subreddit, target)
        floor = self._floor(target, source_id)
        stored = self.marks.recent.get(source_id, {})
        trees: dict[str, None] = {}  # ordered set: pages may repeat a post
        seen = 0
        oldest: float | None = None
        reached_floor = False
        while True:
            try:
                item = await self._next(listing)
            except StopAsyncIteration:
                break
            created = getattr(item, "created_utc", None)
            if floor is not None and isinstance(created, int | float):
                if created < floor.timestamp():
                    reached_floor = True
                    break
                oldest = created
            seen += 1
            record = submission_record(item, source_id)
            await self.emit(record)
            if isinstance(record, Rejected):
                continue
            stats.submissions += 1
            fullname = record["id"]
            held = stored.get(fullname)
            if held is None:
                trees[fullname] = None  # new: fetch its comments
            elif self._may_have_new_comments(item, held, created):
                trees[fullname] = None  # young and grown since we stored it
        capped = seen >= self.config.listing_cap and not reached_floor
        if capped and floor is not None and oldest is not None:
            gap = (oldest - floor.timestamp()) / 60
            stats.warnings.append(
                f"r/{target.name}: reached Reddit's listing cap ({seen} items) before the "
                f"last stored post; about {gap:,.0f} minutes of posts may be missing "
                "(only Reddit data dumps can fill that gap)"
            )
        if target.comments:
            stats.status = "comments"
            await self.comment_trees(list(trees), target, source_id, stats)

    async def comment_trees(
        self,
        fullnames: Sequence[str],
        target: SubredditTarget,
        source_id: str,
        stats: SubredditStats,
    ) -> None:
        """Fetch and emit the comment trees of these posts (`t3_` fullnames), a few in
        flight at once; the first failure cancels the rest and is raised."""
        # A few trees in flight hide request latency; `more` expansion stays serial.
        slots = asyncio.Semaphore(TREES_IN_FLIGHT)

        async def tree(fullname: str) -> None:
            async with slots:
                await self._comment_tree(fullname, target, source_id, stats)

        try:
            async with asyncio.TaskGroup() as group:  # one failure cancels the rest
                for fullname in fullnames:
                    group.create_task(tree(fullname))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None

    def _may_have_new_comments(self, item: Any, held: int, created: Any) -> bool:
        """A stored submission is refreshed while young, if Reddit shows more comments."""
        if not isinstance(created, int | float):
            return False
        young = created >= self.config.refresh_since.timestamp()
        count = getattr(item, "num_comments", None)
        return young and isinstance(count, int) and count > held

    async def _comment_tree(
        self, fullname: str, target: SubredditTarget, source_id: str, stats: SubredditStats
    ) -> None:
        from asyncpraw.exceptions import DuplicateReplaceException
        from asyncprawcore.exceptions import Forbidden, NotFound

        ident = fullname.removeprefix("t3_")
        try:
            submission = await with_backoff(lambda: self.reddit.submission(ident), self.meter)
        except (NotFound, Forbidden) as error:
            stats.warnings.append(f"r/{target.name}: comments of {fullname} unavailable ({error})")
            return
        stats.comment_trees += 1
        if target.more_comments > 0:
            # Counted per task (expanding_more), not as a difference of the subreddit's
            # total: the other trees in flight make requests meanwhile.
            async with self.more_lock:  # Reddit answers 429 to concurrent morechildren
                try:
                    with expanding_more():
                        await with_backoff(
                            lambda: submission.comments.replace_more(limit=target.more_comments),
                            self.meter,
                        )
                except DuplicateReplaceException:
                    stats.warnings.append(
                        f"r/{target.name}: duplicate comments while expanding {fullname}; "
                        "kept what was loaded"
                    )
        for comment in submission.comments.list():
            if type(comment).__name__ == "MoreComments":
                continue
            depth = getattr(comment, "depth", None)
            limit = target.comment_depth
            if limit is not None and isinstance(depth, int) and depth > limit:
                continue
            record = comment_record(comment, source_id)
            await self.emit(record)
            if not isinstance(record, Rejected):
                stats.comments += 1


def refresh_since(hours: float) -> datetime:
    """The moment `hours` before now (UTC): stored posts newer than it are refreshed."""
    return datetime.now(UTC) - timedelta(hours=hours)
