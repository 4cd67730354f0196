"""The Hacker News client against a small aiohttp server on loopback: the user agent,
the JSON `null` of a missing item, a 404 thread, retries of 429 (Retry-After) and 5xx,
giving up with a one-line `HNError`, and the request counts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from sentiment_pipeline.sources.hackernews import client as hn
from sentiment_pipeline.sources.hackernews.client import HNClient, HNError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _serve(routes: dict[str, Handler], call: Callable[[HNClient], Awaitable[Any]]) -> Any:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        async with HNClient(f"{base}/v0", f"{base}/api/v1", "sentpipe-test/1.0") as client:
            return await call(client), client
    finally:
        await runner.cleanup()


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hn, "_wait", lambda state: 0.0)


def test_items_lists_and_the_user_agent() -> None:
    agents: list[str] = []

    async def item(request: web.Request) -> web.Response:
        agents.append(request.headers["User-Agent"])
        ident = request.match_info["ident"]
        return web.json_response(None if ident == "9" else {"id": int(ident), "type": "story"})

    async def top(_request: web.Request) -> web.Response:
        return web.json_response([3, 1, 2])

    async def calls(client: HNClient) -> Any:
        return await client.item(1), await client.item(9), await client.story_ids("top")

    routes = {"/v0/item/{ident}.json": item, "/v0/topstories.json": top}
    (found, missing, ids), client = asyncio.run(_serve(routes, calls))
    assert found == {"id": 1, "type": "story"} and missing is None and ids == [3, 1, 2]
    assert agents == ["sentpipe-test/1.0"] * 2
    assert client.requests == {"item": 2, "list": 1}


def test_a_thread_algolia_lacks_is_none() -> None:
    async def items(_request: web.Request) -> web.Response:
        return web.json_response({"status": 404, "error": "Not Found"}, status=404)

    async def call(client: HNClient) -> Any:
        return await client.thread(5)

    found, _ = asyncio.run(_serve({"/api/v1/items/{ident}": items}, call))
    assert found is None


def test_429_and_5xx_are_retried_then_succeed() -> None:
    answers = iter([(429, {"Retry-After": "0"}), (503, {}), (200, {})])

    async def search(request: web.Request) -> web.Response:
        status, headers = next(answers)
        if status != 200:
            return web.Response(status=status, headers=headers)
        assert request.query["tags"] == "comment" and request.query["hitsPerPage"] == "1000"
        return web.json_response({"hits": [{"objectID": "7"}], "nbHits": 1, "nbPages": 1})

    async def call(client: HNClient) -> Any:
        return await client.search_by_date(tags="comment")

    found, client = asyncio.run(_serve({"/api/v1/search_by_date": search}, call))
    assert found["hits"] == [{"objectID": "7"}]
    assert client.requests["search"] == 3


def test_a_server_that_keeps_failing_is_one_error() -> None:
    async def item(_request: web.Request) -> web.Response:
        return web.Response(status=502)

    async def call(client: HNClient) -> Any:
        return await client.item(1)

    with pytest.raises(HNError, match=r"^item: HTTP 502 after 5 tries$") as caught:
        asyncio.run(_serve({"/v0/item/{ident}.json": item}, call))
    assert caught.value.status == 502


def test_a_client_error_is_not_retried() -> None:
    async def item(_request: web.Request) -> web.Response:
        return web.Response(status=403)

    async def call(client: HNClient) -> Any:
        return await client.item(1)

    with pytest.raises(
        HNError, match=r"^item: HTTP 403 from http://127\.0\.0\.1:\d+/v0/item/1\.json$"
    ):
        asyncio.run(_serve({"/v0/item/{ident}.json": item}, call))


def test_a_404_for_a_list_points_at_the_base_url_setting() -> None:
    async def call(client: HNClient) -> Any:
        return await client.story_ids("top")

    with pytest.raises(
        HNError,
        match=r"list: HTTP 404 from .*/v0/topstories\.json \(is SENTPIPE_HN_API_URL the API's base",
    ):
        asyncio.run(_serve({}, call))


def test_an_unknown_list_is_refused() -> None:
    async def call(client: HNClient) -> Any:
        return await client.story_ids("hot")

    with pytest.raises(ValueError, match="unknown list"):
        asyncio.run(_serve({}, call))
