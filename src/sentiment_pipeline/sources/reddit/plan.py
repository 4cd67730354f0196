"""Which subreddits to poll together, and how often: pure planning, no I/O.

Reddit's listings take many subreddits at once (`/r/a+b+c/new` for posts,
`/r/a+b+c/comments` for the newest comments on any post), return up to `page` (100)
items per request and can be paged back only `depth` (~1,000) items: whatever arrived
further back between two polls is lost from the listing for good (a gap). So:

- `plan_groups` packs subreddits into as few multi-subreddit groups as it can (each
  group costs requests on every poll), keeping each group's expected new items per
  interval at most `fill * depth` per listing, so a burst still fits in the listing;
- `plan_cadence` gives each group its interval (seconds between two polls): `every`
  (the user's freshness promise) or shorter for a busy group, then lengthens
  intervals until the plan fits the request budget (requests per hour).

Units: rates are items per hour (what a subreddit's history gives), intervals seconds
(what a scheduler sleeps), expected items are per interval. Deterministic: the same
input gives the same plan, whatever the order of the activities.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "LONGEST_INTERVAL",
    "Activity",
    "Group",
    "GroupPlan",
    "bound_interval",
    "plan_cadence",
    "plan_groups",
    "requests_per_poll",
]

_HOUR = 3600.0

# The longest interval (seconds, ~31,700 years) `plan_cadence` plans: a finite ceiling,
# so a dead subreddit's unbounded depth bound or a tiny budget never overflows a float.
LONGEST_INTERVAL = 1e12
# The shortest `min_interval` (seconds) accepted: keeps every stretch factor finite.
_SHORTEST_INTERVAL = 1e-3


@dataclass(frozen=True)
class Activity:
    """Observed activity of one subreddit: `name` (lower case, as stored), `posts_per_hour`
    and `comments_per_hour` (items per hour, >= 0): the input of `plan_groups`."""

    name: str
    posts_per_hour: float
    comments_per_hour: float


@dataclass(frozen=True)
class Group:
    """Subreddits polled together through one `/r/<path>/new` and one
    `/r/<path>/comments` listing: `members` (sorted names) and their summed rates (items
    per hour)."""

    members: tuple[str, ...]
    posts_per_hour: float
    comments_per_hour: float

    @property
    def path(self) -> str:
        """The listing's subreddit part, `a+b+c` (as in `/r/a+b+c/new`)."""
        return "+".join(self.members)


@dataclass(frozen=True)
class GroupPlan:
    """One group's cadence: `interval` (seconds until its next poll), the items expected
    per interval on each listing, the `requests_per_hour` this costs, and `overruns`
    (expected items per interval of a polled listing above `depth`: items will be lost,
    the budget or `min_interval` did not allow a shorter interval)."""

    group: Group
    interval: float
    expected_posts: float
    expected_comments: float
    requests_per_hour: float
    overruns: bool


def _per_interval(rate_per_hour: float, interval: float) -> float:
    """Expected items in `interval` seconds at `rate_per_hour`: the one formula used by
    every bound and check here, so that they agree to the last bit."""
    return rate_per_hour * interval / _HOUR


def bound_interval(rate_per_hour: float, items: float) -> float:
    """The longest interval (seconds) at which `rate_per_hour` (items per hour) expects
    at most `items` per interval (`inf` for a rate of 0). Nudged down to the float for
    which `rate_per_hour * interval / 3600 <= items` holds exactly, so a plan at this
    bound never reads as over it."""
    if rate_per_hour <= 0:
        return math.inf
    interval = items * _HOUR / rate_per_hour
    while interval > 0 and _per_interval(rate_per_hour, interval) > items:
        interval = math.nextafter(interval, 0.0)
    return interval


def _check_name(name: str) -> None:
    """A name must be usable in a `/r/a+b/` path as stored: non-empty, lower case, no
    `+`, `/` or whitespace."""
    if not name or name != name.lower() or any(c in "+/" or c.isspace() for c in name):
        raise ValueError(f"invalid subreddit name {name!r}: lower case, no '+', '/' or spaces")


def _check_activity(activity: Sequence[Activity]) -> None:
    """Names unique and valid, rates finite and >= 0."""
    seen: set[str] = set()
    for item in activity:
        _check_name(item.name)
        if item.name in seen:
            raise ValueError(f"subreddit {item.name!r} given twice")
        seen.add(item.name)
        _check_rates(item.name, item.posts_per_hour, item.comments_per_hour)


def _check_rates(name: str, *rates: float) -> None:
    """Rates (items per hour) must be finite and >= 0: an infinite one has no interval."""
    for rate in rates:
        if not (math.isfinite(rate) and rate >= 0):
            raise ValueError(f"{name}: rates must be finite and >= 0, got {rate!r}")


