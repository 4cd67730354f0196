"""The scorer contract: what every sentiment model gives sentpipe and declares about itself.

A scorer scores a batch of cleaned texts at once (`score_batch(texts) -> list[Score]`,
one Score per text, in order), so models that batch (ONNX) batch and VADER loops. It
owns its label rule (VADER's ±0.05 thresholds; a classifier's argmax) and declares:

- `model_id`: what `sentiment_scores.model` stores: the model, its version and what it
  reads (`vader-3.3.2+clean2`, `onnx:<folder>@<12 hex of model.onnx's sha256>`), so two
  models' (or two versions') scores coexist and never mix;
- `languages`: the language codes it scores (ISO 639-1 as `sentiment.language` detects
  them), or None for any; a text in another language is skipped (`skipped: language`),
  one whose language is undetermined (`und`) is scored;
- `outputs`: which of `shares` (VADER's pos/neu/neg) and `probabilities` (per class)
  its Scores carry besides compound and label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple, Protocol, runtime_checkable

__all__ = ["Label", "Score", "Scorer"]

Label = Literal["positive", "neutral", "negative"]


class Score(NamedTuple):
    """One text's scores. `compound` in [-1, 1] (VADER's compound; a classifier's
    p(positive) - p(negative)); `label` the scorer's own; `pos`/`neu`/`neg` VADER's
    shares in [0, 1] (None for other models); `probabilities` class -> probability,
    summing to 1 (None for VADER)."""

    compound: float
    label: str
    pos: float | None = None
    neu: float | None = None
    neg: float | None = None
    probabilities: Mapping[str, float] | None = None


@runtime_checkable
class Scorer(Protocol):
    """Anything that scores cleaned texts in batches (see the module docstring)."""

    model_id: str
    languages: frozenset[str] | None
    outputs: tuple[str, ...]

    def score_batch(self, texts: Sequence[str]) -> list[Score]:
        """One Score per non-empty cleaned text, in order."""
        ...
