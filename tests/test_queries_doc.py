"""docs/queries.md, the SQL cookbook: every ```sql block runs against a real TimescaleDB.

One database for the module: migrated by sentpipe's own migrations (1-day chunks, so the
chunk queries see several), filled with Reddit and Hacker News events over the four UTC
days before today, scored by the real VADER scorer, linked to two topics by `topics
match`, then a few events stored after the scoring run (the backlog). `sentiment_daily`
is as the scorer and `topics match` kept it.

The blocks run in the page's order, each in its own autocommit session whose time zone
is America/Anchorage (so a query that mixed UTC days with the session's would show in
the spot checks). Convention of the page (also described at its end), from a block's
first line:

- `-- by hand only: <why>`: never run. Sent inside a transaction that is rolled back,
  where the server parses it and refuses it with SQLSTATE 25001 (`cannot run inside a
  transaction block`); any other error (a syntax error, an unknown name) fails.
  `ALTER SYSTEM SET name` must name a parameter of `pg_settings`.
- `-- needs pg_stat_statements`: run when the server preloads pg_stat_statements
  (`scripts/timescaledb-local` does from its next start); else skipped with the reason,
  or failed when CI=true.
- any other block is run; a block returning a result set must return at least one row.

Every block holds exactly one statement. The spot checks compare a few results with
what was stored: per-day volume, the top item and its link, the extreme scores, the
topic figures of the rollup against the raw tables and `sentiment.figures.Sums`, the
chunk count, the backlog and the autovacuum setting reaching every chunk.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.sentiment import ScoreOptions, score_events
from sentiment_pipeline.sentiment.figures import Sums
from sentiment_pipeline.sentiment.scorers import model_id_for
from sentiment_pipeline.sources.topic import TopicSettings, topics_from
from sentiment_pipeline.topics.match import match_topics
from tests.fixtures.databases import SERVERS, _fresh_database, _in_ci, libpq_url
from tests.fixtures.isolation import ROOT

pytestmark = pytest.mark.timescale

DOC = ROOT / "docs" / "queries.md"
BY_HAND = "-- by hand only:"
NEEDS_PGSS = "-- needs pg_stat_statements"
SESSION_ZONE = "America/Anchorage"  # UTC-9: a UTC midnight is the day before there
MODEL = "vader-3.3.2+clean2"  # the id the page names
TOPICS = {
    "tesla": TopicSettings(query="tesla"),
    "rust": TopicSettings(query="rust OR cargo"),
}


# --- the page's blocks ---------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    ident: str  # "<section slug>-<n>", n counting from 1 within the section
    sql: str

    @property
    def first_line(self) -> str:
        return self.sql.lstrip().splitlines()[0].strip()


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def doc_blocks() -> list[Block]:
    """The ```sql blocks of docs/queries.md in order, named after their `##` section."""
    blocks: list[Block] = []
    section, count, inside = "top", 0, False
    lines: list[str] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if inside:
            if line.startswith("```"):
                blocks.append(Block(f"{section}-{count}", "\n".join(lines) + "\n"))
                inside = False
            else:
                lines.append(line)
        elif line.startswith("## "):
            section, count = _slug(line[3:])[:40].strip("-"), 0
        elif line.strip() == "```sql":
            inside, lines, count = True, [], count + 1
    return blocks


BLOCKS = doc_blocks()


def block(section: str, n: int = 1) -> str:
    """The n-th block of the section whose slug starts with `section`."""
    for found in BLOCKS:
        name, _, number = found.ident.rpartition("-")
        if name.startswith(section) and int(number) == n:
            return found.sql
    raise AssertionError(f"docs/queries.md has no block {n} under a section {section!r}")


def _statements(sql: str) -> list[str]:
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [part for part in code.split(";") if part.strip()]


def test_the_page_has_the_promised_sections_and_one_statement_per_block() -> None:
    sections = {found.ident.rpartition("-")[0] for found in BLOCKS}
    for wanted in (
        "volume",
        "freshness",
        "top-items",
        "sentiment-by-topic",
        "chunks",
        "index-use",
        "dead-rows",
        "slowest-queries",
    ):
        assert any(name.startswith(wanted) for name in sections), (wanted, sections)
    for found in BLOCKS:
        assert len(_statements(found.sql)) == 1, f"{found.ident}: one statement per block"
        assert found.sql.rstrip().endswith(";"), f"{found.ident}: end it with ';' for psql"
    assert "(queries.md)" in (ROOT / "docs" / "index.md").read_text()
    assert "(queries.md)" in (ROOT / "docs" / "monitoring.md").read_text()


