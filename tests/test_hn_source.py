"""The Hacker News source's pure core: HTML as text, ids and kinds, records from the
Firebase and Algolia shapes, bad items as dead letters, and the source contract (a
stored HN event scored and exported with its display columns filled)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment_pipeline.dto import Rejected
from sentiment_pipeline.dto.model import RawEventDTO
from sentiment_pipeline.sentiment.clean import event_text
from sentiment_pipeline.settings import Settings
from sentiment_pipeline.sources import BUILTIN_SOURCES, source_spec
from sentiment_pipeline.sources.hackernews.payload import (
    algolia_records,
    event_id,
    firebase_record,
    story_kind,
)
from sentiment_pipeline.sources.hackernews.settings import HackerNewsSettings, user_agent
from sentiment_pipeline.sources.hackernews.text import hn_text, html_to_text
from tests.fixtures.cli import invoke

# --- HTML as text -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_html", "text"),
    [
        ("plain words", "plain words"),
        ("First.<p>Second.<p>Third.", "First.\n\nSecond.\n\nThird."),
        ("<p>Opened</p><p>and closed</p>", "Opened\n\nand closed"),
        ("an <i>emphasised</i> word", "an emphasised word"),
        ("one<br>two", "one\ntwo"),
        (
            'see <a href="https:&#x2F;&#x2F;example.com&#x2F;a" rel="nofollow">'
            "https:&#x2F;&#x2F;example.com&#x2F;a</a> here",
            "see https://example.com/a here",
        ),
        ('<a href="https://x.example">the docs</a>', "the docs"),
        (
            "Code:<p><pre><code>  def f():\n      return 1\n</code></pre>After",
            "Code:\n\n  def f():\n      return 1\n\nAfter",
        ),
        ("it&#x27;s &quot;fine&quot; &gt; ok &#x2F; &amp; &lt;3", 'it\'s "fine" > ok / & <3'),
        ("&eacute;t&eacute; &#233; &#xe9;", "été é é"),
        ("&amp;lt;i&amp;gt; is decoded once", "&lt;i&gt; is decoded once"),
        ("&bogus; stays", "&bogus; stays"),
        ("a <3 b", "a <3 b"),
        ("<b>unknown</b> <span class=x>tags</span>", "unknown tags"),
        ("unclosed <i>italic<p>para", "unclosed italic\n\npara"),
        ('ends inside a tag <a href="https://x', "ends inside a tag"),
        ("ends inside a comment <!-- never closed", "ends inside a comment"),
        ("a <!-- note --> b", "a b"),
        ("stray </i></p> closers", "stray\n\nclosers"),
        ("<p> </p>", ""),
        ("", ""),
    ],
)
def test_html_to_text(given_html: str, text: str) -> None:
    assert html_to_text(given_html) == text


KNOWN_TAGS = ("p", "i", "a", "pre", "code", "b", "br", "span", "div")
ENTITIES = ("&#x27;", "&quot;", "&gt;", "&#x2F;", "&amp;", "&#39;", "&eacute;", "&#x3E;")
_WORDS = st.text(alphabet="abc XYZ.,!?-\n019", max_size=12)
_TAGS = st.sampled_from(KNOWN_TAGS).flatmap(
    lambda tag: st.sampled_from(
        [f"<{tag}>", f"</{tag}>", f"<{tag}", f"</{tag}", f'<{tag} href="x">', f"<{tag}/>"]
    )
)
_HTMLISH = st.lists(
    # a bare `<` is followed by a space: `<` then `&#x2F;a` would decode to the text
    # "</a", which is content (a user writing about HTML), not a surviving tag
    st.one_of(_WORDS, _TAGS, st.sampled_from(ENTITIES), st.sampled_from(["< ", ">", "<!--"])),
    max_size=30,
).map("".join)


@given(_HTMLISH)
def test_no_known_tag_or_entity_survives(fragment: str) -> None:
    """Whatever the tags and entities (well-formed, broken, unclosed), the text holds no
    tag of a known name and none of the entities the input held; it never raises."""
    text = html_to_text(fragment)
    for tag in KNOWN_TAGS:
        assert re.search(rf"</?{tag}\b", text) is None, (fragment, text)
    for entity in ENTITIES:
        assert entity not in text, (fragment, text)


@given(st.text(max_size=200))
def test_any_text_converts_without_raising(fragment: str) -> None:
    assert isinstance(html_to_text(fragment), str)


def test_text_rule_stories_comments_and_placeholders() -> None:
    story = {"title": "Ask HN: Why?", "text": "I wonder&#x27;s <i>why</i>.<p>Thanks"}
    assert hn_text("story", story) == "Ask HN: Why?\n\nI wonder's why.\n\nThanks"
    assert hn_text("story", {"title": "A link post"}) == "A link post"
    assert hn_text("job", {"title": "Acme is hiring"}) == "Acme is hiring"
    assert hn_text("comment", {"text": "Great <i>work</i>!", "title": "ignored"}) == "Great work!"
    assert hn_text("pollopt", {"text": "Option A"}) == "Option A"
    assert hn_text("comment", {}) is None  # deleted: Firebase drops the text
    assert hn_text("comment", {"text": None}) is None  # deleted on Algolia
    assert hn_text("comment", {"text": "[dead]"}) is None
    assert hn_text("comment", {"text": "[deleted]"}) is None
    assert hn_text("comment", {"text": "<p></p>"}) is None
    assert hn_text("story", {"title": "[flagged]"}) is None


# --- ids, kinds and records ----------------------------------------------------------


FIREBASE_STORY = {
    "by": "dhouston",
    "descendants": 2,
    "id": 8863,
    "kids": [9224],
    "score": 111,
    "time": 1175714200,
    "title": "Ask HN: My YC app: Dropbox - Throw away your USB drive",
    "type": "story",
    "url": "http://www.getdropbox.com/u/2/screencast.html",
}
FIREBASE_COMMENT = {
    "by": "norvig",
    "id": 9224,
    "kids": [9300],
    "parent": 8863,
    "text": "Aw shucks, guys ... you make me blush with your compliments.<p>Tell you what",
    "time": 1175714800,
    "type": "comment",
}
FIREBASE_DELETED = {
    "deleted": True,
    "id": 9300,
    "parent": 9224,
    "time": 1175715000,
    "type": "comment",
}
ALGOLIA_TREE = {
    "id": 8863,
    "created_at": "2007-04-04T19:16:40.000Z",
    "created_at_i": 1175714200,
    "type": "story",
    "author": "dhouston",
    "title": "Ask HN: My YC app: Dropbox - Throw away your USB drive",
    "url": "http://www.getdropbox.com/u/2/screencast.html",
    "text": None,
    "points": 111,
    "parent_id": None,
    "story_id": 8863,
    "options": [],
    "children": [
        {
            "id": 9224,
            "created_at_i": 1175714800,
            "type": "comment",
            "author": "norvig",
            "text": "Aw shucks, guys ... you make me blush with your compliments.<p>Tell you what",
            "points": None,
            "parent_id": 8863,
            "story_id": 8863,
            "options": [],
            "children": [
                {
                    "id": 9300,
                    "created_at_i": 1175715000,
                    "type": "comment",
                    "author": None,
                    "text": None,
                    "points": None,
                    "parent_id": 9224,
                    "story_id": 8863,
                    "options": [],
                    "children": [],
                }
            ],
        }
    ],
}


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ({"type": "story", "title": "Ask HN: anything?"}, "ask"),
        ({"type": "story", "title": "Show HN: my tool"}, "show"),
        ({"type": "story", "title": "A story about Ask HN"}, "story"),
        ({"type": "story"}, "story"),
        ({"type": "job", "title": "Acme (YC S21) is hiring"}, "job"),
        ({"type": "poll", "title": "Ask HN: Poll: tabs or spaces?"}, "poll"),
    ],
)
def test_story_kinds(item: dict[str, Any], kind: str) -> None:
    assert story_kind(item) == kind


def test_comments_and_poll_options_inherit_their_story_kind() -> None:
    assert story_kind({"type": "comment"}, "show") == "show"
    assert story_kind({"type": "pollopt"}, "poll") == "poll"
    assert story_kind({"type": "comment"}) == "story"  # story unknown
    record = firebase_record(FIREBASE_COMMENT, "ask")
    assert isinstance(record, dict) and record["source_id"] == "ask"


def test_firebase_records() -> None:
    story = firebase_record(FIREBASE_STORY)
    assert story == {
        "id": "hn_8863",
        "occurred_at": 1175714200,
        "source": "hackernews",
        "source_id": "ask",
        "event_type": "story",
        "payload": FIREBASE_STORY,
    }
    assert event_id(8863) == "hn_8863"
    deleted = firebase_record(FIREBASE_DELETED, "ask")
    assert isinstance(deleted, dict) and deleted["id"] == "hn_9300"
    assert RawEventDTO.model_validate(story).id == "hn_8863"  # a valid event


def _essence(record: Any) -> tuple[Any, ...]:
    assert isinstance(record, dict), record
    return tuple(record[key] for key in ("id", "occurred_at", "source", "source_id", "event_type"))


def test_algolia_tree_flattens_into_the_same_events_as_firebase_items() -> None:
    records = algolia_records(ALGOLIA_TREE)
    firebase = [
        firebase_record(FIREBASE_STORY),
        firebase_record(FIREBASE_COMMENT, "ask"),
        firebase_record(FIREBASE_DELETED, "ask"),
    ]
    assert [_essence(r) for r in records] == [_essence(r) for r in firebase]
    for record in records:
        assert isinstance(record, dict)
        assert "children" not in record["payload"] and "options" not in record["payload"]
    root = records[0]
    assert isinstance(root, dict) and root["payload"]["points"] == 111
    assert ALGOLIA_TREE["children"]  # the input is left as it was


def test_a_deep_thread_is_flattened_without_recursion() -> None:
    node: dict[str, Any] = {"id": 1, "created_at_i": 10, "type": "story", "title": "t"}
    root = node
    for n in range(2, 5002):
        child = {"id": n, "created_at_i": 10 + n, "type": "comment", "text": "x"}
        node["children"] = [child]
        node = child
    records = algolia_records(root)
    assert len(records) == 5001
    assert [r["id"] for r in records if isinstance(r, dict)][:3] == ["hn_1", "hn_2", "hn_3"]


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (None, "null"),
        ([], "not an object"),
        ({"type": "story", "time": 1}, "no integer id"),
        ({"id": "12", "type": "story", "time": 1}, "no integer id"),
        ({"id": 12, "type": "story"}, "no time"),
        ({"id": 12, "time": 1}, "no type"),
    ],
)
def test_bad_items_are_rejected_with_a_reason(item: Any, reason: str) -> None:
    record = firebase_record(item)
    assert isinstance(record, Rejected)
    assert reason in record.reason and record.reason.startswith("hackernews: ")


def test_a_bad_node_in_a_tree_is_rejected_and_its_children_kept() -> None:
    tree = {
        "id": 1,
        "created_at_i": 5,
        "type": "story",
        "title": "Show HN: x",
        "children": [
            {
                "id": 2,
                "type": "comment",
                "children": [{"id": 3, "created_at_i": 7, "type": "comment"}],
            }
        ],
    }
    _root, bad, last = algolia_records(tree)
    assert isinstance(bad, Rejected) and "no time" in bad.reason
    assert isinstance(last, dict) and (last["id"], last["source_id"]) == ("hn_3", "show")
    assert algolia_records(None)[0] == Rejected(
        {"source": "hackernews", "payload": None},
        "hackernews: item is null (the API has no such item)",
    )


# --- settings --------------------------------------------------------------------------


def test_settings_defaults_environment_and_user_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentiment_pipeline import __version__

    defaults = HackerNewsSettings()
    assert defaults.hn_api_url == "https://hacker-news.firebaseio.com/v0"
    assert defaults.hn_search_url == "https://hn.algolia.com/api/v1"
    assert user_agent(defaults).startswith(f"sentpipe/{__version__} (")
    monkeypatch.setenv("SENTPIPE_HN_API_URL", "http://127.0.0.1:9/v0")
    monkeypatch.setenv("SENTPIPE_HN_USER_AGENT", "my-study/1.0")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.hn_api_url == "http://127.0.0.1:9/v0"
    assert user_agent(settings) == "my-study/1.0"
    assert source_spec("hackernews").settings is HackerNewsSettings


# --- the source contract ---------------------------------------------------------------


def test_the_spec_is_registered_and_reads_hn_text() -> None:
    assert "hackernews" in BUILTIN_SOURCES
    spec = source_spec("hackernews")
    assert spec.name == "hackernews" and spec.target_label == "kind"
    payload = {"title": "Show HN: a thing", "text": "I&#x27;m <i>proud</i> of it"}
    assert spec.text("story", payload) == "Show HN: a thing\n\nI'm proud of it"
    assert event_text("hackernews", "comment", {"text": "So <b>good</b> &amp; fun"}) == (
        "So good & fun"
    )


def _line(record: Any) -> str:
    assert isinstance(record, dict)
    return json.dumps(record)


def test_stored_hn_events_are_scored_and_exported(tmp_path: Path) -> None:
    env = {
        "SENTPIPE_DATABASE_URL": f"sqlite:///{tmp_path / 'hn.db'}",
        "SENTPIPE_DATA_DIR": str(tmp_path / "data"),
    }
    story = {**FIREBASE_STORY, "text": "I love it&#x27;s <i>great</i> design!"}
    comment = {**ALGOLIA_TREE["children"][0], "text": "Wonderful &amp; happy.<p>Thanks!"}
    comment["children"] = []
    lines = [_line(firebase_record(story)), *map(_line, algolia_records(comment, "ask"))]
    source = tmp_path / "hn.ndjson"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert invoke("db", "init", env=env).exit_code == 0
    ingested = invoke("ingest", "ndjson", str(source), "--sink", "database", env=env)
    assert ingested.exit_code == 0, ingested.output

    scored = invoke("sentiment", "score", "--json", env=env)
    assert scored.exit_code == 0, scored.output
    run = json.loads(scored.output)
    assert (run["scored"], run["skipped"], run["waiting"]) == (2, 0, 0)

    columns = "id,source_id,author,title,text,url,score,parent_id,sentiment_compound"
    exported = invoke("export", "csv", "-o", "-", "--columns", columns, env=env)
    assert exported.exit_code == 0, exported.output
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(exported.output))}
    assert rows["hn_8863"]["author"] == "dhouston"
    assert rows["hn_8863"]["title"] == FIREBASE_STORY["title"]
    assert rows["hn_8863"]["url"] == FIREBASE_STORY["url"]
    assert rows["hn_8863"]["score"] == "111"
    assert rows["hn_8863"]["source_id"] == "ask"
    assert rows["hn_9224"]["author"] == "norvig"  # Algolia's key
    assert rows["hn_9224"]["parent_id"] == "8863"  # Algolia's parent_id
    assert rows["hn_9224"]["source_id"] == "ask"
    for key in ("hn_8863", "hn_9224"):
        assert float(rows[key]["sentiment_compound"]) > 0  # both are glad
    # The export's text column is HN's HTML as plain text, by the rule of the text the
    # scorer reads (sp_html_text: tests/test_export_hn_text.py).
    assert rows["hn_9224"]["text"] == "Wonderful & happy.\n\nThanks!"
    assert rows["hn_8863"]["text"] == "I love it's great design!"
