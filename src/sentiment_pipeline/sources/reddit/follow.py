"""Follow subreddits through Reddit's group listings: posts from `/r/a+b+c/new`, comments
from `/r/a+b+c/comments`, comment trees only where a listing cannot serve.

Both listings accept several subreddits and return the newest items of all of them, 100
per request, back to Reddit's ~1000-item depth. A group's walk reads each listing newest
first down to the lowest of its members' floors (their marks less an overlap), routes
each item to its member by the item's own `subreddit` field, and skips what lies below
that member's floor. A member's marks then move to the walk's start: everything up to
that moment is stored (the overlap catches items Reddit indexes late). So a quiet member
never drags its group's walk back to its last post, and a poll with nothing new costs one
request per listing.

Comment trees are fetched (with `comments_from="auto"`) for the posts of a first run or a
`--since` backfill, and to close a **gap**: when the comment listing ran out at its depth
above a member's floor, the trees of the member's posts that may hold the missed comments
(the posts this run met, its young stored posts, and every post the listing showed it
comments on). `comments_from="listing"` never fetches trees and reports the gap instead.

Members are checked once through their `about` when first seen (Reddit silently leaves a
banned or private member out of an `a+b` listing) and again when their listings stay empty
longer than their observed activity makes likely (`SILENCE_ODDS`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.sources.reddit.client import (
    BudgetExhausted,
    count_requests_into,
)
from sentiment_pipeline.sources.reddit.payload import comment_record, submission_record
from sentiment_pipeline.sources.reddit.plan import Activity, Group, plan_cadence, plan_groups
from sentiment_pipeline.sources.reddit.raw import raw_json
from sentiment_pipeline.sources.reddit.report import GroupStats, SubredditStats
from sentiment_pipeline.sources.reddit.settings import SubredditTarget
from sentiment_pipeline.sources.reddit.worker import Emit, SubredditWorker

__all__ = [
    "ACTIVITY_HOURS",
    "COMMENT_OVERLAP",
    "SILENCE_ODDS",
    "FollowPlan",
    "FollowState",
    "GroupWalk",
    "Member",
    "build_member",
    "followable",
    "form_groups",
    "group_path",
]

COMMENT_OVERLAP = timedelta(seconds=30)  # comment listing read below a comment mark
ACTIVITY_HOURS = 6.0  # stored activity (hours back) a run plans its groups from
# expected items in a member's silence above which its `about` is checked again:
# the chance of that silence by accident is below e^-7 (0.1%)
SILENCE_ODDS = 7.0
DEFAULT_INTERVAL = 300.0  # seconds between runs assumed when no mark tells
MIN_INTERVAL = 30.0  # seconds: no group is polled more often (unless --every asks)


def followable(target: SubredditTarget) -> bool:
    """A target the group listings can serve: the `new` sort, no `limit` (a group's
    listing is shared) and no `comment_depth` (listing comments carry no depth)."""
    return target.sort == "new" and target.limit is None and target.comment_depth is None


@dataclass
class Member:
    """One subreddit in a group's walk: its floors, what the walk met, what it needs.

    `post_floor` / `comment_floor`: skip items older (None: read to the listing's end, a
    first run). `follow_comments`: read the comment listing for it this run;
    `trees_for_posts`: fetch the comment trees of the posts this walk meets (a first run
    or a `--since` backfill with `comments_from="auto"`). `check`: read its `about`
    before the walk (first seen)."""

    target: SubredditTarget
    stats: SubredditStats
    post_floor: datetime | None
    comment_floor: datetime | None
    follow_comments: bool
    trees_for_posts: bool
    check: bool
    post_mark: datetime | None = None  # its previous marks: newer items are new
    comment_mark: datetime | None = None
    posts_met: dict[str, None] = field(default_factory=dict)  # ordered sets of fullnames
    commented: dict[str, None] = field(default_factory=dict)
    new_posts: int = 0  # items newer than its previous marks: the activity sample
    new_comments: int = 0
    failed: BaseException | None = None

    @property
    def source_id(self) -> str:
        return self.target.name.lower()

    @property
    def since(self) -> datetime | None:
        """The older of its previous marks (None: first seen)."""
        marks = [m for m in (self.post_mark, self.comment_mark) if m is not None]
        return min(marks) if marks else None


@dataclass
class FollowState:
    """What `--every` remembers between runs: observed activity per subreddit (items per
    hour), when each was last seen active and polled, and when each is due again (Unix
    seconds). `every` (seconds) caps every interval; `budget_per_hour` bounds the
    planned listing requests (`plan.plan_cadence`)."""

    every: float
    budget_per_hour: float
    activity: dict[str, Activity] = field(default_factory=dict)
    last_seen: dict[str, datetime] = field(default_factory=dict)
    last_poll: dict[str, float] = field(default_factory=dict)
    due_at: dict[str, float] = field(default_factory=dict)
    seeded: bool = False
    clock: Callable[[], float] = time.time  # Unix seconds; a replay passes its own

    def is_due(self, names: Sequence[str], now: float) -> bool:
        """A group is polled when any member is due (a small tolerance: the run loop
        wakes a little late rather than early)."""
        return any(self.due_at.get(name, 0.0) <= now + 1.0 for name in names)

    def next_in(self, now: float) -> float | None:
        """Seconds until the next member is due (None: nothing planned)."""
        if not self.due_at:
            return None
        return max(0.0, min(self.due_at.values()) - now)

    def observe(self, name: str, posts: int, comments: int, elapsed: float) -> None:
        """Blend one poll's sample (`posts` and `comments` new in `elapsed` seconds) into
        the member's rates (per hour), weighted by how much of an hour it covers."""
        if elapsed <= 0:
            return
        posts_rate, comments_rate = posts * 3600.0 / elapsed, comments * 3600.0 / elapsed
        old = self.activity.get(name)
        if old is None:
            self.activity[name] = Activity(name, posts_rate, comments_rate)
            return
        weight = min(1.0, elapsed / 3600.0)
        self.activity[name] = Activity(
            name,
            (1 - weight) * old.posts_per_hour + weight * posts_rate,
            (1 - weight) * old.comments_per_hour + weight * comments_rate,
        )