def _check_common(depth: int, fill: float) -> None:
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    if not 0 < fill <= 1:
        raise ValueError(f"fill must be in (0, 1], got {fill}")


@dataclass
class _Bin:
    """A group being packed: its members' names and rates (items per hour)."""

    names: list[str] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)
    comments: list[float] = field(default_factory=list)
    path_len: int = -1  # len("+".join(names)); -1 when empty, so adding costs len + 1
    closed: bool = False  # a subreddit over the cap: nothing joins it
    posts_sum: float = 0.0  # running sums (items per hour), a quick first test
    comments_sum: float = 0.0


@dataclass(frozen=True)
class _Limits:
    """The bounds of one group: items per interval (`cap`, per listing), members, path."""

    interval: float
    cap: float
    max_members: int
    max_path: int
    follow_comments: bool

    def over_cap(self, posts: float, comments: float) -> bool:
        """Summed rates (per hour) expect more than `cap` items per interval."""
        if _per_interval(posts, self.interval) > self.cap:
            return True
        return self.follow_comments and _per_interval(comments, self.interval) > self.cap

    def admits(self, group: _Bin, item: Activity) -> bool:
        """`item` can join `group` within every bound. The running sums decide unless
        they are within 1e-9 of the cap; then the exact sums (`fsum`, as `Group` holds
        them) do, so a group never reads as over its cap."""
        if group.closed or len(group.names) >= self.max_members:
            return False
        if group.path_len + 1 + len(item.name) > self.max_path:
            return False
        posts = group.posts_sum + item.posts_per_hour
        comments = group.comments_sum + item.comments_per_hour
        if self.over_cap(posts * (1 - 1e-9), comments * (1 - 1e-9)):
            return False
        if not self.over_cap(posts * (1 + 1e-9), comments * (1 + 1e-9)):
            return True
        posts = math.fsum([*group.posts, item.posts_per_hour])
        comments = math.fsum([*group.comments, item.comments_per_hour])
        return not self.over_cap(posts, comments)


def _load(item: Activity, limits: _Limits) -> float:
    """Expected items per interval of `item`'s busier polled listing."""
    rate = item.posts_per_hour
    if limits.follow_comments:
        rate = max(rate, item.comments_per_hour)
    return _per_interval(rate, limits.interval)


def _add(group: _Bin, item: Activity) -> None:
    group.names.append(item.name)
    group.posts.append(item.posts_per_hour)
    group.comments.append(item.comments_per_hour)
    group.path_len += 1 + len(item.name)
    group.posts_sum += item.posts_per_hour
    group.comments_sum += item.comments_per_hour


def _to_group(group: _Bin) -> Group:
    """Sorted members; rates summed exactly (`fsum`), so the order never shows."""
    return Group(
        members=tuple(sorted(group.names)),
        posts_per_hour=math.fsum(group.posts),
        comments_per_hour=math.fsum(group.comments),
    )


def plan_groups(
    activity: Sequence[Activity],
    interval: float,
    *,
    depth: int = 1000,
    fill: float = 0.5,
    max_members: int = 100,
    max_path: int = 1500,
    follow_comments: bool = True,
) -> list[Group]:
    """Pack subreddits into few groups, each polled through one multi-subreddit listing.

    `interval` (seconds) is the expected time between two polls (the user's `--every`):
    a group's expected new items per interval (its summed rate per hour * interval /
    3600) stay <= `fill * depth` on each polled listing, so one poll of `depth / page`
    pages reaches back past the previous one even in a burst. A subreddit over that
    alone gets a group of its own (and `plan_cadence` a shorter interval). Groups hold
    at most `max_members` subreddits and a path (`a+b+c`) of at most `max_path`
    characters (Reddit's URL limits); a lone subreddit may exceed any bound.
    `follow_comments=False`: only the posts listing is polled, only its rate counts.

    First-fit decreasing: subreddits by expected items of their busier listing, most
    first (ties by name), each into the first group that admits it. Every bound is
    additive, so no two resulting groups could be merged within the bounds (the first
    member of the later one did not fit the earlier one). Returns the groups in the
    order they were opened (busiest first); every subreddit in exactly one group; the
    same groups whatever the input order. Raises `ValueError` on a duplicate or invalid
    name, a negative or non-finite rate, or a non-positive bound.
    """
    if not (math.isfinite(interval) and interval > 0):
        raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
    _check_common(depth, fill)
    if max_members < 1 or max_path < 1:
        raise ValueError("max_members and max_path must be >= 1")
    _check_activity(activity)
    limits = _Limits(interval, fill * depth, max_members, max_path, follow_comments)
    order = sorted(
        activity,
        key=lambda a: (-_load(a, limits), -(a.posts_per_hour + a.comments_per_hour), a.name),
    )
    groups: list[_Bin] = []
    for item in order:
        target = next((g for g in groups if limits.admits(g, item)), None)
        if target is None:
            target = _Bin(closed=limits.over_cap(item.posts_per_hour, item.comments_per_hour))
            groups.append(target)
        _add(target, item)
    return [_to_group(g) for g in groups]


