"""`sentpipe scrape reddit` as a library: Reddit posts and comments into the pipeline.

The scrape job sits above its source: it resolves the targets, takes the run lock, opens
its job (`pipeline.open_job`: the sinks, their databases checked, the embedded default
migrated), reads the high-water marks when a database sink leads,
and feeds `sources.reddit.reddit_records` into the pipeline (`Job.run`). Once every
record of the run is durable, it saves the marks of the walks that completed
(`db.queries.save_marks`): a walk cut short (a kill, a stop, a failure, a sink behind)
leaves its target's mark where it was, so the same command run again walks that part
again. The source's `ScrapeReport` rides on the returned `ScrapeResult`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError, SentpipeError
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.scrape.job import Durable, reported
from sentiment_pipeline.settings import Settings, SubredditTarget
from sentiment_pipeline.sources.reddit import RedditScrapeOptions, ScrapeReport, reddit_records
from sentiment_pipeline.sources.reddit.payload import SOURCE
from sentiment_pipeline.sources.reddit.topics import SEARCH_KIND, mark_target
from sentiment_pipeline.sources.reddit.worker import refresh_since
from sentiment_pipeline.sources.topic import Topic, TopicSettings, parse_topic_flag, topics_from

__all__ = [
    "RedditScrapeOptions",
    "ScrapeReport",
    "ScrapeResult",
    "TargetOverrides",
    "resolve_targets",
    "scrape_reddit",
    "scrape_reddit_async",
    "tree_template",
    "with_topic_flags",
]

LOGGER = logging.getLogger(__name__)


@dataclass
class ScrapeResult(RunResult):
    """The pipeline's `RunResult` of a scrape plus the source's `ScrapeReport`.

    The report's failures are in `errors` (`r/<name>: <reason>`), its warnings in
    `warnings` and its early stop in `stopped_early`/`stop_reason`; `to_dict()` puts
    `report.to_dict()` under `extra` (`extra.subreddits`, `extra.requests`).
    """

    source: ClassVar[str] = SOURCE  # whose targets the per-source-id metrics label
    report: ScrapeReport = field(default_factory=ScrapeReport)
    next_in: float | None = None  # --every: seconds until the next group is due

    @property
    def extra(self) -> dict[str, Any]:
        """`{"subreddits": {name: counters}, "requests": {total, token, max_requests},
        "groups": …, "topics": {name: counters}}` (`ScrapeReport.to_dict`)."""
        return self.report.to_dict()


@dataclass(frozen=True)
class TargetOverrides:
    """Command-line options that override every target's YAML settings for one run."""

    sort: str | None = None
    time_filter: str | None = None
    limit: int | None = None
    comments: bool | None = None
    more_comments: int | None = None
    comment_depth: int | None = None


def with_topic_flags(settings: Settings, flags: Sequence[str]) -> Settings:
    """`settings` with each `--topic NAME=QUERY` added (without scope), so the sinks
    link what the scrape collects to it. Raises `ConfigError` (exit 2) for a flag
    without `=`, a bad name, a malformed query (the reason names the position), or the
    name of a configured topic with another query or scope (links are kept by name: two
    definitions under one name would mix)."""
    if not flags:
        return settings
    topics: dict[str, TopicSettings] = dict(settings.topics)
    for flag in flags:
        name, entry = parse_topic_flag(flag)
        configured = topics.get(name)
        if configured is not None and _definition(configured) != _definition(entry, name):
            raise ConfigError(
                f"--topic {name}: a topic {name} is configured with another query or scope",
                "its stored links are that topic's: give this one another name, or change "
                "the configured one (then run `sentpipe topics match`)",
            )
        topics[name] = entry
    topics_from(topics)  # the queries checked before any request
    return settings.model_copy(update={"topics": topics})


def _definition(entry: TopicSettings, name: str = "topic") -> str:
    """The canonical query and scope of one topic (`Topic.definition`)."""
    return topics_from({name: entry})[0].definition


