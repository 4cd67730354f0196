"""Reddit's error answers as an exception handlers raise.

Status codes and bodies follow what asyncprawcore maps to its exceptions:
403 without ``www-authenticate`` -> Forbidden, 404 -> NotFound, 302 -> Redirect
(reads ``location``), 429 -> TooManyRequests (reads ``retry-after``), 5xx ->
ServerError after its retries, 401 ``invalid_token`` -> refresh and retry.
"""

from __future__ import annotations

from typing import Any

_MESSAGES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """An HTTP error answer with a JSON body and extra headers."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(status: int, **extra: Any) -> dict[str, Any]:
    """Reddit's ``{"message": ..., "error": status}`` body plus extra keys."""
    return {**extra, "message": _MESSAGES.get(status, "Error"), "error": status}


def not_found() -> ApiError:
    """404 for a thing that does not exist."""
    return ApiError(404, error_body(404))


def invalid_token() -> ApiError:
    """401 that makes asyncprawcore drop its token and fetch a new one."""
    header = 'Bearer realm="reddit", error="invalid_token"'
    return ApiError(401, error_body(401), {"www-authenticate": header})


def redirect(location: str) -> ApiError:
    """302 as Reddit answers for a subreddit name that does not exist."""
    return ApiError(302, None, {"location": location})


def too_many_requests(retry_after: int) -> ApiError:
    """429 with ``Retry-After``."""
    return ApiError(429, error_body(429), {"retry-after": str(retry_after)})
