"""Hostile real-world input (issue 10): the handed cases in tests/data/cases/ through the
command on every backend, plus the kinds behind them: unstorable text from any entry point,
input the JSON parser refuses, years before 1000, CSV read-back, one record's bug."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sentiment_pipeline.backfill import BackfillResult, FileResult
from sentiment_pipeline.cli import app
from sentiment_pipeline.pipeline import PipelineOptions, run
from sentiment_pipeline.pipeline.deadletter import DeadLetterWriter
from sentiment_pipeline.sinks.memory import MemorySink

runner = CliRunner()
CASES = Path(__file__).parent / "data" / "cases"
SENTPIPE = Path(sys.executable).with_name("sentpipe")


@pytest.fixture
def env(any_db_url: str, tmp_path: Path) -> dict[str, str]:
    values = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": any_db_url}
    result = runner.invoke(app, ["db", "init"], env=values)
    assert result.exit_code == 0, result.output
    return values


def ingest(env: dict[str, str], *args: str, stdin: bytes | None = None) -> dict[str, Any]:
    result = runner.invoke(app, ["ingest", "ndjson", *args, "--json"], env=env, input=stdin)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def export(env: dict[str, str], *args: str) -> list[dict[str, str]]:
    result = runner.invoke(app, ["export", "csv", "-o", "-", "-q", *args], env=env)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(result.stdout.splitlines()))


def dead_letters(env: dict[str, str]) -> list[dict[str, Any]]:
    folder = Path(env["SENTPIPE_DATA_DIR"]) / "dead-letter"
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.ndjson"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def counts(data: dict[str, Any]) -> tuple[int, ...]:
    return tuple(data[k] for k in ("fetched", "valid", "invalid", "sanitized", "inserted"))


# --- the handed cases, on TimescaleDB, PostgreSQL and SQLite ------------------------------


def test_case_01_lone_surrogate_is_replaced_and_the_run_goes_on(env: dict[str, str]) -> None:
    data = ingest(env, str(CASES / "01-lone-surrogate-ingest" / "input.ndjson"))
    assert counts(data) == (3, 3, 0, 1, 3)
    rows = export(env)
    assert [row["title"] for row in rows] == [
        "first, fine",
        "emoji cut in half \ufffd",
        "third, fine",
    ]
    csv_file = Path(env["SENTPIPE_DATA_DIR"]) / "csv" / "reddit" / "python" / "2023-11-14.csv"
    assert "emoji cut in half \ufffd" in csv_file.read_text(encoding="utf-8")


def test_case_03_huge_integer_is_dead_lettered_with_its_line(env: dict[str, str]) -> None:
    data = ingest(env, str(CASES / "03-integer-over-4300-digits" / "input.ndjson"))
    assert counts(data) == (3, 2, 1, 0, 2)
    assert len(export(env)) == 2
    (letter,) = dead_letters(env)
    assert letter["error"].startswith("line 2: not storable JSON (Exceeds the limit (4300 digits)")
    assert letter["record"]["line"] == 2


def test_case_05_years_before_1000_everywhere(env: dict[str, str], tmp_path: Path) -> None:
    data = ingest(env, str(CASES / "05-year-before-1000" / "input.ndjson"))
    assert counts(data) == (3, 3, 0, 0, 3)
    rows = export(env)
    assert [(r["id"], r["occurred_at"]) for r in rows] == [
        ("t3_ya0002", "0001-01-01T00:00:00.000000Z"),
        ("t3_ya0003", "0999-06-01T12:00:00.000000Z"),
        ("t3_ya0001", "2023-11-14T22:13:20.000000Z"),
    ]
    assert [r["id"] for r in export(env, "--until", "1000-01-01")] == ["t3_ya0002", "t3_ya0003"]
    assert [r["id"] for r in export(env, "--since", "0999-06-01T12:00:00Z")] == [
        "t3_ya0003",
        "t3_ya0001",
    ]

    stats = runner.invoke(app, ["stats", "--json"], env=env)
    assert stats.exit_code == 0, stats.output
    figures = json.loads(stats.stdout)
    assert figures["first_occurred_at"] == "0001-01-01T00:00:00.000000Z"
    assert figures["last_occurred_at"] == "2023-11-14T22:13:20.000000Z"

    out = tmp_path / "parts"
    parted = runner.invoke(
        app, ["export", "csv", "--layout", "partitioned", "-o", str(out), "-q"], env=env
    )
    assert parted.exit_code == 0, parted.output
    names = sorted(p.name for p in (out / "reddit" / "python").iterdir())
    assert names == ["0001-01-01.csv", "0999-06-01.csv", "2023-11-14.csv"]
    sink_dir = Path(env["SENTPIPE_DATA_DIR"]) / "csv" / "reddit" / "python"
    assert sorted(p.name for p in sink_dir.iterdir()) == names


def test_case_08_csv_sink_reads_back_a_field_over_128k(tmp_path: Path) -> None:
    env = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": ""}
    case = CASES / "08-csv-sink-field-over-128k"
    first = ingest(env, str(case / "first.ndjson"), "--sink", "csv")
    second = ingest(env, str(case / "second.ndjson"), "--sink", "csv")
    again = ingest(env, str(case / "second.ndjson"), "--sink", "csv")
    assert (first["inserted"], second["inserted"], again["duplicates"]) == (1, 1, 1)
    (path,) = (tmp_path / "data" / "csv").rglob("*.csv")
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2
    assert len(json.loads(rows[0]["payload"])["body"]) == 200_000


# --- the kinds ---------------------------------------------------------------------------


def _line(n: int, title: str) -> str:
    record = {
        "id": f"t3_k{n}",
        "occurred_at": 1_700_000_000 + n,
        "source": "reddit",
        "source_id": "python",
        "event_type": "submission",
        "payload": {"title": title},
    }
    return json.dumps(record, ensure_ascii=False)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    values = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": ""}
    assert runner.invoke(app, ["db", "init"], env=values).exit_code == 0
    return values


UNDECODABLE = (
    _line(1, "ok").encode()
    + b"\n"
    + _line(2, "bad byte: X").encode().replace(b"X", b"\xff\xfe")
    + b"\n"
    + _line(3, "nul X and half Y pair").encode().replace(b"X", b"\\u0000").replace(b"Y", b"\\udc00")
    + b"\n"
)


def test_file_and_stdin_give_the_same_result(tmp_path: Path, sqlite_env: dict[str, str]) -> None:
    """Undecodable bytes become U+FFFD (one per byte) whether read from a file or stdin."""
    source = tmp_path / "in.ndjson"
    source.write_bytes(UNDECODABLE)
    from_file = ingest(sqlite_env, str(source))
    titles = [row["title"] for row in export(sqlite_env)]
    assert titles == ["ok", "bad byte: \ufffd\ufffd", "nul \ufffd and half \ufffd pair"]
    assert counts(from_file) == (3, 3, 0, 2, 3)

    other = {**sqlite_env, "SENTPIPE_DATA_DIR": str(tmp_path / "other")}
    assert runner.invoke(app, ["db", "init"], env=other).exit_code == 0
    from_stdin = ingest(other, "-", stdin=UNDECODABLE)
    assert counts(from_stdin) == counts(from_file)
    assert [row["title"] for row in export(other)] == titles


def test_installed_command_reads_undecodable_stdin(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    done = subprocess.run(
        [str(SENTPIPE), "ingest", "ndjson", "-", "--json"],
        input=UNDECODABLE,
        env={**os.environ, "LC_ALL": "C", **sqlite_env},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert counts(json.loads(done.stdout)) == (3, 3, 0, 2, 3)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number"),
        ("{" + '"a": 1' * 2, "not JSON"),
    ],
)
def test_parser_refusals_are_dead_letters(
    tmp_path: Path, sqlite_env: dict[str, str], text: str, reason: str
) -> None:
    source = tmp_path / "in.ndjson"
    source.write_text(f"{_line(1, 'a')}\n{text}\n{_line(3, 'c')}\n", encoding="utf-8")
    data = ingest(sqlite_env, str(source))
    assert counts(data) == (3, 2, 1, 0, 2)
    (letter,) = dead_letters(sqlite_env)
    assert letter["error"].startswith("line 2: ") and reason in letter["error"]


def test_subreddit_names_lower_cased_from_ndjson(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    source = tmp_path / "in.ndjson"
    line = json.loads(_line(1, "a"))
    source.write_text(
        json.dumps(line | {"source_id": "Python"})
        + "\n"
        + json.dumps(line | {"source_id": "PYTHON"})
        + "\n",
        encoding="utf-8",
    )
    data = ingest(sqlite_env, str(source))
    assert (data["inserted"], data["duplicates"]) == (1, 1)
    assert [row["source_id"] for row in export(sqlite_env)] == ["python"]


def test_dead_letter_writer_never_fails(tmp_path: Path) -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    cycle: list[Any] = []
    cycle.append(cycle)
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    writer = DeadLetterWriter(tmp_path)
    for record in (
        {"title": "half \ud83d", "k\udc80": 1},
        {"x": Unprintable()},
        Unprintable(),
        cycle,
        deep,
        {"nan": float("nan")},
    ):
        writer.write(record, "reason \ud800")
    writer.close()
    (path,) = tmp_path.glob("*.ndjson")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 6
    assert lines[0]["record"] == {"title": "half \ud83d", "k\udc80": 1}  # escaped, exact
    assert "unrepresentable" in lines[1]["record_repr"]
    assert "record_repr" in lines[3] and "record_repr" in lines[4]


class Exploding(Mapping[str, Any]):
    """A record whose conversion raises something nobody foresaw."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        if key == "payload":
            raise RuntimeError("boom")
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __str__(self) -> str:
        raise RuntimeError("no str either")

    __repr__ = __str__


