"""On a terminal sentpipe draws rich tables and progress; this runs the installed command
under a pseudo-terminal, the path cron and pipes never take."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

SENTPIPE = Path(sys.executable).with_name("sentpipe")


def run_in_pty(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(SENTPIPE), *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm", **env},
        cwd=cwd,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_demo_and_stats_on_a_terminal(tmp_path: Path) -> None:
    env = {"SENTPIPE_DATA_DIR": str(tmp_path), "SENTPIPE_DATABASE_URL": ""}
    code, output = run_in_pty(["demo"], env, tmp_path)
    assert code == 0, output
    assert "Internal error" not in output
    assert "subreddit" in output and "requests" in output  # the live per-subreddit table
    assert "inserted" in output
    code, output = run_in_pty(["stats"], env, tmp_path)
    assert code == 0, output
    assert "Events per day" in output


def test_user_error_on_a_terminal_is_one_line(tmp_path: Path) -> None:
    code, output = run_in_pty(["db", "status"], {"SENTPIPE_DATABASE_URL": "mysql://x/y"}, tmp_path)
    assert code == 2
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Error:" in lines[0]
