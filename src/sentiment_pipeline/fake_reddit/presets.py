"""Named presets so faults can be chosen from the CLI or a plain dict.

Grammar of a value (CLI ``--subreddit NAME=VALUE`` or ``{"NAME": VALUE}``):
comma-separated tokens, each one of

- ``COUNT``          generated posts (integer)
- ``private`` | ``banned`` | ``quarantined`` | ``unknown``   access faults
- ``hostile``        hostile-content posts plus page overlap (includes ``rich``)
- ``rich``           a poll, a gallery, a crosspost and a link post with preview/awards
- ``empty``          listings return no children
- ``overlap``        next page repeats the last post of the previous one
- ``429:N``          N responses of 429 (Retry-After 1), then OK
- ``500:N`` / ``503:N``  N server errors, then OK
- ``slow:SECONDS``   delay every response
- ``seed:N``         generator seed
- ``comments:N``     mean comments per post
- ``interval:SECONDS``  mean gap between generated posts (900; more reaches further back)
- ``age:SECONDS``    how old the newest generated post is at start (120)

Live activity after the server starts (see ``live``):

- ``posts/day:N``    new posts per day (Poisson arrivals; N may be fractional)
- ``comments/day:N`` new comments per day
- ``old:SHARE``      share (0..1) of new comments on posts older than 3 days (0.1)
- ``replies:SHARE``  share (0..1) of new comments that reply to a comment (0.3)
- ``mention:PHRASE@SHARE``  that share (0..1) of new live posts and comments name
  PHRASE (see ``mentions``); ``_`` in PHRASE stands for a space (``mention:model_3@0.01``
  plants "model 3"), its case is kept; repeat the token for more phrases

Example: ``busy=500,interval:1800,posts/day:2000,comments/day:20000,old:0.05``, plus
``mention:tesla@0.05,mention:model_3@0.01`` to plant two phrases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from .config import Access, FakeRedditConfig, FaultSpec, SubredditSpec

HOSTILE_DEFAULT_POSTS = 150
# Far above anything a test does, so asyncprawcore never sleeps to pace itself.
NO_PACING_RATE_LIMIT = 1_000_000_000

# ``HEAD:ARG`` tokens that set one SubredditSpec field: head -> (field, parser).
_SPEC_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "seed": ("seed", int),
    "comments": ("comments_per_post", int),
    "interval": ("post_interval_seconds", float),
    "age": ("newest_age_seconds", float),
    "posts/day": ("posts_per_day", float),
    "comments/day": ("comments_per_day", float),
    "old": ("old_post_share", float),
    "replies": ("reply_share", float),
}
# Bare tokens that set fault flags.
_FAULT_FLAGS: dict[str, dict[str, Any]] = {
    "empty": {"empty_listings": True},
    "overlap": {"overlap_pages": True},
}


def _fault_token(faults: FaultSpec, head: str, arg: str) -> FaultSpec | None:
    """The faults after a ``429:N``, ``500:N``, ``503:N`` or ``slow:S`` token."""
    if head == "429":
        return dataclasses.replace(faults, too_many_requests=int(arg or 1))
    if head in {"500", "503"}:
        return dataclasses.replace(
            faults, server_errors=int(arg or 1), server_error_status=int(head)
        )
    if head == "slow":
        return dataclasses.replace(faults, delay_seconds=float(arg or 1.0))
    return None


def parse_mention(arg: str) -> tuple[str, float]:
    """``PHRASE@SHARE`` (the part after ``mention:``) -> (phrase, share); ``_`` = space."""
    phrase, at, share = arg.rpartition("@")
    if not at or not phrase.strip("_ "):
        raise ValueError(f"mention wants PHRASE@SHARE, not {arg!r}")
    return " ".join(phrase.replace("_", " ").split()), float(share)


def parse_value(name: str, value: str | int) -> SubredditSpec:
    """Build a :class:`SubredditSpec` from a preset value like ``"200,500:2"``."""
    if isinstance(value, int):
        return SubredditSpec(name=name, posts=value)
    fields: dict[str, Any] = {}
    faults = FaultSpec()
    mentions: list[tuple[str, float]] = []
    for raw in str(value).split(","):
        token = raw.strip().lower()
        head, _, arg = token.partition(":")
        if head == "mention":
            mentions.append(parse_mention(raw.strip().partition(":")[2]))
        elif token.isdigit():
            fields["posts"] = int(token)
        elif token in {a.value for a in Access}:
            faults = dataclasses.replace(faults, access=Access(token))
        elif token in {"hostile", "rich"}:
            fields[token] = True
            if token == "hostile":
                faults = dataclasses.replace(faults, overlap_pages=True)
        elif token in _FAULT_FLAGS:
            faults = dataclasses.replace(faults, **_FAULT_FLAGS[token])
        elif head in _SPEC_FIELDS and arg:
            field, parse = _SPEC_FIELDS[head]
            fields[field] = parse(arg)
        elif (changed := _fault_token(faults, head, arg)) is not None:
            faults = changed
        else:
            raise ValueError(f"unknown preset token {raw!r} for subreddit {name!r}")
    if fields.get("hostile"):
        fields.setdefault("posts", HOSTILE_DEFAULT_POSTS)
    return SubredditSpec(name=name, faults=faults, mentions=tuple(mentions), **fields)


def parse_arg(arg: str) -> SubredditSpec:
    """Parse a CLI ``NAME=VALUE`` argument; a bare ``NAME`` means 100 posts."""
    name, sep, value = arg.partition("=")
    if not name:
        raise ValueError(f"missing subreddit name in {arg!r}")
    if not sep:
        return preset_spec(name)
    return parse_value(name, value)


def preset_spec(name: str) -> SubredditSpec:
    """Return the spec for a bare name: ``hostile`` is special, others get 100 posts."""
    if name.lower() == "hostile":
        return parse_value(name, "hostile")
    return SubredditSpec(name=name)


def config_from_dict(data: Mapping[str, Any]) -> FakeRedditConfig:
    """Build a config from ``{"subreddits": {NAME: VALUE}, **other_fields}``."""
    fields = dict(data)
    subs = fields.pop("subreddits", {})
    specs = tuple(parse_value(name, value) for name, value in subs.items())
    return FakeRedditConfig(subreddits=specs, **fields)


def default_subreddits() -> tuple[SubredditSpec, ...]:
    """The demo / fixture set: generated subs, the hostile one and one per fault."""
    return (
        SubredditSpec(name="stocks", posts=300, seed=1),
        SubredditSpec(name="wallstreet", posts=120, seed=2, comments_per_post=20),
        SubredditSpec(name="tiny", posts=5, seed=3, comments_per_post=3),
        parse_value("hostile", "hostile"),
        parse_value("private_sub", "private"),
        parse_value("banned_sub", "banned"),
        parse_value("quarantined_sub", "quarantined"),
        parse_value("ratelimited_sub", "20,429:1"),
        parse_value("flaky_sub", "20,503:2"),
        parse_value("broken_sub", "20,500:5"),
        parse_value("empty_sub", "20,empty"),
    )


def fixture_config(**overrides: Any) -> FakeRedditConfig:
    """The pytest/demo config: default subreddits, no pacing, small comment pages.

    A small comment budget and depth make every sizeable tree exercise ``more``
    objects and "continue this thread" stubs.
    """
    base = FakeRedditConfig(
        subreddits=default_subreddits(),
        rate_limit=NO_PACING_RATE_LIMIT,
        comment_budget=20,
        max_comment_depth=4,
    )
    return dataclasses.replace(base, **overrides)
