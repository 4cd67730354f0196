"""Path normalisation and the route table.

Reddit accepts ``/path``, ``/path/`` and ``/path.json`` alike, and asyncpraw
uses all three spellings (``comments/{id}/`` with a slash, ``r/{sub}/new``
without, ``.../_/{comment_id}`` without), so matching happens on a normalised
path against a small regex table; the route name goes into the request log.
``/r/{sub}/comments`` (the subreddit's newest comments) and ``/r/{sub}/comments/{id}``
(one post's tree) are different routes, and so are ``/r/{sub}/search`` (search, route
``search``, before the listing route takes ``search`` for a sort) and
``/subreddits/search`` (where unknown names are redirected). ``/_fake/clock`` is the
fake's own control path, not Reddit's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUB = r"(?P<sub>[A-Za-z0-9_]+)"
_SUBS = r"(?P<sub>[A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*)"  # one name or a multi: a+b+c
_ID = r"(?P<id>[a-z0-9]+)"
_PREFIX = rf"(?:/r/{_SUB})?"

ROUTES: tuple[tuple[frozenset[str], str, re.Pattern[str]], ...] = tuple(
    (frozenset(methods.split(",")), name, re.compile(pattern + r"\Z"))
    for methods, name, pattern in (
        ("POST", "access_token", r"/api/v1/access_token"),
        ("POST", "revoke_token", r"/api/v1/revoke_token"),
        ("GET,POST", "morechildren", r"/api/morechildren"),
        ("GET", "subreddit_search", r"/subreddits/search"),
        ("GET", "info", r"/api/info"),
        ("GET", "about", rf"/r/{_SUB}/about"),
        (
            "GET",
            "continue_thread",
            rf"{_PREFIX}/comments/{_ID}/[^/]+/(?P<comment>[a-z0-9]+)",
        ),
        ("GET", "comments", rf"{_PREFIX}/comments/{_ID}(?:/[^/]+)?"),
        ("GET", "comment_listing", rf"/r/{_SUBS}/comments"),
        ("GET", "search", rf"(?:/r/{_SUBS})?/search"),
        ("GET", "listing", rf"/r/{_SUBS}(?:/(?P<sort>[a-z]+))?"),
        ("GET,POST", "fake_clock", r"/_fake/clock"),
    )
)


@dataclass(frozen=True)
class Match:
    """A matched route: its log name and the path parameters."""

    name: str
    params: dict[str, str]


def normalize(path: str) -> str:
    """Strip a trailing slash and a ``.json`` suffix."""
    if path.endswith(".json"):
        path = path[: -len(".json")]
    return path.rstrip("/") or "/"


def match(method: str, path: str) -> Match | None:
    """Return the route for ``method`` and normalised ``path``, if any."""
    for methods, name, pattern in ROUTES:
        found = pattern.match(path)
        if found and method in methods:
            params = {k: v for k, v in found.groupdict().items() if v is not None}
            return Match(name, params)
    return None