def stored_activity(marks: Marks, names: Sequence[str]) -> dict[str, Activity]:
    """Each subreddit's stored items per hour over the last `ACTIVITY_HOURS`."""
    found: dict[str, Activity] = {}
    for name in names:
        posts = marks.activity.get((name, "submission"))
        comments = marks.activity.get((name, "comment"))
        found[name] = Activity(
            name,
            (posts.count if posts else 0) / ACTIVITY_HOURS,
            (comments.count if comments else 0) / ACTIVITY_HOURS,
        )
    return found


def last_seen(marks: Marks, name: str) -> datetime | None:
    """The newest stored item of a subreddit within the activity window, or its last
    `about` check if later: a silence is measured from the later of the two."""
    times = [
        found.newest
        for kind in ("submission", "comment")
        if (found := marks.activity.get((name, kind))) is not None
    ]
    checked = marks.latest_for(name, "checked")
    if checked is not None and times:
        times.append(checked)
    return max(times) if times else None


def form_groups(
    members: Sequence[Member],
    activity: dict[str, Activity],
    interval: float,
    *,
    depth: int,
) -> list[list[Member]]:
    """The groups to poll: members on a first run or a backfill walk alone (their
    listings are read deep); the others are packed by `plan.plan_groups` from their
    activity, so that no group's expected items per `interval` seconds overrun `depth`."""
    alone = [[m] for m in members if m.post_floor is None or m.trees_for_posts]
    shared = {m.source_id: m for m in members if m.post_floor is not None and not m.trees_for_posts}
    comments = any(m.follow_comments for m in shared.values())
    rates = [activity.get(name) or Activity(name, 0.0, 0.0) for name in shared]
    groups = plan_groups(rates, interval, depth=depth, follow_comments=comments) if rates else []
    return alone + [[shared[name] for name in group.members] for group in groups]


