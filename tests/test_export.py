"""`export csv` on real TimescaleDB, PostgreSQL and SQLite: exact bytes, filters, outputs."""

from __future__ import annotations

import csv
import gzip
import io
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from sentiment_pipeline.cli import app
from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.dto import Validated, validate_record
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.export import (
    EventFilter,
    count_events,
    export_csv,
    export_partitioned,
    parse_columns,
)
from sentiment_pipeline.export.sqlite import pg_json_text
from sentiment_pipeline.timeparse import parse_moment
from tests.fixtures.events import raw_event

INGESTED = "2024-02-01 00:00:00+00"


def record(
    rid: str, at: str, source_id: str = "stocks", kind: str = "comment", **payload: Any
) -> dict[str, Any]:
    """The shared builder with this file's fields in order (id, time, subreddit, kind)."""
    return raw_event(id=rid, occurred_at=at, source_id=source_id, event_type=kind, payload=payload)


HOSTILE = [
    record(
        "t3_a",
        "2024-01-01T00:00:00Z",
        kind="submission",
        author="=cmd|' /C calc'!A0",
        title='Hello, "world"\nline2',
        selftext="emoji 😀 and \r\n crlf",
        score=-5,
        permalink="/r/x",
        zeta={"b": 1, "aa": [1.50, 2e-7, {"k": None}]},
        a=True,
    ),
    record(
        "t1_b",
        "2024-01-01T23:59:59.999999Z",
        author="",
        body="",
        score=1.5,
        parent_id="t3_a",
        title=None,
        permalink=12345678901234567890,
    ),
    record(
        "t1_c",
        "2024-01-02T00:00:00Z",
        source_id="wsb",
        author="+x",
        body="\\.",
        score=True,
        parent_id=["a", {"é": 1, "b": "\u0007"}],
    ),
    record(
        "t1_0",
        "2024-01-02T00:00:00Z",
        source_id="wsb",
        author="-12.5",
        body="@SUM(1)",
        score=0,
        parent_id="\ttab",
    ),
]
HEADER = (
    "id,occurred_at,source,source_id,event_type,author,title,text,score,permalink,"
    "parent_id,ingested_at,processed,topics\r\n"
)
EXPECTED = HEADER + (
    "t3_a,2024-01-01T00:00:00.000000Z,reddit,stocks,submission,=cmd|' /C calc'!A0,"
    '"Hello, ""world""\nline2","emoji 😀 and \r\n crlf",-5,/r/x,,'
    "2024-02-01T00:00:00.000000Z,false,\r\n"
    't1_b,2024-01-01T23:59:59.999999Z,reddit,stocks,comment,"",,"",1.5,'
    "12345678901234567890,t3_a,2024-02-01T00:00:00.000000Z,true,\r\n"
    "t1_0,2024-01-02T00:00:00.000000Z,reddit,wsb,comment,-12.5,,@SUM(1),0,,\ttab,"
    "2024-02-01T00:00:00.000000Z,false,\r\n"
    't1_c,2024-01-02T00:00:00.000000Z,reddit,wsb,comment,+x,,\\.,true,,"[""a"", '
    '{""b"": ""\\u0007"", ""é"": 1}]",2024-02-01T00:00:00.000000Z,false,\r\n'
)


def load(
    url: str,
    records: Iterable[dict[str, Any]],
    processed: Sequence[str] = (),
    ingested_at: str | None = INGESTED,
) -> DatabaseURL:
    """Create the schema and store `records` through the real sinks; then pin ingested_at
    (a server default, so otherwise different per backend) and mark `processed` ids."""
    db = parse_database_url(url)
    init_db(db)
    events = []
    for item in records:
        result = validate_record(item)
        assert isinstance(result, Validated), result
        events.append(result.event)
    marks = list(processed) or ["-"]
    if db.backend == "sqlite":
        from sentiment_pipeline.sinks.sqlite import SqliteSink

        sink = SqliteSink(db)
        sink.write(events)
        sink.close()
        with sqlite3.connect(db.sqlite_path) as conn:
            if ingested_at is not None:
                conn.execute("UPDATE raw_events SET ingested_at = ?", [ingested_at[:19]])
            conn.execute(
                f"UPDATE raw_events SET processed = id IN ({','.join('?' * len(marks))})", marks
            )
    else:
        from sentiment_pipeline.sinks.postgres import PostgresSink

        pg_sink = PostgresSink(db)
        pg_sink.write(events)
        pg_sink.close()
        with psycopg.connect(db.libpq, autocommit=True) as conn:
            if ingested_at is not None:
                conn.execute("UPDATE raw_events SET ingested_at = %s", [ingested_at])
            conn.execute("UPDATE raw_events SET processed = id = ANY(%s)", [marks])
    return db


