"""Deterministic filler text with a mood: clearly positive, negative or neutral.

The words are the project's own; nothing is copied from Reddit. Each text has a mood
picked from the seed: a positive or negative sentence mixes a few strong lexicon words
(`great`, `awful`, ...) into neutral filler, a neutral one is filler only, so a
sentiment scorer gives the generated subreddits varied, non-trivial figures.

The random stream is consumed exactly as the plain word picker before it did (one
`randint`, one pick among 104 slots per word, one pick of the end mark), so ids, times,
scores and comment counts of generated data do not depend on the words.
"""

from __future__ import annotations

import random

_SLOTS = range(104)  # one pick per word, from the same number of slots as always
_ENDS = (".", ".", "!", "?")
_MOODS = ("positive", "negative", "neutral")
_POSITIVE = (  # noqa: SIM905 (word lists read better as text)
    "great amazing love happy excited good better best solid strong confident awesome "
    "glad win nice excellent fantastic perfect thanks impressive"
).split()
_NEGATIVE = (  # noqa: SIM905
    "terrible awful hate sad angry worried bad worse worst weak nervous crash "
    "disappointed scared horrible loss panic ugly fail pathetic"
).split()
_NEUTRAL = (  # noqa: SIM905 -- none of these is in VADER's lexicon, boosters or negations
    "market stock price earnings report company product launch update release team ceo "
    "investor fund option dividend yield today tomorrow yesterday week month year quarter "
    "guidance chip cloud phone car battery power bank rate inflation jobs the a an and or "
    "also because while if when then than is was are were be been has have had do does "
    "did will would this that our my their new units chart"
).split()

_FLAIRS = ("Discussion", "News", "Question", "DD", "Meme", "Earnings", "Daily Thread")
_AUTHOR_PARTS = ("quiet", "red", "lucky", "brave", "tired", "fast", "moon", "owl", "cat", "fox")


def _mood_word(pick: int, mood: str) -> str:
    lexicon = _POSITIVE if mood == "positive" else _NEGATIVE
    return lexicon[pick // 3 % len(lexicon)]


def _word(pick: int, mood: str) -> str:
    """A third of the words carry the mood; the others are neutral filler."""
    if mood != "neutral" and pick % 3 == 0:
        return _mood_word(pick, mood)
    return _NEUTRAL[pick % len(_NEUTRAL)]


def _sentence(rng: random.Random, low: int, high: int, mood: str | None) -> tuple[str, str]:
    """(sentence, its own mood). `mood` None: the first pick chooses it; otherwise the
    text's mood, except that one sentence in five is a neutral aside."""
    picks = [rng.choice(_SLOTS) for _ in range(rng.randint(low, high))]
    end = rng.choice(_ENDS)
    own = _MOODS[picks[0] % 3]
    if mood is None:
        mood = own
    elif picks[0] % 5 == 0:
        mood = "neutral"
    if mood == "neutral":
        words = [_NEUTRAL[p % len(_NEUTRAL)] for p in picks]
    else:  # the first word carries the mood, the rest mostly filler
        words = [_mood_word(picks[0], mood), *(_word(p, mood) for p in picks[1:])]
    text = " ".join(words)
    return text[0].upper() + text[1:] + end, own


def sentence(rng: random.Random, low: int = 4, high: int = 14) -> str:
    """Return one sentence of ``low``..``high`` words, of a mood chosen by ``rng``."""
    return _sentence(rng, low, high, None)[0]


def _paragraph(rng: random.Random, sentences: int, mood: str | None) -> tuple[str, str | None]:
    out = []
    for _ in range(sentences):
        text, own = _sentence(rng, 4, 14, mood)
        mood = mood or own
        out.append(text)
    return " ".join(out), mood


def paragraph(rng: random.Random, sentences: int) -> str:
    """Return ``sentences`` sentences joined by spaces, in the first sentence's mood."""
    return _paragraph(rng, sentences, None)[0]


def title(rng: random.Random) -> str:
    """Return a post title (no trailing punctuation sometimes, like people write)."""
    text = sentence(rng, 3, 12)
    return text[:-1] if rng.random() < 0.4 else text


def body(rng: random.Random, max_paragraphs: int = 3) -> str:
    """Return a self-text or comment body in one mood (its first sentence's), with an
    occasional neutral aside; may be empty."""
    count = rng.randint(0, max_paragraphs)
    mood: str | None = None
    paragraphs = []
    for _ in range(count):
        text, mood = _paragraph(rng, rng.randint(1, 4), mood)
        paragraphs.append(text)
    return "\n\n".join(paragraphs)


def author(rng: random.Random) -> str:
    """Return a plausible username."""
    return f"{rng.choice(_AUTHOR_PARTS)}_{rng.choice(_AUTHOR_PARTS)}{rng.randint(1, 9999)}"


def flair(rng: random.Random) -> str | None:
    """Return a link flair, or None for unflaired posts."""
    return rng.choice(_FLAIRS) if rng.random() < 0.6 else None
