"""`sentiment report --plot`: the chart's data (`sentiment.chart`) against figures computed
here from the stored scores, its fitted y-limits, its layout (overlaid or one panel per
group), what is drawn where (every interval visible, lines broken at gaps, bars over
their bucket, date ticks that do not overlap), its SVG (text as paths, nothing outside
itself), and the missing extra."""

from __future__ import annotations

import itertools
import math
import statistics
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.models import RawEventORM
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.sentiment import ScoreOptions, score_events, sentiment_report
from sentiment_pipeline.sentiment.chart import (
    SMALL_MULTIPLES_ABOVE,
    ChartData,
    chart_data,
    fitted_limits,
    runs,
)
from sentiment_pipeline.sentiment.figures import Sums
from sentiment_pipeline.sentiment.report import BUCKETS, ReportRow, SentimentReport
from tests.fixtures.cli import invoke

START = datetime(2024, 3, 4, tzinfo=UTC)
WORDS = (
    "great",
    "awful",
    "fine",
    "love it",
    "hate this",
    "meh",
    "the market",
    ":)",
    "terrible",
    "wonderful",
)
Z = statistics.NormalDist().inv_cdf(0.975)


def reddit_event(i: int, sub: str, moment: datetime, text: str) -> dict[str, Any]:
    return {
        "id": f"t1_{i:06d}",
        "occurred_at": moment,
        "source": "reddit",
        "source_id": sub,
        "event_type": "comment",
        "payload": {
            "subreddit": sub,
            "body": text,
            "permalink": f"/r/{sub}/comments/abc/x/c{i}/",
        },
    }


def seeded_events(subs: tuple[str, ...], days: int = 4) -> list[dict[str, Any]]:
    """Per subreddit per day a different number of comments (one day of one comment:
    no interval), texts mixed so shares and means differ."""
    out: list[dict[str, Any]] = []
    for k, sub in enumerate(subs):
        for day in range(days):
            count = 1 if (k + day) % 5 == 3 else (k * 7 + day * 13) % 29 + 2
            for j in range(count):
                i = len(out)
                text = f"{WORDS[(i * 7 + k) % 10]} and {WORDS[(i * 3 + day) % 10]} today"
                moment = START + timedelta(days=day, minutes=j * 11 + k)
                out.append(reddit_event(i, sub, moment, text))
    return out


def seed(url: str, events: list[dict[str, Any]], tmp_path: Path) -> sa.Engine:
    """`events` stored and scored (VADER) in a fresh database at `url`."""
    parsed = parse_database_url(url)
    init_db(parsed)
    engine = sa.create_engine(parsed.sqlalchemy)
    with engine.begin() as connection:
        connection.execute(sa.insert(RawEventORM.__table__), events)
    score_events(parsed, ScoreOptions(), lock_path=tmp_path / "score.lock")
    return engine


def stored_scores(engine: sa.Engine) -> list[dict[str, Any]]:
    """The score rows, `occurred_at` as an aware UTC datetime."""
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM sentiment_scores")).mappings().all()
    out = []
    for row in rows:
        moment = row["occurred_at"]
        moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        out.append(
            {**row, "occurred_at": moment.replace(tzinfo=UTC) if not moment.tzinfo else moment}
        )
    return out


def _interval(values: list[float]) -> tuple[float, float] | None:
    """The 95 % normal-approximation interval of the mean of `values`, computed here."""
    if len(values) < 2:
        return None
    centre = statistics.fmean(values)
    half = Z * statistics.stdev(values) / math.sqrt(len(values))
    return max(-1.0, centre - half), min(1.0, centre + half)


def direct_figures(engine: sa.Engine) -> dict[tuple[str, datetime], dict[str, Any]]:
    """Per (subreddit, day): net sentiment, mean compound and their intervals, events."""
    groups: dict[tuple[str, datetime], list[dict[str, Any]]] = defaultdict(list)
    for row in stored_scores(engine):
        day = row["occurred_at"].astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        groups[(row["source_id"], day)].append(row)
    out = {}
    for key, rows in groups.items():
        compounds = [float(r["compound"]) for r in rows]
        signs = [{"positive": 1.0, "neutral": 0.0, "negative": -1.0}[r["label"]] for r in rows]
        out[key] = {
            "events": len(rows),
            "mean": statistics.fmean(compounds),
            "mean_ci": _interval(compounds),
            "net": statistics.fmean(signs),
            "net_ci": _interval(signs),
        }
    return out


