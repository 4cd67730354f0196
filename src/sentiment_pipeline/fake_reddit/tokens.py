"""Bearer tokens: issue, look up, expire.

Tokens expire on the server's clock so a test can make a token the client still
believes valid go stale, which is exactly when asyncprawcore receives
``401 invalid_token``, clears its token and retries with a fresh one.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Token:
    """An issued access token and who it belongs to."""

    value: str
    client_id: str
    grant_type: str
    username: str | None
    expires_at: float


class TokenStore:
    """Issued tokens by value; thread-safe for the thread runner."""

    def __init__(self, ttl: int, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}

    def issue(self, client_id: str, grant_type: str, username: str | None) -> Token:
        """Create a token valid for ``ttl`` seconds from now."""
        token = Token(
            value=f"fake-{secrets.token_urlsafe(24)}",
            client_id=client_id,
            grant_type=grant_type,
            username=username,
            expires_at=self.clock() + self.ttl,
        )
        with self._lock:
            self._tokens[token.value] = token
        return token

    def valid(self, value: str) -> Token | None:
        """Return the token if it exists and has not expired."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None or self.clock() >= token.expires_at:
            return None
        return token

    def revoke(self, value: str) -> None:
        """Forget one token (``/api/v1/revoke_token``)."""
        with self._lock:
            self._tokens.pop(value, None)

    def expire_all(self) -> int:
        """Invalidate every token now; returns how many there were."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
        return count
