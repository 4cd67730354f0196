"""`sentpipe refresh reddit` / `refresh hn` as a library: keep stored items current and
compliant. One stage for every source: what differs per source is its rules
(`SourceSpec.refresh`, read by `observe` and the store) and its request side (a
driver: `refresh.reddit`, `refresh.hackernews`).

One run takes the scrape's lock, picks the stored items of its source that are due on
the revisit schedule (`observe.checkpoint`), has the driver re-read them (Reddit:
`/api/info`, 100 fullnames per request; HN: the Firebase `item/{id}`, one per item),
each item once, appends one observation per stored row to `raw_event_revisions` (an
item stored under two times gets two), applies edits (the payload's text, and
`processed = false` so `sentiment score` scores them again), applies the
deleted-content policy (`redact`: blank payload, scores and topic links deleted, CSV day
files rewritten, kill-safe through `refresh.pending`), and finally has the driver fetch
the comments of posts that gained comments through the pipeline, like a scrape (Reddit
leaves out subreddits the scrape follows through the comment listing: those comments
arrive with the next scrape). The observation of such a post is recorded only once its
comments are stored (`_Visit.held`, `_Visit.release`): a run stopped or failed before
leaves it due, so the same command again fetches them. See
docs/refresh.md (and docs/hackernews.md for `refresh hn`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.pipeline import catch_up_async, catch_up_pending
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.refresh.observe import (
    STATES,
    Observation,
    observe,
    parse_schedule,
)
from sentiment_pipeline.refresh.pending import in_flight, unfinished
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sources import SourceSpec, source_spec
from sentiment_pipeline.timeparse import parse_duration

if TYPE_CHECKING:
    from sentiment_pipeline.pipeline import Job
    from sentiment_pipeline.refresh.store import DueItem, RefreshStore

__all__ = [
    "WRITE_EVERY",
    "HNRefreshResult",
    "RefreshOptions",
    "RefreshReport",
    "RefreshResult",
    "due_items",
    "refresh_hn",
    "refresh_hn_async",
    "refresh_reddit",
    "refresh_reddit_async",
]

WRITE_EVERY = 10  # answers (info requests, or batches of 100 HN items) per transaction


@dataclass(frozen=True)
class RefreshOptions:
    """One run's options. The schedule and the maximum age are settings
    (`refresh_schedule`, `refresh_max_age`: `--schedule`, `--max-age`, `SENTPIPE_REFRESH_*`).

    `source_ids`: only these stored subreddits (HN: kinds). `max_requests` /
    `max_duration` (seconds) stop the run cleanly. `purge_deleted_only`: apply the
    deleted-content policy to earlier findings, no requests. `now`: the moment the
    schedule is measured from and observations are dated (default: the database's
    clock); a benchmark replaying a simulated day sets it."""

    source_ids: tuple[str, ...] = ()
    max_requests: int | None = None
    max_duration: float | None = None
    dry_run: bool = False
    purge_deleted_only: bool = False
    wait_for_lock: bool = False
    now: datetime | None = None


@dataclass
class RefreshReport:
    """What a refresh did. `due`: stored rows due; `asked`: fullnames sent to /api/info
    (each once; an item stored under two times is one fullname, two rows); `states`:
    observations per state (one per stored row); `edits`: payloads updated; `grown`:
    posts that gained comments, whose comment trees this run fetches; `grown_left`: those
    of them whose trees were not stored (the run stopped first, or the tree failed): their
    observations are not recorded, so they stay due and the next run fetches the trees;
    `grown_followed`: posts that gained comments
    in subreddits the comment listing follows (no tree fetched: the scrape brings them);
    `redacted`: payloads blanked now (not those blank already); `scores_deleted`;
    `csv_rows_rewritten` / `csv_files_rewritten`: CSV rows (files) that still held
    content and were rewritten; `requests`: {total, token,
    info, comments}; `db_seconds`: time spent choosing and writing in the database."""

    policy: str = "redact"
    due: int = 0
    asked: int = 0
    states: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    edits: int = 0
    grown: int = 0
    grown_left: int = 0
    grown_followed: int = 0
    comment_trees: int = 0
    redacted: int = 0
    scores_deleted: int = 0
    csv_rows_rewritten: int = 0
    csv_files_rewritten: int = 0
    requests: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "token": 0, "info": 0, "comments": 0}
    )
    db_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["db_seconds"] = round(self.db_seconds, 3)
        return data


@dataclass
class RefreshResult(RunResult):
    """The pipeline's counts (new comments of grown posts) plus the `RefreshReport`
    under `extra` in `--json`."""

    source: ClassVar[str] = "reddit"  # whose targets the per-source-id metrics label
    site: ClassVar[str] = "Reddit"  # the API's name in messages
    read_route: ClassVar[str] = "info"  # the `requests` key of the re-reading requests
    shown_requests: ClassVar[tuple[str, ...]] = ("info", "token")  # in the summary line
    report: RefreshReport = field(default_factory=RefreshReport)

    @property
    def extra(self) -> dict[str, Any]:
        return self.report.to_dict()


@dataclass
class HNRefreshResult(RefreshResult):
    """`refresh hn`'s result: the same report, its `requests` being {total, item,
    thread} (Firebase `item/{id}` and Algolia `items/{id}` requests, each try counted)
    and `comment_trees` the threads fetched; `asked` counts items read."""

    source: ClassVar[str] = "hackernews"
    site: ClassVar[str] = "Hacker News"
    read_route: ClassVar[str] = "item"
    shown_requests: ClassVar[tuple[str, ...]] = ("item", "thread")
    report: RefreshReport = field(
        default_factory=lambda: RefreshReport(requests={"total": 0, "item": 0, "thread": 0})
    )


class Driver(Protocol):
    """The request side of one source's refresh: `name` (its stored `source`), `check`
    (before the lock, when requests will be made: credentials), `dry_requests` (the
    requests `n` due items would take, into the report), `fetch` (re-read the due items
    through `_read` and a `_Visit`, then fetch the late comments into the job)."""

    name: str

    def lock_path(self, settings: Settings) -> Path:
        """The run lock this source's jobs share (its scrape's)."""
        ...

    def check(self, settings: Settings) -> None: ...
    def dry_requests(self, report: RefreshReport, asked: int) -> None: ...
    async def fetch(
        self,
        settings: Settings,
        options: RefreshOptions,
        store: RefreshStore,
        due: list[DueItem],
        result: RefreshResult,
        job: Job,
        on_progress: Callable[[RefreshResult], None] | None,
        stop: Callable[[], bool] | None,
    ) -> None: ...


def due_items(
    store: RefreshStore, now: datetime, ages: Sequence[timedelta], source_ids: Sequence[str]
) -> list[DueItem]:
    """Stored items whose latest reached schedule age has no observation yet, oldest-due
    first (ties by id); the store picks them in SQL (`RefreshStore.due_items`)."""
    return store.due_items(now, ages, source_ids)


def _ages(settings: Settings, options: RefreshOptions) -> list[timedelta]:
    max_age = parse_duration(settings.refresh_max_age, "--max-age")
    return parse_schedule(settings.refresh_schedule, max_age)


def _redact(
    settings: Settings, store: Any, keys: Sequence[tuple[str, Any]], report: RefreshReport
) -> None:
    """Apply the deleted-content policy to every copy of these stored rows: blank the
    payloads (idempotent), delete their scores, and write the blanked payload into each
    row's CSV day file wherever the file still differs (also for a payload blanked by
    an earlier run whose CSV rewrite did not happen)."""
    from sentiment_pipeline.sinks.csv_sink import day_file, rewrite_payloads

    if not keys:
        return
    with in_flight(settings.journal_dir, keys):  # until every copy is blanked
        started = time.perf_counter()
        rows, deleted = store.redact(keys)
        report.db_seconds += time.perf_counter() - started
        report.redacted += sum(1 for row in rows if row.changed)
        report.scores_deleted += deleted
        by_file: dict[Any, dict[tuple[str, datetime], str]] = defaultdict(dict)
        for row in rows:
            path = day_file(settings.csv_path, row.source, row.source_id, row.occurred_at)
            by_file[path][(row.id, row.occurred_at)] = row.payload_json
        for path, payloads in by_file.items():
            rewritten = rewrite_payloads(path, payloads)
            report.csv_rows_rewritten += rewritten
            report.csv_files_rewritten += 1 if rewritten else 0


def _finish_redactions(settings: Settings, store: Any, report: RefreshReport) -> None:
    """Finish the redactions a killed run began (`refresh.pending`): every copy of
    their rows blanked, then their files removed."""
    with unfinished(settings.journal_dir) as left:
        for path, keys in left:
            _redact(settings, store, keys, report)
            path.unlink(missing_ok=True)


async def refresh_reddit_async(
    settings: Settings,
    options: RefreshOptions,
    *,
    on_progress: Callable[[RefreshResult], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> RefreshResult:
    """One Reddit refresh (`refresh_async` with `refresh.reddit.DRIVER`); returns counts
    and the report."""
    from sentiment_pipeline.refresh.reddit import DRIVER

    result = RefreshResult(dry_run=options.dry_run)
    await refresh_async(settings, options, DRIVER, result, on_progress=on_progress, stop=stop)
    return result


async def refresh_hn_async(
    settings: Settings,
    options: RefreshOptions,
    *,
    on_progress: Callable[[RefreshResult], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> HNRefreshResult:
    """One Hacker News refresh (`refresh_async` with `refresh.hackernews.DRIVER`): each
    due item re-read through the Firebase API's `item/{id}`, stories that gained
    comments re-read whole through Algolia's `items/{id}`. No credentials needed."""
    from sentiment_pipeline.refresh.hackernews import DRIVER

    result = HNRefreshResult(dry_run=options.dry_run)
    await refresh_async(settings, options, DRIVER, result, on_progress=on_progress, stop=stop)
    return result


