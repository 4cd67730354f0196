"""`db init` / `db status` and the raw_events schema on TimescaleDB, PostgreSQL and SQLite."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import assume, given, settings
from hypothesis import strategies as st
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


def _has_html_text(connection: sa.Connection) -> bool:
    """`sp_html_text(text)` exists (migration 0006; PostgreSQL only, SQLite: never)."""
    if connection.dialect.name != "postgresql":
        return False
    found = connection.execute(sa.text("SELECT to_regprocedure('sp_html_text(text)')"))
    return found.scalar() is not None


def test_upgrade_downgrade_upgrade(any_db_url: str) -> None:
    from alembic import command

    url = parse_database_url(any_db_url)
    init_db(url)
    engine = _engine(any_db_url)
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        assert _has_html_text(connection) is (connection.dialect.name == "postgresql")
        assert {"language", "probabilities"} <= _score_columns(connection)
        assert _run_metrics_index(connection) == ["finished_at"]
        command.downgrade(config, "0008")
        connection.commit()
        assert not sa.inspect(connection).has_table("run_metrics")
        assert sa.inspect(connection).has_table("sentiment_daily")
        command.downgrade(config, "0006")
        connection.commit()
        assert not sa.inspect(connection).has_table("sentiment_daily")
        assert not {"language", "probabilities"} & _score_columns(connection)
        command.downgrade(config, "0005")
        connection.commit()
        assert not _has_html_text(connection)
        assert sa.inspect(connection).has_table("event_topics")
        command.downgrade(config, "0003")
        connection.commit()
        assert not sa.inspect(connection).has_table("collection_marks")
        assert not sa.inspect(connection).has_table("event_topics")
        assert not sa.inspect(connection).has_table("topic_matches")
        assert sa.inspect(connection).has_table("raw_events")
        command.downgrade(config, "base")
        connection.commit()
        assert not sa.inspect(connection).has_table("raw_events")
        command.upgrade(config, "head")
        connection.commit()
        assert sa.inspect(connection).has_table("raw_events")
        assert sa.inspect(connection).has_table("collection_marks")
        assert sa.inspect(connection).has_table("event_topics")
        assert sa.inspect(connection).has_table("topic_matches")
        assert _has_html_text(connection) is (connection.dialect.name == "postgresql")
        assert {"language", "probabilities"} <= _score_columns(connection)
        assert sa.inspect(connection).has_table("sentiment_daily")
        assert _run_metrics_index(connection) == ["finished_at"]
    engine.dispose()


def _run_metrics_index(connection: sa.Connection) -> list[str]:
    """Migration 0009: run_metrics, keyed (command, finished_at), with its time index."""
    inspector = sa.inspect(connection)
    primary = inspector.get_pk_constraint("run_metrics")["constrained_columns"]
    assert primary == ["command", "finished_at"]
    indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("run_metrics")}
    return list(indexes["ix_run_metrics_finished_at"])


def _score_columns(connection: sa.Connection) -> set[str]:
    return {c["name"] for c in sa.inspect(connection).get_columns("sentiment_scores")}


def test_collection_marks_is_a_plain_table(any_db_url: str) -> None:
    """Migration 0004: one mark per (source, target, kind), never a hypertable."""
    init_db(parse_database_url(any_db_url))
    engine = _engine(any_db_url)
    inspector = sa.inspect(engine)
    columns = {c["name"]: c["nullable"] for c in inspector.get_columns("collection_marks")}
    assert columns == {
        "source": False,
        "target": False,
        "kind": False,
        "mark": False,
        "updated_at": False,
    }
    primary = inspector.get_pk_constraint("collection_marks")
    assert primary["constrained_columns"] == ["source", "target", "kind"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            timescale = connection.execute(
                sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
            ).scalar()
            if timescale:
                hypertables = connection.execute(
                    sa.text("SELECT hypertable_name FROM timescaledb_information.hypertables")
                ).scalars()
                assert "collection_marks" not in set(hypertables)
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


# --- one server description, one error mapper ------------------------------------------


def _json(url: str, *args: str) -> dict[str, object]:
    result = _cli(url, *args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_stats_and_status_describe_the_same_server(
    any_db_url: str, request: pytest.FixtureRequest
) -> None:
    assert _cli(any_db_url, "db", "init", "--chunk-interval", "1 day").exit_code == 0
    status = _json(any_db_url, "db", "status", "--json")
    backend = _json(any_db_url, "stats", "--json")["backend"]
    assert isinstance(backend, dict)
    assert backend["description"] == status["version"]
    assert backend["kind"] == status["backend"]
    for key in ("hypertable", "chunk_interval", "chunks", "timescaledb_license"):
        assert backend[key] == status[key], key
    assert backend["server_version"] == status["server_version"]
    assert backend["timescaledb_version"] == status["timescaledb_version"]
    server = request.node.callspec.params["any_db_url"]
    if server == "timescale":
        assert status["chunk_interval"] == "1 day" and status["hypertable"] is True
        licence = status["timescaledb_license"]
        assert licence in {"apache", "timescale"}
        assert f"({licence.capitalize()} licence)" in str(status["version"])
    else:
        assert status["chunk_interval"] is None and status["hypertable"] is False
    # the human outputs use the same words for the server and the table layout
    human_status = _cli(any_db_url, "db", "status").stdout
    human_stats = _cli(any_db_url, "stats").stdout
    layout = (
        "hypertable, chunk interval 1 day, 0 chunks" if server == "timescale" else "plain table"
    )
    for text in (human_status, human_stats):
        assert str(status["version"]) in " ".join(text.split())
        assert layout in text


def test_status_before_init_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    data = _json(f"sqlite:///{path}", "db", "status", "--json")
    assert data["table_exists"] is False and data["revision"] is None
    assert not path.exists()


def _fresh_sqlite_without_table(tmp_path: Path) -> str:
    import sqlite3

    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # a database file, no raw_events
    assert path.is_file()
    return f"sqlite:///{path}"


@pytest.mark.parametrize("server", ["timescale", "postgres", "sqlite"])
def test_missing_table_reads_the_same_everywhere(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from sentiment_pipeline.dto import Validated, validate_record
    from sentiment_pipeline.settings import load_settings
    from sentiment_pipeline.sinks import create_sink

    if server == "sqlite":
        url = _fresh_sqlite_without_table(tmp_path)
    else:
        url = str(request.getfixturevalue(f"{server}_url"))  # a fresh, empty database
    parsed = parse_database_url(url)
    where = (
        f"SQLite database {parsed.sqlite_path}"
        if server == "sqlite"
        else f"the database at {parsed.host_port}"
    )
    expected = f"raw_events does not exist in {where}. Run `sentpipe db init` first"
    for args in (("stats",), ("export", "csv", "-o", "-")):
        result = _cli(url, *args)
        assert result.exit_code == 2, result.output
        assert expected in " ".join(result.stderr.split())
    record = validate_record(
        {
            "id": "t1_a",
            "occurred_at": "2024-01-01T00:00:00Z",
            "source": "reddit",
            "source_id": "python",
            "event_type": "comment",
            "payload": {},
        }
    )
    assert isinstance(record, Validated)
    env = {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        sink = create_sink("database", load_settings())
    try:
        with pytest.raises(ConfigError) as raised:
            sink.write([record.event])
        assert raised.value.one_line() == expected
    finally:
        sink.close()


def test_read_side_never_creates_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/none.db"
    for args in (("stats",), ("export", "csv", "-o", "-")):
        result = _cli(url, *args)
        assert result.exit_code == 2
        assert "no SQLite database at" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_sqlite_busy_is_transient_for_sinks_and_exit_3_for_commands(tmp_path: Path) -> None:
    import sqlite3

    from sentiment_pipeline.db.errors import map_sqlite_error
    from sentiment_pipeline.errors import DatabaseUnreachable, ExitCode, TransientError

    url = parse_database_url(f"sqlite:///{tmp_path}/busy.db")
    init_db(url)
    holder = sqlite3.connect(url.sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # take the write lock
    other = sqlite3.connect(url.sqlite_path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        holder.execute("ROLLBACK")
        holder.close()
    retried = map_sqlite_error(url, caught.value, retry=True)
    assert isinstance(retried, TransientError)
    assert str(retried) == f"SQLite database {url.sqlite_path} is busy: database is locked"
    final = map_sqlite_error(url, caught.value)
    assert isinstance(final, DatabaseUnreachable) and final.exit_code == ExitCode.UNREACHABLE
    assert map_sqlite_error(url, sqlite3.OperationalError("near x: syntax error")).args == (
        "near x: syntax error",
    )


@pytest.mark.timescale
def test_lost_connection_on_the_read_side_is_exit_3(timescale_url: str) -> None:
    import psycopg

    from sentiment_pipeline.db.connect import open_reader
    from sentiment_pipeline.errors import DatabaseUnreachable

    url = parse_database_url(timescale_url)
    init_db(url)
    with open_reader(url) as reader:
        [(pid,)] = reader.rows("SELECT pg_backend_pid()")
        with psycopg.connect(url.libpq, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(DatabaseUnreachable, match="lost the connection to PostgreSQL at"):
            reader.rows("SELECT 1")


def test_unreachable_and_refused_read_the_same_for_every_command() -> None:
    port = _free_port()
    url = f"postgresql://u:topsecret@127.0.0.1:{port}/db"
    outputs = []
    for args in (("db", "status"), ("stats",), ("export", "csv", "-o", "-")):
        result = _cli(url, *args)
        assert result.exit_code == 3, (args, result.output)
        assert "topsecret" not in result.output
        outputs.append(" ".join(result.stderr.split()))
    assert all(f"cannot connect to PostgreSQL at 127.0.0.1:{port}" in out for out in outputs)


@pytest.mark.postgres
def test_wrong_password_reads_the_same_for_every_command(postgres_url: str) -> None:
    bad = postgres_url.replace("sentpipe:sentpipe@", "sentpipe:wrong@")
    for args in (("db", "status"), ("stats",), ("export", "csv", "-o", "-")):
        result = _cli(bad, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "refused the login" in result.stderr


def test_sqlite_sink_on_an_unopenable_file_is_a_config_error(tmp_path: Path) -> None:
    from sentiment_pipeline.sinks.sqlite import SqliteSink

    folder = tmp_path / "a-folder.db"
    folder.mkdir()  # a path sqlite3 cannot open as a database
    sink = SqliteSink(parse_database_url(f"sqlite:///{folder}"))
    with pytest.raises(ConfigError, match=f"cannot open SQLite database {folder}"):
        sink._connect()  # what the first write does
    sink.close()


# --- a SQLite URL names exactly one file ------------------------------------------


def test_every_command_uses_the_one_file_an_encoded_sqlite_url_names(tmp_path: Path) -> None:
    """A path with a space, `#`, `%`, `?` and Unicode, percent-encoded: `db init`
    migrates the file the sinks write, `stats` and `export` read, and no other file."""
    from urllib.parse import quote

    from tests.fixtures.cli import invoke
    from tests.fixtures.events import ndjson_line

    folder = tmp_path / "dbs dir"
    folder.mkdir()
    path = folder / "a b#c%d?e ünï 😀.db"
    url = "sqlite:///" + quote(str(path), safe="/")
    assert parse_database_url(url).sqlite_path == path
    source = tmp_path / "in.ndjson"
    source.write_text(f"{ndjson_line(1)}\n{ndjson_line(2)}\n", encoding="utf-8")
    env = {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(tmp_path / "data")}
    for args in (
        ("db", "init"),
        ("ingest", "ndjson", str(source), "--sink", "database"),
        ("db", "status"),
    ):
        result = invoke(*args, env=env)
        assert result.exit_code == 0, (args, result.output)
    stats = invoke("stats", "--json", env=env)
    assert stats.exit_code == 0, stats.output
    exported = invoke("export", "csv", "-o", "-", "--columns", "id", env=env)
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.split() == ["id", "t3_1", "t3_2"]
    companions = {path.name, f"{path.name}-wal", f"{path.name}-shm"}
    assert path.is_file() and {p.name for p in folder.iterdir()} <= companions
    others = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != folder]
    assert others == [source]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///x.db?mode=ro", "has a `?` query, which sentpipe does not take"),
        ("sqlite:///x%zz.db", "the SQLite file name holds a `%` not followed by two hex digits"),
        ("sqlite:///:memory:", "an in-memory SQLite database keeps nothing"),
        ("sqlite:///", "has no file path"),
    ],
)
def test_sqlite_url_that_names_no_single_file_is_exit_2(
    url: str, reason: str, tmp_path: Path
) -> None:
    for args in (("db", "init"), ("stats",)):
        result = _cli(url, *args, tmp_path=tmp_path)
        assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
        assert reason in " ".join(result.stderr.split())  # type: ignore[attr-defined]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_relative_sqlite_url_is_relative_to_the_working_directory(tmp_path: Path) -> None:
    result = _cli("sqlite:///rel%20ative.db", "db", "init", tmp_path=tmp_path / "data")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert (tmp_path / "rel ative.db").is_file()  # the test runs in tmp_path
    assert not (tmp_path / "rel%20ative.db").exists()


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00/"), min_size=1)
)
def test_any_sqlite_path_round_trips_through_its_url(name: str) -> None:
    from sqlalchemy.engine import make_url

    from sentiment_pipeline.db.engine import engine_url
    from sentiment_pipeline.db.url import sqlite_database

    assume(name not in (".", "..", ":memory:"))
    path = Path("/data dir") / name
    url = sqlite_database(path)
    assert parse_database_url(url.sqlalchemy).sqlite_path == path
    assert make_url(url.sqlalchemy).database == str(path)
    assert engine_url(url).database == str(path)
