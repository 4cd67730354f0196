"""The error family sentpipe raises, and the exit codes users' cron jobs depend on.

The core raises these; the CLI converts them once, at its edge, into a one-line message
and an exit code. Nothing here imports heavy libraries.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ConfigError",
    "DatabaseUnreachable",
    "ExitCode",
    "LockHeld",
    "SentpipeError",
    "TransientError",
    "first_line",
]


class ExitCode(IntEnum):
    """Public exit codes (documented in docs/cli.md)."""

    OK = 0
    FAILURES = 1
    USAGE = 2
    UNREACHABLE = 3
    LOCKED = 4


class SentpipeError(Exception):
    """A failure the user can act on: what went wrong (`reason`) and what to do (`hint`)."""

    exit_code: ExitCode = ExitCode.FAILURES

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint

    def one_line(self) -> str:
        """The message as printed: reason, then instruction."""
        reason = self.reason.rstrip(".")
        if not self.hint:
            return f"{reason}."
        if self.hint.startswith(_VERBATIM):  # a command to paste keeps its case
            return f"{reason}. {self.hint}"
        return f"{reason}. {self.hint[0].upper()}{self.hint[1:]}"


# hints that start with a command line or a literal are printed as written
_VERBATIM = ("pip ", "pipx ", "sentpipe ", "python", "psql ", "docker ", "podman ", "`", "-")


class ConfigError(SentpipeError):
    """Bad options, settings or input: fix the invocation or the configuration."""

    exit_code = ExitCode.USAGE


class DatabaseUnreachable(SentpipeError):
    """The database (or network) could not be reached; retrying later may succeed."""

    exit_code = ExitCode.UNREACHABLE


class LockHeld(SentpipeError):
    """Another run holds the lock."""

    exit_code = ExitCode.LOCKED


class TransientError(Exception):
    """A failure worth retrying with backoff (connection lost, server restarting, 429, 5xx).

    Not a `SentpipeError`: the core retries these itself and only turns them into a
    user-facing error once its retry budget is spent.
    """


def first_line(error: BaseException) -> str:
    """The first line of an error's message, for one-line reports. A SQLAlchemy error's
    wrapped driver error (`.orig`) is used when present; an empty message gives the type."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
