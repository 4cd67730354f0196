"""The package layout is the architecture (docs/architecture.md); these tests keep it so.

Imports are read from the source with `ast`, so imports inside functions (the lazy ones)
count as much as those at the top of a module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.fixtures.isolation import ROOT

PACKAGE = ROOT / "src" / "sentiment_pipeline"
# Every stage sits above the sources (a source yields records; stages call it).
STAGES = (
    "topics",
    "pipeline",
    "sinks",
    "scrape",
    "refresh",
    "backfill",
    "ingest",
    "export",
    "sentiment",
    "stats",
    "service",
    "demo",
    "cli",
)
ABOVE_SOURCES = STAGES
UI_LIBRARIES = ("typer", "rich")
MAX_TOP_LEVEL_MODULES = 10


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module the code of `module` imports, anywhere in it, as absolute names;
    relative imports resolved; `from m import x` gives both `m` and `m.x`."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            stem = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)
    return found


def imported_modules(path: Path) -> set[str]:
    return imports_in(
        path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py"
    )


def modules_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_the_import_reader_sees_lazy_and_relative_imports() -> None:
    source = (
        "import typer\n"
        "from . import client\n"
        "from ..ndjson import read\n"
        "def later():\n"
        "    from sentiment_pipeline.pipeline.result import RunResult\n"
    )
    found = imports_in(source, "sentiment_pipeline.sources.reddit.worker")
    assert {
        "typer",
        "sentiment_pipeline.sources.reddit.client",
        "sentiment_pipeline.sources.ndjson.read",
        "sentiment_pipeline.pipeline.result.RunResult",
    } <= found
    package = imports_in("from .client import X", "sentiment_pipeline.sources.reddit", True)
    assert "sentiment_pipeline.sources.reddit.client" in package


def _hits(module: str, roots: tuple[str, ...]) -> bool:
    return any(module == root or module.startswith(f"{root}.") for root in roots)


@pytest.mark.parametrize(
    "path",
    modules_under(PACKAGE / "sources"),
    ids=lambda p: p.relative_to(PACKAGE).as_posix(),
)
def test_sources_are_leaves(path: Path) -> None:
    """A source yields records; the scrape job, the pipeline, the sinks and the CLI sit
    above it and call it, never the other way round."""
    forbidden = tuple(f"sentiment_pipeline.{name}" for name in ABOVE_SOURCES)
    bad = sorted(m for m in imported_modules(path) if _hits(m, forbidden))
    assert bad == [], f"{module_name(path)} imports {', '.join(bad)}"


def test_only_the_cli_imports_typer_or_rich() -> None:
    offenders = {
        module_name(path): sorted(m for m in imported_modules(path) if _hits(m, UI_LIBRARIES))
        for path in modules_under(PACKAGE)
        if not path.is_relative_to(PACKAGE / "cli")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_top_level_stays_small() -> None:
    modules = sorted(
        p.name for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py", "__main__.py"}
    )
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, (
        f"{len(modules)} top-level modules ({', '.join(modules)}): "
        "put a new stage in a package of its own (docs/architecture.md)"
    )


@pytest.mark.parametrize(
    "path",
    modules_under(PACKAGE / "db"),
    ids=lambda p: p.relative_to(PACKAGE).as_posix(),
)
def test_the_database_layer_sits_below_every_stage_and_source(path: Path) -> None:
    """`db/` (URLs, connections, migrations, shared queries) is used by every stage and
    by the sources' marks; it imports none of them."""
    forbidden = tuple(f"sentiment_pipeline.{name}" for name in (*STAGES, "sources"))
    bad = sorted(m for m in imported_modules(path) if _hits(m, forbidden))
    assert bad == [], f"{module_name(path)} imports {', '.join(bad)}"


def test_the_stage_list_names_every_stage_package() -> None:
    """A new stage package must be placed in the layering (added to `STAGES`) or be a
    source: the list cannot silently fall behind the tree."""
    floor = {"db", "sources", "fake_reddit", "fake_hn", "dto", "__pycache__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages - floor <= set(STAGES), sorted(packages - floor - set(STAGES))