async def refresh_async(
    settings: Settings,
    options: RefreshOptions,
    driver: Driver,
    result: RefreshResult,
    *,
    on_progress: Callable[[RefreshResult], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> None:
    """One refresh of `driver`'s source into `result` (see the module docstring).

    Before any request (and before reading), under the lock: the database
    (`settings.database`) and every database sink the late comments go to must be at the
    head revision (`db.migrate.ensure_schema`, `pipeline.prepare_databases`); the
    embedded SQLite default is migrated here, any other database is not (a dry run
    migrates nothing). `stop()` is asked after each answer (an info request; a batch of
    HN items): True ends the run cleanly (`stopped_early`, "interrupted"; a service's
    SIGTERM).

    Then, as every command that writes does, the spool is replayed and rows the CSV
    sink missed are written (`pipeline.catch_up_async`), so no copy is redacted while
    an older one waits to be written.

    Raises `ConfigError` (Reddit credentials missing or rejected, bad schedule, schema not
    migrated: "run `sentpipe db init`"), `LockHeld` (a scrape or refresh runs),
    `DatabaseUnreachable` (database down, or the source's API unreachable). Stopping at
    `--max-requests` / `--max-duration` is a clean stop (`stopped_early`), not an error."""
    from sentiment_pipeline.db.migrate import ensure_schema
    from sentiment_pipeline.lock import run_lock
    from sentiment_pipeline.pipeline import open_job
    from sentiment_pipeline.refresh.store import open_store

    ages = _ages(settings, options)
    policy = settings.deleted_content
    if options.purge_deleted_only and policy == "keep":
        raise ConfigError(
            "--purge-deleted-only has nothing to do with SENTPIPE_DELETED_CONTENT=keep",
            f"set SENTPIPE_DELETED_CONTENT=redact to remove content deleted on {result.site}",
        )
    fetching = not (options.purge_deleted_only or options.dry_run)
    if fetching:
        driver.check(settings)
    report = result.report
    report.policy = policy
    started = time.monotonic()
    with run_lock(
        driver.lock_path(settings),
        wait=options.wait_for_lock,
        command=f"sentpipe scrape or refresh ({result.site})",
    ):
        migrate = settings.embedded_database and not options.dry_run
        await asyncio.to_thread(ensure_schema, settings.database, migrate=migrate)
        # the sinks of the late comments: built and checked now, used at the end
        async with open_job(settings, dry_run=not fetching) as job:
            store = None
            try:
                if not options.dry_run and catch_up_pending(settings):  # spool, CSV first
                    result.absorb(await catch_up_async(settings))
                store = open_store(settings.database, source_spec(driver.name))
                if not options.dry_run:  # a killed run's redactions first
                    _finish_redactions(settings, store, report)
                if options.purge_deleted_only:
                    _redact(settings, store, store.flagged(options.source_ids), report)
                    return
                clock = time.perf_counter()
                now = options.now or store.now()
                due = due_items(store, now, ages, options.source_ids)
                report.db_seconds += time.perf_counter() - clock
                report.due = len(due)
                if options.dry_run:
                    driver.dry_requests(report, len(_per_fullname(due)))
                    return
                await driver.fetch(settings, options, store, due, result, job, on_progress, stop)
            finally:
                if store is not None:
                    store.close()
                result.duration = time.monotonic() - started


def _per_fullname(due: Sequence[DueItem]) -> dict[str, list[DueItem]]:
    """The due rows per fullname, in due order, each stored row `(id, occurred_at)` once.

    One Reddit item can be stored under two times (two sources disagreeing on its time):
    its fullname is asked once and each of its stored rows gets its own observation."""
    rows: dict[str, list[DueItem]] = {}
    seen: set[tuple[str, Any]] = set()
    for item in due:
        if (item.id, item.occurred_at) not in seen:
            seen.add((item.id, item.occurred_at))
            rows.setdefault(item.id, []).append(item)
    return rows


def _gained_comments(item: DueItem, seen: Observation, grows: frozenset[str]) -> bool:
    """A post (an event type in `grows`), still there, with more comments than stored
    or seen before."""
    return (
        item.event_type in grows
        and seen.num_comments is not None
        and seen.num_comments > (item.num_comments or 0)
        and seen.state in ("live", "edited")
    )


@dataclass
class _Visit:
    """The reading side of one refresh: the due rows per fullname, the observations
    waiting to be written (every `WRITE_EVERY` answers, and at the end), and the
    posts that gained comments (source_id -> fullnames, each once). `source`: whose
    rules observe (None: Reddit's); `route`: the `requests` key each answer counts one
    request in (None: the driver counts its requests itself).

    The observations of a post whose late comments this run fetches are `held`
    (fullname -> its rows' observations) until its tree is stored (`release`): an
    observation recorded earlier would end the post's visit with the higher count, so a
    run stopped before the tree (budget, signal, failure) would lose those comments for
    good. Held and never released, they are not written: the post stays due and the
    next run re-reads it, sees the growth again and fetches the tree."""

    settings: Settings
    store: RefreshStore
    result: RefreshResult
    rows: dict[str, list[DueItem]]
    followed: frozenset[str] = frozenset()  # subreddits the comment listing follows
    observed_at: datetime | None = None  # None: the database's clock
    pending: list[Observation] = field(default_factory=list)
    grown: dict[str, dict[str, None]] = field(default_factory=dict)
    held: dict[str, list[Observation]] = field(default_factory=dict)
    states: Counter[str] = field(default_factory=Counter)
    source: SourceSpec | None = None
    route: str | None = "info"

    def take(self, asked: Sequence[str], found: Mapping[str, Any]) -> None:
        """One answer: observe every stored row of every fullname asked."""
        from sentiment_pipeline.refresh.observe import rules_of

        report = self.result.report
        if self.route is not None:
            report.requests[self.route] += 1
        report.asked += len(asked)
        grows = rules_of(self.source).grows
        for name in asked:
            fresh = found.get(name)
            for item in self.rows.get(name, ()):
                seen = observe(item.id, item.occurred_at, item.text_hash, fresh, self.source)
                self.states[seen.state] += 1
                if not _gained_comments(item, seen, grows):
                    self.pending.append(seen)
                elif item.source_id in self.followed:  # the scrape brings the comments
                    report.grown_followed += 1
                    self.pending.append(seen)
                else:  # recorded once its comments are stored (`release`)
                    self.grown.setdefault(item.source_id, {})[item.id] = None
                    self.held.setdefault(item.id, []).append(seen)

    def release(self, names: Iterable[str]) -> None:
        """Record the held observations of these fullnames (their comment trees are
        stored, or will never come: a dead story) and write them now; the rest stay
        held, never written (`report.grown_left`: those posts stay due)."""
        for name in names:
            self.pending.extend(self.held.pop(name, ()))
        self.flush()

    def flush(self) -> None:
        """Write the pending observations and edits; redact what was found gone."""
        if not self.pending:
            return
        report = self.result.report
        clock = time.perf_counter()
        report.edits += self.store.record(self.pending, self.observed_at or self.store.now())
        edited = [(o.id, o.occurred_at) for o in self.pending if o.patch is not None]
        if edited and self.settings.topics:  # an edited text may mention other topics now
            from sentiment_pipeline.sources.topic import topics_from
            from sentiment_pipeline.topics.match import relink

            relink(self.settings.database, topics_from(self.settings.topics), edited)
        report.db_seconds += time.perf_counter() - clock
        gone = [(o.id, o.occurred_at) for o in self.pending if o.state in ("deleted", "removed")]
        if gone and self.settings.deleted_content == "redact":
            _redact(self.settings, self.store, gone, report)
        self.pending.clear()


async def _read(
    visit: _Visit,
    answers: AsyncGenerator[tuple[list[str], dict[str, Any]], None],
    on_progress: Callable[[RefreshResult], None] | None,
    stop: Callable[[], bool] | None,
    budget: tuple[type[Exception], ...],
) -> None:
    """Take the answers until done, stopped or out of budget (an exception of `budget`,
    the driver's clean stops); what was read is written (also when an error ends it)."""
    result = visit.result
    taken = 0
    try:
        async for asked, found in answers:
            visit.take(asked, found)
            taken += 1
            if taken % WRITE_EVERY == 0:
                visit.flush()
                if on_progress is not None:
                    on_progress(result)
            if stop is not None and stop():
                result.stopped_early, result.stop_reason = True, "interrupted"
                break
    except budget as spent:
        result.stopped_early, result.stop_reason = True, str(spent)
    finally:
        await answers.aclose()
        visit.flush()
        result.report.states.update(visit.states)


async def stopping(records: Any, result: RefreshResult, budget: tuple[type[Exception], ...]) -> Any:
    """Pass comment records on; a budget stop (an exception of `budget`, the driver's
    clean stops) ends them cleanly."""
    try:
        async for record in records:
            yield record
    except budget as spent:
        result.stopped_early, result.stop_reason = True, str(spent)


def refresh_reddit(
    settings: Settings,
    options: RefreshOptions,
    *,
    on_progress: Callable[[RefreshResult], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> RefreshResult:
    """Synchronous `refresh_reddit_async` (one event loop per run)."""
    return asyncio.run(refresh_reddit_async(settings, options, on_progress=on_progress, stop=stop))


def refresh_hn(
    settings: Settings,
    options: RefreshOptions,
    *,
    on_progress: Callable[[RefreshResult], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> HNRefreshResult:
    """Synchronous `refresh_hn_async` (one event loop per run)."""
    return asyncio.run(refresh_hn_async(settings, options, on_progress=on_progress, stop=stop))
