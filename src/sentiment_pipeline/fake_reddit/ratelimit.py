"""Per-client request accounting with Reddit's ``x-ratelimit-*`` headers.

asyncprawcore paces itself from these headers (it sleeps so that ``used``
requests are spread over the window), so the numbers must be consistent:
``used`` an integer, ``remaining`` a float string, ``reset`` whole seconds.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateState:
    """A snapshot of one client's window."""

    used: int
    remaining: float
    reset: int

    @property
    def exceeded(self) -> bool:
        """True once the client has gone past its allowance."""
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        """The three headers Reddit sends on every API response."""
        return {
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-remaining": f"{max(self.remaining, 0.0):.1f}",
            "x-ratelimit-reset": str(self.reset),
        }


class RateLimits:
    """Fixed windows aligned to the clock, like Reddit's 10-minute windows."""

    def __init__(self, limit: int, window: int, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._used: dict[str, tuple[float, int]] = {}

    def _state(self, client: str, add: int) -> RateState:
        now = self.clock()
        start = math.floor(now / self.window) * self.window
        with self._lock:
            seen_start, used = self._used.get(client, (start, 0))
            if seen_start != start:
                used = 0
            used += add
            self._used[client] = (start, used)
        reset = max(1, math.ceil(start + self.window - now))
        return RateState(used=used, remaining=float(self.limit - used), reset=reset)

    def hit(self, client: str) -> RateState:
        """Count one request for ``client`` and return the new state."""
        return self._state(client, 1)

    def peek(self, client: str) -> RateState:
        """Return the state without counting (for token-endpoint answers)."""
        return self._state(client, 0)
