"""The scrape jobs: `sentpipe scrape reddit` (`scrape.reddit`) and `sentpipe scrape hn`
(`scrape.hackernews`) as a library.

A scrape job sits above its source: it resolves the targets, takes the run lock, opens
its job (`pipeline.open_job`), reads the source's high-water marks when a database sink
leads, feeds the source's records into the pipeline and, once every record of the run
is durable, saves the marks of the walks that completed (`scrape.job`).
"""

from sentiment_pipeline.scrape.reddit import (
    RedditScrapeOptions,
    ScrapeReport,
    ScrapeResult,
    TargetOverrides,
    resolve_targets,
    scrape_reddit,
    scrape_reddit_async,
    tree_template,
    with_topic_flags,
)

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
