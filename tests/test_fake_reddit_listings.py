"""The fake Reddit's multi-subreddit listings, its comment listing, live mode and clock.

Driven through real asyncpraw where it has a call for the route; raw HTTP where the
shape of the JSON itself is the point.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpraw
import asyncprawcore
import pytest
from asyncpraw.models import Comment
from hypothesis import given, settings
from hypothesis import strategies as st

import sentiment_pipeline
from sentiment_pipeline.fake_reddit import (
    FakeRedditConfig,
    ManualClock,
    RunningFakeReddit,
    SubredditSpec,
    newest,
    parse_value,
)
from sentiment_pipeline.fake_reddit import listing as listing_module
from sentiment_pipeline.fake_reddit.__main__ import config_from_args
from tests.test_fake_reddit import get_token, raw_get, reddit_for

FakeRedditFactory = Callable[..., RunningFakeReddit]
START = 1_750_000_000.0
DAY = 86400.0

# The keys of a comment in Reddit's /r/{sub}/comments.json (recorded answers of 2022 and
# 2026 agree), except body_html: the fake renders no markdown.
RECORDED_LISTING_KEYS = frozenset(
    """subreddit_id approved_at_utc author_is_blocked comment_type link_title
    mod_reason_by banned_by ups num_reports author_flair_type total_awards_received
    subreddit link_author likes replies user_reports saved id banned_at_utc
    mod_reason_title gilded archived collapsed_reason_code no_follow author
    num_comments can_mod_post send_replies parent_id score author_fullname over_18
    report_reasons removal_reason approved_by controversiality body edited
    top_awarded_type downs author_flair_css_class is_submitter collapsed
    author_flair_richtext author_patreon_flair gildings collapsed_reason distinguished
    associated_award stickied author_premium can_gild link_id unrepliable_reason
    author_flair_text_color score_hidden permalink subreddit_type link_permalink name
    author_flair_template_id subreddit_name_prefixed author_flair_text treatment_tags
    created created_utc awarders all_awardings locked author_flair_background_color
    collapsed_because_crowd_control mod_reports quarantine mod_note link_url""".split()  # noqa: SIM905
)


def two_subs(**overrides: Any) -> tuple[SubredditSpec, SubredditSpec]:
    """Two subreddits whose post times interleave (fixed times, so tests are exact)."""
    a = SubredditSpec("alpha", posts=150, seed=1, created_utc_base=START - 60)
    b = SubredditSpec("Beta", posts=120, seed=2, created_utc_base=START - 500)
    return dataclasses.replace(a, **overrides), dataclasses.replace(b, **overrides)


def fullnames(body: dict[str, Any]) -> list[str]:
    return [child["data"]["name"] for child in body["data"]["children"]]


async def walk(fake: RunningFakeReddit, path: str, **params: str) -> list[dict[str, Any]]:
    """Every item of a listing, page by page with ``after`` (raw_json=1)."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        query = {"limit": "100", "raw_json": "1", **params, **({"after": after} if after else {})}
        status, body, _ = await raw_get(fake, path, query)
        assert status == 200, body
        items.extend(child["data"] for child in body["data"]["children"])
        after = body["data"]["after"]
        if after is None:
            return items


# --- multi-subreddit listings ----------------------------------------------------


async def test_a_multi_listing_merges_members_newest_first_and_pages_with_after(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=two_subs(), clock=ManualClock(START))
    reddit = reddit_for(fake)
    try:
        merged = [p async for p in (await reddit.subreddit("alpha+BETA")).new(limit=None)]
        alone = [p async for p in (await reddit.subreddit("alpha")).new(limit=None)]
        alone += [p async for p in (await reddit.subreddit("Beta")).new(limit=None)]
    finally:
        await reddit.close()
    assert len(merged) == 270
    expected = sorted(alone, key=lambda p: (p.created_utc, int(p.id, 36)), reverse=True)
    assert [p.id for p in merged] == [p.id for p in expected]
    assert {p.subreddit.display_name for p in merged} == {"alpha", "Beta"}
    heads = [p.subreddit.display_name for p in merged[:40]]
    assert "alpha" in heads and "Beta" in heads  # interleaved, not one after the other
    multi = [e for e in fake.request_log if e["subreddit"] == "alpha+BETA"]
    assert len(multi) == 3  # 270 items, 100 per page
    assert all(e["members"] == ["alpha", "beta"] and e["route"] == "listing" for e in multi)
    assert fake.count(route="listing", member="BETA") == 3 + 2
    assert all(e["members"] is None for e in fake.request_log if e["route"] == "access_token")


