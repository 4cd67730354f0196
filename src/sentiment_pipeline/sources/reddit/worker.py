"""Scrape one subreddit: its listing (incremental for `new`), then comment trees.

Runs as one task per subreddit on a shared client. Records go to `emit`; failures are
reported to the caller as exceptions, except per-submission comment problems, which are
warnings so one broken thread does not cost the subreddit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.sources.reddit.client import RequestMeter, expanding_more, with_backoff
from sentiment_pipeline.sources.reddit.payload import comment_record, submission_record
from sentiment_pipeline.sources.reddit.report import SubredditStats
from sentiment_pipeline.sources.reddit.settings import SubredditTarget

__all__ = ["Emit", "SubredditWorker", "WorkerConfig", "refresh_since"]

LOGGER = logging.getLogger(__name__)
TREES_IN_FLIGHT = 4
T = TypeVar("T")
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
        self.trees_done: set[str] = set()  # posts (`t3_`) whose tree this run emitted

    def _floor(self, target: SubredditTarget, source_id: str) -> datetime | None:
        """Stop paging below this time: `--since`, else the completed mark minus overlap."""
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

    async def next_item(self, listing: Any) -> Any:
        """The listing's next item (see `request`)."""
        return await self.request(listing.__anext__)

    async def request(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run one API call with 429 backoff. The first call of a run fetches the OAuth
        token alone; the others wait for it (else each would fetch a token of its own)."""
        if self._first:
            self._first = False
        else:
            await self.token_ready.wait()
        try:
            return await with_backoff(call, self.meter)
        finally:
            self.token_ready.set()

    async def run(self, target: SubredditTarget, stats: SubredditStats) -> datetime | None:
        """Walk the target's listing, then fetch the comment trees it needs.

        Returns the walk's mark: the newest post time of a `new` listing (never later
        than the walk's start), which the caller may save once this walk's records are
        durable; None for other sorts and for a walk that met no post. Raises what the
        listing raises (`BudgetExhausted` at a `--max-*` bound)."""
        source_id = target.name.lower()
        stats.status = "listing"
        walk = _Walk(
            floor=self._floor(target, source_id),
            started=datetime.now(UTC),
            stored=self.marks.recent.get(source_id, {}),
            known_until=self._known_until(target, source_id),
        )
        subreddit = await self.reddit.subreddit(target.name)  # lazy: no request
        listing = self._listing(subreddit, target)
        while True:
            try:
                item = await self.next_item(listing)
            except StopAsyncIteration:
                break
            if walk.below_floor(item):
                break
            await self._submission(item, walk, source_id, stats)
        warning = walk.gap_warning(target, self.config.listing_cap)
        if warning is not None:
            stats.warnings.append(warning)
        if target.comments:
            stats.status = "comments"
            await self.comment_trees(list(walk.trees), target, source_id, stats)
        return walk.mark() if target.sort == "new" else None

    def _known_until(self, target: SubredditTarget, source_id: str) -> datetime | None:
        """Stored posts up to this time have complete comment trees (None: no stored post
        does). A `new` listing's posts newer than the completed mark were stored by a walk
        that was cut short, so their trees are fetched again; other sorts trust every
        stored post (`datetime.max`), as they keep no mark."""
        if target.sort != "new":
            return datetime.max.replace(tzinfo=UTC)
        return self.marks.latest_for(source_id, "submission")

    async def _submission(
        self, item: Any, walk: _Walk, source_id: str, stats: SubredditStats
    ) -> None:
        """Emit one listing item; note whether its comment tree is needed."""
        record = submission_record(item, source_id)
        await self.emit(record)
        if isinstance(record, Rejected):
            return
        stats.submissions += 1
        created = getattr(item, "created_utc", None)
        walk.met(created)
        held = walk.held(record["id"], created)
        if held is None or self._may_have_new_comments(item, held, created):
            walk.trees[record["id"]] = None  # new, cut short, or young and grown

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
        self.trees_done.add(fullname)


@dataclass
class _Walk:
    """One walk of a listing: where it stops (`floor`), what it met, which trees it needs.

    `stored` maps stored posts to the comments held for each; `known_until` is the time up
    to which those counts describe complete trees (see `SubredditWorker._known_until`)."""

    floor: datetime | None
    started: datetime
    stored: dict[str, int]
    known_until: datetime | None
    trees: dict[str, None] = field(default_factory=dict)  # ordered set: pages may repeat
    seen: int = 0
    oldest: float | None = None
    newest: datetime | None = None
    reached_floor: bool = False

    def below_floor(self, item: Any) -> bool:
        """Count the item; True (the walk ends) when it is older than the floor."""
        created = getattr(item, "created_utc", None)
        if self.floor is not None and isinstance(created, int | float):
            if created < self.floor.timestamp():
                self.reached_floor = True
                return True
            self.oldest = created
        self.seen += 1
        return False

    def met(self, created: Any) -> None:
        """Note a valid post's time: the newest one becomes the walk's mark."""
        moment = _moment(created)
        if moment is not None and (self.newest is None or moment > self.newest):
            self.newest = moment

    def held(self, fullname: str, created: Any) -> int | None:
        """Comments held for a stored post whose tree is complete; None: fetch it."""
        held = self.stored.get(fullname)
        if held is None or self.known_until is None:
            return None
        moment = _moment(created)
        return held if moment is not None and moment <= self.known_until else None

    def mark(self) -> datetime | None:
        """The newest post time met, never later than the walk's start (a post dated in
        the future must not lift the floor above the posts still to come)."""
        return None if self.newest is None else min(self.newest, self.started)

    def gap_warning(self, target: SubredditTarget, listing_cap: int) -> str | None:
        """A warning when the listing ended (Reddit's cap, or `--limit`) above the floor:
        the posts between were not fetched."""
        if self.reached_floor or self.floor is None or self.oldest is None:
            return None
        gap = (self.oldest - self.floor.timestamp()) / 60
        if self.seen >= listing_cap:
            return (
                f"r/{target.name}: reached Reddit's listing cap ({self.seen} items) before "
                f"the last stored post; about {gap:,.0f} minutes of posts may be missing "
                "(only Reddit data dumps can fill that gap)"
            )
        if target.limit is not None and self.seen >= target.limit:
            return (
                f"r/{target.name}: stopped at --limit ({self.seen} posts) before the last "
                f"stored post; about {gap:,.0f} minutes of posts were not fetched and later "
                "runs start from the newest post (raise --limit or drop it to fetch them)"
            )
        return None


def _moment(created: Any) -> datetime | None:
    """A listing item's `created_utc` as an aware UTC datetime (None: not a time)."""
    if not isinstance(created, int | float) or isinstance(created, bool):
        return None
    try:
        return datetime.fromtimestamp(created, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def refresh_since(hours: float) -> datetime:
    """The moment `hours` before now (UTC): stored posts newer than it are refreshed."""
    return datetime.now(UTC) - timedelta(hours=hours)
