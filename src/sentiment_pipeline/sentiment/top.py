"""The most positive and most negative scored events of a report's filters, for
`sentiment report --html`.

Same events as the report counts (`SentimentReport`'s model, [since, until), sources,
source ids, topics and via, languages; grouped by topic: events linked to a topic):
the `n` with the highest compound above 0 (ties: the smaller id first) and the `n`
with the lowest below 0. So the two lists never share an event and never list one on
the wrong side: a neutral event (compound 0) is in neither, and a range of one
positive event has no most negative one. Each with an excerpt of the source's text
(`sources.source_spec(source).text`, plain text for Hacker News, whitespace
collapsed) and a link (`event_link`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sentiment_pipeline.db.filters import Dialect
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.sentiment.report import SentimentReport, bounds_sql, open_store, scope_sql

__all__ = ["EXCERPT_CHARS", "TopItem", "event_link", "excerpt", "top_items"]

EXCERPT_CHARS = 240
REDDIT_WEB = "https://www.reddit.com"  # a Reddit permalink is a path on this site
HN_ITEM = "https://news.ycombinator.com/item?id="  # an HN event `hn_<n>` is item n


@dataclass(frozen=True)
class TopItem:
    id: str
    source: str
    source_id: str
    occurred_at: datetime  # UTC
    compound: float
    excerpt: str
    link: str | None  # an http(s) URL, or None when the event has none

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "source_id": self.source_id,
            "occurred_at": self.occurred_at.isoformat(),
            "compound": self.compound,
            "excerpt": self.excerpt,
            "link": self.link,
        }


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """`text` with runs of whitespace as one space, cut to `limit` characters (an
    ellipsis ends a cut one)."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def event_link(source: str, event_id: str, payload: Mapping[str, Any]) -> str | None:
    """Where a person reads the event: a Hacker News item's page (`hn_<n>`: its
    discussion, which a comment has and its `url` column, the story's article, lacks);
    else the payload's link the source's display columns name (`DisplayColumns.url`,
    the export's `permalink`), a Reddit permalink path made absolute. Only http(s)
    URLs: anything else (`javascript:`, a bare word) gives None."""
    from sentiment_pipeline.sources import source_spec

    number = event_id.removeprefix("hn_")
    if source == "hackernews" and number != event_id and number.isdigit():
        return HN_ITEM + number
    value = next(
        (v for k in source_spec(source).columns.url if isinstance(v := payload.get(k), str) and v),
        None,
    )
    if value is None:
        return None
    if source == "reddit" and value.startswith("/") and not value.startswith("//"):
        return REDDIT_WEB + value
    return value if value.lower().startswith(("https://", "http://")) else None


def _filters(report: SentimentReport, dialect: Dialect) -> tuple[str, list[Any]]:
    """The WHERE conditions on `sentiment_scores s` for the report's filters."""
    from sentiment_pipeline.db.filters import topic_sql

    mark = "%s" if dialect == "postgresql" else "?"
    clauses, params = scope_sql(report, mark, "s.")
    if report.topics or "topic" in report.by:
        clause, values = topic_sql(dialect, report.topics, report.via, table="s")
        clauses.append(clause)
        params.extend(values)
    bounds, bound_params = bounds_sql(report, dialect, "s")
    return " AND ".join([*clauses, *bounds]), [*params, *bound_params]


def _keys() -> tuple[str, ...]:
    """The payload keys an excerpt or a link may read, over every known source."""
    from sentiment_pipeline.sentiment.clean import text_plan
    from sentiment_pipeline.sources import generic_spec, known_specs

    keys = dict.fromkeys(text_plan().keys)
    for spec in (*known_specs().values(), generic_spec("")):
        keys.update(dict.fromkeys(spec.columns.url))
    return tuple(keys)


def _select(
    report: SentimentReport, dialect: Dialect, n: int, descending: bool
) -> tuple[str, list[Any]]:
    from sentiment_pipeline.db.queries import payload_text_sql

    where, params = _filters(report, dialect)
    order = "DESC" if descending else "ASC"
    sign = "s.compound > 0" if descending else "s.compound < 0"  # disjoint, on its side
    fields = "".join(f", {payload_text_sql(dialect, key, 'r.payload')}" for key in _keys())
    sql = (
        "SELECT t.id, t.source, t.source_id, t.occurred_at, t.compound, r.event_type"
        f"{fields} FROM (SELECT s.id, s.source, s.source_id, s.occurred_at, s.compound "
        f"FROM sentiment_scores s WHERE {where} AND {sign} "
        f"ORDER BY s.compound {order}, s.id LIMIT {int(n)}) t "
        "JOIN raw_events r ON r.id = t.id AND r.occurred_at = t.occurred_at "
        f"ORDER BY t.compound {order}, t.id"
    )
    return sql, params


def _item(values: tuple[Any, ...], keys: tuple[str, ...]) -> TopItem:
    from sentiment_pipeline.sources import source_spec

    ident, source, source_id, occurred_at, compound, event_type = values[:6]
    payload = {k: v for k, v in zip(keys, values[6:], strict=True) if isinstance(v, str)}
    return TopItem(
        id=ident,
        source=source,
        source_id=source_id,
        occurred_at=_moment(occurred_at),
        compound=round(float(compound), 4),
        excerpt=excerpt(source_spec(source).text(event_type, payload)),
        link=event_link(source, ident, payload),
    )


def _moment(value: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime (SQLite: `YYYY-MM-DD HH:MM:SS[.ffffff]`)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def top_items(
    url: DatabaseURL, report: SentimentReport, n: int = 5
) -> tuple[list[TopItem], list[TopItem]]:
    """(most positive, most negative): up to `n` events each, the highest compound above
    0 and the lowest below 0 first, within `report`'s filters (module docstring). Raises
    ConfigError for a database without the tables, DatabaseUnreachable when the server
    does not answer."""
    keys = _keys()
    store = open_store(url)
    try:
        out: list[list[TopItem]] = []
        for descending in (True, False):
            sql, params = _select(report, url.backend, n, descending)
            with store._guard():
                rows = store._conn.execute(sql, params).fetchall()
            out.append([_item(tuple(row), keys) for row in rows])
    finally:
        store.close()
    return out[0], out[1]
