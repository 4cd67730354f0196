"""Hacker News in `export csv`: the `text` column is HN's HTML as plain text (the rule of
`sources.hackernews.text.html_to_text`; `sp_html_text` in SQL, migration 0006 on
PostgreSQL, the Python function registered on SQLite), the same bytes on TimescaleDB,
PostgreSQL and SQLite; the other display columns come from either payload shape; a
PostgreSQL database before 0006 exports the HTML as stored, with one warning."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.migrate import alembic_config
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.export import has_html_text, parse_columns
from sentiment_pipeline.sources import DisplayColumns, source_spec
from sentiment_pipeline.sources.hackernews.payload import algolia_records, firebase_record
from sentiment_pipeline.sources.hackernews.text import ENTITIES, html_to_text
from tests.test_export import export_bytes, load

STORY_TEXT = (
    "I&#x27;m <i>proud</i> of it:<p>see "
    '<a href="https:&#x2F;&#x2F;example.com&#x2F;a" rel="nofollow">'
    "https:&#x2F;&#x2F;example.com&#x2F;a</a> &amp; &quot;more&quot; &gt; less"
)
COMMENT_TEXT = (
    "Code:<p><pre><code>  if a &lt; b:\n      return &#x27;x&#x27;\n</code></pre>"
    "Caf&eacute; &#233;t&#xE9; 😀&nbsp;ok<p>&amp;lt;i&amp;gt; once"
)
FIREBASE_STORY = {
    "by": "dhouston",
    "id": 8863,
    "score": 111,
    "time": 1175714200,
    "title": "Ask HN: A title & <not markup>",
    "type": "story",
    "url": "http://www.getdropbox.com/u/2/screencast.html",
    "text": STORY_TEXT,
}
FIREBASE_COMMENT = {
    "by": "pg",
    "id": 8870,
    "parent": 8863,
    "text": COMMENT_TEXT,
    "time": 1175714300,
    "type": "comment",
}
ALGOLIA_TREE = {
    "id": 9000,
    "created_at_i": 1175714400,
    "type": "story",
    "author": "someone",
    "title": "Show HN: A thing",
    "url": "https://example.org/thing",
    "text": None,
    "points": 42,
    "parent_id": None,
    "children": [
        {
            "id": 9224,
            "created_at_i": 1175714800,
            "type": "comment",
            "author": "norvig",
            "text": "Wonderful &amp; happy.<p>Thanks!",
            "points": None,
            "parent_id": 9000,
            "children": [],
        }
    ],
}
COLUMNS = parse_columns("id,source_id,author,title,text,permalink,score,parent_id")


def hn_records() -> list[dict[str, Any]]:
    """Both payload shapes: two Firebase items, an Algolia story and its comment."""
    records = [firebase_record(FIREBASE_STORY), firebase_record(FIREBASE_COMMENT, "ask")]
    records += algolia_records(ALGOLIA_TREE)
    assert all(isinstance(record, dict) for record in records)
    return records  # type: ignore[return-value]


def rows_of(data: bytes) -> dict[str, dict[str, str]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    return {row["id"]: row for row in reader}


def test_the_hn_spec_declares_html_text() -> None:
    assert source_spec("hackernews").columns.text_markup == "html"
    assert source_spec("reddit").columns.text_markup is None
    with pytest.raises(ValueError, match="text_markup"):
        DisplayColumns(text_markup="markdown")


def test_hn_display_columns_are_filled_and_text_is_plain(any_db_url: str) -> None:
    db = load(any_db_url, hn_records())
    rows = rows_of(export_bytes(db, columns=COLUMNS))
    assert rows["hn_8863"] == {
        "id": "hn_8863",
        "source_id": "ask",
        "author": "dhouston",
        "title": "Ask HN: A title & <not markup>",  # titles are plain text: as sent
        "text": 'I\'m proud of it:\n\nsee https://example.com/a & "more" > less',
        "permalink": "http://www.getdropbox.com/u/2/screencast.html",
        "score": "111",
        "parent_id": "",
    }
    assert rows["hn_8870"]["text"] == (
        "Code:\n\n  if a < b:\n      return 'x'\n\nCafé été 😀\xa0ok\n\n&lt;i&gt; once"
    )
    assert (rows["hn_8870"]["author"], rows["hn_8870"]["parent_id"]) == ("pg", "8863")
    assert rows["hn_9000"]["author"] == "someone"  # Algolia's author, points, no text
    assert (rows["hn_9000"]["score"], rows["hn_9000"]["text"]) == ("42", "")
    assert rows["hn_9000"]["permalink"] == "https://example.org/thing"
    assert rows["hn_9224"]["text"] == "Wonderful & happy.\n\nThanks!"
    assert (rows["hn_9224"]["author"], rows["hn_9224"]["parent_id"]) == ("norvig", "9000")
    for record in hn_records():
        text = record["payload"].get("text")
        expected = "" if text is None else html_to_text(text)
        assert rows[record["id"]]["text"] == expected


def test_hn_export_is_byte_identical_across_backends(
    timescale_url: str, postgres_url: str, sqlite_url: str
) -> None:
    dbs = [load(url, hn_records()) for url in (timescale_url, postgres_url, sqlite_url)]
    for options in ({"columns": parse_columns(None)}, {"columns": COLUMNS, "excel_safe": True}):
        outputs = {db.sqlalchemy: export_bytes(db, **options) for db in dbs}
        assert len(set(outputs.values())) == 1, (options, outputs)


def test_reddit_text_is_not_converted(sqlite_url: str) -> None:
    """Only a source that declares HTML text goes through sp_html_text."""
    reddit = {
        "id": "t1_a",
        "occurred_at": "2024-01-01T00:00:00Z",
        "source": "reddit",
        "source_id": "python",
        "event_type": "comment",
        "payload": {"body": "a &amp; <i>b</i>\n\nc"},
    }
    db = load(sqlite_url, [reddit])
    assert rows_of(export_bytes(db, columns=COLUMNS))["t1_a"]["text"] == "a &amp; <i>b</i>\n\nc"


def _downgrade(db: DatabaseURL, revision: str) -> None:
    import sqlalchemy as sa
    from alembic import command

    engine = sa.create_engine(db.sqlalchemy)
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()
    engine.dispose()


def test_a_database_before_0006_exports_the_html_as_stored(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = load(postgres_url, hn_records())
    _downgrade(db, "0005")
    caplog.set_level(logging.WARNING, logger="sentiment_pipeline.export")
    rows = rows_of(export_bytes(db, columns=COLUMNS))
    assert rows["hn_8863"]["text"] == STORY_TEXT
    assert rows["hn_8863"]["author"] == "dhouston"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "sentpipe db init" in warnings[0], warnings
    caplog.clear()
    export_bytes(db, columns=parse_columns("id,author"))  # no text column: no warning
    assert not caplog.records


# --- the SQL function against the Python rule ----------------------------------------


@pytest.fixture
def pg(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to a database at head (sp_html_text exists)."""
    db = load(postgres_url, [])
    with psycopg.connect(db.libpq, autocommit=True) as connection:
        yield connection


