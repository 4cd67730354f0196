"""`--every`, `--jitter` and `--metrics-file` for the commands that run a job, and
`serve()`, which wraps a command's run function in the schedule loop and the metrics
writer of `sentiment_pipeline.service`.

A command builds its settings and options, then calls
`serve(ctx, "scrape", run_once, every=…, jitter=…, metrics_file=…, metrics_dir=…)`, where
`run_once(stop)` does one run, renders its summary and returns an `Outcome` (exit code
and `RunFigures`). Without `--every` that is one run and the process exits with its
code; errors go to the error boundary as before. With `--every` the runs repeat until
SIGTERM/SIGINT, a failed run is printed as one line and the next one still comes, and
the process exits 0. `stop` is the service's `StopFlag` (None without `--every`): a job
that does not go through the pipeline's signal handling (scoring) asks it between batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from sentiment_pipeline.db.url import DatabaseURL
    from sentiment_pipeline.service import RunFigures, Schedule, StopFlag

__all__ = ["Every", "Jitter", "MetricsFile", "Outcome", "serve"]

Every = Annotated[
    str | None,
    typer.Option(
        "--every",
        metavar="DURATION",
        help="Service mode: run again every DURATION (15m, 1h) until SIGTERM/SIGINT.",
    ),
]
Jitter = Annotated[
    str | None,
    typer.Option(
        "--jitter", metavar="DURATION", help="With --every: wait up to this much longer, at random."
    ),
]
MetricsFile = Annotated[
    Path | None,
    typer.Option(
        "--metrics-file",
        metavar="PATH",
        dir_okay=False,
        help="Write Prometheus metrics here after each run "
        "(default: SENTPIPE_METRICS_DIR/sentpipe_<command>.prom).",
    ),
]


@dataclass
class Outcome:
    """What one run of a command returns to `serve`: its exit code, its figures, and
    (a job that plans its own cadence, such as the scrape's group listings) `next_in`,
    the seconds until its next run is due (None: the `--every` schedule decides)."""

    exit_code: int
    figures: RunFigures | None = None
    next_in: float | None = None


RunOnce = Callable[["StopFlag | None"], Outcome]


def serve(
    ctx: typer.Context,
    command: str,
    run_once: RunOnce,
    *,
    every: str | None,
    jitter: str | None,
    metrics_file: Path | None,
    metrics_dir: Path | None,
    quiet: bool = False,
    database: DatabaseURL | None = None,
) -> NoReturn:
    """Run `run_once` once or on the `--every` schedule, writing metrics after each run
    to `metrics_file` or `<metrics_dir>/sentpipe_<command>.prom` (if either is set), and
    recording each finished run in `database`'s `run_metrics` (if given; best effort).
    Raises `typer.Exit` with the run's exit code (one run) or 0 (service stopped);
    `ConfigError` for a bad duration or an unusable metrics path, before any run."""
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.service import Schedule, StopFlag, check_metrics_path, metrics_path
    from sentiment_pipeline.timeparse import parse_duration

    if jitter is not None and every is None:
        raise ConfigError("--jitter needs --every", "pass --every DURATION too, or drop --jitter")
    schedule = None
    if every is not None:
        schedule = Schedule(
            parse_duration(every, "--every").total_seconds(),
            parse_duration(jitter, "--jitter").total_seconds() if jitter is not None else 0.0,
        )
    path = metrics_path(command, metrics_file, metrics_dir)
    if path is not None:
        check_metrics_path(path)
    sink = _Sink(path, database)
    if schedule is None:
        raise typer.Exit(_one_run(ctx, command, run_once, sink, None))
    _service(ctx, command, run_once, sink, schedule, StopFlag(), quiet)
    raise typer.Exit(0)


def _service(
    ctx: typer.Context,
    command: str,
    run_once: RunOnce,
    sink: _Sink,
    schedule: Schedule,
    stop: StopFlag,
    quiet: bool,
) -> None:
    from sentiment_pipeline.cli.console import log
    from sentiment_pipeline.service import run_every

    def waiting(seconds: float) -> None:
        if not quiet:
            log(f"{command}: next run in {_seconds(seconds)}")

    planned: list[float | None] = [None]

    def once(stop: StopFlag | None) -> Outcome:
        planned[0] = None
        outcome = run_once(stop)
        planned[0] = outcome.next_in
        return outcome

    restore = stop.install()
    try:
        run_every(
            lambda: _one_run(ctx, command, once, sink, stop),
            schedule,
            stop,
            on_wait=waiting,
            planned=lambda: planned[0],
        )
    finally:
        restore()
    if not quiet:
        log(f"{command}: stopped ({stop.signal_name or 'signal'})")


@dataclass(frozen=True)
class _Sink:
    """Where a finished run's metrics go: the Prometheus file, the `run_metrics` table."""

    path: Path | None
    database: DatabaseURL | None


def _one_run(
    ctx: typer.Context, command: str, run_once: RunOnce, sink: _Sink, stop: StopFlag | None
) -> int:
    """One run with its metrics; in a service (`stop` given) errors become one line."""
    from sentiment_pipeline.cli.boundary import debug_enabled, print_error
    from sentiment_pipeline.errors import ExitCode, SentpipeError

    started, clock = time.time(), time.monotonic()
    code = int(ExitCode.FAILURES)
    figures = None
    try:
        outcome = run_once(stop)
        code, figures = outcome.exit_code, outcome.figures
    except SentpipeError as error:
        code = int(error.exit_code)
        if stop is None or debug_enabled(ctx):
            raise
        print_error(error)
    except KeyboardInterrupt:
        code = 130
        raise
    except Exception as error:
        if stop is None or debug_enabled(ctx):
            raise
        print_error(error)
    finally:
        _write(sink, command, started, time.monotonic() - clock, code, figures)
    return code


def _write(
    sink: _Sink,
    command: str,
    started: float,
    duration: float,
    code: int,
    figures: RunFigures | None,
) -> None:
    from sentiment_pipeline.cli.console import log
    from sentiment_pipeline.service import RunFigures, RunMetrics, record_run, write_metrics

    metrics = RunMetrics(command, started, duration, code, figures or RunFigures())
    if sink.path is not None:
        try:
            write_metrics(sink.path, metrics)
        except OSError as error:
            log(f"Warning: cannot write the metrics file {sink.path}: {error.strerror or error}")
    if sink.database is not None:
        warning = record_run(sink.database, metrics)
        if warning is not None:
            log(f"Warning: {warning}")


def _seconds(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