def resolve_targets(
    configured: Sequence[SubredditTarget],
    names: Sequence[str],
    overrides: TargetOverrides,
    *,
    topics: Sequence[Topic] = (),
    topics_only: bool = False,
) -> list[SubredditTarget]:
    """The subreddits to scrape, each once (case-insensitive), in the order given.

    `names` (repeatable, each may be comma-separated) pick targets, taking a configured
    target's settings when the name is in `configured` (the YAML list); without names,
    every configured target (none with `topics_only`). The `topics`' scope subreddits
    follow (their posts and comments come from their listings), configured ones with
    their settings. `overrides` then replace fields of every target. Raises
    `ConfigError` for an invalid name or value, for `names` with `topics_only`, and
    when neither a target nor a topic remains.
    """
    chosen = _target_names(configured, names, topics, topics_only=topics_only)
    by_name = {target.name.lower(): target for target in configured}
    try:
        targets = [_target(by_name, name) for name in chosen]
        changes = _changes(overrides)
        targets = [SubredditTarget.model_validate({**t.model_dump(), **changes}) for t in targets]
    except ValueError as error:
        first = str(error).splitlines()
        raise ConfigError(
            f"invalid scrape target: {first[-1].strip() if first else error}",
            "check --subreddit and the options given with it",
        ) from error
    if not targets and not topics:
        if topics_only:
            raise ConfigError(
                "--topics-only, but no topic is configured",
                "pass --topic NAME=QUERY, or list topics under `topics:` in the YAML config",
            )
        raise ConfigError(
            "no subreddits to scrape",
            "pass --subreddit NAME or --topic NAME=QUERY, or list subreddits or topics "
            "in the YAML config",
        )
    unique: dict[str, SubredditTarget] = {}
    for target in targets:
        unique.setdefault(target.name.lower(), target)
    return list(unique.values())


def _target_names(
    configured: Sequence[SubredditTarget],
    names: Sequence[str],
    topics: Sequence[Topic],
    *,
    topics_only: bool,
) -> list[str]:
    """The names `resolve_targets` picks (with repeats), then the topics' scopes."""
    wanted = [part.strip() for name in names for part in name.split(",") if part.strip()]
    if wanted and topics_only:
        raise ConfigError(
            "--subreddit and --topics-only conflict",
            "drop --topics-only to scrape those subreddits too, or put them in a topic's scope",
        )
    scopes = sorted({name for topic in topics for name in topic.subreddits or ()})
    chosen = wanted or ([] if topics_only else [t.name for t in configured])
    return [*chosen, *scopes]


def _target(by_name: dict[str, SubredditTarget], name: str) -> SubredditTarget:
    """The configured target of that name, else one with the default settings."""
    return by_name.get(SubredditTarget(name=name).name.lower()) or SubredditTarget(name=name)


def _changes(overrides: TargetOverrides) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(overrides).items() if v is not None}


def tree_template(overrides: TargetOverrides) -> SubredditTarget:
    """The tree settings of a topic's post from a subreddit that is not a target: the
    defaults with the command's overrides (`--no-comments`, `--more-comments`, …)."""
    return SubredditTarget.model_validate({"name": "all", **_changes(overrides)})


def _recent_floor(options: RedditScrapeOptions) -> Callable[[Marks], datetime]:
    """Stored submissions we may meet again: young ones (comment refresh), the overlap
    below each submission mark and each topic's search mark, and a --since backfill.
    Known ones keep their trees."""
    overlap = timedelta(seconds=options.overlap_seconds)
    kinds = ("submission", SEARCH_KIND)

    def floor(marks: Marks) -> datetime:
        floors = [refresh_since(options.refresh_hours)]
        floors += [m - overlap for (_, kind), m in marks.latest.items() if kind in kinds]
        floors += [options.since] if options.since is not None else []
        return min(floors)

    return floor


def _activity_since(options: RedditScrapeOptions) -> datetime | None:
    """Where the stored activity the group listings are planned from starts (None: the
    tree strategy plans nothing; `--every` reads it on its first run only)."""
    from sentiment_pipeline.sources.reddit.follow import ACTIVITY_HOURS

    if options.comments_from == "trees":
        return None
    if options.follow is not None and options.follow.seeded:
        return None
    if options.follow is not None:
        options.follow.seeded = True
    return datetime.now(UTC) - timedelta(hours=ACTIVITY_HOURS)