def group_of(members: Sequence[Member], activity: dict[str, Activity]) -> Group:
    """The `plan.Group` of these members (their summed rates)."""
    names = tuple(sorted(m.source_id for m in members))
    rates = [activity.get(name) or Activity(name, 0.0, 0.0) for name in names]
    return Group(
        names,
        sum(r.posts_per_hour for r in rates),
        sum(r.comments_per_hour for r in rates),
    )


def plan_intervals(
    groups: Sequence[Sequence[Member]], state: FollowState, *, depth: int
) -> dict[str, float]:
    """Planned seconds until each group's next poll (by `a+b` path), from its activity
    within the request budget (`plan.plan_cadence`)."""
    planned = [group_of(g, state.activity) for g in groups]
    comments = any(m.follow_comments for g in groups for m in g)
    plans = plan_cadence(
        planned,
        every=state.every,
        budget_per_hour=state.budget_per_hour,
        depth=depth,
        min_interval=min(MIN_INTERVAL, state.every),
        follow_comments=comments,
    )
    return {group_path(g): p.interval for g, p in zip(groups, plans, strict=True)}


def _subreddit_of(item: Any) -> str | None:
    """The lower-case subreddit an item belongs to, from the JSON Reddit sent."""
    raw = raw_json(item)
    name = raw.get("subreddit") if raw is not None else getattr(item, "subreddit", None)
    return str(name).lower() if name is not None else None


def _created(item: Any) -> float | None:
    created = getattr(item, "created_utc", None)
    if isinstance(created, int | float) and not isinstance(created, bool):
        return float(created)
    return None


