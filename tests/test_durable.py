"""The pipeline's `on_durable` count (what backfill checkpoints rest on), and the orjson
fast path giving exactly the standard parser's values."""

from __future__ import annotations

import json
import time
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
    ).encode("utf-8")


def test_the_lines_orjson_would_change_take_the_standard_path() -> None:
    for line in (b'{"big":123456789012345678901234567890}', b'{"t":0.00001}', b'{"t":1e-7}'):
        assert loads_exact(line) is SLOW
    assert loads_exact(b'{"title":"e-mail the 0.5 people"}') is not SLOW


def test_overlapped_followers_count_a_batch_once_they_are_done(tmp_path: Path) -> None:
    """With overlap (the pipeline's mode) the CSV sink writes batch n while the database
    takes n+1; batch n becomes durable, counted and reported only after both."""
    csv_sink = CsvSink(tmp_path / "csv")
    writer = BatchWriter([MemorySink(), csv_sink], None, 0.0, RunResult(), overlap=True)
    seen: list[int] = []
    writer.on_durable = seen.append
    writer.write([event(1), event(2)])
    writer.write([event(3)])
    assert seen == [2]  # the first batch's followers are done; the second's may not be
    writer.flush()
    assert seen == [2, 3]
    assert (writer.result.inserted, writer.result.batches) == (3, 2)
    writer.close()
    rows = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "csv").rglob("*.csv"))
    assert all(event(n).id in rows for n in (1, 2, 3))


def test_an_overlapped_follower_failure_stops_the_count(tmp_path: Path) -> None:
    blocked = tmp_path / "csv"
    blocked.write_text("a file where the CSV folder should be", encoding="utf-8")
    writer = BatchWriter(
        [MemorySink(), CsvSink(blocked)], Spool(tmp_path / "spool"), 0.0, RunResult(), overlap=True
    )
    seen: list[int] = []
    writer.on_durable = seen.append
    writer.write([event(1)])
    writer.close()
    assert seen == []
    assert any("csv sink failed" in error for error in writer.result.errors)


def test_an_overlapped_replay_stores_every_sink_before_the_spool_file_goes(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.write([event(1), event(2)])

    class SlowCsv(CsvSink):
        def write(self, batch: Any) -> Any:
            time.sleep(0.2)  # still writing when the leader is done
            return super().write(batch)

    writer = BatchWriter(
        [MemorySink(), SlowCsv(tmp_path / "csv")], spool, 0.0, RunResult(), overlap=True
    )
    assert writer.replay_spool() == 2
    assert not list(spool.files())
    rows = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "csv").rglob("*.csv"))
    assert event(1).id in rows and event(2).id in rows  # before close(): no flush needed
    writer.close()
