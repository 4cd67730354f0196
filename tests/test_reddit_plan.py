"""`sources.reddit.plan`: subreddits packed into multi-subreddit listings, and each
group's polling interval within the request budget.

Properties over open-ended activity (hypothesis): every subreddit in exactly one group;
a group's bounds (members, path, expected items per interval unless alone); no two
groups mergeable; the same plan whatever the input order; the budget never exceeded;
`every` and the depth kept whenever the budget allows; `overruns` exactly when expected
items exceed the depth. Then examples with realistic rates (per day, as people quote
them).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment_pipeline.sources.reddit.plan import (
    LONGEST_INTERVAL,
    Activity,
    Group,
    GroupPlan,
    bound_interval,
    plan_cadence,
    plan_groups,
    requests_per_poll,
)

DAY = 86400.0
Opts = dict[str, Any]

names = st.from_regex(r"[a-z0-9_]{1,21}", fullmatch=True)
# heavy-tailed: dead, quiet and very busy subreddits (items per hour)
rates = st.one_of(st.just(0.0), st.floats(0, 5), st.floats(0, 2000), st.floats(0, 1e6))
activities = st.lists(
    st.builds(Activity, names, rates, rates), unique_by=lambda a: a.name, max_size=60
)
group_options = st.fixed_dictionaries(
    {
        "interval": st.floats(1, DAY),
        "depth": st.integers(1, 2000),
        "fill": st.floats(0.05, 1.0),
        "max_members": st.integers(1, 20),
        "max_path": st.integers(1, 200),
        "follow_comments": st.booleans(),
    }
)


def _per_interval(rate_per_hour: float, interval: float) -> float:
    return rate_per_hour * interval / 3600.0


def _within(
    members: Sequence[Activity],
    *,
    interval: float,
    depth: int,
    fill: float,
    max_members: int,
    max_path: int,
    follow_comments: bool,
) -> bool:
    """These subreddits could form one group within every bound."""
    cap = fill * depth
    posts = math.fsum(a.posts_per_hour for a in members)
    comments = math.fsum(a.comments_per_hour for a in members)
    return (
        len(members) <= max_members
        and len("+".join(a.name for a in members)) <= max_path
        and _per_interval(posts, interval) <= cap
        and (not follow_comments or _per_interval(comments, interval) <= cap)
    )


@given(activities, group_options)
def test_every_subreddit_in_exactly_one_group(acts: list[Activity], opts: Opts) -> None:
    groups = plan_groups(acts, **opts)
    members = [m for g in groups for m in g.members]
    assert sorted(members) == sorted(a.name for a in acts)
    assert len(members) == len(set(members))
    for g in groups:
        assert g.members and list(g.members) == sorted(g.members)
        assert g.path == "+".join(g.members)


@given(activities, group_options)
def test_groups_stay_within_their_bounds_unless_alone(acts: list[Activity], opts: Opts) -> None:
    by_name = {a.name: a for a in acts}
    for g in plan_groups(acts, **opts):
        members = [by_name[m] for m in g.members]
        assert g.posts_per_hour == math.fsum(a.posts_per_hour for a in members)
        assert g.comments_per_hour == math.fsum(a.comments_per_hour for a in members)
        if len(members) > 1:
            assert _within(members, **opts)


@given(activities, group_options)
def test_no_two_groups_could_be_merged(acts: list[Activity], opts: Opts) -> None:
    """First-fit leaves no pair of groups that one group could hold: no wasted requests."""
    by_name = {a.name: a for a in acts}
    groups = [[by_name[m] for m in g.members] for g in plan_groups(acts, **opts)]
    for i, first in enumerate(groups):
        for second in groups[i + 1 :]:
            merged = sorted(first + second, key=lambda a: a.name)
            assert not _within(merged, **opts)


@given(activities, group_options, st.randoms(use_true_random=False))
def test_groups_ignore_the_input_order(
    acts: list[Activity], opts: Opts, rnd: random.Random
) -> None:
    shuffled = list(acts)
    rnd.shuffle(shuffled)
    assert plan_groups(shuffled, **opts) == plan_groups(acts, **opts)


def test_groups_reject_bad_names_and_rates() -> None:
    with pytest.raises(ValueError, match="twice"):
        plan_groups([Activity("a", 1, 1), Activity("a", 2, 2)], 300)
    for bad in ("Python", "a+b", "r/a", "a b", ""):
        with pytest.raises(ValueError, match="invalid subreddit name"):
            plan_groups([Activity(bad, 1, 1)], 300)
    with pytest.raises(ValueError, match="rates"):
        plan_groups([Activity("a", -1, 1)], 300)
    with pytest.raises(ValueError, match="interval"):
        plan_groups([Activity("a", 1, 1)], 0)
    assert plan_groups([], 300) == []


# ---------------------------------------------------------------- cadence

groups_st = st.lists(
    st.builds(lambda n, p, c: Group((n,), p, c), names, rates, rates),
    unique_by=lambda g: g.members,
    min_size=1,
    max_size=12,
)


@st.composite
def cadence_options(draw: st.DrawFn) -> Opts:
    min_interval = draw(st.floats(1, 60))
    return {
        "every": min_interval + draw(st.floats(0, 7200)),
        "min_interval": min_interval,
        "budget_per_hour": draw(st.floats(1e-3, 20000)),
        "depth": draw(st.integers(1, 2000)),
        "fill": draw(st.floats(0.05, 1.0)),
        "page": draw(st.integers(1, 200)),
        "follow_comments": draw(st.booleans()),
    }


def _rate(g: Group, follow_comments: bool) -> float:
    return max(g.posts_per_hour, g.comments_per_hour) if follow_comments else g.posts_per_hour


def _cost(groups: Sequence[Group], intervals: Sequence[float], opts: Opts) -> float:
    """Requests per hour of a plan, as the budget counts them."""
    return math.fsum(
        requests_per_poll(
            g, t, page=opts["page"], follow_comments=opts["follow_comments"], depth=opts["depth"]
        )
        * 3600.0
        / t
        for g, t in zip(groups, intervals, strict=True)
    )


def _wanted(g: Group, opts: Opts) -> float:
    """`every`, or shorter to keep `fill * depth` items per interval, not below the floor."""
    fill_bound = bound_interval(_rate(g, opts["follow_comments"]), opts["fill"] * opts["depth"])
    floor, every = float(opts["min_interval"]), float(opts["every"])
    return max(floor, min(every, fill_bound))


def _depth_bound(g: Group, opts: Opts) -> float:
    return bound_interval(_rate(g, opts["follow_comments"]), opts["depth"])


def _check_plan(groups: Sequence[Group], plans: Sequence[GroupPlan], opts: Opts) -> None:
    """What holds of every plan: order, budget, floor, the reported numbers."""
    assert [p.group for p in plans] == list(groups)
    assert math.fsum(p.requests_per_hour for p in plans) <= opts["budget_per_hour"]
    for p in plans:
        assert math.isfinite(p.interval) and p.interval >= opts["min_interval"]
        assert p.expected_posts == _per_interval(p.group.posts_per_hour, p.interval)
        assert p.expected_comments == _per_interval(p.group.comments_per_hour, p.interval)
        assert p.requests_per_hour == _cost([p.group], [p.interval], opts)
        over = p.expected_posts > opts["depth"] or (
            opts["follow_comments"] and p.expected_comments > opts["depth"]
        )
        assert p.overruns == over


@given(groups_st, cadence_options())
def test_cadence_never_exceeds_the_budget(groups: list[Group], opts: Opts) -> None:
    _check_plan(groups, plan_cadence(groups, **opts), opts)


# a budget this many times the cost of the plan a test is about: exactly enough and more
shares = st.one_of(st.just(1.0), st.floats(1, 3))


@given(groups_st, cadence_options(), shares)
def test_cadence_keeps_every_and_fill_when_the_budget_allows(
    groups: list[Group], opts: Opts, share: float
) -> None:
    wanted = [_wanted(g, opts) for g in groups]
    opts["budget_per_hour"] = _cost(groups, wanted, opts) * share
    for p in plan_cadence(groups, **opts):
        assert p.interval <= opts["every"]
        assert p.interval == _wanted(p.group, opts)
        rate = _rate(p.group, opts["follow_comments"])
        if p.interval > opts["min_interval"]:
            assert _per_interval(rate, p.interval) <= opts["fill"] * opts["depth"]


@given(groups_st, cadence_options(), shares)
def test_cadence_keeps_every_and_depth_when_the_depth_bound_plan_fits(
    groups: list[Group], opts: Opts, share: float
) -> None:
    """The plan at `min(every, depth bound)` fits: no group loses items, none waits
    longer than `every` (a group whose depth bound is below `min_interval` cannot help
    overrunning)."""
    bound = [max(_wanted(g, opts), min(opts["every"], _depth_bound(g, opts))) for g in groups]
    opts["budget_per_hour"] = _cost(groups, bound, opts) * share
    for p in plan_cadence(groups, **opts):
        assert p.interval <= opts["every"]
        assert not p.overruns or _depth_bound(p.group, opts) < opts["min_interval"]


@given(groups_st, cadence_options(), shares)
def test_cadence_puts_depth_before_freshness(groups: list[Group], opts: Opts, share: float) -> None:
    """Each group at its depth bound (a dead one at `every`; none past the longest
    interval) fits: no group overruns, however late the quiet ones get polled."""
    bound = []
    for g in groups:
        depth_bound = _depth_bound(g, opts)
        depth_bound = min(LONGEST_INTERVAL, depth_bound) if math.isfinite(depth_bound) else 0
        bound.append(max(_wanted(g, opts), depth_bound))
    opts["budget_per_hour"] = _cost(groups, bound, opts) * share
    for p in plan_cadence(groups, **opts):
        assert not p.overruns or _depth_bound(p.group, opts) < opts["min_interval"]


@given(groups_st, cadence_options(), st.randoms(use_true_random=False))
def test_cadence_ignores_the_input_order(
    groups: list[Group], opts: Opts, rnd: random.Random
) -> None:
    shuffled = list(groups)
    rnd.shuffle(shuffled)
    by_group = {p.group: p for p in plan_cadence(groups, **opts)}
    assert plan_cadence(shuffled, **opts) == [by_group[g] for g in shuffled]


@given(st.floats(1e-6, 1e7), st.floats(1e-3, 1e4))
def test_bound_interval_is_the_longest_within_items(rate: float, items: float) -> None:
    interval = bound_interval(rate, items)
    assert _per_interval(rate, interval) <= items
    assert interval >= items * 3600.0 / rate * (1 - 1e-12)


def test_bound_interval_of_a_dead_subreddit_is_unbounded() -> None:
    assert bound_interval(0.0, 500) == math.inf


def test_requests_per_poll_pages_each_listing() -> None:
    dead = Group(("a",), 0.0, 0.0)
    assert requests_per_poll(dead, 300) == 2  # one request per listing to see nothing new
    assert requests_per_poll(dead, 300, follow_comments=False) == 1
    busy = Group(("a",), 3000.0, 36000.0)  # 250 posts, 3,000 comments in 300 s
    assert requests_per_poll(busy, 300) == 3 + 30
    assert requests_per_poll(busy, 300, depth=1000) == 3 + 10  # the listing ends at depth
    assert requests_per_poll(busy, 300, page=25, follow_comments=False) == 10


@pytest.mark.parametrize("budget", [0.0, -1.0, math.nan])
def test_cadence_rejects_a_budget_of_nothing(budget: float) -> None:
    with pytest.raises(ValueError, match="budget_per_hour"):
        plan_cadence([Group(("a",), 1, 1)], every=300, budget_per_hour=budget)


@pytest.mark.parametrize("rate", [-1.0, math.inf, math.nan])
def test_cadence_rejects_a_rate_it_cannot_plan(rate: float) -> None:
    with pytest.raises(ValueError, match="rates"):
        plan_cadence([Group(("a",), 1, rate)], every=300, budget_per_hour=3000)


def test_cadence_rejects_every_below_min_interval() -> None:
    with pytest.raises(ValueError, match="min_interval"):
        plan_cadence([Group(("a",), 1, 1)], every=10, budget_per_hour=3000)


def test_cadence_rejects_a_budget_below_one_poll_per_longest_interval() -> None:
    # two requests per 1e12 s are 7.2e-9 requests per hour
    with pytest.raises(ValueError, match="too small"):
        plan_cadence([Group(("a",), 0, 0)], every=300, budget_per_hour=1e-12)
    (plan,) = plan_cadence([Group(("a",), 0, 0)], every=300, budget_per_hour=1e-8)
    assert plan.requests_per_hour <= 1e-8 and plan.interval <= LONGEST_INTERVAL


# ---------------------------------------------------------------- realistic examples


def _daily(name: str, posts_per_day: float, comments_per_day: float) -> Activity:
    return Activity(name, posts_per_day / 24, comments_per_day / 24)


QUIET = [_daily(f"quiet{i:02d}", 1, 3 + i % 4) for i in range(50)]
# a heavy tail: two big subreddits, most of the rest small
TAIL_COMMENTS = [20000, 15000, 9000, 5000, 3000, 2000, 1200, 800, 500, 300]
TAIL_COMMENTS += [200, 120, 80, 50, 40, 30, 20, 15, 12, 10]
TAIL = [_daily(f"tail{i:02d}", c / 20, c) for i, c in enumerate(TAIL_COMMENTS)]
HUGE = _daily("askreddit", 8000, 400_000)


def test_fifty_quiet_subreddits_form_one_group_polled_every_interval() -> None:
    groups = plan_groups(QUIET, 300)
    assert len(groups) == 1 and len(groups[0].members) == 50
    (plan,) = plan_cadence(groups, every=300, budget_per_hour=3000)
    assert plan.interval == 300 and not plan.overruns
    assert plan.requests_per_hour == 24  # two listings, one request each, 12 polls an hour


def test_a_heavy_tail_of_subreddits_forms_few_groups() -> None:
    groups = plan_groups(TAIL, 300)
    total = sum(a.comments_per_hour for a in TAIL) * 300 / 3600
    assert len(groups) == max(1, math.ceil(total / 500))  # the least any packing could do
    plans = plan_cadence(groups, every=300, budget_per_hour=3000)
    assert all(p.interval == 300 and not p.overruns for p in plans)
    # and nine more groups' worth of the same still leave most of the default budget
    assert sum(p.requests_per_hour for p in plans) * 10 < 3000


def test_a_huge_subreddit_gets_its_own_group_and_a_shorter_interval() -> None:
    groups = plan_groups([*QUIET, *TAIL, HUGE], 300)
    assert groups[0].members == ("askreddit",)
    assert all("askreddit" not in g.members for g in groups[1:])
    plans = plan_cadence(groups, every=300, budget_per_hour=3000)
    huge = plans[0]
    assert huge.interval < 300
    assert huge.expected_comments <= 500 and not huge.overruns
    assert all(p.interval == 300 for p in plans[1:])
    assert sum(p.requests_per_hour for p in plans) <= 3000


def test_a_tiny_budget_stretches_intervals() -> None:
    groups = plan_groups(QUIET, 300)
    (plan,) = plan_cadence(groups, every=300, budget_per_hour=6)
    assert plan.interval == pytest.approx(1200, rel=1e-6)  # two requests per 20 minutes
    assert plan.requests_per_hour <= 6 and not plan.overruns


def test_a_tight_budget_makes_quiet_groups_late_before_a_busy_one_loses_items() -> None:
    groups = plan_groups([*QUIET, HUGE], 300)
    assert [len(g.members) for g in groups] == [1, 50]
    huge, quiet = plan_cadence(groups, every=300, budget_per_hour=190)
    assert not huge.overruns and huge.interval <= 300
    assert quiet.interval > 300
    assert huge.requests_per_hour + quiet.requests_per_hour <= 190


def test_a_budget_below_the_busy_groups_depth_cost_overruns_it_but_fits() -> None:
    groups = plan_groups([*QUIET, HUGE], 300)
    huge, quiet = plan_cadence(groups, every=300, budget_per_hour=60)
    assert huge.overruns and huge.expected_comments > 1000
    assert huge.requests_per_hour + quiet.requests_per_hour <= 60
