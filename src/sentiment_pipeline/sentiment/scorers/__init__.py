"""Sentiment scorers: the contract (base.py) and a lazy registry of them, one module each.

`--model` names a scorer as `NAME` or `NAME:ARG`: `vader` (vader.py) or `onnx:DIR`
(onnx.py, a transformer classifier exported to ONNX in a local folder). The registry maps
NAME to `module:Class`; the module is imported only when the name is used, and the heavy
libraries (vaderSentiment, onnxruntime) only when a scorer is made. A scorer class has
`identify(arg) -> model id` (cheap: no model load) and is made as `Class(arg)`.

`model_id_for(spec)` is the stored id of a spec; `stored_model_id(value)` also accepts an
id as stored (`vader-3.3.2`) and returns it unchanged, which is how report, export,
sample and eval read `--model`. Unknown names raise ConfigError listing the known ones.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sentiment.scorers.base import Label, Score, Scorer, worker_threads
from sentiment_pipeline.sentiment.scorers.vader import label_for

__all__ = [
    "SCORERS",
    "SPELLED",
    "Label",
    "Score",
    "Scorer",
    "get_scorer",
    "is_model_spec",
    "label_for",
    "model_id_for",
    "older_model_ids",
    "split_spec",
    "stored_model_id",
    "worker_threads",
]

# NAME -> "module:Class"; a new scorer is one module and one line here
SCORERS: dict[str, str] = {
    "vader": "sentiment_pipeline.sentiment.scorers.vader:VaderScorer",
    "onnx": "sentiment_pipeline.sentiment.scorers.onnx:OnnxScorer",
}
SPELLED = "vader, onnx:DIR"  # how --model names them, for hints


def split_spec(spec: str) -> tuple[str, str | None]:
    """`vader` -> ("vader", None); `onnx:models/x` -> ("onnx", "models/x")."""
    name, sep, arg = spec.partition(":")
    return name.strip().lower(), (arg if sep else None)


def is_model_spec(value: str) -> bool:
    """True when `value` names a registered scorer (`vader`, `onnx:DIR`), not a stored id
    (`vader-3.3.2`, `onnx:twitter-roberta@3f2a9c01be47`: the scorer class's
    `is_stored_id(arg)` tells, when it has one)."""
    name, arg = split_spec(value)
    if name not in SCORERS:
        return False
    stored = getattr(_scorer_class(name), "is_stored_id", None)
    return not (stored is not None and arg is not None and stored(arg))


def _scorer_class(name: str) -> Any:
    try:
        target = SCORERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown sentiment model {name!r}",
            f"choose from {SPELLED}",
        ) from None
    module, _, cls = target.partition(":")
    return getattr(import_module(module), cls)


def model_id_for(spec: str) -> str:
    """The stored `model` id for a spec (`vader` -> `vader-3.3.2+clean2`), without
    loading the model. ConfigError for an unknown name or a bad argument."""
    name, arg = split_spec(spec)
    return str(_scorer_class(name).identify(arg))


def stored_model_id(value: str) -> str:
    """`value` as a stored id: a spec becomes its current id, anything else (an id as
    stored, `vader-3.3.2`) is returned unchanged."""
    return model_id_for(value) if is_model_spec(value) else value


def older_model_ids(spec: str) -> tuple[str, ...]:
    """The ids a spec's scores were stored under by earlier cleaning versions of the
    same model version, newest first (`("vader-3.3.2",)` for `vader`); () for a
    stored id or a model with no older cleaning."""
    if not is_model_spec(spec):
        return ()
    name, _ = split_spec(spec)
    older = getattr(_scorer_class(name), "older_ids", None)
    return tuple(older()) if older is not None else ()


def get_scorer(spec: str) -> Scorer:
    """A new scorer for a spec (`vader`, `onnx:DIR`). ConfigError: unknown name, a
    missing extra (named in the hint), a folder that does not hold a model."""
    name, arg = split_spec(spec)
    scorer: Scorer = _scorer_class(name)(arg)
    return scorer