def test_one_records_bug_never_ends_the_run(tmp_path: Path) -> None:
    async def source() -> AsyncIterator[Any]:
        yield json.loads(_line(1, "before"))
        yield Exploding(json.loads(_line(2, "broken")))
        yield json.loads(_line(3, "after"))

    sink = MemorySink()
    with closing(DeadLetterWriter(tmp_path)) as letters:
        result = asyncio.run(run(source(), [sink], options=PipelineOptions(), dead_letters=letters))
    assert (result.fetched, result.valid, result.invalid, result.inserted) == (3, 2, 1, 2)
    assert sorted(key[0] for key in sink.rows) == ["t3_k1", "t3_k3"]
    assert int(result.exit_code) == 1
    (error,) = result.errors
    assert "internal error: RuntimeError: boom" in error and "report it" in error
    (path,) = tmp_path.glob("*.ndjson")
    (letter,) = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert letter["error"] == "internal error: RuntimeError: boom"


def test_internal_errors_are_all_counted_and_the_first_ten_listed(tmp_path: Path) -> None:
    async def source() -> AsyncIterator[Any]:
        yield json.loads(_line(0, "fine"))
        for n in range(1, 26):
            yield Exploding(json.loads(_line(n, "broken")))

    with closing(DeadLetterWriter(tmp_path)) as letters:
        result = asyncio.run(
            run(source(), [MemorySink()], options=PipelineOptions(), dead_letters=letters)
        )
    assert (result.fetched, result.valid, result.invalid) == (26, 1, 25)
    assert result.internal_errors == 25
    assert result.to_dict()["internal_errors"] == 25
    assert int(result.exit_code) == 1
    assert len(result.errors) == 11
    assert all("internal error: RuntimeError: boom" in line for line in result.errors[:10])
    assert result.errors[10] == "more records hit internal errors: see the dead letters"
    (path,) = tmp_path.glob("*.ndjson")
    assert len(path.read_text(encoding="utf-8").splitlines()) == 25
    # a backfill's total sums the counter over its files
    files = [FileResult(path="a", internal_errors=25), FileResult(path="b", internal_errors=2)]
    assert BackfillResult(files).total.internal_errors == 27


