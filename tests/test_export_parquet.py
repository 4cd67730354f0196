"""`export parquet` on real TimescaleDB, PostgreSQL and SQLite: the CSV export's values,
typed; read back by pandas, DuckDB and pyarrow's hive datasets; the command's refusals."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.export import EventFilter, export_csv
from sentiment_pipeline.export.columns import ALL_COLUMNS, TYPED_KINDS, parse_columns
from sentiment_pipeline.export.parquet import (
    arrow_schema,
    export_parquet,
    partition_dir,
    partition_value,
)
from sentiment_pipeline.timeparse import parse_moment
from tests.fixtures.cli import invoke
from tests.fixtures.events import raw_event
from tests.fixtures.isolation import ROOT
from tests.test_export import HOSTILE, SENTIMENT_SCORES, add_scores, load, record

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")
duckdb = pytest.importorskip("duckdb")

EVERY_COLUMN = parse_columns(",".join(ALL_COLUMNS))
# Events of a generic source; `awkward` gives them ids validation would refuse (a row
# stored before the rule, or by hand) that would break a naive partition path.
AWKWARD = [
    raw_event(n, source="forum", source_id=f"forum{n}", event_type="post", payload={"text": t})
    for n, t in ((1, "slash"), (2, "dots"), (3, "percent"))
]
AWKWARD_IDS = {"forum1": "a/b=c", "forum2": "../../x", "forum3": "50% é"}


def awkward(db: DatabaseURL) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(db.sqlalchemy)
    with engine.begin() as connection:
        for old, new in AWKWARD_IDS.items():
            connection.execute(
                sa.text("UPDATE raw_events SET source_id = :new WHERE source_id = :old"),
                {"old": old, "new": new},
            )
    engine.dispose()


def link_topics(db: DatabaseURL, links: list[tuple[str, str]]) -> None:
    """(event id, topic) rows in event_topics, linked by the event's own text."""
    import sqlalchemy as sa

    engine = sa.create_engine(db.sqlalchemy)
    with engine.begin() as connection:
        for ident, topic in links:
            connection.execute(
                sa.text(
                    "INSERT INTO event_topics (id, occurred_at, topic, via) "
                    "SELECT id, occurred_at, :topic, 'text' FROM raw_events WHERE id = :id"
                ),
                {"id": ident, "topic": topic},
            )
    engine.dispose()


_CELL = re.compile(r'(?:"((?:[^"]|"")*)"|([^,\r\n"]*))(,|\r\n)')


def csv_rows(data: str) -> list[list[str | None]]:
    """RFC 4180 rows as `export csv` writes them: an unquoted empty field is NULL (None),
    a quoted one the empty string. (An independent reader: `csv` cannot tell them apart.)"""
    rows: list[list[str | None]] = []
    row: list[str | None] = []
    position = 0
    while position < len(data):
        match = _CELL.match(data, position)
        assert match, data[position : position + 40]
        quoted, plain, end = match.groups()
        if quoted is not None:
            row.append(quoted.replace('""', '"'))
        else:
            row.append(plain or None)
        if end == "\r\n":
            rows.append(row)
            row = []
        position = match.end()
    return rows


def parse_cell(kind: str, text: str | None) -> Any:
    """A CSV cell read with the type docs/export.md documents for its column."""
    if kind == "list":
        return text.split(";") if text else []
    if text is None:
        return None
    if kind == "timestamp":
        return datetime.fromisoformat(text)
    if kind == "int64":
        return int(text) if re.fullmatch(r"-?[0-9]{1,18}", text) else None
    if kind == "float64":
        return float(text)
    if kind == "bool":
        return {"true": True, "false": False}[text]
    return text


def csv_records(db: DatabaseURL, columns: tuple[str, ...], **options: Any) -> list[dict[str, Any]]:
    """The CSV export's rows, each value parsed by its documented type."""
    import io

    out = io.BytesIO()
    export_csv(db, out, columns=columns, **options)
    header, *rows = csv_rows(out.getvalue().decode("utf-8"))
    assert tuple(header) == columns
    return [
        {name: parse_cell(TYPED_KINDS[name], cell) for name, cell in zip(columns, row, strict=True)}
        for row in rows
    ]