def _close(got: Any, want: Any) -> bool:
    if want is None or got is None:
        return got is None and want is None
    if isinstance(want, tuple):
        return all(_close(g, w) for g, w in zip(got, want, strict=True))
    return abs(got - want) <= 1.01e-4  # the report rounds to 4 places


def test_chart_data_equals_direct_computation(sqlite_url: str, tmp_path: Path) -> None:
    engine = seed(sqlite_url, seeded_events(("python", "stocks", "news")), tmp_path)
    chart = chart_data(sentiment_report(parse_database_url(sqlite_url), bucket="1d"))
    want = direct_figures(engine)
    got = {}
    for series in chart.series:
        for i, moment in enumerate(series.times):
            got[(series.label, moment)] = {
                "events": series.events[i],
                "mean": series.mean[i],
                "mean_ci": series.mean_ci[i],
                "net": series.net[i],
                "net_ci": series.net_ci[i],
            }
    assert got.keys() == want.keys()
    for key, figures in want.items():
        for name, value in figures.items():
            assert _close(got[key][name], value), (key, name, got[key][name], value)
    assert any(ci is None for s in chart.series for ci in s.net_ci)  # a one-event day
    assert any(ci is not None and ci[0] < ci[1] for s in chart.series for ci in s.net_ci)
    low, high = chart.ylim
    edges = []
    for series in chart.series:
        for which in ("net", "mean"):
            lows, highs = series.band(which)
            edges += lows + highs
    assert all(low < v < high for v in edges) and low < 0 < high
    assert chart.ylim == fitted_limits(edges)
    assert chart.max_events == max(f["events"] for f in want.values())
    engine.dispose()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-1, max_value=1, allow_nan=False), max_size=40))
def test_fitted_limits_hold_values_and_zero(values: list[float]) -> None:
    low, high = fitted_limits(values)
    assert low < 0 < high
    assert all(low < v < high for v in values)
    assert high - low >= 0.1  # a flat series still gets an axis
    assert low > -1.2 and high < 1.2


def test_fitted_limits_zoom_in_on_small_means() -> None:
    low, high = fitted_limits([0.02, 0.05, 0.08, 0.01])
    assert low < 0 < 0.08 < high and high - low < 0.2


@pytest.mark.parametrize("groups", [3, SMALL_MULTIPLES_ABOVE + 1])
def test_layout_overlaid_or_one_panel_per_group(
    sqlite_url: str, tmp_path: Path, groups: int
) -> None:
    import matplotlib.pyplot as plt

    from sentiment_pipeline.sentiment.plot import draw

    subs = tuple(f"sub{k}" for k in range(groups))
    seed(sqlite_url, seeded_events(subs, days=3), tmp_path).dispose()
    chart = chart_data(sentiment_report(parse_database_url(sqlite_url)))
    figure = draw(chart)
    try:
        axes = figure.get_axes()
        if groups > SMALL_MULTIPLES_ABOVE:
            assert chart.small_multiples and len(axes) == 2 * groups  # sentiment + volume
            panels = axes[0::2]
            assert [ax.get_title() for ax in panels] == list(subs)
        else:
            assert not chart.small_multiples and len(axes) == 3  # net, mean, volume
            panels = axes[:2]
            assert len(axes[2].patches) == sum(len(s.events) for s in chart.series)
        assert all(ax.get_ylim() == pytest.approx(chart.ylim) for ax in panels)
    finally:
        plt.close(figure)


def test_svg_plot_has_text_as_paths_and_no_outside_reference(
    sqlite_url: str, tmp_path: Path
) -> None:
    seed(sqlite_url, seeded_events(("python",)), tmp_path).dispose()
    svg = tmp_path / "chart.svg"
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    result = invoke("sentiment", "report", "--plot", str(svg), env=env)
    assert result.exit_code == 0, result.output
    text = svg.read_text()
    assert "<svg" in text and "<path" in text
    assert "<text" not in text and 'href="http' not in text and "@font-face" not in text


def test_unwritable_plot_path_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    seed(sqlite_url, seeded_events(("python",), days=1), tmp_path).dispose()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    result = invoke("sentiment", "report", "--plot", str(tmp_path / "no" / "c.png"), env=env)
    assert result.exit_code == 2
    assert "cannot write" in result.output and len(result.output.strip().splitlines()) <= 2


