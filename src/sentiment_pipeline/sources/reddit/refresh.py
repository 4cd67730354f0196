"""What `sentpipe refresh reddit` reads of a fresh Reddit item (`RULES`, the spec's
`refresh`): its state (`removed.removal_state`), the keys an edit replaces, the keys a
redaction blanks, its comment count and upvote ratio. Pure data, no network: the
request side is `refresh/reddit.py`. See docs/refresh.md.
"""

from __future__ import annotations

from sentiment_pipeline.sources import RefreshRules
from sentiment_pipeline.sources.reddit.removed import removal_state

__all__ = ["EDIT_KEYS", "REDACT_KEYS", "RULES"]

EDIT_KEYS = ("title", "selftext", "selftext_html", "body", "body_html", "edited")
# Blanked on redaction: text, embedded URLs and media. Every key starting with "author"
# goes too (author, author_fullname, author_flair_*, …).
REDACT_KEYS = frozenset(
    {
        "title",
        "selftext",
        "selftext_html",
        "body",
        "body_html",
        "url",
        "url_overridden_by_dest",
        "permalink",
        "domain",
        "thumbnail",
        "media",
        "secure_media",
        "media_embed",
        "secure_media_embed",
        "media_metadata",
        "gallery_data",
        "preview",
        "poll_data",
        "crosspost_parent_list",
        "link_title",
        "link_author",
        "link_permalink",
        "link_url",
    }
)

RULES = RefreshRules(
    state_of=removal_state,
    edit_keys=EDIT_KEYS,
    redact_keys=REDACT_KEYS,
    redact_prefixes=("author",),
    count_keys=("num_comments",),
    ratio_key="upvote_ratio",
    grows=frozenset({"submission"}),
)
