"""`sentpipe demo`: the whole pipeline, offline, against the bundled fake Reddit API.

The fake runs on a free loopback port in a background thread; the scrape goes through
the real asyncpraw code path into the configured database (embedded SQLite by default)
and CSV. Post times are fixed, so a second demo run is incremental: nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sentiment_pipeline.scrape import ScrapeResult
from sentiment_pipeline.settings import Settings, SubredditTarget

__all__ = ["DEMO_SUBREDDITS", "DemoResult", "run_demo"]

DEMO_SUBREDDITS = ("stocks", "wallstreet", "tiny", "hostile")
# 2025-01-01T00:00:00Z: the newest demo post, so reruns see the same events.
DEMO_NEWEST_POST = 1_735_689_600.0


@dataclass
class DemoResult:
    """A demo run: the scrape's result, where it was stored (masked database URL, CSV
    folder), and the stored events per (subreddit, event type) afterwards."""

    run: ScrapeResult
    database: str
    csv_dir: str
    totals: dict[tuple[str, str], int] = field(default_factory=dict)


def run_demo(settings: Settings, sink_names: list[str] | None = None) -> DemoResult:
    """Start the fake, create the schema if needed, scrape, and count what is stored."""
    import dataclasses

    from sentiment_pipeline.db.migrate import init_db
    from sentiment_pipeline.db.queries import event_totals
    from sentiment_pipeline.fake_reddit import (
        NO_PACING_RATE_LIMIT,
        FakeRedditConfig,
        default_subreddits,
        serve_in_thread,
    )
    from sentiment_pipeline.scrape import RedditScrapeOptions, scrape_reddit

    specs = tuple(
        dataclasses.replace(spec, created_utc_base=DEMO_NEWEST_POST)
        for spec in default_subreddits()
        if spec.name in DEMO_SUBREDDITS
    )
    config = FakeRedditConfig(subreddits=specs, rate_limit=NO_PACING_RATE_LIMIT)
    init_db(settings.database)
    with serve_in_thread(config) as fake:
        demo_settings = settings.model_copy(
            update={
                "reddit_client_id": config.client_id,
                "reddit_client_secret": _secret(config.client_secret),
                "reddit_username": None,
                "reddit_password": None,
                "reddit_oauth_url": fake.url,
                "reddit_url": fake.url,
                "reddit_user_agent": None,
            }
        )
        targets = [SubredditTarget(name=name) for name in DEMO_SUBREDDITS]
        names = sink_names or ["database", "csv"]
        run = scrape_reddit(demo_settings, targets, RedditScrapeOptions(), sink_names=names)
    return DemoResult(
        run=run,
        database=settings.database.masked,
        csv_dir=str(settings.csv_path),
        totals=event_totals(settings.database, "reddit"),
    )


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)