async def test_every_sort_takes_a_multi_and_the_depth_cap_counts_the_merged_list(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=two_subs(), clock=ManualClock(START), listing_cap=130)
    reddit = reddit_for(fake)
    try:
        multi = await reddit.subreddit("alpha+Beta")
        assert len([p async for p in multi.new(limit=None)]) == 130
        for listing in (multi.hot, multi.rising):
            assert {p.subreddit.display_name async for p in listing(limit=None)} <= {
                "alpha",
                "Beta",
            }
        top = [p async for p in multi.top(time_filter="all", limit=None)]
        controversial = [p async for p in multi.controversial(time_filter="all", limit=None)]
    finally:
        await reddit.close()
    assert len(top) == len(controversial) == 130
    assert [p.score for p in top] == sorted((p.score for p in top), reverse=True)
    assert {p.subreddit.display_name for p in top} == {"alpha", "Beta"}


async def test_a_multi_hot_listing_pins_no_stickied_post(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=two_subs(stickied=2), clock=ManualClock(START))
    _, alone, _ = await raw_get(fake, "/r/alpha/hot", {"limit": "2", "raw_json": "1"})
    assert all(child["data"]["stickied"] for child in alone["data"]["children"])
    multi = await walk(fake, "/r/alpha+Beta/hot")
    stickied = [i for i, post in enumerate(multi) if post["stickied"]]
    assert len(stickied) == 4 and stickied != [0, 1, 2, 3]  # ranked by hot like the rest


