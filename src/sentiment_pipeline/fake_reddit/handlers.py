"""Handlers for the OAuth API routes asyncpraw uses for reading.

Each returns the JSON body (Reddit's exact envelope) or raises ``ApiError``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import changes, comments, errors, listing, things
from .comments import TreeShape
from .context import Ctx, World, open_subreddit
from .generator import make_about
from .models import Post
from .store import SubredditState


async def subreddit_listing(world: World, ctx: Ctx) -> Any:
    """``GET /r/{sub}/{sort}``: one page of t3 things."""
    state = await open_subreddit(world, ctx, ctx.params["sub"])
    sort = ctx.params.get("sort", "hot")
    if sort not in listing.SORTS:
        raise errors.not_found()
    query = ctx.request.query
    with world.store.lock:
        items = listing.ordered(state.posts, sort, query.get("t"), world.config.clock())
    page = listing.paginate(
        items,
        after=query.get("after"),
        before=query.get("before"),
        limit=listing.clamp_limit(query.get("limit")),
        cap=world.config.listing_cap,
        overlap=state.spec.faults.overlap_pages,
    )
    if state.spec.faults.empty_listings:
        return things.listing([])
    children = [things.thing("t3", things.copied(p.data)) for p in page.posts]
    return things.listing(children, page.after, page.before)


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