class GroupWalk:
    """One poll of one group: `about` checks, the posts listing, the comment listing,
    the trees a first run, a backfill or a gap needs, and the members' new marks."""

    def __init__(
        self,
        worker: SubredditWorker,
        members: Sequence[Member],
        stats: GroupStats,
        *,
        comments_from: str,
        marks: Marks,
        listing_cap: int,
        started: datetime,
    ) -> None:
        self.worker = worker
        self.members = {m.source_id: m for m in members}
        self.stats = stats
        self.comments_from = comments_from
        self.marks = marks
        self.listing_cap = listing_cap
        self.started = started
        self.emit: Emit = worker.emit
        self.checked: dict[str, datetime] = {}  # `about` read and found well

    async def run(self) -> tuple[dict[str, datetime], dict[str, datetime]]:
        """Walk the group; returns the post and comment marks of the members whose walks
        completed (`{source_id: time}`). Raises `BudgetExhausted` at a `--max-*` bound
        and what a listing raises (the whole group failed)."""
        await self._check(m for m in self.members.values() if m.check)
        live = [m for m in self.members.values() if m.failed is None]
        if not live:
            return {}, {}
        count_requests_into(self.stats)
        self.stats.status = "listing"
        post_head = self._head(await self._posts(live))
        following = [m for m in live if m.follow_comments]
        gaps: set[str] = set()
        comment_head = None
        if following:
            self.stats.status = "comments"
            gaps, read = await self._comments(following)
            comment_head = self._head(read.newest)
            if gaps and len(following) > 1:
                gaps = await self._own_listings(following, gaps, read.last)
        await self._trees(live, gaps)
        post_marks = {m.source_id: post_head for m in live if post_head is not None}
        comment_marks = {
            m.source_id: self.started if not m.follow_comments else comment_head
            for m in live
            if m.target.comments and (comment_head is not None or not m.follow_comments)
        }
        return post_marks, cast("dict[str, datetime]", comment_marks)

    def _head(self, newest: float | None) -> datetime | None:
        """A listing's new mark: the newest item it returned, by Reddit's own clock (ours
        may run ahead or behind), never later than the walk's start (an item dated in
        the future must not lift the floor above the items still to come)."""
        if newest is None:
            return None
        return min(datetime.fromtimestamp(newest, UTC), self.started)

    async def _check(self, members: Iterable[Member]) -> None:
        """Read each member's `about`: a banned, private or missing subreddit fails alone
        (Reddit leaves it out of group listings without a word)."""
        reddit = self.worker.reddit
        for member in members:
            count_requests_into(member.stats)
            name = member.target.name
            try:
                await self.worker.request(
                    lambda name=name: reddit.subreddit(name, fetch=True)  # type: ignore[misc]
                )
            except BudgetExhausted:
                raise
            except Exception as error:  # reported per subreddit by the caller
                member.failed = error
                member.stats.status = "failed"
            else:
                self.checked[member.source_id] = self.started

    async def check_silent(self, member: Member) -> None:
        """The `about` check of a member whose listings stayed empty too long."""
        await self._check([member])

    async def _listing(self, kind: str, members: Sequence[Member]) -> Any:
        path = "+".join(m.target.name for m in members)
        subreddit = await self.worker.reddit.subreddit(path)  # lazy: no request
        return subreddit.new(limit=None) if kind == "new" else subreddit.comments(limit=None)

    async def _read(self, listing: Any, cursor: _Pass) -> AsyncIterator[tuple[Any, float | None]]:
        """The listing's items with their times, newest first, until one is older than
        the cursor's stop or the listing ends; the cursor counts what it saw."""
        while True:
            try:
                item = await self.worker.next_item(listing)
            except StopAsyncIteration:
                return
            created = _created(item)
            if cursor.passed(created):
                return
            yield item, created

    def _route(self, item: Any) -> Member | None:
        """The member an item belongs to, by the item's own `subreddit` field."""
        member = self.members.get(_subreddit_of(item) or "")
        return member if member is not None and member.failed is None else None

    async def _posts(self, members: Sequence[Member]) -> float | None:
        """The `new` listing down to the lowest post floor; posts routed to members.
        Returns the newest post time it met (None: none)."""
        cursor = _Pass(_lowest(m.post_floor for m in members))
        async for item, created in self._read(await self._listing("new", members), cursor):
            member = self._route(item)
            if member is not None and not _below(created, member.post_floor):
                await self._post(item, member)
        for member in members:
            if cursor.ran_out_above(member.post_floor, self.listing_cap):
                member.stats.warnings.append(
                    f"r/{member.target.name}: reached Reddit's listing cap ({cursor.seen} "
                    f"items) before the last stored post; about "
                    f"{cursor.minutes_above(member.post_floor):,.0f} minutes of posts may be "
                    "missing (only Reddit data dumps can fill that gap)"
                )
        return cursor.newest

    async def _post(self, item: Any, member: Member) -> None:
        record = submission_record(item, member.source_id)
        await self.emit(record)
        if isinstance(record, Rejected):
            return
        member.stats.submissions += 1
        self.stats.posts += 1
        member.posts_met[record["id"]] = None
        if _is_new(_created(item), member.post_mark):
            member.new_posts += 1

    async def _comments(
        self, members: Sequence[Member], upto: float | None = None
    ) -> tuple[set[str], _Pass]:
        """The comment listing down to the lowest comment floor (items newer than `upto`
        are passed over: stored already). Returns the members whose floor lies below
        where the listing ran out at its depth (a gap), and what the read saw."""
        cursor = _Pass(_lowest(m.comment_floor for m in members))
        async for item, created in self._read(await self._listing("comments", members), cursor):
            if upto is None or created is None or created <= upto:
                await self._comment(item, created)
        gaps = {
            m.source_id for m in members if cursor.ran_out_above(m.comment_floor, self.listing_cap)
        }
        return gaps, cursor

    async def _own_listings(
        self, following: Sequence[Member], gaps: set[str], cut: float | None
    ) -> set[str]:
        """A group's comment listing ran out (at `cut`, its oldest item) above some
        members' floors: read each such member's own listing (a depth of its own),
        passing over what the group's listing brought already; returns the members
        whose gap remains."""
        left: set[str] = set()
        for member in following:
            if member.source_id not in gaps:
                continue
            still, _ = await self._comments([member], upto=cut)
            if still:
                left.add(member.source_id)
            else:
                self.stats.gaps[member.source_id] = "closed by its own comment listing"
        return left

    async def _comment(self, item: Any, created: float | None) -> None:
        member = self._route(item)
        if member is None or not member.follow_comments or _below(created, member.comment_floor):
            return
        record = comment_record(item, member.source_id)
        await self.emit(record)
        if isinstance(record, Rejected):
            return
        member.stats.comments += 1
        self.stats.comments += 1
        link = record["payload"].get("link_id")
        if isinstance(link, str) and link.startswith("t3_"):
            member.commented[link] = None
        if _is_new(created, member.comment_mark):
            member.new_comments += 1

    async def _trees(self, members: Sequence[Member], gaps: set[str]) -> None:
        """Comment trees where the listings cannot serve: a first run's or backfill's
        posts, and the posts that may hold a gap's missed comments."""
        for member in members:
            gap = member.source_id in gaps
            if gap and self.comments_from == "listing":
                self._gap_left(member)
                continue
            wanted = dict(member.posts_met) if member.trees_for_posts else {}
            if gap:
                wanted.update(member.posts_met)
                wanted.update(dict.fromkeys(self.marks.recent.get(member.source_id, {})))
                wanted.update(member.commented)
            if not wanted:
                continue
            member.stats.status = "comments"
            await self._member_trees(member, list(wanted))
            if gap:
                self._gap_closed(member, len(wanted))

    async def _member_trees(self, member: Member, fullnames: list[str]) -> None:
        async def fetch() -> None:
            count_requests_into(member.stats)  # this task only
            await self.worker.comment_trees(
                fullnames, member.target, member.source_id, member.stats
            )

        await asyncio.create_task(fetch())

    def _gap_minutes(self, member: Member) -> str:
        """How long the gap may be, for a warning: "12 minutes", "1 minute"."""
        floor = member.comment_floor
        minutes = 0.0 if floor is None else (self.started - floor).total_seconds() / 60
        return f"{minutes:,.0f} minute" + ("" if round(minutes) == 1 else "s")

    def _gap_left(self, member: Member) -> None:
        text = (
            f"r/{member.target.name}: the comment listing reached Reddit's "
            f"{self.listing_cap}-item depth before the last stored comment; comments of "
            f"up to {self._gap_minutes(member)} may be missing "
            "(--comments-from listing fetches no trees; auto closes such gaps)"
        )
        member.stats.warnings.append(text)
        self.stats.gaps[member.source_id] = "left open (--comments-from listing)"

    def _gap_closed(self, member: Member, trees: int) -> None:
        text = (
            f"r/{member.target.name}: the comment listing reached Reddit's "
            f"{self.listing_cap}-item depth before the last stored comment (a gap of up to "
            f"{self._gap_minutes(member)}); closed by fetching {trees:,} "
            "comment trees"
        )
        member.stats.warnings.append(text)
        self.stats.gaps[member.source_id] = f"closed by {trees} comment trees"


