"""The Hacker News source: story lists and topic searches to event records.

A run walks its targets one after the other (docs/hackernews.md, "Collecting"):

- a **list** (`list:top`, …): the list's ids (one Firebase request), the first
  `limit` of them; with `--since`, the stories of that kind from Algolia's
  `search_by_date` instead, back to the moment;
- a **topic** (`topic:<name>`): Algolia's `search_by_date` over stories and comments with
  the topic's query (`search.topic_search`), newest first, down to the topic's mark (less
  an overlap), or to `--since`; a first run without either reads the newest 1,000 hits.

Stories already stored (`known`, one database query per page of ids, no request) and
stories read earlier in the run are skipped. Every other story, and the story of each
new hit, comes whole from Algolia's `items/{id}` (one request per thread, a few in
flight); a story Algolia lacks (dead, or not indexed yet) comes from the Firebase API,
its replies walked through `kids` up to `FIREBASE_WALK` items. So a run with nothing new
costs one request per target. A target's mark (the newest item time it saw) is handed
to the job only when its walk completed; a failure is one line in the report and the
next target goes on; the `--max-requests` / `--max-duration` bound stops the run
cleanly (`client.HNBudget`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.sources.hackernews.client import HNBudget, HNClient, HNError
from sentiment_pipeline.sources.hackernews.payload import (
    algolia_records,
    event_id,
    firebase_record,
)
from sentiment_pipeline.sources.hackernews.refresh import RULES
from sentiment_pipeline.sources.hackernews.search import HIT_CAP, AlgoliaSearch, topic_search
from sentiment_pipeline.sources.topic import Topic

__all__ = [
    "FIREBASE_WALK",
    "LIST_TAGS",
    "HNReport",
    "HNScrapeOptions",
    "HNTarget",
    "TargetStats",
    "hn_records",
    "list_target",
    "topic_target",
]

LOGGER = logging.getLogger(__name__)

Record = dict[str, Any] | Rejected
Known = Callable[[Sequence[str]], Awaitable[set[str]]]  # event ids -> those stored

FIREBASE_WALK = 500  # items read through Firebase for one story Algolia lacks
# Algolia's tag for a list's stories, for a --since backfill through search
LIST_TAGS = {
    "top": "story",
    "new": "story",
    "best": "story",
    "ask": "ask_hn",
    "show": "show_hn",
    "job": "job",
}
LIST_KIND = "list"  # collection_marks kind of a list's mark
SEARCH_KIND = "search"  # … of a topic's (the same as Reddit's topics)


@dataclass(frozen=True)
class HNTarget:
    """One thing a run collects: `name` (`list:top`, `topic:rust`, the mark's target),
    `kind` (the mark's kind), and the list or the topic with its search (None: the
    topic's query cannot be searched, `NOT x`)."""

    name: str
    kind: str
    list: str | None = None
    topic: Topic | None = None
    search: AlgoliaSearch | None = None


def list_target(name: str) -> HNTarget:
    """The target of story list `name` (one of `settings.LISTS`)."""
    return HNTarget(f"list:{name}", LIST_KIND, list=name)


def topic_target(topic: Topic) -> HNTarget:
    """The target of `topic`: its Algolia search (`search.topic_search`)."""
    return HNTarget(
        f"topic:{topic.name}", SEARCH_KIND, topic=topic, search=topic_search(topic.query)
    )


@dataclass(frozen=True)
class HNScrapeOptions:
    """One run's options: `since` (backfill to this moment through search), `limit`
    (stories per list), `overlap_seconds` (how far below a topic's mark the search
    starts again: Algolia indexes an item a little after it is posted), the bounds
    (`max_requests`, `max_duration` in seconds), `wait_for_lock`, `per_hour` (request
    pace; None: the setting `hn_requests_per_hour`, `SENTPIPE_HN_REQUESTS_PER_HOUR`) and
    `threads_in_flight` (concurrent `items/{id}` requests)."""

    since: datetime | None = None
    limit: int = 100
    overlap_seconds: int = 600
    max_requests: int | None = None
    max_duration: float | None = None
    wait_for_lock: bool = False
    per_hour: int | None = None
    threads_in_flight: int = 4


@dataclass
class TargetStats:
    """What one target's walk did: `status` (`done`, `failed: …`, `stopped`, `no
    search`), `stories` and `comments` read (other types count as stories), `hits`
    (search results), `known` (stories skipped: already stored or read this run),
    `threads` (`items/{id}` requests), `items` (Firebase item requests), `requests`,
    `capped` (a first run's search stopped at the 1,000-hit cap)."""

    status: str = "pending"
    stories: int = 0
    comments: int = 0
    hits: int = 0
    known: int = 0
    threads: int = 0
    items: int = 0
    requests: int = 0
    capped: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("warnings")
        return data


@dataclass
class HNReport:
    """A run's report: per-target stats (in target order), requests by route (`list`,
    `thread`, `item`, `search`, `total`), the marks of the completed walks (target ->
    newest item time) with their kinds, failures and an early stop."""

    targets: dict[str, TargetStats] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=lambda: {"total": 0})
    marks: dict[str, datetime] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    unreachable: int = 0  # targets that failed without an HTTP answer
    stopped_early: bool = False
    stop_reason: str | None = None

    @property
    def warnings(self) -> list[str]:
        return [f"{name}: {w}" for name, stats in self.targets.items() for w in stats.warnings]

    @property
    def errors(self) -> list[str]:
        return list(self.failures)

    def to_dict(self) -> dict[str, Any]:
        """`{"targets": {name: counters}, "requests": {route: n, "total": n}}`."""
        return {
            "targets": {name: stats.to_dict() for name, stats in self.targets.items()},
            "requests": dict(self.requests),
        }


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _time(record: Record) -> int | None:
    if isinstance(record, Rejected):
        return None
    value = record.get("occurred_at")
    return int(value) if isinstance(value, int | float) else None


class _Walk:
    """One run's walk over its targets (module docstring); `records()` yields."""

    def __init__(
        self,
        client: HNClient,
        options: HNScrapeOptions,
        report: HNReport,
        marks: dict[str, datetime],
        known: Known,
        on_progress: Callable[[HNReport], None] | None,
        redact: bool,
    ) -> None:
        self.client = client
        self.redact = redact
        self.options = options
        self.report = report
        self.marks = marks
        self.known = known
        self.on_progress = on_progress
        self.read: set[int] = set()  # story ids read this run
        self.kinds: dict[int, str] = {}  # story id -> its kind, of the stories read
        self.items: set[int] = set()  # item ids of the threads read this run

    async def records(self, targets: Sequence[HNTarget]) -> AsyncIterator[Record]:
        for target in targets:
            stats = self.report.targets.setdefault(target.name, TargetStats())
            before = self.client.total
            newest: list[int] = []
            try:
                async for record in self._target(target, stats, newest):
                    yield record
            except HNBudget as stop:
                stats.status = "stopped"
                self.report.stopped_early, self.report.stop_reason = True, str(stop)
                break
            except HNError as error:
                stats.status = f"failed: {error}"
                self.report.failures.append(f"{target.name}: {error}")
                self.report.unreachable += error.status is None
            else:
                stats.status = "done" if target.search or target.list else "no search"
                if newest:
                    mark = datetime.fromtimestamp(max(newest), UTC)
                    self.report.marks[target.name] = mark
                    self.report.kinds[target.name] = target.kind
            finally:
                stats.requests += self.client.total - before
                self._count_requests()

    def _count_requests(self) -> None:
        self.report.requests = {**self.client.requests, "total": self.client.total}
        if self.on_progress is not None:
            self.on_progress(self.report)

    def _floor(self, target: HNTarget) -> int | None:
        """The oldest creation time (epoch seconds) the target's search goes back to:
        `--since` (a backfill, or a later start: nothing older), else the mark less the
        overlap, else None (a first run: the newest page)."""
        if self.options.since is not None:
            return _epoch(self.options.since)
        mark = self.marks.get(target.name)
        if mark is not None:
            return _epoch(mark - timedelta(seconds=self.options.overlap_seconds))
        return None

    async def _target(
        self, target: HNTarget, stats: TargetStats, newest: list[int]
    ) -> AsyncIterator[Record]:
        if target.list is not None and self.options.since is None:
            ids = (await self.client.story_ids(target.list))[: self.options.limit]
            async for record in self._stories(ids, stats, newest):
                yield record
            return
        if target.list is not None:
            search = AlgoliaSearch(query="", tags=LIST_TAGS[target.list])
        elif target.search is not None:
            search = target.search
        else:
            stats.warnings.append("its query cannot be searched on HN (NOT only): no search")
            return
        async for hits in self._pages(search, self._floor(target), stats):
            newest.extend(int(h["created_at_i"]) for h in hits)
            async for record in self._hits(hits, stats):
                yield record

    async def _pages(
        self, search: AlgoliaSearch, floor: int | None, stats: TargetStats
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The search's hits down to `floor`, a page (at most `HIT_CAP`) at a time: each
        request reads the first page of a window whose upper end is the oldest hit of
        the one before (module `search` docstring)."""
        upper: int | None = None
        seen: set[str] = set()
        while True:
            bounds = [f"created_at_i>={floor}"] if floor is not None else []
            bounds += [f"created_at_i<={upper}"] if upper is not None else []
            page = await self.client.search_by_date(
                query=search.query,
                tags=search.tags,
                numeric=",".join(bounds),
                optional=search.optional,
                per_page=HIT_CAP,
            )
            got = [h for h in page.get("hits") or () if _usable(h)]
            fresh = [h for h in got if str(h["objectID"]) not in seen]
            seen.update(str(h["objectID"]) for h in fresh)
            stats.hits += len(fresh)
            if fresh:
                yield fresh
            if len(page.get("hits") or ()) < HIT_CAP and int(page.get("nbHits") or 0) <= HIT_CAP:
                return
            if floor is None:
                stats.capped = True
                stats.warnings.append(
                    f"first run: the newest {HIT_CAP:,} hits only (pass --since to go further back)"
                )
                return
            oldest = min(int(h["created_at_i"]) for h in got) if got else floor
            upper = oldest if fresh else oldest - 1  # a second with > 1,000 hits: move on
            if upper < floor:
                return

    async def _hits(self, hits: list[dict[str, Any]], stats: TargetStats) -> AsyncIterator[Record]:
        """The threads of the hits not stored yet (a story once per run); a hit its
        thread lacks (under a dead comment, or Algolia's thread is behind its search)
        from the Firebase API."""
        stored = await self.known([event_id(int(h["objectID"])) for h in hits])
        missing = {
            int(h["objectID"]): h for h in hits if event_id(int(h["objectID"])) not in stored
        }
        stories: dict[int, None] = {}
        for ident, hit in missing.items():
            story = hit.get("story_id")
            stories[int(story) if isinstance(story, int) else ident] = None
        stats.known += len(hits) - len(missing)
        fresh = [ident for ident in stories if ident not in self.read]
        async for record in self._threads(fresh, stats):
            yield record
        for ident, hit in missing.items():
            if ident in self.items:
                continue
            story = hit.get("story_id")
            item = await self.client.item(ident)
            stats.items += 1
            if item is not None:  # gone since it was indexed: nothing to store
                kind = self.kinds.get(story) if isinstance(story, int) else None
                record = firebase_record(item, kind)
                _count(record, stats)
                yield self._kept(record)

    async def _stories(
        self, ids: Sequence[int], stats: TargetStats, newest: list[int]
    ) -> AsyncIterator[Record]:
        """The threads of the stories `ids` that are neither stored nor read this run."""
        unread = [ident for ident in ids if ident not in self.read]
        stored = await self.known([event_id(ident) for ident in unread])
        fresh = [ident for ident in unread if event_id(ident) not in stored]
        stats.known += len(ids) - len(fresh)
        async for record in self._threads(fresh, stats):
            if isinstance(record, dict) and record["event_type"] != "comment":
                newest.append(int(record["occurred_at"]))
            yield record

    async def _threads(self, ids: Sequence[int], stats: TargetStats) -> AsyncIterator[Record]:
        """Each story whole (`items/{id}`, a few in flight; Firebase for those Algolia
        lacks), in the order of `ids`, each handed on as soon as it and the ones before
        it came: a stop keeps every thread read. A bound reached (`HNBudget`) is raised
        after the threads before it."""
        step = max(1, self.options.threads_in_flight)
        for start in range(0, len(ids), step):
            chunk = ids[start : start + step]
            tasks = [asyncio.ensure_future(self.client.thread(i)) for i in chunk]
            try:
                for ident, task in zip(chunk, tasks, strict=True):
                    tree = await task
                    stats.threads += 1
                    async for record in self._story(ident, tree, stats):
                        yield record
            finally:
                for task in tasks:  # a stop or a failure: the rest are not wanted
                    task.cancel()
                    task.add_done_callback(_quiet)
            self._count_requests()

    async def _story(
        self, ident: int, tree: dict[str, Any] | None, stats: TargetStats
    ) -> AsyncIterator[Record]:
        """The records of story `ident` from its thread (None: Algolia lacks it, so
        through the Firebase API), counted; each as it may be stored (`_kept`)."""
        self.read.add(ident)
        records = algolia_records(tree) if tree is not None else None
        if records is None:
            records = [r async for r in self._firebase(ident, stats)]
        if records and isinstance(records[0], dict):
            self.kinds[ident] = records[0]["source_id"]
        for record in records:
            if isinstance(record, dict):
                self.items.add(int(record["id"].removeprefix("hn_")))
            _count(record, stats)
            yield self._kept(record)

    def _kept(self, record: Record) -> Record:
        """`record` as it may be stored: with the redact policy, a deleted or dead item
        (HN's flags, `refresh.RULES.state_of`) has its content blanked at once, as
        `refresh hn` would blank it (docs/hackernews.md, "Refresh")."""
        if not self.redact or isinstance(record, Rejected):
            return record
        payload = record["payload"]
        if not isinstance(payload, dict) or RULES.state_of(payload) is None:
            return record
        return {**record, "payload": RULES.redact(payload)}

    async def _firebase(self, ident: int, stats: TargetStats) -> AsyncIterator[Record]:
        """Story `ident` and its replies through the Firebase API (breadth first, at
        most `FIREBASE_WALK` items)."""
        root = await self.client.item(ident)
        stats.items += 1
        record = firebase_record(root)
        yield record
        if not isinstance(record, dict) or root is None:
            return
        kind = record["source_id"]
        pending = list(_kids(root))
        read = 1
        while pending and read < FIREBASE_WALK:
            ident = pending.pop(0)
            item = await self.client.item(ident)
            stats.items += 1
            read += 1
            if item is None:  # gone since its parent listed it: nothing to store
                continue
            yield firebase_record(item, kind)
            pending.extend(_kids(item))
        if pending:
            stats.warnings.append(
                f"story {root.get('id')}: Algolia lacks it; {FIREBASE_WALK:,} items read "
                f"through the Firebase API, {len(pending):,} replies left"
            )


def _quiet(task: asyncio.Future[Any]) -> None:
    """Take a cancelled or failed task's outcome, so asyncio does not log it."""
    if not task.cancelled():
        task.exception()


def _kids(item: dict[str, Any]) -> Iterable[int]:
    kids = item.get("kids")
    return [k for k in kids if isinstance(k, int)] if isinstance(kids, list) else []


def _usable(hit: Any) -> bool:
    """A hit with an integer id and creation time (others are skipped)."""
    if not isinstance(hit, dict):
        return False
    try:
        int(hit["objectID"])
        int(hit["created_at_i"])
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _count(record: Record, stats: TargetStats) -> None:
    if isinstance(record, Rejected):
        return
    if record["event_type"] == "comment":
        stats.comments += 1
    else:
        stats.stories += 1


async def hn_records(
    client: HNClient,
    targets: Sequence[HNTarget],
    options: HNScrapeOptions,
    report: HNReport,
    marks: dict[str, datetime],
    known: Known,
    on_progress: Callable[[HNReport], None] | None = None,
    *,
    redact: bool = True,
) -> AsyncIterator[Record]:
    """The event records (and `Rejected` items) of one run over `targets` (module
    docstring), through `client`. `marks`: each target's stored mark (target name ->
    newest item time); `known(ids)`: which of these event ids are stored. Fills
    `report` as it goes (`on_progress(report)` after each page of threads); raises
    nothing for a target's failure (`report.failures`). `redact`: the deleted-content
    policy is `redact` (deleted and dead items are stored blanked)."""
    walk = _Walk(client, options, report, marks, known, on_progress, redact)
    async for record in walk.records(targets):
        yield record