def plain(value: Any) -> Any:
    """A value pandas or DuckDB gives back, as a plain Python value (None for missing)."""
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        return [plain(item) for item in list(value)]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def pandas_records(path: Path) -> list[dict[str, Any]]:
    frame = pd.read_parquet(path, dtype_backend="pyarrow")
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def duckdb_records(path: Path) -> list[dict[str, Any]]:
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        cursor = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
        names = [d[0] for d in cursor.description]
        return [{k: plain(v) for k, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def seeded(url: str) -> DatabaseURL:
    db = load(url, HOSTILE, processed=["t1_b"])
    add_scores(db, SENTIMENT_SCORES)
    link_topics(db, [("t3_a", "tesla"), ("t3_a", "ford"), ("t1_c", "rivian")])
    return db


def test_pandas_and_duckdb_read_the_csv_values_on_every_backend(
    any_db_url: str, tmp_path: Path
) -> None:
    db = seeded(any_db_url)
    target = tmp_path / "events.parquet"
    result = export_parquet(db, target, columns=EVERY_COLUMN)
    assert result.rows == 4 and result.files == [target]
    expected = csv_records(db, EVERY_COLUMN)
    assert [row["id"] for row in expected] == ["t3_a", "t1_b", "t1_0", "t1_c"]
    assert expected[0]["topics"] == ["ford", "tesla"] and expected[1]["topics"] == []
    assert expected[0]["sentiment_compound"] == 0.1235  # the CSV's 4 decimals
    assert expected[1]["score"] is None  # 1.5 is no whole number
    assert pandas_records(target) == expected
    assert duckdb_records(target) == expected


def test_same_values_across_backends_and_filters(
    timescale_url: str, postgres_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    dbs = [seeded(url) for url in (timescale_url, postgres_url, sqlite_url)]
    variants: list[dict[str, Any]] = [
        {"columns": EVERY_COLUMN},
        {"columns": parse_columns("id,text,sentiment_label"), "sentiment_model": "other-1"},
        {
            "columns": parse_columns("id,occurred_at"),
            "where": EventFilter(since=parse_moment("2024-01-01T23:59:59.999999Z")),
            "limit": 2,
        },
        {"where": EventFilter(source_ids=("wsb",), event_types=("comment",))},
        {"columns": parse_columns("title")},  # one column: a NULL row is an empty line
        {"columns": parse_columns("text")},  # one column: `\.` (COPY's end marker) is text
    ]
    for n, variant in enumerate(variants):
        tables = []
        for db in dbs:
            target = tmp_path / f"{db.backend}-{n}-{len(tables)}.parquet"
            export_parquet(db, target, **variant)
            tables.append(pq.read_table(target))
            assert tables[-1].to_pylist() == csv_records(db, **_csv_options(variant))
        assert tables[0].equals(tables[1]) and tables[1].equals(tables[2]), variant


def _csv_options(variant: dict[str, Any]) -> dict[str, Any]:
    options = dict(variant)
    options.setdefault("columns", parse_columns(None))
    return options


def test_types_are_as_documented(sqlite_url: str, tmp_path: Path) -> None:
    db = seeded(sqlite_url)
    target = tmp_path / "events.parquet"
    export_parquet(db, target, columns=EVERY_COLUMN)
    schema = pq.read_schema(target)
    assert schema.names == list(EVERY_COLUMN)
    assert schema == arrow_schema(EVERY_COLUMN)
    assert schema.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("score").type == pa.int64()
    assert schema.field("sentiment_compound").type == pa.float64()
    assert schema.field("processed").type == pa.bool_()
    assert schema.field("topics").type == pa.list_(pa.string())
    assert schema.field("payload").type == pa.string()
    compression = {
        pq.ParquetFile(target).metadata.row_group(0).column(i).compression
        for i in range(len(EVERY_COLUMN))
    }
    assert compression == {"ZSTD"}
    # docs/export.md's table names every column with its type
    docs = (ROOT / "docs" / "export.md").read_text()
    table = docs[docs.index("| column | Parquet type |") :]
    documented = dict(re.findall(r"^\| `([a-z_]+)`[^|]*\| `([^`]+)`", table, re.M))
    assert {name: documented.get(name) for name in ALL_COLUMNS} == {
        name: str(arrow_schema((name,)).field(0).type) for name in ALL_COLUMNS
    }


def test_empty_export_is_a_valid_file_with_the_schema(any_db_url: str, tmp_path: Path) -> None:
    db = load(any_db_url, [])
    target = tmp_path / "empty.parquet"
    assert export_parquet(db, target).rows == 0
    table = pq.read_table(target)
    assert table.num_rows == 0 and table.schema == arrow_schema(parse_columns(None))


@pytest.mark.parametrize("backend", ["sqlite", "timescale"])
def test_partitioned_layout_is_a_hive_dataset(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    import pyarrow.dataset as ds

    db = load(request.getfixturevalue(f"{backend}_url"), [*HOSTILE, *AWKWARD])
    awkward(db)
    folder = tmp_path / "out"
    result = export_parquet(db, folder, layout="partitioned")
    assert result.rows == 7
    relative = [str(path.relative_to(folder)) for path in result.files]
    assert relative == [
        "source=forum/container=..%2F..%2Fx/day=2023-11-14/part-0.parquet",
        "source=forum/container=50%25%20%C3%A9/day=2023-11-14/part-0.parquet",
        "source=forum/container=a%2Fb%3Dc/day=2023-11-14/part-0.parquet",
        "source=reddit/container=stocks/day=2024-01-01/part-0.parquet",
        "source=reddit/container=wsb/day=2024-01-02/part-0.parquet",
    ]
    for path in folder.rglob("*"):  # nothing outside the folder's own tree
        assert path.resolve().is_relative_to(folder.resolve())
    single = tmp_path / "all.parquet"
    export_parquet(db, single)
    expected = sorted(pq.read_table(single).to_pylist(), key=lambda row: row["id"])

    dataset = ds.dataset(folder, format="parquet", partitioning="hive")
    table = dataset.to_table()
    pairs = zip(table["source_id"].to_pylist(), table["container"].to_pylist(), strict=True)
    assert sorted(pairs) == sorted((row["source_id"], row["source_id"]) for row in expected)
    rows = sorted(table.drop_columns(["container", "day"]).to_pylist(), key=lambda r: r["id"])
    assert rows == expected
    with duckdb.connect() as con:
        found = con.execute(
            "SELECT id, source, container, strftime(day, '%Y-%m-%d') FROM read_parquet(?, "
            "hive_partitioning = true) ORDER BY id",
            [str(folder / "**" / "*.parquet")],
        ).fetchall()
    assert found == sorted(
        (row["id"], row["source"], row["source_id"], row["occurred_at"].strftime("%Y-%m-%d"))
        for row in expected
    )


def test_partition_values_are_escaped() -> None:
    assert partition_value("wallstreetbets") == "wallstreetbets"
    assert partition_value("a/b=c") == "a%2Fb%3Dc"
    assert partition_value("../x") == "..%2Fx"
    assert partition_value("") == "%00"
    base = Path("/exports")
    assert partition_dir(base, "forum", "../../etc", "2024-01-02") == Path(
        "/exports/source=forum/container=..%2F..%2Fetc/day=2024-01-02"
    )


@given(
    text=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=60)
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_odd_text_survives(text: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/odd-{abs(hash(text))}.db"
    db = load(url, [record("t1_x", "2024-01-01T00:00:00Z", body=text, author=text)])
    target = tmp_path / f"odd-{abs(hash(text))}.parquet"
    export_parquet(db, target, columns=parse_columns("id,author,text"), force=True)
    (row,) = pq.read_table(target).to_pylist()
    assert row == csv_records(db, parse_columns("id,author,text"))[0]


def test_interrupted_export_leaves_no_file(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentiment_pipeline.export import parquet as module

    db = load(sqlite_url, HOSTILE)
    target = tmp_path / "events.parquet"
    export_parquet(db, target)
    before = target.read_bytes()

    def broken(batch: Any, schema: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "typed_batch", broken)
    with pytest.raises(KeyboardInterrupt):
        export_parquet(db, target, force=True)
    assert target.read_bytes() == before  # the old file stays whole
    left = [path.name for path in tmp_path.iterdir() if not path.name.startswith("test.db")]
    assert left == [target.name]  # no partial file either
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="already exists"):
        export_parquet(db, target)
    assert export_parquet(db, target, force=True, limit=1).rows == 1  # a rerun replaces
    assert pq.read_table(target).num_rows == 1


def test_missing_pyarrow_is_one_line_naming_the_extra(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(sqlite_url, HOSTILE)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ConfigError) as caught:
        export_parquet(load(sqlite_url, []), tmp_path / "x.parquet")
    assert "pip install 'sentpipe[parquet]'" in caught.value.one_line()
    result = invoke("export", "parquet", "-o", str(tmp_path / "x.parquet"), env=_env(sqlite_url))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "sentpipe[parquet]" in result.stderr
    assert not (tmp_path / "x.parquet").exists()


def _env(url: str) -> dict[str, str]:
    return {"SENTPIPE_DATABASE_URL": url}


def test_cli_refuses_the_wrong_kind_of_output(sqlite_url: str, tmp_path: Path) -> None:
    load(sqlite_url, HOSTILE)
    folder = tmp_path / "folder"
    folder.mkdir()
    file = tmp_path / "file.parquet"
    file.write_bytes(b"x")
    cases = {
        ("-o", str(folder)): "is a folder",
        ("-o", str(tmp_path / "events.csv")): "does not end in .parquet",
        ("-o", "-"): "not written to standard output",
        ("-o", str(file), "--layout", "partitioned"): "writes a folder",
        ("-o", str(folder), "--layout", "partitioned", "--columns", "id,container"): "clashes",
        ("-o", str(file)): "already exists",
        (): "no output",
    }
    for args, message in cases.items():
        result = invoke("export", "parquet", *args, env=_env(sqlite_url))
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert file.read_bytes() == b"x"


def test_cli_json_summary_and_partitioned_limit(sqlite_url: str, tmp_path: Path) -> None:
    load(sqlite_url, HOSTILE)
    folder = tmp_path / "parts"
    args = ["export", "parquet", "-o", str(folder), "--layout", "partitioned", "--json"]
    result = invoke(*args, "--limit", "3", env=_env(sqlite_url))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    files = [Path(name) for name in summary["files"]]
    assert summary["rows"] == 3 and summary["layout"] == "partitioned"
    assert summary["bytes"] == sum(path.stat().st_size for path in files)
    assert [str(path.relative_to(folder)) for path in files] == [
        "source=reddit/container=stocks/day=2024-01-01/part-0.parquet",
        "source=reddit/container=wsb/day=2024-01-02/part-0.parquet",
    ]
    assert [pq.read_table(path).num_rows for path in files] == [2, 1]
    again = invoke(*args, env=_env(sqlite_url))
    assert again.exit_code == 2 and "already exists" in again.stderr
    named = invoke(
        "export", "parquet", "-o", str(tmp_path / "n.parquet"), "--subreddit", "nope",
        env=_env(sqlite_url),
    )  # fmt: skip
    assert named.exit_code == 0 and "no events for 'nope'" in named.stderr


def test_installed_command_writes_parquet(sqlite_url: str, tmp_path: Path) -> None:
    db = seeded(sqlite_url)
    command = Path(sys.executable).parent / "sentpipe"
    target = tmp_path / "scored.parquet"
    done = subprocess.run(
        [
            str(command),
            "export",
            "parquet",
            "-o",
            str(target),
            "--columns",
            "id,sentiment_compound,sentiment_label,language,topics",
            "--json",
        ],
        env={"SENTPIPE_DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 4
    columns = parse_columns("id,sentiment_compound,sentiment_label,language,topics")
    assert pq.read_table(target).to_pylist() == csv_records(db, columns)


def test_unreachable_database_exits_3(tmp_path: Path) -> None:
    url = "postgresql://sentpipe:x@127.0.0.1:9/sentpipe"  # the discard port: refused
    result = invoke("export", "parquet", "-o", str(tmp_path / "x.parquet"), env=_env(url))
    assert result.exit_code == 3, result.output
    assert not list(tmp_path.iterdir())


def test_connection_lost_mid_export_exits_3_and_leaves_no_file(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tcp_proxy: Any
) -> None:
    from sentiment_pipeline.db.url import parse_database_url
    from sentiment_pipeline.export import parquet as module

    text = "words " * 500  # 12 MB in all: more than the sockets and the proxy buffer
    many = [raw_event(n, payload={"title": f"t{n}", "selftext": text}) for n in range(4000)]
    load(postgres_url, many)
    parts = parse_database_url(postgres_url)
    host, port = parts.host_port.rsplit(":", 1)
    proxy = tcp_proxy(host, int(port))
    via_proxy = parts.sqlalchemy.replace(parts.host_port, f"127.0.0.1:{proxy.port}")
    typed = module.typed_batch
    seen: list[int] = []

    def cut_after_first(batch: Any, schema: Any) -> Any:
        seen.append(batch.num_rows)
        if len(seen) == 1:
            proxy.down()
        return typed(batch, schema)

    monkeypatch.setattr(module, "CSV_BLOCK_BYTES", 4096)  # many blocks from a small table
    monkeypatch.setattr(module, "typed_batch", cut_after_first)
    target = tmp_path / "events.parquet"
    result = invoke("export", "parquet", "-o", str(target), env=_env(via_proxy))
    assert result.exit_code == 3, result.output
    assert len(seen) >= 1 and sum(seen) < 4000
    assert not list(tmp_path.iterdir())  # neither the file nor a partial one
