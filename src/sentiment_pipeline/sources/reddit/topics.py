"""Posts of topics from Reddit's search: one walk per topic down to its own mark.

A topic's walk reads `/r/a+b+c/search?restrict_sr=1` (its scope) or `/search` (no
scope) with `sort=new`, `q` its query in Reddit's syntax (`search.reddit_query`, never
narrower), 100 results a page, newest first, down to the topic's mark less the overlap
(a first run: to `--since`, else as deep as Reddit's search goes, about 1,000 results).
Reddit only brings candidates: a result is kept when the topic's own matcher matches its
title and text, and stored as an ordinary submission record of its subreddit. A kept
post not stored before, and not covered by this run's listings, gets its comment tree
(first sight). The walk's mark is the newest result time, by Reddit's clock, never later
than the walk's start; the job saves it (target `topic:<name>`, kind `search`) once
every record of the run is durable.

A topic whose query Reddit cannot narrow (`NOT x`) makes no search: a scoped one takes
its posts from the scope's listings (its subreddits are polled like targets), an
unscoped one is a configuration error. docs/topics.md, "Collection", is the user's
version.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sources.reddit.client import count_requests_into
from sentiment_pipeline.sources.reddit.payload import submission_record
from sentiment_pipeline.sources.reddit.raw import raw_json
from sentiment_pipeline.sources.reddit.report import TopicStats
from sentiment_pipeline.sources.reddit.search import reddit_query
from sentiment_pipeline.sources.reddit.settings import SubredditTarget
from sentiment_pipeline.sources.reddit.worker import SubredditWorker
from sentiment_pipeline.sources.topic import Topic

__all__ = [
    "CAP_SHARE",
    "SEARCH_KIND",
    "SEARCH_PAGE",
    "TopicSearch",
    "TopicWalk",
    "mark_target",
    "topic_searches",
]

SEARCH_KIND = "search"  # the `kind` of a topic's mark in `collection_marks`
SEARCH_PAGE = 100  # results per search request (Reddit's most)
# a first run without --since that read this share of the cap probably hit it
CAP_SHARE = 0.9


def mark_target(name: str) -> str:
    """A topic's target in `collection_marks` (`topic:tesla`), beside the subreddits."""
    return f"topic:{name}"


@dataclass(frozen=True)
class TopicSearch:
    """A topic and its query in Reddit's syntax (`q`; "" when Reddit cannot narrow it,
    then no search is made)."""

    topic: Topic
    q: str

    @property
    def path(self) -> str:
        """`r/a+b+c/search` for a scoped topic, `search` (all of Reddit) otherwise."""
        scope = self.topic.subreddits
        return "search" if scope is None else "r/" + "+".join(sorted(scope)) + "/search"

    @property
    def params(self) -> dict[str, str | int]:
        """The search's query string (`limit` and `after` are the listing's own)."""
        params: dict[str, str | int] = {"q": self.q, "sort": "new", "t": "all", "type": "link"}
        if self.topic.subreddits is not None:
            params["restrict_sr"] = 1
        return params


def topic_searches(topics: Sequence[Topic]) -> list[TopicSearch]:
    """Each topic with its Reddit query. Raises `ConfigError` for a topic without scope
    whose query Reddit's search cannot narrow (it would read all of Reddit)."""
    searches = []
    for topic in topics:
        q = reddit_query(topic.query)
        if not q and topic.subreddits is None:
            raise ConfigError(
                f"topic {topic.name}: Reddit's search cannot narrow the query {topic.text!r} "
                "(a query that is only NOTs matches almost everything)",
                f"add a scope (topics: {topic.name}: subreddits: [...]) whose listings "
                "bring its posts, or a positive term to the query",
            )
        searches.append(TopicSearch(topic, q))
    return searches


def _created(item: Any) -> float | None:
    created = getattr(item, "created_utc", None)
    if isinstance(created, int | float) and not isinstance(created, bool):
        return float(created)
    return None


def _field(item: Any, name: str) -> str:
    """A text field of a result, from the JSON Reddit sent ("" when absent)."""
    raw = raw_json(item)
    value = raw.get(name) if raw is not None else getattr(item, name, None)
    return value if isinstance(value, str) else ""


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class _Cursor:
    """One read of the search: results seen, the oldest and newest result times, and
    whether a result got below `floor` (Unix seconds; None: read to the end)."""

    floor: float | None
    seen: int = 0
    oldest: float | None = None
    newest: float | None = None
    reached: bool = False

    def passed(self, created: float | None) -> bool:
        """Count a result; True when it is older than the floor (the read ends)."""
        if created is not None and self.floor is not None and created < self.floor:
            self.reached = True
            return True
        self.seen += 1
        if created is not None:
            self.oldest = created if self.oldest is None else min(self.oldest, created)
            self.newest = created if self.newest is None else max(self.newest, created)
        return False


