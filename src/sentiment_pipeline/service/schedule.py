"""`--every`: one long-lived process that repeats a run on a schedule.

`run_every(run_once, schedule, stop)` calls `run_once()` now and then every
`schedule.every` seconds (plus up to `schedule.jitter` at random) until `stop` is set by
SIGINT/SIGTERM. Locks are the run's business: each run takes and releases its own, so
between runs nothing is held. A run that raises is reported through `on_failure` and
the next one still comes. A signal during a run lets the run finish (the pipeline's own
stop handling, `signals.stop_on_signals`, which chains to `StopFlag`), then the loop
ends; between runs the loop ends at once. A second signal during a run interrupts it
(`KeyboardInterrupt`), as without `--every`. The handlers themselves are installed by
`sentiment_pipeline.signals`, which the pipeline uses too.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from sentiment_pipeline.signals import chained_stop_handler, handle_signals

__all__ = ["Schedule", "StopFlag", "run_every"]

LOGGER = logging.getLogger(__name__)
_TICK = 0.2  # seconds: how soon a signal between runs ends the wait


@dataclass(frozen=True)
class Schedule:
    """Runs start `every` seconds apart, each wait lengthened by a random 0..`jitter`
    seconds. A run longer than `every` is followed by the next one at once."""

    every: float
    jitter: float = 0.0

    def next_start(self, started: float, now: float, rng: random.Random | None = None) -> float:
        """When the run after one that started at `started` begins (same clock as `now`)."""
        extra = (rng or random).uniform(0.0, self.jitter) if self.jitter > 0 else 0.0
        return max(now, started + self.every + extra)


class StopFlag:
    """Set by SIGINT/SIGTERM once `install()` ran (main thread only), or by `set()`.

    `in_run` tells the handler a run is going on: a signal sets the flag (the run
    finishes); a second one during the same run raises `KeyboardInterrupt`."""

    def __init__(self) -> None:
        self._set = False
        self.signal_name: str | None = None
        self.in_run = False

    def is_set(self) -> bool:
        return self._set

    def set(self, signal_name: str | None = None) -> None:
        self.signal_name = self.signal_name or signal_name
        self._set = True

    @chained_stop_handler
    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        """The signal handler (also called by the pipeline's own stop handler)."""
        if self._set and self.in_run:
            raise KeyboardInterrupt
        self.set(signal.Signals(signum).name)

    def install(self) -> Callable[[], None]:
        """Make SIGINT/SIGTERM set the flag; returns a function restoring the old handlers."""
        return handle_signals(self.handle)

    def reinstall(self) -> None:
        """Take the signals back after a run (whatever the run left installed)."""
        # what the run left installed is not put back; outside the main thread
        # (ValueError) install() could not have run either
        with contextlib.suppress(ValueError):
            handle_signals(self.handle)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as the flag is set (signals between runs
        end the wait within a fraction of a second)."""
        deadline = time.monotonic() + seconds
        while not self._set:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(_TICK, left))
        return True


def run_every(
    run_once: Callable[[], int],
    schedule: Schedule,
    stop: StopFlag,
    *,
    on_failure: Callable[[Exception], int] | None = None,
    on_wait: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.time,
    max_runs: int | None = None,
    planned: Callable[[], float | None] | None = None,
) -> int:
    """Call `run_once()` (returns the run's exit code) on `schedule` until `stop` is set
    or `max_runs` runs happened; returns the number of runs.

    An exception from a run (not `KeyboardInterrupt`) goes to `on_failure` (default: a
    logged error) and the schedule goes on. `on_wait(seconds)` is told each wait before
    it starts. `clock` gives Unix seconds (tests may pass their own). `planned()`, when
    it returns a number after a run, is the run's own next start in seconds from now (a
    job that plans its cadence), used instead of `schedule.every` (the jitter still
    applies).
    """
    runs = 0
    while not stop.is_set():
        started = clock()
        stop.in_run = True
        try:
            run_once()
        except Exception as error:
            if on_failure is not None:
                on_failure(error)
            else:
                LOGGER.error("run failed: %s: %s", type(error).__name__, error)
        finally:
            stop.in_run = False
            stop.reinstall()
        runs += 1
        if stop.is_set() or (max_runs is not None and runs >= max_runs):
            break
        pause = schedule.next_start(started, clock()) - clock()
        wanted = planned() if planned is not None else None
        if wanted is not None:  # the job's own cadence, still spread by --jitter
            pause = wanted + (random.uniform(0.0, schedule.jitter) if schedule.jitter > 0 else 0.0)
        if on_wait is not None:
            on_wait(max(0.0, pause))
        if pause > 0 and stop.wait(pause):
            break
    return runs
