"""Posts whose JSON holds nested objects, in Reddit's shapes: poll, gallery, crosspost.

A client that stores asyncpraw's object model instead of the JSON it was sent loses
these: ``poll_data`` becomes a ``PollData`` repr, and objects turn into names. The
shapes follow what Reddit's listings carry; every value is written for this project.
"""

from __future__ import annotations

import copy
from typing import Any

from .models import JSON

# The post of case 09 (poll options with vote counts, as Reddit sends them).
POLL_DATA: JSON = {
    "prediction_status": None,
    "total_stake_amount": None,
    "voting_end_timestamp": 1790600000000,  # milliseconds
    "options": [
        {"text": "Vim", "id": "9001", "vote_count": 40},
        {"text": "Emacs", "id": "9002", "vote_count": 35},
    ],
    "vote_updates_remained": None,
    "is_prediction": False,
    "resolved_option_id": None,
    "user_won_amount": None,
    "user_selection": None,
    "total_vote_count": 75,
    "tournament_id": None,
}
_PREVIEW_HOST = "https://preview.redd.it"
_MEDIA = ("g4ll3ry0a1", "g4ll3ry0b2")


def _image(name: str, width: int, height: int) -> JSON:
    return {"y": height, "x": width, "u": f"{_PREVIEW_HOST}/{name}.jpg?width={width}&s=0f1e"}


def award() -> JSON:
    """One entry of ``all_awardings``; its icons have Reddit's ``url/width/height``."""
    return {
        "id": "award_fake_0001",
        "name": "Helpful",
        "description": "Thank you stranger. Shows the award.",
        "coin_price": 150,
        "count": 2,
        "award_type": "global",
        "icon_url": "https://www.redditstatic.com/gold/awards/icon/fake_512.png",
        "icon_width": 2048,
        "icon_height": 2048,
        "resized_icons": [
            {"url": "https://preview.redd.it/award_fake_16.png", "width": 16, "height": 16},
            {"url": "https://preview.redd.it/award_fake_32.png", "width": 32, "height": 32},
        ],
        "is_enabled": True,
        "subreddit_id": None,
    }


def _source(name: str, width: int, height: int) -> JSON:
    url = f"{_PREVIEW_HOST}/{name}.jpg?width={width}&s=9a8b"
    return {"url": url, "width": width, "height": height}


def preview(name: str) -> JSON:
    """The ``preview`` object of a link post."""
    return {
        "images": [
            {
                "source": _source(name, 1200, 800),
                "resolutions": [_source(name, 108, 72), _source(name, 216, 144)],
                "variants": {},
                "id": name,
            }
        ],
        "enabled": False,
    }


AUTHOR_FLAIR_RICHTEXT: list[JSON] = [
    {"a": ":snoo:", "e": "emoji", "u": "https://emoji.redditmedia.com/fake/snoo.png"},
    {"e": "text", "t": " Long-time reader"},
]


def flair_richtext(text: str | None) -> list[JSON]:
    """``link_flair_richtext`` for a plain-text flair (Reddit sends ``[]`` for none)."""
    return [{"e": "text", "t": text}] if text else []


def _gallery() -> dict[str, Any]:
    items = [
        {"media_id": media, "id": 310000 + n, "caption": f"Picture {n + 1}"}
        for n, media in enumerate(_MEDIA)
    ]
    metadata = {
        media: {
            "status": "valid",
            "e": "Image",
            "m": "image/jpg",
            "p": [_image(media, 108, 72), _image(media, 320, 213)],
            "s": _image(media, 1600, 1067),
            "id": media,
        }
        for media in _MEDIA
    }
    return {
        "title": "Gallery of two pictures",
        "selftext": "",
        "is_self": False,
        "is_gallery": True,
        "domain": "reddit.com",
        "thumbnail": f"https://b.thumbs.redditmedia.com/{_MEDIA[0]}.jpg",
        "gallery_data": {"items": items},
        "media_metadata": metadata,
    }


def _crosspost_parent() -> JSON:
    return {
        "id": "xp0001",
        "name": "t3_xp0001",
        "title": "The original post, from another subreddit",
        "selftext": "Shared from elsewhere.",
        "author": "original_poster",
        "author_fullname": "t2_xpau1",
        "subreddit": "elsewhere",
        "subreddit_id": "t5_xpsr1",
        "subreddit_name_prefixed": "r/elsewhere",
        "created_utc": 1700000000.0,
        "score": 321,
        "num_comments": 45,
        "permalink": "/r/elsewhere/comments/xp0001/the_original_post/",
        "url": "https://www.reddit.com/r/elsewhere/comments/xp0001/the_original_post/",
        "is_self": True,
        "all_awardings": [award()],
        "link_flair_richtext": flair_richtext("Original"),
        "author_flair_richtext": copy.deepcopy(AUTHOR_FLAIR_RICHTEXT),
        "poll_data": None,
    }


def post_overrides() -> list[dict[str, Any]]:
    """Field overrides for the poll, gallery, crosspost and rich link posts."""
    parent = _crosspost_parent()
    return [
        {
            "title": "Which editor do you use?",
            "selftext": "Vote below",
            "is_self": True,
            "poll_data": copy.deepcopy(POLL_DATA),
        },
        _gallery(),
        {
            "title": "Crossposted: " + str(parent["title"]),
            "selftext": "",
            "is_self": False,
            "crosspost_parent": parent["name"],
            "crosspost_parent_list": [parent],
            "url": str(parent["permalink"]),
        },
        {
            "title": "Link post with a preview, awards and flair",
            "selftext": "",
            "is_self": False,
            "post_hint": "image",
            "preview": preview("l1nkpr3v"),
            "all_awardings": [award()],
            "total_awards_received": 2,
            "author_flair_richtext": copy.deepcopy(AUTHOR_FLAIR_RICHTEXT),
            "author_flair_text": ":snoo: Long-time reader",
            "author_flair_type": "richtext",
        },
    ]
