"""`export csv --layout partitioned` promises the CSV sink's layout: the same events,
written once through the CSV sink and once through a database sink and then exported,
give the same files holding the same rows, on every backend."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.settings import load_settings
from sentiment_pipeline.sinks import create_sink
from sentiment_pipeline.sinks.csv_sink import COLUMNS, CsvSink
from tests.fixtures.cli import invoke
from tests.fixtures.events import event

EVENTS = [
    event(1, occurred_at="2024-01-01T00:00:00Z", payload={"title": 'Hello, "world"\nline2'}),
    event(2, occurred_at="2024-01-01T23:59:59.999999Z", event_type="comment"),
    event(3, occurred_at="2024-01-02T00:00:00Z", payload={"body": "emoji 😀 \r\n =SUM(A1)"}),
    event(4, occurred_at="2024-01-02T05:00:00+05:00", source_id="wsb"),  # 00:00Z
    event(5, occurred_at="2024-01-01T23:30:00-01:00", source_id="wsb"),  # 2024-01-02Z
    event(6, occurred_at="2024-01-03T12:00:00Z", source="other", source_id="feed"),
]


def read_tree(root: Path) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """relative path -> (header, rows sorted by (occurred_at, id)); values parsed so the
    two writers' spellings of one instant ('Z' or '+00:00') and of JSON compare equal.
    ingested_at is left out: the sink stamps the write time, the database its own."""
    tree: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
    for path in sorted(root.rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = [
                {
                    **row,
                    "occurred_at": datetime.fromisoformat(row["occurred_at"]).astimezone(UTC),
                    "payload": json.loads(row["payload"]),
                    "ingested_at": None,
                }
                for row in reader
            ]
            header = list(reader.fieldnames or [])
        rows.sort(key=lambda row: (row["occurred_at"], row["id"]))
        tree[path.relative_to(root).as_posix()] = (header, rows)
    return tree


def test_partitioned_export_equals_what_the_csv_sink_wrote(
    any_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink_dir, export_dir = tmp_path / "sink", tmp_path / "export"
    written = CsvSink(sink_dir).write(EVENTS)
    assert written.inserted == len(EVENTS)

    init_db(parse_database_url(any_db_url))
    monkeypatch.setenv("SENTPIPE_DATABASE_URL", any_db_url)
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path / "data"))
    database = create_sink("database", load_settings())
    assert database.write(EVENTS).inserted == len(EVENTS)
    database.close()

    result = invoke(
        "export",
        "csv",
        "--layout",
        "partitioned",
        "--out",
        str(export_dir),
        "--columns",
        ",".join(COLUMNS),
    )
    assert result.exit_code == 0, result.output

    from_sink, exported = read_tree(sink_dir), read_tree(export_dir)
    assert sorted(from_sink) == [
        "other/feed/2024-01-03.csv",
        "reddit/python/2024-01-01.csv",
        "reddit/python/2024-01-02.csv",
        "reddit/wsb/2024-01-02.csv",
    ]
    assert exported == from_sink