def test_the_model_id_the_page_names_is_vader_s_current_one() -> None:
    assert model_id_for("vader") == MODEL
    assert MODEL in DOC.read_text(encoding="utf-8")


# --- the seeded database ---------------------------------------------------------------

DAYS = 4  # the UTC days before today that hold events
# events per container and day offset (days before today)
PLAN: dict[tuple[str, str], dict[int, int]] = {
    ("reddit", "python"): {4: 3, 3: 2, 2: 4, 1: 1},
    ("reddit", "stocks"): {4: 2, 3: 3, 2: 1, 1: 2},
    ("hackernews", "ask"): {4: 2, 3: 1, 2: 2, 1: 3},
}
BACKLOG = 3  # reddit/python events stored after the scoring run, on day offset 1
TEXTS = (
    "I absolutely love the new Tesla update, it is wonderful and great",
    "This release of cargo is awful, broken and a terrible waste of time",
    "The weather report says it will be cloudy again tomorrow morning",
    "Rust makes me happy, the compiler is so helpful and friendly",
    "I hate how the Tesla service center treated me, horrible experience",
    "We moved the meeting to the second floor conference room today",
    "What a fantastic and beautiful result, thank you all so much",
    "The worst, most disgusting and stupid decision they ever made",
)
TOP_SCORE = 5000  # the one item with the highest score: a reddit/stocks post


@dataclass(frozen=True)
class Seeded:
    url: str  # libpq URL
    today: date  # the UTC day the events were seeded relative to
    volume: Counter[tuple[date, str, str]]
    links: dict[str, str]  # event id -> its expected link
    top_id: str


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, rest = divmod(n, 36)
        out = digits[rest] + out
        if n == 0:
            return out


def _event(n: int, source: str, container: str, at: datetime, first: bool) -> dict[str, Any]:
    """A realistic event: the day's first of a container is a post/story, the rest
    comments under it (the payload shapes of docs/hackernews.md and Reddit's API)."""
    text = TEXTS[n % len(TEXTS)]
    epoch = int(at.timestamp())
    if source == "reddit":
        post = _base36(1000 + n - (0 if first else 1))
        if first:
            ident = f"t3_{_base36(1000 + n)}"
            payload: dict[str, Any] = {
                "subreddit": container,
                "title": text,
                "selftext": "",
                "score": 10 + n,
                "num_comments": 2 + n % 5,
                "permalink": f"/r/{container}/comments/{_base36(1000 + n)}/post_{n}/",
                "created_utc": epoch,
            }
        else:
            ident = f"t1_{_base36(5000 + n)}"
            payload = {
                "subreddit": container,
                "body": text,
                "score": n % 7,
                "link_id": f"t3_{post}",
                "permalink": f"/r/{container}/comments/{post}/post/{_base36(5000 + n)}/",
                "created_utc": epoch,
            }
        kind = "submission" if first else "comment"
    else:
        ident = f"hn_{40000000 + n}"
        payload = {"id": 40000000 + n, "by": f"user{n}", "time": epoch}
        if first:
            payload |= {
                "type": "story",
                "title": f"Ask HN: {text}",
                "score": 20 + n,
                "descendants": 3,
            }
        else:
            payload |= {"type": "comment", "text": f"<p>{html.escape(text)}", "parent": 1}
        kind = "story" if first else "comment"
    return {
        "id": ident,
        "occurred_at": at,
        "source": source,
        "source_id": container,
        "event_type": kind,
        "payload": payload,
    }


def _link(row: dict[str, Any]) -> str:
    if row["source"] == "reddit":
        return "https://www.reddit.com" + str(row["payload"]["permalink"])
    return "https://news.ycombinator.com/item?id=" + str(row["id"]).removeprefix("hn_")


