"""`sentiment report --html`: one self-contained page. Its figures against `--json`, its
top events against the stored scores, its escaping, its errors; and the page in a real
headless Chromium driven over the DevTools protocol: no console error, no request but
the file itself, a screenshot that is not blank, the figures read from the page equal to
`sentiment report --json` of the same filters (SQLite through the installed `sentpipe`
command, TimescaleDB in-process)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline.sentiment.top import HN_ITEM, event_link, excerpt
from tests.fixtures.cli import invoke
from tests.fixtures.rollup import rebuild_rollup
from tests.test_sentiment_charts import (
    START,
    reddit_event,
    seed,
    seeded_events,
    stored_scores,
)

SENTPIPE = str(Path(sys.executable).with_name("sentpipe"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = '</script><img src=x onerror=alert(1)> & "quoted" <b>bold</b>'


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def hostile_events() -> list[dict[str, Any]]:
    """A hostile text in r/python, and a Hacker News comment (its link: the item page)."""
    hostile = reddit_event(
        90_001,
        "python",
        START + timedelta(hours=5),
        f"Wonderful!!! I love it, amazing and great :) {HOSTILE}",
    )
    hn = {
        "id": "hn_4242",
        "occurred_at": START + timedelta(hours=6),
        "source": "hackernews",
        "source_id": "ask",
        "event_type": "comment",
        "payload": {"type": "comment", "text": "This is <i>terrible</i>, awful &amp; sad"},
    }
    return [hostile, hn]


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(tmp_path)}


def _json_block(page: str, ident: str) -> Any:
    start = page.index(f'<script type="application/json" id="{ident}">')
    start = page.index(">", start) + 1
    return json.loads(page[start : page.index("</script>", start)])


# --- the page's parts ---------------------------------------------------------------------


def test_event_links() -> None:
    assert event_link("reddit", "t1_x", {"permalink": "/r/a/comments/b/c/"}) == (
        "https://www.reddit.com/r/a/comments/b/c/"
    )
    assert event_link("hackernews", "hn_123", {"url": "https://example.org/a"}) == (HN_ITEM + "123")
    assert event_link("reddit", "t1_x", {"permalink": "javascript:alert(1)"}) is None
    assert event_link("reddit", "t1_x", {"permalink": "//evil.example/x"}) is None
    assert event_link("reddit", "t1_x", {}) is None
    assert event_link("somefeed", "a1", {"url": "http://feed.example/a1"}) == (
        "http://feed.example/a1"
    )
    assert excerpt("a \n\n b\tc") == "a b c"
    cut = excerpt("word " * 200, 50)
    assert len(cut) == 50 and cut.endswith("…")


def test_html_figures_top_events_and_escaping(sqlite_url: str, tmp_path: Path) -> None:
    engine = seed(sqlite_url, seeded_events(("python", "stocks")) + hostile_events(), tmp_path)
    page_path = tmp_path / "report.html"
    args = ("sentiment", "report", "--source", "reddit", "--since", "2024-03-04")
    result = invoke(*args, "--html", str(page_path), "--json", env=_env(sqlite_url, tmp_path))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    page = page_path.read_text(encoding="utf-8")
    assert _json_block(page, "sentpipe-report") == data  # exactly --json

    # self-contained: no script that runs, nothing fetched, no font
    assert page.count("<script") == 2 and page.count('type="application/json"') == 2
    for needle in ("<link", "@import", "@font-face", "<text", "<img", "<iframe", "<object"):
        assert needle not in page, needle
    assert re.search(r"<[a-z][^<>]*\s(src|srcset|action)=", page, re.IGNORECASE) is None
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert re.findall(r"url\((.)", page) and set(re.findall(r"url\((.)", page)) == {"#"}
    assert set(re.findall(r'href="(.)', svg)) == {"#"}  # only its own definitions
    assert "default-src 'none'" in page
    # escaped user text
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page

    # the top events: the stored scores of the same filters, by compound
    scores = [
        s for s in stored_scores(engine) if s["source"] == "reddit" and s["model"] == data["model"]
    ]
    top = _json_block(page, "sentpipe-top")
    ranked = sorted(
        (s for s in scores if s["compound"] > 0), key=lambda s: (-s["compound"], s["id"])
    )
    assert [i["id"] for i in top["positive"]] == [s["id"] for s in ranked[:5]]
    ranked = sorted(
        (s for s in scores if s["compound"] < 0), key=lambda s: (s["compound"], s["id"])
    )
    assert [i["id"] for i in top["negative"]] == [s["id"] for s in ranked[:5]]
    for item in top["positive"] + top["negative"]:
        assert item["link"].startswith("https://www.reddit.com/r/")
        assert f'href="{item["link"]}"' in page
    engine.dispose()


def test_html_lists_hacker_news_item_links(sqlite_url: str, tmp_path: Path) -> None:
    seed(sqlite_url, hostile_events(), tmp_path).dispose()
    page_path = tmp_path / "r.html"
    result = invoke(
        "sentiment", "report", "--source", "hackernews", "--html", str(page_path),
        env=_env(sqlite_url, tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Wrote {page_path}" in result.output  # the table output, then what was written
    top = _json_block(page_path.read_text(), "sentpipe-top")
    assert [(i["id"], i["link"]) for i in top["negative"]] == [("hn_4242", HN_ITEM + "4242")]
    assert top["negative"][0]["excerpt"] == "This is terrible, awful & sad"


def test_html_unwritable_path_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    seed(sqlite_url, seeded_events(("python",), days=1), tmp_path).dispose()
    for target in (tmp_path / "missing" / "r.html", tmp_path):
        result = invoke(
            "sentiment", "report", "--html", str(target), env=_env(sqlite_url, tmp_path)
        )
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) <= 2  # the error and what to do
        assert str(target) in result.output


class _Page(HTMLParser):
    """The tags of a page, the text of its cells and its JSON data blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.blocks: dict[str, Any] = {}
        self._cell: list[str] | None = None
        self._block: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "td":
            self._cell = []
        if tag == "script":
            assert values.get("type") == "application/json"
            self._block = values["id"]
        if tag == "a":
            self.hrefs.append(values["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None
        if tag == "script":
            self._block = None

    def handle_data(self, data: str) -> None:
        if self._block is not None:
            self.blocks[self._block] = json.loads(data)
        elif self._cell is not None:
            self._cell.append(data)


_ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "thead",
    "tbody", "tr", "th", "td", "a", "div", "svg", "script",
}  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    source_id=st.text(min_size=1, max_size=30),
    topic=st.text(min_size=1, max_size=30),
    text=st.text(max_size=80),
    link=st.text(max_size=40),
)
def test_page_escapes_any_text(source_id: str, topic: str, text: str, link: str) -> None:
    from sentiment_pipeline.sentiment.figures import Sums
    from sentiment_pipeline.sentiment.html import render_html
    from sentiment_pipeline.sentiment.report import ReportRow, SentimentReport
    from sentiment_pipeline.sentiment.top import TopItem

    row = ReportRow.of(("reddit", source_id, topic, None), START, Sums(3, 2, 0, 1, 0.5, 0.9))
    report = SentimentReport(
        "vader", "1d", None, None, (source_id,), [row], (topic,), "any", ("subreddit", "topic")
    )
    item = TopItem("t1_" + text, "reddit", source_id, START, 0.5, text, "https://x.org/" + link)
    page = render_html(report, "<svg></svg>", [item], [], START)
    parsed = _Page()
    parsed.feed(page)
    parsed.close()
    assert set(parsed.tags) <= _ALLOWED_TAGS and parsed.tags.count("script") == 2
    assert parsed.blocks["sentpipe-report"] == report.to_dict()
    assert parsed.blocks["sentpipe-top"]["positive"] == [item.to_dict()]
    assert text in parsed.cells and f"reddit/{source_id}" in parsed.cells
    assert parsed.hrefs == ["https://x.org/" + link]


