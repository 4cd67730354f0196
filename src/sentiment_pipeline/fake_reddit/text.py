"""Deterministic filler text.

The words are the project's own; nothing is copied from Reddit. Text only needs
to vary (for sentiment and dedup tests), so a small vocabulary is enough.
"""

from __future__ import annotations

import random

_VOCABULARY = (
    "market stock price earnings growth drop rally crash bullish bearish "
    "great terrible amazing awful love hate think maybe really very "
    "today tomorrow yesterday week month year quarter report guidance "
    "company product launch update release team ceo investor fund "
    "buy sell hold short long option call put dividend yield "
    "happy sad angry excited worried calm confident nervous surprised "
    "good bad better worse best worst fine okay solid weak strong "
    "the a an and or but so because while if when then than "
    "is was are were be been has have had do does did will would "
    "chip cloud phone car battery energy bank rate inflation jobs"
)
_WORDS = _VOCABULARY.split()

_FLAIRS = ("Discussion", "News", "Question", "DD", "Meme", "Earnings", "Daily Thread")
_AUTHOR_PARTS = ("quiet", "red", "lucky", "brave", "tired", "fast", "moon", "owl", "cat", "fox")


def sentence(rng: random.Random, low: int = 4, high: int = 14) -> str:
    """Return one sentence of ``low``..``high`` words."""
    words = [rng.choice(_WORDS) for _ in range(rng.randint(low, high))]
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice((".", ".", "!", "?"))


def paragraph(rng: random.Random, sentences: int) -> str:
    """Return ``sentences`` sentences joined by spaces."""
    return " ".join(sentence(rng) for _ in range(sentences))


def title(rng: random.Random) -> str:
    """Return a post title (no trailing punctuation sometimes, like people write)."""
    text = sentence(rng, 3, 12)
    return text[:-1] if rng.random() < 0.4 else text


def body(rng: random.Random, max_paragraphs: int = 3) -> str:
    """Return a self-text or comment body; may be empty."""
    count = rng.randint(0, max_paragraphs)
    return "\n\n".join(paragraph(rng, rng.randint(1, 4)) for _ in range(count))


def author(rng: random.Random) -> str:
    """Return a plausible username."""
    return f"{rng.choice(_AUTHOR_PARTS)}_{rng.choice(_AUTHOR_PARTS)}{rng.randint(1, 9999)}"


def flair(rng: random.Random) -> str | None:
    """Return a link flair, or None for unflaired posts."""
    return rng.choice(_FLAIRS) if rng.random() < 0.6 else None