def export_bytes(
    db: DatabaseURL,
    where: EventFilter | None = None,
    columns: tuple[str, ...] = parse_columns(None),
    **options: Any,
) -> bytes:
    buffer = io.BytesIO()
    export_csv(db, buffer, where, columns, **options)
    return buffer.getvalue()


def ids(data: bytes) -> list[str]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    return [row[0] for row in rows[1:]]


def test_exact_csv_on_every_backend(any_db_url: str) -> None:
    db = load(any_db_url, HOSTILE, processed=["t1_b"])
    assert export_bytes(db).decode("utf-8") == EXPECTED


def test_byte_identical_across_backends(
    timescale_url: str, postgres_url: str, sqlite_url: str
) -> None:
    dbs = [
        load(url, HOSTILE, processed=["t1_b"]) for url in (timescale_url, postgres_url, sqlite_url)
    ]
    variants: list[dict[str, Any]] = [
        {"columns": parse_columns(None, payload=True)},
        {"columns": parse_columns(None), "excel_safe": True},
        {"columns": parse_columns("text")},
        {"columns": parse_columns("payload,processed_at,url,subreddit")},
        {"columns": parse_columns(None), "where": EventFilter(source_ids=("wsb",)), "limit": 1},
    ]
    for variant in variants:
        outputs = {db.backend + db.sqlalchemy: export_bytes(db, **variant) for db in dbs}
        assert len(set(outputs.values())) == 1, (variant, outputs)


def test_fields_survive_a_csv_reader(sqlite_url: str) -> None:
    db = load(sqlite_url, HOSTILE)
    data = export_bytes(db, columns=parse_columns("id,author,title,text,payload"))
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(data.decode(), newline=""))}
    assert rows["t3_a"]["title"] == 'Hello, "world"\nline2'
    assert rows["t3_a"]["text"] == "emoji 😀 and \r\n crlf"
    assert rows["t3_a"]["author"] == "=cmd|' /C calc'!A0"
    assert rows["t1_0"]["text"] == "@SUM(1)"
    assert rows["t1_b"]["text"] == ""
    assert rows["t3_a"]["payload"].startswith('{"a": true, "zeta": {"b": 1, "aa": [1.5, ')


def test_excel_safe_prefixes_formula_cells_only(sqlite_url: str) -> None:
    db = load(sqlite_url, HOSTILE)
    data = export_bytes(
        db, columns=parse_columns("id,author,text,score,parent_id"), excel_safe=True
    )
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(data.decode(), newline=""))}
    assert rows["t3_a"]["author"] == "'=cmd|' /C calc'!A0"
    assert rows["t1_c"]["author"] == "'+x"
    assert rows["t1_0"]["text"] == "'@SUM(1)"
    assert rows["t1_0"]["parent_id"] == "'\ttab"
    assert rows["t1_0"]["author"] == "-12.5"  # a plain number cannot execute
    assert rows["t3_a"]["score"] == "-5"


