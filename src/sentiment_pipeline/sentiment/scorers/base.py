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

A scorer with its own thread pool (onnxruntime) sizes it from `SENTPIPE_SCORER_THREADS`
in its process's environment: `sentiment score` sets it while it makes its scorers
(`worker_threads`) to the `scorer_threads` setting, else, with `--workers N`, to
max(1, CPUs // N), so N processes do not oversubscribe the CPUs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Literal, NamedTuple, Protocol, runtime_checkable

__all__ = ["THREADS_ENV", "Label", "Score", "Scorer", "worker_threads"]

THREADS_ENV = "SENTPIPE_SCORER_THREADS"  # intra-op threads of each scoring process

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


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextmanager
def worker_threads(workers: int, threads: int | None = None) -> Iterator[None]:
    """While scorers are made (in this process, or in worker processes started inside):
    `SENTPIPE_SCORER_THREADS` = `threads`, else max(1, CPUs // workers) when workers > 1,
    in the environment they read (a value already there stands when `threads` is None);
    the previous value is restored after."""
    if threads is None and (workers <= 1 or THREADS_ENV in os.environ):
        yield
        return
    before = os.environ.get(THREADS_ENV)
    os.environ[THREADS_ENV] = str(threads or max(1, _cpus() // workers))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(THREADS_ENV, None)
        else:
            os.environ[THREADS_ENV] = before
