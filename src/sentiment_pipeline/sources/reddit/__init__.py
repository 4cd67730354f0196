"""The Reddit source: submissions and comments of many subreddits, and what sentpipe knows
of Reddit's data.

- `records.py`: `reddit_records`, an async iterator of event records (or `Rejected`)
  on one shared client (client.py: the requests meter and backoff; payload.py: Reddit
  JSON -> record), filling a `ScrapeReport` (report.py) as it goes: one task per group
  of subreddits polled together through the group listings (follow.py; plan.py, pure:
  which subreddits share a group and how often each group is polled), and one per
  subreddit on the tree strategy (worker.py: one subreddit's listing and comment trees);
  and one per topic after them (topics.py: its posts from Reddit's search, down to its
  own mark; search.py: its query in Reddit's syntax);
- `info.py`: `/api/info` re-reads for `sentpipe refresh reddit`;
- `spec.py`: `SPEC`, Reddit's entry in the source registry (`sources.source_spec`): its
  settings (`settings.py`), its text for scoring (`text.py`, `removed.py`), its export
  columns, its high-water-mark query and its metric label.

This package imports nothing heavy itself: `reddit_records` and its companions are
loaded on first use, so that `settings.py` and the registry can import `settings.py`
and `spec.py` of this package cheaply. A leaf: nothing here imports the pipeline, the
sinks, the scrape job or the CLI.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentiment_pipeline.sources.reddit.records import (
        RedditScrapeOptions,
        reddit_records,
    )
    from sentiment_pipeline.sources.reddit.report import ScrapeReport, SubredditStats

__all__ = ["RedditScrapeOptions", "ScrapeReport", "SubredditStats", "reddit_records"]

_LAZY = {
    "RedditScrapeOptions": "sentiment_pipeline.sources.reddit.records",
    "reddit_records": "sentiment_pipeline.sources.reddit.records",
    "ScrapeReport": "sentiment_pipeline.sources.reddit.report",
    "SubredditStats": "sentiment_pipeline.sources.reddit.report",
}


def __getattr__(name: str) -> Any:
    """`reddit_records` and its companions, imported when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
