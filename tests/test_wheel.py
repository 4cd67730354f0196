"""The built wheel carries its migrations: install it into a fresh venv and run `db init`."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.fixtures.isolation import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(base / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next((base / "dist").glob("sentpipe-*.whl"))
    environment = base / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    return environment / "bin" / "sentpipe"


def _run(
    command: Path, *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(command), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        check=False,
    )


def test_wheel_contains_migrations(installed: Path) -> None:
    site = installed.parent.parent / "lib"
    packaged = list(site.glob("python3*/site-packages/sentiment_pipeline/migrations/versions/*.py"))
    assert packaged, "migrations are missing from the wheel"


def test_wheel_db_init_sqlite(installed: Path, tmp_path: Path) -> None:
    env = {"SENTPIPE_DATA_DIR": str(tmp_path), "SENTPIPE_DATABASE_URL": ""}
    # run outside the checkout so nothing can fall back to the source tree
    done = _run(installed, "db", "init", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Migrated" in done.stderr
    again = _run(installed, "db", "init", env=env, cwd=tmp_path)
    assert "Schema is current" in again.stderr


@pytest.mark.timescale
def test_wheel_db_init_timescale(installed: Path, timescale_url: str, tmp_path: Path) -> None:
    done = _run(installed, "db", "init", env={"SENTPIPE_DATABASE_URL": timescale_url}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "hypertable" in done.stderr
