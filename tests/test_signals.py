"""SIGINT/SIGTERM handling lives in `sentiment_pipeline.signals`, and both the pipeline
(a job's run) and the service loop (`StopFlag`) go through it: a signal during a run
inside a service stops the run and tells the service."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sentiment_pipeline.pipeline import open_job
from sentiment_pipeline.service import StopFlag
from sentiment_pipeline.settings import load_settings
from tests.fixtures.events import raw_event
from tests.test_layout import PACKAGE, imported_modules, module_name

SIGNALS = "sentiment_pipeline.signals"


@pytest.mark.parametrize("user", ["pipeline/job.py", "service/schedule.py"])
def test_the_pipeline_and_the_service_loop_use_the_signals_module(user: str) -> None:
    assert SIGNALS in imported_modules(PACKAGE / user)


def test_only_the_signals_module_installs_stop_handlers() -> None:
    """No stage below it installs SIGINT/SIGTERM handlers of its own (worker processes,
    which ignore both, are not stop handling)."""
    installers = {
        module_name(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if any(
            call in path.read_text(encoding="utf-8")
            for call in ("signal.signal(", "add_signal_handler(")
        )
    }
    assert installers <= {SIGNALS, "sentiment_pipeline.parallel"}
    assert SIGNALS in installers


async def test_a_signal_during_a_run_stops_it_and_tells_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENTPIPE_SINKS", "memory")
    settings = load_settings()
    flag = StopFlag()
    restore = flag.install()  # what `--every` does around its runs
    flag.in_run = True

    async def source() -> AsyncIterator[Any]:
        for n in range(1, 1000):
            if n == 5:
                os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0)  # the event loop takes the signal between records
            yield raw_event(n)

    try:
        assert signal.getsignal(signal.SIGTERM) == flag.handle
        async with open_job(settings) as job:
            result = await job.run(source())
        assert (result.stopped_early, result.stop_reason) == (True, "interrupted")
        assert result.inserted < 999  # it stopped reading
        assert flag.is_set() and flag.signal_name == "SIGTERM"
        assert signal.getsignal(signal.SIGTERM) == flag.handle  # the service's again
    finally:
        restore()