def _save_marks(databases: Sequence[DatabaseURL], result: ScrapeResult, durable: int) -> None:
    """Save the marks of the walks that completed (`result.report.marks`, the comment
    listings' `comment_marks`, the topics' `topic_marks`) in every database, only when
    each record of the run is stored by every sink (`durable` reached `result.valid`)
    and none waits in the spool; the `about` checks (`checked`, which hold no data)
    always. A database that cannot take them now keeps its old marks (a warning in the
    log, not a failure): the next run walks again."""
    from sentiment_pipeline.db.queries import save_marks
    from sentiment_pipeline.sources.reddit.spec import MARKS

    report = result.report
    durable_run = not result.spooled and durable >= result.valid
    marks = report.marks if durable_run else {}
    comment_marks = report.comment_marks if durable_run else {}
    searches = report.topic_marks if durable_run else {}
    searches = {mark_target(name): mark for name, mark in searches.items()}
    if not (marks or comment_marks or searches or report.checked):
        return
    for url in databases:
        try:
            save_marks(url, MARKS, marks)
            save_marks(url, MARKS, comment_marks, kind="comment")
            save_marks(url, MARKS, searches, kind=SEARCH_KIND)
            save_marks(url, MARKS, report.checked, kind="checked")  # holds no data
        except SentpipeError as error:
            LOGGER.warning("high-water marks not saved in %s: %s", url.masked, error)


async def scrape_reddit_async(
    settings: Settings,
    targets: Sequence[SubredditTarget],
    options: RedditScrapeOptions,
    *,
    dry_run: bool = False,
    on_progress: Callable[[ScrapeResult], None] | None = None,
) -> ScrapeResult:
    """One scrape of `targets` (see `resolve_targets`) into the sinks.

    Takes the run lock, builds the sinks `settings.sinks` names,
    checks their databases before any request (`pipeline.prepare_databases`: reachable,
    at head; the embedded default is migrated), reads the high-water marks in one call
    when a database sink leads (an incremental run), and runs the Reddit source through
    the pipeline. `dry_run` fetches and validates but writes nothing (and checks nothing:
    the marks of a missing or unmigrated database are empty). `on_progress(result)` is
    called after each batch and each finished subreddit, with the live result (its
    `report` included). After the run, the marks of the subreddits whose walks completed
    are saved, once every record is durable (never by a dry run).

    The topics of `settings.topics` are searched too (their scope subreddits are polled
    only when `targets` holds them: `resolve_targets` adds them); their marks are saved
    like the subreddits'. Per-subreddit and per-topic failures end up in
    `result.errors` (exit code 1), not raised. Raises `ConfigError` (credentials
    missing or rejected, unknown sink, database not migrated, a topic without scope
    whose query Reddit's search cannot narrow),
    `LockHeld` (another scrape runs), `DatabaseUnreachable` (database down before the
    run, or Reddit unreachable for every subreddit).
    """
    from sentiment_pipeline.db.queries import read_marks
    from sentiment_pipeline.lock import run_lock
    from sentiment_pipeline.pipeline import open_job
    from sentiment_pipeline.sources.reddit.client import check_credentials
    from sentiment_pipeline.sources.reddit.spec import MARKS
    from sentiment_pipeline.sources.reddit.topics import topic_searches

    check_credentials(settings)
    topic_searches(topics_from(settings.topics))  # a topic Reddit cannot search: fail now
    result = ScrapeResult()
    with run_lock(settings.lock_path, wait=options.wait_for_lock, command="sentpipe scrape"):
        # the databases are checked before the marks and the first request: fail before
        # spending; a dry run checks nothing but reads the marks through its sinks
        async with open_job(settings, dry_run=dry_run, sinks_in_dry_run=True) as job:
            marks = Marks()
            databases = job.databases
            if databases:
                floor = _recent_floor(options)
                active = _activity_since(options)
                marks = await asyncio.to_thread(read_marks, databases[0], MARKS, floor, active)
            progress = None if on_progress is None else (lambda _: on_progress(result))
            source = reddit_records(settings, targets, options, result.report, marks, progress)
            durable = Durable()
            await job.run(
                reported(source, result, result.report),
                on_progress=progress,
                result=result,
                on_durable=durable,
            )
            if not dry_run:
                await asyncio.to_thread(_save_marks, databases, result, durable.count)
    if options.follow is not None:
        result.next_in = options.follow.next_in(options.follow.clock())
    return result


def scrape_reddit(
    settings: Settings,
    targets: Sequence[SubredditTarget],
    options: RedditScrapeOptions,
    **kwargs: Any,
) -> ScrapeResult:
    """Synchronous `scrape_reddit_async` (one event loop per run); same arguments,
    result and errors."""
    return asyncio.run(scrape_reddit_async(settings, targets, options, **kwargs))