def test_filters_at_utc_day_boundaries(any_db_url: str) -> None:
    db = load(any_db_url, HOSTILE, processed=["t1_b"])
    day = EventFilter(since=parse_moment("2024-01-01"), until=parse_moment("2024-01-02"))
    assert ids(export_bytes(db, day)) == ["t3_a", "t1_b"]
    late = EventFilter(since=parse_moment("2024-01-01T23:59:59.999999Z"))
    assert ids(export_bytes(db, late)) == ["t1_b", "t1_0", "t1_c"]
    offset = EventFilter(until=parse_moment("2024-01-02T01:00:00+01:00"))  # = 00:00Z
    assert ids(export_bytes(db, offset)) == ["t3_a", "t1_b"]
    assert ids(export_bytes(db, EventFilter(source_ids=("wsb",)))) == ["t1_0", "t1_c"]
    assert ids(export_bytes(db, EventFilter(event_types=("submission",)))) == ["t3_a"]
    assert ids(export_bytes(db, EventFilter(processed=True))) == ["t1_b"]
    assert ids(export_bytes(db, EventFilter(processed=False, sources=("reddit",)))) == [
        "t3_a",
        "t1_0",
        "t1_c",
    ]
    assert ids(export_bytes(db, limit=2)) == ["t3_a", "t1_b"]
    assert count_events(db, EventFilter(source_ids=("stocks", "wsb"))) == 4
    assert count_events(db, EventFilter(sources=("hackernews",))) == 0  # none stored yet
    with pytest.raises(ConfigError, match="'other' names no registered or stored source"):
        count_events(db, EventFilter(sources=("other",)))


def test_empty_database_gives_the_header(any_db_url: str) -> None:
    db = load(any_db_url, [])
    assert export_bytes(db) == HEADER.encode()


def test_gzip_file_is_reproducible_and_refuses_overwrite(sqlite_url: str, tmp_path: Path) -> None:
    db = load(sqlite_url, HOSTILE, processed=["t1_b"])
    target = tmp_path / "out" / "events.csv.gz"
    target.parent.mkdir()  # a single file's folder must exist (tests/test_export_paths.py)
    result = export_csv(db, target)
    assert result.rows == 4 and result.files == [target]
    first = target.read_bytes()
    assert gzip.decompress(first).decode() == EXPECTED
    with pytest.raises(ConfigError, match="already exists"):
        export_csv(db, target)
    export_csv(db, target, force=True)
    assert target.read_bytes() == first  # no timestamp or name in the gzip header
    assert [p.name for p in target.parent.iterdir()] == ["events.csv.gz"]  # no leftovers


def test_partitioned_export_layout_limit_and_refusal(any_db_url: str, tmp_path: Path) -> None:
    db = load(any_db_url, HOSTILE, processed=["t1_b"])
    result = export_partitioned(db, tmp_path, columns=parse_columns("id,occurred_at"))
    assert result.rows == 4
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.csv"))
    assert files == ["reddit/stocks/2024-01-01.csv", "reddit/wsb/2024-01-02.csv"]
    assert (tmp_path / "reddit/wsb/2024-01-02.csv").read_bytes() == (
        b"id,occurred_at\r\nt1_0,2024-01-02T00:00:00.000000Z\r\n"
        b"t1_c,2024-01-02T00:00:00.000000Z\r\n"
    )
    with pytest.raises(ConfigError, match="already exists"):
        export_partitioned(db, tmp_path)
    limited = export_partitioned(db, tmp_path / "l", limit=3, force=True)
    assert limited.rows == 3


def test_pg_json_text_matches_postgres_jsonb(postgres_url: str) -> None:
    samples = [
        '{"b":1,"aa":2,"a":{"y":[1,2.50,-0.0,1e-7,1E+3]},"é":"\\u0001\\n\\"x"}',
        "[]",
        "{}",
        '"plain"',
        "12345678901234567890.000",
        "null",
        "[true,false]",
    ]
    with psycopg.connect(parse_database_url(postgres_url).libpq) as conn:
        for sample in samples:
            row = conn.execute("SELECT %s::jsonb::text", [sample]).fetchone()
            assert row is not None
            assert pg_json_text(sample) == row[0], sample


def test_parse_columns_rejects_unknown_and_duplicates() -> None:
    assert parse_columns("id,text", payload=True) == ("id", "text", "payload")
    with pytest.raises(ConfigError, match="unknown column"):
        parse_columns("id,nope")
    with pytest.raises(ConfigError, match="twice"):
        parse_columns("id,id")


