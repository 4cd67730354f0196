"""Which events a read-side command looks at: `EventFilter` and its SQL `WHERE` clause.

Shared by `export csv` and `stats`; `source_id_sql` also by `sentiment score|report`,
the topic conditions (`topic_sql`, `link_sql`, `topic_names_sql`) also by
`sentiment report`.
Plain strings and parameters, no driver import: PostgreSQL gets `%s` placeholders and
aware datetimes, SQLite gets `?` placeholders and the UTC text form the SQLite sink
stores (`sqlite_time`), so comparisons stay textual and use the `occurred_at` index.

A source-id (`--subreddit`/`--source-id`) value matches stored ids the way validation
stores them (`dto.stored_source_id`): on Reddit rows it is a subreddit name written any
way people write it (`Python`, `r/Python`, `/r/Python`, ` python ` all match the stored
`python`, see `subreddit_key`; any other value matches in any case); on any other
source's rows it matches as given.

A source filter (`--source`) names sources as stored (`reddit`, `hackernews`, or any name
`ingest ndjson` stored): `check_sources` refuses a value that is neither registered nor
stored (ConfigError, with a did-you-mean: `hn` -> `hackernews`), since a filter naming no
source would export nothing and look like success. A value that differs from one
registered or stored name only in case is that name (`HackerNews` is `hackernews`).

A topic filter (`--topic`, `--via`) keeps the events linked to one of the named topics
in `event_topics` (migration 0005): `via="any"` counts links by the event's own text and
by its post, `via="text"` only the first. A name that no link has simply matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.timeparse import check_window, storage_text

__all__ = [
    "SOURCE_ALIASES",
    "VIAS",
    "Dialect",
    "EventFilter",
    "Rows",
    "SourceIdMatch",
    "check_sources",
    "check_via",
    "link_sql",
    "source_id_sql",
    "sqlite_time",
    "subreddit_key",
    "subreddit_keys",
    "topic_names_sql",
    "topic_sql",
    "where_sql",
]

Dialect = Literal["postgresql", "sqlite"]
# which topic links count: `any` (by the event's own text or by its post), `text` (own text)
VIAS = ("any", "text")
# names people type for a source (the CLI's command names: `scrape hn`), only suggested
SOURCE_ALIASES = {"hn": "hackernews"}
# runs a query (positional parameters) and returns its rows: `db.connect.Reader.rows`
Rows = Callable[[str, Sequence[Any]], Sequence[Sequence[Any]]]
_LISTED_SOURCES = 20  # names an error lists at most


@dataclass(frozen=True)
class EventFilter:
    """Which events: every given condition must hold (values within one field: any).

    Empty tuples and `None` mean "no condition". `since` is inclusive and `until`
    exclusive, both compared with `occurred_at` (aware datetimes, any zone).
    `source_ids` are matched as people type them (`SourceIdMatch`).
    """

    sources: tuple[str, ...] = ()
    source_ids: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    processed: bool | None = None
    topics: tuple[str, ...] = ()  # linked to one of these topics (event_topics)
    via: str = "any"  # which links count for `topics`: "any" or "text" (VIAS)

    def __post_init__(self) -> None:
        check_via(self.via)
        check_window(self.since, self.until)


def where_sql(dialect: Dialect, where: EventFilter) -> tuple[str, list[Any]]:
    """`WHERE …` (or `''` when `where` has no condition) and its positional parameters,
    in the dialect's placeholder style (`%s` for psycopg, `?` for sqlite3)."""
    mark = "%s" if dialect == "postgresql" else "?"
    clauses: list[str] = []
    params: list[Any] = []

    def any_of(column: str, values: Sequence[str]) -> None:
        if values:
            clauses.append(f"{column} IN ({', '.join(mark for _ in values)})")
            params.extend(values)

    any_of("source", where.sources)
    if where.source_ids:
        clause, values = source_id_sql(mark, where.source_ids)
        clauses.append(clause)
        params.extend(values)
    any_of("event_type", where.event_types)
    for bound, op in ((where.since, ">="), (where.until, "<")):
        if bound is not None:
            clauses.append(f"occurred_at {op} {mark}")
            params.append(bound if dialect == "postgresql" else sqlite_time(bound))
    if where.processed is not None:
        clauses.append("processed" if where.processed else "NOT processed")
    if where.topics:
        clause, values = topic_sql(dialect, where.topics, where.via)
        clauses.append(clause)
        params.extend(values)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else "", params)


def sqlite_time(moment: datetime) -> str:
    """An aware moment as the SQLite sink stores it: UTC `'YYYY-MM-DD HH:MM:SS.ffffff'`
    text (so `occurred_at` comparisons are plain text comparisons)."""
    return storage_text(moment)


