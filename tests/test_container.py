"""The container image, built and run for real with podman (no Docker Hub), and compose.yml.

The image test needs root and podman (`apt-get install -y podman runc`); elsewhere it is
skipped with the reason, and with CI=true a missing podman fails it, like the database
servers. The base image comes from `scripts/container-base image` (a Debian root cached
under /var/lib/sentpipe/). Every container runs with `--network host`, so the test
TimescaleDB and the fake Reddit API on loopback are reachable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sentiment_pipeline.fake_reddit import RunningFakeReddit
from sentiment_pipeline.service import parse_metrics
from tests.fixtures.events import stored_rows

ROOT = Path(__file__).resolve().parents[1]
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
IMAGE = "localhost/sentpipe:test"


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"podman {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    """The sentpipe image built from this checkout on the cached local base image."""
    if os.geteuid() != 0:
        pytest.skip("the container test runs podman as root (CI runs as root)")
    if shutil.which("podman") is None or shutil.which("runc") is None:
        reason = "podman/runc are not installed (apt-get install -y podman runc)"
        if _ci():
            pytest.fail(f"{reason}; CI=true, so the container test may not be skipped")
        pytest.skip(reason)
    base = subprocess.run(
        [str(ROOT / "scripts" / "container-base"), "image"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if base.returncode != 0:
        pytest.fail(f"scripts/container-base image failed:\n{base.stderr[-3000:]}")
    _podman(
        "build",
        "--pull=never",
        "--network",
        "host",
        *LIMITS,
        "--build-arg",
        f"BASE_IMAGE={base.stdout.strip()}",
        "-t",
        IMAGE,
        str(ROOT),
        timeout=600,
    )
    yield IMAGE


def _run_args(env: dict[str, str], data: Path) -> list[str]:
    args = ["--pull=never", "--network", "host", *LIMITS, "-v", f"{data}:/data"]
    for name, value in env.items():
        args += ["-e", f"{name}={value}"]
    return args


def _metrics(path: Path) -> dict[str, float]:
    return {name: value for (name, _), value in parse_metrics(path.read_text()).items()}


def test_image_runs_db_init_a_scrape_service_and_scoring(
    image: str, timescale_url: str, fake_reddit: RunningFakeReddit, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)  # the container's user (uid 10001) writes here
    env = {
        "SENTPIPE_DATABASE_URL": timescale_url,
        "SENTPIPE_DATA_DIR": "/data",
        "SENTPIPE_METRICS_DIR": "/data/metrics",
        "SENTPIPE_SINKS": "database,csv",
        "SENTPIPE_REDDIT_CLIENT_ID": fake_reddit.config.client_id,
        "SENTPIPE_REDDIT_CLIENT_SECRET": fake_reddit.config.client_secret,
        "SENTPIPE_REDDIT_OAUTH_URL": fake_reddit.url,
        "SENTPIPE_REDDIT_URL": fake_reddit.url,
    }
    version = _podman("run", "--rm", *_run_args({}, data), image, "--version")
    assert version.stdout.startswith("sentpipe ")
    user = _podman("run", "--rm", *_run_args({}, data), "--entrypoint", "id", image, "-u")
    assert user.stdout.strip() != "0"  # not root

    init = _podman("run", "--rm", *_run_args(env, data), image, "db", "init", check=False)
    assert init.returncode == 0, init.stderr

    name = f"sentpipe-test-{os.getpid()}-{time.monotonic_ns()}"
    args = ["scrape", "reddit", "-s", "tiny", "--every", "2s"]
    _podman("run", "-d", "--name", name, *_run_args(env, data), image, *args)
    try:
        deadline = time.monotonic() + 120
        logs = ""
        while time.monotonic() < deadline:
            logs = _podman("logs", name).stderr + _podman("logs", name).stdout
            if logs.count("r/tiny: done") >= 2:
                break
            time.sleep(0.5)
        assert logs.count("r/tiny: done") >= 2, logs
        _podman("kill", "--signal", "TERM", name)
        code = _podman("wait", name, timeout=120).stdout.strip()
        logs = _podman("logs", name).stderr
    finally:
        _podman("rm", "-f", name, check=False)
    assert code == "0", logs
    assert "scrape: stopped (SIGTERM)" in logs

    posts = [row for row in stored_rows(timescale_url) if row.event_type == "submission"]
    assert len(posts) == 5
    assert list((data / "csv" / "reddit" / "tiny").glob("*.csv"))
    scrape = _metrics(data / "metrics" / "sentpipe_scrape.prom")
    assert scrape["sentpipe_last_exit_code"] == 0
    assert scrape["sentpipe_last_success_timestamp_seconds"] > 0

    score = _podman("run", "--rm", *_run_args(env, data), image, "sentiment", "score", check=False)
    assert score.returncode == 0, score.stderr
    assert "Scored " in score.stdout
    scored = _metrics(data / "metrics" / "sentpipe_sentiment_score.prom")
    assert scored["sentpipe_run_events_scored"] + scored["sentpipe_run_events_skipped"] == len(
        stored_rows(timescale_url)
    )


# --- compose.yml ------------------------------------------------------------------------

COMMANDS = {
    "db-init": ["db", "init"],
    "scraper": ["scrape", "reddit", "--every", "15m"],
    "scorer": ["sentiment", "score", "--every", "5m"],
    "refresh": ["refresh", "reddit", "--every"],
    "hn": ["scrape", "hn", "--every", "15m"],
    "hn-refresh": ["refresh", "hn", "--every"],
}


def test_compose_file_has_the_documented_services() -> None:
    compose = yaml.safe_load((ROOT / "compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"timescaledb", "grafana", "grafana-reader", *COMMANDS}
    database = services["timescaledb"]
    standalone = yaml.safe_load((ROOT / "compose.timescale.yml").read_text(encoding="utf-8"))
    assert database == standalone["services"]["timescaledb"]
    assert all(port.startswith("127.0.0.1:") for port in database["ports"])
    assert "healthcheck" in database
    for name, command in COMMANDS.items():
        service = services[name]
        assert service["image"] == "sentpipe:local" and service["build"]["context"] == "."
        assert service["command"][: len(command)] == command, name
        assert service["env_file"] == ".env"
        env = service["environment"]
        assert "@timescaledb:5432/" in env["SENTPIPE_DATABASE_URL"]
        assert env["SENTPIPE_CONFIG"] == "/etc/sentpipe/sentpipe.yml"
        assert env["SENTPIPE_METRICS_DIR"] == "/var/lib/sentpipe/metrics"
        assert env["SENTPIPE_CSV_DIR"].startswith(env["SENTPIPE_DATA_DIR"])
        volumes = service["volumes"]
        assert "sentpipe-data:/var/lib/sentpipe" in volumes
        assert "./sentpipe.yml:/etc/sentpipe/sentpipe.yml:ro" in volumes
        assert "ports" not in service
        depends = service["depends_on"]
        assert depends["timescaledb"]["condition"] == "service_healthy"
        if name != "db-init":
            assert depends["db-init"]["condition"] == "service_completed_successfully"
            assert "healthcheck" in service
            assert f"sentpipe_{_metrics_name(command)}.prom" in " ".join(
                service["healthcheck"]["test"]
            )
    assert services["refresh"]["profiles"] == ["refresh"]
    assert services["hn"]["profiles"] == services["hn-refresh"]["profiles"] == ["hn"]
    assert services["db-init"]["restart"] == "no"
    assert {"sentpipe-data", "sentpipe-metrics", "sentpipe-timescaledb"} <= set(compose["volumes"])
    example = yaml.safe_load((ROOT / "sentpipe.example.yml").read_text(encoding="utf-8"))
    assert example["subreddits"]


def _metrics_name(command: list[str]) -> str:
    """The metrics file's name part: `scrape`, `scrape_hn`, `refresh`, `refresh_hn`, …"""
    name = {"scrape": "scrape", "sentiment": "sentiment_score", "refresh": "refresh"}[command[0]]
    return f"{name}_hn" if command[1] == "hn" else name


def test_dockerfile_builds_from_a_pinned_base_as_a_non_root_user() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG BASE_IMAGE=python:3.11" in text and "slim" in text
    assert text.count("FROM ${BASE_IMAGE}") == 2
    assert "COPY --from=build" in text
    assert "USER sentpipe" in text and 'ENTRYPOINT ["sentpipe"]' in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[ignored.index("*") :] and "!.env" not in ignored  # .env never sent
