"""`sentiment report --plot`: the chart's data (`sentiment.chart`) against figures computed
here from the stored scores, its fitted y-limits, its layout (overlaid or one panel per
group), its SVG (text as paths, nothing outside itself), and the missing extra."""

from __future__ import annotations

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
from sentiment_pipeline.sentiment.chart import SMALL_MULTIPLES_ABOVE, chart_data, fitted_limits
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
            assert all(len(ax.collections) == 2 for ax in panels)  # two shaded bands
        else:
            assert not chart.small_multiples and len(axes) == 3  # net, mean, volume
            panels = axes[:2]
            assert all(len(ax.collections) == groups for ax in panels)  # a band per group
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
