"""`sentpipe topics match`: link stored events to topics again, in resumable batches.

After a topic is added or its query or scope changed, the links the writers made are
missing or stale. `match_topics` reads `raw_events` in (occurred_at, id) order, a batch
at a time; for each batch, in one transaction, it removes the batch range's links of the
topics being matched, links the batch again (`Tagger`: by text, and by post) and saves
each topic's position in `topic_matches`. Posts come before their comments, so a reply
finds its post among the posts this pass linked by text so far, or, before the window,
among the stored links read once at the start: the memory held grows with the posts a
topic matches (a few hundred bytes each), not with the events read.

An interrupted match (a stop, SIGTERM, SIGKILL, an outage) continues from its last
committed batch when run again with the same topic definition and window;
a finished one is skipped unless asked for. Only the payload keys the sources' text,
title and post rules read are fetched (`scan_fields`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentiment_pipeline.db.connect import connect_pg, connect_sqlite
from sentiment_pipeline.db.errors import map_db_error
from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.sources import generic_spec, known_specs
from sentiment_pipeline.sources.topic import Topic
from sentiment_pipeline.timeparse import to_utc
from sentiment_pipeline.topics.store import (
    MatchState,
    Position,
    PostgresLinks,
    PostgresMatch,
    ScanRow,
    SqliteLinks,
    SqliteMatch,
    TopicFigures,
)
from sentiment_pipeline.topics.tagger import Item, Link, Reply, Tagger, rules_of

__all__ = [
    "BATCH_SIZE",
    "MatchReport",
    "TopicRun",
    "list_topics",
    "match_topics",
    "mirror_csv",
    "relink",
    "scan_fields",
]

BATCH_SIZE = 10_000  # events per batch: one transaction, one saved position


def _keys() -> tuple[list[str], list[str]]:
    """(the payload keys any source's title and text rules read, the keys naming a
    reply's post), each in a stable order."""
    text: dict[str, None] = {}
    link: dict[str, None] = {}
    for spec in [*known_specs().values(), generic_spec("any")]:
        rules = rules_of(spec)
        text.update(dict.fromkeys(rules.keys))
        if rules.link_key is not None:
            link[rules.link_key] = None
    return list(text), list(link)


def scan_fields() -> list[str]:
    """The payload keys any source's title, text and post rules read, in a stable order."""
    text, link = _keys()
    return [*text, *link]


@dataclass
class TopicRun:
    """What a match did for one topic: `status` is `matched` (the window is done),
    `resumed` (done, continuing an interrupted run), `stopped` (interrupted again:
    run it again to continue) or `up to date` (skipped); `scanned` events read,
    `text`/`post` links stored."""

    status: str = "matched"
    scanned: int = 0
    text: int = 0
    post: int = 0


@dataclass
class MatchReport:
    """Per topic (`TopicRun`), the events read, the seconds taken, whether stopped, the
    CSV link files replaced."""

    topics: dict[str, TopicRun] = field(default_factory=dict)
    scanned: int = 0
    duration: float = 0.0
    stopped: bool = False
    csv_files: int = 0  # `topic=<name>/<day>.csv` files replaced (`mirror_csv`)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for `--json`."""
        return {
            "topics": {name: vars(run) for name, run in self.topics.items()},
            "scanned": self.scanned,
            "duration": round(self.duration, 3),
            "stopped": self.stopped,
            "csv_files": self.csv_files,
        }


class _Session:
    """One connection, its dialect's SQL and the transactions of the batches."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        if url.backend == "postgresql":
            self.connection: Any = connect_pg(url, autocommit=False)
            self.sql: PostgresMatch | SqliteMatch = PostgresMatch(self.connection)
        else:
            self.connection = connect_sqlite(url)
            self.connection.isolation_level = None
            self.sql = SqliteMatch(self.connection)

    def links(self) -> PostgresLinks | SqliteLinks:
        if isinstance(self.sql, PostgresMatch):
            return PostgresLinks(self.connection.cursor())
        return SqliteLinks(self.connection)

    def begin(self) -> None:
        if isinstance(self.sql, SqliteMatch):
            self.connection.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if isinstance(self.sql, SqliteMatch):
            if self.connection.in_transaction:
                self.connection.execute("COMMIT")
        else:
            self.connection.commit()

    def close(self) -> None:
        self.connection.close()


class _Prefetch:
    """Reads the batches ahead on a connection of its own, in a thread, one batch in
    advance: the database produces the next batch while this process matches the last
    (the server and the matcher each keep a core busy). `next()` gives [] at the end."""

    def __init__(
        self,
        url: DatabaseURL,
        after: Position | None,
        since: datetime | None,
        batch_size: int,
        literals: frozenset[str] | None,
    ) -> None:
        self._url = url
        self._literals = literals
        self._queue: queue.Queue[list[ScanRow] | BaseException] = queue.Queue(maxsize=1)
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._read, args=(_keys(), after, since, batch_size), daemon=True
        )
        self._thread.start()

    def _read(
        self,
        keys: tuple[list[str], list[str]],
        after: Position | None,
        since: datetime | None,
        size: int,
    ) -> None:
        try:
            session = _Session(self._url)  # opened here: sqlite3 objects stay in their thread
        except BaseException as error:  # handed to the matching thread, raised there
            self._queue.put(error)
            return
        try:
            while not self._done.is_set():
                rows = session.sql.scan(*keys, after, since, size, self._literals)
                session.commit()  # no snapshot held open between batches
                self._queue.put(rows)
                if not rows:
                    return
                after = (rows[-1][1], rows[-1][0])
        except BaseException as error:
            self._queue.put(error)
        finally:
            session.close()

    def next(self) -> list[ScanRow]:
        got = self._queue.get()
        if isinstance(got, BaseException):
            raise got
        return got

    def close(self) -> None:
        self._done.set()
        with contextlib.suppress(queue.Empty):
            self._queue.get_nowait()  # let a blocked put finish
        self._thread.join()


def _moment(value: Any) -> datetime:
    """A scanned time: psycopg's are aware already, SQLite's are its UTC text."""
    return value if isinstance(value, datetime) else to_utc(value)


def _item(row: ScanRow, fields: Sequence[str]) -> Item:
    """A fetched row (`_MatchSql.fetch`) as the tagger reads it."""
    ident, moment, source, source_id, kind, *values = row
    payload = dict(zip(fields, values, strict=True))
    return Item(ident, _moment(moment), source, source_id, kind, payload)


def _relink(
    session: _Session,
    tagger: Tagger,
    rows: list[ScanRow],
    fields: list[str],
    known: dict[str, set[str]],
) -> list[Link]:
    """The links of a scanned batch: the few events whose text holds a topic's literal
    word are fetched whole and matched; every reply is linked through its post, found
    in `known` (the posts linked by text so far), which the batch's own are added to."""
    may_match = tagger.may_match
    candidates = [(_moment(row[1]), row[0]) for row in rows if row[5] and may_match(row[5])]
    links: list[Link] = []
    by_post: dict[str, list[str]] = {}
    own: dict[str, list[str]] = {}
    for row in session.sql.fetch(fields, candidates):
        item = _item(row, fields)
        names = tagger.text_topics(item)
        if names:
            links.extend(Link(item.id, item.occurred_at, name, "text") for name in names)
            by_post[item.id] = own[item.id] = names
    for ident, names in by_post.items():
        known.setdefault(ident, set()).update(names)
    reply_type, post_of = tagger.reply_type, tagger.post_of
    children = [  # only the replies to a linked post: most posts are not
        Reply(Item(row[0], _moment(row[1]), row[2], row[3], row[4], {}), post, own.get(row[0], ()))
        for row in rows
        if row[6] is not None
        and row[4] == reply_type(row[2])
        and (post := post_of(row[2], row[6])) in known
    ]

    def linked(ids: Collection[str]) -> dict[str, set[str]]:
        return {ident: known[ident] for ident in ids if ident in known}

    links.extend(tagger.post_links(children, by_post, linked))
    return links


def _start(
    topic: Topic, state: MatchState | None, since: datetime | None, force: bool
) -> tuple[str, Position | None] | None:
    """(status, position to start after) of `topic`, or None when it is up to date."""
    same = state is not None and state.definition == topic.definition and state.since == since
    if same and state is not None and state.finished_at is None:
        position = None if state.position_at is None else (state.position_at, state.position_id)
        return "resumed", position  # type: ignore[return-value]
    if same and not force:
        return None
    return "matched", None


@contextlib.contextmanager
def _mapped(url: DatabaseURL) -> Iterator[None]:
    """Driver errors as the one-line errors every command gives (`db.errors`): a lost
    server is `DatabaseUnreachable` (exit 3), a missing table says to run `db init`."""
    try:
        yield
    except Exception as error:
        mapped = map_db_error(url, error)
        if mapped is error:
            raise
        raise mapped from error


def match_topics(
    url: DatabaseURL,
    topics: Sequence[Topic],
    *,
    since: datetime | None = None,
    force: bool = False,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> MatchReport:
    """Re-match `topics` over the stored events (from `since`, inclusive); see the module
    docstring. `force`: match a topic whose last match is finished and current too.
    `on_batch(events read so far)`; `stop()` is asked between batches. Raises
    `ConfigError`/`DatabaseUnreachable` when the database cannot be used."""
    began = time.monotonic()
    report = MatchReport()
    with _mapped(url):
        _match(url, topics, since, force, batch_size, report, on_batch, stop)
    report.duration = time.monotonic() - began
    return report


def _match(
    url: DatabaseURL,
    topics: Sequence[Topic],
    since: datetime | None,
    force: bool,
    batch_size: int,
    report: MatchReport,
    on_batch: Callable[[int], None] | None,
    stop: Callable[[], bool] | None,
) -> None:
    session = _Session(url)
    try:
        states = session.sql.states()
        session.commit()
        groups: dict[Position | None, list[Topic]] = {}
        for topic in topics:
            start = _start(topic, states.get(topic.name), since, force)
            if start is None:
                report.topics[topic.name] = TopicRun(status="up to date")
                continue
            report.topics[topic.name] = TopicRun(status=start[0])
            groups.setdefault(start[1], []).append(topic)
        for position, group in groups.items():
            _run(session, group, position, since, batch_size, report, on_batch, stop)
            if report.stopped:
                break
        if since is not None and not report.stopped:
            _keep_wider(session, [t for group in groups.values() for t in group], states, since)
    finally:
        session.close()


def mirror_csv(
    url: DatabaseURL, topics: Sequence[str], since: datetime | None, directory: Path
) -> int:
    """Make the CSV sink's `topic=<name>/<day>.csv` files of `topics` hold what
    `event_topics` holds, from the day of `since` on (all days when None): each day's
    file replaced atomically, a day without links left without a file. Returns the files
    written. Raises `OSError` (the folder's disk), the database's one-line errors."""
    from sentiment_pipeline.sinks.csv_sink import replace_topic_day, topic_folder

    start = (
        None if since is None else to_utc(since).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    written = 0
    with _mapped(url):
        session = _Session(url)
        try:
            for topic in topics:
                folder = topic_folder(directory, topic)
                stale = {p.stem for p in folder.glob("*.csv")} if folder.is_dir() else set()
                if start is not None:
                    stale = {day for day in stale if day >= start.date().isoformat()}
                for day, links in _days(session, topic, start):
                    replace_topic_day(directory, topic, day, links)
                    stale.discard(day)
                    written += 1
                for day in stale:
                    replace_topic_day(directory, topic, day, [])
                session.commit()
        finally:
            session.close()
    return written


def _days(
    session: _Session, topic: str, start: datetime | None
) -> Iterator[tuple[str, list[Link]]]:
    """The links of `topic` from `start` on, a UTC day at a time, read in batches."""
    after: Position | None = None
    day = ""
    links: list[Link] = []
    while True:
        rows = session.sql.topic_links(topic, start, after, BATCH_SIZE)
        for ident, moment, via in rows:
            link = Link(ident, _moment(moment), topic, via)
            name = link.occurred_at.date().isoformat()
            if name != day and links:
                yield day, links
                links = []
            day = name
            links.append(link)
        if len(rows) < BATCH_SIZE:
            break
        after = (_moment(rows[-1][1]), rows[-1][0])
    if links:
        yield day, links


def _keep_wider(
    session: _Session, topics: list[Topic], before: dict[str, MatchState], since: datetime
) -> None:
    """A window matched again inside history already matched with the same definition
    leaves the topic's state as wide as it was (all history, or the earlier start)."""
    session.begin()
    for topic in topics:
        prior = before.get(topic.name)
        if (
            prior is not None
            and prior.definition == topic.definition
            and prior.finished_at is not None
            and (prior.since is None or prior.since <= since)
        ):
            now = datetime.now(UTC)
            session.sql.save_state(
                MatchState(topic.name, topic.definition, prior.since, None, None, now)
            )
    session.commit()


def _run(
    session: _Session,
    topics: list[Topic],
    after: Position | None,
    since: datetime | None,
    batch_size: int,
    report: MatchReport,
    on_batch: Callable[[int], None] | None,
    stop: Callable[[], bool] | None,
) -> None:
    """Match one group of topics (same start) batch by batch to the end."""
    reader = _Prefetch(session.url, after, since, batch_size, Tagger(topics).literals)
    try:
        _batches(session, reader, topics, after, since, report, on_batch, stop)
    finally:
        reader.close()


def _batches(
    session: _Session,
    reader: _Prefetch,
    topics: list[Topic],
    after: Position | None,
    since: datetime | None,
    report: MatchReport,
    on_batch: Callable[[int], None] | None,
    stop: Callable[[], bool] | None,
) -> None:
    fields = scan_fields()
    tagger = Tagger(topics)
    names = [topic.name for topic in topics]
    # the posts linked by text, by id: those before the window from the database, then
    # this pass's own (posts come before their comments), so replies need no lookup
    known = session.sql.text_links_before(names, after, since)
    session.commit()
    while True:
        if stop is not None and stop():
            report.stopped = True
            for name in names:
                report.topics[name].status = "stopped"
            return
        rows = reader.next()
        session.begin()
        if not rows:
            _save(session, topics, since, after, finished=datetime.now(UTC))
            session.commit()
            return
        last = (_moment(rows[-1][1]), rows[-1][0])
        session.sql.forget_range(names, after, last, since)
        store = session.links()
        links = _relink(session, tagger, rows, fields, known)
        store.insert(links)
        _save(session, topics, since, last, finished=None)
        session.commit()
        for link in links:
            run = report.topics[link.topic]
            setattr(run, link.via, getattr(run, link.via) + 1)
        for name in names:
            report.topics[name].scanned += len(rows)
        report.scanned += len(rows)
        after = last
        if on_batch is not None:
            on_batch(report.scanned)


def _save(
    session: _Session,
    topics: list[Topic],
    since: datetime | None,
    position: Position | None,
    finished: datetime | None,
) -> None:
    at, ident = position if position is not None else (None, None)
    for topic in topics:
        session.sql.save_state(MatchState(topic.name, topic.definition, since, at, ident, finished))


def relink(url: DatabaseURL, topics: Sequence[Topic], keys: Sequence[tuple[str, Any]]) -> int:
    """Link the stored events `keys` ((id, occurred_at) as the database gave them) to
    `topics` again, in one transaction: after their text changed (an edit `refresh`
    applied). Their replies' links by post follow at the next `topics match`. Returns
    the links stored."""
    if not topics or not keys:
        return 0
    tagger = Tagger(topics)
    fields = scan_fields()
    with _mapped(url):
        session = _Session(url)
        try:
            session.begin()
            store = session.links()
            store.forget([topic.name for topic in topics], keys)
            rows = session.sql.fetch(fields, [(moment, ident) for ident, moment in keys])
            links = tagger.links([_item(row, fields) for row in rows], store.post_topics)
            store.insert(links)
            session.commit()
        finally:
            session.close()
    return len(links)


@dataclass(frozen=True)
class TopicListing:
    """One line of `topics list`: the topic's query, its stored links and match state."""

    name: str
    query: str | None  # None: links stored for a topic no longer configured
    subreddits: list[str] | None
    figures: TopicFigures | None
    state: str


def _state_text(topic: Topic | None, state: MatchState | None) -> str:
    if topic is None:
        return "not configured"
    if state is None:
        return "history not matched"
    if state.definition != topic.definition:
        return "query or scope changed since the last match"
    if state.finished_at is None:
        return "match interrupted"
    if state.since is not None:
        return f"matched since {state.since:%Y-%m-%d %H:%M}Z only"
    return f"history matched {state.finished_at:%Y-%m-%d %H:%M}Z"


def list_topics(url: DatabaseURL, topics: Sequence[Topic]) -> list[TopicListing]:
    """Every configured topic, and every topic with stored links or a match state, by
    name: its query, stored links and whether stored history is matched by its query."""
    with _mapped(url):
        session = _Session(url)
        try:
            figures = session.sql.figures()
            states = session.sql.states()
        finally:
            session.close()
    configured = {topic.name: topic for topic in topics}
    listing = []
    for name in sorted({*configured, *figures, *states}):
        topic = configured.get(name)
        listing.append(
            TopicListing(
                name=name,
                query=topic.text if topic is not None else None,
                subreddits=sorted(topic.subreddits) if topic and topic.subreddits else None,
                figures=figures.get(name),
                state=_state_text(topic, states.get(name)),
            )
        )
    return listing
