"""The HTTP client of the Hacker News source: both APIs, paced, retried, counted.

- The Firebase API (`SENTPIPE_HN_API_URL`, https://github.com/HackerNews/API): `item/{id}`
  (JSON `null` for an id it does not have), `maxitem`, `updates`, and the story lists
  (`topstories`, `newstories`, `beststories` up to 500 ids; `askstories`, `showstories`,
  `jobstories` up to 200).
- Algolia's HN Search API (`SENTPIPE_HN_SEARCH_URL`, https://hn.algolia.com/api):
  `items/{id}` (a story's whole comment tree in one response) and `search_by_date`
  (`tags`, `numericFilters`, `hitsPerPage` up to 1,000, `page`; no query returns more
  than 1,000 hits, so callers slice by time). Algolia documents a limit of 10,000
  requests an hour per IP: `SEARCH_PER_HOUR` paces every request to it (a leaky bucket,
  `aiolimiter`); the Firebase API documents none, but is paced to the same rate.

Every request carries a descriptive user agent; a 429 or a 5xx is retried with backoff
(`Retry-After` honoured, `tenacity`) up to `RETRIES` times, then raises `HNError`; a
connection error likewise. `requests` counts requests by route (`item`, `list`, `thread`,
`search`, …) for reports and benchmarks.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from sentiment_pipeline.sources.hackernews.settings import LISTS

__all__ = ["LISTS", "RETRIES", "SEARCH_PER_HOUR", "HNBudget", "HNClient", "HNError"]

SEARCH_PER_HOUR = 10_000  # Algolia's documented limit per IP (hn.algolia.com/api)
RETRIES = 5
_RETRYABLE = frozenset({429, 500, 502, 503, 504})


class HNError(Exception):
    """A request that failed after its retries (or with a status no retry helps):
    `route`, `status` (None for a connection error) and a one-line reason."""

    def __init__(self, route: str, status: int | None, reason: str) -> None:
        super().__init__(reason)
        self.route = route
        self.status = status


class HNBudget(Exception):
    """The run reached its `--max-requests` or `--max-duration` bound: a clean stop."""


class _Retry(Exception):
    """A response worth retrying; `after`: the server's Retry-After, in seconds."""

    def __init__(self, route: str, status: int, after: float | None) -> None:
        super().__init__(f"{route}: HTTP {status}")
        self.route = route
        self.status = status
        self.after = after


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


