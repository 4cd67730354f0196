"""Following subreddits through the group listings (`--comments-from auto|listing`):
new comments come from `/r/a+b/comments`, posts from `/r/a+b/new`, per-subreddit marks
and counts stay exact, gaps are closed by trees and said, a banned member fails alone.
Request counts are checked against the fake API's own request log."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment_pipeline.db.queries import Activity as Stored
from sentiment_pipeline.db.queries import Marks, read_marks
from sentiment_pipeline.errors import ExitCode
from sentiment_pipeline.fake_reddit import FaultSpec, RunningFakeReddit, SubredditSpec
from sentiment_pipeline.fake_reddit.config import Access, ManualClock
from sentiment_pipeline.fake_reddit.faults import FaultState
from sentiment_pipeline.scrape import RedditScrapeOptions, ScrapeResult, scrape_reddit
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sources.reddit.follow import (
    COMMENT_OVERLAP,
    FollowPlan,
    FollowState,
    build_member,
    silent_too_long,
)
from sentiment_pipeline.sources.reddit.plan import Activity
from sentiment_pipeline.sources.reddit.report import SubredditStats
from sentiment_pipeline.sources.reddit.settings import SubredditTarget
from sentiment_pipeline.sources.reddit.spec import MARKS
from tests.test_fault_matrix import db_ids
from tests.test_scrape import FakeFactory, rows, scrape_settings, targets

NAMES = ("python", "rust", "golang")


def fake_with(factory: FakeFactory, *names: str, **spec: Any) -> RunningFakeReddit:
    fields = {"posts": 30, "comments_per_post": 4, **spec}
    return factory(
        subreddits=tuple(
            SubredditSpec(name, seed=index + 1, **fields) for index, name in enumerate(names)
        )
    )


def python_beside(factory: FakeFactory, name: str, access: Access, posts: int) -> RunningFakeReddit:
    """r/python beside a subreddit that answers with `access` (private, banned…)."""
    broken = FaultSpec(access=access)
    return factory(
        subreddits=(
            SubredditSpec("python", posts=posts, seed=1),
            SubredditSpec(name, posts=posts, seed=2, faults=broken),
        )
    )


def scrape(settings: Settings, *names: str, **options: Any) -> ScrapeResult:
    return scrape_reddit(settings, targets(*names), RedditScrapeOptions(**options))


def api_requests(fake: RunningFakeReddit) -> list[dict[str, Any]]:
    """Logged requests other than the token's."""
    return [e for e in fake.request_log if e["route"] not in ("access_token", "revoke_token")]


def comment_ids(settings: Settings) -> set[str]:
    return {row[0] for row in rows(settings, "event_type = 'comment'")}


def ok(result: ScrapeResult) -> ScrapeResult:
    assert result.exit_code == ExitCode.OK, result.errors
    return result


