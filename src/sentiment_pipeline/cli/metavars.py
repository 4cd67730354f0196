"""Help that names what to type: `--limit N`, `--kind [submission|comment]`, `PATH`.

typer 0.29's plain help prints a parameter's Python annotation where click printed a
metavar (`--sink <list[str]>`, `--limit <int range>`, `path <str>`) and writes a required
argument as `{path}` in the usage line. The command and group classes here write every
parameter with `metavar(param)` instead, click's way: the declared `metavar=` when there
is one, else one made from the annotation. Only the help and usage lines change: parsing
and error messages (`Missing argument 'path'`, `Invalid value for '--limit'`) stay
typer's. `use_named_help(app)` gives these classes to every command and group of an app,
so a command added later is covered without asking.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from pathlib import PurePath
from typing import Any, get_args

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = ["NamedHelpCommand", "NamedHelpGroup", "metavar", "use_named_help"]


def _choices(values: Iterable[object]) -> str:
    """`[a|b|c]`, click's metavar for a choice; enum members by value."""
    return "[" + "|".join(str(v.value if isinstance(v, Enum) else v) for v in values) + "]"


_BY_TYPE = {int: "N", float: "NUMBER", bool: "BOOLEAN", datetime: "WHEN"}


def metavar(param: TyperArgument | TyperOption) -> str:
    """What to type for `param`: its declared metavar, else choices `[a|b]`, `FILE`, `DIR`
    or `PATH` for a path, `N` for a whole number, `NUMBER`, `WHEN` for a datetime, else
    its name in capitals (`--sink` -> `SINK`); the same for one item of a list."""
    if param.metavar is not None:
        return param.metavar
    descriptor = param.type_descriptor
    if descriptor.choices is not None:
        return _choices(descriptor.choices)
    annotation = descriptor.annotation
    if descriptor.is_list and len(get_args(annotation)) == 1:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return _path_metavar(descriptor.parameter_info)
    return _BY_TYPE.get(annotation) or (param.name or "value").upper()


def _path_metavar(info: Any) -> str:
    """click's names: `FILE` when only a file will do, `DIR` for only a folder."""
    if info.file_okay and not info.dir_okay:
        return "FILE"
    return "DIR" if info.dir_okay and not info.file_okay else "PATH"


def _argument_name(argument: TyperArgument) -> str:
    """`PATH`, or `PATH...` for an argument that takes many."""
    return metavar(argument) + ("..." if argument.nargs != 1 else "")


def _usage_pieces(command: TyperCommand | TyperGroup, ctx: typer.Context) -> list[str]:
    """`[OPTIONS] PATH [MORE]...`, click's way: an optional argument in brackets."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = metavar(param) if param.required else f"[{metavar(param)}]"
            pieces.append(name + ("..." if param.nargs != 1 else ""))
        else:
            pieces.extend(param.get_usage_pieces(ctx))
    return pieces


def _help_record(param: Any, ctx: typer.Context) -> tuple[str, str] | None:
    """typer's help row for `param` (help text, default, range, `[required]`) with the
    metavar in its first column."""
    if isinstance(param, TyperOption) and not (param.is_flag or param.count):
        param.metavar = metavar(param)  # typer writes an option's metavar when it has one
    record: tuple[str, str] | None = param.get_help_record(ctx)
    if record is not None and isinstance(param, TyperArgument):
        return _argument_name(param), record[1]
    return record


def _write_parameters(
    command: TyperCommand | TyperGroup, ctx: typer.Context, formatter: Any
) -> None:
    """The Arguments and Options sections, as typer lays them out."""
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        record = _help_record(param, ctx)
        if record is not None:
            (arguments if isinstance(param, TyperArgument) else options).append(record)
    for title, rows in (("Arguments", arguments), ("Options", options)):
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)


class NamedHelpCommand(TyperCommand):
    """A typer command whose help and usage name what to type (module docstring)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _write_parameters(self, ctx, formatter)


class NamedHelpGroup(TyperGroup):
    """A typer group whose help and usage name what to type (module docstring)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*_usage_pieces(self, ctx), self.subcommand_metavar]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _write_parameters(self, ctx, formatter)
        self.format_commands(ctx, formatter)


def use_named_help(app: typer.Typer) -> None:
    """Plain help (typer's rich help costs ~170 ms a start) with named metavars for every
    command and group of `app` and of its sub-apps that does not choose its own class
    (one that does should derive from these: tests/test_help.py checks every command)."""
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):  # typer's default
            command.cls = NamedHelpCommand
    for group in app.registered_groups:
        sub_app = group.typer_instance
        if sub_app is None:
            continue
        sub_app.rich_markup_mode = None
        if not group.cls and not sub_app.info.cls:
            group.cls = NamedHelpGroup
        use_named_help(sub_app)