def subreddit_key(name: str) -> str | None:
    """The stored spelling of a subreddit name as people write it (`Python`, `r/Python`,
    `/r/Python`, ` python `): cleaned as a scrape target's name is
    (`settings.SubredditTarget`), then as validation stores it (`dto.stored_source_id`);
    None when `name` is no subreddit name (letters, digits, `_`)."""
    from pydantic import ValidationError

    from sentiment_pipeline.settings import SubredditTarget

    try:
        cleaned = SubredditTarget(name=name).name
    except ValidationError:
        return None
    from sentiment_pipeline.dto import stored_source_id  # the pydantic model: on use

    return stored_source_id("reddit", cleaned)


def subreddit_keys(names: Iterable[str], option: str = "--subreddit") -> tuple[str, ...]:
    """`subreddit_key` of each name, each once, in order, for options that take only
    subreddit names. Raises `ConfigError` (naming `option`) for one that is none."""
    keys: dict[str, None] = {}
    for name in names:
        key = subreddit_key(name)
        if key is None:
            raise ConfigError(
                f"{option} {name!r} is not a subreddit name",
                "give it as Reddit shows it, e.g. Python or r/Python (letters, digits, _)",
            )
        keys[key] = None
    return tuple(keys)


@dataclass(frozen=True)
class SourceIdMatch:
    """The stored ids that source-id filter values match: `reddit`, on rows whose source is
    `reddit` (each value's `subreddit_key`; a value that is no subreddit name, as
    validation would store it), and `others`, on every other source's rows (the values
    as given). Build it with `SourceIdMatch.of(values)`."""

    reddit: tuple[str, ...]
    others: tuple[str, ...]

    @classmethod
    def of(cls, values: Sequence[str]) -> SourceIdMatch:
        from sentiment_pipeline.dto import stored_source_id

        keys = (subreddit_key(v) or stored_source_id("reddit", v) for v in values)
        return cls(tuple(dict.fromkeys(keys)), tuple(dict.fromkeys(values)))

    def matches(self, source: str, source_id: str) -> bool:
        """True when a stored row of (`source`, `source_id`) passes the filter."""
        return source_id in (self.reddit if source == "reddit" else self.others)


def source_id_sql(mark: str, values: Sequence[str]) -> tuple[str, list[str]]:
    """The condition on (`source`, `source_id`) columns that keeps the rows
    `SourceIdMatch.of(values)` matches, and its parameters (`mark`: `%s` or `?`).
    A plain `source_id IN (…)` when the values are stored subreddit names already."""
    match = SourceIdMatch.of(values)

    def one_of(names: Sequence[str]) -> str:
        return f"source_id IN ({', '.join(mark for _ in names)})"

    if set(match.reddit) == set(match.others):
        return one_of(match.others), list(match.others)
    clause = (
        f"((source = 'reddit' AND {one_of(match.reddit)}) "
        f"OR (source <> 'reddit' AND {one_of(match.others)}))"
    )
    return clause, [*match.reddit, *match.others]


def check_sources(
    values: Sequence[str], dialect: Dialect, rows: Rows, registered: Collection[str] = ()
) -> tuple[str, ...]:
    """The `--source` values as stored, each once, in order. A value that is a
    `registered` source (the caller's `sources.source_names()`: the database layer sits
    below the sources) or is stored in raw_events (one `LIMIT 1` probe of the (source,
    source_id) index) passes as given; else it becomes the one registered or stored name
    it equals ignoring case and surrounding blanks. Raises `ConfigError` for any other
    value, with a did-you-mean and the names to give: a filter that names no source
    matches nothing, and an empty export reads as success."""
    mark = "%s" if dialect == "postgresql" else "?"
    probe = f"SELECT 1 FROM raw_events WHERE source = {mark} LIMIT 1"
    names: dict[str, None] = {}
    choices: list[str] | None = None  # registered and stored names, read on the first miss
    for value in values:
        if value in registered or rows(probe, [value]):
            names[value] = None
            continue
        if choices is None:
            choices = _source_choices(rows, registered)
        names[_resolve_source(value, choices)] = None
    return tuple(names)


