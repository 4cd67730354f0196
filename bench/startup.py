"""Start-up cost of the CLI, whole processes (medians of N runs):

- `sentpipe --help` / `--version` / `db --help` / `export csv --help` vs `python -c
  'import typer, rich'`, run by run in turn (goal under 2x: cron, shell completion and
  --help start the process often); children run without PYTHONDONTWRITEBYTECODE, as an
  installed command does (compiling the package each start would cost more than it);
- with --url, `sentpipe export csv` with nothing to export vs
  `python -c 'import typer, rich, psycopg, pydantic_settings'`, what that command cannot
  avoid loading (goal under 1.3x).

    .venv/bin/python bench/startup.py [--runs 15] [--url postgresql://…/DB-with-raw_events]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import child_env

GOAL = 2.0
GOAL_EXPORT = 1.3
SENTPIPE = str(Path(sys.executable).with_name("sentpipe"))
EXPORT_BASELINE = "import typer, rich, psycopg, pydantic_settings"


CHILD_ENV = child_env()


def median_seconds(command: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env or CHILD_ENV)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def interleaved_medians(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median seconds of each command, one run of each in turn (so a busy moment of the
    machine falls on all of them alike), after one warm-up run each."""
    samples: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs + 1):
        for label, command in commands.items():
            samples[label].append(median_seconds(command, 1))
    return {label: statistics.median(taken[1:]) for label, taken in samples.items()}


def export_startup(libpq_url: str, runs: int) -> tuple[float, float]:
    """Median seconds of the baseline import and of `sentpipe export csv -o FILE` that
    matches no row (a --since far after any data), interleaved run by run."""
    env = {**CHILD_ENV, "SENTPIPE_DATABASE_URL": libpq_url}
    with tempfile.TemporaryDirectory() as scratch:
        target = str(Path(scratch) / "empty.csv")
        export = [SENTPIPE, "export", "csv", "-o", target, "--force", "--since", "2999-01-01"]
        baseline = [sys.executable, "-c", EXPORT_BASELINE]
        base, ours = [], []
        for _ in range(runs):
            base.append(median_seconds(baseline, 1))
            ours.append(median_seconds(export, 1, env))
    return statistics.median(base), statistics.median(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--url", help="a PostgreSQL database with raw_events, for export")
    args = parser.parse_args()
    runs = args.runs
    medians = interleaved_medians(
        {
            "baseline": [sys.executable, "-c", "import typer, rich"],
            "sentpipe --help": [SENTPIPE, "--help"],
            "sentpipe --version": [SENTPIPE, "--version"],
            "sentpipe db --help": [SENTPIPE, "db", "--help"],
            "sentpipe export csv --help": [SENTPIPE, "export", "csv", "--help"],
        },
        runs,
    )
    baseline = medians.pop("baseline")
    print(f"{'command':<28}{'median':>10}{'x baseline':>12}")
    print(f"{'python -c import typer,rich':<28}{baseline * 1000:>8.0f}ms{1.0:>12.2f}")
    for label, took in medians.items():
        ratio = took / baseline
        verdict = "ok" if ratio < GOAL else f"over the {GOAL}x goal"
        print(f"{label:<28}{took * 1000:>8.0f}ms{ratio:>12.2f}  {verdict}")
    if args.url:
        base, ours = export_startup(args.url, runs)
        ratio = ours / base
        verdict = "ok" if ratio < GOAL_EXPORT else f"over the {GOAL_EXPORT}x goal"
        print(f"{'python -c ' + EXPORT_BASELINE:<28}{base * 1000:>8.0f}ms{1.0:>12.2f}")
        print(f"{'sentpipe export csv (empty)':<28}{ours * 1000:>8.0f}ms{ratio:>12.2f}  {verdict}")


if __name__ == "__main__":
    main()
