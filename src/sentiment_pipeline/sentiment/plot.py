"""`sentiment report --plot` and the chart of `--html`: net sentiment and mean compound
per bucket, each with its 95 % interval shaded (a bucket alone: an error bar), lines
and bands broken at gaps, on a y-axis fitted to the data and the intervals with zero
marked, and the events per bucket as bars below, each over its bucket; concise date
ticks over whole buckets (`chart` module docstring). Up to
`chart.SMALL_MULTIPLES_ABOVE` groups are overlaid (one colour each); more get one panel
each, all on the same axes. What is drawn comes from `chart.chart_data`; matplotlib is
the optional extra `sentpipe[plot]`, imported lazily.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sentiment.chart import ChartData, Series, chart_data
from sentiment_pipeline.sentiment.report import SentimentReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["check_plot_path", "draw", "need_matplotlib", "plot_report", "svg_markup"]

_FORMATS = (".png", ".svg")
_NET, _MEAN = "C0", "C1"  # the two figures' colours in a panel per group
_WIDE_TICKS, _PANEL_TICKS = 10, 4  # date ticks at most: a 10-inch axis, a small panel
_STYLE = {"svg.fonttype": "path", "svg.hashsalt": "sentpipe"}  # text as paths, stable ids


def need_matplotlib(option: str) -> None:
    """ConfigError naming the extra unless matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{option} needs matplotlib, which is not installed",
            "pip install 'sentpipe[plot]'",
        ) from None


def check_plot_path(path: Path) -> None:
    """ConfigError unless `path` ends in .png or .svg and matplotlib is installed."""
    if path.suffix.lower() not in _FORMATS:
        raise ConfigError(f"--plot {path}: unsupported format", "use a .png or .svg file name")
    need_matplotlib("--plot")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _dates() -> Any:
    import matplotlib.dates

    return matplotlib.dates


def _days(chart: ChartData) -> float:
    return chart.bucket.total_seconds() / 86400


def _line(ax: Any, chart: ChartData, one: Series, which: str, colour: str, label: str) -> None:
    """`which` (`net`, `mean`) of `one`: per run of adjacent buckets a line through the
    buckets' middles with its band shaded; a run of one bucket (alone, or between gaps)
    shows its interval as an error bar, since a band over one point has no width."""
    values = one.net if which == "net" else one.mean
    low, high = one.band(which)
    for k, run in enumerate(one.runs(chart.bucket)):
        x = [chart.middle(one.times[i]) for i in run]
        y = [values[i] for i in run]
        if len(run) > 1:
            ax.fill_between(
                x, [low[i] for i in run], [high[i] for i in run],
                color=colour, alpha=0.2, linewidth=0,
            )  # fmt: skip
        elif high[run[0]] > low[run[0]]:
            ax.errorbar(
                x, y, yerr=[[y[0] - low[run[0]]], [high[run[0]] - y[0]]],
                fmt="none", ecolor=colour, elinewidth=6, alpha=0.35, capsize=0,
            )  # fmt: skip
        ax.plot(x, y, color=colour, marker="o", markersize=3, label=label if k == 0 else None)


def _sentiment_axis(ax: Any, chart: ChartData, ylabel: str) -> None:
    ax.axhline(0, color="black", linewidth=0.8, linestyle="--", zorder=1)
    ax.set_ylim(*chart.ylim)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)


def _date_axis(ax: Any, chart: ChartData, ticks: int) -> None:
    """Dates along x over whole buckets (`ChartData.xlim`), at most `ticks` ticks (for
    the axis' width) chosen for the span and labelled concisely: no overlap from one
    hour to years."""
    mdates = _dates()
    ax.xaxis_date()
    if chart.xlim is not None:
        ax.set_xlim(mdates.date2num(chart.xlim[0]), mdates.date2num(chart.xlim[1]))
    locator = mdates.AutoDateLocator(minticks=3, maxticks=ticks)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _bars(ax: Any, chart: ChartData, series: list[Series], colours: list[str], ticks: int) -> None:
    """Events per bucket: each bucket's bars side by side within [start, start +
    bucket), one per group; dates along x (`_date_axis`)."""
    mdates = _dates()
    width = _days(chart) / len(series)
    for i, (one, colour) in enumerate(zip(series, colours, strict=True)):
        x = [mdates.date2num(t) + i * width for t in one.times]
        ax.bar(x, one.events, width=width, align="edge", color=colour, alpha=0.7)
    ax.set_ylim(0, max(1, chart.max_events) * 1.1)
    ax.set_ylabel("events")
    _date_axis(ax, chart, ticks)