class HNClient:
    """One session, one pace, for a run. `api_url` and `search_url` are the bases
    (`…/v0`, `…/api/v1`), `user_agent` the header sent. An async context manager."""

    def __init__(
        self,
        api_url: str,
        search_url: str,
        user_agent: str,
        *,
        per_hour: int = SEARCH_PER_HOUR,
        timeout: float = 30.0,
        max_requests: int | None = None,
        deadline: float | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.search_url = search_url.rstrip("/")
        self.user_agent = user_agent
        self.requests: Counter[str] = Counter()
        self._limiter = AsyncLimiter(max(1, per_hour // 60), 60)  # a minute's share at a time
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.max_requests = max_requests  # None: no bound
        self.deadline = deadline  # time.monotonic() past which no request starts

    @property
    def total(self) -> int:
        """Requests sent so far (retries included)."""
        return sum(self.requests.values())

    def _spend(self) -> None:
        """Raise `HNBudget` when the next request would pass a bound."""
        if self.max_requests is not None and self.total >= self.max_requests:
            raise HNBudget(f"stopped at --max-requests {self.max_requests}")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise HNBudget("stopped at --max-duration")

    async def __aenter__(self) -> HNClient:
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": self.user_agent}, timeout=self._timeout
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # Firebase ------------------------------------------------------------------------

    async def item(self, ident: int) -> dict[str, Any] | None:
        """The item `ident` as the Firebase API sends it; None for its `null`."""
        found = await self._get("item", f"{self.api_url}/item/{int(ident)}.json")
        return found if isinstance(found, dict) else None

    async def story_ids(self, name: str) -> list[int]:
        """The ids of the list `name` (one of `LISTS`), ranked as HN ranks them."""
        if name not in LISTS:
            raise ValueError(f"unknown list {name!r}")
        found = await self._get("list", f"{self.api_url}/{name}stories.json")
        return [int(i) for i in found] if isinstance(found, list) else []

    async def max_item(self) -> int:
        """The newest item id."""
        found = await self._get("maxitem", f"{self.api_url}/maxitem.json")
        return int(found) if isinstance(found, int) else 0

    # Algolia -------------------------------------------------------------------------

    async def thread(self, ident: int) -> dict[str, Any] | None:
        """The story (or comment) `ident` with every reply under it, nested as
        `children` (Algolia's `items/{id}`); None when Algolia does not have it."""
        found = await self._get("thread", f"{self.search_url}/items/{int(ident)}", missing_ok=True)
        return found if isinstance(found, dict) else None

    async def search_by_date(
        self,
        *,
        query: str = "",
        tags: str = "",
        numeric: str = "",
        optional: str = "",
        page: int = 0,
        per_page: int = 1000,
    ) -> dict[str, Any]:
        """One page of `search_by_date` (newest first): `hits`, `nbHits`, `nbPages`, …
        `optional`: the query words that need not all match (`optionalWords`)."""
        params = {"query": query, "tags": tags, "numericFilters": numeric}
        params["optionalWords"] = optional
        params = {k: v for k, v in params.items() if v}
        params.update(page=str(page), hitsPerPage=str(per_page))
        found = await self._get("search", f"{self.search_url}/search_by_date", params)
        return found if isinstance(found, dict) else {"hits": [], "nbHits": 0, "nbPages": 0}

    # the wire ------------------------------------------------------------------------

    async def _get(
        self,
        route: str,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        missing_ok: bool = False,
    ) -> Any:
        """GET `url` (paced, retried); its JSON, or None for a 404 when `missing_ok`.
        Raises `HNError` when it cannot be had."""
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type((_Retry, aiohttp.ClientError, TimeoutError)),
                stop=stop_after_attempt(RETRIES),
                wait=_wait,
                reraise=True,
            ):
                with attempt:
                    return await self._once(route, url, params, missing_ok)
        except _Retry as error:
            raise HNError(
                route, error.status, f"{route}: HTTP {error.status} after {RETRIES} tries"
            ) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            reason = str(error) or type(error).__name__
            raise HNError(route, None, f"{route}: {reason} after {RETRIES} tries") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self, route: str, url: str, params: Mapping[str, str] | None, missing_ok: bool
    ) -> Any:
        if self._session is None:
            raise RuntimeError("HNClient is used outside `async with`")
        self._spend()
        async with self._limiter:
            self._spend()
            self.requests[route] += 1
            async with self._session.get(url, params=params) as response:
                if response.status in _RETRYABLE:
                    raise _Retry(route, response.status, _retry_after(response.headers))
                if response.status == 404 and missing_ok:
                    return None
                if response.status >= 400:
                    raise HNError(route, response.status, _refusal(route, response.status, url))
                return await response.json(content_type=None)


def _refusal(route: str, status: int, url: str) -> str:
    """The one-line reason of a refused request; a 404 where every API has the route
    points at the base URL settings (a base without `/v0` or `/api/v1`)."""
    reason = f"{route}: HTTP {status} from {url}"
    if status == 404:
        setting = (
            "SENTPIPE_HN_SEARCH_URL"
            if "/items/" in url or "search" in url
            else ("SENTPIPE_HN_API_URL")
        )
        reason += f" (is {setting} the API's base, e.g. ending in /v0 or /api/v1?)"
    return reason


def _wait(state: Any) -> float:
    """Seconds before the next try: the server's Retry-After, else exponential with up
    to 1 s of jitter (0.5 s, 1 s, 2 s, … up to 30 s). Computed here: tenacity's
    `wait_exponential_jitter(initial=…)` warns from 9.x and has no `multiplier` in 8.x."""
    error = state.outcome.exception() if state.outcome is not None else None
    if isinstance(error, _Retry) and error.after is not None:
        return min(error.after, 60.0)
    tries: int = max(1, int(state.attempt_number))
    return min(30.0, 0.5 * float(2 ** min(tries - 1, 16)) + random.uniform(0.0, 1.0))
