"""The pipeline's `on_durable` count (what backfill checkpoints rest on), and the orjson
fast path giving exactly the standard parser's values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.pipeline.result import RunResult
from sentiment_pipeline.pipeline.spool import Spool
from sentiment_pipeline.pipeline.writer import BatchWriter
from sentiment_pipeline.sinks.csv_sink import CsvSink
from sentiment_pipeline.sinks.memory import MemorySink
from sentiment_pipeline.sources.ndjson import SLOW, dumps_exact, loads_exact
from tests.fixtures.events import event


def writer_with(sinks: list[Any], spool: Spool | None) -> tuple[BatchWriter, list[int]]:
    writer = BatchWriter(sinks, spool, retry_seconds=0.0, result=RunResult())
    seen: list[int] = []
    writer.on_durable = seen.append
    return writer, seen


def test_stored_and_spooled_batches_are_durable(tmp_path: Path) -> None:
    writer, seen = writer_with([MemorySink()], Spool(tmp_path / "spool"))
    writer.write([event(1), event(2)])
    writer.leaders[0].fail_always = True  # type: ignore[attr-defined]
    writer.write([event(3)])  # spooled: the next run replays it
    assert seen == [2, 3]
    assert writer.result.spooled == 1


def test_a_lost_batch_stops_the_count_for_good(tmp_path: Path) -> None:
    writer, seen = writer_with([MemorySink(fail_always=True)], None)  # no spool: lost
    writer.write([event(1)])
    writer.leaders[0].fail_always = False  # type: ignore[attr-defined]
    writer.write([event(2)])
    assert seen == []


def test_a_failing_follower_stops_the_count(tmp_path: Path) -> None:
    blocked = tmp_path / "csv"
    blocked.write_text("a file where the CSV folder should be", encoding="utf-8")
    writer, seen = writer_with([MemorySink(), CsvSink(blocked)], Spool(tmp_path / "spool"))
    writer.write([event(1)])
    assert seen == []
    assert writer.result.errors


def test_the_spools_own_replay_is_not_the_runs_input(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.write([event(1)])
    writer, seen = writer_with([MemorySink()], spool)
    assert writer.replay_spool() == 1
    assert seen == []


@pytest.mark.parametrize(
    "line",
    [
        b'{"a":1,"b":[1.5,-0.0,1e16,1e22,0.0001],"c":"\\u00e9\\u2028 \\ud83d\\ude00"}',
        b'{"big":123456789012345678901234567890}',  # orjson would make it a float
        b'{"tiny":0.00001}',  # orjson prints 0.00001, json 1e-05
        b'{"tiny":1e-7}',
        b'{"lone":"\\ud83d"}',
        b'{"nul":"a\\u0000b"}',
        b'{"bad":"\xff"}',
        b'{"a":1,"a":2}',
        b"\xef\xbb\xbf{}",
        b"NaN",
    ],
)
def test_orjson_is_used_only_where_it_gives_the_standard_value(line: bytes) -> None:
    value = loads_exact(line)
    if value is SLOW:
        return
    expected = json.loads(line.decode())
    assert value == expected and type(value) is type(expected)
    assert dumps_exact(value) == json.dumps(
        expected, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def test_the_lines_orjson_would_change_take_the_standard_path() -> None:
    for line in (b'{"big":123456789012345678901234567890}', b'{"t":0.00001}', b'{"t":1e-7}'):
        assert loads_exact(line) is SLOW
    assert loads_exact(b'{"title":"e-mail the 0.5 people"}') is not SLOW
