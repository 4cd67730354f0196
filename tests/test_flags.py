"""Command-line flags are the top layer of settings (docs/configuration.md): a flag beats
`SENTPIPE_*`, `.env` and YAML for the same setting, and a bad value given as a flag is
refused naming the flag. The commands pass their flags to `load_settings`; none decides
the precedence itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentiment_pipeline.fake_reddit import RunningFakeReddit
from tests.fixtures.cli import invoke
from tests.test_scrape import fake_env


def test_scrape_sink_flag_beats_the_environment(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    env = {**fake_env(fake_reddit, tmp_path), "SENTPIPE_SINKS": "no-such-sink"}
    refused = invoke("scrape", "reddit", "-s", "tiny", "--no-comments", env=env)
    assert refused.exit_code == 2 and "unknown sink 'no-such-sink'" in refused.output
    result = invoke("scrape", "reddit", "-s", "tiny", "--no-comments", "--sink", "csv", env=env)
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "csv" / "reddit" / "tiny").glob("*.csv"))
    assert not (tmp_path / "data" / "sentpipe.db").exists()  # csv only: no database


def test_scrape_refresh_hours_flag_beats_the_yaml_file(
    fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    config = tmp_path / "sentpipe.yaml"
    config.write_text("comment_refresh_hours: -1\n", encoding="utf-8")  # refused if read
    env = fake_env(fake_reddit, tmp_path)
    refused = invoke("--config", str(config), "scrape", "reddit", "-s", "tiny", env=env)
    assert refused.exit_code == 2 and "comment_refresh_hours" in refused.output
    args = ["--config", str(config), "scrape", "reddit", "-s", "tiny", "--refresh-hours", "0"]
    result = invoke(*args, "--no-comments", env=env)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("flag", "variable"),
    [("--max-age", "SENTPIPE_REFRESH_MAX_AGE"), ("--schedule", "SENTPIPE_REFRESH_SCHEDULE")],
)
def test_refresh_duration_flags_beat_the_environment_and_are_refused_as_flags(
    tmp_path: Path, flag: str, variable: str
) -> None:
    data = {"SENTPIPE_DATA_DIR": str(tmp_path / "data")}
    assert invoke("db", "init", env=data).exit_code == 0
    env = {**data, variable: "bogus"}
    from_env = invoke("refresh", "reddit", "--dry-run", "--json", env=env)
    assert from_env.exit_code == 2 and variable.removeprefix("SENTPIPE_").lower() in (
        from_env.output
    )
    given = invoke("refresh", "reddit", "--dry-run", "--json", flag, "2h", env=env)
    assert given.exit_code == 0, given.output
    bad = invoke("refresh", "reddit", "--dry-run", flag, "1h,soon", env=env)
    assert bad.exit_code == 2
    assert f"{flag} 'soon' is not a duration" in bad.output


@pytest.mark.parametrize("command", ["ndjson", "reddit-dump", "spool"])
def test_ingest_and_spool_sink_flags_beat_the_environment(tmp_path: Path, command: str) -> None:
    from tests.fixtures.events import ndjson_line

    env = {"SENTPIPE_DATA_DIR": str(tmp_path / "data"), "SENTPIPE_SINKS": "no-such-sink"}
    source = tmp_path / "in.ndjson"
    source.write_text(ndjson_line(1) + "\n", encoding="utf-8")
    if command == "ndjson":
        args = ["ingest", "ndjson", str(source)]
    elif command == "reddit-dump":
        dump = tmp_path / "RS_2023-01.ndjson"
        dump.write_text(
            '{"id":"abc","name":"t3_abc","subreddit":"python","created_utc":1672531200,'
            '"title":"hello","author":"ada"}\n',
            encoding="utf-8",
        )
        args = ["ingest", "reddit-dump", str(dump)]
    else:
        args = ["spool", "replay"]
    refused = invoke(*args, env=env)
    assert refused.exit_code == 2 and "unknown sink 'no-such-sink'" in refused.output
    given = invoke(*args, "--sink", "csv", env=env)
    assert given.exit_code == 0, given.output
    if command != "spool":
        assert list((tmp_path / "data" / "csv").rglob("*.csv"))