def _plan(today: date) -> list[dict[str, Any]]:
    rows, n = [], 0
    for (source, container), per_day in PLAN.items():
        for offset, count in per_day.items():
            midnight = datetime.combine(today - timedelta(days=offset), datetime.min.time(), UTC)
            for k in range(count):
                # 00:30 and 23:30 UTC are on other local days in the session's zone
                at = midnight + timedelta(minutes=30 + k * (23 * 60) // max(count - 1, 1))
                rows.append(_event(n, source, container, at, first=k == 0))
                n += 1
    top = next(r for r in rows if r["source_id"] == "stocks" and r["event_type"] == "submission")
    top["payload"]["score"] = TOP_SCORE
    return rows


def _insert(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw_events (id, occurred_at, source, source_id, event_type, payload) "
            "VALUES (%(id)s, %(occurred_at)s, %(source)s, %(source_id)s, %(event_type)s, "
            "%(payload)s)",
            [row | {"payload": psycopg.types.json.Jsonb(row["payload"])} for row in rows],
        )


@pytest.fixture(scope="module")
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    for url in _fresh_database(request, SERVERS["timescale"]):
        yield _seed(url, tmp_path_factory.mktemp("queries"))


def _seed(url: str, tmp: Path) -> Seeded:
    database = parse_database_url(url)
    init_db(database, chunk_interval="1 day")
    today = datetime.now(UTC).date()
    rows = _plan(today)
    libpq = libpq_url(url)
    with psycopg.connect(libpq, autocommit=True) as conn:
        _insert(conn, rows)
    result = score_events(database, ScoreOptions(), lock_path=tmp / "score.lock")
    assert result.model == MODEL and result.scored == len(rows), result
    backlog_at = datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC)
    backlog = [
        _event(900 + k, "reddit", "python", backlog_at + timedelta(hours=12, minutes=k), False)
        for k in range(BACKLOG)
    ]
    match_topics(database, topics_from(TOPICS))
    with psycopg.connect(libpq, autocommit=True) as conn:
        _insert(conn, backlog)  # unscored: the rollup the scorer and match kept stands
        conn.execute("ANALYZE")
    volume: Counter[tuple[date, str, str]] = Counter(
        (row["occurred_at"].date(), row["source"], row["source_id"]) for row in rows + backlog
    )
    top_id = next(r["id"] for r in rows if r["payload"].get("score") == TOP_SCORE)
    return Seeded(libpq, today, volume, {r["id"]: _link(r) for r in rows}, top_id)


def run(seeded: Seeded, sql: str) -> list[dict[str, Any]] | None:
    """The block's rows (None for a statement without a result set), in a session
    whose time zone is not UTC."""
    with psycopg.connect(
        seeded.url, autocommit=True, options=f"-c TimeZone={SESSION_ZONE}", row_factory=dict_row
    ) as conn:
        cur = conn.execute(sql)  # the page's text, no parameters
        return cur.fetchall() if cur.description is not None else None


def _preloaded(seeded: Seeded, library: str) -> bool:
    with psycopg.connect(seeded.url) as conn:
        row = conn.execute("SHOW shared_preload_libraries").fetchone()
    assert row is not None
    return library in [name.strip() for name in str(row[0]).split(",")]


def _parse_only(seeded: Seeded, found: Block) -> None:
    with psycopg.connect(seeded.url) as conn:  # a transaction, rolled back on exit
        # parsed, then refused (25001): nothing ran
        with contextlib.suppress(psycopg.errors.ActiveSqlTransaction):
            conn.execute(found.sql)
        conn.rollback()
        for name in re.findall(r"ALTER\s+SYSTEM\s+SET\s+(\w+)", found.sql, re.IGNORECASE):
            known = conn.execute("SELECT 1 FROM pg_settings WHERE name = %s", (name,)).fetchone()
            assert known is not None, f"{found.ident}: no server parameter {name!r}"


# --- every block -------------------------------------------------------------------------


@pytest.mark.parametrize("found", BLOCKS, ids=[found.ident for found in BLOCKS])
def test_every_block_runs(seeded: Seeded, found: Block) -> None:
    if found.first_line.startswith(BY_HAND):
        _parse_only(seeded, found)
        return
    if found.first_line.startswith(NEEDS_PGSS) and not _preloaded(seeded, "pg_stat_statements"):
        reason = (
            "the TimescaleDB test server does not preload pg_stat_statements; restart it "
            "with scripts/timescaledb-local stop && scripts/timescaledb-local start"
        )
        if _in_ci():
            pytest.fail(f"{reason} (CI=true: no skipping)", pytrace=False)
        pytest.skip(reason)
    rows = run(seeded, found.sql)
    if rows is not None:
        assert rows, f"{found.ident} returned no rows"


