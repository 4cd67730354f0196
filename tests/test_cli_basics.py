"""The command itself: help, version, module entry, the error boundary, start-up cost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment_pipeline import __version__
from sentiment_pipeline.cli import app
from tests.fixtures.cli import invoke
from tests.fixtures.isolation import ROOT

SENTPIPE = Path(sys.executable).with_name("sentpipe")


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"sentpipe {__version__}"


def test_help_lists_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("db", "scrape", "export", "stats", "ingest", "spool", "config", "demo"):
        assert command in result.output


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in getattr(group, "commands", {}).items():
        path = (*prefix, name)
        found.append(path)
        found.extend(_commands(command, path))
    return found


def test_every_command_has_help_and_is_documented() -> None:
    import typer.main

    root = typer.main.get_command(app)
    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    paths = _commands(root)
    assert ("db", "init") in paths
    for path in paths:
        result = invoke(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage" in result.output
        assert f"sentpipe {' '.join(path)}" in docs, (
            f"docs/cli.md lacks `sentpipe {' '.join(path)}`"
        )


def test_python_dash_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sentiment_pipeline", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"sentpipe {__version__}"


def test_installed_console_script(tmp_path: Path) -> None:
    assert SENTPIPE.exists(), "the sentpipe console script is not installed in this venv"
    env = {**os.environ, "SENTPIPE_DATA_DIR": str(tmp_path), "SENTPIPE_DATABASE_URL": ""}
    done = subprocess.run(
        [str(SENTPIPE), "db", "init"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "sentpipe.db").is_file()
    assert "Migrated" in done.stderr
    # not a terminal: plain timestamped log lines, no colour codes
    assert "\x1b[" not in done.stderr
    assert done.stderr.startswith("20")


def test_user_error_is_one_line_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTPIPE_DATABASE_URL", "mysql://u:secret@h/db")
    result = invoke("db", "status")
    assert result.exit_code == 2
    assert "unsupported database URL scheme 'mysql'" in result.output
    assert "Traceback" not in result.output
    assert "secret" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_DATABASE_URL", "mysql://u:p@h/db")
    result = invoke("--debug", "db", "status", traceback_ok=True)
    assert result.exit_code != 0
    from sentiment_pipeline.errors import ConfigError

    assert isinstance(result.exception, ConfigError)


def test_unknown_sink_lists_known_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path))
    source = tmp_path / "in.ndjson"
    source.write_text("")
    result = invoke("ingest", "ndjson", str(source), "--sink", "kafka")
    assert result.exit_code == 2
    assert "unknown sink 'kafka'" in result.output
    assert "csv" in result.output and "sqlite" in result.output and "timescale" in result.output


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from sentiment_pipeline.cli import app\n"
        "from typer.testing import CliRunner\n"
        "CliRunner().invoke(app, ['--help'])\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'asyncpraw', 'aiohttp', 'psycopg',"
        " 'pydantic', 'prometheus_client') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_generated_cli_reference_is_current() -> None:
    script = ROOT / "scripts" / "cli-reference"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_shell_completion_lists_subcommands() -> None:
    env = {
        **os.environ,
        "_SENTPIPE_COMPLETE": "complete_bash",
        "COMP_WORDS": "sentpipe db ",
        "COMP_CWORD": "2",
    }
    done = subprocess.run([str(SENTPIPE)], capture_output=True, text=True, env=env, check=False)
    assert done.stdout.split() == ["init", "status"]
