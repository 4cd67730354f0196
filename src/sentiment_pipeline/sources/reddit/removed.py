"""How Reddit shows a post or comment that is gone: the placeholders and the state rule.

One place for this knowledge, used by the refresh (`refresh.observe.item_state`: which
items the deleted-content policy blanks) and by the scorer (`sentiment.clean`: a
placeholder is never scored). docs/refresh.md lists every marker with its source.

- **deleted**: the author deleted the item (`[deleted]` text, `[deleted by user]` title,
  `removed_by_category` `deleted` / `author` / `user`);
- **removed**: moderators, AutoModerator, Reddit's admins, legal or copyright teams or
  filters removed it (`[removed]`, the `[ Removed by Reddit … ]` and `[ Removed by
  moderator … ]` sentences, any other `removed_by_category`, or `removed` / `spam`
  true, which only a moderator's account sees).

A placeholder is matched tolerantly: surrounding and repeated whitespace, case and a
final full stop do not matter, and any sentence of the `[ Removed by Reddit … ]` /
`[ Removed by moderator … ]` family counts (Reddit words them differently over the
years and per reason). An author who deleted the account but not the item (`author`
`[deleted]`, text intact) is neither: the item stays live.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "DELETED",
    "DELETED_CATEGORIES",
    "PLACEHOLDERS",
    "REMOVED",
    "REMOVED_CATEGORIES",
    "is_placeholder",
    "placeholder_state",
    "removal_state",
]

DELETED: Final = "deleted"
REMOVED: Final = "removed"

# The markers seen in `body`, `selftext` and `title` (docs/refresh.md gives the sources);
# `placeholder_state` also matches their variants.
PLACEHOLDERS: Final = (
    "[deleted]",
    "[removed]",
    "[deleted by user]",
    "[ Removed by Reddit ]",
    "[ Removed by Reddit on account of violating the content policy. ]",
    "[ Removed by Reddit on account of violating the [content policy](/help/contentpolicy). ]",
    "[ Removed by Reddit in response to a copyright notice. ]",
    "[ Removed by moderator ]",
)
# `removed_by_category` values that mean the author's own deletion; every other value
# (REMOVED_CATEGORIES, and any Reddit adds later) means a removal.
DELETED_CATEGORIES: Final = frozenset({"deleted", "author", "user"})
REMOVED_CATEGORIES: Final = frozenset(
    {
        "moderator",
        "automod_filtered",
        "reddit",
        "anti_evil_ops",
        "community_ops",
        "legal_operations",
        "copyright_takedown",
        "content_takedown",
    }
)
_TEXT_KEYS = ("body", "selftext", "title")
_LONGEST = 300  # characters: a placeholder is a short sentence, never a long text
# "[" word ["by" who [reason…]] "]": the word says deleted or removed, `who` overrides it
_MARKER = re.compile(
    r"\[ ?(?P<word>deleted|removed)"
    r"(?: by (?P<who>user|(?:the )?author|reddit|admins?|(?:an? |the )?moderators?)\b.*?)?"
    r" ?\.? ?\]",
    re.IGNORECASE | re.DOTALL,
)


def placeholder_state(text: object) -> str | None:
    """`DELETED` or `REMOVED` when `text` is one of Reddit's placeholders (tolerantly,
    see the module docstring), else None (also for anything not a string)."""
    if not isinstance(text, str) or not text or len(text) > _LONGEST or "[" not in text:
        return None
    match = _MARKER.fullmatch(" ".join(text.split()))
    if match is None:
        return None
    who = (match["who"] or "").lower()
    if who in ("user", "author", "the author"):
        return DELETED
    if who:
        return REMOVED
    return DELETED if match["word"].lower() == DELETED else REMOVED


def is_placeholder(text: object) -> bool:
    """True for a removal or deletion placeholder (`placeholder_state` not None)."""
    return placeholder_state(text) is not None


def _category_state(value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in DELETED_CATEGORIES:
        return DELETED
    return REMOVED


def removal_state(payload: Mapping[str, Any]) -> str | None:
    """`DELETED`, `REMOVED` or None (the item is there) for a post's or comment's JSON.

    `removed_by_category` decides when Reddit gives one; then a moderator's view
    (`removed` or `spam` true); then a placeholder in `body`, `selftext` or `title`,
    in that order."""
    state = _category_state(payload.get("removed_by_category"))
    if state is not None:
        return state
    if payload.get("removed") is True or payload.get("spam") is True:
        return REMOVED
    for key in _TEXT_KEYS:
        state = placeholder_state(payload.get(key))
        if state is not None:
            return state
    return None
