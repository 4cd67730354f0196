"""`sentpipe demo`: the whole pipeline, offline, against the bundled fake Reddit and
Hacker News APIs.

Each fake runs on a free loopback port in a background thread; the Reddit scrape goes
through the real asyncpraw code path and the HN scrape through the real HN client (its
`top` and `ask` lists, both APIs), into the configured database (embedded SQLite by
default) and CSV; then the sentiment stage scores what was stored and reports per
subreddit and per HN story kind per day. The newest demo post is dated an hour before
the first run (so the posts span the last few days); later runs reuse the stored newest
post's time, so both fakes generate the same items with the same times and a second run
is incremental: nothing new.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sentiment_pipeline.scrape import ScrapeResult
from sentiment_pipeline.scrape.hackernews import HNScrapeResult
from sentiment_pipeline.sentiment import ScoreResult, SentimentReport
from sentiment_pipeline.settings import Settings, SubredditTarget

__all__ = ["DEMO_HN_LISTS", "DEMO_SUBREDDITS", "DemoResult", "demo_newest_post", "run_demo"]

DEMO_SUBREDDITS = ("stocks", "wallstreet", "tiny", "hostile")
DEMO_HN_LISTS = ("top", "ask")
DEMO_HN_STORIES = 40  # stories the fake HN holds (with their comments)
_HN_KINDS = ("story", "ask", "show", "job", "poll")
_ANCHORS = ("stocks", "wallstreet", "tiny")  # generated timelines end at the newest post
NEWEST_POST_AGE = 3600.0  # seconds before the first run


@dataclass
class DemoResult:
    """A demo run: the Reddit scrape's result (`run`) and the HN scrape's (`hn`), where
    it was stored (masked database URL, CSV folder), the stored events per (subreddit,
    event type) and per (HN story kind, event type) afterwards, and the sentiment
    stage's run and daily report per subreddit and story kind (None without a database
    sink)."""

    run: ScrapeResult
    database: str
    csv_dir: str
    hn: HNScrapeResult | None = None
    totals: dict[tuple[str, str], int] = field(default_factory=dict)
    hn_totals: dict[tuple[str, str], int] = field(default_factory=dict)
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
    subreddits and HN story kinds. Raises what `scrape_reddit`, `scrape_hn`,
    `score_events` and `sentiment_report` raise."""
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
    hn = _scrape_hn(settings.model_copy(update={"sinks": names}), newest)
    result = DemoResult(
        run=run,
        hn=hn,
        database=settings.database.masked,
        csv_dir=str(settings.csv_path),
        totals=event_totals(settings.database, "reddit"),
        hn_totals=event_totals(settings.database, "hackernews"),
    )
    if "database" in names:
        result.scores = score_events(
            settings.database,
            ScoreOptions(),
            lock_path=settings.data_dir / "sentiment.lock",
            wait=True,
        )
        result.report = sentiment_report(
            settings.database, source_ids=(*DEMO_SUBREDDITS, *_HN_KINDS)
        )
    return result


def _scrape_hn(settings: Settings, newest: float) -> HNScrapeResult:
    """The HN part: the fake HN API (its clock at the Reddit fake's, so a rerun
    generates the same items), its `top` and `ask` lists scraped, unpaced."""
    from sentiment_pipeline.fake_hn import FakeHNConfig
    from sentiment_pipeline.fake_hn import serve_in_thread as serve_hn
    from sentiment_pipeline.scrape.hackernews import HNScrapeOptions, scrape_hn
    from sentiment_pipeline.sources.hackernews.collect import list_target

    config = FakeHNConfig(
        seed=7,
        stories=DEMO_HN_STORIES,
        now=int(newest + NEWEST_POST_AGE),
        span_seconds=4 * 86400,  # the Reddit posts' few days
    )
    with serve_hn(config) as fake:
        hn_settings = settings.model_copy(
            update={"hn_api_url": fake.api_url, "hn_search_url": fake.search_url}
        )
        targets = [list_target(name) for name in DEMO_HN_LISTS]
        options = HNScrapeOptions(limit=DEMO_HN_STORIES, per_hour=_UNPACED)
        return scrape_hn(hn_settings, targets, options)


_UNPACED = 100_000_000  # requests an hour: the fake has no limit


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)
