"""The scrape lock: exclusive, names the holder, released by a crash, optional wait."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sentiment_pipeline.errors import ExitCode, LockHeld
from sentiment_pipeline.lock import holder_pid, run_lock


def test_second_holder_is_refused_with_the_pid(tmp_path: Path) -> None:
    path = tmp_path / "data" / "scrape.lock"
    with run_lock(path):
        assert holder_pid(path) == os.getpid()
        with pytest.raises(LockHeld) as caught, run_lock(path):
            pass
    assert f"pid {os.getpid()}" in caught.value.reason
    assert "--wait" in (caught.value.hint or "")
    assert caught.value.exit_code == ExitCode.LOCKED


def test_released_lock_can_be_taken_again(tmp_path: Path) -> None:
    path = tmp_path / "scrape.lock"
    with run_lock(path):
        pass
    with run_lock(path):
        assert holder_pid(path) == os.getpid()


def test_a_killed_holder_leaves_no_stuck_lock(tmp_path: Path) -> None:
    path = tmp_path / "scrape.lock"
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from sentiment_pipeline.lock import run_lock\n"
        f"with run_lock(Path({str(path)!r})):\n"
        "    print('locked', flush=True)\n"
        "    os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "locked"
    assert done.returncode == 9
    with run_lock(path):  # the dead process's flock went with it
        pass


def test_wait_blocks_until_the_holder_releases(tmp_path: Path) -> None:
    path = tmp_path / "scrape.lock"
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with run_lock(path):
            holding.set()
            release.wait(10)
            order.append("released")

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(10)
    waiter = threading.Thread(target=lambda: _take(path, order))
    waiter.start()
    release.set()
    waiter.join(10)
    thread.join(10)
    assert order == ["released", "acquired"]


def _take(path: Path, order: list[str]) -> None:
    with run_lock(path, wait=True):
        order.append("acquired")
