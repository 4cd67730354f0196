"""Start/stop the fake HN on loopback: in the current loop or a background thread
(for code that calls ``asyncio.run`` itself, like typer's CliRunner)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from aiohttp import web

from sentiment_pipeline.fake_reddit.runner import run_in_thread

from .config import FakeHNConfig
from .requestlog import LogEntry
from .server import FakeHN


def check_loopback(host: str) -> None:
    """Refuse anything but a loopback address: this is a test double."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"fake HN only listens on loopback, not {host!r}")


class RunningFakeHN:
    """A started server: ``.url``, the two API bases, the request log and the clock."""

    def __init__(self, fake: FakeHN, host: str, port: int) -> None:
        self.fake = fake
        self.port = port
        self.url = f"http://{host}:{port}"
        self.api_url = f"{self.url}/v0"
        self.search_url = f"{self.url}/api/v1"
        self._closer: Callable[[], None] | None = None

    @property
    def config(self) -> FakeHNConfig:
        """The configuration it was started with."""
        return self.fake.config

    @property
    def request_log(self) -> list[LogEntry]:
        """Requests so far (a copy): ``method``, ``route``, ``path``, ``params``,
        ``status``, ``ts``."""
        return self.fake.log.snapshot()

    def count(self, route: str | None = None, status: int | None = None) -> int:
        """Logged requests matching the filters."""
        return self.fake.log.count(route=route, status=status)

    def clear_log(self) -> None:
        """Forget logged requests."""
        self.fake.log.clear()

    def now(self) -> int:
        """The fake's clock (epoch seconds)."""
        return self.fake.store.now()

    def advance(self, seconds: float) -> int:
        """Move the clock, publishing live stories; returns the new time."""
        return self.fake.store.advance(seconds)

    def delete(self, item_id: int) -> None:
        """The author deletes the item (``deleted: true``, only its skeleton left)."""
        self.fake.store.delete(item_id)

    def kill(self, item_id: int) -> None:
        """Moderators or flags kill the item (``dead: true``; gone from Algolia)."""
        self.fake.store.kill(item_id)

    def add_comment(self, parent_id: int, comment: str | None = None) -> int:
        """A new comment under ``parent_id`` (its story's ``descendants`` grow); its id."""
        return self.fake.store.add_comment(parent_id, comment)

    def bump_score(self, item_id: int, points: int) -> int:
        """Add ``points`` to the item's score; the new score."""
        return self.fake.store.bump_score(item_id, points)

    def edit(self, item_id: int, *, title: str | None = None, body: str | None = None) -> None:
        """Edit the item's ``title`` and/or ``text`` (HN HTML)."""
        self.fake.store.edit(item_id, title=title, body=body)

    def maxitem(self) -> int:
        """The newest item id."""
        return self.fake.store.maxitem()

    def mentioned(self) -> list[int]:
        """Ids the ``mention`` phrase was planted in, oldest first."""
        return self.fake.store.mentioned()

    def close(self) -> None:
        """Stop the thread-run server; idempotent."""
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()


async def _start(fake: FakeHN) -> tuple[web.AppRunner, int]:
    check_loopback(fake.config.host)
    runner = web.AppRunner(fake.make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, fake.config.host, fake.config.port, reuse_address=True)
    await site.start()
    return runner, int(runner.addresses[0][1])


@asynccontextmanager
async def serve(config: FakeHNConfig | None = None) -> AsyncIterator[RunningFakeHN]:
    """Serve in the running loop: ``async with serve(cfg) as fake: ...``."""
    fake = FakeHN(config)
    runner, port = await _start(fake)
    try:
        yield RunningFakeHN(fake, fake.config.host, port)
    finally:
        await runner.cleanup()


def run_fake_hn(config: FakeHNConfig | None = None) -> RunningFakeHN:
    """Start in a daemon thread with its own loop; call ``.close()`` when done."""
    fake = FakeHN(config)
    port, closer = run_in_thread(lambda: _start(fake), "fake-hn")
    running = RunningFakeHN(fake, fake.config.host, port)
    running._closer = closer
    return running


@contextmanager
def serve_in_thread(config: FakeHNConfig | None = None) -> Iterator[RunningFakeHN]:
    """Serve from a background thread: ``with serve_in_thread(cfg) as fake: ...``."""
    running = run_fake_hn(config)
    try:
        yield running
    finally:
        running.close()
