"""What `sentiment report --plot` and `--html` draw, as plain data (no matplotlib here).

Per group of the report (`SentimentReport.by_group`), in bucket order: the bucket
starts, net sentiment and mean compound with their 95 % intervals (`sentiment.figures`:
normal approximation, None below 2 events), and the events per bucket. The y-limits
are shared by every panel: they hold every value, every interval and zero, with a
margin, within [−1, 1] plus that margin (`fitted_limits`). More than
`SMALL_MULTIPLES_ABOVE` groups are drawn one panel each (small multiples) instead of
overlaid in one panel.

Along x, bucket i spans [times[i], times[i] + bucket): its bar covers that span and its
point sits at the middle (`ChartData.middle`). A bucket missing between two present
ones is a gap: lines and bands are drawn per run of adjacent buckets (`Series.runs`),
never across a gap, and a run of one bucket shows its interval as an error bar. The
x-limits hold every bucket whole, at least a day wide (`ChartData.xlim`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sentiment_pipeline.sentiment.figures import Interval
from sentiment_pipeline.sentiment.report import BUCKETS, SentimentReport

__all__ = [
    "MIN_XSPAN",
    "SMALL_MULTIPLES_ABOVE",
    "ChartData",
    "Series",
    "chart_data",
    "fitted_limits",
    "runs",
]

SMALL_MULTIPLES_ABOVE = 4  # groups: more than this, one panel per group
MARGIN = 0.08  # of the span, above and below the data
MIN_SPAN = 0.1  # a flat series still gets a readable axis
MIN_XSPAN = timedelta(days=1)  # one bucket alone still gets readable date ticks


def runs(times: list[datetime], bucket: timedelta) -> list[range]:
    """The index ranges of `times` (sorted bucket starts) whose buckets are adjacent
    (each starts one `bucket` after the one before): a new run after each gap."""
    out: list[range] = []
    start = 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] - times[i - 1] > bucket:
            out.append(range(start, i))
            start = i
    return [r for r in out if len(r)]


@dataclass(frozen=True)
class Series:
    """One group's line: `times[i]` the start of bucket i (UTC), the figures of its row."""

    label: str
    times: list[datetime]
    net: list[float]
    net_ci: list[Interval | None]
    mean: list[float]
    mean_ci: list[Interval | None]
    events: list[int]

    def band(self, which: str) -> tuple[list[float], list[float]]:
        """The (low, high) edges of `which` (`net` or `mean`)'s band; a bucket without an
        interval (one event) has a band of no width at its value."""
        values, intervals = (self.net, self.net_ci) if which == "net" else (self.mean, self.mean_ci)
        low = [ci[0] if ci else v for v, ci in zip(values, intervals, strict=True)]
        high = [ci[1] if ci else v for v, ci in zip(values, intervals, strict=True)]
        return low, high

    def runs(self, bucket: timedelta) -> list[range]:
        """This series' runs of adjacent buckets (`runs`)."""
        return runs(self.times, bucket)


@dataclass(frozen=True)
class ChartData:
    """The chart of one report: its series, the shared y-limits of the sentiment panels,
    the bucket width, and whether to draw one panel per group."""

    title: str
    bucket: timedelta
    series: list[Series]
    ylim: tuple[float, float]
    max_events: int

    @property
    def small_multiples(self) -> bool:
        return len(self.series) > SMALL_MULTIPLES_ABOVE

    def middle(self, start: datetime) -> datetime:
        """Where a bucket's point is drawn: the middle of [start, start + bucket)."""
        return start + self.bucket / 2

    @property
    def xlim(self) -> tuple[datetime, datetime] | None:
        """(left, right) holding every bucket whole; one bucket alone is widened about
        its middle to at least `MIN_XSPAN`, so its date ticks stay readable; None
        without buckets."""
        starts = [t for one in self.series for t in one.times]
        if not starts:
            return None
        left, right = min(starts), max(starts) + self.bucket
        short = MIN_XSPAN - (right - left)
        if len(set(starts)) == 1 and short > timedelta(0):
            left, right = left - short / 2, right + short / 2
        return left, right


def fitted_limits(values: Iterable[float]) -> tuple[float, float]:
    """(low, high) holding every value and 0, widened by `MARGIN` of the span on each
    side (at least `MIN_SPAN` in all), never past [−1, 1] by more than the margin."""
    points = [0.0, *values]
    low, high = min(points), max(points)
    span = max(high - low, MIN_SPAN)
    centre = (low + high) / 2
    low, high = min(low, centre - span / 2), max(high, centre + span / 2)
    pad = span * MARGIN
    return max(-1.0 - pad, low - pad), min(1.0 + pad, high + pad)


def chart_data(report: SentimentReport) -> ChartData:
    """The report's chart (see the module docstring)."""
    series: list[Series] = []
    for label, rows in report.by_group().items():
        series.append(
            Series(
                label=label or report.model,
                times=[r.bucket for r in rows],
                net=[r.net_sentiment for r in rows],
                net_ci=[r.net_sentiment_ci95 for r in rows],
                mean=[r.mean_compound for r in rows],
                mean_ci=[r.mean_compound_ci95 for r in rows],
                events=[r.events for r in rows],
            )
        )
    edges: list[float] = []
    for one in series:
        for which in ("net", "mean"):
            low, high = one.band(which)
            edges += low + high
    return ChartData(
        title=f"Sentiment per {report.bucket} ({report.model})",
        bucket=BUCKETS[report.bucket],
        series=series,
        ylim=fitted_limits(edges),
        max_events=max((n for one in series for n in one.events), default=0),
    )
