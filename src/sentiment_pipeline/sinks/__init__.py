"""Sink registry: short name -> factory, imported only when used.

`database` is an alias resolved from the database URL (`timescale` for PostgreSQL URLs,
`sqlite` for SQLite). An unknown name lists the names that exist.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sinks.base import Sink, WriteResult, leaders_and_followers

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = ["SINKS", "Sink", "WriteResult", "build_sinks", "create_sink", "known_sinks"]

# name -> "module:factory"; factories take Settings and return a Sink.
SINKS: dict[str, str] = {
    "timescale": "sentiment_pipeline.sinks.postgres:from_settings",
    "sqlite": "sentiment_pipeline.sinks.sqlite:from_settings",
    "csv": "sentiment_pipeline.sinks.csv_sink:from_settings",
    "memory": "sentiment_pipeline.sinks.memory:from_settings",
}
ALIASES = {"database": None, "postgres": "timescale", "postgresql": "timescale"}


def known_sinks() -> list[str]:
    return sorted([*SINKS, "database"])


def resolve_name(name: str, settings: Settings) -> str:
    key = name.strip().lower()
    if key == "database":
        return "timescale" if settings.database.backend == "postgresql" else "sqlite"
    key = ALIASES.get(key) or key
    if key not in SINKS:
        raise ConfigError(f"unknown sink {name!r}", f"choose from: {', '.join(known_sinks())}")
    return key


def create_sink(name: str, settings: Settings) -> Sink:
    module_name, _, attribute = SINKS[resolve_name(name, settings)].partition(":")
    factory: Callable[[Settings], Sink] = getattr(import_module(module_name), attribute)
    return factory(settings)


def build_sinks(names: list[str], settings: Settings) -> list[Sink]:
    """Instantiate the named sinks once each (aliases resolved), database sinks first:
    they lead, and the others that can follow them (`FollowsLeader`) are set to follow
    here. Connections open lazily, on the first write. Raises `ConfigError` for an
    unknown name, no name, or a sink the settings cannot serve."""
    resolved: list[str] = []
    for name in names:
        key = resolve_name(name, settings)
        if key not in resolved:
            resolved.append(key)
    if not resolved:
        raise ConfigError("no sink selected", f"choose from: {', '.join(known_sinks())}")
    leaders, followers = leaders_and_followers([create_sink(key, settings) for key in resolved])
    return [*leaders, *followers]