def _source_choices(rows: Rows, registered: Collection[str]) -> list[str]:
    """Registered and stored source names, sorted. The stored ones by a loose index scan
    (one probe of the (source, source_id) index per name, not a scan of every row)."""
    stored = rows(
        "WITH RECURSIVE s(source) AS ("
        "SELECT (SELECT source FROM raw_events ORDER BY source LIMIT 1) "
        "UNION ALL SELECT (SELECT r.source FROM raw_events r WHERE r.source > s.source "
        "ORDER BY r.source LIMIT 1) FROM s WHERE s.source IS NOT NULL) "
        "SELECT source FROM s WHERE source IS NOT NULL LIMIT 1000",
        [],
    )
    return sorted({*registered, *(str(row[0]) for row in stored)})


def _resolve_source(value: str, choices: Sequence[str]) -> str:
    """The one name of `choices` that `value` equals ignoring case and blanks, or
    `ConfigError` naming `value`, what it may mean and the names to choose from."""
    key = value.strip().lower()
    same = [name for name in choices if name.lower() == key]
    if len(same) == 1:
        return same[0]
    guesses = same or _source_guesses(key, choices)
    listed = ", ".join(choices[:_LISTED_SOURCES])
    more = len(choices) - _LISTED_SOURCES
    hint = f"did you mean {' or '.join(guesses)}? " if guesses else ""
    raise ConfigError(
        f"--source {value!r} names no registered or stored source",
        f"{hint}Give one of {listed}" + (f" (and {more} more)" if more > 0 else ""),
    )


def _source_guesses(key: str, choices: Sequence[str]) -> list[str]:
    """The names `key` (lower case) likely means: its alias (`SOURCE_ALIASES`), a close
    spelling, or a name it starts (or that starts it)."""
    from difflib import get_close_matches

    alias = SOURCE_ALIASES.get(key)
    if alias is not None and alias in choices:
        return [alias]
    by_key = {name.lower(): name for name in choices}
    close = get_close_matches(key, list(by_key), n=2)
    prefixed = [n for k, n in by_key.items() if key and (k.startswith(key) or key.startswith(k))]
    return list(dict.fromkeys([by_key[k] for k in close] + prefixed))[:2]


def check_via(via: str) -> str:
    """`via` when it is one of `VIAS`; raises `ConfigError` otherwise."""
    if via not in VIAS:
        raise ConfigError(f"--via {via!r} is not known", f"choose from {', '.join(VIAS)}")
    return via


def link_sql(
    dialect: Dialect, topics: Sequence[str], via: str, alias: str
) -> tuple[str, list[str]]:
    """The conditions on the event_topics rows `alias` for `topics` (none: every topic)
    and `via` (`check_via`), joined by AND (`'1 = 1'` when there is none), and their
    parameters. `alias.topic IN (…)` lets the planner use the (topic, occurred_at)
    index; `via` is compared with a literal."""
    mark = "%s" if dialect == "postgresql" else "?"
    clauses = []
    if topics:
        clauses.append(f"{alias}.topic IN ({', '.join(mark for _ in topics)})")
    if check_via(via) == "text":
        clauses.append(f"{alias}.via = 'text'")
    return (" AND ".join(clauses) or "1 = 1", list(topics))


def topic_sql(
    dialect: Dialect, topics: Sequence[str], via: str = "any", table: str = "raw_events"
) -> tuple[str, list[str]]:
    """`(id, occurred_at) IN (…)`: the row of `table` (any table keyed by the event's `id`
    and `occurred_at`: raw_events, sentiment_scores) is linked to one of `topics` by a
    link `via` counts; and its parameters. An uncorrelated subquery, so SQLite can read
    the topics' links by the (topic, occurred_at) index and look each event up by its
    key, as PostgreSQL's semi-join does, instead of probing event_topics per row."""
    links, params = link_sql(dialect, topics, via, "et")
    return (
        f"({table}.id, {table}.occurred_at) IN "
        f"(SELECT et.id, et.occurred_at FROM event_topics et WHERE {links})",
        params,
    )


def topic_names_sql(dialect: Dialect, via: str = "any", table: str = "raw_events") -> str:
    """The event's topics as text: the names, sorted bytewise (Python's `sorted` on the
    names), joined by `;`; NULL when it has none (links `via` counts). No parameters."""
    links, _ = link_sql(dialect, (), via, "et")
    match = f"et.id = {table}.id AND et.occurred_at = {table}.occurred_at AND {links}"
    if dialect == "postgresql":
        return (
            f"""(SELECT string_agg(et.topic, ';' ORDER BY et.topic COLLATE "C") """
            f"FROM event_topics et WHERE {match})"
        )
    # SQLite keeps the order of an ordered subquery under an aggregate (no flattening)
    return (
        "(SELECT group_concat(topic, ';') FROM "
        f"(SELECT et.topic FROM event_topics et WHERE {match} ORDER BY et.topic))"
    )