@dataclass
class _Pass:
    """One read of a listing down to `stop` (Unix seconds; None: to the listing's end):
    how many items it saw, the last and the newest item times, whether it got below."""

    stop: float | None
    seen: int = 0
    last: float | None = None
    newest: float | None = None
    reached: bool = False

    def passed(self, created: float | None) -> bool:
        """Count an item; True when it is older than the stop (the read ends there)."""
        self.seen += 1
        if created is None:
            return False
        self.last = created
        self.newest = created if self.newest is None else max(self.newest, created)
        self.reached = self.stop is not None and created < self.stop
        return self.reached

    def ran_out_above(self, floor: datetime | None, depth: int) -> bool:
        """The listing ended at its depth before getting below `floor`: items between
        may be missing (a gap)."""
        if self.reached or self.stop is None or floor is None or self.last is None:
            return False
        return self.seen >= depth and floor.timestamp() < self.last

    def minutes_above(self, floor: datetime | None) -> float:
        return 0.0 if floor is None or self.last is None else (self.last - floor.timestamp()) / 60


def _lowest(floors: Iterable[datetime | None]) -> float | None:
    """Where a group's read stops: its lowest floor (None: a member reads to the end)."""
    values = list(floors)
    if not values or any(f is None for f in values):
        return None
    return min(f.timestamp() for f in values if f is not None)


