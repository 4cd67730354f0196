"""PostgresSink on real servers (TimescaleDB hypertable and plain PostgreSQL).

The CSV sink trusts `WriteResult.new` as a log of what the database stored, so every test
checks exact counts and the exact `new` events, then the table itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.dto import RawEventDTO, Validated, validate_record
from sentiment_pipeline.errors import ConfigError, TransientError
from sentiment_pipeline.sinks.base import WriteResult
from sentiment_pipeline.sinks.postgres import PostgresSink
from tests.fixtures.events import event as shared_event

SERVERS = ["timescale_url", "postgres_url"]


def _fresh_url(request: pytest.FixtureRequest, name: str) -> DatabaseURL:
    value = request.getfixturevalue(name)
    return value if isinstance(value, DatabaseURL) else parse_database_url(str(value))


@pytest.fixture(params=SERVERS)
def url(request: pytest.FixtureRequest) -> DatabaseURL:
    parsed = _fresh_url(request, request.param)
    init_db(parsed)
    return parsed


@pytest.fixture
def sink(url: DatabaseURL) -> Iterator[PostgresSink]:
    writer = PostgresSink(url)
    yield writer
    writer.close()


def event(n: int, **fields: Any) -> RawEventDTO:
    """The shared builder, with zero-padded ids so `ORDER BY id` is numeric order."""
    return shared_event(n, **({"id": f"t3_{n:05d}", "occurred_at": 1_700_000_000 + n * 7} | fields))


def keys(events: Any) -> list[tuple[str, datetime]]:
    return [e.key for e in events]


def stored(url: DatabaseURL) -> list[tuple[str, datetime]]:
    with psycopg.connect(url.libpq) as conn:
        return conn.execute("SELECT id, occurred_at FROM raw_events ORDER BY id").fetchall()


def backend_pids(url: DatabaseURL) -> list[int]:
    with psycopg.connect(url.libpq, autocommit=True) as conn:
        query = (
            "SELECT pid FROM pg_stat_activity "
            "WHERE application_name = 'sentpipe' AND datname = current_database()"
        )
        return [row[0] for row in conn.execute(query)]


def test_same_batch_twice_is_all_duplicates(url: DatabaseURL, sink: PostgresSink) -> None:
    batch = [event(i) for i in range(50)]
    first = sink.write(batch)
    second = sink.write(batch)
    assert keys(first.new) == keys(batch) and first.duplicates == 0
    assert second.new == [] and second.duplicates == 50
    assert stored(url) == sorted(keys(batch))


def test_mixed_batch_reports_exactly_the_new_rows(url: DatabaseURL, sink: PostgresSink) -> None:
    old = [event(i) for i in range(0, 40, 2)]
    sink.write(old)
    batch = [event(i) for i in range(40)]  # odd ones are new, interleaved with stored ones
    result = sink.write(batch)
    assert keys(result.new) == keys(batch[1::2])
    assert result.duplicates == 20 and result.inserted == 20
    assert stored(url) == sorted(keys(batch))


def test_duplicates_within_a_batch_keep_the_first(url: DatabaseURL, sink: PostgresSink) -> None:
    a, b, c = event(1), event(2), event(3)
    a_again = event(1, payload={"title": "edited"})
    result = sink.write([a, b, a_again, c, b])
    assert keys(result.new) == keys([a, b, c]) and result.duplicates == 2
    assert sink.write([]) == WriteResult(new=[], duplicates=0)
    with psycopg.connect(url.libpq) as conn:
        row = conn.execute("SELECT payload FROM raw_events WHERE id = %s", (a.id,)).fetchone()
    assert row == (a.payload,)


def test_hostile_text_round_trips(url: DatabaseURL, sink: PostgresSink) -> None:
    payload = {
        "title": "nul\x00byte",
        "emoji": "📈🚀 naïve ﬁ \u2028 \\ \" '",
        "big": "é" * 100_000 + "x" * 20_000,  # ~220 KB of UTF-8
        "nested": {"k\x00ey": [1, 2.5, None, True, "\x00"]},
    }
    result = validate_record(event(1).model_dump() | {"payload": payload})
    assert isinstance(result, Validated) and result.sanitized
    dto = result.event
    assert sink.write([dto]).inserted == 1
    with psycopg.connect(url.libpq) as conn:
        row = conn.execute("SELECT payload, payload::text FROM raw_events").fetchone()
    assert row is not None
    assert row[0] == dto.payload
    assert row[0]["title"] == "nul\ufffdbyte"
    assert row[0]["nested"] == {"k\ufffdey": [1, 2.5, None, True, "\ufffd"]}
    assert "\\u0000" not in row[1]


def test_offset_timestamp_is_stored_as_the_utc_instant(
    url: DatabaseURL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")  # the session time zone must not matter
    sink = PostgresSink(url)
    try:
        sink.write([event(1, occurred_at="2024-03-10T23:30:00-05:00")])
    finally:
        sink.close()
    monkeypatch.delenv("PGTZ")
    with psycopg.connect(url.libpq) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        row = conn.execute("SELECT occurred_at, occurred_at::text FROM raw_events").fetchone()
    assert row == (datetime(2024, 3, 11, 4, 30, tzinfo=UTC), "2024-03-11 04:30:00+00")


def _blocked_write(
    url: DatabaseURL, sink: PostgresSink, batch: list[RawEventDTO], rival: RawEventDTO
) -> tuple[psycopg.Connection[Any], threading.Thread, list[WriteResult | BaseException]]:
    """Start sink.write(batch) while another session holds `rival` uncommitted, so the
    sink's probe misses it and its COPY waits on the rival's row lock."""
    other = psycopg.connect(url.libpq)
    other.execute(
        "INSERT INTO raw_events (id, occurred_at, source, source_id, event_type, payload) "
        "VALUES (%s, %s, %s, %s, %s, '{}')",
        (rival.id, rival.occurred_at, rival.source, rival.source_id, rival.event_type),
    )
    outcome: list[WriteResult | BaseException] = []

    def run() -> None:
        try:
            outcome.append(sink.write(batch))
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    with psycopg.connect(url.libpq, autocommit=True) as admin:
        for _ in range(200):
            waiting = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sentpipe' "
                "AND datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the sink's COPY never waited on the rival insert")
    return other, thread, outcome


def test_concurrent_writer_falls_back_to_exact_staging(
    url: DatabaseURL, sink: PostgresSink
) -> None:
    batch = [event(i) for i in range(10)]
    sink.write(batch[:2])  # also creates the chunk, so only the row lock is contended
    other, thread, outcome = _blocked_write(url, sink, batch, rival=batch[5])
    other.commit()
    other.close()
    thread.join(10)
    [result] = outcome
    assert isinstance(result, WriteResult)
    assert keys(result.new) == keys(batch[2:5] + batch[6:]) and result.duplicates == 3
    again = sink.write([*batch, event(10)])  # the staging table is reusable afterwards
    assert keys(again.new) == keys([event(10)]) and again.duplicates == 10
    assert stored(url) == sorted(keys([*batch, event(10)]))


def test_terminated_connection_is_transient_then_reconnects(
    url: DatabaseURL, sink: PostgresSink
) -> None:
    first = [event(i) for i in range(5)]
    second = [event(i) for i in range(3, 9)]
    sink.write(first)
    with psycopg.connect(url.libpq, autocommit=True) as admin:
        for pid in backend_pids(url):
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(TransientError, match="lost the connection"):
        sink.write(second)
    result = sink.write(second)
    assert keys(result.new) == keys(second[2:]) and result.duplicates == 2
    assert stored(url) == sorted(keys(first + second[2:]))


def test_killed_mid_copy_rolls_back_and_retry_is_exact(
    url: DatabaseURL, sink: PostgresSink
) -> None:
    batch = [event(i) for i in range(10)]
    sink.write(batch[:1])
    other, thread, outcome = _blocked_write(url, sink, batch, rival=batch[5])
    with psycopg.connect(url.libpq, autocommit=True) as admin:
        for pid in backend_pids(url):
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    thread.join(10)
    [error] = outcome
    assert isinstance(error, TransientError)
    other.rollback()
    other.close()
    result = sink.write(batch)  # the killed transaction stored nothing
    assert keys(result.new) == keys(batch[1:]) and result.duplicates == 1
    assert stored(url) == sorted(keys(batch))


class _LosesCommitAck(PostgresSink):
    """Commits, then reports a dropped connection once, as if the COMMIT ack was lost."""

    lose_next = False

    def _probe_and_copy(
        self, conn: psycopg.Connection[Any], events: list[RawEventDTO]
    ) -> list[RawEventDTO]:
        new = super()._probe_and_copy(conn, events)
        if self.lose_next:
            self.lose_next = False
            conn.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return new


def test_lost_commit_ack_retry_still_reports_the_rows_as_new(url: DatabaseURL) -> None:
    batch = [event(i) for i in range(6)]
    sink = _LosesCommitAck(url)
    try:
        sink.write(batch[:2])
        sink.lose_next = True
        with pytest.raises(TransientError):
            sink.write(batch)  # committed, but the sink could not know
        result = sink.write(batch)
        assert keys(result.new) == keys(batch[2:]) and result.duplicates == 2
        assert sink.write(batch).new == []  # reported once only
    finally:
        sink.close()
    assert stored(url) == sorted(keys(batch))


@pytest.mark.parametrize("server", SERVERS)
def test_missing_table_is_a_config_error(request: pytest.FixtureRequest, server: str) -> None:
    sink = PostgresSink(_fresh_url(request, server))
    try:
        with pytest.raises(ConfigError, match="raw_events does not exist") as caught:
            sink.write([event(1)])
        assert caught.value.hint == "run `sentpipe db init` first"
        host_port = sink.url.host_port
        assert caught.value.reason == f"raw_events does not exist in the database at {host_port}"
    finally:
        sink.close()


def test_unreachable_server_is_transient_and_names_host_port() -> None:
    sink = PostgresSink(parse_database_url("postgresql://u:secret@127.0.0.1:9/db"))
    with pytest.raises(TransientError, match=r"127\.0\.0\.1:9") as caught:
        sink.write([event(1)])
    assert "secret" not in str(caught.value)
    assert sink.name == "timescale" and sink.is_database


def test_registry_builds_it_for_postgresql_urls_only(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from sentiment_pipeline.settings import Settings
    from sentiment_pipeline.sinks import create_sink

    pg = Settings(database_url=SecretStr("postgresql://u:p@db:5432/x"), data_dir=tmp_path)
    assert isinstance(create_sink("timescale", pg), PostgresSink)
    lite = Settings(database_url=SecretStr(f"sqlite:///{tmp_path}/x.db"), data_dir=tmp_path)
    with pytest.raises(ConfigError, match="postgresql://"):
        create_sink("timescale", lite)
