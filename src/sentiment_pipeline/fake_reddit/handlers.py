"""Handlers for the OAuth API routes asyncpraw uses for reading.

Each returns the JSON body (Reddit's exact envelope) or raises ``ApiError``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from . import changes, comments, errors, listing, newest, query, search, things
from .comments import TreeShape
from .config import Access, ManualClock
from .context import Ctx, World, open_group, open_subreddit
from .generator import make_about
from .models import Post
from .store import SubredditState


def _paging(ctx: Ctx) -> dict[str, Any]:
    query = ctx.request.query
    return {
        "after": query.get("after"),
        "before": query.get("before"),
        "limit": listing.clamp_limit(query.get("limit")),
    }


def _sources(members: list[SubredditState]) -> tuple[list[SubredditState], bool]:
    """Members whose items are listed (not ``empty``), and whether pages overlap."""
    sources = [s for s in members if not s.spec.faults.empty_listings]
    return sources, any(s.spec.faults.overlap_pages for s in sources)


async def subreddit_listing(world: World, ctx: Ctx) -> Any:
    """``GET /r/{sub}/{sort}``, ``sub`` one name or ``a+b+c``: one page of t3 things.

    ``new`` merges the members' sorted indices (O(page)); the other sorts rank every
    post of the members (a multi listing pins no stickied posts, as on Reddit)."""
    members = await open_group(world, ctx, ctx.params["sub"])
    sort = ctx.params.get("sort", "hot")
    if sort not in listing.SORTS:
        raise errors.not_found()
    sources, overlap = _sources(members)
    paging = _paging(ctx)
    cap = world.config.listing_cap
    with world.store.lock:
        if sort == "new":
            page = newest.page([s.new_index for s in sources], cap=cap, overlap=overlap, **paging)
            posts, after, before = page.items, page.after, page.before
        else:
            pooled = [p for s in sources for p in s.posts]
            pin = "+" not in ctx.params["sub"]
            now = world.config.clock()
            items = listing.ordered(pooled, sort, ctx.request.query.get("t"), now, pin)
            cut = listing.paginate(items, cap=cap, overlap=overlap, **paging)
            posts, after, before = cut.posts, cut.after, cut.before
        children = [things.thing("t3", things.copied(p.data)) for p in posts]
    return things.listing(children, after, before)


async def comment_listing(world: World, ctx: Ctx) -> Any:
    """``GET /r/{sub}/comments`` (or ``a+b``): the members' newest comments, t1 things
    newest first, with their posts' context (``comments.listing_item``)."""
    members = await open_group(world, ctx, ctx.params["sub"])
    sources, overlap = _sources(members)
    with world.store.lock:
        now = world.config.clock()
        indices = [s.comment_index(now) for s in sources]
        page = newest.page(indices, cap=world.config.listing_cap, overlap=overlap, **_paging(ctx))
        children = [comments.listing_item(item.node, item.post) for item in page.items]
    return things.listing(children, page.after, page.before)


_TRUE = frozenset({"1", "on", "true", "yes", "y", "t"})  # how Reddit reads a boolean


async def _search_scope(world: World, ctx: Ctx) -> tuple[list[SubredditState], bool]:
    """The subreddits a search covers and whether its pages overlap. The path's names
    resolve as for a listing (access errors, faults); only ``restrict_sr`` keeps the
    search to them, otherwise it covers every accessible subreddit, as Reddit searches
    all of Reddit (``/search`` and ``/r/all/search`` always do)."""
    names = ctx.params.get("sub")
    restrict = (ctx.request.query.get("restrict_sr") or "").lower() in _TRUE
    if names is None or names.lower() == "all":
        ctx.subreddit = names
        ctx.members = [] if names is None else ["all"]
        restrict = False
    else:
        members = await open_group(world, ctx, names)
    if restrict:
        return _sources(members)
    everyone = [s for s in world.store.subreddits.values() if s.spec.faults.access is Access.OK]
    return _sources(everyone)[0], False


def _search_listing(children: list[Any], after: str | None, before: str | None) -> Any:
    """A search answer: a Listing with Reddit's extra ``facets: {}``."""
    body = things.listing(children, after, before)
    body["data"]["facets"] = {}
    return body


async def search_posts(world: World, ctx: Ctx) -> Any:
    """``GET /search`` and ``GET /r/{sub|a+b|all}/search``: posts matching ``q`` (rules:
    ``query``), as t3 things like a listing's, sorted by ``sort`` within ``t``, paged by
    ``after``/``before`` up to ``search_cap`` results. ``type`` without ``link`` (e.g.
    ``comment``) and an unparseable ``q`` get an empty listing, as on Reddit."""
    params = ctx.request.query
    sources, overlap = await _search_scope(world, ctx)
    node = query.parse(params.get("q") or "")
    kinds = {kind.strip() for kind in (params.get("type") or "link").lower().split(",")}
    if node is None or "link" not in kinds:
        return _search_listing([], None, None)
    with world.store.lock:
        indices = [s.search_index() for s in sources]
        sort = params.get("sort") or search.DEFAULT_SORT
        found = search.run(indices, node, sort, params.get("t"), world.config.clock())
        cap = world.config.search_cap
        page = listing.paginate(found, cap=cap, overlap=overlap, **_paging(ctx))
        children = [things.thing("t3", things.copied(p.data)) for p in page.posts]
    return _search_listing(children, page.after, page.before)


