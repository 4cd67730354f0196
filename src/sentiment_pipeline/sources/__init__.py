"""Sources, and the registry of what each source's data means.

A source package yields raw records (async iterables of dicts in DTO shape, or
`Rejected` for unparsable input) and declares, in one `SourceSpec`, what the stages
need to know of its data: its text for scoring, its display columns, its high-water-mark
query and its per-target metric label. The stages (`sentiment/`, `export/`, `stats`,
the metrics) ask `source_spec(name)`; they hold no source's field names.

The registry is lazy, like the sinks': a built-in name maps to the module that holds its
spec, imported when the name is first asked for. `register(spec)` adds one at run time
(plug-ins, tests), and installed distributions may add theirs under the entry-point group
`sentpipe.sources` (an entry point names a `SourceSpec`; read on the first lookup of an
unknown name, never at start-up).

A name no package registers gets `generic_spec(name)`, the documented generic rule
(docs/sentiment.md, docs/export.md): the text to score is the payload's `text`, else its
`title` and `body` joined by a blank line (whichever are strings and not empty); the
columns come from the payload keys `author`, `title`, `text` (else `body`), `url`,
`score`, `parent`; no container.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sentiment_pipeline.db.queries import MarkQuery

__all__ = [
    "BUILTIN_SOURCES",
    "TEXT_MARKUPS",
    "DisplayColumns",
    "RefreshRules",
    "SourceSpec",
    "TextRule",
    "generic_spec",
    "generic_text",
    "known_specs",
    "register",
    "source_names",
    "source_spec",
    "unregister",
]

# event type, payload (only the keys the spec's `text_keys` name) -> text, or None
TextRule = Callable[[str, Mapping[str, Any]], str | None]

# name -> "module:attribute" of its SourceSpec; imported when first looked up.
BUILTIN_SOURCES: dict[str, str] = {
    "reddit": "sentiment_pipeline.sources.reddit.spec:SPEC",
    "hackernews": "sentiment_pipeline.sources.hackernews.spec:SPEC",
}
ENTRY_POINT_GROUP = "sentpipe.sources"


@dataclass(frozen=True)
class DisplayColumns:
    """Which payload keys fill the columns every source shares (export, reports).

    Each field is the payload keys to try, first to last: the first one present and not
    null gives the value (`()`: the column stays empty). `container` is the one payload
    key that names the group an item belongs to (Reddit: `subreddit`), or None.
    `text_markup` says the text is markup the export turns into plain text: `"html"`
    (Hacker News: the SQL function `sp_html_text`, the rule of
    `sources.hackernews.text.html_to_text`), or None for plain text, exported as is."""

    author: tuple[str, ...] = ("author",)
    title: tuple[str, ...] = ("title",)
    text: tuple[str, ...] = ("text", "body")
    url: tuple[str, ...] = ("url",)
    score: tuple[str, ...] = ("score",)
    parent: tuple[str, ...] = ("parent",)
    container: str | None = None
    text_markup: str | None = None

    def __post_init__(self) -> None:
        if self.text_markup not in TEXT_MARKUPS:
            raise ValueError(
                f"text_markup {self.text_markup!r}: choose from "
                f"{', '.join(repr(markup) for markup in TEXT_MARKUPS)}"
            )


# the text markups the export can turn into plain text (`DisplayColumns.text_markup`)
TEXT_MARKUPS: tuple[str | None, ...] = (None, "html")


def _no_state(payload: Mapping[str, Any]) -> str | None:
    return None


@dataclass(frozen=True)
class RefreshRules:
    """What `sentpipe refresh` reads of a fresh copy of one of the source's items, in
    one place per rule (docs/refresh.md); the text it compares is the spec's `text_keys`.

    - `state_of(fresh)`: `deleted` (its author's doing), `removed` (moderators, admins,
      flags) or None (there, `live` or `edited`);
    - `edit_keys`: the fresh payload's keys an edit writes into the stored payload;
      `edit_absent_null`: an edit key the fresh payload leaves out is written as null
      (HN leaves out a field without value; Reddit sends every key);
    - `redact_keys` / `redact_prefixes`: the payload keys blanked when the deleted-content
      policy redacts (exact names, and every key starting with a prefix);
    - `count_keys`: the payload keys of the item's comment count, the first that holds a
      number wins (in the stored payload and in the fresh one);
    - `ratio_key`: the key of the upvote ratio, or None;
    - `grows`: the event types whose comments a refresh fetches when the count grew.

    The defaults are the generic rule: no state, nothing edited, the generic text keys,
    URLs and author fields blanked."""

    state_of: Callable[[Mapping[str, Any]], str | None] = _no_state
    edit_keys: tuple[str, ...] = ()
    edit_absent_null: bool = False
    redact_keys: frozenset[str] = frozenset({"title", "text", "body", "url"})
    redact_prefixes: tuple[str, ...] = ("author",)
    count_keys: tuple[str, ...] = ()
    ratio_key: str | None = None
    grows: frozenset[str] = frozenset()

    def redact(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `payload` with the `redact_keys` and the keys starting with a
        `redact_prefixes` blanked (a string becomes "", any other value null); ids,
        times, groups and counts stay. Idempotent."""
        out = dict(payload)
        for key, value in payload.items():
            if key in self.redact_keys or key.startswith(self.redact_prefixes):
                out[key] = "" if isinstance(value, str) else None
        return out