# --- spot checks ---------------------------------------------------------------------------


def test_volume_per_day_equals_the_stored_counts(seeded: Seeded) -> None:
    rows = run(seeded, block("volume"))
    assert rows is not None
    got = Counter({(r["day"], r["source"], r["source_id"]): r["events"] for r in rows})
    assert got == seeded.volume
    comments = {(r["day"], r["source_id"]): r["comments"] for r in rows}
    first_day = seeded.today - timedelta(days=4)
    assert comments[(first_day, "python")] == PLAN[("reddit", "python")][4] - 1


def test_freshness_and_backlog(seeded: Seeded) -> None:
    fresh = run(seeded, block("freshness", 1))
    assert fresh is not None
    assert {(r["source"], r["source_id"]) for r in fresh} == set(PLAN)
    newest = {r["source_id"]: r["newest_event"] for r in fresh}
    assert newest["ask"].astimezone(UTC).date() == seeded.today - timedelta(days=1)
    backlog = run(seeded, block("freshness", 2))
    assert backlog is not None
    assert [(r["source_id"], r["waiting"]) for r in backlog] == [("python", BACKLOG)]


def test_top_items_carry_their_links(seeded: Seeded) -> None:
    top = run(seeded, block("top-items", 1))
    assert top is not None
    assert top[0]["score"] == TOP_SCORE and top[0]["link"] == seeded.links[seeded.top_id]
    discussed = run(seeded, block("top-items", 2))
    assert discussed is not None
    assert {r["event_type"] for r in discussed} <= {"submission", "story"}
    assert all(r["link"].startswith("https://") for r in discussed)
    hn = next(r for r in discussed if r["source"] == "hackernews")
    assert hn["link"].startswith("https://news.ycombinator.com/item?id=4000")


def test_extremes_are_the_highest_and_lowest_compound(seeded: Seeded) -> None:
    with psycopg.connect(seeded.url) as conn:
        low, high = conn.execute(
            "SELECT min(compound), max(compound) FROM sentiment_scores WHERE model = %s", (MODEL,)
        ).fetchone() or (None, None)
    positive, negative = run(seeded, block("top-items", 3)), run(seeded, block("top-items", 4))
    assert positive is not None and negative is not None
    assert positive[0]["compound"] == high > 0.5 and positive[0]["label"] == "positive"
    assert negative[0]["compound"] == low < -0.5 and negative[0]["label"] == "negative"
    links = set(seeded.links.values())
    assert {positive[0]["link"], negative[0]["link"]} <= links
    # HN's HTML comes out as plain text
    assert not any("<p>" in (r["text"] or "") for r in positive + negative)


def _raw_sums(seeded: Seeded) -> dict[str, Sums]:
    """Per topic (via any) and '' (every score): the Sums of the stored scores."""
    sums: dict[str, Sums] = {}
    with psycopg.connect(seeded.url) as conn:
        scores = conn.execute(
            "SELECT s.label, s.compound, t.topic FROM sentiment_scores s "
            "LEFT JOIN event_topics t ON t.id = s.id AND t.occurred_at = s.occurred_at "
            "WHERE s.model = %s",
            (MODEL,),
        ).fetchall()
        everything = conn.execute(
            "SELECT label, compound FROM sentiment_scores WHERE model = %s", (MODEL,)
        ).fetchall()
    for label, compound, topic in scores:
        if topic is not None:
            sums[topic] = sums.get(topic, Sums()) + _one(label, compound)
    for label, compound in everything:
        sums[""] = sums.get("", Sums()) + _one(label, compound)
    return sums


def _one(label: str, compound: float) -> Sums:
    return Sums(
        1,
        int(label == "positive"),
        int(label == "neutral"),
        int(label == "negative"),
        compound,
        compound * compound,
    )


