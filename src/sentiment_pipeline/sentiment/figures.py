"""The figures of one report row from its counts and sums: mean compound and net
sentiment, each with a 95 % confidence interval.

Both the daily rollup (`sentiment_daily`) and raw scores give the same `Sums`, so a
report reads whichever is cheaper and the figures do not depend on which it read.

- mean compound: the sample mean; its interval is the normal approximation
  mean ± z·s/√n, with s the sample standard deviation (n − 1 in the denominator);
- net sentiment: share positive − share negative, which is the mean of x = +1
  (positive), 0 (neutral), −1 (negative); its interval is the same normal
  approximation over x, clipped to [−1, 1].

Both intervals need n ≥ 2 (None below). z = 1.959963984540054, the 0.975 quantile of
the standard normal distribution (`statistics.NormalDist().inv_cdf(0.975)`).
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass

__all__ = [
    "Z95",
    "Interval",
    "Sums",
    "rounded",
    "row_figures",
]

Z95 = 1.959963984540054
Interval = tuple[float, float]


def rounded(value: float) -> float:
    """`value` to 4 places, through 10 places first: sums of the same scores added in
    another order differ in the last bits, and must not round apart at a half."""
    return round(round(value, 10), 4)


@dataclass(frozen=True, slots=True)
class Sums:
    """Counts and sums over a set of scores: `events` scores, of which `positive`,
    `neutral`, `negative` have that label; `compound_sum` and `compound_sumsq` the sum
    of compound (in [−1, 1]) and of its square. Added with `+`."""

    events: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    compound_sum: float = 0.0
    compound_sumsq: float = 0.0

    def __add__(self, other: Sums) -> Sums:
        return Sums(
            self.events + other.events,
            self.positive + other.positive,
            self.neutral + other.neutral,
            self.negative + other.negative,
            self.compound_sum + other.compound_sum,
            self.compound_sumsq + other.compound_sumsq,
        )

    def share(self, count: int) -> float:
        """`count` / events (0.0 without events)."""
        return count / self.events if self.events else 0.0

    @property
    def mean_compound(self) -> float:
        return self.compound_sum / self.events if self.events else 0.0

    @property
    def net_sentiment(self) -> float:
        """Share positive − share negative, in [−1, 1]."""
        return self.share(self.positive) - self.share(self.negative)

    def mean_compound_ci95(self) -> Interval | None:
        """The 95 % interval of the mean compound (None below 2 events)."""
        return row_figures(*astuple(self))[5]

    def net_sentiment_ci95(self) -> Interval | None:
        """The 95 % interval of the net sentiment (None below 2 events)."""
        return row_figures(*astuple(self))[6]


def row_figures(
    n: int, positive: int, neutral: int, negative: int, total: float, squares: float
) -> tuple[float, float, float, float, float, Interval | None, Interval | None]:
    """(mean compound, share positive, neutral, negative, net sentiment, mean interval,
    net interval) of a report row, rounded; `Sums` reads its intervals here too. The
    formulas are inline: a year's report makes tens of thousands of rows. The bounds
    are rounded once (a square root never lands on a half)."""
    if not n:
        return 0.0, 0.0, 0.0, 0.0, 0.0, None, None
    mean, net = total / n, (positive - negative) / n
    figures = (
        round(round(mean, 10), 4),
        round(round(positive / n, 10), 4),
        round(round(neutral / n, 10), 4),
        round(round(negative / n, 10), 4),
        round(round(net, 10), 4),
    )
    if n < 2:
        return (*figures, None, None)
    spread = Z95 * math.sqrt(max(0.0, (squares - n * mean * mean) / (n - 1)) / n)
    second = (positive + negative) / n
    net_spread = Z95 * math.sqrt(max(0.0, (second - net * net) * n / (n - 1)) / n)
    low, high = max(-1.0, mean - spread), min(1.0, mean + spread)
    net_low, net_high = max(-1.0, net - net_spread), min(1.0, net + net_spread)
    return (
        *figures,
        (round(low, 4), round(high, 4)),
        (round(net_low, 4), round(net_high, 4)),
    )
