"""Tests of the fake Reddit test double, driven through real asyncpraw."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpraw
import asyncprawcore
import pytest
from asyncpraw.models import Comment, MoreComments

import sentiment_pipeline
from sentiment_pipeline.fake_reddit import (
    NO_PACING_RATE_LIMIT,
    Access,
    FakeReddit,
    FakeRedditConfig,
    ManualClock,
    RunningFakeReddit,
    SubredditSpec,
    config_from_dict,
    fixture_config,
    parse_arg,
    parse_value,
    run_fake_reddit,
    serve,
)
from sentiment_pipeline.fake_reddit.__main__ import config_from_args
from sentiment_pipeline.fake_reddit.runner import check_loopback

FakeRedditFactory = Callable[..., RunningFakeReddit]


def reddit_for(fake: RunningFakeReddit, **kwargs: Any) -> asyncpraw.Reddit:
    return asyncpraw.Reddit(**{**fake.reddit_kwargs(), **kwargs})


async def get_token(session: aiohttp.ClientSession, fake: RunningFakeReddit) -> str:
    auth = aiohttp.encode_basic_auth(fake.config.client_id, fake.config.client_secret)
    async with session.post(
        f"{fake.url}/api/v1/access_token",
        headers={"Authorization": auth},
        data={"grant_type": "client_credentials"},
    ) as resp:
        assert resp.status == 200
        return str((await resp.json())["access_token"])


async def raw_get(
    fake: RunningFakeReddit, path: str, params: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    """GET with a fresh token and no asyncprawcore (so no implicit raw_json=1)."""
    async with aiohttp.ClientSession() as session:
        token = await get_token(session, fake)
        headers = {"Authorization": f"bearer {token}"}
        async with session.get(
            fake.url + path, params=params or {}, headers=headers, allow_redirects=False
        ) as resp:
            body = await resp.json(content_type=None) if resp.status != 302 else None
            return resp.status, body, dict(resp.headers)


# --- listings -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_250_posts_in_exactly_three_listing_requests(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(subreddits=(SubredditSpec("gen", posts=250, seed=7),))
    reddit = reddit_for(fake)
    try:
        subreddit = await reddit.subreddit("gen")
        posts = [p async for p in subreddit.new(limit=None)]
    finally:
        await reddit.close()
    assert len(posts) == 250
    assert len({p.id for p in posts}) == 250
    assert fake.count(route="listing", subreddit="gen") == 3
    assert fake.count(route="access_token") == 1
    limits = [e["query"]["limit"] for e in fake.request_log if e["route"] == "listing"]
    assert limits == ["1024"] * 3  # asyncpraw asks for 1024; the server caps at 100


@pytest.mark.asyncio
async def test_limit_250_on_a_bigger_subreddit_also_takes_three_requests(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    subreddit = await fake_reddit_client.subreddit("stocks")
    posts = [p async for p in subreddit.new(limit=250)]
    assert len(posts) == 250
    assert fake_reddit.count(route="listing", subreddit="stocks") == 3
    created = [p.created_utc for p in posts]
    assert created == sorted(created, reverse=True)
    assert all(isinstance(c, float) for c in created)


@pytest.mark.asyncio
async def test_listing_shape_and_cursors(fake_reddit: RunningFakeReddit) -> None:
    status, body, _ = await raw_get(fake_reddit, "/r/stocks/new", {"limit": "5"})
    assert status == 200
    assert body["kind"] == "Listing"
    data = body["data"]
    assert set(data) >= {"after", "before", "dist", "children"}
    assert data["dist"] == 5 and data["before"] is None
    child = data["children"][0]
    assert child["kind"] == "t3"
    assert child["data"]["name"] == "t3_" + child["data"]["id"]
    assert data["after"] == data["children"][-1]["data"]["name"]
    _, page2, _ = await raw_get(
        fake_reddit, "/r/stocks/new", {"limit": "5", "after": data["after"]}
    )
    assert page2["data"]["before"] == page2["data"]["children"][0]["data"]["name"]
    _, back, _ = await raw_get(
        fake_reddit, "/r/stocks/new", {"limit": "5", "before": page2["data"]["before"]}
    )
    assert [c["data"]["id"] for c in back["data"]["children"]] == [
        c["data"]["id"] for c in data["children"]
    ]


@pytest.mark.asyncio
async def test_listing_depth_cap(fake_reddit_factory: FakeRedditFactory) -> None:
    fake = fake_reddit_factory(subreddits=(SubredditSpec("deep", posts=300),), listing_cap=120)
    reddit = reddit_for(fake)
    try:
        subreddit = await reddit.subreddit("deep")
        posts = [p async for p in subreddit.new(limit=None)]
    finally:
        await reddit.close()
    assert len(posts) == 120


@pytest.mark.asyncio
async def test_hot_puts_stickied_first_and_top_respects_time_filter(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    subreddit = await fake_reddit_client.subreddit("stocks")
    hot = [p async for p in subreddit.hot(limit=5)]
    assert hot[0].stickied
    assert not any(p.stickied for p in hot[1:])
    day = [p async for p in subreddit.top(time_filter="day", limit=None)]
    everything = [p async for p in subreddit.top(time_filter="all", limit=None)]
    assert 0 < len(day) < len(everything) == 300
    scores = [p.score for p in everything]
    assert scores == sorted(scores, reverse=True)
    assert [p async for p in subreddit.rising(limit=5)]
    assert [p async for p in subreddit.controversial(time_filter="all", limit=5)]


@pytest.mark.asyncio
async def test_add_posts_shows_new_posts_first(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    subreddit = await fake_reddit_client.subreddit("tiny")
    before = [p.id async for p in subreddit.new(limit=None)]
    new_ids = fake_reddit.add_posts("tiny", 3)
    after = [p.id async for p in subreddit.new(limit=None)]
    assert after == list(reversed(new_ids)) + before
    assert set(new_ids).isdisjoint(before)


# --- comments -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_replace_more_walks_the_whole_tree_without_duplicates(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(
        subreddits=(SubredditSpec("threads", posts=6, comments_per_post=120, seed=3),),
        comment_budget=15,
        max_comment_depth=3,
        morechildren_batch=25,
    )
    reddit = reddit_for(fake)
    try:
        subreddit = await reddit.subreddit("threads")
        async for post in subreddit.new(limit=None):
            submission = await reddit.submission(post.id)
            await submission.comments.replace_more(limit=None)
            flat = [c for c in submission.comments.list() if isinstance(c, Comment)]
            assert len(flat) == len(submission.comments.list())
            ids = [c.id for c in flat]
            assert len(ids) == len(set(ids)) == submission.num_comments
            for comment in flat:
                assert comment.link_id == submission.fullname
    finally:
        await reddit.close()
    assert fake.count(route="morechildren") > 0
    assert fake.count(route="continue_thread") > 0
    morechildren = [e for e in fake.request_log if e["route"] == "morechildren"]
    assert all(e["path"] == "/api/morechildren/" for e in morechildren)
    comment_paths = [e["path"] for e in fake.request_log if e["route"] == "comments"]
    assert all(p.endswith("/") for p in comment_paths)


@pytest.mark.asyncio
async def test_comment_listing_shape(fake_reddit_factory: FakeRedditFactory) -> None:
    fake = fake_reddit_factory(
        subreddits=(SubredditSpec("shape", posts=3, comments_per_post=80, seed=9),),
        comment_budget=40,
        max_comment_depth=2,
    )
    post = max(
        fake.fake.world.store.subreddit("shape").posts,  # type: ignore[union-attr]
        key=lambda p: p.num_comments,
    )
    status, body, _ = await raw_get(fake, f"/comments/{post.id}/", {"raw_json": "1"})
    assert status == 200
    submission_listing, comment_listing = body
    assert submission_listing["data"]["children"][0]["data"]["id"] == post.id
    kinds: collections.Counter[str] = collections.Counter()
    stubs: list[dict[str, Any]] = []

    def walk(things: list[dict[str, Any]]) -> None:
        for thing in things:
            kinds[thing["kind"]] += 1
            if thing["kind"] == "more":
                stubs.append(thing["data"])
            elif thing["data"]["replies"]:
                walk(thing["data"]["replies"]["data"]["children"])

    walk(comment_listing["data"]["children"])
    assert kinds["t1"] == 40
    assert any(s["count"] == 0 and s["children"] == [] for s in stubs)
    batch = next(s for s in stubs if s["count"] > 0)
    assert batch["count"] == len(batch["children"])
    async with aiohttp.ClientSession() as session:
        token = await get_token(session, fake)
        async with session.post(
            f"{fake.url}/api/morechildren/",
            params={"raw_json": "1"},
            data={
                "api_type": "json",
                "children": ",".join(batch["children"]),
                "link_id": post.name,
                "sort": "confidence",
            },
            headers={"Authorization": f"bearer {token}"},
        ) as resp:
            result = await resp.json()
    things = result["json"]["data"]["things"]
    seen = {batch["parent_id"]}
    for thing in things:  # flat, parents first
        if thing["kind"] == "t1":
            assert thing["data"]["parent_id"] in seen or thing["data"]["parent_id"].startswith(
                "t3_"
            )
            assert thing["data"]["replies"] == ""
            seen.add(thing["data"]["name"])


@pytest.mark.asyncio
async def test_concurrent_morechildren_from_one_client_gets_429(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(
        subreddits=(SubredditSpec("busy", posts=2, comments_per_post=100, seed=4),),
        comment_budget=5,
        morechildren_latency=0.3,
    )
    reddit = reddit_for(fake)
    try:
        subreddit = await reddit.subreddit("busy")
        post = max([p async for p in subreddit.new()], key=lambda p: p.num_comments)
        submission = await reddit.submission(post.id)
        more = next(
            c for c in submission.comments.list() if isinstance(c, MoreComments) and c.count > 0
        )
        results = await asyncio.gather(more.comments(), more.comments(), return_exceptions=True)
    finally:
        await reddit.close()
    assert sum(isinstance(r, asyncprawcore.TooManyRequests) for r in results) == 1
    assert fake.count(route="morechildren", status=429) == 1


# --- faults -------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("private_sub", asyncprawcore.Forbidden),
        ("quarantined_sub", asyncprawcore.Forbidden),
        ("banned_sub", asyncprawcore.NotFound),
        ("no_such_sub", asyncprawcore.Redirect),
    ],
)
async def test_access_faults(
    fake_reddit_client: asyncpraw.Reddit, name: str, error: type[Exception]
) -> None:
    subreddit = await fake_reddit_client.subreddit(name)
    with pytest.raises(error) as excinfo:
        await subreddit.load()
    with pytest.raises(error):
        [p async for p in subreddit.new(limit=5)]
    if isinstance(excinfo.value, asyncprawcore.Redirect):
        assert excinfo.value.path == "/subreddits/search"


@pytest.mark.asyncio
async def test_access_fault_bodies(fake_reddit: RunningFakeReddit) -> None:
    status, body, headers = await raw_get(fake_reddit, "/r/private_sub/new")
    assert (status, body["reason"]) == (403, "private")
    assert "www-authenticate" not in {k.lower() for k in headers}
    status, body, _ = await raw_get(fake_reddit, "/r/banned_sub/about")
    assert (status, body["reason"]) == (404, "banned")
    status, body, _ = await raw_get(fake_reddit, "/r/quarantined_sub/hot")
    assert (status, body["reason"]) == (403, "quarantined")
    status, _, headers = await raw_get(fake_reddit, "/r/nope/new")
    assert status == 302
    assert "/subreddits/search" in headers["Location"]


@pytest.mark.asyncio
async def test_429_n_times_then_ok(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    subreddit = await fake_reddit_client.subreddit("ratelimited_sub")
    with pytest.raises(asyncprawcore.TooManyRequests) as excinfo:
        [p async for p in subreddit.new(limit=5)]
    assert excinfo.value.retry_after == "1"
    assert len([p async for p in subreddit.new(limit=5)]) == 5
    assert fake_reddit.count(subreddit="ratelimited_sub", status=429) == 1


@pytest.mark.asyncio
@pytest.mark.usefixtures("no_retry_sleep")
async def test_server_errors_retried_then_raised(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    flaky = await fake_reddit_client.subreddit("flaky_sub")  # 503 twice, then OK
    assert len([p async for p in flaky.new(limit=5)]) == 5
    assert fake_reddit.count(subreddit="flaky_sub", status=503) == 2
    broken = await fake_reddit_client.subreddit("broken_sub")  # 500 five times
    with pytest.raises(asyncprawcore.ServerError):
        [p async for p in broken.new(limit=5)]
    assert fake_reddit.count(subreddit="broken_sub", status=500) == 3  # 1 try + 2 retries


@pytest.mark.asyncio
async def test_empty_and_slow_subreddits(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(
        subreddits=(parse_value("e", "10,empty"), parse_value("s", "10,slow:0.3"))
    )
    reddit = reddit_for(fake)
    try:
        assert [p async for p in (await reddit.subreddit("e")).new()] == []
        started = time.monotonic()
        assert len([p async for p in (await reddit.subreddit("s")).new()]) == 10
        assert time.monotonic() - started >= 0.3
    finally:
        await reddit.close()


# --- auth and rate limits -------------------------------------------------------


@pytest.mark.asyncio
async def test_wrong_client_secret_is_a_401_response_exception(
    fake_reddit: RunningFakeReddit,
) -> None:
    reddit = reddit_for(fake_reddit, client_secret="wrong")
    try:
        with pytest.raises(asyncprawcore.ResponseException) as excinfo:
            await (await reddit.subreddit("stocks")).load()
    finally:
        await reddit.close()
    assert excinfo.value.response.status == 401
    assert fake_reddit.count(route="access_token", status=401) == 1


@pytest.mark.asyncio
async def test_password_grant(fake_reddit: RunningFakeReddit) -> None:
    good = reddit_for(fake_reddit, username="fake-user", password="fake-password")
    bad = reddit_for(fake_reddit, username="fake-user", password="nope")
    try:
        assert len([p async for p in (await good.subreddit("tiny")).new()]) == 5
        with pytest.raises(asyncprawcore.OAuthException) as excinfo:
            await (await bad.subreddit("tiny")).load()
    finally:
        await good.close()
        await bad.close()
    assert excinfo.value.error == "invalid_grant"


@pytest.mark.asyncio
@pytest.mark.usefixtures("no_retry_sleep")
async def test_expired_token_is_refreshed_and_retried(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    clock = ManualClock()
    fake = fake_reddit_factory(clock=clock, token_ttl_seconds=3600)
    reddit = reddit_for(fake)
    try:
        subreddit = await reddit.subreddit("tiny")
        await subreddit.load()
        clock.advance(3601)  # server-side expiry; asyncprawcore still trusts its token
        assert len([p async for p in subreddit.new()]) == 5
        fake.expire_tokens()  # server-side revocation
        assert len([p async for p in subreddit.new()]) == 5
    finally:
        await reddit.close()
    assert fake.count(route="access_token") == 3
    assert fake.count(status=401) == 2


@pytest.mark.asyncio
async def test_invalid_token_header(fake_reddit: RunningFakeReddit) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{fake_reddit.url}/r/stocks/new", headers={"Authorization": "bearer nope"}
        ) as resp,
    ):
        assert resp.status == 401
        assert "invalid_token" in resp.headers["www-authenticate"]


@pytest.mark.asyncio
async def test_ratelimit_headers(fake_reddit_factory: FakeRedditFactory) -> None:
    fake = fake_reddit_factory(rate_limit=1000)
    async with aiohttp.ClientSession() as session:
        token = await get_token(session, fake)
        headers = {"Authorization": f"bearer {token}"}
        seen = []
        for _ in range(3):
            async with session.get(f"{fake.url}/r/tiny/new", headers=headers) as resp:
                seen.append(resp.headers)
    assert [h["x-ratelimit-used"] for h in seen] == ["1", "2", "3"]
    assert [h["x-ratelimit-remaining"] for h in seen] == ["999.0", "998.0", "997.0"]
    assert all(1 <= int(h["x-ratelimit-reset"]) <= 600 for h in seen)


@pytest.mark.asyncio
async def test_asyncprawcore_reads_ratelimit_headers(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    await (await fake_reddit_client.subreddit("tiny")).load()
    core = fake_reddit_client._core
    assert core is not None
    limiter = core.rate_limiter
    assert limiter.used == 1
    assert limiter.remaining == NO_PACING_RATE_LIMIT - 1


@pytest.mark.asyncio
async def test_exceeding_the_rate_limit_is_429(
    fake_reddit_factory: FakeRedditFactory,
) -> None:
    fake = fake_reddit_factory(rate_limit=2)
    async with aiohttp.ClientSession() as session:
        token = await get_token(session, fake)
        headers = {"Authorization": f"bearer {token}"}
        statuses = []
        for _ in range(3):
            async with session.get(f"{fake.url}/r/tiny/new", headers=headers) as resp:
                statuses.append(resp.status)
                last = resp.headers
    assert statuses == [200, 200, 429]
    assert "Retry-After" in last and last["x-ratelimit-remaining"] == "0.0"


# --- content --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_raw_json_escaping(fake_reddit: RunningFakeReddit) -> None:
    def titles(body: dict[str, Any]) -> list[str]:
        return [c["data"]["title"] for c in body["data"]["children"]]

    _, escaped, _ = await raw_get(fake_reddit, "/r/hostile/new", {"limit": "100"})
    _, raw, _ = await raw_get(fake_reddit, "/r/hostile/new", {"limit": "100", "raw_json": "1"})
    assert any(t.startswith("<script>") for t in titles(raw))
    assert any(t.startswith("&lt;script&gt;") for t in titles(escaped))
    assert any("&amp;amp;" in t for t in titles(escaped))


@pytest.mark.asyncio
async def test_hostile_content_survives_asyncpraw(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    subreddit = await fake_reddit_client.subreddit("hostile")
    posts = [p async for p in subreddit.new(limit=None)]
    titles = [p.title for p in posts]
    bodies = [getattr(p, "selftext", None) for p in posts]
    assert any("\x00" in t for t in titles)
    assert any("\u200d" in t for t in titles)  # ZWJ emoji
    assert any("\u202e" in t for t in titles)
    assert any(len(t) == 300 for t in titles)
    assert any(b is not None and len(b) >= 200 * 1024 for b in bodies)
    assert any(t.startswith("=") and "," in t and "\n" in t for t in titles)
    assert any(p.author is None and p.selftext == "[removed]" for p in posts)
    assert any(not hasattr(p, "link_flair_text") for p in posts)


@pytest.mark.asyncio
async def test_hostile_repeats_an_id_across_pages(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    subreddit = await fake_reddit_client.subreddit("hostile")
    ids = [p.id async for p in subreddit.new(limit=None)]
    repeated = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert len(repeated) == fake_reddit.count(route="listing", subreddit="hostile") - 1
    assert len(set(ids)) == 150


def test_num_comments_matches_tree_and_ids_look_real() -> None:
    fake = FakeReddit(fixture_config())
    state = fake.world.store.subreddit("wallstreet")
    assert state is not None
    for post in state.posts:
        tree = state.tree(post, time.time())
        assert tree.count() == post.num_comments == post.data["num_comments"]
        assert post.id.isalnum() and post.id == post.id.lower()
        assert post.data["name"] == f"t3_{post.id}"
        assert isinstance(post.data["created_utc"], float)
        assert post.data["edited"] is False or isinstance(post.data["edited"], float)
        for node in tree.by_id.values():
            assert node.data["name"] == f"t1_{node.id}"
            assert node.data["link_id"] == post.name


def test_generation_is_deterministic_from_seed() -> None:
    def snapshot(seed: int) -> list[Any]:
        spec = SubredditSpec("det", posts=40, seed=seed, created_utc_base=1_700_000_000.0)
        state = FakeReddit(FakeRedditConfig(subreddits=(spec,))).world.store.subreddit("det")
        assert state is not None
        return [
            (p.data, [n.data for n in state.tree(p, 1_800_000_000.0).by_id.values()])
            for p in state.posts
        ]

    assert snapshot(1) == snapshot(1)
    assert snapshot(1) != snapshot(2)


# --- running --------------------------------------------------------------------


def test_binds_loopback_only(fake_reddit: RunningFakeReddit) -> None:
    assert fake_reddit.host == "127.0.0.1"
    assert fake_reddit.url == f"http://127.0.0.1:{fake_reddit.port}"
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(ValueError):
            check_loopback(host)
    with pytest.raises(ValueError):
        run_fake_reddit(FakeRedditConfig(host="0.0.0.0"))


def test_thread_runner_works_under_asyncio_run(fake_reddit: RunningFakeReddit) -> None:
    async def scrape() -> int:
        reddit = reddit_for(fake_reddit)
        try:
            return len([p async for p in (await reddit.subreddit("tiny")).new()])
        finally:
            await reddit.close()

    assert asyncio.run(scrape()) == 5  # what typer's CliRunner / sentpipe demo do


@pytest.mark.asyncio
async def test_async_serve_and_request_log_file(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    config = fixture_config(log_path=log)
    async with serve(config) as fake:
        reddit = reddit_for(fake)
        try:
            await (await reddit.subreddit("tiny")).load()
        finally:
            await reddit.close()
        assert fake.count() == 2
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["route"] for e in lines] == ["access_token", "about"]
    assert lines[1]["path"] == "/r/tiny/about/"
    assert lines[1]["query"] == {"raw_json": "1"}
    assert set(lines[1]) >= {"method", "path", "query", "status", "route", "subreddit"}


def test_presets_and_config_dict() -> None:
    spec = parse_value("x", "200,503:2,slow:0.5,seed:9")
    assert (spec.posts, spec.seed) == (200, 9)
    assert (spec.faults.server_errors, spec.faults.server_error_status) == (2, 503)
    assert spec.faults.delay_seconds == 0.5
    assert parse_arg("p=private").faults.access is Access.PRIVATE
    assert parse_arg("hostile").hostile
    assert parse_arg("r=rich").rich and not parse_arg("r=rich").hostile
    assert parse_arg("big=5000").posts == 5000
    with pytest.raises(ValueError):
        parse_value("x", "bogus")
    config = config_from_dict(
        {"subreddits": {"a": 10, "b": "banned", "c": "429:3"}, "rate_limit": 5}
    )
    assert [s.name for s in config.subreddits] == ["a", "b", "c"]
    assert config.subreddit("C") is not None and config.rate_limit == 5
    cli = config_from_args(["--port", "0", "--subreddit", "big=5000", "--no-pacing"])
    assert cli.subreddits[0].posts == 5000 and cli.rate_limit > 10**6


@pytest.fixture
def cli_server() -> Iterator[str]:
    package_root = Path(sentiment_pipeline.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package_root), *sys.path])}
    command = [sys.executable, "-m", "sentiment_pipeline.fake_reddit", "--subreddit", "big=5000"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        yield first.rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.asyncio
async def test_cli_serves_a_generated_subreddit(cli_server: str) -> None:
    assert cli_server.startswith("http://127.0.0.1:")
    reddit = asyncpraw.Reddit(
        client_id="fake-client-id",
        client_secret="fake-client-secret",
        user_agent="sentpipe-tests/0.1",
        oauth_url=cli_server,
        reddit_url=cli_server,
        check_for_updates=False,
    )
    try:
        subreddit = await reddit.subreddit("big")
        assert len([p async for p in subreddit.new(limit=150)]) == 150
    finally:
        await reddit.close()


# --- payload shapes: poll, gallery, crosspost, lone surrogate ----------------------

CASE_09 = Path(__file__).parent / "data" / "cases" / "09-poll-post" / "poll-post.json"


async def raw_text(fake: RunningFakeReddit, path: str) -> bytes:
    """The undecoded body of a GET with raw_json=1, as asyncprawcore asks for it."""
    async with aiohttp.ClientSession() as session:
        token = await get_token(session, fake)
        async with session.get(
            fake.url + path,
            params={"limit": "100", "raw_json": "1"},
            headers={"Authorization": f"bearer {token}"},
        ) as resp:
            assert resp.status == 200
            return await resp.read()


@pytest.mark.asyncio
async def test_rich_posts_have_reddits_shapes(fake_reddit_factory: FakeRedditFactory) -> None:
    fake = fake_reddit_factory(subreddits=(parse_value("r", "30,rich"),))
    _, body, _ = await raw_get(fake, "/r/r/new", {"limit": "100", "raw_json": "1"})
    posts = [child["data"] for child in body["data"]["children"]]
    case = json.loads(CASE_09.read_text(encoding="utf-8"))
    poll = next(p for p in posts if "poll_data" in p)
    assert poll["poll_data"] == case["poll_data"] and poll["title"] == case["title"]
    gallery = next(p for p in posts if p.get("is_gallery"))
    media = [item["media_id"] for item in gallery["gallery_data"]["items"]]
    assert len(media) == 2 and sorted(media) == sorted(gallery["media_metadata"])
    assert gallery["url"] == f"https://www.reddit.com/gallery/{gallery['id']}"
    crosspost = next(p for p in posts if "crosspost_parent" in p)
    [parent] = crosspost["crosspost_parent_list"]
    assert parent["name"] == crosspost["crosspost_parent"] and parent["subreddit"] != "r"
    link = next(p for p in posts if "preview" in p)
    assert link["all_awardings"][0]["count"] == link["total_awards_received"] == 2
    assert all(isinstance(p["link_flair_richtext"], list) for p in posts)
    flaired = [p for p in posts if p.get("link_flair_text")]
    assert flaired and all(
        p["link_flair_richtext"] == [{"e": "text", "t": p["link_flair_text"]}] for p in flaired
    )


@pytest.mark.asyncio
async def test_lone_surrogate_title_is_sent_as_a_json_escape(
    fake_reddit: RunningFakeReddit,
) -> None:
    from sentiment_pipeline.fake_reddit.hostile import LONE_SURROGATE_TITLE

    body = await raw_text(fake_reddit, "/r/hostile/new")
    text = body.decode("utf-8")  # strict: the answer is valid UTF-8
    assert "\\ud83d cut off \\ud83d" in text
    titles = [c["data"]["title"] for c in json.loads(text)["data"]["children"]]
    assert LONE_SURROGATE_TITLE in titles
    assert "\U0001f469" in text  # other characters stay UTF-8, not escaped


@pytest.mark.asyncio
async def test_rich_and_surrogate_posts_survive_asyncpraw(
    fake_reddit: RunningFakeReddit, fake_reddit_client: asyncpraw.Reddit
) -> None:
    subreddit = await fake_reddit_client.subreddit("hostile")
    posts = {p.title: p async for p in subreddit.new(limit=None)}
    poll = posts["Which editor do you use?"].poll_data
    assert [option.vote_count for option in poll.options] == [40, 35]
    assert "Half an emoji \ud83d cut off \ud83d" in posts


def test_keep_bodies_keeps_every_ok_answer(fake_reddit_factory: FakeRedditFactory) -> None:
    kept = fake_reddit_factory(keep_bodies=True)
    plain = fake_reddit_factory()

    async def fetch(fake: RunningFakeReddit) -> None:
        await raw_get(fake, "/r/tiny/new")
        await raw_get(fake, "/r/private_sub/new")  # 403: not kept

    asyncio.run(fetch(kept))
    asyncio.run(fetch(plain))
    assert plain.response_bodies == []
    kinds = [json.loads(body).get("kind", "token") for body in kept.response_bodies]
    assert kinds == ["token", "Listing", "token"]  # each raw_get fetches a token
    assert json.loads(kept.response_bodies[1])["data"]["dist"] == 5
