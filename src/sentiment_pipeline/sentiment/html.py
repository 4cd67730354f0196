"""`sentiment report --html`: the report as one self-contained HTML file.

The page needs nothing outside itself: the chart is inline SVG (`plot.svg_markup`, text
drawn as paths, so no font), the style is inline, there is no script that runs and no
image, font or style sheet to fetch; a Content-Security-Policy of `default-src 'none'`
says so to the browser too. It holds the filters it was made with, the chart, a table
of the figures per group per bucket with their 95 % intervals, and the most positive
and most negative events (`top.top_items`: compound above 0, below 0; a list without
any says so) with their links. Every text from the
database or the command line is escaped (`html.escape`).

For machines: `<script type="application/json" id="sentpipe-report">` holds exactly
`SentimentReport.to_dict()` (the `--json` shape; a JSON data block, which no browser
runs) and `id="sentpipe-top"` the top events (`TopItem.to_dict()`, under `positive`
and `negative`). Each figures row (`tr` in `#figures tbody`) carries `data-source`,
`data-source-id`, `data-topic`, `data-language` and `data-bucket-start`; each figure
cell its `data-key` (the `--json` name) and the same value as its text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from sentiment_pipeline.db.url import DatabaseURL
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sentiment.figures import Interval
from sentiment_pipeline.sentiment.report import ReportRow, SentimentReport
from sentiment_pipeline.sentiment.top import TopItem

__all__ = ["TOP_ITEMS", "check_html_path", "render_html", "write_html_report"]

TOP_ITEMS = 5  # most positive and most negative events listed
_FIGURES = ("events", "mean_compound", "mean_compound_ci95", "net_sentiment")
_FIGURES_2 = ("net_sentiment_ci95", "positive", "neutral", "negative")
_HEADINGS = {
    "events": "events",
    "mean_compound": "mean compound",
    "mean_compound_ci95": "95 % interval",
    "net_sentiment": "net sentiment",
    "net_sentiment_ci95": "95 % interval",
    "positive": "positive",
    "neutral": "neutral",
    "negative": "negative",
}
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fff; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.chart svg { max-width: 100%; height: auto; }
.note { color: #555; font-size: 0.9rem; }
"""


def check_html_path(path: Path) -> None:
    """ConfigError unless matplotlib (for the chart) is installed; before any query."""
    from sentiment_pipeline.sentiment.plot import need_matplotlib

    need_matplotlib("--html")
    if path.is_dir():
        raise ConfigError(f"--html {path} is a directory", "give a file name, e.g. report.html")


def _json_block(ident: str, data: Any) -> str:
    """A JSON data block; `<`, `>`, `&` as \\u escapes so no text can end the element."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{ident}">{text}</script>'


def _figure_text(value: Any) -> str:
    """A figure as the table shows it: a count as is, a figure to its 4 places
    (`0.2500`), an interval as `low – high`, none as `–`."""
    if value is None:
        return "–"
    if isinstance(value, tuple):
        return f"{value[0]:.4f} – {value[1]:.4f}"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def _bucket_text(start: datetime, bucket: str) -> str:
    """A bucket's start as the table shows it (UTC): the day, or the hour for `1h`."""
    moment = start.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M" if bucket == "1h" else "%Y-%m-%d")


def _value(row: ReportRow, key: str) -> int | float | Interval | None:
    value: int | float | Interval | None = getattr(row, key)
    return value


def _row(row: ReportRow, label: str, bucket: str) -> str:
    start = row.bucket.astimezone(UTC).isoformat()
    attrs = {
        "data-source": row.source,
        "data-source-id": row.source_id,
        "data-topic": row.topic,
        "data-language": row.language,
        "data-bucket-start": start,
    }
    tr = "".join(f' {k}="{escape(v)}"' for k, v in attrs.items() if v is not None)
    cells = [f"<td>{escape(label)}</td>", f"<td>{_bucket_text(row.bucket, bucket)}</td>"]
    for key in (*_FIGURES, *_FIGURES_2):
        value = _value(row, key)
        data = json.dumps(list(value) if isinstance(value, tuple) else value)
        cells.append(
            f'<td class="num" data-key="{key}" data-value="{escape(data)}">'
            f"{escape(_figure_text(value))}</td>"
        )
    return f"<tr{tr}>{''.join(cells)}</tr>"


