"""Scorers: a `Scorer` protocol and a small registry of them by short name.

A scorer turns one cleaned text into `Scores` (compound in [-1, 1]; pos, neu, neg shares
in [0, 1]). Each scorer has a `model_id` that includes its version and the version of
the cleaning it reads (`vader-3.3.2+clean2`, `sentiment.clean.CLEANING_VERSION`): it is
what `sentiment_scores.model` stores, so two models' (or two versions') scores coexist.
`older_model_ids` names the ids the same model stored under earlier cleanings
(`vader-3.3.2`, cleaning 1): still readable when named, never written again.

The registry maps a name (`vader`) to a factory; the heavy import happens only when a
scorer is made. An unknown name raises ConfigError listing the names that exist.

VADER's cost grows with the square of a text's length: for every word it lower-cases
the whole word list again (`_negation_check`, `_special_idioms_check`), and it first
replaces each emoji by its description ("😀" → "grinning face"), so what counts is the
length *after* that expansion (`vader_length`). `VaderScorer` therefore:

- scores a text whose `vader_length` is at most `EXACT_LIMIT` (5,000) exactly as VADER
  does (every ordinary comment and post);
- cuts a longer one at sentence ends (then at blanks, then anywhere) into pieces of at
  most `CHUNK_LIMIT` (500) in the same measure, scores each piece and combines them as the
  mean of compound, pos, neu and neg weighted by each piece's length in characters.

Total cost is then linear in the text's length: pieces of 500 make a 200,000-character
comment cost about 1/10 of what 5,000-character pieces would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from sentiment_pipeline.errors import ConfigError

__all__ = [
    "CHUNK_LIMIT",
    "EXACT_LIMIT",
    "SCORERS",
    "Label",
    "Scorer",
    "Scores",
    "VaderScorer",
    "chunks",
    "get_scorer",
    "label_for",
    "model_id_for",
    "older_model_ids",
    "vader_length",
]

Label = Literal["positive", "neutral", "negative"]
POSITIVE_AT = 0.05  # VADER's standard thresholds: compound >= 0.05 positive,
NEGATIVE_AT = -0.05  # <= -0.05 negative, neutral in between
EXACT_LIMIT = 5000  # vader_length up to which a text gets VADER's own scores
CHUNK_LIMIT = 500  # vader_length of the pieces a longer text is scored in
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


@cache
def _emoji_table() -> dict[int, str]:
    """str.translate table: each single-character VADER emoji → itself + its description."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    emojis: dict[str, str] = SentimentIntensityAnalyzer().emojis
    return {ord(key): f"{key} {value}" for key, value in emojis.items() if len(key) == 1}


def vader_length(text: str) -> int:
    """Characters VADER works on: `len(text)` with each emoji counted with its
    description (≈ what `polarity_scores` expands it to). O(n), in C."""
    if text.isascii():
        return len(text)
    return len(text.translate(_emoji_table()))


def chunks(text: str, limit: int = CHUNK_LIMIT, size: Callable[[str], int] = len) -> list[str]:
    """`text` cut into pieces of at most `limit` by `size` (characters, or
    `vader_length`): at sentence ends where it can, else at blanks, else anywhere.
    Pieces keep their punctuation; one character heavier than `limit` is a piece."""
    if size(text) <= limit:
        return [text]
    pieces: list[str] = []
    current, used = "", 0
    for sentence in _SENTENCE_END.split(text):
        for part in _split_long(sentence, limit, size):
            weight = size(part)
            if current and used + 1 + weight > limit:
                pieces.append(current)
                current, used = part, weight
            elif current:
                current, used = f"{current} {part}", used + 1 + weight
            else:
                current, used = part, weight
    if current:
        pieces.append(current)
    return pieces


def _split_long(sentence: str, limit: int, size: Callable[[str], int]) -> list[str]:
    if size(sentence) <= limit:
        return [sentence]
    out: list[str] = []
    current, used = "", 0
    for word in sentence.split():
        weight = size(word)
        if weight > limit:  # one "word" longer than a piece: 50,000 `!`, 800 emoji
            if current:
                out.append(current)
                current, used = "", 0
            out.extend(_hard_split(word, limit, size))
            continue
        if current and used + 1 + weight > limit:
            out.append(current)
            current, used = word, weight
        elif current:
            current, used = f"{current} {word}", used + 1 + weight
        else:
            current, used = word, weight
    if current:
        out.append(current)
    return out


def _hard_split(word: str, limit: int, size: Callable[[str], int]) -> list[str]:
    if size is len:
        return [word[i : i + limit] for i in range(0, len(word), limit)]
    out: list[str] = []
    start, used = 0, 0
    for i, char in enumerate(word):
        weight = size(char)
        if used and used + weight > limit:
            out.append(word[start:i])
            start, used = i, 0
        used += weight
    out.append(word[start:])
    return out


@cache
def _vader_version() -> str:
    try:
        return metadata.version("vaderSentiment")
    except metadata.PackageNotFoundError:
        return "unknown"


def _vader_id(cleaning: int | None = None) -> str:
    """`vader-<vaderSentiment version>+clean<cleaning>` (default: the current cleaning);
    cleaning 1 predates the suffix, so its id is bare `vader-<version>`."""
    from sentiment_pipeline.sentiment.clean import CLEANING_VERSION

    cleaning = CLEANING_VERSION if cleaning is None else cleaning
    base = f"vader-{_vader_version()}"
    return base if cleaning == 1 else f"{base}+clean{cleaning}"


def _vader_older_ids() -> tuple[str, ...]:
    from sentiment_pipeline.sentiment.clean import CLEANING_VERSION

    return tuple(_vader_id(cleaning) for cleaning in range(CLEANING_VERSION - 1, 0, -1))


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
        self.model_id = _vader_id()
        self._polarity = SentimentIntensityAnalyzer().polarity_scores

    def score(self, text: str) -> Scores:
        polarity = self._polarity
        size = len if text.isascii() else vader_length
        if size(text) <= EXACT_LIMIT:
            s = polarity(text)
            return Scores(s["compound"], s["pos"], s["neu"], s["neg"])
        compound = pos = neu = neg = 0.0
        total = 0
        for piece in chunks(text, CHUNK_LIMIT, size):
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
    "vader": (_vader_id, VaderScorer),
}
# name -> the ids its scores were stored under by earlier cleanings, newest first
OLDER_IDS: dict[str, Callable[[], tuple[str, ...]]] = {"vader": _vader_older_ids}


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


def older_model_ids(name: str) -> tuple[str, ...]:
    """The ids a registry name's scores were stored under by earlier cleaning versions
    of the same model version, newest first (`("vader-3.3.2",)` for `vader`)."""
    _lookup(name)
    older = OLDER_IDS.get(name)
    return older() if older else ()


def get_scorer(name: str) -> Scorer:
    """A new scorer by registry name (`vader`); ConfigError lists the names that exist."""
    return _lookup(name)[1]()
