"""Fail before spending: every command that writes checks, before its first request or
read, that the database is reachable and migrated to head (`db.migrate.ensure_schema`).
The embedded SQLite default is migrated by the command itself; any other database gives
exit 2 with "run `sentpipe db init`", no request made, no record read, no file left."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import sentiment_pipeline
from sentiment_pipeline.db.connect import open_engine
from sentiment_pipeline.db.migrate import (
    HEAD_REVISION,
    alembic_config,
    ensure_schema,
    head_revision,
    init_db,
    schema_revision,
)
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.fake_reddit import RunningFakeReddit
from sentiment_pipeline.settings import load_settings
from tests.fixtures.cli import invoke
from tests.fixtures.events import ndjson_line, stored_rows
from tests.test_scrape import reddit_env, sqlite_files

SENTPIPE = Path(sys.executable).with_name("sentpipe")
HEAD = head_revision(alembic_config())
SERVERS = [
    pytest.param("timescale", marks=pytest.mark.timescale, id="timescale"),
    pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
    pytest.param("sqlite", id="sqlite"),
]


def _one_line(output: str) -> str:
    return " ".join(output.split())


def _unmigrated(server: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty PostgreSQL/TimescaleDB database, or a SQLite URL whose file does
    not exist."""
    if server == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'explicit.db'}"
    return str(request.getfixturevalue(f"{server}_url"))


def _at_first_revision(url: str) -> str:
    """Migrate `url` to revision 0001 only (raw_events, no sentiment_scores)."""
    from alembic import command

    engine, connection = open_engine(parse_database_url(url))
    try:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.commit()
    finally:
        connection.close()
        engine.dispose()
    assert schema_revision(parse_database_url(url))[0] == "0001"
    return url


def _ndjson_file(tmp_path: Path) -> Path:
    """Three good records and one broken line: reading it would dead-letter line 3."""
    path = tmp_path / "in.ndjson"
    path.write_text(
        "\n".join([ndjson_line(1), ndjson_line(2), "{broken", ndjson_line(3)]) + "\n",
        encoding="utf-8",
    )
    return path


# scrape reddit ------------------------------------------------------------------------


def test_the_packaged_head_is_the_constant_the_schema_check_uses() -> None:
    """`ensure_schema` compares with `HEAD_REVISION` (no Alembic import at start-up); a new
    migration without moving it would make every command refuse a migrated database."""
    assert HEAD == HEAD_REVISION


@pytest.mark.parametrize("server", SERVERS)
def test_scrape_on_an_unmigrated_database_exits_2_before_any_request(
    server: str,
    request: pytest.FixtureRequest,
    fake_reddit: RunningFakeReddit,
    tmp_path: Path,
) -> None:
    url = _unmigrated(server, request, tmp_path)
    data = tmp_path / "data"
    result = invoke("scrape", "reddit", "-s", "tiny", env=reddit_env(fake_reddit, data, url))
    assert result.exit_code == 2, result.output
    message = _one_line(result.output)
    if server == "sqlite":
        assert f"no SQLite database at {parse_database_url(url).sqlite_path}" in message
    else:
        assert "raw_events does not exist in the database at" in message
    assert "Run `sentpipe db init` first" in message
    assert fake_reddit.count() == 0  # not one request spent
    assert sqlite_files(tmp_path) == []  # no empty database file left behind
    assert not (data / "csv").exists()


@pytest.mark.parametrize("server", SERVERS)
def test_scrape_on_an_older_revision_exits_2_and_migrates_nothing(
    server: str,
    request: pytest.FixtureRequest,
    fake_reddit: RunningFakeReddit,
    tmp_path: Path,
) -> None:
    if server == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = str(request.getfixturevalue(f"{server}_url"))
    _at_first_revision(url)
    env = reddit_env(fake_reddit, tmp_path / "data", url)
    result = invoke("scrape", "reddit", "-s", "tiny", env=env)
    assert result.exit_code == 2, result.output
    message = _one_line(result.output)
    assert f"is not migrated (at revision 0001, head {HEAD})" in message
    assert "sentpipe db init" in message
    assert fake_reddit.count() == 0
    assert schema_revision(parse_database_url(url))[0] == "0001"  # left as it was