@dataclass(frozen=True)
class SourceSpec:
    """What one source's data means, declared in one place (its package's `spec.py`).

    - `name`: the stored `source` column value (`reddit`);
    - `settings`: its settings model (a base of `settings.Settings` for a built-in
      source), or None;
    - `text_of(event_type, payload)`: the raw text to score (the scorer cleans it), or
      None when the event has none; `text_of=None` means the source has no text: the
      scorer never claims its events and `stats` counts them `not scorable`;
    - `text_keys`: the payload keys `text_of` reads; the scorer fetches only these, so
      `text_of` sees a payload holding just them (strings, or absent);
    - `columns`: its display columns (`DisplayColumns`);
    - `marks`: its high-water-mark query (`db.queries.MarkQuery`), or None;
    - `target_label`: the label of its per-target metrics series
      (`sentpipe_<label>_*{<label>="…"}`; Reddit: `subreddit`);
    - `refresh`: what `sentpipe refresh` reads of a fresh copy (`RefreshRules`); None:
      the generic rules (a source nobody refreshes).
    """

    name: str
    settings: type[BaseModel] | None = None
    text_of: TextRule | None = None
    text_keys: tuple[str, ...] = ()
    columns: DisplayColumns = field(default_factory=DisplayColumns)
    marks: MarkQuery | None = None
    target_label: str = "source_id"
    refresh: RefreshRules | None = None

    def text(self, event_type: str, payload: Mapping[str, Any]) -> str | None:
        """`text_of(event_type, payload)`, or None for a source without text."""
        return None if self.text_of is None else self.text_of(event_type, payload)


def _string(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def generic_text(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The generic rule: the payload's `text`, else `title` and `body` joined by a blank
    line (each only when a non-empty string); None when there is none."""
    text = _string(payload, "text")
    if text.strip():
        return text
    parts = [_string(payload, key) for key in ("title", "body")]
    joined = "\n\n".join(part for part in parts if part.strip())
    return joined or None


def generic_spec(name: str) -> SourceSpec:
    """The spec of a source no package registers (the generic rule, module docstring)."""
    return SourceSpec(name=name, text_of=generic_text, text_keys=("text", "title", "body"))


_registered: dict[str, SourceSpec] = {}
_entry_points: dict[str, Any] | None = None


def register(spec: SourceSpec) -> None:
    """Add (or replace) a source's spec by its name, for this process."""
    _registered[spec.name] = spec


def unregister(name: str) -> None:
    """Forget a spec added by `register` (built-in ones stay)."""
    _registered.pop(name, None)


def _load(target: str) -> SourceSpec:
    module_name, _, attribute = target.partition(":")
    spec: SourceSpec = getattr(import_module(module_name), attribute)
    return spec


def _plugins() -> dict[str, Any]:
    """The installed `sentpipe.sources` entry points by name, read once."""
    global _entry_points
    if _entry_points is None:
        from importlib.metadata import entry_points

        _entry_points = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return _entry_points


def _find(name: str) -> SourceSpec | None:
    if name in _registered:
        return _registered[name]
    if name in BUILTIN_SOURCES:
        spec = _registered[name] = _load(BUILTIN_SOURCES[name])
        return spec
    plugin = _plugins().get(name)
    if plugin is not None:
        loaded = plugin.load()
        if not isinstance(loaded, SourceSpec) or loaded.name != name:
            raise TypeError(f"entry point {ENTRY_POINT_GROUP}:{name} is no SourceSpec of {name}")
        _registered[name] = loaded
        return loaded
    return None


def source_spec(name: str) -> SourceSpec:
    """The spec of the source stored as `name`: registered, built-in, installed as a
    plug-in, or else the generic rule (`generic_spec`)."""
    return _find(name) or generic_spec(name)


def source_names() -> list[str]:
    """Every registered source name (built-in, registered at run time, installed as a
    plug-in), sorted, without importing any spec: what a `--source` filter may name
    besides the sources stored in the database (`db.filters.check_sources`)."""
    return sorted({*BUILTIN_SOURCES, *_registered, *_plugins()})


def known_specs() -> dict[str, SourceSpec]:
    """Every registered spec by name (built-ins and plug-ins loaded), for the stages
    that build one query over all sources; names not in it follow the generic rule."""
    for name in [*BUILTIN_SOURCES, *_plugins()]:
        _find(name)
    return dict(sorted(_registered.items()))