# --- CLI ---------------------------------------------------------------------------------


def run(url: str, *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"SENTPIPE_DATABASE_URL": url})


def test_cli_stdout_pipes_csv_and_counts_on_stderr(sqlite_url: str) -> None:
    load(sqlite_url, HOSTILE, processed=["t1_b"])
    result = run(sqlite_url, "export", "csv", "-o", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.decode() == EXPECTED
    assert "Exported 4 rows to standard output." in result.stderr


def test_cli_file_filters_and_usage_errors(sqlite_url: str, tmp_path: Path) -> None:
    load(sqlite_url, HOSTILE)
    target = tmp_path / "wsb.csv"
    args = ["export", "csv", "-o", str(target), "--subreddit", "wsb", "--columns", "id"]
    result = run(sqlite_url, *args)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == b"id\r\nt1_0\r\nt1_c\r\n"
    assert "Exported 2 rows" in result.stdout
    assert run(sqlite_url, *args).exit_code == 2  # exists, no --force
    assert run(sqlite_url, *args, "--force").exit_code == 0
    assert run(sqlite_url, "export", "csv", "-o", "-", "--since", "yesterday").exit_code == 2
    assert run(sqlite_url, "export", "csv", "-o", "-", "--columns", "nope").exit_code == 2
    assert run(sqlite_url, "export", "csv").exit_code == 2
    bad_range = run(
        sqlite_url, "export", "csv", "-o", "-", "--since", "2024-01-02", "--until", "2024-01-01"
    )
    assert bad_range.exit_code == 2


def test_cli_unreachable_database_exits_3() -> None:
    result = run("postgresql://u:p@127.0.0.1:1/db", "export", "csv", "-o", "-")
    assert result.exit_code == 3, result.output


# --- sentiment columns ---------------------------------------------------------------------

SENTIMENT_SCORES = [  # (id, model, compound, label); t1_c has no vader score
    ("t3_a", "vader", 0.12345, "positive"),
    ("t1_b", "vader", -0.00004, "neutral"),
    ("t1_0", "vader", -1.0, "negative"),
    ("t1_c", "other-1", 0.5, "positive"),
    ("t3_a", "other-1", -0.33335, "negative"),
]


def add_scores(db: DatabaseURL, scores: Iterable[tuple[str, str, float, str]]) -> None:
    """Store scores through SQL, keyed on each event's own stored (id, occurred_at)."""
    from sentiment_pipeline.sentiment.scorers import model_id_for

    sql = (
        "INSERT INTO sentiment_scores (id, occurred_at, model, source, source_id, event_type, "
        "compound, pos, neu, neg, label, text_chars, scored_at) SELECT id, occurred_at, {m}, "
        "source, source_id, event_type, {m}, 0, 1, 0, {m}, 1, occurred_at FROM raw_events "
        "WHERE id = {m}"
    )
    rows = [
        (model_id_for(model) if model == "vader" else model, compound, label, rid)
        for rid, model, compound, label in scores
    ]
    if db.backend == "sqlite":
        with sqlite3.connect(db.sqlite_path) as conn:
            conn.executemany(sql.format(m="?"), rows)
    else:
        with psycopg.connect(db.libpq, autocommit=True) as conn:
            conn.cursor().executemany(sql.format(m="%s"), rows)


SENTIMENT_EXPECTED = (
    "id,sentiment_compound,sentiment_label\r\n"
    "t3_a,0.1235,positive\r\n"
    "t1_b,0.0000,neutral\r\n"
    "t1_0,-1.0000,negative\r\n"
    "t1_c,,\r\n"
)


def test_sentiment_columns_are_byte_identical_across_backends(
    timescale_url: str, postgres_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    dbs = [load(url, HOSTILE) for url in (timescale_url, postgres_url, sqlite_url)]
    for db in dbs:
        add_scores(db, SENTIMENT_SCORES)
    columns = parse_columns("id,sentiment_compound,sentiment_label")
    for db in dbs:  # the default model is vader's current id; unscored rows are empty
        assert export_bytes(db, columns=columns).decode() == SENTIMENT_EXPECTED, db.backend
    other = {export_bytes(db, columns=columns, sentiment_model="other-1") for db in dbs}
    assert other == {
        b"id,sentiment_compound,sentiment_label\r\nt3_a,-0.3334,negative\r\n"
        b"t1_b,,\r\nt1_0,,\r\nt1_c,0.5000,positive\r\n"
    }
    wide = parse_columns("sentiment_label,text,sentiment_compound", payload=True)
    variants: list[dict[str, Any]] = [
        {"columns": wide},
        {"columns": wide, "excel_safe": True, "sentiment_model": "vader"},
        {"columns": columns, "where": EventFilter(source_ids=("wsb",)), "limit": 1},
    ]
    for variant in variants:
        assert len({export_bytes(db, **variant) for db in dbs}) == 1, variant
    trees = []
    for db in dbs:
        target = tmp_path / db.backend / str(len(trees))
        target.parent.mkdir(exist_ok=True)  # partitioned creates its folder, not the parent
        export_partitioned(db, target, columns=columns)
        trees.append({str(p.relative_to(target)): p.read_bytes() for p in target.rglob("*.csv")})
    assert trees[0] == trees[1] == trees[2]
    assert trees[0]["reddit/wsb/2024-01-02.csv"] == (
        b"id,sentiment_compound,sentiment_label\r\nt1_0,-1.0000,negative\r\nt1_c,,\r\n"
    )


def test_fixed4_matches_postgres_rounding(postgres_url: str) -> None:
    from sentiment_pipeline.export.sqlite import fixed4

    samples = [0.12345, -0.12345, 0.00005, -0.00004, -0.0, 1.0, 1 / 3, 0.1 + 0.2, 1e-20, 0.56785]
    with psycopg.connect(parse_database_url(postgres_url).libpq) as conn:
        for sample in samples:
            row = conn.execute("SELECT round(%s::float8::numeric, 4)::text", [sample]).fetchone()
            assert row is not None
            assert fixed4(sample) == row[0], sample


def test_cli_sentiment_columns_and_errors(sqlite_url: str) -> None:
    db = load(sqlite_url, HOSTILE)
    add_scores(db, SENTIMENT_SCORES)
    cols = ["--columns", "id,sentiment_compound,sentiment_label"]
    result = run(sqlite_url, "export", "csv", "-o", "-", *cols)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.decode() == SENTIMENT_EXPECTED
    result = run(sqlite_url, "export", "csv", "-o", "-", *cols, "--sentiment-model", "other-1")
    assert result.exit_code == 0 and "t1_c,0.5000,positive" in result.stdout
    unknown = run(sqlite_url, "export", "csv", "-o", "-", *cols, "--sentiment-model", "nope")
    assert unknown.exit_code == 2, unknown.output
    assert "unknown sentiment model 'nope'" in unknown.stderr
    assert "other-1" in unknown.stderr and "vader" in unknown.stderr
    assert unknown.stdout == "" and "Traceback" not in unknown.output
    alone = run(sqlite_url, "export", "csv", "-o", "-", "--sentiment-model", "vader")
    assert alone.exit_code == 2 and "sentiment column" in alone.stderr


def test_cli_sentiment_columns_need_the_table(any_db_url: str) -> None:
    db = load(any_db_url, HOSTILE)
    if db.backend == "sqlite":
        with sqlite3.connect(db.sqlite_path) as conn:
            conn.execute("DROP TABLE sentiment_scores")
    else:
        with psycopg.connect(db.libpq, autocommit=True) as conn:
            conn.execute("DROP TABLE sentiment_scores")
    result = run(any_db_url, "export", "csv", "-o", "-", "--columns", "id,sentiment_label")
    assert result.exit_code == 2, result.output
    assert "sentiment_scores does not exist" in result.stderr
    assert "sentpipe db init" in result.stderr
    assert run(any_db_url, "export", "csv", "-o", "-", "--columns", "id").exit_code == 0
