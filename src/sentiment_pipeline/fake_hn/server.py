"""The aiohttp application: Firebase routes under ``/v0``, Algolia under ``/api/v1``.

Sources: github.com/HackerNews/API (Firebase v0: ``item/{id}.json`` answers JSON
``null`` with status 200 for an id that does not exist; ``maxitem``, ``updates``,
``*stories.json``) and hn.algolia.com/api (``items/{id}``, ``search``,
``search_by_date``; an unknown item is a 404 ``{"status":404,"error":"Not Found"}``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import search, views
from .config import FakeHNConfig
from .faults import Faults
from .requestlog import RequestLog
from .store import LIST_LIMITS, Store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


class FakeHN:
    """Store, faults and request log behind one aiohttp app."""

    def __init__(self, config: FakeHNConfig | None = None) -> None:
        self.config = config or FakeHNConfig()
        self.store = Store(self.config)
        self.faults = Faults(self.config.faults)
        self.log = RequestLog(self.config.log_path)

    def make_app(self) -> web.Application:
        """Routes (named as in the request log) and the log/fault middleware."""
        app = web.Application(middlewares=[self._middleware])
        add = app.router.add_get
        add("/v0/item/{id}.json", self.item, name="item")
        add("/v0/maxitem.json", self.maxitem, name="maxitem")
        add("/v0/updates.json", self.updates, name="updates")
        add("/v0/{list:top|new|best|ask|show|job}stories.json", self.story_list, name="list")
        add("/api/v1/items/{id}", self.algolia_item, name="algolia_item")
        add("/api/v1/search", self.search, name="search")
        add("/api/v1/search_by_date", self.search_by_date, name="search_by_date")
        app.router.add_post("/_fake/clock", self.clock, name="fake_clock")
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name or "unknown"
        entry: dict[str, Any] = {
            "method": request.method,
            "route": route,
            "path": request.path,
            "params": dict(request.query),
            "ts": time.time(),
        }
        fault = self.faults.take(route)
        try:
            if fault is not None:
                status, headers = fault
                response: web.StreamResponse = web.json_response(
                    {"status": status, "error": "fake fault"}, status=status, headers=headers
                )
            else:
                response = await handler(request)
        except web.HTTPException as exc:
            entry["status"] = exc.status
            self.log.record(entry)
            raise
        entry["status"] = response.status
        self.log.record(entry)
        return response

    async def item(self, request: web.Request) -> web.Response:
        """One item, or ``null`` (status 200) for an unknown or malformed id."""
        raw = request.match_info["id"]
        item = self.store.get(int(raw)) if raw.isdigit() else None
        return _json(None if item is None else views.firebase(item))

    async def maxitem(self, request: web.Request) -> web.Response:
        """The largest item id."""
        return _json(self.store.maxitem())

    async def updates(self, request: web.Request) -> web.Response:
        """Recently changed items and profiles."""
        return _json(self.store.updates())

    async def story_list(self, request: web.Request) -> web.Response:
        """Top/new/best (up to 500 ids) or ask/show/job (up to 200)."""
        name = request.match_info["list"]
        assert name in LIST_LIMITS
        return _json(self.store.story_list(name))

    async def algolia_item(self, request: web.Request) -> web.Response:
        """The whole tree in one response; 404 when Algolia would not have it."""
        raw = request.match_info["id"]
        tree = self.store.tree(int(raw)) if raw.isdigit() else None
        if tree is None:
            return _json({"status": 404, "error": "Not Found"}, status=404)
        return _json(tree)

    async def _search(self, request: web.Request, by_date: bool) -> web.Response:
        try:
            query = search.parse_query(request.query)
        except search.SearchError as exc:
            return _json({"message": str(exc), "status": 400}, status=400)
        items = self.store.snapshot()
        index = {i.id: i for i in items}
        raw = request.query_string
        return _json(search.run(items, index, query, by_date, raw))

    async def search(self, request: web.Request) -> web.Response:
        """Relevance-ordered search (approximated: points, then newest)."""
        return await self._search(request, by_date=False)

    async def search_by_date(self, request: web.Request) -> web.Response:
        """Newest-first search."""
        return await self._search(request, by_date=True)

    async def clock(self, request: web.Request) -> web.Response:
        """``POST /_fake/clock?advance=SECONDS``: move the clock (live mode)."""
        try:
            seconds = float(request.query.get("advance", "0"))
        except ValueError:
            return _json({"error": "advance must be a number"}, status=400)
        return _json({"now": self.store.advance(seconds)})