async def fake_clock(world: World, ctx: Ctx) -> Any:
    """``GET|POST /_fake/clock[?advance=SECONDS]``: the fake's clock (not Reddit's API).

    POST moves a ``ManualClock`` forward (409 for any other clock, 400 for a bad or
    negative ``advance``); both answer ``{"now": epoch seconds}``."""
    clock = world.config.clock
    if ctx.request.method == "POST":
        if not isinstance(clock, ManualClock):
            raise errors.ApiError(409, errors.error_body(409, reason="clock is not manual"))
        try:
            seconds = float(ctx.arg("advance") or "")
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise errors.ApiError(400, errors.error_body(400, reason="advance=SECONDS >= 0"))
        clock.advance(seconds)
    return {"now": clock()}


async def about(world: World, ctx: Ctx) -> Any:
    """``GET /r/{sub}/about/``: the t5 thing."""
    state = await open_subreddit(world, ctx, ctx.params["sub"])
    return things.thing("t5", make_about(state.ident, state.created_utc, len(state.posts)))


async def _post_for(world: World, ctx: Ctx, post_id: str) -> tuple[SubredditState, Post]:
    found = world.store.find_post(post_id)
    if found is None:
        raise errors.not_found()
    state, post = found
    await open_subreddit(world, ctx, state.spec.name)
    return state, post


def _shape(world: World, ctx: Ctx) -> TreeShape:
    """Reddit caps a comments answer server-side; asyncpraw asks for limit=2048."""
    cap = world.config.comment_budget
    limit = ctx.arg("limit")
    depth = ctx.arg("depth")
    max_depth = world.config.max_comment_depth
    return TreeShape(
        budget=min(int(limit), cap) if limit and limit.isdigit() else cap,
        max_depth=max(1, min(int(depth), max_depth)) if depth and depth.isdigit() else max_depth,
        sort=ctx.arg("sort"),
    )


def _submission_listing(post: Post) -> Any:
    return things.listing([things.thing("t3", things.copied(post.data))])


async def submission_comments(world: World, ctx: Ctx) -> Any:
    """``GET /comments/{id}/``: ``[submission listing, comment listing]``."""
    state, post = await _post_for(world, ctx, ctx.params["id"])
    with world.store.lock:
        tree = state.tree(post, world.config.clock())
    return [
        _submission_listing(post),
        comments.render_tree(tree, post.name, _shape(world, ctx)),
    ]


async def continue_thread(world: World, ctx: Ctx) -> Any:
    """``GET /comments/{id}/_/{comment_id}``: the "continue this thread" target."""
    state, post = await _post_for(world, ctx, ctx.params["id"])
    with world.store.lock:
        tree = state.tree(post, world.config.clock())
    node = tree.by_id.get(ctx.params["comment"])
    if node is None:
        raise errors.not_found()
    return [_submission_listing(post), comments.render_focus(node, _shape(world, ctx))]


async def morechildren(world: World, ctx: Ctx) -> Any:
    """``POST /api/morechildren/``; a concurrent second call per client gets 429."""
    link = ctx.arg("link_id") or ""
    wanted = [c for c in (ctx.arg("children") or "").split(",") if c]
    if not link.startswith("t3_") or not wanted:
        raise errors.ApiError(400, errors.error_body(400))
    client = ctx.client_id or "anonymous"
    with world.inflight_lock:
        busy = client in world.morechildren_inflight
        if not busy:
            world.morechildren_inflight.add(client)
    if busy and world.config.reject_concurrent_morechildren:
        raise errors.too_many_requests(1)
    try:
        state, post = await _post_for(world, ctx, link[3:])
        if world.config.morechildren_latency > 0:
            await asyncio.sleep(world.config.morechildren_latency)
        with world.store.lock:
            tree = state.tree(post, world.config.clock())
        found = comments.more_children(
            tree, wanted, ctx.arg("sort"), world.config.morechildren_batch
        )
    finally:
        if not busy:
            with world.inflight_lock:
                world.morechildren_inflight.discard(client)
    return {"json": {"errors": [], "data": {"things": found}}}


async def subreddit_search(world: World, ctx: Ctx) -> Any:
    """``GET /subreddits/search``: where unknown names are redirected; always empty."""
    return things.listing([])


async def info(world: World, ctx: Ctx) -> Any:
    """``GET /api/info?id=t3_a,t1_b``: the items found (up to 100 ids), others left out."""
    wanted = changes.info_ids(ctx.request.query)
    if len(wanted) > changes.MAX_INFO_IDS:
        raise errors.ApiError(400, errors.error_body(400))
    return changes.info(world.store, wanted)