@dataclass
class TopicWalk:
    """One search walk of one topic (module docstring).

    `covered`: posts this run's listings stored with their comments taken care of (no
    tree needed); `targets`: the run's subreddit targets by source id, whose tree
    settings a kept post of theirs takes; `template`: the tree settings of other
    subreddits. `since` / `overlap`: as for the subreddits' walks; `cap`: Reddit's
    search depth (results), for the first run's warning."""

    worker: SubredditWorker
    search: TopicSearch
    stats: TopicStats
    marks: Marks
    since: datetime | None
    overlap: timedelta
    cap: int
    started: datetime
    covered: set[str] = field(default_factory=set)
    targets: Mapping[str, SubredditTarget] = field(default_factory=dict)
    template: SubredditTarget | None = None
    trees: dict[str, dict[str, None]] = field(default_factory=dict)  # source id -> posts

    @property
    def name(self) -> str:
        return self.search.topic.name

    @property
    def previous(self) -> datetime | None:
        """The topic's stored mark (None: its first run)."""
        return self.marks.latest_for(mark_target(self.name), SEARCH_KIND)

    def _floor(self) -> datetime | None:
        if self.since is not None:
            return self.since
        previous = self.previous
        return None if previous is None else previous - self.overlap

    async def run(self) -> datetime | None:
        """Search, store the kept posts, fetch the new ones' trees; returns the walk's
        mark (None: the search returned nothing). Raises what a request raises
        (`BudgetExhausted` at a `--max-*` bound)."""
        count_requests_into(self.stats)  # this task and the tree tasks it starts
        self.stats.status = "searching"
        floor = self._floor()
        cursor = _Cursor(None if floor is None else floor.timestamp())
        async for item in self._results(cursor):
            await self._result(item)
        self._check_cap(cursor)
        self.stats.status = "comments"
        await self._fetch_trees()
        if cursor.newest is None:
            return None
        mark = min(datetime.fromtimestamp(cursor.newest, UTC), self.started)
        self.stats.mark = mark
        return mark

    async def _results(self, cursor: _Cursor) -> AsyncIterator[Any]:
        """The search's results, newest first, down to the cursor's floor."""
        from asyncpraw.models import ListingGenerator

        listing = ListingGenerator(
            self.worker.reddit,
            self.search.path,
            limit=None,
            params=self.search.params,
            request_limit=SEARCH_PAGE,
        )
        while True:
            try:
                item = await self.worker.next_item(listing)
            except StopAsyncIteration:
                return
            if cursor.passed(_created(item)):
                return
            yield item

    async def _result(self, item: Any) -> None:
        """Keep a result the topic matches: store it; note its tree on first sight."""
        self.stats.found += 1
        topic = self.search.topic
        source_id = _field(item, "subreddit").lower()
        if not source_id or not topic.holds("reddit", source_id):
            return
        if not topic.matcher.matches(_field(item, "selftext"), title=_field(item, "title")):
            return
        record = submission_record(item, source_id)
        await self.worker.emit(record)
        if isinstance(record, Rejected):
            return
        self.stats.submissions += 1
        fullname = record["id"]
        if fullname in self.marks.recent.get(source_id, {}):
            return  # stored before: its comments come as for any stored post
        self.stats.new += 1
        if fullname not in self.covered:
            self.trees.setdefault(source_id, {})[fullname] = None

    def _check_cap(self, cursor: _Cursor) -> None:
        """Warn when the search ended before reaching the last run's mark (or `--since`),
        or, on a first run without either, when it read nearly the whole cap."""
        if cursor.reached or cursor.oldest is None:
            return
        oldest = datetime.fromtimestamp(cursor.oldest, UTC)
        bound, what = self.since, "--since"
        if bound is None:
            bound, what = self.previous, "the last run's mark"
        if bound is not None and oldest > bound:
            self._capped(f"before {what} ({_when(bound)}); posts between are missed")
        elif bound is None and cursor.seen >= CAP_SHARE * self.cap:
            self._capped(f"(its cap); posts before {_when(oldest)} are missed")

    def _capped(self, where: str) -> None:
        self.stats.capped = True
        self.stats.warnings.append(
            f"topic {self.name}: Reddit's search stopped at {self.stats.found:,} results "
            f"{where} (a dump can fill them, docs/topics.md)"
        )

    def _target(self, source_id: str) -> SubredditTarget:
        target = self.targets.get(source_id)
        if target is not None:
            return target
        if self.template is not None:
            return self.template.model_copy(update={"name": source_id})
        return SubredditTarget(name=source_id)

    async def _fetch_trees(self) -> None:
        """The first-sight posts' comment trees, subreddit by subreddit, with the tree
        settings of each (none for a subreddit scraped with `comments: false`)."""
        for source_id, fullnames in self.trees.items():
            target = self._target(source_id)
            if target.comments:
                await self.worker.comment_trees(list(fullnames), target, source_id, self.stats)
