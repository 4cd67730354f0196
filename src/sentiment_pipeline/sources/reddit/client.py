"""The asyncpraw client for a scrape: credentials, user agent, request meter, 429 backoff.

One client (one rate budget) serves every subreddit of a run. The meter sits in the
requestor, so it sees every HTTP request asyncpraw makes, token requests included, and
can stop a run at `--max-requests` / `--max-duration` before the next request goes out.
It adds each request to the counters of the task that made it: a subreddit's task calls
`count_requests_into(stats)` once (its comment-tree tasks inherit it), and "more comments"
expansions run inside `expanding_more()`. Context variables are per task, so trees in
flight at the same time never count each other's requests.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sentiment_pipeline import __version__
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sources.reddit.report import Counting, RequestTotals

if TYPE_CHECKING:
    import asyncpraw

    from sentiment_pipeline.settings import Settings

__all__ = [
    "BudgetExhausted",
    "RequestMeter",
    "check_credentials",
    "count_requests_into",
    "describe_error",
    "expanding_more",
    "make_reddit",
    "user_agent",
    "with_backoff",
]

T = TypeVar("T")
APPS_URL = "https://www.reddit.com/prefs/apps"
MAX_429_RETRIES = 3
DEFAULT_RETRY_AFTER = 5.0
_counting: ContextVar[Counting | None] = ContextVar("sentpipe_counting", default=None)
_expanding: ContextVar[bool] = ContextVar("sentpipe_expanding", default=False)
_sleep = asyncio.sleep  # tests swap this to record waits instead of sleeping


class BudgetExhausted(Exception):
    """The run reached the user's `--max-requests` or `--max-duration` bound."""


def count_requests_into(stats: Counting) -> None:
    """Count the requests of the calling task, and of the tasks it starts later, into
    `stats` (`requests`, `more_expansions`, `rate_limit_wait`)."""
    _counting.set(stats)


@contextmanager
def expanding_more() -> Iterator[None]:
    """Requests made inside also count as "more comments" expansions (this task only)."""
    token = _expanding.set(True)
    try:
        yield
    finally:
        _expanding.reset(token)


@dataclass
class RequestMeter:
    """Counts requests and enforces the bounds.

    `totals` holds the run-wide counts (shared with the run's `ScrapeReport`);
    `deadline` is a `time.monotonic()` value (None: no `--max-duration`).
    """

    totals: RequestTotals = field(default_factory=RequestTotals)
    deadline: float | None = None

    def check(self) -> None:
        """Raise `BudgetExhausted` when the next request would pass a bound."""
        limit = self.totals.max_requests
        if limit is not None and self.totals.total >= limit:
            raise BudgetExhausted(f"reached --max-requests {limit}")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise BudgetExhausted("reached --max-duration")

    def before(self, url: str) -> None:
        """Called for every HTTP request, before it goes out; may raise `BudgetExhausted`."""
        self.check()
        self.totals.total += 1
        if "access_token" in url:
            self.totals.token += 1
            return
        stats = _counting.get()
        if stats is not None:
            stats.requests += 1
            if _expanding.get():
                stats.more_expansions += 1

    def waited(self, seconds: float) -> None:
        """Add a rate-limit wait (seconds) to the calling task's subreddit."""
        stats = _counting.get()
        if stats is not None:
            stats.rate_limit_wait += seconds


def user_agent(settings: Settings) -> str:
    """Reddit asks for `<platform>:<app id>:<version> (by /u/name)`."""
    if settings.reddit_user_agent:
        return settings.reddit_user_agent
    owner = settings.reddit_username or "sentpipe"
    return f"{sys.platform}:sentpipe:{__version__} (by /u/{owner})"