def _pages(items: float, page: int, depth: int | None) -> int:
    """Requests for one listing: one at least (to learn there is nothing new), then one
    per `page` items; never more than the listing has (`depth / page`, rounded up)."""
    wanted = max(1, math.ceil(items / page))
    if depth is None:
        return wanted
    return min(wanted, max(1, math.ceil(depth / page)))


def requests_per_poll(
    group: Group,
    interval: float,
    *,
    page: int = 100,
    follow_comments: bool = True,
    depth: int | None = None,
) -> int:
    """Requests of one poll of `group` after `interval` seconds: per polled listing
    `max(1, ceil(expected new items / page))`.

    `depth` (optional, items): the listing cannot be paged further back, so a listing
    costs at most `ceil(depth / page)` requests however long the interval. Without
    that cap a busy group's cost per hour never falls below its rate / `page`, and no
    interval could meet a small budget; `plan_cadence` always passes it.
    """
    if page < 1:
        raise ValueError(f"page must be >= 1, got {page}")
    if not (math.isfinite(interval) and interval > 0):
        raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
    total = _pages(_per_interval(group.posts_per_hour, interval), page, depth)
    if follow_comments:
        total += _pages(_per_interval(group.comments_per_hour, interval), page, depth)
    return total


@dataclass(frozen=True)
class _Cadence:
    """The fixed inputs of one `plan_cadence` call."""

    groups: Sequence[Group]
    budget_per_hour: float
    depth: int
    page: int
    follow_comments: bool

    def rate(self, group: Group) -> float:
        """Items per hour of the group's busier polled listing."""
        if self.follow_comments:
            return max(group.posts_per_hour, group.comments_per_hour)
        return group.posts_per_hour

    def per_hour(self, group: Group, interval: float) -> float:
        """Requests per hour of polling `group` every `interval` seconds."""
        polls = requests_per_poll(
            group, interval, page=self.page, follow_comments=self.follow_comments, depth=self.depth
        )
        return polls * _HOUR / interval

    def fits(self, intervals: Sequence[float]) -> bool:
        """The plan's requests per hour (summed exactly) are within the budget."""
        cost = math.fsum(self.per_hour(g, t) for g, t in zip(self.groups, intervals, strict=True))
        return cost <= self.budget_per_hour


def _scaled(start: Sequence[float], cap: Sequence[float], k: float, k_end: float) -> list[float]:
    """Each interval stretched by `k`, never past its cap; at `k_end` exactly the caps."""
    if k >= k_end:
        return list(cap)
    return [min(k * s, c) for s, c in zip(start, cap, strict=True)]


def _stretch(
    start: Sequence[float],
    cap: Sequence[float],
    k_end: float,
    fits: Callable[[Sequence[float]], bool],
) -> tuple[bool, list[float]]:
    """The least common factor `k` in [1, `k_end`] (geometric bisection) whose stretched
    plan fits, and that plan; `(False, plan at k_end)` if even the end does not fit.
    Requests per poll step up with the interval, so the cost is not monotone in `k`: the
    bisection keeps a fitting upper end, and that is what is returned."""
    end = _scaled(start, cap, k_end, k_end)
    if not fits(end):
        return False, end
    lo, hi = 1.0, k_end
    for _ in range(200):
        if hi <= lo * (1 + 1e-9):
            break
        mid = math.sqrt(lo * hi)
        if fits(_scaled(start, cap, mid, k_end)):
            hi = mid
        else:
            lo = mid
    return True, _scaled(start, cap, hi, k_end)


def _end_factor(start: Sequence[float], cap: Sequence[float]) -> float:
    """The factor at which every cap is reached (all finite, all >= their start)."""
    return max(c / s for s, c in zip(start, cap, strict=True))


