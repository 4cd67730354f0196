"""Start/stop the fake on 127.0.0.1: in the current loop or a background thread.

The thread runner exists because CLI tests (typer's CliRunner) and
``sentpipe demo`` call ``asyncio.run`` themselves, so the server cannot share
their loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aiohttp import web

from .config import FakeRedditConfig
from .requestlog import LogEntry
from .server import FakeReddit
from .store import Created


def check_loopback(host: str) -> None:
    """Refuse anything but a loopback address: this is a test double."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"fake Reddit only listens on loopback, not {host!r}")


class RunningFakeReddit:
    """A started server: its URL, request log and controls."""

    def __init__(self, fake: FakeReddit, host: str, port: int) -> None:
        self.fake = fake
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self._closer: Callable[[], None] | None = None

    @property
    def config(self) -> FakeRedditConfig:
        """The configuration it was started with."""
        return self.fake.config

    @property
    def request_log(self) -> list[LogEntry]:
        """All requests so far (a snapshot copy), oldest first."""
        return self.fake.log.snapshot()

    @property
    def response_bodies(self) -> list[str]:
        """The JSON text of every 200 answer so far (needs ``keep_bodies=True``)."""
        return list(self.fake.bodies)

    def count(
        self,
        route: str | None = None,
        subreddit: str | None = None,
        status: int | None = None,
        member: str | None = None,
    ) -> int:
        """Number of logged requests matching the filters (see ``RequestLog.count``)."""
        return self.fake.log.count(route=route, subreddit=subreddit, status=status, member=member)

    def clear_log(self) -> None:
        """Forget logged requests (e.g. after a warm-up)."""
        self.fake.log.clear()

    def add_posts(self, subreddit: str, count: int, created_utc: float | None = None) -> list[str]:
        """Publish new posts; see :meth:`FakeReddit.add_posts`."""
        return self.fake.add_posts(subreddit, count, created_utc)

    def grow(self, fullname: str, score: int | None = None, comments: int = 0) -> list[str]:
        """Grow an item; see :meth:`FakeReddit.grow`."""
        return self.fake.grow(fullname, score, comments)

    def edit(self, fullname: str, text: str, title: str | None = None) -> None:
        """Edit an item; see :meth:`FakeReddit.edit`."""
        self.fake.edit(fullname, text, title)

    def delete(self, fullname: str) -> None:
        """Delete an item as its author; see :meth:`FakeReddit.delete`."""
        self.fake.delete(fullname)

    def remove(
        self,
        fullname: str,
        category: str = "moderator",
        text: str = "[removed]",
        title: str | None = None,
    ) -> None:
        """Remove an item as a moderator or admin; see :meth:`FakeReddit.remove`."""
        self.fake.remove(fullname, category, text, title)

    def hide(self, *fullnames: str) -> None:
        """Leave items out of /api/info; see :meth:`FakeReddit.hide`."""
        self.fake.hide(*fullnames)

    def created(self, since: float | None = None) -> list[Created]:
        """Every post and comment that exists now; see :meth:`FakeReddit.created`."""
        return self.fake.created(since)

    def mentioned(self, phrase: str) -> list[str]:
        """Items a planted phrase went into; see :meth:`FakeReddit.mentioned`."""
        return self.fake.mentioned(phrase)

    def now(self) -> float:
        """The server's clock."""
        return self.fake.now()

    def advance(self, seconds: float) -> float:
        """Move the ManualClock forward; see :meth:`FakeReddit.advance`."""
        return self.fake.advance(seconds)

    def expire_tokens(self) -> int:
        """Invalidate all tokens; see :meth:`FakeReddit.expire_tokens`."""
        return self.fake.expire_tokens()

    def reddit_kwargs(self, user_agent: str = "sentpipe-tests/0.1 (fake reddit)") -> dict[str, Any]:
        """Keyword arguments for ``asyncpraw.Reddit(...)`` pointing at this server."""
        return {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "user_agent": user_agent,
            "oauth_url": self.url,
            "reddit_url": self.url,
            "check_for_updates": False,
        }

    def close(self) -> None:
        """Stop the server (thread runner); idempotent."""
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()


async def _start(fake: FakeReddit) -> tuple[web.AppRunner, int]:
    config = fake.config
    check_loopback(config.host)
    runner = web.AppRunner(fake.make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    await site.start()
    port = int(runner.addresses[0][1])
    return runner, port


@asynccontextmanager
async def serve(
    config: FakeRedditConfig | None = None,
) -> AsyncIterator[RunningFakeReddit]:
    """Serve in the running event loop: ``async with serve(cfg) as fake: ...``."""
    fake = FakeReddit(config)
    runner, port = await _start(fake)
    try:
        yield RunningFakeReddit(fake, fake.config.host, port)
    finally:
        await runner.cleanup()


def run_in_thread(
    start: Callable[[], Awaitable[tuple[web.AppRunner, int]]], name: str
) -> tuple[int, Callable[[], None]]:
    """Run an aiohttp server in a daemon thread with its own event loop: `start()` sets
    it up and returns its runner and port. Returns (the port, a function that stops the
    server and waits for the thread, up to 10 s). Raises what `start` raised. Shared by
    the fake APIs (`fake_hn` too)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    result: dict[str, Any] = {}

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            result["runner"], result["port"] = loop.run_until_complete(start())
        except BaseException as exc:  # surfaced to the caller below
            result["error"] = exc
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(result["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=main, name=name, daemon=True)
    thread.start()
    ready.wait()
    if "error" in result:
        thread.join()
        raise result["error"]

    def closer() -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)

    return int(result["port"]), closer


def run_fake_reddit(config: FakeRedditConfig | None = None) -> RunningFakeReddit:
    """Start in a daemon thread with its own loop; call ``.close()`` when done."""
    fake = FakeReddit(config)
    port, closer = run_in_thread(lambda: _start(fake), "fake-reddit")
    running = RunningFakeReddit(fake, fake.config.host, port)
    running._closer = closer
    return running


@contextmanager
def serve_in_thread(
    config: FakeRedditConfig | None = None,
) -> Iterator[RunningFakeReddit]:
    """Serve from a background thread: ``with serve_in_thread(cfg) as fake: ...``."""
    running = run_fake_reddit(config)
    try:
        yield running
    finally:
        running.close()