@pytest.mark.parametrize("option", [("--plot", "c.png"), ("--html", "r.html")])
def test_without_matplotlib_one_line_naming_the_extra(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: tuple[str, str]
) -> None:
    init_db(parse_database_url(sqlite_url))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    name, file = option
    result = invoke("sentiment", "report", name, str(tmp_path / file), env=env)
    assert result.exit_code == 2
    assert f"{name} needs matplotlib" in result.output
    assert "pip install 'sentpipe[plot]'" in result.output
    assert not (tmp_path / file).exists()


# --- what is drawn where ------------------------------------------------------------------

DAY0 = datetime(2026, 12, 7, tzinfo=UTC)


def synthetic_report(bucket: str, starts: dict[str, list[datetime]]) -> SentimentReport:
    """A report of the given bucket starts per subreddit, 20 to 219 events each (so
    every bucket has an interval), figures varying from bucket to bucket."""
    rows = []
    for g, (sub, times) in enumerate(starts.items()):
        for i, moment in enumerate(times):
            n = 20 + (i * 37 + g * 11) % 200
            positive, negative = n * 2 // 5 + i % 3, n * 3 // 10
            mean = 0.1 * math.sin(i / 3 + g)
            sums = Sums(n, positive, n - positive - negative, negative, mean * n, 0.3 * n)
            rows.append(ReportRow.of(("reddit", sub, None, None), moment, sums))
    rows.sort(key=lambda r: (r.source_id or "", r.bucket))
    return SentimentReport("vader", bucket, rows=rows)


def _days(moment: datetime) -> float:
    import matplotlib.dates as mdates

    return float(mdates.date2num(moment))


def _hours(*hours: int) -> list[datetime]:
    return [DAY0 + timedelta(hours=h) for h in hours]


def _daily(*days: int) -> list[datetime]:
    return [DAY0 + timedelta(days=d) for d in days]


# (bucket, starts per group): one bucket, one bucket per group, gaps, isolated buckets,
# a week's buckets, hours over two days, small multiples
SHAPES = {
    "one-day": ("1d", {"wallstreet": _daily(0)}),
    "one-day-two-groups": ("1d", {"python": _daily(0), "stocks": _daily(0)}),
    "one-hour": ("1h", {"python": _hours(14)}),
    "gaps-and-lone-days": ("1d", {"a": _daily(0, 1, 2, 4, 6, 7), "b": _daily(1, 3, 5)}),
    "weeks": ("7d", {"a": _daily(0, 7, 14, 28)}),
    "hours-two-days": ("1h", {"a": _hours(*[h for h in range(48) if h % 7 not in (2, 3)])}),
    "multiples-one-day": ("1d", {f"s{k}": _daily(0) for k in range(6)}),
    "multiples-gaps": ("1d", {f"s{k}": _daily(*range(k % 3, 12, 1 + k % 2)) for k in range(6)}),
}


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.integers(min_value=0, max_value=60), max_size=40),
    st.sampled_from(sorted(BUCKETS)),
)
def test_runs_split_exactly_at_gaps(indices: set[int], bucket: str) -> None:
    width = BUCKETS[bucket]
    times = [DAY0 + k * width for k in sorted(indices)]
    found = runs(times, width)
    assert [i for run in found for i in run] == list(range(len(times)))
    for run in found:
        assert all(times[i + 1] - times[i] == width for i in run[:-1])
    for before, after in itertools.pairwise(found):
        assert times[after[0]] - times[before[-1]] > width


def _drawn(chart: ChartData) -> Any:
    from sentiment_pipeline.sentiment.plot import draw

    figure = draw(chart)
    figure.canvas.draw()
    return figure


def _panels(chart: ChartData, figure: Any) -> list[tuple[Any, list[tuple[Any, str]]]]:
    """(sentiment axes, [(series, which) drawn on it]) for each sentiment panel."""
    axes = figure.get_axes()
    if chart.small_multiples:
        return [(axes[2 * i], [(s, "net"), (s, "mean")]) for i, s in enumerate(chart.series)]
    return [
        (axes[0], [(s, "net") for s in chart.series]),
        (axes[1], [(s, "mean") for s in chart.series]),
    ]