def _check_cadence(every: float, budget_per_hour: float, min_interval: float, page: int) -> None:
    if not _SHORTEST_INTERVAL <= min_interval <= every <= LONGEST_INTERVAL:
        raise ValueError(
            f"need {_SHORTEST_INTERVAL} <= min_interval ({min_interval!r} s) <= every "
            f"({every!r} s) <= LONGEST_INTERVAL ({LONGEST_INTERVAL} s)"
        )
    if not budget_per_hour > 0:  # also NaN
        raise ValueError(f"budget_per_hour must be > 0, got {budget_per_hour!r}")
    if page < 1:
        raise ValueError(f"page must be >= 1, got {page}")


def _intervals(plan: _Cadence, every: float, fill: float, min_interval: float) -> list[float]:
    """The intervals (seconds) of the cheapest stage that fits the budget (see
    `plan_cadence`)."""
    depth_bound = [
        min(LONGEST_INTERVAL, bound_interval(plan.rate(g), plan.depth)) for g in plan.groups
    ]
    fill_bound = [bound_interval(plan.rate(g), fill * plan.depth) for g in plan.groups]
    wanted = [max(min_interval, min(every, b)) for b in fill_bound]
    if plan.fits(wanted):
        return wanted
    # 1. spend the fill margin, within `every`
    cap = [max(w, min(every, d)) for w, d in zip(wanted, depth_bound, strict=True)]
    done, start = _stretch(wanted, cap, _end_factor(wanted, cap), plan.fits)
    if done:
        return start
    # 2. past `every`, up to each group's depth bound: late but complete
    cap = [max(s, d) for s, d in zip(start, depth_bound, strict=True)]
    done, start = _stretch(start, cap, _end_factor(start, cap), plan.fits)
    if done:
        return start
    # 3. past the depth bound: items are lost
    cap = [LONGEST_INTERVAL] * len(start)
    done, start = _stretch(start, cap, _end_factor(start, cap), plan.fits)
    if not done:
        raise ValueError(f"budget_per_hour {plan.budget_per_hour!r} is too small to plan")
    return start


def plan_cadence(
    groups: Sequence[Group],
    *,
    every: float,
    budget_per_hour: float,
    depth: int = 1000,
    fill: float = 0.5,
    min_interval: float = 30.0,
    page: int = 100,
    follow_comments: bool = True,
) -> list[GroupPlan]:
    """Each group's interval (seconds between polls) within `budget_per_hour` requests.

    Wanted: `every` seconds (the user's `--every`, the longest wait: the freshness
    promise), or shorter for a busy group so that its expected items per interval stay
    <= `fill * depth` on each polled listing, never below `min_interval` seconds.
    A plan costs sum(requests_per_poll(g, T_g) * 3600 / T_g) requests per hour (each
    listing capped at `depth / page` requests per poll: it cannot be paged further).

    When the wanted plan is over the budget, intervals are lengthened, in stages, each
    stage one common factor (the least that fits, bisected) on the previous stage's
    intervals with a cap per group, cheapest loss first:

    1. up to `min(every, depth bound)`: spends the fill margin, still within `every`;
    2. past `every`, up to each group's depth bound (expected items = `depth`): later
       than promised, but a late poll still collects every item;
    3. past the depth bound, all groups by one factor: items are lost (`overruns`).
       Fits any practical budget: a poll costs at most `2 * ceil(depth / page)`
       requests, so long enough intervals cost as little as needed (up to
       `LONGEST_INTERVAL`, 1e12 s, where a group costs ~7e-8 requests per hour).

    Data before freshness: an overrun loses items for good, a late poll does not. So
    when the plan at the depth-bound intervals fits the budget, no group overruns
    (unless its depth bound is below `min_interval`), even if quiet groups wait far
    longer than `every`. Returns one `GroupPlan` per group, in the input's order;
    deterministic. Raises `ValueError` if `budget_per_hour <= 0` (or below what every
    group polled once per `LONGEST_INTERVAL` costs), unless `0.001 <= min_interval <=
    every <= LONGEST_INTERVAL` (seconds), if `depth`, `fill` or `page` is out of range,
    or if a group's rate is negative or not finite.
    """
    _check_common(depth, fill)
    _check_cadence(every, budget_per_hour, min_interval, page)
    for group in groups:
        _check_rates(group.path, group.posts_per_hour, group.comments_per_hour)
    if not groups:
        return []
    plan = _Cadence(groups, budget_per_hour, depth, page, follow_comments)
    intervals = _intervals(plan, every, fill, min_interval)
    out = []
    for group, interval in zip(groups, intervals, strict=True):
        posts = _per_interval(group.posts_per_hour, interval)
        comments = _per_interval(group.comments_per_hour, interval)
        over = posts > depth or (follow_comments and comments > depth)
        out.append(
            GroupPlan(group, interval, posts, comments, plan.per_hour(group, interval), over)
        )
    return out
