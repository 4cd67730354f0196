"""Terminal output: rich on a terminal, plain timestamped lines when not (cron, pipes)."""

from __future__ import annotations

import functools
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# `out_console` and `err_console` are made on first use by `__getattr__` below.
__all__ = ["is_terminal", "log", "print_json", "print_line", "setup_logging"]


@functools.cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            """`sentpipe … | head`: the reader has all it wanted, which is a success
            (rich's own handler exits 1). Raised to the error boundary (cli/boundary.py)."""
            raise BrokenPipeError

    # no emoji codes: `list:top:` or a user's `:tada:` is text, never a picture
    return _Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)


def __getattr__(name: str) -> Console:
    """`out_console` / `err_console`, made on first use: importing rich.console costs
    ~20 ms, which `--help`, completion and cron should not pay when they print nothing."""
    if name == "out_console":
        return _console(False)
    if name == "err_console":
        return _console(True)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_terminal() -> bool:
    """Whether standard error is a terminal, as rich decides it. Without a terminal and
    without rich's overrides (TTY_COMPATIBLE, FORCE_COLOR) the answer is no, and rich
    (~20 ms to import) is not loaded to say so: cron, pipes and files never need it."""
    if not _forced_terminal() and not _isatty(sys.stderr):
        return False
    return _console(True).is_terminal


def print_line(message: str, stderr: bool = False) -> None:
    """One line of plain text (no markup) on standard output or error: written as is
    when that stream is not a terminal, else through the rich console."""
    stream = sys.stderr if stderr else sys.stdout
    if not _forced_terminal() and not _isatty(stream):
        stream.write(message + "\n")
        stream.flush()
        return
    _console(stderr).print(message, markup=False)


_HIGHLIGHTED_JSON = 100_000  # characters; rich takes seconds to colour megabytes


def print_json(data: object, stderr: bool = False) -> None:
    """`data` as JSON (2-space indent, UTF-8 as is) on standard output or error: the
    `--json` of every command. Coloured by rich on a terminal when short; written as
    text otherwise (a year of report rows is megabytes, which rich takes seconds on)."""
    import orjson

    try:
        data_bytes = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # an integer beyond 64 bits: the standard library's encoder
        import json

        data_bytes = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    stream = sys.stderr if stderr else sys.stdout
    terminal = _forced_terminal() or _isatty(stream)
    if terminal and len(data_bytes) <= _HIGHLIGHTED_JSON:
        _console(stderr).print_json(data_bytes.decode())
        return
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:  # the bytes as they are: no second copy as text
        buffer.write(data_bytes)
        buffer.flush()
    else:
        stream.write(data_bytes.decode())
        stream.flush()


def _forced_terminal() -> bool:
    return "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # closed
        return False


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
    if is_terminal():  # the message is text (names, warnings with `[deleted]`), not markup
        _console(True).print(message, markup=False)
    else:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _console(True).print(f"{stamp} {message}", markup=False)
