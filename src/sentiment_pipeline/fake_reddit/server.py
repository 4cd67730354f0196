"""The aiohttp application: auth, rate limits, faults, logging around handlers.

A single catch-all route feeds ``dispatch`` so that path normalisation, the
``x-ratelimit-*`` headers, ``raw_json`` escaping and the request log apply to
every answer, including errors and unknown paths.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

from . import auth, changes, errors, handlers, routing
from .config import FakeRedditConfig, ManualClock
from .context import Ctx, World
from .errors import ApiError
from .escaping import escape_strings, json_text
from .ratelimit import RateState
from .requestlog import RequestLog
from .store import Created

Handler = Callable[[World, Ctx], Awaitable[Any]]

HANDLERS: dict[str, Handler] = {
    "access_token": auth.access_token,
    "revoke_token": auth.revoke_token,
    "listing": handlers.subreddit_listing,
    "comment_listing": handlers.comment_listing,
    "about": handlers.about,
    "comments": handlers.submission_comments,
    "continue_thread": handlers.continue_thread,
    "morechildren": handlers.morechildren,
    "subreddit_search": handlers.subreddit_search,
    "search": handlers.search_posts,
    "info": handlers.info,
    "fake_clock": handlers.fake_clock,
}
_OPEN_ROUTES = {"access_token", "revoke_token", "fake_clock"}  # no bearer token, no rate
_LISTING_ROUTES = {"listing", "comment_listing", "search"}


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _json_response(status: int, text: str | None, headers: dict[str, str]) -> web.Response:
    if text is None:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, text=text, content_type="application/json", headers=headers)


class FakeReddit:
    """A fake Reddit OAuth API (test double); serve it with the ``runner`` module."""

    def __init__(self, config: FakeRedditConfig | None = None) -> None:
        self.config = config or FakeRedditConfig()
        self.world = World.build(self.config)
        self.log = RequestLog(self.config.log_path)
        self.bodies: list[str] = []  # with ``keep_bodies``: each 200 answer's JSON text

    def make_app(self) -> web.Application:
        """Return an aiohttp app serving this fake (log file opens/closes with it)."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        self.log.open()

    async def _on_cleanup(self, _app: web.Application) -> None:
        self.log.close()

    def add_posts(self, subreddit: str, count: int, created_utc: float | None = None) -> list[str]:
        """Publish ``count`` new posts (newer than all others); returns their ids."""
        return self.world.store.add_posts(subreddit, count, created_utc)

    def grow(self, fullname: str, score: int | None = None, comments: int = 0) -> list[str]:
        """Set an item's score and add new top-level comments; see ``changes.grow``."""
        return changes.grow(self.world.store, fullname, score, comments)

    def edit(self, fullname: str, text: str, title: str | None = None) -> None:
        """The author edits an item; see ``changes.edit``."""
        changes.edit(self.world.store, fullname, text, title)

    def delete(self, fullname: str) -> None:
        """The author deletes an item; see ``changes.delete``."""
        changes.delete(self.world.store, fullname)

    def remove(
        self,
        fullname: str,
        category: str = "moderator",
        text: str = "[removed]",
        title: str | None = None,
    ) -> None:
        """A moderator or admin removes an item; see ``changes.remove``."""
        changes.remove(self.world.store, fullname, category, text, title)

    def hide(self, *fullnames: str) -> None:
        """Leave items out of ``/api/info``; see ``changes.hide``."""
        changes.hide(self.world.store, *fullnames)

    def created(self, since: float | None = None) -> list[Created]:
        """``(fullname, subreddit lower-case, created_utc)`` of every post and comment
        that exists at the clock (generated at start, live, or added), oldest first;
        ``since`` keeps those created at or after it. Builds every comment tree."""
        return self.world.store.created(since)

    def mentioned(self, phrase: str) -> list[str]:
        """Fullnames of the live posts and comments that a planted ``phrase``
        (``SubredditSpec.mentions``) went into and that still hold it, oldest first;
        the phrase is compared by its words (case-insensitive). KeyError when no
        subreddit plants it."""
        return self.world.store.mentioned(phrase)

    def now(self) -> float:
        """The server's clock."""
        return self.config.clock()

    def advance(self, seconds: float) -> float:
        """Move a ``ManualClock`` forward; returns the new time (TypeError otherwise)."""
        clock = self.config.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("advance needs FakeRedditConfig(clock=ManualClock(...))")
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        return clock.advance(seconds)

    def expire_tokens(self) -> int:
        """Invalidate all issued tokens, so the next API call gets 401 invalid_token."""
        return self.world.tokens.expire_all()

    async def _authorize(self, request: web.Request, ctx: Ctx) -> RateState:
        token = self.world.tokens.valid(_bearer(request) or "")
        if token is None:
            raise errors.invalid_token()
        ctx.client_id = token.client_id
        rate = self.world.rates.hit(token.client_id)
        if rate.exceeded:
            raise errors.too_many_requests(rate.reset)
        return rate

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Answer one request and log it."""
        started = time.perf_counter()
        found = routing.match(request.method, routing.normalize(request.path))
        form = {k: str(v) for k, v in (await request.post()).items()}
        ctx = Ctx(request=request, params=found.params if found else {}, form=form)
        route = found.name if found else "unknown"
        rate: RateState | None = None
        headers: dict[str, str] = {}
        try:
            if found is None:
                raise errors.not_found()
            if route not in _OPEN_ROUTES:
                rate = await self._authorize(request, ctx)
                self.world.store.catch_up()  # live arrivals due by now become visible
            body = await HANDLERS[route](self.world, ctx)
            status = 200
            if request.query.get("raw_json") != "1":
                body = escape_strings(body)
        except ApiError as exc:
            status, body, headers = exc.status, exc.body, dict(exc.headers)
        if rate is None:
            rate = self.world.rates.peek(ctx.client_id or "anonymous")
        headers.update(rate.headers())
        self.log.record(
            {
                "ts": self.config.clock(),
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "status": status,
                "route": route,
                "sort": ctx.params.get("sort", "hot") if route == "listing" else None,
                "subreddit": ctx.subreddit,
                "members": ctx.members if route in _LISTING_ROUTES else None,
                "client_id": ctx.client_id,
                "ms": round((time.perf_counter() - started) * 1000, 3),
            }
        )
        text = None if body is None else json_text(body)
        if status == 200 and text is not None and self.config.keep_bodies:
            self.bodies.append(text)
        return _json_response(status, text, headers)