async def test_unusable_members_are_left_out_of_a_multi_but_fail_alone(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    group = "tiny+private_sub+banned_sub+quarantined_sub+no_such_sub"
    multi = await fake_reddit_client.subreddit(group)
    posts = [p async for p in multi.new(limit=None)]
    comments = [c async for c in multi.comments(limit=None)]
    assert len(posts) == 5 and {p.subreddit.display_name for p in posts} == {"tiny"}
    assert comments and {c.subreddit.display_name for c in comments} == {"tiny"}
    assert fake_reddit.count(subreddit=group, status=200) == 2
    assert fake_reddit.count(member="banned_sub") == 2
    for name, error in (
        ("private_sub", asyncprawcore.Forbidden),
        ("banned_sub", asyncprawcore.NotFound),
        ("quarantined_sub", asyncprawcore.Forbidden),
        ("no_such_sub", asyncprawcore.Redirect),
    ):
        alone = await fake_reddit_client.subreddit(name)
        with pytest.raises(error):
            [p async for p in alone.new(limit=5)]
        with pytest.raises(error):
            [c async for c in alone.comments(limit=5)]
    status, body, _ = await raw_get(fake_reddit, "/r/private_sub+banned_sub/new")
    assert (status, fullnames(body)) == (200, [])


async def test_a_multi_takes_its_members_faults_one_at_a_time(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    multi = await fake_reddit_client.subreddit("tiny+ratelimited_sub+empty_sub")
    with pytest.raises(asyncprawcore.TooManyRequests):
        [p async for p in multi.new(limit=None)]
    posts = [p async for p in multi.new(limit=None)]  # ratelimited_sub's one 429 is spent
    assert {p.subreddit.display_name for p in posts} == {"tiny", "ratelimited_sub"}
    assert len(posts) == 25  # empty_sub's listings stay empty in a multi too
    assert fake_reddit.count(member="ratelimited_sub", status=429) == 1


# --- the comment listing -----------------------------------------------------------


async def test_the_comment_listing_is_every_comment_newest_first_paged_by_after(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    spec = SubredditSpec("chat", posts=30, seed=5, comments_per_post=10, created_utc_base=START)
    fake = fake_reddit_factory(subreddits=(spec,), clock=ManualClock(START + 7200))
    reddit = reddit_for(fake)
    try:
        listed = [c async for c in (await reddit.subreddit("chat")).comments(limit=None)]
    finally:
        await reddit.close()
    assert all(isinstance(c, Comment) for c in listed)
    made = [name for name, _, _ in fake.created() if name.startswith("t1_")]
    assert 0 < len(made) < 1000
    assert sorted(c.fullname for c in listed) == sorted(made)
    keys = [(c.created_utc, int(c.id, 36)) for c in listed]
    assert keys == sorted(keys, reverse=True)
    assert fake.count(route="comment_listing") == -(-len(made) // 100)
    assert fake.count(route="comments") == 0  # not the comment-tree route


async def test_comment_listing_pages_limits_and_before(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    spec = SubredditSpec("chat", posts=30, seed=5, comments_per_post=10, created_utc_base=START)
    fake = fake_reddit_factory(subreddits=(spec,), clock=ManualClock(START + 7200))
    _, first, _ = await raw_get(fake, "/r/chat/comments", {"raw_json": "1"})
    assert first["data"]["dist"] == 25 and first["data"]["before"] is None  # default limit
    _, big, _ = await raw_get(fake, "/r/chat/comments", {"limit": "500"})
    assert big["data"]["dist"] == 100
    _, second, _ = await raw_get(fake, "/r/chat/comments", {"after": first["data"]["after"]})
    assert fullnames(second)[0] not in fullnames(first)
    assert second["data"]["before"] == fullnames(second)[0]
    _, back, _ = await raw_get(fake, "/r/chat/comments", {"before": second["data"]["before"]})
    assert fullnames(back) == fullnames(first)
    _, unknown, _ = await raw_get(fake, "/r/chat/comments", {"after": "t1_zzzzzzzz"})
    assert fullnames(unknown) == [] and unknown["data"]["after"] is None


async def test_the_comment_listing_stops_at_the_depth_cap(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    spec = SubredditSpec("deep", posts=80, seed=8, comments_per_post=20, created_utc_base=START)
    fake = fake_reddit_factory(subreddits=(spec,), clock=ManualClock(START + DAY))
    assert len([n for n, _, _ in fake.created() if n.startswith("t1_")]) > 1000
    reddit = reddit_for(fake)
    try:
        listed = [c.id async for c in (await reddit.subreddit("deep")).comments(limit=None)]
    finally:
        await reddit.close()
    assert len(listed) == len(set(listed)) == 1000
    assert fake.count(route="comment_listing") == 10


async def test_comment_listing_items_have_reddits_fields_and_agree_with_the_tree(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    spec = SubredditSpec("shape", posts=4, seed=9, comments_per_post=15, created_utc_base=START)
    fake = fake_reddit_factory(
        subreddits=(spec,), clock=ManualClock(START + DAY), comment_budget=500, max_comment_depth=50
    )
    listed = await walk(fake, "/r/shape/comments")
    assert listed
    for item in listed:
        gone = {"author_fullname"} if item["author"] == "[deleted]" else set()  # as Reddit
        assert set(item) == RECORDED_LISTING_KEYS - gone
        assert item["replies"] == "" and item["link_permalink"].startswith("https://www.reddit")
    by_id = {item["id"]: item for item in listed}
    posts = {p["name"]: p for p in await walk(fake, "/r/shape/new")}
    same = ("id", "name", "body", "created_utc", "score", "subreddit", "author", "parent_id")
    for link, post in posts.items():
        _, (_, tree), _ = await raw_get(fake, f"/comments/{post['id']}/", {"raw_json": "1"})
        stack, seen = list(tree["data"]["children"]), 0
        while stack:
            thing = stack.pop()
            assert thing["kind"] == "t1"  # the whole tree in one answer
            node = thing["data"]
            if node["replies"]:
                stack.extend(node["replies"]["data"]["children"])
            item, seen = by_id[node["id"]], seen + 1
            assert {k: item[k] for k in same} == {k: node[k] for k in same}
            assert set(node) - {"depth"} <= set(item)
            assert item["link_id"] == link and item["num_comments"] == post["num_comments"]
            assert (item["link_title"], item["link_author"], item["link_url"]) == (
                post["title"],
                post["author"],
                post["url"],
            )
            assert item["link_permalink"] == "https://www.reddit.com" + post["permalink"]
        assert seen == post["num_comments"]
    some = ",".join(item["name"] for item in listed[:5])
    _, info, _ = await raw_get(fake, "/api/info", {"id": some, "raw_json": "1"})
    for shown in info["data"]["children"]:
        assert shown["data"]["body"] == by_id[shown["data"]["id"]]["body"]


async def test_a_multi_comment_listing_merges_members(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=two_subs(posts=20), clock=ManualClock(START + 3600))
    merged = await walk(fake, "/r/alpha+beta/comments")
    alone = await walk(fake, "/r/alpha/comments") + await walk(fake, "/r/Beta/comments")
    assert len(merged) == len(alone) and {c["subreddit"] for c in merged} == {"alpha", "Beta"}
    keys = [(c["created_utc"], int(c["id"], 36)) for c in merged]
    assert keys == sorted(keys, reverse=True)
    assert fake.count(route="comment_listing", subreddit="alpha+beta") >= 1
    assert fake.count(route="comment_listing", member="alpha") == fake.count(
        route="comment_listing", subreddit="alpha+beta"
    ) + fake.count(route="comment_listing", subreddit="alpha")


async def test_grown_comments_top_the_comment_listing(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    clock = ManualClock(START + 3600)
    fake = fake_reddit_factory(subreddits=two_subs(posts=10), clock=clock)
    await walk(fake, "/r/alpha/comments")  # the index exists from here on
    post = (await walk(fake, "/r/alpha/new"))[3]
    clock.advance(60)
    added = fake.grow(post["name"], comments=2)
    _, body, _ = await raw_get(fake, "/r/alpha/comments", {"limit": "2"})
    assert fullnames(body) == list(reversed(added))
    assert body["data"]["children"][0]["data"]["num_comments"] == post["num_comments"] + 2


# --- newest-first paging equals the reference paginate -----------------------------


@dataclasses.dataclass(frozen=True)
class Item:
    name: str
    created_utc: float


@settings(max_examples=150, deadline=None)
@given(
    times=st.lists(st.lists(st.integers(0, 30), max_size=25), min_size=1, max_size=3),
    limit=st.integers(1, 12),
    cap=st.one_of(st.none(), st.integers(1, 40)),
    cursor=st.integers(0, 80),
    direction=st.sampled_from(["after", "before", "none"]),
    overlap=st.booleans(),
)
def test_newest_page_matches_paginate_on_the_merged_list(
    times: list[list[int]],
    limit: int,
    cap: int | None,
    cursor: int,
    direction: str,
    overlap: bool,
) -> None:
    indices: list[newest.TimeIndex[Item]] = []
    every: list[Item] = []
    number = 0
    for member in times:
        index: newest.TimeIndex[Item] = newest.TimeIndex()
        for created in member:  # arrival order, not time order: inserts must sort
            number += 1
            item = Item(f"t1_{number:x}", float(created))
            index.add(item.created_utc, item)
            every.append(item)
        indices.append(index)
    merged = sorted(every, key=lambda i: newest.key_of(i.created_utc, i.name), reverse=True)
    name = every[cursor % len(every)].name if every and direction != "none" else None
    paging = {"after": name if direction == "after" else None, "before": None}
    paging["before"] = name if direction == "before" else None
    got = newest.page(indices, limit=limit, cap=cap, overlap=overlap, **paging)
    want = listing_module.paginate(
        merged,  # type: ignore[arg-type]  # only .name is used
        limit=limit,
        cap=cap,
        overlap=overlap,
        **paging,
    )
    assert [i.name for i in got.items] == [i.name for i in want.posts]
    assert (got.after, got.before) == (want.after, want.before)


# --- live mode ---------------------------------------------------------------------


def live_spec(**overrides: Any) -> SubredditSpec:
    """100 posts, one every 2 h (the oldest 8 days old), then live activity."""
    base = SubredditSpec(
        "live",
        posts=100,
        seed=4,
        comments_per_post=3,
        post_interval_seconds=7200,
        posts_per_day=96,
        comments_per_day=2400,
        old_post_share=0.2,
    )
    return dataclasses.replace(base, **overrides)


async def test_advancing_the_clock_brings_new_posts_and_comments_everywhere(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    clock = ManualClock(START)
    fake = fake_reddit_factory(subreddits=(live_spec(),), clock=clock)
    reddit = reddit_for(fake)
    try:
        sub = await reddit.subreddit("live")
        first_posts = [p.id async for p in sub.new(limit=None)]
        first_comments = [c.id async for c in sub.comments(limit=None)]
        fake.advance(3 * 3600)
        posts = [p async for p in sub.new(limit=None)]
        comments = [c async for c in sub.comments(limit=None)]
        fresh_post = posts[0]
        assert fresh_post.created_utc > START and fresh_post.id not in first_posts
        submission = await reddit.submission(comments[0].submission.id)
        await submission.comments.replace_more(limit=None)
        tree_ids = {c.id for c in submission.comments.list() if isinstance(c, Comment)}
        info = [i.fullname async for i in reddit.info(fullnames=[posts[0].name, comments[0].name])]
    finally:
        await reddit.close()
    new_posts = [p for p in posts if p.created_utc > START]
    new_comments = [c for c in comments if c.created_utc > START]
    assert 6 <= len(new_posts) <= 30  # 12 expected in 3 h
    assert 150 <= len(new_comments) <= 500  # 300 expected
    assert [p.id for p in posts[len(new_posts) :]] == first_posts[: len(posts) - len(new_posts)]
    assert not {c.id for c in new_comments} & set(first_comments)
    assert comments[0].id in tree_ids and len(tree_ids) == submission.num_comments
    assert info == [posts[0].name, comments[0].name]
    assert all(c.created_utc <= clock() for c in comments)


async def test_live_comments_reach_old_and_young_posts_and_replies(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    clock = ManualClock(START)
    fake = fake_reddit_factory(subreddits=(live_spec(),), clock=clock)
    fake.advance(DAY)
    comments = await walk(fake, "/r/live/comments")  # the newest 1000 of ~2400 + ~300
    assert len(comments) == 1000 and all(c["created_utc"] > START for c in comments)
    posts = {p["name"]: p for p in await walk(fake, "/r/live/new")}
    ages = [c["created_utc"] - posts[c["link_id"]]["created_utc"] for c in comments]
    old = sum(age > 3 * DAY for age in ages)
    assert 0.1 < old / len(ages) < 0.3  # old_post_share 0.2
    assert sum(age < 6 * 3600 for age in ages) > len(ages) / 3  # young, mostly new posts
    replies = sum(c["parent_id"].startswith("t1_") for c in comments)
    assert 0.15 < replies / len(comments) < 0.45  # reply_share 0.3 (fewer: gone parents)
    assert all(c["edited"] is False for c in comments)


def test_live_activity_is_deterministic_for_a_seed_however_the_clock_moves(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    steps = fake_reddit_factory(subreddits=(live_spec(),), clock=ManualClock(START))
    leap = fake_reddit_factory(subreddits=(live_spec(),), clock=ManualClock(START))
    other = fake_reddit_factory(subreddits=(live_spec(seed=5),), clock=ManualClock(START))

    async def read(fake: RunningFakeReddit) -> Any:
        return await walk(fake, "/r/live/comments"), await walk(fake, "/r/live/new")

    for _ in range(12):
        steps.advance(1800)
        asyncio.run(read(steps))  # materialised in steps, with the index built early
    leap.advance(6 * 3600)
    other.advance(6 * 3600)
    assert steps.created() == leap.created()
    assert asyncio.run(read(steps)) == asyncio.run(read(leap))
    assert steps.created() != other.created()


async def test_created_lists_what_the_listings_serve(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    clock = ManualClock(START)
    fake = fake_reddit_factory(subreddits=(live_spec(),), clock=clock)
    fake.advance(4 * 3600)
    made = fake.created(since=START + 1)
    assert made and all(sub == "live" and START < at <= clock() for _, sub, at in made)
    assert made == sorted(made, key=lambda item: (item[2], item[0]))
    posts = {p["name"]: p["created_utc"] for p in await walk(fake, "/r/live/new")}
    comments = {c["name"]: c["created_utc"] for c in await walk(fake, "/r/live/comments")}
    listed = {**posts, **comments}
    assert {name: at for name, _, at in made} == {
        name: at for name, at in listed.items() if at >= START + 1
    }
    everything = fake.created()
    assert len(everything) == len(listed)  # fewer than 1000 comments: nothing capped


async def test_live_posts_arrive_in_a_multi_next_to_a_quiet_member(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    quiet = SubredditSpec("quiet", posts=10, seed=3)
    clock = ManualClock(START)
    fake = fake_reddit_factory(subreddits=(live_spec(), quiet), clock=clock)
    fake.advance(6 * 3600)
    merged = await walk(fake, "/r/live+quiet/new")
    assert merged[0]["subreddit"] == "live" and merged[0]["created_utc"] > START
    assert sum(p["subreddit"] == "quiet" for p in merged) == 10


def test_live_presets_and_validation() -> None:
    spec = parse_value("x", "500,interval:1800,posts/day:2000,comments/day:2e4,old:0.05")
    assert (spec.posts, spec.post_interval_seconds) == (500, 1800.0)
    assert (spec.posts_per_day, spec.comments_per_day) == (2000.0, 20000.0)
    assert (spec.old_post_share, parse_value("y", "replies:0.5").reply_share) == (0.05, 0.5)
    assert spec.live and not parse_value("z", "10").live
    for bad in ("old:1.5", "replies:-0.1", "posts/day:-1", "old:"):
        with pytest.raises(ValueError):
            parse_value("x", bad)


def test_cli_clock_start() -> None:
    before = time.time()
    relative = config_from_args(["--clock-start", "-86400", "--subreddit", "x=posts/day:5"])
    assert isinstance(relative.clock, ManualClock)
    assert before - DAY - 1 <= relative.clock() <= time.time() - DAY
    assert relative.subreddits[0].posts_per_day == 5.0
    fixed = config_from_args(["--clock-start", "1700000000"])
    assert isinstance(fixed.clock, ManualClock) and fixed.clock() == 1_700_000_000.0
    assert not isinstance(config_from_args([]).clock, ManualClock)


# --- the clock path ----------------------------------------------------------------


async def test_the_clock_path_reads_and_advances_a_manual_clock(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=(live_spec(),), clock=ManualClock(START))
    async with aiohttp.ClientSession() as session:  # no token: the path needs none
        async with session.get(f"{fake.url}/_fake/clock") as resp:
            assert (resp.status, await resp.json()) == (200, {"now": START})
        async with session.post(f"{fake.url}/_fake/clock.json?advance=3600") as resp:
            assert (resp.status, await resp.json()) == (200, {"now": START + 3600})
        for bad in ("-5", "soon", "nan", ""):
            async with session.post(f"{fake.url}/_fake/clock", params={"advance": bad}) as resp:
                assert resp.status == 400
        token = await get_token(session, fake)
        async with session.get(
            f"{fake.url}/r/live/new",
            params={"limit": "1", "raw_json": "1"},
            headers={"Authorization": f"bearer {token}"},
        ) as resp:
            newest_post = (await resp.json())["data"]["children"][0]["data"]
    assert START < newest_post["created_utc"] <= START + 3600
    assert fake.advance(60) == fake.now() == START + 3660
    assert fake.count(route="fake_clock") == 6
    assert fake.count(route="fake_clock", status=200) == 2
    assert all(e["client_id"] is None for e in fake.request_log if e["route"] == "fake_clock")


async def test_the_clock_path_refuses_to_move_a_real_clock(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=(SubredditSpec("x", posts=1),))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake.url}/_fake/clock?advance=10") as resp:
            assert resp.status == 409
        async with session.get(f"{fake.url}/_fake/clock") as resp:
            assert abs((await resp.json())["now"] - time.time()) < 60
    with pytest.raises(TypeError):
        fake.advance(10)


def test_created_without_live_subreddits_lists_the_generated_items(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    spec = SubredditSpec("x", posts=3, comments_per_post=4)
    fake = fake_reddit_factory(FakeRedditConfig(subreddits=(spec,)))
    made = fake.created()
    posts = fake.fake.world.store.subreddit("x").posts  # type: ignore[union-attr]
    assert [n for n, _, _ in made if n.startswith("t3_")] == [p.name for p in posts]
    assert sum(n.startswith("t1_") for n, _, _ in made) == sum(p.num_comments for p in posts)


async def test_the_cli_replays_a_day_on_a_manual_clock() -> None:
    package_root = Path(sentiment_pipeline.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package_root), *sys.path])}
    command = [
        sys.executable,
        "-m",
        "sentiment_pipeline.fake_reddit",
        "--no-pacing",
        "--clock-start",
        "-86400",
        "--subreddit",
        "busy=20,posts/day:480,comments/day:2400",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().rsplit(" ", 1)[-1].strip()
        assert "manual clock" in proc.stdout.readline() + proc.stdout.readline()
        reddit = asyncpraw.Reddit(
            client_id="fake-client-id",
            client_secret="fake-client-secret",
            user_agent="sentpipe-tests/0.1",
            oauth_url=url,
            reddit_url=url,
            check_for_updates=False,
        )
        try:
            sub = await reddit.subreddit("busy")
            assert len([p async for p in sub.new(limit=None)]) == 20
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{url}/_fake/clock", params={"advance": "3600"}) as r,
            ):
                now = (await r.json())["now"]
            assert abs(now - (time.time() - DAY + 3600)) < 120
            posts = [p async for p in sub.new(limit=None)]
            comments = [c async for c in sub.comments(limit=None)]
        finally:
            await reddit.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert len(posts) > 20 and posts[0].created_utc > now - 3600
    assert any(c.created_utc > now - 3600 for c in comments)