def _shows(ax: Any, x: float, low: float, high: float) -> bool:
    """Whether `ax` shows [low, high] at `x` visibly: an error bar from low to high at
    x, or a shaded band of some width whose edge passes through both."""
    import numpy as np
    from matplotlib.collections import LineCollection, PolyCollection

    for artist in ax.collections:
        if isinstance(artist, LineCollection):
            for seg in artist.get_segments():
                xs, ys = seg[:, 0], seg[:, 1]
                if (
                    np.allclose(xs, x, rtol=0, atol=1e-6)
                    and np.isclose(ys.min(), low)
                    and np.isclose(ys.max(), high)
                ):
                    return True
        elif isinstance(artist, PolyCollection):
            for path in artist.get_paths():
                v = path.vertices
                if np.ptp(v[:, 0]) <= 0:
                    continue  # a band of no width: invisible
                at = v[np.isclose(v[:, 0], x, rtol=0, atol=1e-6)]  # dates: days since 1970
                if len(at) and np.isclose(at[:, 1], low).any() and np.isclose(at[:, 1], high).any():
                    return True
    return False


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_interval_is_visible(shape: str) -> None:
    import matplotlib.pyplot as plt

    chart = chart_data(synthetic_report(*SHAPES[shape]))
    figure = _drawn(chart)
    try:
        for ax, drawn in _panels(chart, figure):
            for one, which in drawn:
                lows, highs = one.band(which)
                for moment, low, high in zip(one.times, lows, highs, strict=True):
                    assert low < high
                    x = _days(chart.middle(moment))
                    assert _shows(ax, x, low, high), (shape, one.label, which, moment)
    finally:
        plt.close(figure)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_lines_break_at_gaps_and_bars_span_their_bucket(shape: str) -> None:
    import matplotlib.pyplot as plt

    chart = chart_data(synthetic_report(*SHAPES[shape]))
    width = chart.bucket.total_seconds() / 86400
    figure = _drawn(chart)
    try:
        for ax, drawn in _panels(chart, figure):
            lines = [line for line in ax.get_lines() if line.get_marker() == "o"]
            points = sorted(float(x) for line in lines for x in line.get_xdata(orig=False))
            want = sorted(_days(chart.middle(t)) for one, _ in drawn for t in one.times)
            assert points == pytest.approx(want)  # every bucket once, at its middle
            for line in lines:
                xs = [float(x) for x in line.get_xdata(orig=False)]
                steps = [b - a for a, b in itertools.pairwise(xs)]
                assert steps == pytest.approx([width] * len(steps))  # never across a gap
        volumes = figure.get_axes()[1::2] if chart.small_multiples else figure.get_axes()[2:]
        starts = sorted({_days(t) for one in chart.series for t in one.times})
        groups = 1 if chart.small_multiples else len(chart.series)
        for ax in volumes:
            left, right = ax.get_xlim()
            assert left <= starts[0] and right >= starts[-1] + width - 1e-9  # whole buckets
            assert right - left >= 1 - 1e-9  # at least a day
            for bar in ax.patches:
                start = max(s for s in starts if s <= bar.get_x() + 1e-9)
                assert bar.get_x() + bar.get_width() <= start + width + 1e-9
            for start in starts:
                here = [b for b in ax.patches if start - 1e-9 <= b.get_x() < start + width - 1e-9]
                assert sum(b.get_width() for b in here) <= width + 1e-9  # side by side
                if len(here) == groups:  # every group of this panel has the bucket
                    assert min(b.get_x() for b in here) == pytest.approx(start)
                    assert sum(b.get_width() for b in here) == pytest.approx(width)
    finally:
        plt.close(figure)


TICK_SPANS = {
    "one-bucket": ("1d", {"a": _daily(0)}),
    "7-daily": ("1d", {"a": _daily(*range(7)), "b": _daily(*range(7))}),
    "365-daily": ("1d", {"a": _daily(*range(365))}),
    "1h-over-2-days": ("1h", {"a": _hours(*range(48))}),
    "one-hour": ("1h", {"a": _hours(9)}),
    "small-multiples-365": ("1d", {f"s{k}": _daily(*range(365)) for k in range(6)}),
    "small-multiples-one": ("1d", {f"s{k}": _daily(0) for k in range(6)}),
}


@pytest.mark.parametrize("span", sorted(TICK_SPANS))
def test_date_tick_labels_do_not_overlap(span: str) -> None:
    import matplotlib.pyplot as plt

    chart = chart_data(synthetic_report(*TICK_SPANS[span]))
    figure = _drawn(chart)
    try:
        renderer = figure.canvas.get_renderer()
        volumes = figure.get_axes()[1::2] if chart.small_multiples else figure.get_axes()[2:]
        for ax in volumes:
            labels = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
            assert len(labels) >= 3, [t.get_text() for t in labels]
            boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
            for before, after in itertools.pairwise(boxes):
                assert before.x1 < after.x0, [t.get_text() for t in labels]
            assert all(len(t.get_text()) <= 8 for t in labels)  # concise: "Dec-07", "14:00"
    finally:
        plt.close(figure)