def _overlaid(plt: Any, chart: ChartData) -> Figure:
    figure: Figure
    figure, (net, mean, volume) = plt.subplots(
        3, 1, sharex=True, figsize=(10, 7.5), gridspec_kw={"height_ratios": [3, 3, 1.5]}
    )
    colours = [f"C{i}" for i in range(len(chart.series))]
    for one, colour in zip(chart.series, colours, strict=True):
        _line(net, chart, one, "net", colour, one.label)
        _line(mean, chart, one, "mean", colour, one.label)
    _sentiment_axis(net, chart, "net sentiment")
    _sentiment_axis(mean, chart, "mean compound")
    if chart.series:
        _bars(volume, chart, chart.series, colours, ticks=_WIDE_TICKS)
        net.legend(loc="upper left", fontsize="small")
    else:
        volume.set_ylabel("events")
    net.set_title("net sentiment (share positive − share negative), 95 % interval shaded")
    mean.set_title("mean compound, 95 % interval shaded")
    figure.suptitle(chart.title)
    figure.align_ylabels()
    return figure


def _small_multiples(plt: Any, chart: ChartData) -> Figure:
    count = len(chart.series)
    cols = min(4, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / cols)
    figure: Figure = plt.figure(figsize=(3.6 * cols, 3.2 * rows), layout="constrained")
    grid = figure.add_gridspec(rows, cols)
    first: Any = None
    first_volume: Any = None
    for index, one in enumerate(chart.series):
        cell = grid[index // cols, index % cols].subgridspec(2, 1, height_ratios=[3, 1], hspace=0)
        top = figure.add_subplot(cell[0], sharex=first, sharey=first)
        bottom = figure.add_subplot(cell[1], sharex=top, sharey=first_volume)
        first, first_volume = first or top, first_volume or bottom
        _line(top, chart, one, "net", _NET, "net sentiment")
        _line(top, chart, one, "mean", _MEAN, "mean compound")
        _sentiment_axis(top, chart, "")
        top.set_title(one.label, fontsize="medium")
        top.tick_params(labelbottom=False)
        _bars(bottom, chart, [one], ["grey"], ticks=_PANEL_TICKS)
    first.legend(loc="upper left", fontsize="x-small")
    figure.suptitle(f"{chart.title}: net sentiment and mean compound, 95 % intervals shaded")
    return figure


def draw(chart: ChartData) -> Figure:
    """The figure of `chart` (caller closes it with `matplotlib.pyplot.close`)."""
    plt = _pyplot()
    if chart.small_multiples:
        return _small_multiples(plt, chart)
    return _overlaid(plt, chart)


def plot_report(report: SentimentReport, path: Path) -> None:
    """Draw the report to `path` (.png or .svg); raises ConfigError as check_plot_path,
    and for a path it cannot write."""
    check_plot_path(path)
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        figure = draw(chart_data(report))
        try:
            figure.savefig(path, metadata={"Date": None} if path.suffix.lower() == ".svg" else {})
        except OSError as error:
            raise ConfigError(
                f"cannot write {path}: {error.strerror}", "choose a writable path"
            ) from None
        finally:
            plt.close(figure)


def svg_markup(report: SentimentReport) -> str:
    """The report's chart as an `<svg>` element to put inline in HTML: text drawn as
    paths (no font needed), no XML prolog, no metadata or comments, no reference
    outside itself."""
    need_matplotlib("--html")
    plt = _pyplot()
    buffer = io.StringIO()
    with plt.rc_context(_STYLE):
        figure = draw(chart_data(report))
        try:
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        finally:
            plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    return re.sub(r"<!--.*?-->\n?", "", text, flags=re.DOTALL)  # labels, escaped anyway
