"""Scorers: a `Scorer` protocol and a small registry of them by short name.

A scorer turns one cleaned text into `Scores` (compound in [-1, 1]; pos, neu, neg shares
in [0, 1]). Each scorer has a `model_id` that includes its version (`vader-3.3.2`): it is
what `sentiment_scores.model` stores, so two models' (or two versions') scores coexist.

The registry maps a name (`vader`) to a factory; the heavy import happens only when a
scorer is made. An unknown name raises ConfigError listing the names that exist.

VADER's cost grows with the square of a text's length (it looks words up with
`list.index` inside a loop over the words). `VaderScorer` therefore scores a text longer
than `MAX_CHUNK_CHARS` in chunks: it splits at sentence ends (then at blanks, then hard)
into pieces of at most `MAX_CHUNK_CHARS` characters, scores each piece, and combines them
as the mean of compound, pos, neu and neg weighted by each piece's length in characters.
Texts up to that length (nearly every Reddit comment) get exactly VADER's own scores.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from sentiment_pipeline.errors import ConfigError

__all__ = [
    "MAX_CHUNK_CHARS",
    "SCORERS",
    "Label",
    "Scorer",
    "Scores",
    "VaderScorer",
    "chunks",
    "get_scorer",
    "label_for",
    "model_id_for",
]

Label = Literal["positive", "neutral", "negative"]
POSITIVE_AT = 0.05  # VADER's standard thresholds: compound >= 0.05 positive,
NEGATIVE_AT = -0.05  # <= -0.05 negative, neutral in between
MAX_CHUNK_CHARS = 1000
_SENTENCE_END = re.compile(r"(?<=[.!?…\n])\s+")


class Scores(NamedTuple):
    compound: float
    pos: float
    neu: float
    neg: float


def label_for(compound: float) -> Label:
    """`positive` / `neutral` / `negative` with VADER's ±0.05 thresholds."""
    if compound >= POSITIVE_AT:
        return "positive"
    if compound <= NEGATIVE_AT:
        return "negative"
    return "neutral"


@runtime_checkable
class Scorer(Protocol):
    """Anything that scores cleaned texts; `model_id` names the model and its version."""

    model_id: str

    def score(self, text: str) -> Scores:
        """Scores for one non-empty cleaned text."""
        ...


def chunks(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """`text` cut into pieces of at most `limit` characters: at sentence ends where it
    can, else at blanks, else anywhere. Pieces keep their punctuation."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        for part in _split_long(sentence, limit):
            if current and len(current) + 1 + len(part) > limit:
                pieces.append(current)
                current = part
            else:
                current = f"{current} {part}" if current else part
    if current:
        pieces.append(current)
    return pieces


def _split_long(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    out: list[str] = []
    current = ""
    for word in sentence.split():
        while len(word) > limit:  # one "word" longer than a chunk: 50,000 `!`
            if current:
                out.append(current)
                current = ""
            out.append(word[:limit])
            word = word[limit:]
        if current and len(current) + 1 + len(word) > limit:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        out.append(current)
    return out


@cache
def _vader_version() -> str:
    try:
        return metadata.version("vaderSentiment")
    except metadata.PackageNotFoundError:
        return "unknown"


class VaderScorer:
    """VADER (vaderSentiment) with bounded cost for long texts (see the module docstring)."""

    def __init__(self) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as error:  # a dependency, but say so clearly if it is missing
            raise ConfigError(
                "the vaderSentiment package is not installed",
                "pip install 'vaderSentiment>=3.3.2,<4' (a dependency of sentpipe)",
            ) from error
        self.model_id = f"vader-{_vader_version()}"
        self._polarity = SentimentIntensityAnalyzer().polarity_scores

    def score(self, text: str) -> Scores:
        polarity = self._polarity
        if len(text) <= MAX_CHUNK_CHARS:
            s = polarity(text)
            return Scores(s["compound"], s["pos"], s["neu"], s["neg"])
        compound = pos = neu = neg = 0.0
        total = 0
        for piece in chunks(text):
            s = polarity(piece)
            weight = len(piece)
            total += weight
            compound += s["compound"] * weight
            pos += s["pos"] * weight
            neu += s["neu"] * weight
            neg += s["neg"] * weight
        return Scores(
            round(compound / total, 4),
            round(pos / total, 3),
            round(neu / total, 3),
            round(neg / total, 3),
        )


SCORERS: dict[str, tuple[Callable[[], str], Callable[[], Scorer]]] = {
    "vader": (lambda: f"vader-{_vader_version()}", VaderScorer),
}


def _lookup(name: str) -> tuple[Callable[[], str], Callable[[], Scorer]]:
    try:
        return SCORERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown sentiment model {name!r}", f"choose from {', '.join(sorted(SCORERS))}"
        ) from None


def model_id_for(name: str) -> str:
    """The stored `model` id for a registry name, without loading the model."""
    return _lookup(name)[0]()


def get_scorer(name: str) -> Scorer:
    """A new scorer by registry name (`vader`); ConfigError lists the names that exist."""
    return _lookup(name)[1]()
