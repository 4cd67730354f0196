"""Placeholder: the ONNX scorer lands with issue 26 (`--model onnx:DIR`)."""

from __future__ import annotations

from sentiment_pipeline.errors import ConfigError


class OnnxScorer:
    """Not built yet."""

    @classmethod
    def identify(cls, arg: str | None = None) -> str:
        raise ConfigError("--model onnx:DIR is not available yet")
