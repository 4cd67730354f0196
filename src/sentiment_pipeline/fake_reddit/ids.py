"""Reddit-style base36 ids and fullnames.

Reddit ids are base36 counters; scrapers key rows on them, so the fake must
produce the same shape (lowercase base36, ``t3_``/``t1_`` prefixes).
"""

from __future__ import annotations

import zlib

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

POST_KIND = "t3"
COMMENT_KIND = "t1"
SUBREDDIT_KIND = "t5"
ACCOUNT_KIND = "t2"

BLOCKS = 20_000
_POST_BASE = 36**6  # 7-character post ids, like current Reddit posts
_POST_BLOCK = 1_000_000
_COMMENT_BASE = 36**7  # 8-character comment ids
_COMMENT_BLOCK = 100_000_000


def to_base36(number: int) -> str:
    """Encode a non-negative integer the way Reddit spells ids."""
    if number < 0:
        raise ValueError("base36 ids are non-negative")
    if number == 0:
        return "0"
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 36)
        digits.append(_DIGITS[rest])
    return "".join(reversed(digits))


def from_base36(text: str) -> int:
    """Decode a base36 id (inverse of :func:`to_base36`)."""
    return int(text, 36)


def fullname(kind: str, base36_id: str) -> str:
    """Return ``kind_id``, e.g. ``t3_1abc2d``."""
    return f"{kind}_{base36_id}"


def split_fullname(name: str) -> tuple[str, str]:
    """Split ``t3_abc`` into ``("t3", "abc")``; raise ValueError if malformed."""
    kind, sep, base36_id = name.partition("_")
    if not sep or not base36_id:
        raise ValueError(f"not a fullname: {name!r}")
    return kind, base36_id


def preferred_block(name: str, seed: int) -> int:
    """Pick a stable id block for a subreddit so ids do not depend on config order."""
    return zlib.crc32(f"{name.lower()}:{seed}".encode()) % BLOCKS


def post_id(block: int, index: int) -> str:
    """Return the base36 id of the ``index``-th post of the subreddit in ``block``."""
    return to_base36(_POST_BASE + block * _POST_BLOCK + index)


def comment_id(block: int, index: int) -> str:
    """Return the base36 id of comment number ``index`` of the sub in ``block``."""
    return to_base36(_COMMENT_BASE + block * _COMMENT_BLOCK + index)


def subreddit_id(block: int) -> str:
    """Return a base36 subreddit id derived from its block."""
    return to_base36(36**5 + block)