def _below(created: float | None, floor: datetime | None) -> bool:
    """An item older than its member's floor: stored already, skipped."""
    return floor is not None and created is not None and created < floor.timestamp()


def _is_new(created: float | None, since: datetime | None) -> bool:
    """Newer than the member's previous marks (an activity sample counts only these)."""
    return since is None or created is None or created > since.timestamp()


def build_member(
    target: SubredditTarget,
    stats: SubredditStats,
    marks: Marks,
    *,
    since: datetime | None,
    overlap: timedelta,
    comments_from: str,
) -> Member:
    """A followed subreddit's floors and needs from its stored marks.

    Posts: from `since`, else its post mark less `overlap`, else (first run) to the
    listing's end. Comments (`comments_from="auto"`): from its comment mark less
    `COMMENT_OVERLAP`, or for a subreddit followed by trees until now from its post mark
    less `overlap`; a first run or a `since` backfill fetches the trees of the posts it
    meets instead. `"listing"`: never trees; a first run reads the comment listing to its
    end. A subreddit with no mark at all is first seen: its `about` is checked."""
    name = target.name.lower()
    post_mark = marks.latest_for(name, "submission")
    comment_mark = marks.latest_for(name, "comment")
    post_floor = since if since is not None else (post_mark - overlap if post_mark else None)
    if comment_mark is not None:
        comment_floor: datetime | None = comment_mark - COMMENT_OVERLAP
    else:
        comment_floor = post_mark - overlap if post_mark is not None else since
    first = post_mark is None and comment_mark is None
    auto = comments_from == "auto"
    trees = target.comments and auto and (since is not None or first)
    follow = target.comments and not (auto and first)
    return Member(
        target,
        stats,
        post_floor,
        comment_floor,
        follow_comments=follow,
        trees_for_posts=trees,
        check=first,
        post_mark=post_mark,
        comment_mark=comment_mark,
    )


def silent_too_long(activity: Activity | None, seen: datetime | None, now: datetime) -> bool:
    """True when a member's listings have been empty so long that, at its observed rate,
    the silence has less than a 0.1% chance (`SILENCE_ODDS` expected items)."""
    if activity is None or seen is None:
        return False
    rate = activity.posts_per_hour + activity.comments_per_hour
    hours = max(0.0, (now - seen).total_seconds() / 3600)
    return rate * hours > SILENCE_ODDS


def interval_since(marks: Marks, names: Sequence[str], now: datetime) -> float:
    """Seconds since the members were last followed (their oldest comment or post mark):
    the interval a run without `--every` plans its groups for."""
    times = [
        mark
        for name in names
        for kind in ("comment", "submission")
        if (mark := marks.latest_for(name, kind)) is not None
    ]
    if not times:
        return DEFAULT_INTERVAL
    return max(60.0, math.ceil((now - min(times)).total_seconds()))


def utc_now() -> datetime:
    """Now, UTC (one place, so a walk's start is taken the same way everywhere)."""
    return datetime.now(UTC)


