"""`scrape_reddit` end to end: real asyncpraw against the project's fake Reddit API."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.errors import ConfigError, ExitCode
from sentiment_pipeline.fake_reddit import RunningFakeReddit, SubredditSpec
from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.scrape import (
    RedditScrapeOptions,
    TargetOverrides,
    resolve_targets,
    scrape_reddit,
)
from sentiment_pipeline.settings import Settings, SubredditTarget, load_settings
from sentiment_pipeline.sources.reddit import client as reddit_client

FakeFactory = Callable[..., RunningFakeReddit]


def scrape_settings(fake: RunningFakeReddit, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a scrape against `fake`, with an initialised SQLite database."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'sentpipe.db'}",
        "reddit_client_id": fake.config.client_id,
        "reddit_client_secret": fake.config.client_secret,
        "reddit_oauth_url": fake.url,
        "reddit_url": fake.url,
        "sinks": ["database", "csv"],
    }
    values.update(overrides)
    settings = load_settings(**values)
    init_db(settings.database)
    return settings


def reddit_env(
    fake: RunningFakeReddit, data_dir: Path, database_url: str | None
) -> dict[str, str | None]:
    """Environment variables for a CLI run against the fake API, database + CSV sinks;
    the database is left as it is (`database_url` None: unset, the embedded default)."""
    return {
        "SENTPIPE_DATA_DIR": str(data_dir),
        "SENTPIPE_DATABASE_URL": database_url,
        "SENTPIPE_REDDIT_CLIENT_ID": fake.config.client_id,
        "SENTPIPE_REDDIT_CLIENT_SECRET": fake.config.client_secret,
        "SENTPIPE_REDDIT_OAUTH_URL": fake.url,
        "SENTPIPE_REDDIT_URL": fake.url,
        "SENTPIPE_SINKS": "database,csv",
    }


def fake_env(
    fake: RunningFakeReddit, data_dir: Path, database_url: str | None = None
) -> dict[str, str]:
    """`reddit_env` on a migrated database (the data dir's SQLite file by default)."""
    url = database_url or f"sqlite:///{data_dir / 'sentpipe.db'}"
    init_db(parse_database_url(url))
    return {name: value for name, value in reddit_env(fake, data_dir, url).items() if value}


def sqlite_files(directory: Path) -> list[Path]:
    """The SQLite database files (and their journals) under `directory`, locks aside."""
    return sorted(p for p in directory.rglob("*") if ".db" in p.name and "lock" not in p.name)


def rows(settings: Settings, where: str = "1=1") -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.database.sqlite_path) as db:
        return db.execute(
            f"SELECT id, source_id, event_type, payload FROM raw_events WHERE {where}"
        ).fetchall()


def targets(*names: str, **fields: Any) -> list[SubredditTarget]:
    return [SubredditTarget(name=name, **fields) for name in names]


def run(settings: Settings, names: list[SubredditTarget], **options: Any) -> RunResult:
    return scrape_reddit(settings, names, RedditScrapeOptions(**options))


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record our Retry-After waits instead of sleeping."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(reddit_client, "_sleep", fake_sleep)
    return recorded


