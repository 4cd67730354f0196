"""Fault injection against real PostgreSQL servers: a terminated backend, and a server
that goes away mid-run and comes back. Every record ends in the table exactly once."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.pipeline import run_from_settings_async
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.settings import load_settings
from tests.fixtures.events import raw_event, stored_rows
from tests.fixtures.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timescale


def id_counts(url: str) -> list[tuple[str, int]]:
    """(id, how many rows) for every id stored, sorted by id."""
    return sorted(Counter(row.id for row in stored_rows(url)).items())


def settings_for(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    monkeypatch.setenv("SENTPIPE_DATABASE_URL", url)
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SENTPIPE_SINKS", "database,csv")
    monkeypatch.setenv("SENTPIPE_BATCH_SIZE", "20")
    monkeypatch.setenv("SENTPIPE_FLUSH_INTERVAL", "0.05")
    for key, value in env.items():
        monkeypatch.setenv(f"SENTPIPE_{key}", value)
    return load_settings()


async def paced(numbers: range, every: int, hook: Any) -> AsyncIterator[dict[str, Any]]:
    for n in numbers:
        if n and n % every == 0:
            await asyncio.sleep(0.1)  # let the writer catch up
            await asyncio.to_thread(hook, n)
        yield raw_event(n)


def csv_ids(tmp_path: Path) -> list[str]:
    ids = []
    for path in (tmp_path / "csv").rglob("*.csv"):
        import csv

        with path.open(newline="", encoding="utf-8") as handle:
            ids.extend(row["id"] for row in csv.DictReader(handle))
    return ids


async def test_terminated_backend_is_retried(
    timescale_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_db(parse_database_url(timescale_url))
    settings = settings_for(timescale_url, tmp_path, monkeypatch)
    admin = sa.create_engine(parse_database_url(timescale_url).sqlalchemy)
    killed: list[int] = []

    def kill(_n: int) -> None:
        with admin.connect() as connection:
            done = connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name = 'sentpipe'"
                )
            ).all()
            killed.append(len(done))

    result = await run_from_settings_async(settings, paced(range(200), 50, kill))
    admin.dispose()
    assert sum(killed) >= 1, "the test did not terminate any sentpipe backend"
    assert result.inserted == 200 and result.spooled == 0, result.errors
    assert id_counts(timescale_url) == sorted((raw_event(n)["id"], 1) for n in range(200))
    assert sorted(csv_ids(tmp_path)) == sorted(raw_event(n)["id"] for n in range(200))


async def test_server_gone_then_back(
    timescale_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tcp_proxy: type[TcpProxy]
) -> None:
    init_db(parse_database_url(timescale_url))
    parts = urlsplit(timescale_url)
    proxy = tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
    via_proxy = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    settings = settings_for(via_proxy, tmp_path, monkeypatch, DB_RETRY_SECONDS="0.5")
    cut = threading.Event()

    def go_down(n: int) -> None:
        if n == 100 and not cut.is_set():
            proxy.down()
            cut.set()

    first = await run_from_settings_async(settings, paced(range(300), 50, go_down))
    assert cut.is_set()
    assert first.spooled > 0
    assert int(first.exit_code) == 3
    assert first.inserted + first.spooled == 300
    spool = Spool(tmp_path / "spool")
    assert spool.pending_records() == first.spooled

    proxy.up()

    async def more() -> AsyncIterator[dict[str, Any]]:
        for n in range(250, 320):
            yield raw_event(n)

    second = await run_from_settings_async(settings, more())
    assert second.replayed == first.spooled
    assert spool.files() == []
    assert int(second.exit_code) == 0
    stored = id_counts(timescale_url)
    assert len(stored) == 320 and all(count == 1 for _, count in stored)
    ids = csv_ids(tmp_path)
    assert len(ids) == 320 and len(set(ids)) == 320  # the CSV log matches the database
