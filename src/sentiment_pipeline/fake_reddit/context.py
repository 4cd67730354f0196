"""What a handler sees: the shared world and the current request."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web

from . import errors
from .config import Access, FakeRedditConfig
from .faults import FaultState, gate_group
from .ratelimit import RateLimits
from .store import Store, SubredditState
from .tokens import TokenStore


@dataclass
class World:
    """Server-wide state shared by all handlers."""

    config: FakeRedditConfig
    store: Store
    tokens: TokenStore
    rates: RateLimits
    faults: dict[str, FaultState]
    morechildren_inflight: set[str] = field(default_factory=set)
    inflight_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, config: FakeRedditConfig) -> World:
        """Create fresh state (fault counters, tokens, rates) for ``config``."""
        return cls(
            config=config,
            store=Store(config),
            tokens=TokenStore(config.token_ttl_seconds, config.clock),
            rates=RateLimits(config.rate_limit, config.rate_window_seconds, config.clock),
            faults={s.name.lower(): FaultState(s.faults) for s in config.subreddits},
        )


@dataclass
class Ctx:
    """One request: path parameters, query, form and who is calling."""

    request: web.Request
    params: dict[str, str]
    form: dict[str, str]
    client_id: str | None = None
    subreddit: str | None = None
    members: list[str] | None = None  # listing routes: the path's names, lower-case

    def arg(self, key: str) -> str | None:
        """A form field, falling back to the query string (Reddit accepts both)."""
        value = self.form.get(key)
        return value if value is not None else self.request.query.get(key)

    def search_url(self, name: str) -> str:
        """Where Reddit redirects a request for an unknown subreddit."""
        origin = str(self.request.url.origin())
        return f"{origin}/subreddits/search.json?q={quote(name)}"


async def open_subreddit(world: World, ctx: Ctx, name: str) -> SubredditState:
    """Resolve ``name`` and apply its faults; unknown names redirect to search."""
    ctx.subreddit = name
    state = world.store.subreddit(name)
    if state is None:
        raise errors.redirect(ctx.search_url(name))
    ctx.subreddit = state.spec.name
    await world.faults[state.spec.name.lower()].gate(state.spec.name, ctx.search_url(name))
    return state


async def open_group(world: World, ctx: Ctx, names: str) -> list[SubredditState]:
    """Resolve ``a+b+c`` (or one name) for a listing route.

    One name behaves as ``open_subreddit`` (access errors included). Several names are
    a multi-subreddit listing: as on Reddit, members that are unknown, private, banned
    or quarantined are silently left out (200, possibly empty); the others' faults apply
    as ``faults.gate_group`` says.
    """
    parts = names.split("+")
    ctx.members = list(dict.fromkeys(part.lower() for part in parts))
    if len(parts) == 1:
        return [await open_subreddit(world, ctx, names)]
    ctx.subreddit = names
    members: list[SubredditState] = []
    for name in ctx.members:
        state = world.store.subreddit(name)
        if state is not None and world.faults[name].spec.access is Access.OK:
            members.append(state)
    await gate_group([world.faults[s.spec.name.lower()] for s in members])
    return members
