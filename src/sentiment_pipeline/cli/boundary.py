"""The one error boundary: library errors become a one-line message and an exit code.

Lives in the click group so that both the installed command and `CliRunner` get it.
`--debug` (or SENTPIPE_DEBUG=1) re-raises with the full traceback instead.
"""

from __future__ import annotations

import errno
import os
from typing import Any

import typer
from typer.exceptions import Abort, Exit, TyperException

from sentiment_pipeline.cli.params import PlainValuesGroup
from sentiment_pipeline.errors import ExitCode, SentpipeError

__all__ = ["SentpipeGroup", "debug_enabled", "print_error", "silence_stdout"]


def debug_enabled(ctx: Any) -> bool:
    """`--debug` or SENTPIPE_DEBUG=1: re-raise errors with their traceback."""
    state = ctx.find_root().obj
    return bool(getattr(state, "debug", False)) or os.environ.get("SENTPIPE_DEBUG") == "1"


class SentpipeGroup(PlainValuesGroup):
    """Typer's group plus the error boundary (and the root options' plain values skip
    typer's pydantic coercion: cli/params.py)."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):
            raise
        except SentpipeError as error:
            if debug_enabled(ctx):
                raise
            print_error(error)
            raise typer.Exit(int(error.exit_code)) from None
        except BrokenPipeError:  # `| head`: the reader has all it wanted
            silence_stdout()
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            from sentiment_pipeline.cli.console import err_console

            err_console.print("Interrupted.")
            raise typer.Exit(130) from None
        except Exception as error:
            if debug_enabled(ctx):
                raise
            print_error(storage_error(error) or error)
            raise typer.Exit(int(ExitCode.FAILURES)) from None


def silence_stdout() -> None:
    """Point standard output at /dev/null, so the exit's final flush into a closed pipe
    (`sentpipe … | head`) raises nothing."""
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (CliRunner): nothing to flush into
        pass


# A full disk, a quota, a file-size limit, a read-only or forbidden folder: the
# machine's state, not a bug; the same command again once it is fixed loses nothing.
_STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
)


def storage_error(error: BaseException) -> SentpipeError | None:
    """A `SentpipeError` for an `OSError` about storage that no layer named more
    precisely (see `_STORAGE_ERRNOS`), else None."""
    if not isinstance(error, OSError) or error.errno not in _STORAGE_ERRNOS:
        return None
    where = f" ({error.filename})" if error.filename else ""
    return SentpipeError(
        f"{error.strerror or error}{where}",
        "free space (or fix the permissions) there, then run the same command again",
    )


def print_error(error: Exception) -> None:
    """The one line a user sees for an error: `Error: reason (hint)` for a
    `SentpipeError`, `Internal error: Type: message (a bug: …)` for anything else.
    The configured database password is scrubbed from either (defence in depth: the
    messages are built without it), from the whole text before its first line is cut."""
    from rich.markup import escape

    from sentiment_pipeline.cli.console import err_console
    from sentiment_pipeline.db.url import scrub_configured

    if isinstance(error, SentpipeError):
        line = scrub_configured(error.one_line())
        err_console.print(f"[bold red]Error:[/] {escape(line)}", markup=True)
        return
    text = scrub_configured(str(error)).strip()
    first = text.splitlines()[0] if text else ""
    err_console.print(
        f"[bold red]Internal error:[/] {type(error).__name__}: {escape(first)} "
        "(a bug: rerun with --debug for the traceback and report it)",
        markup=True,
    )
