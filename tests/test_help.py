"""Help in the user's words: every `--help` names what to type, never a Python type.

The commands are found by walking the click tree typer builds from the app, so a command
or group added later is checked without editing this file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.main
from typer.core import TyperArgument, TyperOption
from typer.testing import CliRunner

from sentiment_pipeline.cli import app
from sentiment_pipeline.cli.metavars import use_named_help
from tests.fixtures.cli import invoke

SENTPIPE = Path(sys.executable).with_name("sentpipe")

# What typer 0.29 prints in place of a metavar, and Python type names anywhere.
FORBIDDEN = [
    re.compile(r"<(str|int|float|bool|bytes|path|file|dir|directory|datetime|uuid)\b", re.I),
    re.compile(r"\b(int|float) range\b"),
    re.compile(r"\b(list|tuple|dict|set|Optional|Union|Literal)\["),
    re.compile(r"\{[A-Za-z_]\w*\}"),  # typer's `{path}` for a required argument
    re.compile(r"NoneType|<class |typing\.|\benum\."),
]
# A metavar: choices `[a|b]`, or a name in capitals (`N`, `PATH`, `FILE|-|DIR`, `FILE.png`).
METAVAR = re.compile(r"^(\[[^\]\s]+\]|[A-Z][A-Za-z0-9_.|/=-]*)$")  # NAME=QUERY too
TYPE_NAMES = {"str", "int", "float", "bool", "bytes", "path", "list", "datetime", "text"}


def _tree() -> list[tuple[tuple[str, ...], Any]]:
    """(path, click command) for the root and every group and command under it."""
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(path: tuple[str, ...], command: Any) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk((*path, name), sub)

    walk((), typer.main.get_command(app))
    return found


TREE = _tree()


def _first_columns(output: str, section: str) -> list[tuple[str, str]]:
    """(first column, whole row text) of each row of a help section (`Options:`)."""
    rows: list[tuple[str, str]] = []
    lines = output.split(f"\n{section}:\n", 1)
    if len(lines) < 2:
        return rows
    for line in lines[1].splitlines():
        if not line.strip():
            break
        if line.startswith("  ") and not line.startswith("   "):
            first, _, text = line[2:].partition("  ")
            rows.append((first, text.strip()))
        elif rows:  # a continuation line of the row's help text
            rows[-1] = (rows[-1][0], f"{rows[-1][1]} {line.strip()}")
    return rows


def _is_metavar(token: str) -> bool:
    """A name to type, or a list of choices (`[any|text]`: a choice may be named like a
    type), never a bare type name."""
    choices = token.strip("[]").split("|")
    return bool(METAVAR.match(token)) and not (len(choices) == 1 and choices[0] in TYPE_NAMES)


def check_help(command: Any, output: str) -> None:
    """Fail unless `output` (the command's --help) names every parameter's value."""
    for pattern in FORBIDDEN:
        found = pattern.search(output)
        assert found is None, f"{found.group(0)!r} in:\n{output}"
    usage = output.split("\n", 1)[0]
    options = _first_columns(output, "Options")
    arguments = _first_columns(output, "Arguments")
    for param in command.params:
        if isinstance(param, TyperOption) and not param.hidden:
            names = set(param.opts) | set(param.secondary_opts)
            rows = [
                first
                for first, _ in options
                if names == {t for t in re.split(r"[ ,/]+", first) if t.startswith("-")}
            ]
            assert len(rows) == 1, f"no help row for {sorted(names)} in:\n{output}"
            rest = [t for t in re.split(r"[ ,/]+", rows[0]) if t and not t.startswith("-")]
            if param.is_flag or param.count:
                assert rest == [], f"flag {rows[0]!r} shows a value"
            else:
                assert len(rest) == 1 and _is_metavar(rest[0]), f"{rows[0]!r}: no metavar"
    shown = [p for p in command.params if isinstance(p, TyperArgument) and not p.hidden]
    assert len(arguments) == len(shown), f"arguments {[p.name for p in shown]} in:\n{output}"
    for param, (first, text) in zip(shown, arguments, strict=True):
        name = first.removesuffix("...")
        assert _is_metavar(name), f"argument {param.name}: {first!r} is no metavar"
        if param.required:
            assert "[required]" in text, f"{first}: not marked required"
            assert f" {first}" in usage and f"[{name}]" not in usage, usage
        else:
            assert f"[{name}]" in usage, usage


@pytest.mark.parametrize(
    ("path", "command"), TREE, ids=[" ".join(("sentpipe", *p)) for p, _ in TREE]
)
def test_help_names_what_to_type(path: tuple[str, ...], command: Any) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    check_help(command, result.output)


def test_the_tree_holds_every_kind_of_parameter() -> None:
    """The walk reaches commands with arguments, choices, numbers, paths and lists."""
    by_name = {" ".join(path): command for path, command in TREE}
    assert {"", "scrape", "scrape reddit", "ingest reddit-dump", "export csv"} <= set(by_name)
    reddit_dump = by_name["ingest reddit-dump"]
    assert any(isinstance(p, TyperArgument) and p.nargs == -1 for p in reddit_dump.params)


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("scrape", "reddit"), ["-s, --subreddit NAME", "--sort SORT", "--limit N"]),
        (("ingest", "reddit-dump"), ["PATHS...", "--kind [submission|comment]", "--sink SINK"]),
    ],
)
def test_installed_command_help(args: tuple[str, ...], shown: list[str]) -> None:
    done = subprocess.run(
        [str(SENTPIPE), *args, "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    command = typer.main.get_command(app)
    for name in args:
        command = command.commands[name]
    check_help(command, done.stdout)
    for piece in shown:
        assert piece in done.stdout


def test_errors_keep_typer_wording() -> None:
    """Only help and usage lines name the metavar: parsing errors are unchanged."""
    missing = invoke("ingest", "ndjson")
    assert missing.exit_code == 2
    assert "Usage: sentpipe ingest ndjson [OPTIONS] PATH\n" in missing.output
    assert "Missing argument 'path'." in missing.output
    too_small = invoke("scrape", "reddit", "--limit", "0")
    assert too_small.exit_code == 2
    assert "Invalid value for '--limit': Input should be greater than or equal to 1" in (
        too_small.output
    )


def test_a_new_command_is_covered_without_declaring_metavars() -> None:
    """use_named_help derives a metavar from each annotation, for commands added later."""
    new = typer.Typer(rich_markup_mode=None)
    sub = typer.Typer()

    @sub.command("run")
    def run(
        target: Annotated[str, typer.Argument(help="What to run.")],
        extra: Annotated[list[Path] | None, typer.Argument(help="More.")] = None,
        sink: Annotated[list[str] | None, typer.Option(help="Sink.")] = None,
        count: Annotated[int, typer.Option(min=1, help="How many.")] = 1,
        ratio: Annotated[float | None, typer.Option(help="Share.")] = None,
        out: Annotated[Path | None, typer.Option(dir_okay=False, help="File.")] = None,
        fast: Annotated[bool, typer.Option(help="Go.")] = False,
    ) -> None:
        """Run it."""

    @sub.command("other")
    def other() -> None:
        """Another command, so `run` is a sub-command."""

    new.add_typer(sub, name="job")
    use_named_help(new)
    result = CliRunner().invoke(new, ["job", "run", "--help"])
    assert result.exit_code == 0, result.output
    check_help(typer.main.get_command(new).commands["job"].commands["run"], result.output)
    assert "Usage: root job run [OPTIONS] TARGET [PATH]...\n" in result.output
    assert "  PATH...  More." in result.output
    for piece in ("--sink SINK", "--count N", "--ratio NUMBER", "--out FILE", "--fast / --no-fast"):
        assert piece in result.output
    group = CliRunner().invoke(new, ["job", "--help"])
    assert "Usage: root job [OPTIONS] COMMAND [ARGS]..." in group.output
