"""SIGINT and SIGTERM: how a run and a service loop are told to stop.

Two kinds of handler share the two signals. A pipeline run (`pipeline.Job.run`) holds
them while it runs (`stop_on_signals`): the first signal sets its `asyncio.Event`, so
it stops reading and flushes what it collected; a second one interrupts for real (the
handlers that were there before are back). A service loop (`service.StopFlag`) holds
them between runs (`handle_signals`); its handler is marked `chained_stop_handler`, so
a run inside the loop also tells it of the first signal and the loop ends after that
run. Handlers can only be installed in the main thread; elsewhere nothing is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = [
    "STOP_SIGNALS",
    "chained_stop_handler",
    "handle_signals",
    "stop_on_signals",
    "stopping",
]

LOGGER = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def chained_stop_handler(handler: _Handler) -> _Handler:
    """Mark a signal handler that `stop_on_signals` tells of the first signal (a
    service loop's stop flag). Other handlers that were there before, such as asyncio's
    own SIGINT handler that cancels the main task, are only put back, never called."""
    handler.sentpipe_stop_handler = True  # type: ignore[attr-defined]
    return handler


def handle_signals(handler: Callable[[int, Any], Any]) -> Callable[[], None]:
    """Make `handler(signum, frame)` the handler of SIGINT and SIGTERM; returns a
    function that puts the previous handlers back. Raises ValueError outside the main
    thread."""
    previous: dict[int, Any] = {}
    for sig in STOP_SIGNALS:
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            if old is not None:
                signal.signal(sig, old)

    return restore


def stop_on_signals(stop: asyncio.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop` (in the running event loop): stop fetching and flush.
    The first signal removes these handlers, so a second one interrupts for real.

    Returns a function that removes the handlers again and puts back the ones that were
    there before. A handler marked with `chained_stop_handler` that was there (a service
    loop's stop flag) is also told of the first signal, so it knows the run was stopped.
    Outside the main thread (or where the loop cannot take signals) nothing is installed
    and the function returned does nothing."""
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def remove() -> None:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
            if previous[sig] is not None:
                signal.signal(sig, previous[sig])

    def first(signum: int) -> None:
        LOGGER.warning("received %s: finishing the current batch", signal.Signals(signum).name)
        stop.set()
        remove()
        outer = previous[signum]
        if callable(outer) and getattr(outer, "sentpipe_stop_handler", False):
            outer(signum, None)

    try:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, first, sig)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        return lambda: None
    return remove


@contextlib.contextmanager
def stopping(stop: asyncio.Event) -> Iterator[asyncio.Event]:
    """`stop_on_signals(stop)` for the duration of a `with` block; yields `stop`."""
    remove = stop_on_signals(stop)
    try:
        yield stop
    finally:
        remove()
