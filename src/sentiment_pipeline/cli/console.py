"""Terminal output: rich on a terminal, plain timestamped lines when not (cron, pipes)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["err_console", "is_terminal", "log", "out_console", "setup_logging"]


class _LazyConsole:
    """A rich Console made on first use: importing rich.console costs ~20 ms, which
    `--help`, completion and cron should not pay when they print nothing rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


out_console: Any = _LazyConsole(highlight=False, soft_wrap=True)
err_console: Any = _LazyConsole(stderr=True, highlight=False, soft_wrap=True)


def is_terminal() -> bool:
    return bool(err_console.is_terminal)


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def setup_logging(debug: bool = False, quiet: bool = False) -> None:
    """Plain `2026-11-28T17:00:00Z INFO message` lines on stderr for cron and pipes."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UTCFormatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("sentiment_pipeline")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def log(message: str) -> None:
    """A notice: styled on a terminal, a timestamped log line otherwise."""
    if is_terminal():
        err_console.print(message)
    else:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        err_console.print(f"{stamp} {message}", markup=False)
