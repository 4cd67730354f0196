"""`sentpipe demo`: the whole pipeline, offline, against the bundled fake Reddit API.

The fake runs on a free loopback port in a background thread; the scrape goes through
the real asyncpraw code path into the configured database (embedded SQLite by default)
and CSV; then the sentiment stage scores what was stored and reports per subreddit per
day. The newest demo post is dated an hour before the first run (so the posts span the
last few days); later runs reuse the stored newest post's time, so the generated posts
keep their times and a second run is incremental: nothing new.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sentiment_pipeline.scrape import ScrapeResult
from sentiment_pipeline.sentiment import ScoreResult, SentimentReport
from sentiment_pipeline.settings import Settings, SubredditTarget

__all__ = ["DEMO_SUBREDDITS", "DemoResult", "demo_newest_post", "run_demo"]

DEMO_SUBREDDITS = ("stocks", "wallstreet", "tiny", "hostile")
_ANCHORS = ("stocks", "wallstreet", "tiny")  # generated timelines end at the newest post
NEWEST_POST_AGE = 3600.0  # seconds before the first run


@dataclass
class DemoResult:
    """A demo run: the scrape's result, where it was stored (masked database URL, CSV
    folder), the stored events per (subreddit, event type) afterwards, and the sentiment
    stage's run and per-subreddit daily report (None without a database sink)."""

    run: ScrapeResult
    database: str
    csv_dir: str
    totals: dict[tuple[str, str], int] = field(default_factory=dict)
    scores: ScoreResult | None = None
    report: SentimentReport | None = None


def demo_newest_post(settings: Settings) -> float:
    """The newest demo post's time (UNIX seconds): the stored one when an earlier demo
    run stored posts (so reruns regenerate the same events), else an hour ago."""
    from sentiment_pipeline.db.queries import read_marks
    from sentiment_pipeline.sources.reddit.spec import MARKS

    marks = read_marks(settings.database, MARKS)
    stored = [marks.latest_for(name, "submission") for name in _ANCHORS]
    found = [moment.timestamp() for moment in stored if moment is not None]
    if found:
        return max(found)
    return float(int(time.time() - NEWEST_POST_AGE))


def run_demo(settings: Settings, sink_names: list[str] | None = None) -> DemoResult:
    """Start the fake, create the schema if needed, scrape, count what is stored, and
    (with the database sink) score it and build the sentiment report of the demo
    subreddits. Raises what `scrape_reddit`, `score_events` and `sentiment_report` raise."""
    import dataclasses

    from sentiment_pipeline.db.migrate import init_db
    from sentiment_pipeline.db.queries import event_totals
    from sentiment_pipeline.fake_reddit import (
        NO_PACING_RATE_LIMIT,
        FakeRedditConfig,
        default_subreddits,
        serve_in_thread,
    )
    from sentiment_pipeline.fake_reddit.config import ManualClock
    from sentiment_pipeline.scrape import RedditScrapeOptions, scrape_reddit
    from sentiment_pipeline.sentiment import ScoreOptions, score_events, sentiment_report

    init_db(settings.database)
    newest = demo_newest_post(settings)
    specs = tuple(
        dataclasses.replace(spec, created_utc_base=newest)
        for spec in default_subreddits()
        if spec.name in DEMO_SUBREDDITS
    )
    # the fake's clock too is anchored: a rerun's comments carry the same times
    clock = ManualClock(newest + NEWEST_POST_AGE)
    config = FakeRedditConfig(subreddits=specs, rate_limit=NO_PACING_RATE_LIMIT, clock=clock)
    names = sink_names or ["database", "csv"]
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
                "sinks": names,
            }
        )
        targets = [SubredditTarget(name=name) for name in DEMO_SUBREDDITS]
        run = scrape_reddit(demo_settings, targets, RedditScrapeOptions())
    result = DemoResult(
        run=run,
        database=settings.database.masked,
        csv_dir=str(settings.csv_path),
        totals=event_totals(settings.database, "reddit"),
    )
    if "database" in names:
        result.scores = score_events(
            settings.database,
            ScoreOptions(),
            lock_path=settings.data_dir / "sentiment.lock",
            wait=True,
        )
        result.report = sentiment_report(settings.database, source_ids=DEMO_SUBREDDITS)
    return result


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)
