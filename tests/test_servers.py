"""The database fixtures give real servers and a fresh, empty database per test."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import psycopg
import pytest
import sqlalchemy as sa

from tests.fixtures.databases import SERVERS, _fresh_database, libpq_url

# Database names seen by the tests below (to prove each test gets its own).
_seen: dict[str, set[str]] = {"timescale": set(), "postgres": set()}


def _databases(admin_url: str) -> set[str]:
    with psycopg.connect(admin_url) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


def _user_tables(url: str) -> list[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            " AND schemaname NOT LIKE '\\_timescaledb%' AND schemaname <> 'timescaledb_information'"
            " AND schemaname <> 'timescaledb_experimental'"
        ).fetchall()
    return [r[0] for r in rows]


def test_timescale_has_extension_and_known_license(timescale_url: str) -> None:
    assert timescale_url.startswith("postgresql+psycopg://")
    assert urlsplit(timescale_url).path.startswith("/sp_test_")
    with psycopg.connect(libpq_url(timescale_url)) as conn:
        ext = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        assert ext is not None, "timescaledb extension not installed in the test database"
        license_ = conn.execute("SHOW timescaledb.license").fetchone()
        assert license_ is not None and license_[0] in {"apache", "timescale"}
        conn.execute("CREATE TABLE m (t timestamptz NOT NULL, v int)")
        conn.execute("SELECT create_hypertable('m', 't')")
        conn.execute("INSERT INTO m VALUES (now(), 1)")
        n = conn.execute("SELECT count(*) FROM timescaledb_information.hypertables").fetchone()
        assert n == (1,)


def test_postgres_has_no_timescaledb(postgres_url: str) -> None:
    with psycopg.connect(libpq_url(postgres_url)) as conn:
        (n,) = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone() or (None,)
        assert n == 0
        (version,) = conn.execute("SHOW server_version_num").fetchone() or ("0",)
        assert int(version) >= 130000  # DROP DATABASE ... WITH (FORCE)


@pytest.mark.parametrize("round_", [1, 2])
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("timescale", marks=pytest.mark.timescale),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
)
def test_each_test_gets_a_distinct_empty_database(
    kind: str, round_: int, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(f"{kind}_url"))
    dbname = urlsplit(url).path.lstrip("/")
    assert dbname not in _seen[kind]
    _seen[kind].add(dbname)
    assert _user_tables(url) == []
    # leave something behind: the next round must not see it
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("CREATE TABLE leftover (id int)")


def test_any_db_url_works_with_sqlalchemy(any_db_url: str) -> None:
    engine = sa.create_engine(any_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id integer PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("timescale", marks=pytest.mark.timescale),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
)
def test_database_is_dropped_after_the_test(kind: str, request: pytest.FixtureRequest) -> None:
    """Drive the factory behind ``timescale_url``/``postgres_url`` through one test's
    life: the database exists during the test (even with a connection still open at the
    end) and is gone after teardown. Skips, saying why, when the server is unavailable."""
    server = SERVERS[kind]
    life = _fresh_database(request, server)
    url = next(life)  # set-up (skips here without a server)
    dbname = urlsplit(url).path.lstrip("/")
    admin = libpq_url(os.environ[server.env])
    assert dbname in _databases(admin)
    left_open = psycopg.connect(libpq_url(url))  # a test that forgot to close
    try:
        left_open.execute("CREATE TABLE leftover (id int)")
        left_open.commit()
        with pytest.raises(StopIteration):
            next(life)  # teardown: DROP DATABASE ... WITH (FORCE)
    finally:
        left_open.close()
    assert dbname not in _databases(admin)
