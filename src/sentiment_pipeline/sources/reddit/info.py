"""Re-read stored Reddit items by fullname: `GET /api/info`, 100 fullnames per request.

`read_info` yields, per request, the fullnames asked and the payloads Reddit returned
(`payload.reddit_payload`, keyed by fullname); items Reddit leaves out (private or banned
subreddit, or never existed) are simply absent. `tree_records` fetches the comment trees
of posts through the scrape's own worker code and yields their records. A leaf: it
imports nothing of the pipeline, the sinks, the jobs or the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.sources.reddit.client import (
    RequestMeter,
    count_requests_into,
    with_backoff,
)
from sentiment_pipeline.sources.reddit.payload import reddit_payload
from sentiment_pipeline.sources.reddit.report import SubredditStats
from sentiment_pipeline.sources.reddit.settings import SubredditTarget
from sentiment_pipeline.sources.reddit.worker import SubredditWorker, WorkerConfig

__all__ = ["INFO_BATCH", "read_info", "tree_records"]

INFO_BATCH = 100  # Reddit's limit of fullnames per /api/info request
_DONE = object()


async def read_info(
    reddit: Any, fullnames: Sequence[str], meter: RequestMeter
) -> AsyncIterator[tuple[list[str], dict[str, dict[str, Any]]]]:
    """Yield `(asked, found)` per request of up to 100 fullnames, each asked once (a
    repeated one is left out): `found` maps each fullname Reddit returned to its
    payload (the item's JSON fields).

    A 429 is waited out (`with_backoff`); `BudgetExhausted` (`--max-requests`,
    `--max-duration`) ends the iteration before the next request; other asyncprawcore
    errors propagate."""
    names = list(dict.fromkeys(fullnames))
    for start in range(0, len(names), INFO_BATCH):
        asked = names[start : start + INFO_BATCH]

        async def one(chunk: list[str] = asked) -> list[Any]:
            return [item async for item in reddit.info(fullnames=chunk)]

        items = await with_backoff(one, meter)
        found: dict[str, dict[str, Any]] = {}
        for item in items:
            payload = reddit_payload(item)
            name = payload.get("name") or getattr(item, "fullname", None)
            if isinstance(name, str):
                found[name] = payload
        yield asked, found


async def tree_records(
    reddit: Any,
    meter: RequestMeter,
    posts: Mapping[str, Sequence[str]],
    targets: Mapping[str, SubredditTarget],
    stats: Mapping[str, SubredditStats],
    done: set[str] | None = None,
) -> AsyncIterator[dict[str, Any] | Rejected]:
    """Comment records of the trees of `posts` (source_id -> post fullnames), fetched by
    the scrape's `SubredditWorker` with each subreddit's target settings (`more_comments`,
    `comment_depth`) and counted into `stats[source_id]`.

    `done`: once every record emitted is yielded, it gets the posts whose trees were
    handed on whole (the worker's `trees_done`, or every post when nothing failed: a
    post whose tree was unavailable, 404 or 403, included, since nothing will come); a
    stop of the consumer leaves it as it was. Raises `BudgetExhausted` when the bounds
    stop it (records fetched before are yielded), or the first failure."""
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=2000)
    config = WorkerConfig(
        since=None, overlap=timedelta(0), refresh_since=datetime.now(UTC), listing_cap=1000
    )
    worker = SubredditWorker(reddit, meter, Marks(), config, queue.put, asyncio.Lock())
    failure: list[BaseException] = []

    async def run_all() -> None:
        try:
            for source_id, fullnames in posts.items():
                count_requests_into(stats[source_id])
                await worker.comment_trees(
                    fullnames, targets[source_id], source_id, stats[source_id]
                )
        except BaseException as error:  # re-raised in the consumer
            failure.append(error)
        finally:
            await queue.put(_DONE)

    task = asyncio.create_task(run_all())
    try:
        while (item := await queue.get()) is not _DONE:
            yield item
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if done is not None:
        done.update(worker.trees_done if failure else (n for ns in posts.values() for n in ns))
    if failure:
        raise failure[0]