EXCEL_CELLS = {
    "-5": "-5",
    "-0.25": "-0.25",
    "-.5": "'-.5",
    "-5.": "'-5.",
    "-1e5": "'-1e5",
    "-1.2.3": "'-1.2.3",
    "-": "'-",
    "=1+1": "'=1+1",
    "+1": "'+1",
    "@a": "'@a",
    "5": "5",
}


def test_excel_safe_decides_the_same_on_every_backend(
    tmp_path: Path, timescale_url: str, postgres_url: str, sqlite_url: str
) -> None:
    source = tmp_path / "in.ndjson"
    source.write_text(
        "".join(_line(n, title) + "\n" for n, title in enumerate(EXCEL_CELLS)), encoding="utf-8"
    )
    outputs = []
    for n, url in enumerate((timescale_url, postgres_url, sqlite_url)):
        env = {"SENTPIPE_DATA_DIR": str(tmp_path / f"d{n}"), "SENTPIPE_DATABASE_URL": url}
        assert runner.invoke(app, ["db", "init"], env=env).exit_code == 0
        ingest(env, str(source))
        result = runner.invoke(
            app,
            ["export", "csv", "-o", "-", "-q", "--excel-safe", "--columns", "title"],
            env=env,
        )
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout_bytes)
    assert outputs[0] == outputs[1] == outputs[2]
    titles = [row["title"] for row in csv.DictReader(outputs[2].decode().splitlines())]
    assert titles == list(EXCEL_CELLS.values())


def test_csv_sink_dedupes_against_files_written_in_the_old_time_form(tmp_path: Path) -> None:
    """Files from before the canonical form (`+00:00`, no fraction) still de-duplicate."""
    from sentiment_pipeline.dto import Validated, validate_record
    from sentiment_pipeline.sinks.csv_sink import COLUMNS, CsvSink

    checked = validate_record(json.loads(_line(1, "a")))
    assert isinstance(checked, Validated)
    sink = CsvSink(tmp_path)
    path = sink.path_for(checked.event)
    path.parent.mkdir(parents=True)
    old = checked.event.occurred_at.isoformat()  # 2023-11-14T22:13:21+00:00
    path.write_bytes(
        (
            ",".join(COLUMNS) + "\r\n" + f't3_k1,{old},reddit,python,submission,"{{}}",x,false,\r\n'
        ).encode()
    )
    assert sink.write([checked.event]).inserted == 0