def test_scrape_on_the_embedded_default_migrates_and_stores(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    data = tmp_path / "fresh-machine"
    env = reddit_env(fake_reddit, data, None)
    result = invoke("scrape", "reddit", "-s", "tiny", "--no-comments", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 5
    database = data / "sentpipe.db"
    assert schema_revision(parse_database_url(f"sqlite:///{database}")) == (HEAD, True)
    assert len(stored_rows(f"sqlite:///{database}")) == 5
    again = invoke("scrape", "reddit", "-s", "tiny", "--no-comments", "--json", env=env)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["inserted"] == 0


def test_scrape_csv_only_needs_no_database(fake_reddit: RunningFakeReddit, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'never.db'}"
    env = {**reddit_env(fake_reddit, tmp_path / "data", url), "SENTPIPE_SINKS": "csv"}
    result = invoke("scrape", "reddit", "-s", "tiny", "--no-comments", env=env)
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "data" / "csv" / "reddit" / "tiny").glob("*.csv"))
    assert sqlite_files(tmp_path) == []


# ingest ndjson and spool replay -------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
def test_ingest_on_an_unmigrated_database_reads_nothing(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _unmigrated(server, request, tmp_path)
    data = tmp_path / "data"
    source = _ndjson_file(tmp_path)
    before = source.read_bytes()
    env = {"SENTPIPE_DATA_DIR": str(data), "SENTPIPE_DATABASE_URL": url}
    result = invoke("ingest", "ndjson", str(source), env=env)
    assert result.exit_code == 2, result.output
    assert "sentpipe db init" in _one_line(result.output)
    assert source.read_bytes() == before
    # Nothing was read, so nothing can be lost: no dead letter for line 3, no spool.
    assert not (data / "dead-letter").exists()
    assert not (data / "spool").exists()
    assert not (data / "csv").exists()
    assert sqlite_files(tmp_path) == []
    replay = invoke("spool", "replay", env=env)
    assert replay.exit_code == 2, replay.output
    assert "sentpipe db init" in _one_line(replay.output)
    assert sqlite_files(tmp_path) == []


def test_ingest_on_an_older_sqlite_revision_exits_2(tmp_path: Path) -> None:
    url = _at_first_revision(f"sqlite:///{tmp_path / 'old.db'}")
    env = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": url}
    result = invoke("ingest", "ndjson", str(_ndjson_file(tmp_path)), env=env)
    assert result.exit_code == 2, result.output
    assert f"is not migrated (at revision 0001, head {HEAD})" in _one_line(result.output)
    assert not (tmp_path / "data" / "dead-letter").exists()


def test_ingest_on_the_embedded_default_migrates_even_an_older_revision(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    embedded = f"sqlite:///{data / 'sentpipe.db'}"
    _at_first_revision(embedded)
    env = {"SENTPIPE_DATA_DIR": str(data), "SENTPIPE_DATABASE_URL": None}
    result = invoke("ingest", "ndjson", str(_ndjson_file(tmp_path)), "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["inserted"] == 3
    assert schema_revision(parse_database_url(embedded)) == (HEAD, True)


@pytest.mark.parametrize("sink", ["csv", "memory"])
def test_ingest_without_a_database_sink_needs_no_database(sink: str, tmp_path: Path) -> None:
    """`--sink csv` alone writes no database; the memory sink leads but is no database."""
    url = f"sqlite:///{tmp_path / 'never.db'}"
    env = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": url}
    result = invoke(
        "ingest", "ndjson", str(_ndjson_file(tmp_path)), "--sink", sink, "--json", env=env
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["inserted"] == 3
    assert sqlite_files(tmp_path) == []


def test_installed_command_ingests_on_a_fresh_machine(tmp_path: Path) -> None:
    data = tmp_path / "home" / "sentpipe"
    env = {"PATH": "/usr/bin:/bin", "SENTPIPE_DATA_DIR": str(data), "HOME": str(tmp_path)}
    # The same sources as this test process (PYTHONPATH=src is relative to the checkout).
    env["PYTHONPATH"] = str(Path(sentiment_pipeline.__file__).resolve().parents[1])
    text = "\n".join(ndjson_line(n) for n in range(4)) + "\n"
    done = subprocess.run(
        [str(SENTPIPE), "ingest", "ndjson", "-", "--json"],
        input=text,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inserted"] == 4
    status = subprocess.run(
        [str(SENTPIPE), "db", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert json.loads(status.stdout)["up_to_date"] is True


# sentiment score ----------------------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
def test_sentiment_score_on_an_unmigrated_database_exits_2(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _unmigrated(server, request, tmp_path)
    env = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": url}
    result = invoke("sentiment", "score", env=env)
    assert result.exit_code == 2, result.output
    assert "Run `sentpipe db init` first" in _one_line(result.output)
    assert sqlite_files(tmp_path) == []


def test_sentiment_score_at_revision_0001_names_both_revisions(tmp_path: Path) -> None:
    url = _at_first_revision(f"sqlite:///{tmp_path / 'old.db'}")
    env = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": url}
    result = invoke("sentiment", "score", env=env)
    assert result.exit_code == 2, result.output
    assert f"is not migrated (at revision 0001, head {HEAD})" in _one_line(result.output)


def test_sentiment_score_on_the_embedded_default_migrates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"SENTPIPE_DATA_DIR": str(data), "SENTPIPE_DATABASE_URL": ""}
    result = invoke("sentiment", "score", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["scored"] == 0
    ingest = invoke("ingest", "ndjson", str(_ndjson_file(tmp_path)), env=env)
    assert ingest.exit_code == 0, ingest.output
    scored = invoke("sentiment", "score", "--json", env=env)
    assert json.loads(scored.output)["scored"] == 3


# ensure_schema itself -----------------------------------------------------------------


def test_embedded_database_flag(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).embedded_database
    assert load_settings(data_dir=tmp_path, database_url="  ").embedded_database
    explicit = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/sentpipe.db")
    assert not explicit.embedded_database
    assert explicit.database == load_settings(data_dir=tmp_path).database


def test_ensure_schema_at_head_changes_nothing(any_db_url: str) -> None:
    url = parse_database_url(any_db_url)
    init_db(url)
    assert ensure_schema(url, migrate=False) is None
    assert ensure_schema(url, migrate=True) is None
    assert schema_revision(url) == (HEAD, True)


def test_ensure_schema_migrates_only_when_told(tmp_path: Path) -> None:
    url = parse_database_url(f"sqlite:///{tmp_path / 'sub' / 'new.db'}")
    with pytest.raises(ConfigError, match="no SQLite database at"):
        ensure_schema(url, migrate=False)
    assert not url.sqlite_path.exists()
    done = ensure_schema(url, migrate=True)
    assert done is not None and done.before is None and done.head == HEAD
    assert schema_revision(url) == (HEAD, True)


def test_a_revision_from_a_newer_sentpipe_is_refused_even_when_migrating(tmp_path: Path) -> None:
    url = parse_database_url(f"sqlite:///{tmp_path / 'future.db'}")
    init_db(url)
    engine = sa.create_engine(url.sqlalchemy)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    for migrate in (False, True):
        with pytest.raises(ConfigError) as raised:
            ensure_schema(url, migrate=migrate)
        assert raised.value.reason == (
            f"SQLite database {url.sqlite_path} is at revision 9999, which this sentpipe "
            f"does not know (head {HEAD})"
        )
    assert schema_revision(url)[0] == "9999"