class FollowPlan:
    """One run's groups: formed from activity (stored, or remembered by `--every`'s
    `FollowState`), with their planned intervals; with a state, only the groups due now."""

    def __init__(
        self,
        members: Sequence[Member],
        marks: Marks,
        state: FollowState | None,
        *,
        listing_cap: int,
        started: datetime,
    ) -> None:
        self.marks = marks
        self.state = state
        self.cap = listing_cap
        self.started = started
        names = [m.source_id for m in members]
        stored = stored_activity(marks, names)
        if state is None:
            self.activity = stored
            interval = interval_since(marks, names, started)
        else:
            for name in names:
                if any((name, kind) in marks.activity for kind in ("submission", "comment")):
                    state.activity.setdefault(name, stored[name])  # else: its first sample
                seen = last_seen(marks, name)
                if seen is not None:
                    state.last_seen.setdefault(name, seen)
            self.activity = state.activity
            interval = state.every
        self.groups = form_groups(members, self.activity, interval, depth=listing_cap)
        self.intervals: dict[str, float] = {}
        if state is not None and self.groups:
            self.intervals = plan_intervals(self.groups, state, depth=listing_cap)

    def due(self) -> list[tuple[list[Member], GroupStats]]:
        """The groups to poll now, each with its (live) counters; members of groups not
        due are marked `idle`."""
        now = self.started.timestamp()
        chosen: list[tuple[list[Member], GroupStats]] = []
        for group in self.groups:
            path = group_path(group)
            names = [m.source_id for m in group]
            interval = self.intervals.get(path)
            if self.state is not None and interval is not None:
                for name in names:
                    polled = self.state.last_poll.get(name)
                    self.state.due_at[name] = 0.0 if polled is None else polled + interval
                if not self.state.is_due(names, now):
                    for member in group:
                        member.stats.status = "idle"
                    continue
            rates = group_of(group, self.activity)
            stats = GroupStats(
                members=names,
                posts_per_hour=round(rates.posts_per_hour, 3),
                comments_per_hour=round(rates.comments_per_hour, 3),
                interval=None if interval is None else round(interval, 1),
            )
            if self.state is not None and interval is not None:
                self._stretched(group, interval, self.state.every)
            chosen.append((list(group), stats))
        return chosen

    @staticmethod
    def _stretched(group: Sequence[Member], interval: float, every: float) -> None:
        """Warn when the budget stretched a group's interval beyond `--every`."""
        if interval <= every + 0.5:
            return
        for member in group:
            member.stats.warnings.append(
                f"r/{member.target.name}: polled every {interval:,.0f} s, longer than "
                f"--every ({every:,.0f} s): --max-requests-per-hour is too small for the "
                "activity of its group; raise it, or expect gaps closed by trees"
            )

    def polled(self, members: Sequence[Member]) -> None:
        """After a group's walk: plan the members' next polls, and blend the sample of
        each member whose walk completed into the remembered rates. A failed member is
        due again after the same interval, not at once (its failure is reported each
        time it is tried)."""
        state = self.state
        if state is None:
            return
        now = self.started.timestamp()
        interval = self.intervals.get(group_path(members), state.every)
        for member in members:
            name = member.source_id
            polled = state.last_poll.get(name)
            state.last_poll[name] = now
            state.due_at[name] = now + interval
            if member.failed is not None:
                continue
            if polled is not None:
                state.observe(name, member.new_posts, member.new_comments, now - polled)
            elif member.since is not None:
                elapsed = (self.started - member.since).total_seconds()
                state.observe(name, member.new_posts, member.new_comments, elapsed)
            if member.new_posts or member.new_comments:
                state.last_seen[name] = self.started

    def silent(self, members: Sequence[Member]) -> list[Member]:
        """Members whose listings stayed empty longer than their activity makes likely
        (their `about` is checked again)."""
        found = []
        for member in members:
            if member.new_posts or member.new_comments or member.failed is not None:
                continue
            name = member.source_id
            seen = self.state.last_seen.get(name) if self.state else last_seen(self.marks, name)
            if silent_too_long(self.activity.get(name), seen, self.started):
                found.append(member)
                if self.state is not None:
                    self.state.last_seen[name] = self.started  # checked: restart the clock
        return found


def group_path(members: Sequence[Member]) -> str:
    """A group's key: its members' source ids joined by `+` (`python+rust`), as in
    `ScrapeReport.groups`, the metrics' `group` label and the planned intervals."""
    return "+".join(m.source_id for m in members)