def test_quiet_subreddits_cost_two_requests_a_run(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_with(fake_reddit_factory, *NAMES)
    settings = scrape_settings(fake, tmp_path)
    first = ok(scrape(settings, *NAMES))
    # first sight: each alone, its about checked, its posts' trees fetched; one token
    assert fake.count(route="about") == len(NAMES)
    assert fake.count(route="access_token") == 1
    assert {p for p in first.report.groups} == set(NAMES)
    assert all(s.comment_trees > 0 for s in first.report.subreddits.values())
    fake.clear_log()
    second = ok(scrape(settings, *NAMES))
    log = api_requests(fake)
    assert [e["route"] for e in log] == ["listing", "comment_listing"] or sorted(
        e["route"] for e in log
    ) == ["comment_listing", "listing"]
    assert all(sorted(e["members"]) == sorted(NAMES) for e in log)
    (group,) = second.report.groups.values()
    assert group.requests == 2 and group.members == sorted(NAMES)
    assert second.inserted == 0
    marks = read_marks(settings.database, MARKS).latest
    assert {(name, kind) for name in NAMES for kind in ("submission", "comment")} <= set(marks)


def test_new_comments_on_young_and_old_posts_come_from_the_listing(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_with(fake_reddit_factory, *NAMES)
    settings = scrape_settings(fake, tmp_path)
    ok(scrape(settings, *NAMES))
    state = fake.fake.world.store
    oldest = state.subreddit("rust").posts[0]  # hours old, beyond any overlap
    newest = state.subreddit("python").posts[-1]
    added = fake.grow(oldest.name, comments=3) + fake.grow(newest.name, comments=5)
    new_posts = fake.add_posts("golang", 2)
    fake.clear_log()
    result = ok(scrape(settings, *NAMES))
    assert set(added) <= comment_ids(settings)
    assert fake.count(route="comments") == 0  # no tree fetched
    assert {e["route"] for e in api_requests(fake)} == {"listing", "comment_listing"}
    per = result.per_source_id
    golang = state.subreddit("golang")
    born = sum(golang.by_id[i].num_comments for i in new_posts)  # trees of the new posts
    assert (per["rust"].inserted, per["python"].inserted) == (3, 5)
    assert per["golang"].inserted == 2 + born
    stored = {row[0] for row in rows(settings, "event_type = 'submission'")}
    assert {f"t3_{i}" for i in new_posts} <= stored


def test_nothing_is_stored_twice_when_groups_change(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_with(fake_reddit_factory, *NAMES)
    settings = scrape_settings(fake, tmp_path)
    ok(scrape(settings, "python", "rust"))
    ok(scrape(settings, "golang"))
    post = fake.fake.world.store.subreddit("rust").posts[-1]
    added = fake.grow(post.name, comments=4)
    again = ok(scrape(settings, *NAMES))  # one group now
    assert again.inserted == 4  # the overlaps re-read some: the database absorbs them
    ok(scrape(settings, "rust"))
    assert set(added) <= comment_ids(settings)
    ids = db_ids(str(settings.database.sqlalchemy))
    assert len(ids) == len(set(ids))


def test_a_banned_member_fails_alone_and_the_others_finish(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = python_beside(fake_reddit_factory, "gone", Access.BANNED, posts=20)
    settings = scrape_settings(fake, tmp_path)
    result = scrape(settings, "python", "gone")
    assert result.exit_code == ExitCode.FAILURES
    assert result.errors == ["r/gone: banned or not found (404); skipped"]
    assert result.report.subreddits["python"].status == "done"
    assert result.report.subreddits["python"].submissions == 20
    marks = read_marks(settings.database, MARKS).latest
    assert ("gone", "submission") not in marks and ("python", "comment") in marks


def test_a_burst_beyond_the_listing_depth_is_a_gap_closed_by_trees(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_with(fake_reddit_factory, "python", "rust")
    settings = scrape_settings(fake, tmp_path)
    ok(scrape(settings, "python", "rust"))
    posts = fake.fake.world.store.subreddit("python").posts
    added = [c for post in posts[-3:] for c in fake.grow(post.name, comments=400)]
    result = ok(scrape(settings, "python", "rust"))
    assert set(added) <= comment_ids(settings)
    (group,) = result.report.groups.values()
    # rust's quiet floor was below the cut too: its own listing (one request) closes it
    assert group.gaps["rust"] == "closed by its own comment listing"
    assert group.gaps["python"].startswith("closed by") and "trees" in group.gaps["python"]
    assert any("closed by fetching" in w for w in result.warnings)
    assert fake.count(route="comments") >= 3
    payload = json.loads(json.dumps(result.to_dict()))
    assert "python" in payload["extra"]["groups"]["python+rust"]["gaps"]


def test_listing_only_reports_a_gap_it_leaves_open(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_with(fake_reddit_factory, "python")
    settings = scrape_settings(fake, tmp_path)
    ok(scrape(settings, "python", comments_from="listing"))
    assert fake.count(route="comments") == 0
    post = fake.fake.world.store.subreddit("python").posts[-1]
    fake.grow(post.name, comments=1200)
    fake.clear_log()
    result = ok(scrape(settings, "python", comments_from="listing"))
    assert fake.count(route="comments") == 0
    assert any("may be missing" in w for w in result.warnings)
    assert "left open" in result.report.groups["python"].gaps["python"]


def test_comments_from_trees_is_the_strategy_of_before(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_with(fake_reddit_factory, *NAMES)
    trees = scrape_settings(fake, tmp_path / "trees")
    ok(scrape(trees, *NAMES, comments_from="trees"))
    routes = {e["route"] for e in api_requests(fake)}
    assert "comment_listing" not in routes and "about" not in routes
    assert all(len(e.get("members") or [1]) == 1 for e in api_requests(fake))
    auto = scrape_settings(fake, tmp_path / "auto")
    result = ok(scrape(auto, *NAMES))
    assert result.report.comments_from == "auto"
    # a first run in auto fetches the same trees: the same items stored
    assert set(db_ids(str(trees.database.sqlalchemy))) == set(db_ids(str(auto.database.sqlalchemy)))


@pytest.mark.parametrize("comments_from", ["auto", "listing"])
def test_group_requests_match_the_fake_log(
    fake_reddit_factory: FakeFactory, tmp_path: Path, comments_from: str
) -> None:
    fake = fake_with(fake_reddit_factory, *NAMES)
    settings = scrape_settings(fake, tmp_path)
    ok(scrape(settings, *NAMES, comments_from=comments_from))
    for name in NAMES:
        post = fake.fake.world.store.subreddit(name).posts[-2]
        fake.grow(post.name, comments=2)
    fake.clear_log()
    result = ok(scrape(settings, *NAMES, comments_from=comments_from))
    (group,) = result.report.groups.values()
    logged = [e for e in api_requests(fake) if e["route"] in ("listing", "comment_listing")]
    assert group.requests == len(logged)
    assert sum(s.requests for s in result.report.subreddits.values()) == (
        len(api_requests(fake)) - len(logged)
    )
    assert result.report.requests.total - result.report.requests.token == len(api_requests(fake))
    assert all(result.per_source_id[name].inserted == 2 for name in NAMES)


# -- the pure parts: floors from marks, activity samples, silence, due groups --------

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
OVERLAP = timedelta(minutes=5)


def member(
    marks: Marks, comments_from: str = "auto", since: datetime | None = None, name: str = "Python"
) -> Any:
    return build_member(
        SubredditTarget(name=name),
        SubredditStats(),
        marks,
        since=since,
        overlap=OVERLAP,
        comments_from=comments_from,
    )


def test_a_first_run_walks_deep_fetches_trees_and_checks_about() -> None:
    first = member(Marks())
    assert (first.post_floor, first.check, first.trees_for_posts) == (None, True, True)
    assert not first.follow_comments  # the trees cover it; the listing from the next run
    listing = member(Marks(), "listing")
    assert listing.follow_comments and listing.comment_floor is None and not listing.trees_for_posts


def test_floors_come_from_each_mark_less_its_overlap() -> None:
    marks = Marks(latest={("python", "submission"): NOW, ("python", "comment"): NOW})
    followed = member(marks)
    assert followed.post_floor == NOW - OVERLAP
    assert followed.comment_floor == NOW - COMMENT_OVERLAP
    assert followed.follow_comments and not followed.trees_for_posts and not followed.check
    since = NOW - timedelta(days=3)
    backfill = member(marks, since=since)
    assert backfill.post_floor == since and backfill.trees_for_posts


def test_a_subreddit_followed_by_trees_until_now_reads_comments_back_to_its_post_mark() -> None:
    upgraded = member(Marks(latest={("python", "submission"): NOW}))
    assert upgraded.follow_comments and upgraded.comment_floor == NOW - OVERLAP


@given(
    posts=st.integers(0, 10_000),
    comments=st.integers(0, 10_000),
    elapsed=st.floats(1.0, 86_400.0),
)
def test_a_first_sample_is_the_rate_and_later_ones_blend_in(
    posts: int, comments: int, elapsed: float
) -> None:
    state = FollowState(every=300, budget_per_hour=3000)
    state.observe("python", posts, comments, elapsed)
    first = state.activity["python"]
    assert first.posts_per_hour == pytest.approx(posts * 3600 / elapsed)
    assert first.comments_per_hour == pytest.approx(comments * 3600 / elapsed)
    state.observe("python", 0, 0, elapsed)
    blended = state.activity["python"]
    assert 0 <= blended.comments_per_hour <= first.comments_per_hour + 1e-9
    if elapsed >= 3600:  # a sample covering an hour or more replaces the estimate
        assert blended.comments_per_hour == 0


def test_silence_is_suspicious_only_beyond_seven_expected_items() -> None:
    busy = Activity("python", 0.0, 60.0)  # one comment a minute
    assert not silent_too_long(busy, NOW - timedelta(minutes=6), NOW)
    assert silent_too_long(busy, NOW - timedelta(minutes=8), NOW)
    assert not silent_too_long(Activity("quiet", 0.0, 0.1), NOW - timedelta(hours=24), NOW)
    assert not silent_too_long(None, NOW - timedelta(days=9), NOW)
    stored = Marks(activity={("python", "comment"): Stored(30, NOW)})
    assert stored.activity[("python", "comment")].count == 30


def test_only_the_groups_due_are_polled_and_a_busy_one_more_often() -> None:
    clock = ManualClock(NOW.timestamp())
    state = FollowState(every=300, budget_per_hour=3000, clock=clock)
    state.activity = {
        "busy": Activity("busy", 100.0, 400_000 / 24),  # overruns 500 items in 300 s
        "quiet": Activity("quiet", 0.1, 1.0),
        "calm": Activity("calm", 0.2, 3.0),
    }
    state.seeded = True
    marks = Marks(latest={(n, k): NOW for n in state.activity for k in ("submission", "comment")})

    def plan() -> FollowPlan:
        started = datetime.fromtimestamp(clock(), UTC)
        members = [member(marks, name=name) for name in ("busy", "quiet", "calm")]
        return FollowPlan(members, marks, state, listing_cap=1000, started=started)

    first = plan()
    groups = {"+".join(stats.members): group for group, stats in first.due()}
    assert set(groups) == {"busy", "calm+quiet"}  # the busy one alone, all due at first
    assert first.intervals["busy"] < 300 and first.intervals["calm+quiet"] == 300
    for group in groups.values():
        first.polled(group)
    clock.advance(first.intervals["busy"] + 1)
    second = plan()
    assert ["+".join(stats.members) for _, stats in second.due()] == ["busy"]
    assert state.next_in(clock()) is not None and state.next_in(clock()) < 300


def test_a_member_silent_longer_than_its_activity_makes_likely_is_checked_again(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = fake_with(fake_reddit_factory, "python", "rust")
    settings = scrape_settings(fake, tmp_path)
    # a few seconds behind: Reddit's times are whole seconds, and the comments grown
    # below must be newer than the first walk's start to count as new activity
    clock = ManualClock(time.time() - 5)
    follow = FollowState(every=300, budget_per_hour=3000, clock=clock)
    ok(scrape(settings, "python", "rust", follow=follow))  # first seen: both checked
    assert fake.count(route="about") == 2
    post = fake.fake.world.store.subreddit("rust").posts[-1]
    fake.grow(post.name, comments=30)
    clock.advance(600)
    ok(scrape(settings, "python", "rust", follow=follow))  # rust: 180 comments an hour
    fake.fake.world.faults["rust"] = FaultState(FaultSpec(access=Access.BANNED))
    fake.clear_log()
    clock.advance(600)
    third = scrape(settings, "python", "rust", follow=follow)
    assert fake.count(route="about", subreddit="rust") == 1  # silent for 30 expected
    assert third.exit_code == ExitCode.FAILURES
    assert third.errors == ["r/rust: banned or not found (404); skipped"]
    assert third.report.subreddits["python"].status == "done"
    assert ("rust", "checked") in read_marks(settings.database, MARKS).latest


def test_under_every_a_failed_subreddit_waits_its_interval_like_the_others(
    fake_reddit_factory: FakeFactory, tmp_path: Path
) -> None:
    fake = python_beside(fake_reddit_factory, "locked", Access.PRIVATE, posts=10)
    settings = scrape_settings(fake, tmp_path)
    clock = ManualClock(time.time())
    follow = FollowState(every=300, budget_per_hour=3000, clock=clock)
    first = scrape(settings, "python", "locked", follow=follow)
    assert first.exit_code == ExitCode.FAILURES
    assert first.report.groups["locked"].status == "failed"
    assert follow.next_in(clock()) == pytest.approx(300, abs=1)  # not at once
    fake.clear_log()
    idle = scrape(settings, "python", "locked", follow=follow)  # nothing due yet
    assert api_requests(fake) == [] and idle.exit_code == ExitCode.OK
    assert {s.status for s in idle.report.subreddits.values()} == {"idle"}
    clock.advance(300)
    again = scrape(settings, "python", "locked", follow=follow)
    assert again.errors == ["r/locked: private or quarantined (403 Forbidden); skipped"]
    assert fake.count(route="about", subreddit="locked") == 1


def test_a_budget_too_small_for_every_is_said() -> None:
    clock = ManualClock(NOW.timestamp())
    state = FollowState(every=300, budget_per_hour=1, clock=clock)
    state.activity = {"python": Activity("python", 1.0, 50.0)}
    state.seeded = True
    marks = Marks(latest={("python", k): NOW for k in ("submission", "comment")})
    plan = FollowPlan([member(marks)], marks, state, listing_cap=1000, started=NOW)
    ((group, _),) = plan.due()
    assert plan.intervals["python"] > 300
    (warning,) = group[0].stats.warnings
    assert "longer than --every (300 s)" in warning and "--max-requests-per-hour" in warning
