"""The request side of `sentpipe refresh reddit` (`DRIVER`): the refresh stage's driver
for Reddit. What an answer means (states, edits, redaction, the count) is the source's
rules (`sources.reddit.refresh.RULES`); this module only asks.

- Credentials are checked before the lock (`check_credentials`).
- The due fullnames are re-read through `/api/info`, 100 per request, each once
  (`sources.reddit.info.read_info`); every info answer is one answer of the refresh's
  reading loop (`refresh._read`).
- The comment trees of posts that gained comments are fetched through the scrape's own
  code (`sources.reddit.info.tree_records`, the scrape's `SubredditWorker`) into the
  pipeline job, except in subreddits the scrape follows through the comment
  listing (a comment mark is stored). Such a post's observation is recorded only once
  its tree is stored (`_Visit.release`): a run stopped before (budget, signal) or a
  failing tree leaves it due, and the next run fetches the tree.
- `--max-requests` / `--max-duration` are the scrape's `RequestMeter` bounds
  (`BudgetExhausted`, a clean stop); asyncpraw's errors are mapped by `_reddit_failure`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.refresh import (
    RefreshOptions,
    RefreshReport,
    RefreshResult,
    _per_fullname,
    _read,
    _Visit,
    stopping,
)
from sentiment_pipeline.settings import Settings, SubredditTarget

if TYPE_CHECKING:
    from sentiment_pipeline.pipeline import Job
    from sentiment_pipeline.refresh.store import DueItem, RefreshStore

__all__ = ["DRIVER", "RedditDriver"]


def _target(settings: Settings, source_id: str) -> SubredditTarget:
    for target in settings.subreddits:
        if target.name.lower() == source_id.lower():
            return target
    return SubredditTarget(name=source_id)


async def _late_comments(visit: _Visit, reddit: Any, meter: Any, totals: Any, job: Job) -> None:
    """Fetch the comment trees of the posts that gained comments and store them through
    the pipeline into the job's sinks; then record the observations of the posts whose
    trees were stored (`_Visit.release`). A failure leaves them all due."""
    from sentiment_pipeline.sources.reddit.client import BudgetExhausted
    from sentiment_pipeline.sources.reddit.info import tree_records
    from sentiment_pipeline.sources.reddit.report import SubredditStats

    settings, result, report = visit.settings, visit.result, visit.result.report
    posts = {source_id: list(names) for source_id, names in visit.grown.items()}
    stats = {source_id: SubredditStats() for source_id in posts}
    targets = {source_id: _target(settings, source_id) for source_id in posts}
    before = totals.total
    done: set[str] = set()
    records = tree_records(reddit, meter, posts, targets, stats, done)
    try:
        await job.run(stopping(records, result, (BudgetExhausted,)), result=result)
        visit.release(done)  # what the pipeline took is written
    finally:
        report.requests["comments"] = totals.total - before
        report.comment_trees = sum(s.comment_trees for s in stats.values())
        result.warnings.extend(w for s in stats.values() for w in s.warnings)


def _reddit_failure(error: Exception, result: RefreshResult) -> None:
    """Map an error of the Reddit side: rejected credentials raise `ConfigError`, an
    unreachable Reddit `DatabaseUnreachable`; any other asyncpraw error becomes one run
    error (exit 1); anything else is re-raised as it is."""
    from asyncprawcore.exceptions import RequestException

    from sentiment_pipeline.errors import DatabaseUnreachable
    from sentiment_pipeline.sources.reddit.client import BudgetExhausted, describe_error

    if isinstance(error, BudgetExhausted):
        raise error
    reason, credentials = describe_error(error)
    if credentials:
        raise ConfigError(
            reason, "check SENTPIPE_REDDIT_CLIENT_ID / _SECRET (and _USERNAME / _PASSWORD)"
        ) from error
    if isinstance(error, RequestException):
        raise DatabaseUnreachable(
            f"cannot reach Reddit ({error})", "check the network and SENTPIPE_REDDIT_*_URL"
        ) from error
    if not type(error).__module__.startswith("asyncpraw"):
        raise error
    result.errors.append(f"refresh: {reason}")


async def _fetch(
    settings: Settings,
    options: RefreshOptions,
    store: RefreshStore,
    due: list[DueItem],
    result: RefreshResult,
    job: Job,
    on_progress: Callable[[RefreshResult], None] | None,
    stop: Callable[[], bool] | None,
) -> None:
    """Re-read `due` (each fullname asked once) and record what was seen for every
    stored row; then the late comments into the sinks of `job`."""
    from sentiment_pipeline.sources.reddit.client import (
        BudgetExhausted,
        RequestMeter,
        make_reddit,
    )
    from sentiment_pipeline.sources.reddit.info import read_info
    from sentiment_pipeline.sources.reddit.report import RequestTotals

    report = result.report
    deadline = time.monotonic() + options.max_duration if options.max_duration else None
    totals = RequestTotals(max_requests=options.max_requests)
    meter = RequestMeter(totals=totals, deadline=deadline)
    reddit = make_reddit(settings, meter)
    followed = await asyncio.to_thread(_followed, settings)
    visit = _Visit(settings, store, result, _per_fullname(due), followed, options.now)
    answers = cast(
        "AsyncGenerator[tuple[list[str], dict[str, Any]], None]",
        read_info(reddit, list(visit.rows), meter),
    )
    try:
        await _read(visit, answers, on_progress, stop, (BudgetExhausted,))
        report.grown = sum(len(names) for names in visit.grown.values())
        if visit.grown and not result.stopped_early:
            await _late_comments(visit, reddit, meter, totals, job)
    except Exception as error:
        _reddit_failure(error, result)
    finally:
        report.grown_left = len(visit.held)
        await reddit.close()
        report.requests["total"] = totals.total
        report.requests["token"] = totals.token


def _followed(settings: Settings) -> frozenset[str]:
    """The subreddits whose new comments the scrape reads from the comment listing (a
    comment mark is stored for them)."""
    from sentiment_pipeline.db.queries import read_marks
    from sentiment_pipeline.sources.reddit.spec import MARKS

    latest = read_marks(settings.database, MARKS).latest
    return frozenset(target for target, kind in latest if kind == "comment")


class RedditDriver:
    """Reddit's request side: credentials checked first, `/api/info` 100 fullnames a
    request (`_fetch`)."""

    name = "reddit"

    def lock_path(self, settings: Settings) -> Path:
        """`scrape.lock`: shared with `scrape reddit` (one OAuth client, one quota)."""
        return settings.lock_path

    def check(self, settings: Settings) -> None:
        from sentiment_pipeline.sources.reddit.client import check_credentials

        check_credentials(settings)

    def dry_requests(self, report: RefreshReport, asked: int) -> None:
        """One info request per 100 due fullnames (the token is not known before)."""
        report.requests["info"] = report.requests["total"] = math.ceil(asked / 100)

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
    ) -> None:
        await _fetch(settings, options, store, due, result, job, on_progress, stop)


DRIVER = RedditDriver()
