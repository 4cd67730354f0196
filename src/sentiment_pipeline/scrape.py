"""`sentpipe scrape reddit` as a library: Reddit posts and comments into the pipeline.

The scrape job sits above its source: it resolves the targets, takes the run lock, reads
the high-water marks from the database, and feeds `sources.reddit.reddit_records` into the
pipeline (`run_from_settings_async`), returning the `RunResult`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sentiment_pipeline.db.queries import Marks
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.settings import Settings, SubredditTarget
from sentiment_pipeline.sources.reddit import RedditScrapeOptions, reddit_records
from sentiment_pipeline.sources.reddit.worker import refresh_since

__all__ = [
    "RedditScrapeOptions",
    "TargetOverrides",
    "resolve_targets",
    "scrape_reddit",
    "scrape_reddit_async",
]


@dataclass(frozen=True)
class TargetOverrides:
    """Command-line options that override every target's YAML settings for one run."""

    sort: str | None = None
    time_filter: str | None = None
    limit: int | None = None
    comments: bool | None = None
    more_comments: int | None = None
    comment_depth: int | None = None


def resolve_targets(
    configured: Sequence[SubredditTarget], names: Sequence[str], overrides: TargetOverrides
) -> list[SubredditTarget]:
    """Named subreddits (repeatable or comma-separated) or the YAML list, plus overrides."""
    wanted = [part.strip() for name in names for part in name.split(",") if part.strip()]
    by_name = {target.name.lower(): target for target in configured}
    try:
        if wanted:
            targets = [
                by_name.get(SubredditTarget(name=n).name.lower()) or SubredditTarget(name=n)
                for n in wanted
            ]
        else:
            targets = list(configured)
        changes = {k: v for k, v in dataclasses.asdict(overrides).items() if v is not None}
        targets = [SubredditTarget.model_validate({**t.model_dump(), **changes}) for t in targets]
    except ValueError as error:
        first = str(error).splitlines()
        raise ConfigError(
            f"invalid scrape target: {first[-1].strip() if first else error}",
            "check --subreddit and the options given with it",
        ) from error
    if not targets:
        raise ConfigError(
            "no subreddits to scrape",
            "pass --subreddit NAME or list them under `subreddits:` in the YAML config",
        )
    unique: dict[str, SubredditTarget] = {}
    for target in targets:
        unique.setdefault(target.name.lower(), target)
    return list(unique.values())


def _uses_database(settings: Settings, sink_names: Sequence[str] | None) -> bool:
    from sentiment_pipeline.sinks import resolve_name

    names = list(sink_names or settings.sinks)
    return any(resolve_name(n, settings) in ("timescale", "sqlite") for n in names)


async def scrape_reddit_async(
    settings: Settings,
    targets: Sequence[SubredditTarget],
    options: RedditScrapeOptions,
    *,
    sink_names: Sequence[str] | None = None,
    dry_run: bool = False,
    on_progress: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """One scrape: lock, marks, fetch, write. Raises `LockHeld`, `ConfigError`, …"""
    from sentiment_pipeline.db.queries import read_marks
    from sentiment_pipeline.lock import run_lock
    from sentiment_pipeline.pipeline import run_from_settings_async
    from sentiment_pipeline.sources.reddit.client import check_credentials
    from sentiment_pipeline.sources.reddit.payload import SOURCE

    check_credentials(settings)
    result = RunResult()
    with run_lock(settings.lock_path, wait=options.wait_for_lock, command="sentpipe scrape"):
        marks = Marks()
        if _uses_database(settings, sink_names):
            marks = await asyncio.to_thread(read_marks, settings.database, SOURCE)
            # Stored submissions we may meet again: young ones (comment refresh), the
            # overlap below each mark, and a --since backfill. Known ones keep their trees.
            floors = [refresh_since(options.refresh_hours)]
            floors += [
                m - timedelta(seconds=options.overlap_seconds)
                for (_, kind), m in marks.latest.items()
                if kind == "submission"
            ]
            floors += [options.since] if options.since is not None else []
            marks = await asyncio.to_thread(read_marks, settings.database, SOURCE, min(floors))
        source = reddit_records(settings, targets, options, result, marks, on_progress)
        await run_from_settings_async(
            settings,
            source,
            sink_names=sink_names,
            dry_run=dry_run,
            on_progress=on_progress,
            result=result,
        )
    return result


def scrape_reddit(
    settings: Settings,
    targets: Sequence[SubredditTarget],
    options: RedditScrapeOptions,
    **kwargs: Any,
) -> RunResult:
    """Synchronous `scrape_reddit_async` (one event loop per run)."""
    return asyncio.run(scrape_reddit_async(settings, targets, options, **kwargs))
