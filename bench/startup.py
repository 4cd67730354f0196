"""Start-up cost of the CLI: `sentpipe --help` vs `python -c 'import typer, rich'`.

Cron, shell completion and --help start the process often; the goal is under 2x the
bare typer + rich import. Prints medians of N runs of each whole process.

    .venv/bin/python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL = 2.0


def median_seconds(command: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    sentpipe = str(Path(sys.executable).with_name("sentpipe"))
    baseline = median_seconds([sys.executable, "-c", "import typer, rich"], runs)
    commands = {
        "sentpipe --help": [sentpipe, "--help"],
        "sentpipe --version": [sentpipe, "--version"],
        "sentpipe db --help": [sentpipe, "db", "--help"],
    }
    print(f"{'command':<28}{'median':>10}{'x baseline':>12}")
    print(f"{'python -c import typer,rich':<28}{baseline * 1000:>8.0f}ms{1.0:>12.2f}")
    for label, command in commands.items():
        took = median_seconds(command, runs)
        ratio = took / baseline
        verdict = "ok" if ratio < GOAL else f"over the {GOAL}x goal"
        print(f"{label:<28}{took * 1000:>8.0f}ms{ratio:>12.2f}  {verdict}")


if __name__ == "__main__":
    main()
