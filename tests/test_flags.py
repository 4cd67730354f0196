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