# --- in a real browser --------------------------------------------------------------------


class DevTools:
    """A small client of the Chrome DevTools protocol over one websocket: `call` sends a
    command (to a page `session`, flattened) and returns its result; events arriving
    meanwhile are kept in `events`."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self._id:
                assert "error" not in reply, (method, reply["error"])
                result: dict[str, Any] = reply["result"]
                return result
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not any(e["method"] == method for e in self.events):
            assert time.monotonic() < deadline, f"no {method} within {timeout}s"
            reply = json.loads(self.ws.recv())
            if "method" in reply:
                self.events.append(reply)
        return next(e for e in self.events if e["method"] == method)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def browser() -> Iterator[DevTools]:
    """A headless Chromium of its own (profile in a temporary folder), as DevTools."""
    if CHROMIUM is None:
        if _in_ci():
            pytest.fail("chromium is not installed; CI=true, so this test may not skip")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="sentpipe-chromium-")
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--hide-scrollbars",
        f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
    ]  # fmt: skip
    log = open(Path(profile) / "stderr.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().split()) == 2):
            assert process.poll() is None, (Path(profile) / "stderr.log").read_text()
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port, path = port_file.read_text().split()
        tools = DevTools(f"ws://127.0.0.1:{port}{path}")
        try:
            yield tools
        finally:
            tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


_READ_PAGE = """JSON.stringify({
  block: JSON.parse(document.getElementById('sentpipe-report').textContent),
  rows: [...document.querySelectorAll('#figures tbody tr')].map(tr => ({
    attrs: {...tr.dataset},
    cells: Object.fromEntries([...tr.querySelectorAll('td[data-key]')].map(
      td => [td.dataset.key, td.textContent]))
  })),
  filters: Object.fromEntries([...document.querySelectorAll('#filters tr')].map(
    tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent])),
  svgs: document.querySelectorAll('svg').length,
  paths: document.querySelectorAll('svg path').length,
  title: document.title
})"""


def load(browser: DevTools, page: Path) -> tuple[dict[str, Any], bytes, list[dict[str, Any]]]:
    """Open `page` in a new tab: (what _READ_PAGE read, a PNG screenshot, the events)."""
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        browser.call(f"{domain}.enable", session)
    browser.call(
        "Emulation.setDeviceMetricsOverride", session,
        width=1280, height=1400, deviceScaleFactor=1, mobile=False,
    )  # fmt: skip
    browser.events.clear()
    browser.call("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired")
    read = browser.call("Runtime.evaluate", session, expression=_READ_PAGE, returnByValue=True)
    shot = browser.call("Page.captureScreenshot", session, format="png")
    events = [e for e in browser.events if e.get("sessionId") == session]
    browser.call("Target.closeTarget", targetId=target)
    return json.loads(read["result"]["value"]), base64.b64decode(shot["data"]), events


def _number(text: str) -> float | list[float] | None:
    """A figure cell's text as the JSON value: `0.25`, `[low, high]` from `low – high`,
    None from `–`."""
    if text == "–":
        return None
    if " – " in text:
        return [float(part) for part in text.split(" – ")]
    return float(text)


def check_page(page: Path, figures: dict[str, Any], browser: DevTools) -> None:
    """The page in Chromium: no console error, no request but its own, not blank, and
    the figures it shows equal `figures` (`sentiment report --json`)."""
    read, png, events = load(browser, page)
    requests = [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]
    assert requests == [page.as_uri()]
    errors = [
        e
        for e in events
        if e["method"] == "Runtime.exceptionThrown"
        or (
            e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in {"error", "assert"}
        )
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == [], "errors"

    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1200
    rgb = (pixels[..., :3] * 255).astype("uint8").reshape(-1, 3)
    colours = {tuple(p) for p in rgb[:: max(1, len(rgb) // 200_000)]}
    assert len(colours) > 50  # text, lines and bands, not a blank page
    assert (rgb.min(axis=1) < 200).mean() > 0.01  # more than a few dark pixels

    assert read["block"] == figures
    assert read["svgs"] == 1 and read["paths"] > 50
    assert len(read["rows"]) == len(figures["rows"])
    for shown, row in zip(read["rows"], figures["rows"], strict=True):
        assert shown["attrs"]["source"] == row["source"]
        assert shown["attrs"]["sourceId"] == row["source_id"]
        assert shown["attrs"]["bucketStart"] == row["bucket_start"]
        for key, text in shown["cells"].items():
            assert _number(text) == row[key], (key, text, row)
        assert shown["attrs"].get("language") == row.get("language")
        assert set(shown["cells"]) == set(row) - {
            "source", "source_id", "bucket_start", "topic", "language",
        }  # fmt: skip
    assert read["filters"]["model"] == figures["model"]


def test_page_in_chromium_sqlite_installed_command(
    sqlite_url: str, tmp_path: Path, browser: DevTools
) -> None:
    seed(sqlite_url, seeded_events(("python", "stocks", "news")) + hostile_events(), tmp_path)
    page = tmp_path / "report.html"
    filters = ["--since", "2024-03-05", "--subreddit", "python", "--subreddit", "stocks"]
    run = subprocess.run(
        [SENTPIPE, "sentiment", "report", *filters, "--json", "--html", str(page)],
        env={**os.environ, **_env(sqlite_url, tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    assert {r["source_id"] for r in figures["rows"]} == {"python", "stocks"}
    assert any(r["net_sentiment_ci95"] is None for r in figures["rows"])  # a one-event day
    check_page(page, figures, browser)


@pytest.mark.parametrize("groups", [2, 6])  # overlaid, and one panel per group
def test_page_in_chromium_timescale(
    timescale_url: str, tmp_path: Path, browser: DevTools, groups: int
) -> None:
    subs = tuple(f"sub{k}" for k in range(groups))
    seed(timescale_url, seeded_events(subs, days=5), tmp_path).dispose()
    page = tmp_path / "report.html"
    env = _env(timescale_url, tmp_path)
    filters = ("--until", "2024-03-08", "--by", "subreddit", "--by", "language")
    result = invoke("sentiment", "report", *filters, "--json", env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert len({r["source_id"] for r in figures["rows"]}) == groups
    result = invoke("sentiment", "report", *filters, "--html", str(page), env=env)
    assert result.exit_code == 0, result.output
    check_page(page, figures, browser)


def test_page_check_sees_requests_and_errors(
    sqlite_url: str, tmp_path: Path, browser: DevTools
) -> None:
    """The browser check is not blind: a page that fetches something, or logs an error,
    fails it."""
    seed(sqlite_url, seeded_events(("python",), days=2), tmp_path).dispose()
    page = tmp_path / "report.html"
    env = _env(sqlite_url, tmp_path)
    result = invoke("sentiment", "report", "--json", "--html", str(page), env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    check_page(page, figures, browser)
    text = page.read_text()
    fetching = tmp_path / "fetching.html"  # no policy: the image is requested
    fetching.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text).replace(
            "<h2>Chart</h2>", '<h2>Chart</h2><img src="http://127.0.0.1:59999/x.png" alt="">'
        )
    )
    with pytest.raises(AssertionError, match=re.escape("127.0.0.1:59999")):
        check_page(fetching, figures, browser)
    blocked = tmp_path / "blocked.html"  # the policy refuses a script, and says so: an error
    blocked.write_text(text.replace("<h2>Chart</h2>", "<h2>Chart</h2><script>1</script>"))
    with pytest.raises(AssertionError, match="errors"):
        check_page(blocked, figures, browser)


@pytest.mark.parametrize("grouped_by_topic", [False, True])
def test_top_items_follow_the_report_filters(
    any_db_url: str, tmp_path: Path, grouped_by_topic: bool
) -> None:
    from sentiment_pipeline.db.models import EventTopicORM
    from sentiment_pipeline.db.url import parse_database_url
    from sentiment_pipeline.sentiment import sentiment_report
    from sentiment_pipeline.sentiment.top import top_items

    events = seeded_events(("python", "stocks"))
    engine = seed(any_db_url, events, tmp_path)
    links = [
        {"id": e["id"], "occurred_at": e["occurred_at"], "topic": "markets",
         "via": "text" if i % 2 else "post"}
        for i, e in enumerate(events) if i % 3
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(sa.insert(EventTopicORM.__table__), links)
        rebuild_rollup(connection)  # links written around sentpipe
    url = parse_database_url(any_db_url)
    since, until = START + timedelta(days=1), START + timedelta(days=3)
    if grouped_by_topic:  # no topic filter: every event linked to a topic, any link
        report = sentiment_report(url, since=since, until=until, by=("topic",))
        linked = {link["id"] for link in links}
    else:
        report = sentiment_report(
            url, since=since, until=until, source_ids=("python",), topics=("markets",),
            via="text", languages=("en",),
        )  # fmt: skip
        linked = {link["id"] for link in links if link["via"] == "text"}
    assert report.rows
    positive, negative = top_items(url, report, 4)
    kept = [
        s for s in stored_scores(engine)
        if s["model"] == report.model and since <= s["occurred_at"] < until
        and s["id"] in linked
        and (grouped_by_topic or (s["source_id"] == "python" and s["language"] == "en"))
    ]  # fmt: skip
    assert len(kept) > 8
    want = sorted((s for s in kept if s["compound"] > 0), key=lambda s: (-s["compound"], s["id"]))
    assert [(i.id, i.compound) for i in positive] == [
        (s["id"], round(s["compound"], 4)) for s in want[:4]
    ]
    want = sorted((s for s in kept if s["compound"] < 0), key=lambda s: (s["compound"], s["id"]))
    want = want[:4]
    assert [i.id for i in negative] == [s["id"] for s in want]
    assert all(since <= i.occurred_at < until for i in positive)  # aware, in range
    assert all(i.link and i.link.startswith("https://www.reddit.com/r/") for i in negative)
    assert all(i.excerpt.endswith("today") for i in positive + negative)
    engine.dispose()


def test_html_of_an_empty_report(sqlite_url: str, tmp_path: Path) -> None:
    seed(sqlite_url, seeded_events(("python",), days=1), tmp_path).dispose()
    page_path = tmp_path / "empty.html"
    result = invoke(
        "sentiment", "report", "--until", "2020-01-01", "--html", str(page_path), "--json",
        env=_env(sqlite_url, tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = page_path.read_text()
    assert _json_block(page, "sentpipe-report") == json.loads(result.output)
    assert json.loads(result.output)["rows"] == []
    assert "No rows" in page and "<svg" in page
    assert _json_block(page, "sentpipe-top") == {"positive": [], "negative": []}


def _scored(compounds: list[float]) -> list[dict[str, Any]]:
    """Reddit comments whose VADER compound has the sign of each of `compounds`."""
    text = {1: "I love this, wonderful and great :)", 0: "the market", -1: "awful, I hate it"}
    return [
        reddit_event(i, "python", START + timedelta(minutes=i), text[int(c > 0) - int(c < 0)])
        for i, c in enumerate(compounds)
    ]


@pytest.mark.parametrize(
    "signs", [[1], [-1], [0], [1, 0, -1], [1, 1, -1, 0, 0], [-1] * 7 + [1], [1] * 12 + [-1] * 3]
)
def test_top_lists_are_disjoint_and_on_their_side(
    any_db_url: str, tmp_path: Path, signs: list[int]
) -> None:
    """Fewer events than the lists hold: each event in at most one list, a positive one
    only among the most positive, a negative one only among the most negative; a
    neutral one in neither."""
    from sentiment_pipeline.db.url import parse_database_url
    from sentiment_pipeline.sentiment import sentiment_report
    from sentiment_pipeline.sentiment.top import top_items

    engine = seed(any_db_url, _scored([float(s) for s in signs]), tmp_path)
    scores = {s["id"]: s["compound"] for s in stored_scores(engine)}
    engine.dispose()
    assert sorted((c > 0) - (c < 0) for c in scores.values()) == sorted(signs)
    url = parse_database_url(any_db_url)
    positive, negative = top_items(url, sentiment_report(url), 10)
    assert all(i.compound > 0 for i in positive) and all(i.compound < 0 for i in negative)
    ranked = sorted(scores.items(), key=lambda kc: (-kc[1], kc[0]))
    assert [i.id for i in positive] == [k for k, c in ranked if c > 0][:10]
    ranked = sorted(scores.items(), key=lambda kc: (kc[1], kc[0]))
    assert [i.id for i in negative] == [k for k, c in ranked if c < 0][:10]


def test_html_says_when_a_list_is_empty(sqlite_url: str, tmp_path: Path) -> None:
    seed(sqlite_url, _scored([1.0]), tmp_path).dispose()
    page_path = tmp_path / "one.html"
    result = invoke("sentiment", "report", "--html", str(page_path), env=_env(sqlite_url, tmp_path))
    assert result.exit_code == 0, result.output
    page = page_path.read_text()
    top = _json_block(page, "sentpipe-top")
    assert len(top["positive"]) == 1 and top["negative"] == []
    assert "Most negative (0)" in page and "No event with a negative compound" in page


@pytest.mark.parametrize("spelling", ["same", "dot", "dotdot", "symlink", "hardlink"])
def test_one_file_for_plot_and_html_is_refused_before_any_query(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    import sentiment_pipeline.sentiment as sentiment

    seed(sqlite_url, seeded_events(("python",), days=1), tmp_path).dispose()
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(tmp_path)
    plot = "out/j.png"
    other = {
        "same": "out/j.png",
        "dot": "./out/j.png",
        "dotdot": f"{out}/../out/j.png",
        "symlink": "link.html",
        "hardlink": "hard.png",
    }[spelling]
    if spelling == "symlink":
        (tmp_path / "link.html").symlink_to(out / "j.png")  # dangling: j.png not yet made
    if spelling == "hardlink":
        (out / "j.png").write_bytes(b"old")
        (tmp_path / "hard.png").hardlink_to(out / "j.png")

    def no_query(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("queried")

    monkeypatch.setattr(sentiment, "sentiment_report", no_query)
    result = invoke(
        "sentiment", "report", "--plot", plot, "--html", other, env=_env(sqlite_url, tmp_path)
    )
    assert result.exit_code == 2, result.output
    assert "same file" in result.output and len(result.output.strip().splitlines()) <= 2
    assert not (out / "j.png").exists() or (out / "j.png").read_bytes() == b"old"


def test_plot_and_html_to_different_files_both_written(sqlite_url: str, tmp_path: Path) -> None:
    seed(sqlite_url, seeded_events(("python",), days=2), tmp_path).dispose()
    plot, page = tmp_path / "j.png", tmp_path / "j.html"
    result = invoke(
        "sentiment", "report", "--plot", str(plot), "--html", str(page),
        env=_env(sqlite_url, tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert plot.read_bytes().startswith(b"\x89PNG") and "<svg" in page.read_text()
