"""The sentiment stage: score stored events and report per-subreddit sentiment over time.

Public API:

- `score_events(url, ScoreOptions(...)) -> ScoreResult`: claim unprocessed events in
  batches (one transaction each), clean their text, score it, upsert `sentiment_scores`
  and mark the events processed (run.py, store.py).
- `sentiment_report(url, model, bucket, since, until, source_ids) -> SentimentReport`:
  events scored, mean compound and label shares per subreddit per bucket (report.py).
- `sentiment_counts(url) -> list[ModelCounts]`: scored / waiting per model, and
  `not_scorable_counts(url)`: per source, the events with no text to score, for
  `sentpipe stats` (counts.py).
- `evaluate.evaluate_labels(url, path, models) -> EvalResult`: models against a
  person's labels (`id,label` or `text,label` CSV), with the pure metrics of eval.py
  (`metrics`, `cohen_kappa`, …); `sample.sample_events(url, n, model=, since=, until=,
  seed=) -> SampleResult` and `sample.write_sample(path, rows, force)`: a stratified
  sample of scored events to label.
- `clean_text`, `event_text(source, event_type, payload)` (clean.py: the text comes from
  the source's spec, `sources.source_spec`); `Scorer`, `get_scorer`, `label_for`
  (the scorers/ package: one module per scorer, `vader`, `onnx:DIR`);
  `detect_languages` (language.py: the offline language detector).

Nothing here imports typer or rich; vaderSentiment is imported when a scorer is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentiment_pipeline.sentiment.clean import clean_text, event_text
    from sentiment_pipeline.sentiment.counts import ModelCounts, sentiment_counts
    from sentiment_pipeline.sentiment.report import SentimentReport, sentiment_report
    from sentiment_pipeline.sentiment.run import ScoreOptions, ScoreResult, score_events
    from sentiment_pipeline.sentiment.scorers import Score, Scorer, get_scorer, label_for

# name -> its module: imported on first use, so `sentiment report` does not load the
# scorer's run loop (nor `sentiment score` the report)
_LAZY = {
    "clean_text": "clean",
    "event_text": "clean",
    "ModelCounts": "counts",
    "sentiment_counts": "counts",
    "SentimentReport": "report",
    "sentiment_report": "report",
    "ScoreOptions": "run",
    "ScoreResult": "run",
    "score_events": "run",
    "Score": "scorers",
    "Scorer": "scorers",
    "get_scorer": "scorers",
    "label_for": "scorers",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


__all__ = [
    "ModelCounts",
    "Score",
    "ScoreOptions",
    "ScoreResult",
    "Scorer",
    "SentimentReport",
    "clean_text",
    "event_text",
    "get_scorer",
    "label_for",
    "score_events",
    "sentiment_counts",
    "sentiment_report",
]
