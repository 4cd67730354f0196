"""VADER (vaderSentiment), English only, with bounded cost for long texts.

Outputs: compound in [-1, 1], VADER's pos/neu/neg shares in [0, 1], and a label by
VADER's own thresholds (compound >= 0.05 positive, <= -0.05 negative; Hutto & Gilbert,
ICWSM 2014, and the vaderSentiment README). `model_id` includes the package version and
the version of the cleaning it reads (`vader-3.3.2+clean2`,
`sentiment.clean.CLEANING_VERSION`); `older_ids()` names the ids the same model stored
under earlier cleanings (`vader-3.3.2`, cleaning 1): still readable, never written again.

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
from collections.abc import Callable, Sequence
from functools import cache
from importlib import metadata
from typing import NamedTuple

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sentiment.scorers.base import Label, Score

__all__ = [
    "CHUNK_LIMIT",
    "EXACT_LIMIT",
    "NEGATIVE_AT",
    "POSITIVE_AT",
    "Scores",
    "VaderScorer",
    "chunks",
    "label_for",
    "vader_length",
]

POSITIVE_AT = 0.05  # VADER's standard thresholds: compound >= 0.05 positive,
NEGATIVE_AT = -0.05  # <= -0.05 negative, neutral in between
EXACT_LIMIT = 5000  # vader_length up to which a text gets VADER's own scores
CHUNK_LIMIT = 500  # vader_length of the pieces a longer text is scored in
_SENTENCE_END = re.compile(r"(?<=[.!?…\n])\s+")


class Scores(NamedTuple):
    """VADER's four numbers for one text: compound in [-1, 1], pos/neu/neg in [0, 1]."""

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
    """VADER (vaderSentiment) with bounded cost for long texts (see the module docstring).

    `VaderScorer(arg)`: `arg` must be None (`--model vader`); ConfigError otherwise."""

    name = "vader"
    languages: frozenset[str] | None = frozenset({"en"})
    outputs = ("compound", "label", "shares")

    @classmethod
    def identify(cls, arg: str | None = None) -> str:
        """The stored model id, without loading anything (`vader-3.3.2+clean2`)."""
        _no_arg(arg)
        return _vader_id()

    @classmethod
    def older_ids(cls) -> tuple[str, ...]:
        """Ids this model's scores were stored under by earlier cleanings, newest first."""
        return _vader_older_ids()

    def __init__(self, arg: str | None = None) -> None:
        _no_arg(arg)
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as error:  # a dependency, but say so clearly if it is missing
            raise ConfigError(
                "the vaderSentiment package is not installed",
                "pip install 'vaderSentiment>=3.3.2,<4' (a dependency of sentpipe)",
            ) from error
        self.model_id = _vader_id()
        self._polarity = SentimentIntensityAnalyzer().polarity_scores

    def score_batch(self, texts: Sequence[str]) -> list[Score]:
        """One `Score` per cleaned text (compound, VADER's label, pos/neu/neg shares)."""
        out: list[Score] = []
        for text in texts:
            s = self.score(text)
            out.append(Score(s.compound, label_for(s.compound), s.pos, s.neu, s.neg))
        return out

    def score(self, text: str) -> Scores:
        """VADER's four numbers for one non-empty cleaned text (pieces past EXACT_LIMIT)."""
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


def _no_arg(arg: str | None) -> None:
    if arg:
        raise ConfigError(f"--model vader takes no argument (got vader:{arg})", "use --model vader")
