"""Content that breaks naive pipelines, for the ``hostile`` preset.

Every string here is written for this project (no recorded Reddit data). Each
entry targets a known failure: NUL bytes in Postgres text, ZWJ emoji and flags
in tokenisers, bidi overrides in terminals, huge bodies, CSV/HTML/SQL injection
shapes, missing optional fields in parsers, a title ending in half a surrogate pair
(served as the JSON escape ``\\ud83d``) in encoders, and the ``rich`` posts (poll,
gallery, crosspost) in clients that store an object model instead of the JSON.
"""

from __future__ import annotations

import random
from typing import Any

from . import rich

DROP = "__drop__"  # key in an override listing fields to delete from the post

FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
FLAGS = "\U0001f1ef\U0001f1f5\U0001f1e7\U0001f1f7\U0001f1fa\U0001f1e6"
THUMB_TONE = "\U0001f44d\U0001f3fd"
RLO = "\u202e"
ARABIC = "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645"
HEBREW = "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd"
CSV_BREAKER = (
    '=HYPERLINK("http://example.invalid","click"), "quoted, with comma"\n"second line"\r\n,;\t'
)
HTML_BREAKER = '<script>alert("x")</script> & <b>bold</b> &amp; &lt;already&gt;'
SQL_BREAKER = "Robert'); DROP TABLE posts;-- \\N NULL '' \"\""
BIG_BODY_BYTES = 200 * 1024
TITLE_MAX = 300
LONE_SURROGATE_TITLE = "Half an emoji \ud83d cut off \ud83d"


def _big_body() -> str:
    unit = 'Long body line with numbers 0123456789 and a comma, plus quotes "x".\n'
    return (unit * (BIG_BODY_BYTES // len(unit) + 1))[:BIG_BODY_BYTES]


def _long_title() -> str:
    unit = "A very long title that keeps going "
    return (unit * 10)[: TITLE_MAX - 1] + "!"


def post_overrides() -> list[dict[str, Any]]:
    """Field overrides for the crafted hostile posts, newest first."""
    return [
        {
            "title": "NUL\x00in the title\x00",
            "selftext": "Body with \x00 NUL \x00\x00 chars",
        },
        {
            "title": f"Family {FAMILY} flags {FLAGS} {RAINBOW_FLAG} {THUMB_TONE}",
            "selftext": f"Emoji body {FAMILY}{FAMILY} {RAINBOW_FLAG}\n{FLAGS}",
        },
        {
            "title": f"{ARABIC} {HEBREW} {RLO}gpj.exe",
            "selftext": f"Mixed {ARABIC} then English then {HEBREW} {RLO}reversed",
        },
        {"title": "Huge body", "selftext": _big_body()},
        {"title": _long_title(), "selftext": "Title is 300 characters long."},
        {
            "title": "Post with missing optional fields",
            DROP: [
                "selftext",
                "link_flair_text",
                "link_flair_css_class",
                "author_flair_text",
                "author_fullname",
                "edited",
                "upvote_ratio",
                "thumbnail",
                "removed_by_category",
                "over_18",
                "spoiler",
            ],
        },
        {"title": CSV_BREAKER, "selftext": CSV_BREAKER + "\n" + SQL_BREAKER},
        {"title": HTML_BREAKER, "selftext": HTML_BREAKER},
        {
            "title": "Deleted by author",
            "author": "[deleted]",
            "selftext": "[deleted]",
            "removed_by_category": "deleted",
            DROP: ["author_fullname"],
        },
        {
            "title": "Removed by moderators",
            "author": "[deleted]",
            "selftext": "[removed]",
            "removed_by_category": "moderator",
            DROP: ["author_fullname"],
        },
        {"title": "   ", "selftext": "Title is only whitespace"},
        {
            "title": "Empty body, NSFW and spoiler",
            "selftext": "",
            "over_18": True,
            "spoiler": True,
        },
        {"title": LONE_SURROGATE_TITLE, "selftext": "The title holds two lone surrogates."},
        *rich.post_overrides(),
    ]


_COMMENT_SNIPPETS = (
    "NUL\x00inside",
    f"{FAMILY} {FLAGS} {RAINBOW_FLAG}",
    f"{ARABIC} {RLO}txt.exe",
    CSV_BREAKER,
    HTML_BREAKER,
    SQL_BREAKER,
    "",
)


def comment_body(rng: random.Random) -> str | None:
    """Return a hostile comment body half of the time, else None."""
    if rng.random() < 0.5:
        return rng.choice(_COMMENT_SNIPPETS)
    return None


def apply(data: dict[str, Any], override: dict[str, Any]) -> None:
    """Apply one override (set fields, then drop the listed ones) in place."""
    for key, value in override.items():
        if key != DROP:
            data[key] = value
    for key in override.get(DROP, []):
        data.pop(key, None)
