"""What `sentpipe refresh hn` reads of a fresh Hacker News item (`RULES`, the spec's
`refresh`). Pure data, no network: the request side is `refresh/hackernews.py`.

- state (`hn_state`): `deleted` when the Firebase item says `deleted: true` (its author
  deleted it: HN keeps only `id`, `type`, `time`, `parent`/`kids`); `removed` when it
  says `dead: true` (HN's *dead*: killed by moderators or by users' flags, or by the
  spam filter; the item keeps its text but HN shows it only to users who turned on
  `showdead`); deleted wins over dead; else live;
- edits: HN lets an author edit for two hours; the text compared is the spec's
  `text_keys` (`title`, `text`) and an edit writes `title`, `text` and `url` (a key
  the fresh item leaves out is written as null: the Firebase API leaves out fields
  without value);
- redaction blanks the author (`by`, Algolia's `author`), `text`, `title`, `url`, and
  the text keys of Algolia search hits (`story_text`, `comment_text`, `story_title`,
  `story_url`, `_highlightResult`) should a payload hold them; ids, times, `type`,
  counts and the `deleted`/`dead` flags stay;
- the comment count is `descendants` (Firebase; stories and polls), else `num_comments`
  (Algolia search hits); an Algolia `items/{id}` node has none;
- a story or poll whose count grew gets its thread fetched again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentiment_pipeline.sources import RefreshRules

__all__ = ["EDIT_KEYS", "REDACT_KEYS", "RULES", "hn_state"]

EDIT_KEYS = ("title", "text", "url")
REDACT_KEYS = frozenset(
    {
        "by",
        "author",
        "text",
        "title",
        "url",
        "story_text",
        "comment_text",
        "story_title",
        "story_url",
        "_highlightResult",
    }
)


def hn_state(item: Mapping[str, Any]) -> str | None:
    """`deleted` (`deleted: true`), `removed` (`dead: true`) or None (the item is there)."""
    if item.get("deleted") is True:
        return "deleted"
    if item.get("dead") is True:
        return "removed"
    return None


RULES = RefreshRules(
    state_of=hn_state,
    edit_keys=EDIT_KEYS,
    edit_absent_null=True,
    redact_keys=REDACT_KEYS,
    redact_prefixes=(),
    count_keys=("descendants", "num_comments"),
    grows=frozenset({"story", "poll"}),
)
