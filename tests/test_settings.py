"""Settings precedence (CLI > env > .env > YAML > default), masking and origins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiment_pipeline.db.url import mask_url, parse_database_url
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.settings import load_settings, setting_origins
from tests.fixtures.cli import invoke
from tests.fixtures.isolation import ROOT


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "sentpipe.yml"
    config.write_text("batch_size: 10\nflush_interval: 9\nqueue_size: 7\nmax_payload_bytes: 4096\n")
    (tmp_path / ".env").write_text(
        "SENTPIPE_BATCH_SIZE=20\nSENTPIPE_FLUSH_INTERVAL=8\nSENTPIPE_QUEUE_SIZE=6\n"
    )
    monkeypatch.setenv("SENTPIPE_BATCH_SIZE", "30")
    monkeypatch.setenv("SENTPIPE_FLUSH_INTERVAL", "5")
    settings = load_settings(config, batch_size=40)
    assert settings.batch_size == 40  # CLI flag
    assert settings.flush_interval == 5  # env beats .env and YAML
    assert settings.queue_size == 6  # .env beats YAML
    assert settings.max_payload_bytes == 4096  # YAML beats default
    assert settings.db_retry_seconds == 60  # default
    origins = setting_origins(config, batch_size=40)
    assert origins["batch_size"] == "cli"
    assert origins["flush_interval"] == "env"
    assert origins["queue_size"] == ".env"
    assert origins["max_payload_bytes"].startswith("yaml")
    assert origins["db_retry_seconds"] == "default"


def test_config_from_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yml"
    config.write_text("subreddits:\n  - name: Python\n    sort: top\n    time_filter: week\n")
    monkeypatch.setenv("SENTPIPE_CONFIG", str(config))
    settings = load_settings()
    assert settings.subreddits[0].name == "Python"
    assert settings.subreddits[0].sort == "top"


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("--config", str(tmp_path / "nope.yml"), "config", "show")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_invalid_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_BATCH_SIZE", "lots")
    with pytest.raises(ConfigError, match="batch_size"):
        load_settings()


def test_sinks_accept_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_SINKS", "timescale, csv")
    assert load_settings().sinks == ["timescale", "csv"]


def test_default_database_is_sqlite_in_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    assert settings.database.backend == "sqlite"
    assert settings.database.sqlite_path == tmp_path / "data" / "sentpipe.db"
    assert settings.csv_path == tmp_path / "data" / "csv"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5433/d", "postgresql+psycopg://u:p@h:5433/d"),
        ("postgres://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ("postgresql+psycopg://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ("sqlite:///rel.db", "sqlite:///rel.db"),
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
    ],
)
def test_database_urls(given: str, expected: str) -> None:
    assert parse_database_url(given).sqlalchemy == expected


@pytest.mark.parametrize("bad", ["mysql://h/db", "just-a-path", "sqlite://"])
def test_bad_database_urls(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_database_url(bad)


def test_mask_url() -> None:
    assert mask_url("postgresql://me:s3cret@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_DATABASE_URL", "postgresql://me:hunter2@db:5432/x")
    monkeypatch.setenv("SENTPIPE_REDDIT_CLIENT_SECRET", "very-secret-value")
    monkeypatch.setenv("SENTPIPE_REDDIT_PASSWORD", "pw-123456")
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert "hunter2" not in result.output
        assert "very-secret-value" not in result.output
        assert "pw-123456" not in result.output
    data = json.loads(invoke("config", "show", "--json").output)
    assert data["database_url"] == {"value": "postgresql://me:***@db:5432/x", "source": "env"}
    assert data["reddit_client_secret"]["value"] == "********"
    assert data["batch_size"] == {"value": 5000, "source": "default"}


def test_env_example_documents_every_setting() -> None:
    from sentiment_pipeline.settings import Settings

    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        if name == "subreddits":
            continue
        assert f"SENTPIPE_{name.upper()}" in example, name
    assert "SENTPIPE_CONFIG" in example