def check_credentials(settings: Settings) -> None:
    """Fail before any network use, naming the variables to set."""
    missing = [
        name
        for name, value in (
            ("SENTPIPE_REDDIT_CLIENT_ID", settings.reddit_client_id),
            ("SENTPIPE_REDDIT_CLIENT_SECRET", settings.reddit_client_secret),
        )
        if not value
    ]
    if bool(settings.reddit_username) != bool(settings.reddit_password):
        missing.append(
            "SENTPIPE_REDDIT_PASSWORD" if settings.reddit_username else "SENTPIPE_REDDIT_USERNAME"
        )
    if missing:
        raise ConfigError(
            f"Reddit credentials missing: set {', '.join(missing)}",
            f"create a Reddit app (type 'script') at {APPS_URL}; a script app may also "
            "set SENTPIPE_REDDIT_USERNAME and SENTPIPE_REDDIT_PASSWORD",
        )


def make_reddit(settings: Settings, meter: RequestMeter) -> asyncpraw.Reddit:
    """An asyncpraw client from settings, metered; app-only OAuth or a script app."""
    import asyncpraw
    from asyncprawcore.requestor import Requestor

    from sentiment_pipeline.sources.reddit.raw import capture_raw_json

    class MeteredRequestor(Requestor):
        @asynccontextmanager
        async def request(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            url = kwargs.get("url") or (args[1] if len(args) > 1 else "")
            meter.before(str(url))
            async with super().request(*args, **kwargs) as response:
                yield response

    secret = settings.reddit_client_secret
    kwargs: dict[str, Any] = {
        "client_id": settings.reddit_client_id,
        "client_secret": secret.get_secret_value() if secret else None,
        "user_agent": user_agent(settings),
        "oauth_url": settings.reddit_oauth_url.rstrip("/"),
        "reddit_url": settings.reddit_url.rstrip("/"),
        "check_for_updates": False,
        "requestor_class": MeteredRequestor,
    }
    if settings.reddit_username and settings.reddit_password:
        kwargs["username"] = settings.reddit_username
        kwargs["password"] = settings.reddit_password.get_secret_value()
    reddit = asyncpraw.Reddit(**kwargs)
    capture_raw_json(reddit)  # stored payloads are the JSON Reddit sent
    return reddit


async def with_backoff(call: Callable[[], Awaitable[T]], meter: RequestMeter) -> T:
    """Run `call`, waiting out 429 answers (Retry-After), which asyncpraw never retries."""
    from asyncprawcore.exceptions import TooManyRequests

    attempt = 0
    while True:
        try:
            return await call()
        except TooManyRequests as error:
            attempt += 1
            if attempt > MAX_429_RETRIES:
                raise
            try:
                wait = float(error.retry_after or DEFAULT_RETRY_AFTER)
            except ValueError:
                wait = DEFAULT_RETRY_AFTER
            wait = max(0.0, wait) * attempt
            if meter.deadline is not None and time.monotonic() + wait >= meter.deadline:
                raise BudgetExhausted("reached --max-duration while rate limited") from error
            meter.waited(wait)
            await _sleep(wait)


def describe_error(error: BaseException) -> tuple[str, bool]:
    """A one-line reason for a failed subreddit, and whether it is a credentials problem."""
    from asyncprawcore import exceptions as ex

    if isinstance(error, ex.OAuthException):
        return f"Reddit rejected the login ({error})", True
    if isinstance(error, ex.Forbidden):
        return "private or quarantined (403 Forbidden); skipped", False
    if isinstance(error, ex.NotFound):
        return "banned or not found (404); skipped", False
    if isinstance(error, ex.Redirect):
        return "does not exist (Reddit redirected to search); skipped", False
    if isinstance(error, ex.TooManyRequests):
        return "still rate limited (429) after backing off; skipped, run again later", False
    if isinstance(error, ex.ServerError):
        return f"Reddit server error after retries ({error}); skipped, run again later", False
    if isinstance(error, ex.ResponseException):
        status = getattr(getattr(error, "response", None), "status", None)
        if status == 401:
            return "Reddit rejected the client id or secret (401)", True
        return f"unexpected answer from Reddit ({error}); skipped", False
    if isinstance(error, ex.RequestException):
        return f"network error talking to Reddit ({error}); skipped", False
    return f"{type(error).__name__}: {error}", False
