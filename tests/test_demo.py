"""`sentpipe demo`: a fresh data dir, a real scrape against the bundled fake, twice."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.cli import invoke


def test_demo_on_a_fresh_machine_then_incremental(tmp_path: Path) -> None:
    env = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_DATABASE_URL": ""}
    first = invoke("demo", "--json", env=env)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    totals = {(t["source_id"], t["event_type"]): t["rows"] for t in data["totals"]}
    assert totals[("stocks", "submission")] == 300
    assert totals[("wallstreet", "comment")] > 1000
    assert sum(totals.values()) == data["inserted"]
    assert (tmp_path / "data" / "sentpipe.db").is_file()
    assert list((tmp_path / "data" / "csv" / "reddit").iterdir())

    second = invoke("demo", "--json", env=env)
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert again["inserted"] == 0
    assert again["extra"]["requests"]["total"] == 5  # one token, one listing per subreddit


def test_demo_prints_a_summary(tmp_path: Path) -> None:
    result = invoke("demo", env={"SENTPIPE_DATA_DIR": str(tmp_path), "SENTPIPE_DATABASE_URL": ""})
    assert result.exit_code == 0, result.output
    assert "Reddit events" in result.output
    assert "r/tiny submissions: 5" in result.output
