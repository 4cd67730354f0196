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
    "intervals",
    "rounded",
    "row_figures",
]

Z95 = 1.959963984540054
_floor, _copysign, _sqrt = math.floor, math.copysign, math.sqrt
Interval = tuple[float, float]


def rounded(value: float) -> float:
    """`value` to 4 places, through 10 places first: `round(round(value, 10), 4)`, as
    sums of the same scores added in another order differ in the last bits and must not
    round apart at a half.

    Computed without `round` unless `value` is within 1e-5 of a 4-place half: elsewhere
    both roundings pick the same neighbour, and `k / 10000.0` is the float `round`
    returns for it. A year's report rounds a few hundred thousand figures; `round` on an
    arbitrary float costs about four times as much."""
    scaled = value * 10000.0
    low = _floor(scaled) if -1e9 < scaled < 1e9 else None
    if low is None or -1e-5 < scaled - low - 0.5 < 1e-5:
        return round(round(value, 10), 4)
    whole = low + 1 if scaled - low > 0.5 else low
    return whole / 10000.0 if whole else _copysign(0.0, value)


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
        return intervals(*astuple(self))[0]

    def net_sentiment_ci95(self) -> Interval | None:
        """The 95 % interval of the net sentiment (None below 2 events)."""
        return intervals(*astuple(self))[1]


def row_figures(
    n: int, positive: int, neutral: int, negative: int, total: float, squares: float
) -> tuple[float, float, float, float, float]:
    """(mean compound, share positive, neutral, negative, net sentiment) of `n` scores
    with these label counts, compound sum `total` and sum of squares `squares`, each
    `rounded`; all 0.0 without scores. Inline: a year's report makes tens of thousands
    of rows."""
    if not n:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    return (
        rounded(total / n),
        rounded(positive / n),
        rounded(neutral / n),
        rounded(negative / n),
        rounded((positive - negative) / n),
    )


def intervals(
    n: int, positive: int, neutral: int, negative: int, total: float, squares: float
) -> tuple[Interval | None, Interval | None]:
    """The 95 % intervals (mean compound, net sentiment) of the same counts and sums as
    `row_figures`, bounds `rounded`; None below 2 scores. `Sums` reads its intervals
    here too."""
    if n < 2:
        return None, None
    mean, net = total / n, (positive - negative) / n
    spread = Z95 * _sqrt(max(0.0, (squares - n * mean * mean) / (n - 1)) / n)
    second = (positive + negative) / n
    net_spread = Z95 * _sqrt(max(0.0, (second - net * net) * n / (n - 1)) / n)
    low, high = max(-1.0, mean - spread), min(1.0, mean + spread)
    net_low, net_high = max(-1.0, net - net_spread), min(1.0, net + net_spread)
    return (rounded(low), rounded(high)), (rounded(net_low), rounded(net_high))
