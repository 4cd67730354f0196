"""Planted mentions: live posts and comments that name a phrase, at a chosen share.

``SubredditSpec.mentions`` holds ``(phrase, share)`` pairs. Each new live post and each
new live comment draws, per phrase, from its own stream (seed, subreddit, phrase and the
item's fullname, so the live arrival streams are untouched and a seed always plants the
same phrases in the same items); with probability ``share`` the phrase goes into it:

- a post gets it in the self-text (half of the time, when there is a visible one) or
  else in the title (its permalink slug follows the new title, as Reddit derives it
  from the title at submission);
- a comment gets it in the body; a ``[deleted]`` or ``[removed]`` comment shows no text
  and gets none, so the share among all comments is a little lower.

The phrase varies as people write it: as configured, lower case, upper case or title
case; sometimes possessive (``Tesla's``, ``Tesla’s``); sometimes wrapped in punctuation
(``"tesla"``, ``(Tesla)``, ``TESLA,``, ``*tesla*``). It is inserted between two
space-separated chunks of the text (or is the whole text when that is empty), so it is
never glued into a bigger word: a case-insensitive whole-word match finds it.

``planted`` remembers the items per phrase; ``FakeReddit.mentioned`` lists those that
still hold the phrase (an edit, delete or removal may take it away).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import query
from .config import SubredditSpec
from .generator import slug
from .models import JSON, CommentNode, Post

GONE = frozenset({"[deleted]", "[removed]"})
POSSESSIVE_SHARE = 0.2
_POSSESSIVES = ("'s", "’s")
_WRAPS = (
    ("", ""),
    ("", ""),
    ("", ""),
    ("", ","),
    ("", "."),
    ("", "!"),
    ("", "?"),
    ("", ":"),
    ('"', '"'),
    ("(", ")"),
    ("*", "*"),
)

PhraseKey = tuple[str, ...]


def phrase_key(phrase: str) -> PhraseKey:
    """How phrases are compared: their words (``Model-3`` and ``model 3`` are one)."""
    return tuple(query.words(phrase))


@dataclass(frozen=True)
class Planted:
    """An item a phrase was planted in: its fullname, time and live ``data`` dict."""

    fullname: str
    created_utc: float
    data: JSON
    fields: tuple[str, ...]  # where its text is: title and selftext, or body

    def holds(self, key: PhraseKey) -> bool:
        """Whether the item's text holds the phrase now (by the fake's search matcher)."""
        return any(
            query.has_phrase(key, query.words(str(self.data.get(name) or "")))
            for name in self.fields
        )


def variant(rng: random.Random, phrase: str) -> str:
    """The phrase as one person might write it (case, possessive, punctuation)."""
    title_case = " ".join(word[:1].upper() + word[1:] for word in phrase.split(" "))
    text = rng.choice((phrase, phrase.lower(), phrase.upper(), title_case))
    if rng.random() < POSSESSIVE_SHARE:
        text += rng.choice(_POSSESSIVES)
    before, after = rng.choice(_WRAPS)
    return before + text + after


def insert(rng: random.Random, text: str, mention: str) -> str:
    """``text`` with ``mention`` between two of its space-separated chunks."""
    if not text.strip():
        return mention
    chunks = text.split(" ")
    at = rng.randint(0, len(chunks))
    return " ".join([*chunks[:at], mention, *chunks[at:]])


class Mentions:
    """The phrases one subreddit plants, and where it has planted them."""

    def __init__(self, spec: SubredditSpec) -> None:
        self.spec = spec
        self.planted: dict[PhraseKey, list[Planted]] = {
            phrase_key(phrase): [] for phrase, _ in spec.mentions
        }

    def _draws(self, fullname: str) -> list[tuple[str, random.Random]]:
        """The phrases item ``fullname`` gets, each with the stream that places it."""
        base = f"{self.spec.seed}:{self.spec.name.lower()}:mention"
        out: list[tuple[str, random.Random]] = []
        for phrase, share in self.spec.mentions:
            rng = random.Random(f"{base}:{phrase}:{fullname}")
            if rng.random() < share:
                out.append((phrase, rng))
        return out

    def post(self, post: Post) -> None:
        """Plant the drawn phrases in a new live post (before it is listed)."""
        for phrase, rng in self._draws(post.name):
            body = post.data.get("selftext")
            visible = isinstance(body, str) and body.strip() and body not in GONE
            name = "selftext" if visible and rng.random() < 0.5 else "title"
            post.data[name] = insert(rng, str(post.data.get(name) or ""), variant(rng, phrase))
            if name == "title":
                _follow_title(post)
            self.planted[phrase_key(phrase)].append(
                Planted(post.name, post.created_utc, post.data, ("title", "selftext"))
            )

    def comment(self, node: CommentNode) -> None:
        """Plant the drawn phrases in a new live comment (not a deleted or removed one)."""
        for phrase, rng in self._draws(node.name):
            body = node.data.get("body")
            if not isinstance(body, str) or body in GONE:
                continue
            node.data["body"] = insert(rng, body, variant(rng, phrase))
            self.planted[phrase_key(phrase)].append(
                Planted(node.name, node.created_utc, node.data, ("body",))
            )


def _follow_title(post: Post) -> None:
    """Derive the permalink (and a self post's url) from the new title."""
    data = post.data
    permalink = f"/r/{data['subreddit']}/comments/{post.id}/{slug(str(data['title']))}/"
    data["permalink"] = permalink
    if data.get("is_self"):
        data["url"] = f"https://www.reddit.com{permalink}"