def sql_text(connection: psycopg.Connection[Any], html: str) -> str | None:
    row = connection.execute("SELECT sp_html_text(%s)", [html]).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def test_every_named_entity_decodes_as_in_python(pg: psycopg.Connection[Any]) -> None:
    names = sorted(ENTITIES)
    html = " ".join(f"x&{name};" for name in names)
    assert sql_text(pg, html) == html_to_text(html)
    assert sql_text(pg, "&AMP; &Amp; &amp") == "&AMP; &Amp; &amp"  # case, `;`: as sent
    row = pg.execute("SELECT sp_html_text(NULL)").fetchone()
    assert row is not None and row[0] is None


def test_has_html_text_follows_the_migration(postgres_url: str, sqlite_url: str) -> None:
    from sentiment_pipeline.db.connect import open_reader

    db = load(postgres_url, [])
    for url, expected in ((db, True), (load(sqlite_url, []), True)):
        reader = open_reader(url)
        try:
            assert has_html_text(reader) is expected
        finally:
            reader.close()
    _downgrade(db, "0005")
    reader = open_reader(parse_database_url(postgres_url))
    try:
        assert has_html_text(reader) is False
    finally:
        reader.close()


_TAG_NAMES = ("p", "i", "a", "pre", "code", "b", "br", "div", "li", "span", "P", "PRE", "Br")
_TAGS = st.sampled_from(_TAG_NAMES).flatmap(
    lambda name: st.sampled_from(
        [
            f"<{name}>",
            f"</{name}>",
            f"<{name}/>",
            f'<{name} href="https:&#x2F;&#x2F;x.example&#x2F;a?b=1&amp;c=2" rel="nofollow">',
            f"<{name}",
            f"</{name} >",
        ]
    )
)
_ENTITY_TEXT = st.one_of(
    st.sampled_from(sorted(ENTITIES)).map(lambda name: f"&{name};"),
    st.sampled_from(["&bogus;", "&amp", "&#;", "&#x;", "&", "&#0;", "&#xD800;", "&#x10FFFF;"]),
    st.integers(0, 0x11_0000).map(lambda n: f"&#{n};"),
    st.integers(0, 0x11_0000).map(lambda n: f"&#x{n:X};"),
    st.integers(0, 2**40).map(lambda n: f"&#x{n:x};"),
)
_WORDS = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00<>&"),
    max_size=10,
)
_SPACE = st.sampled_from([" ", "  ", "\n", "\t", "\r\n", "\x0b", "\x0c", "\xa0", " \n  "])
_MARKS = st.sampled_from(["<", ">", "<!-- c -->", "<!--", "<!DOCTYPE x>", "<?x?>", "</>", "<3"])
HN_HTML = st.lists(st.one_of(_WORDS, _SPACE, _TAGS, _ENTITY_TEXT, _MARKS), max_size=40).map("".join)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(HN_HTML)
def test_the_sql_function_is_the_python_rule(pg: psycopg.Connection[Any], html: str) -> None:
    assert sql_text(pg, html) == html_to_text(html)