def test_topic_figures_of_the_rollup_equal_the_raw_tables(seeded: Seeded) -> None:
    expected = _raw_sums(seeded)
    assert set(expected) == {"", "tesla", "rust"}
    rollup = run(seeded, block("sentiment-by-topic", 1))
    raw = run(seeded, block("sentiment-by-topic", 3))
    assert rollup is not None and raw is not None
    assert rollup[0]["topic_or_all"] == "(every scored event)"
    by_topic = {r["topic_or_all"]: r for r in rollup}
    by_topic[""] = by_topic.pop("(every scored event)")
    assert set(by_topic) == set(expected)
    for topic, sums in expected.items():
        row = by_topic[topic]
        assert row["events"] == sums.events, topic
        assert float(row["net_sentiment"]) == pytest.approx(sums.net_sentiment, abs=1e-4)
        assert float(row["mean_compound"]) == pytest.approx(sums.mean_compound, abs=1e-4)
        interval = sums.mean_compound_ci95()
        assert interval is not None
        low, high = interval
        if low > -1.0 and high < 1.0:  # the report clips at the ends; the SQL does not
            half = float(row["mean_ci95"])
            assert float(row["mean_compound"]) - half == pytest.approx(low, abs=2e-4)
            assert float(row["mean_compound"]) + half == pytest.approx(high, abs=2e-4)
    for row in raw:
        same = by_topic[row["topic"]]
        assert row["events"] == same["events"], row["topic"]
        assert float(row["net_sentiment"]) == pytest.approx(float(same["net_sentiment"]), abs=1e-4)
        assert float(row["mean_compound"]) == pytest.approx(float(same["mean_compound"]), abs=1e-4)
    assert {r["topic"] for r in raw} == {"tesla", "rust"}
    weekly = run(seeded, block("sentiment-by-topic", 2))
    assert weekly is not None
    per_topic = Counter[str]()
    for row in weekly:
        assert row["week"].weekday() == 0  # Mondays
        per_topic[row["topic"]] += row["events"]
    assert per_topic == {topic: sums.events for topic, sums in expected.items() if topic}


def test_chunks_one_per_seeded_day(seeded: Seeded) -> None:
    chunks = run(seeded, block("chunks", 2))
    assert chunks is not None
    starts = [r["range_start"].astimezone(UTC) for r in chunks]
    assert starts == [
        datetime.combine(seeded.today - timedelta(days=d), datetime.min.time(), UTC)
        for d in range(1, DAYS + 1)
    ]
    hypertables = run(seeded, block("chunks", 1))
    assert hypertables is not None
    names = {r["hypertable_name"] for r in hypertables}
    assert {"raw_events", "sentiment_scores", "event_topics", "raw_event_revisions"} <= names
    tables = run(seeded, block("chunks", 3))
    assert tables is not None
    kinds = {r["table_name"]: r["hypertable"] for r in tables}
    assert kinds["raw_events"] is True and kinds["sentiment_daily"] is False


def test_index_use_folds_the_chunks_into_the_hypertable_s_indexes(seeded: Seeded) -> None:
    rows = run(seeded, block("index-use", 1))
    assert rows is not None
    raw = {r["index_name"] for r in rows if r["table_name"] == "raw_events"}
    assert raw == {
        "pk_raw_events",
        "uq_raw_events_source_source_id_event_type_id_occurred_at",
        "raw_events_occurred_at_idx",
        "ix_raw_events_source_source_id",
        "ix_raw_events_processed_occurred_at",
    }
    assert not any(r["index_name"].startswith("_hyper_") for r in rows)
    unused = run(seeded, block("index-use", 2))
    assert unused is not None
    assert not {r["index_name"] for r in unused} & {"pk_raw_events", "pk_sentiment_scores"}


def test_dead_rows_per_chunk_and_the_autovacuum_setting(seeded: Seeded) -> None:
    rows = run(seeded, block("dead-rows", 1))
    assert rows is not None and len(rows) == DAYS
    assert run(seeded, block("dead-rows", 3)) is None
    with psycopg.connect(seeded.url) as conn:
        options = conn.execute(
            "SELECT c.chunk_name, cl.reloptions FROM timescaledb_information.chunks c "
            "JOIN pg_class cl ON cl.relname = c.chunk_name "
            "WHERE c.hypertable_name = 'raw_events'"
        ).fetchall()
    assert len(options) == DAYS
    assert all("autovacuum_vacuum_scale_factor=0.05" in (found or []) for _, found in options)
