"""Per-subreddit fault injection with "N times, then OK" counters.

Counters live per running server (not in the frozen spec) so each test that
starts a fresh server gets the same sequence of failures.
"""

from __future__ import annotations

import asyncio
import threading

from . import errors
from .config import Access, FaultSpec
from .errors import ApiError


class FaultState:
    """Remaining fault budget for one subreddit."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._too_many_left = spec.too_many_requests
        self._errors_left = spec.server_errors

    def _take_too_many(self) -> bool:
        with self._lock:
            if self._too_many_left > 0:
                self._too_many_left -= 1
                return True
            return False

    def _take_error(self) -> bool:
        with self._lock:
            if self._errors_left > 0:
                self._errors_left -= 1
                return True
            return False

    def take_transient(self) -> ApiError | None:
        """The 429 or 5xx this request gets, if any is left (consumes one)."""
        if self._take_too_many():
            return errors.too_many_requests(self.spec.retry_after)
        if self._take_error():
            status = self.spec.server_error_status
            return ApiError(status, errors.error_body(status))
        return None

    async def gate(self, name: str, search_url: str) -> None:
        """Sleep and/or raise the fault this request should see, if any."""
        if self.spec.delay_seconds > 0:
            await asyncio.sleep(self.spec.delay_seconds)
        access_error = access_fault(self.spec.access, name, search_url)
        if access_error is not None:
            raise access_error
        fault = self.take_transient()
        if fault is not None:
            raise fault


async def gate_group(members: list[FaultState]) -> None:
    """Faults of a multi-subreddit request over its accessible ``members``: one sleep of
    the longest delay, then the first member (in path order) with a 429 or 5xx left
    answers it, taking one from its counter only."""
    delay = max((m.spec.delay_seconds for m in members), default=0.0)
    if delay > 0:
        await asyncio.sleep(delay)
    for member in members:
        fault = member.take_transient()
        if fault is not None:
            raise fault


def access_fault(access: Access, name: str, search_url: str) -> ApiError | None:
    """The error Reddit answers for a subreddit in state ``access``."""
    if access is Access.PRIVATE:
        return ApiError(403, errors.error_body(403, reason="private"))
    if access is Access.BANNED:
        return ApiError(404, errors.error_body(404, reason="banned"))
    if access is Access.QUARANTINED:
        return ApiError(
            403,
            errors.error_body(
                403,
                reason="quarantined",
                quarantine_message=f"r/{name} is quarantined (fake).",
            ),
        )
    if access is Access.UNKNOWN:
        return errors.redirect(search_url)
    return None