def test_listing_pages_are_the_minimum(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    result = run(settings, targets("stocks", comments=False))
    assert result.exit_code == ExitCode.OK
    assert result.inserted == 300
    assert fake_reddit.count(route="listing", subreddit="stocks") == 3  # ceil(300 / 100)
    assert fake_reddit.count(route="access_token") == 1
    assert fake_reddit.count(route="about") == 1  # first seen: checked once
    assert result.report.requests.total == 5
    stored = rows(settings)
    assert {r[1] for r in stored} == {"stocks"}
    assert all(r[0].startswith("t3_") and r[2] == "submission" for r in stored)


def test_second_run_with_nothing_new_costs_one_listing_request(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    # the tree strategy; the group listings' own are in test_scrape_follow.py
    settings = scrape_settings(fake_reddit, tmp_path, comments_from="trees")
    first = run(settings, targets("tiny", "stocks"), comments_from="trees")
    assert first.inserted > 305  # posts and comments
    fake_reddit.clear_log()
    second = run(settings, targets("tiny", "stocks"), comments_from="trees")
    assert second.inserted == 0
    routes = sorted((e["route"], e["subreddit"]) for e in fake_reddit.request_log)
    assert routes == [("access_token", None), ("listing", "stocks"), ("listing", "tiny")]

    new_ids = fake_reddit.add_posts("tiny", 3)
    fake_reddit.clear_log()
    third = run(settings, targets("tiny", "stocks"), comments_from="trees")
    assert fake_reddit.count(route="listing") == 2
    assert fake_reddit.count(route="comments") == 3  # only the new posts' trees
    stored = {r[0] for r in rows(settings, "event_type = 'submission'")}
    assert {f"t3_{i.removeprefix('t3_')}" for i in new_ids} <= stored
    assert third.inserted >= 3


def test_comment_trees_expand_more_and_continue_this_thread(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    result = run(settings, targets("wallstreet", limit=10, more_comments=500))
    assert result.exit_code == ExitCode.OK
    assert fake_reddit.count(route="comments") == 10
    assert fake_reddit.count(route="morechildren") > 0
    assert fake_reddit.count(route="continue_thread") > 0
    posts = [json.loads(r[3]) for r in rows(settings, "event_type = 'submission'")]
    comments = [json.loads(r[3]) for r in rows(settings, "event_type = 'comment'")]
    assert len(comments) == sum(p["num_comments"] for p in posts)  # whole trees
    ids = {f"t1_{c['id']}" for c in comments} | {f"t3_{p['id']}" for p in posts}
    assert all(c["parent_id"] in ids and c["link_id"].startswith("t3_") for c in comments)
    assert max(c["depth"] for c in comments) > 4  # beyond "continue this thread"


def test_comment_depth_and_more_budget_bound_the_work(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    run(settings, targets("wallstreet", limit=5, more_comments=0, comment_depth=0))
    assert fake_reddit.count(route="morechildren") == 0
    assert fake_reddit.count(route="continue_thread") == 0
    depths = {json.loads(r[3])["depth"] for r in rows(settings, "event_type = 'comment'")}
    assert depths == {0}


def test_more_comments_are_never_expanded_concurrently(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_reddit_factory(morechildren_latency=0.02)
    settings = scrape_settings(fake, tmp_path)
    result = run(settings, targets("wallstreet", "stocks", limit=15))
    assert fake.count(route="morechildren") >= 5
    assert fake.count(route="morechildren", status=429) == 0
    assert result.exit_code == ExitCode.OK


def test_broken_subreddits_are_reported_and_the_others_still_run(
    fake_reddit: RunningFakeReddit, tmp_path: Path, no_retry_sleep: None
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    names = [
        "private_sub",
        "banned_sub",
        "quarantined_sub",
        "never_existed",
        "broken_sub",
        "tiny",
        "flaky_sub",
    ]
    result = run(settings, targets(*names, comments=False))
    assert result.exit_code == ExitCode.FAILURES
    by_sub = {e.split(":")[0]: e for e in result.errors}
    assert set(by_sub) == {
        "r/private_sub",
        "r/banned_sub",
        "r/quarantined_sub",
        "r/never_existed",
        "r/broken_sub",
    }
    assert "403" in by_sub["r/private_sub"]
    assert "404" in by_sub["r/banned_sub"]
    assert "does not exist" in by_sub["r/never_existed"]
    assert "server error" in by_sub["r/broken_sub"]
    assert all("\n" not in e for e in result.errors)
    stored = {r[1] for r in rows(settings)}
    assert stored == {"tiny", "flaky_sub"}  # 503 twice is absorbed by asyncprawcore


def test_429_waits_for_retry_after_then_succeeds(
    fake_reddit: RunningFakeReddit, tmp_path: Path, waits: list[float]
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    result = run(settings, targets("ratelimited_sub", comments=False))
    assert waits == [1.0]  # the fake's Retry-After
    assert result.errors == []
    assert result.inserted == 20
    assert fake_reddit.count(subreddit="ratelimited_sub", status=429) == 1
    assert result.report.subreddits["ratelimited_sub"].rate_limit_wait == 1.0


def test_persistent_429_gives_up_on_that_subreddit(
    fake_reddit_factory: FakeFactory, tmp_path: Path, waits: list[float]
) -> None:
    from sentiment_pipeline.fake_reddit import FaultSpec

    spec = SubredditSpec("hammered", posts=5, faults=FaultSpec(too_many_requests=50, retry_after=7))
    fake = fake_reddit_factory(subreddits=(spec, SubredditSpec("calm", posts=5)))
    settings = scrape_settings(fake, tmp_path)
    result = run(settings, targets("hammered", "calm", comments=False))
    assert waits == [7.0, 14.0, 21.0]  # Retry-After, growing per attempt
    assert [e.split(":")[0] for e in result.errors] == ["r/hammered"]
    assert "429" in result.errors[0]
    assert {r[1] for r in rows(settings)} == {"calm"}


def test_max_requests_stops_cleanly_and_keeps_what_it_has(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    result = run(settings, targets("stocks"), max_requests=12)
    assert result.stopped_early
    assert "max-requests" in (result.stop_reason or "")
    assert result.exit_code == ExitCode.OK
    assert len(fake_reddit.request_log) == 12
    assert result.inserted == len(rows(settings)) > 300  # listing plus some trees


def test_max_duration_stops_cleanly(fake_reddit_factory: FakeFactory, tmp_path: Path) -> None:
    from sentiment_pipeline.fake_reddit import FaultSpec

    slow = SubredditSpec("slow", posts=200, faults=FaultSpec(delay_seconds=0.2))
    fake = fake_reddit_factory(subreddits=(slow,))
    settings = scrape_settings(fake, tmp_path)
    result = run(settings, targets("slow"), max_duration=1.5)  # the whole run needs > 40 s
    assert result.stopped_early
    assert "max-duration" in (result.stop_reason or "")
    assert result.exit_code == ExitCode.OK
    assert result.inserted == len(rows(settings)) >= 100


def test_listing_cap_before_the_mark_warns_about_a_gap(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_reddit_factory(subreddits=(SubredditSpec("busy", posts=20),))
    settings = scrape_settings(fake, tmp_path)
    run(settings, targets("busy", comments=False))
    fake.add_posts("busy", 1100)
    result = run(settings, targets("busy", comments=False))
    assert result.inserted == 1000
    assert len(result.warnings) == 1
    assert "listing cap" in result.warnings[0] and "minutes" in result.warnings[0]


def test_since_bounds_a_first_run(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    settings = scrape_settings(fake_reddit, tmp_path)
    since = datetime.now(UTC) - timedelta(hours=5)
    result = run(settings, targets("stocks", comments=False), since=since)
    created = [json.loads(r[3])["created_utc"] for r in rows(settings)]
    assert created and min(created) >= since.timestamp()
    assert result.inserted == len(created) < 300
    assert fake_reddit.count(route="listing") == 1


def test_dry_run_fetches_but_writes_nothing(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    result = scrape_reddit(settings, targets("tiny"), RedditScrapeOptions(), dry_run=True)
    assert result.dry_run and result.valid > 5
    assert rows(settings) == []
    assert not (tmp_path / "csv").exists()


def test_hostile_data_is_kept_or_dead_lettered_never_fatal(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    result = run(settings, targets("hostile", limit=40))
    assert result.errors == []
    assert result.sanitized > 0  # NUL characters replaced by U+FFFD
    assert result.valid + result.invalid == result.fetched
    posts = [json.loads(r[3]) for r in rows(settings, "event_type='submission'")]
    assert len(posts) == 40
    assert any("DROP TABLE" in p.get("selftext", "") for p in posts)
    assert any(p["title"] == "NUL\ufffdin the title\ufffd" for p in posts)
    missing = [p for p in posts if p["title"] == "Post with missing optional fields"]
    assert len(missing) == 1 and "selftext" not in missing[0]
    deleted = [p for p in posts if p["title"] == "Deleted by author"]
    assert deleted[0]["author"] == "[deleted]"


def test_missing_credentials_name_the_variables(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, reddit_client_id="only-an-id")
    with pytest.raises(ConfigError) as caught:
        run(settings, targets("python"))
    message = caught.value.one_line()
    assert "SENTPIPE_REDDIT_CLIENT_SECRET" in message
    assert "SENTPIPE_REDDIT_CLIENT_ID" not in message.split(";")[0].split("set ")[1]
    assert "https://www.reddit.com/prefs/apps" in message
    assert caught.value.exit_code == ExitCode.USAGE


def test_wrong_secret_is_a_config_error(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    settings = scrape_settings(fake_reddit, tmp_path, reddit_client_secret="wrong")
    with pytest.raises(ConfigError, match="401"):
        run(settings, targets("tiny", "stocks"))


def test_script_app_login_and_user_agent(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    settings = scrape_settings(
        fake_reddit, tmp_path, reddit_username="fake-user", reddit_password="fake-password"
    )
    assert run(settings, targets("tiny", comments=False)).inserted == 5
    agent = reddit_client.user_agent(settings)
    assert agent.endswith("(by /u/fake-user)") and ":sentpipe:" in agent


def test_targets_merge_yaml_names_and_overrides() -> None:
    configured = [SubredditTarget(name="python", sort="top", time_filter="week", limit=50)]
    chosen = resolve_targets(
        configured, ["Python,datascience", "r/rust"], TargetOverrides(limit=7, comments=False)
    )
    assert [(t.name, t.sort, t.time_filter, t.limit, t.comments) for t in chosen] == [
        ("python", "top", "week", 7, False),
        ("datascience", "new", "day", 7, False),
        ("rust", "new", "day", 7, False),
    ]
    assert resolve_targets(configured, [], TargetOverrides()) == configured
    with pytest.raises(ConfigError, match="no subreddits"):
        resolve_targets([], [], TargetOverrides())
    with pytest.raises(ConfigError):
        resolve_targets([], ["bad name!"], TargetOverrides())


def test_top_sort_sends_the_time_filter(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    settings = scrape_settings(fake_reddit, tmp_path)
    run(settings, targets("stocks", sort="top", time_filter="week", limit=10, comments=False))
    listing = [e for e in fake_reddit.request_log if e["route"] == "listing"]
    assert [(e["sort"], e["query"].get("t")) for e in listing] == [("top", "week")]