def _figures_table(report: SentimentReport) -> str:
    if not report.rows:
        return '<p class="note" id="figures">No rows: no scores match these filters.</p>'
    head = [report.group_heading() or "group", "bucket start (UTC)"]
    head += [_HEADINGS[k] for k in (*_FIGURES, *_FIGURES_2)]
    body = []
    for label, rows in report.by_group().items():
        for row in rows:
            body.append(_row(row, label, report.bucket))
    return (
        '<table id="figures"><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def _filters(report: SentimentReport) -> list[tuple[str, str]]:
    def listed(values: Sequence[str]) -> str:
        return ", ".join(values) if values else "all"

    def moment(value: datetime | None) -> str:
        return value.astimezone(UTC).isoformat() if value else "–"

    return [
        ("model", report.model),
        ("bucket", report.bucket),
        ("grouped by", ", ".join(report.by)),
        ("since", moment(report.since)),
        ("until", moment(report.until)),
        ("sources", listed(report.sources)),
        ("source ids", listed(report.source_ids)),
        ("topics", listed(report.topics)),
        ("topic links (via)", report.via),
        ("languages", listed(report.languages)),
    ]


def _items_table(ident: str, items: Iterable[TopItem], empty: str) -> str:
    rows = []
    for item in items:
        link = (
            f'<a href="{escape(item.link)}" rel="noopener noreferrer">open</a>'
            if item.link
            else "–"
        )
        rows.append(
            f'<tr data-id="{escape(item.id)}"><td class="num">{item.compound}</td>'
            f"<td>{item.occurred_at.strftime('%Y-%m-%d %H:%M:%S')}</td>"
            f"<td>{escape(item.source)}/{escape(item.source_id)}</td>"
            f"<td>{escape(item.excerpt)}</td><td>{link}</td></tr>"
        )
    if not rows:
        return f'<p class="note" id="{ident}">{escape(empty)}</p>'
    head = "".join(f"<th>{h}</th>" for h in ("compound", "time (UTC)", "where", "text", "link"))
    return (
        f'<table id="{ident}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def render_html(
    report: SentimentReport,
    chart_svg: str,
    positive: Sequence[TopItem],
    negative: Sequence[TopItem],
    made_at: datetime,
) -> str:
    """The page (module docstring); `chart_svg` is trusted markup (`plot.svg_markup`)."""
    title = f"Sentiment report: {report.model}, per {report.bucket}"
    filters = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in _filters(report)
    )
    top = {
        "positive": [item.to_dict() for item in positive],
        "negative": [item.to_dict() for item in negative],
    }
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="note">Made {escape(made_at.astimezone(UTC).isoformat())} by '
            "sentpipe sentiment report. Intervals: 95 %, normal approximation, "
            "shown from 2 events on.</p>",
            f'<h2>Filters</h2><table id="filters"><tbody>{filters}</tbody></table>',
            f'<h2>Chart</h2><div class="chart">{chart_svg}</div>',
            "<h2>Figures per group per bucket</h2>",
            _figures_table(report),
            f"<h2>Most positive ({len(positive)})</h2>",
            _items_table("most-positive", positive, "No event with a positive compound (above 0)."),
            f"<h2>Most negative ({len(negative)})</h2>",
            _items_table("most-negative", negative, "No event with a negative compound (below 0)."),
            _json_block("sentpipe-report", report.to_dict()),
            _json_block("sentpipe-top", top),
            "</body></html>",
            "",
        ]
    )


def write_html_report(
    url: DatabaseURL, report: SentimentReport, path: Path, top: int = TOP_ITEMS
) -> None:
    """Write `report` as a page to `path`: its chart, its figures and the `top` most
    positive and most negative events of its filters (read from `url`). Raises
    ConfigError without matplotlib or for a path it cannot write."""
    from sentiment_pipeline.sentiment.plot import svg_markup
    from sentiment_pipeline.sentiment.top import top_items

    check_html_path(path)
    positive, negative = top_items(url, report, top)
    page = render_html(report, svg_markup(report), positive, negative, datetime.now(UTC))
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"cannot write {path}: {error.strerror or error}", "choose a writable path"
        ) from None
