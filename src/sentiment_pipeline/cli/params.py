"""Option values that need no conversion skip typer's per-option pydantic coercion.

typer 0.29 builds a pydantic `TypeAdapter` for every option of the invoked command (and
of the root), given or not, and imports its pydantic layer to do so: ~12 ms of every
`sentpipe export csv` start (docs/performance.md). A value that is already what the
annotation asks for — an absent option, a flag's bool, text for a `str`, a list of text
for a `list[str]`, an enum member — is returned as typer would return it, without an
adapter; anything else (numbers, paths, enum names) still goes through typer, so parsing,
defaults and error messages are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, get_args, get_origin

from sentiment_pipeline.cli.metavars import NamedHelpCommand, NamedHelpGroup

__all__ = ["PlainValuesCommand", "PlainValuesGroup", "skip_plain_coercion"]

_MISSING = object()


def _plain(param: Any, value: Any) -> Any:
    """`value` as typer's coercion would return it, or `_MISSING` when that needs typer."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:  # not a typer parameter (or typer changed): let it decide
        return _MISSING
    annotation = descriptor.annotation
    if value is None:
        return () if param.multiple or param.nargs == -1 else None
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is str and isinstance(value, str):
        return value
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return value if isinstance(value, annotation) else _MISSING
    if (
        get_origin(annotation) is list
        and get_args(annotation) == (str,)
        and isinstance(value, list | tuple)
        and all(isinstance(item, str) for item in value)
    ):
        return list(value)
    return _MISSING


def _process_value(param: Any, typer_process: Callable[[Any, Any], Any]) -> Any:
    def process_value(ctx: Any, value: Any) -> Any:
        plain = _plain(param, value)
        if plain is _MISSING:
            return typer_process(ctx, value)
        if param.required and param.value_is_missing(plain):
            return typer_process(ctx, value)  # typer raises its "missing" error
        if param.callback is not None:
            plain = param.callback(ctx, param, plain)
        return plain

    return process_value


def skip_plain_coercion(params: list[Any]) -> None:
    """Route these (typer) parameters' plain values around typer's coercion. Call it
    when parsing: typer appends the completion options after making the command."""
    for param in params:
        if not getattr(param, "_sentpipe_plain", False):
            param.process_value = _process_value(param, param.process_value)
            param._sentpipe_plain = True


class PlainValuesCommand(NamedHelpCommand):
    """A typer command whose plain option values (and --help) skip typer's coercion;
    its help names what to type (cli/metavars.py)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        skip_plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)


class PlainValuesGroup(NamedHelpGroup):
    """A typer group whose plain option values (and --help) skip typer's coercion;
    its help names what to type (cli/metavars.py)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        skip_plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)
