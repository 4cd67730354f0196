"""The request side of `sentpipe refresh hn` (`DRIVER`): the refresh stage's driver for
Hacker News. What an answer means (states, edits, redaction, the count) is the source's
rules (`sources.hackernews.refresh.RULES`); this module only asks.

- Each due item is re-read through the Firebase API, `item/{id}`, one request per item
  (HN has no batch read), `BATCH` items at a time: a batch is one answer of the
  refresh's reading loop (`refresh._read`: written every `WRITE_EVERY` batches, a stop
  asked after each). The client paces every request (`HNClient`).
- A story or poll whose `descendants` grew gets its whole thread re-read through
  Algolia's `items/{id}` (`HNClient.thread`) and written through the pipeline job:
  new comments are stored, rows already stored are duplicates. The story's observation
  is recorded only once its thread is stored (`_Visit.release`): a run stopped before
  (budget, signal) or a thread that fails (one run error) leaves the story due, and the
  next run fetches the thread. A thread Algolia does not have (404: a dead story) is
  skipped with a warning and its observation recorded (nothing will come).
- `--max-requests` counts every request the client made (each try of a retried one);
  `--max-requests` and `--max-duration` are the client's own bounds (`HNClient`,
  `HNBudget`): the requests past them are not sent, what was read is recorded, and the
  run stops cleanly.
- An item whose request fails after the client's retries is one run error (exit 1) and
  stays due; a connection failure (no answer at all) ends the run as unreachable
  (exit 3).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentiment_pipeline.refresh import (
    RefreshOptions,
    RefreshReport,
    RefreshResult,
    _per_fullname,
    _read,
    _Visit,
    stopping,
)
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sources.hackernews.settings import HN_LOCK

if TYPE_CHECKING:
    from sentiment_pipeline.pipeline import Job
    from sentiment_pipeline.refresh.store import DueItem, RefreshStore
    from sentiment_pipeline.sources.hackernews.client import HNClient

__all__ = ["BATCH", "DRIVER", "HNDriver", "item_number"]

BATCH = 100  # item requests in flight together: one answer of the reading loop


def item_number(event_id: str) -> int:
    """The HN item id of the event id `hn_<id>` (`payload.event_id` backwards)."""
    return int(event_id.removeprefix("hn_"))


def _unreachable(error: Exception) -> Exception:
    from sentiment_pipeline.errors import DatabaseUnreachable

    return DatabaseUnreachable(
        f"cannot reach Hacker News ({error})", "check the network and SENTPIPE_HN_*_URL"
    )


async def _items(
    client: HNClient, names: Sequence[str], result: RefreshResult
) -> AsyncGenerator[tuple[list[str], dict[str, Any]], None]:
    """`(asked, found)` per batch of `BATCH` event ids: the ids read and their Firebase
    items (an id whose answer was `null` is asked, not found). A failed item is one
    run error and not asked (it stays due). Past the client's bounds the batch's
    answers are handed on, then its `HNBudget` raised."""
    from sentiment_pipeline.sources.hackernews.client import HNBudget, HNError

    for start in range(0, len(names), BATCH):
        going = list(names[start : start + BATCH])
        answers = await asyncio.gather(
            *(client.item(item_number(name)) for name in going), return_exceptions=True
        )
        asked: list[str] = []
        found: dict[str, Any] = {}
        spent: HNBudget | None = None
        for name, answer in zip(going, answers, strict=True):
            if isinstance(answer, HNBudget):  # not sent: it stays due
                spent = answer
                continue
            if isinstance(answer, HNError) and answer.status is None:
                raise _unreachable(answer) from answer
            if isinstance(answer, HNError):
                result.errors.append(f"refresh: {name}: {answer}")
                continue
            if isinstance(answer, BaseException):
                raise answer
            asked.append(name)
            if answer is not None:
                found[name] = answer
        yield asked, found
        if spent is not None:
            raise spent


async def _threads(
    client: HNClient, grown: Sequence[str], result: RefreshResult, done: set[str]
) -> AsyncIterator[Any]:
    """The records of the grown stories' threads (Algolia `items/{id}`, flattened by
    `algolia_records`), one thread after the other. A story joins `done` once the
    pipeline has taken its thread's last record (it asked for the next), or at once
    for a 404 (a dead story: no comments will come; a warning). A thread that fails
    after the client's retries is one run error and stays out of `done`: its story
    stays due and the next run retries it."""
    from sentiment_pipeline.sources.hackernews.client import HNError
    from sentiment_pipeline.sources.hackernews.payload import algolia_records

    for name in grown:
        try:
            tree = await client.thread(item_number(name))
        except HNError as error:
            if error.status is None:
                raise _unreachable(error) from error
            result.errors.append(f"refresh: thread of {name}: {error}; stays due")
            continue
        if tree is None:
            result.warnings.append(
                f"refresh: Algolia has no thread for {name} (404: a dead story?); skipped"
            )
            done.add(name)
            continue
        result.report.comment_trees += 1
        for record in algolia_records(tree):
            yield record
        done.add(name)


class HNDriver:
    """Hacker News's request side of the refresh stage (`refresh.Driver`)."""

    name = "hackernews"

    def lock_path(self, settings: Settings) -> Path:
        """`scrape-hn.lock`: shared with `scrape hn` (one pace for HN's APIs), not with
        Reddit's jobs."""
        return settings.data_dir / HN_LOCK

    def check(self, settings: Settings) -> None:
        """Nothing to check: HN needs no account or key."""

    def dry_requests(self, report: RefreshReport, asked: int) -> None:
        """One `item` request per due item (threads are not known before reading): the
        total is the item requests."""
        report.requests["item"] = report.requests["total"] = asked

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
        """Re-read `due` (each item once, every stored row observed), then the grown
        stories' threads into the sinks of `job`."""
        from sentiment_pipeline.sources import source_spec
        from sentiment_pipeline.sources.hackernews.client import HNBudget, HNClient
        from sentiment_pipeline.sources.hackernews.settings import user_agent

        report = result.report
        deadline = time.monotonic() + options.max_duration if options.max_duration else None
        spec = source_spec(self.name)
        rows = _per_fullname(due)
        visit = _Visit(  # route None: the client counts the requests
            settings, store, result, rows, observed_at=options.now, source=spec, route=None
        )
        client = HNClient(
            settings.hn_api_url,
            settings.hn_search_url,
            user_agent(settings),
            per_hour=settings.hn_requests_per_hour,
            max_requests=options.max_requests,
            deadline=deadline,
        )
        async with client:
            try:
                answers = _items(client, list(rows), result)
                await _read(visit, answers, on_progress, stop, (HNBudget,))
                grown = [name for names in visit.grown.values() for name in names]
                report.grown = len(grown)
                if grown and not result.stopped_early:
                    done: set[str] = set()
                    records = _threads(client, grown, result, done)
                    await job.run(stopping(records, result, (HNBudget,)), result=result)
                    visit.release(done)  # stored: what the pipeline took is written
            finally:
                report.grown_left = len(visit.held)
                report.requests["item"] = client.requests["item"]
                report.requests["thread"] = client.requests["thread"]
                report.requests["total"] = sum(client.requests.values())


DRIVER = HNDriver()
