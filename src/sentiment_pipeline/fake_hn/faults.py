"""Per-route "first N requests fail" counters, fresh for every started server."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from .config import FaultSpec


class Faults:
    """Remaining 429s and 5xx per route name."""

    def __init__(self, specs: Mapping[str, FaultSpec]) -> None:
        self._specs = dict(specs)
        self._left = {r: [s.too_many_requests, s.server_errors] for r, s in specs.items()}
        self._lock = threading.Lock()

    def take(self, route: str) -> tuple[int, dict[str, str]] | None:
        """The status and headers this request of ``route`` fails with, if any left."""
        spec = self._specs.get(route)
        if spec is None:
            return None
        with self._lock:
            left = self._left[route]
            if left[0] > 0:
                left[0] -= 1
                return 429, {"Retry-After": str(spec.retry_after)}
            if left[1] > 0:
                left[1] -= 1
                return spec.server_error_status, {}
        return None
