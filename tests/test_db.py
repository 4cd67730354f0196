"""`db init` / `db status` and the raw_events schema on TimescaleDB, PostgreSQL and SQLite."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sentiment_pipeline.cli import app
from sentiment_pipeline.db.migrate import alembic_config, init_db, migrations_dir
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.errors import ConfigError

runner = CliRunner()


def _cli(url: str, *args: str, tmp_path: Path | None = None) -> object:
    env = {"SENTPIPE_DATABASE_URL": url}
    if tmp_path is not None:
        env["SENTPIPE_DATA_DIR"] = str(tmp_path)
    return runner.invoke(app, list(args), env=env)


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(parse_database_url(url).sqlalchemy)


def test_single_head() -> None:
    from alembic.script import ScriptDirectory

    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
    assert (migrations_dir() / "env.py").is_file()


def test_init_is_idempotent(any_db_url: str) -> None:
    first = _cli(any_db_url, "db", "init")
    assert first.exit_code == 0, first.output
    assert "Migrated" in first.output
    second = _cli(any_db_url, "db", "init")
    assert second.exit_code == 0, second.output
    assert "Schema is current" in second.output


def test_schema_exactly_as_designed(any_db_url: str) -> None:
    init_db(parse_database_url(any_db_url))
    engine = _engine(any_db_url)
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns("raw_events")}
    assert list(columns) == [
        "id",
        "occurred_at",
        "source",
        "source_id",
        "event_type",
        "payload",
        "ingested_at",
        "processed",
        "processed_at",
    ]
    nullable = {name: c["nullable"] for name, c in columns.items()}
    assert nullable == {
        "id": False,
        "occurred_at": False,
        "source": False,
        "source_id": False,
        "event_type": False,
        "payload": False,
        "ingested_at": False,
        "processed": False,
        "processed_at": True,
    }
    assert inspector.get_pk_constraint("raw_events")["constrained_columns"] == ["id", "occurred_at"]
    uniques = inspector.get_unique_constraints("raw_events")
    assert [u["column_names"] for u in uniques] == [
        ["source", "source_id", "event_type", "id", "occurred_at"]
    ]
    indexes = {ix["name"]: ix for ix in inspector.get_indexes("raw_events")}
    assert indexes["ix_raw_events_source_source_id"]["column_names"] == ["source", "source_id"]
    partial = indexes["ix_raw_events_processed_occurred_at"]
    assert partial["column_names"] == ["processed", "occurred_at"]
    where = partial.get("dialect_options", {})
    assert any("processed" in str(v).lower() and "false" in str(v).lower() for v in where.values())
    occurred = [ix for ix in indexes.values() if ix["column_names"] == ["occurred_at"]]
    assert [ix["name"] for ix in occurred] == ["raw_events_occurred_at_idx"]  # exactly one
    if engine.dialect.name == "postgresql":
        types = {name: str(c["type"]) for name, c in columns.items()}
        assert types["payload"] == "JSONB"
        assert types["occurred_at"] == "TIMESTAMP" and columns["occurred_at"]["type"].timezone
    engine.dispose()


def test_uniqueness_is_enforced(any_db_url: str) -> None:
    init_db(parse_database_url(any_db_url))
    engine = _engine(any_db_url)
    row = {"id": "t3_a", "t": "2024-01-01 00:00:00+00:00", "s": "reddit", "sid": "python"}
    insert = sa.text(
        "INSERT INTO raw_events (id, occurred_at, source, source_id, event_type, payload) "
        "VALUES (:id, :t, :s, :sid, 'submission', '{}')"
    )
    with engine.begin() as connection:
        connection.execute(insert, row)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(insert, row)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(insert, {**row, "id": "t3_b", "sid": None})
    engine.dispose()


def test_upgrade_downgrade_upgrade(any_db_url: str) -> None:
    from alembic import command

    url = parse_database_url(any_db_url)
    init_db(url)
    engine = _engine(any_db_url)
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        connection.commit()
        assert not sa.inspect(connection).has_table("raw_events")
        command.upgrade(config, "head")
        connection.commit()
        assert sa.inspect(connection).has_table("raw_events")
    engine.dispose()


@pytest.mark.timescale
def test_timescale_hypertable_and_status(timescale_url: str) -> None:
    result = _cli(timescale_url, "db", "init", "--chunk-interval", "1 day")
    assert result.exit_code == 0, result.output
    assert "hypertable" in result.output
    assert "Apache" in result.output  # the licence notice
    status = _cli(timescale_url, "db", "status", "--json")
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert data["backend"] == "timescaledb"
    assert data["version"].startswith("TimescaleDB ") and "on PostgreSQL 17" in data["version"]
    assert data["hypertable"] is True
    assert data["chunk_interval"] == "1 day"
    assert data["up_to_date"] is True
    assert ":***@" in data["url"] and "sentpipe:sentpipe" not in data["url"]
    human = _cli(timescale_url, "db", "status")
    assert "hypertable, chunk interval 1 day" in human.output
    # a new interval on an initialised database applies to new chunks
    again = _cli(timescale_url, "db", "init", "--chunk-interval", "12 hours")
    assert again.exit_code == 0 and "chunk interval set to 12 hours" in again.output
    assert (
        json.loads(_cli(timescale_url, "db", "status", "--json").output)["chunk_interval"]
        == "12:00:00"
    )


@pytest.mark.postgres
def test_plain_postgres_fallback(postgres_url: str) -> None:
    refused = _cli(postgres_url, "db", "init", "--require-timescale")
    assert refused.exit_code == 2
    assert "TimescaleDB is not available" in refused.output
    result = _cli(postgres_url, "db", "init")
    assert result.exit_code == 0, result.output
    assert "plain PostgreSQL table" in result.output
    data = json.loads(_cli(postgres_url, "db", "status", "--json").output)
    assert data["backend"] == "postgresql"
    assert data["version"] == f"PostgreSQL {data['server_version']} (no TimescaleDB)"
    assert data["server_version"].startswith("15.")
    assert data["hypertable"] is False


def test_sqlite_status(sqlite_url: str) -> None:
    assert _cli(sqlite_url, "db", "init").exit_code == 0
    data = json.loads(_cli(sqlite_url, "db", "status", "--json").output)
    assert data["backend"] == "sqlite"
    assert data["version"].startswith("SQLite 3.")
    assert data["approx_rows"] == 0
    assert data["revision"] == data["head"]


def test_status_before_init(sqlite_url: str) -> None:
    result = _cli(sqlite_url, "db", "status")
    assert result.exit_code == 0
    assert "run `sentpipe db init`" in result.output


def test_bad_chunk_interval(sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="not an interval"):
        init_db(parse_database_url(sqlite_url), chunk_interval="soon")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_database_exit_3() -> None:
    port = _free_port()
    result = _cli(f"postgresql://u:topsecret@127.0.0.1:{port}/db", "db", "init")
    assert result.exit_code == 3
    assert f"127.0.0.1:{port}" in result.output
    assert "docker compose -f compose.timescale.yml up -d" in result.output
    assert "topsecret" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.postgres
def test_wrong_password_is_a_config_error(postgres_url: str) -> None:
    bad = postgres_url.replace("sentpipe:sentpipe@", "sentpipe:wrong@")
    result = _cli(bad, "db", "init")
    assert result.exit_code == 2
    assert "refused the login" in result.output


def test_orm_matches_the_migrated_schema(any_db_url: str) -> None:
    """RawEventORM is the autogenerate target: after `db init` there is nothing to generate."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from sentiment_pipeline.db.models import Base

    init_db(parse_database_url(any_db_url))
    engine = _engine(any_db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = [
            change
            for change in compare_metadata(context, Base.metadata)
            if not (
                isinstance(change, tuple)
                and change[0] == "remove_table"
                and change[1].name == "alembic_version"
            )
        ]
    engine.dispose()
    assert diff == []
