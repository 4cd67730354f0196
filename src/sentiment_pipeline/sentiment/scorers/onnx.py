"""A transformer sentiment classifier exported to ONNX, from a local folder (`onnx:DIR`).

DIR holds three files (`optimum-cli export onnx … --task text-classification DIR` writes
them; sentpipe never downloads anything):

- `model.onnx`: inputs `input_ids` and `attention_mask` (and optionally
  `token_type_ids`), int64 or int32, shape [batch, tokens]; its first output the logits,
  shape [batch, classes];
- `tokenizer.json`: the Hugging Face `tokenizers` file (its post-processor adds the
  model's special tokens, `<s> … </s>` or `[CLS] … [SEP]`);
- `config.json`: `id2label` (class index -> name; names negative/neutral/positive or
  neg/neu/pos in any case, at least two of them; `LABEL_0`-style names are refused),
  the maximum length (see `max_tokens`), and optionally `"languages": ["en"]`: the
  ISO 639-1 codes the model scores (absent or null: any language).

The model id is `onnx:<folder name>@<first 12 hex of model.onnx's sha256>`, so a
re-export or a fine-tuned version stores its scores apart and the two never mix.

Scoring (`OnnxScorer.score_batch`): every text is tokenized whole, without special
tokens. A text of at most `max_tokens` tokens with its special tokens is one window; a
longer one is cut into consecutive windows of `max_tokens - specials` content tokens,
and each window gets the special tokens again (the tokenizer's post-processor). All
windows of the call are sorted by length and run in batches of `BATCH_WINDOWS` (32),
each padded to its longest window (pad id: config `pad_token_id`, else the tokenizer's
padding id, else its `<pad>`/`[PAD]` token, else 0; padding is masked by
`attention_mask`), one `InferenceSession.run` per batch. Per window: softmax over the
logits. Per text: the mean of its windows' class probabilities weighted by each
window's content-token count (special tokens not counted), so each token weighs the
same whatever window it fell in. Then `compound` = p(positive) − p(negative) (0 for a
class the model lacks) and `label` = the most probable class.

Threads: one onnxruntime session per scorer (per worker process), with onnxruntime's
default intra-op threads, or `SENTPIPE_SCORER_THREADS` when set; `sentiment score
--workers N` sets it for its worker processes to max(1, CPUs // N)
(`scorers.base.worker_threads`) unless it is set already, so N workers do not
oversubscribe the CPUs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sentiment.scorers.base import THREADS_ENV, Label, Score

__all__ = [
    "BATCH_WINDOWS",
    "ModelFolder",
    "OnnxScorer",
    "model_sha256",
    "read_folder",
]

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.json"
BATCH_WINDOWS = 32  # windows per InferenceSession.run
_EXTRA_HINT = "pip install 'sentpipe[onnx]'"
_STORED_ID = re.compile(r"[^/\\]+@[0-9a-f]{12}")
# Models whose position ids start after padding_idx + 1 (fairseq heritage): their usable
# length is max_position_embeddings - 2 (514 -> 512 for roberta-base).
_POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "bart": 2, "mbart": 2}
_LABELS: dict[str, Label] = {
    "negative": "negative",
    "neg": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
}
_GENERIC_LABEL = re.compile(r"label_?\d+", re.IGNORECASE)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class ModelFolder(NamedTuple):
    """What config.json and tokenizer.json declare: `labels[i]` is class i's name
    (positive/neutral/negative), `max_tokens` the longest window with special tokens,
    `languages` None for any, `pad_id` the id padding uses."""

    path: Path
    labels: tuple[Label, ...]
    max_tokens: int
    languages: frozenset[str] | None
    pad_id: int | None


def _folder(arg: str | None) -> Path:
    """DIR of `onnx:DIR`, checked to hold model.onnx (ConfigError otherwise)."""
    if not arg:
        raise ConfigError("--model onnx needs a folder", "use --model onnx:DIR")
    path = Path(arg).expanduser()
    if path.is_file():
        raise ConfigError(
            f"{path} is a file: --model onnx:DIR takes the folder that holds it",
            f"use --model onnx:{path.parent}",
        )
    if not path.is_dir():
        raise ConfigError(
            f"{path}: no such folder",
            f"--model onnx:DIR takes a folder with {MODEL_FILE}, {TOKENIZER_FILE}, {CONFIG_FILE}",
        )
    if not (path / MODEL_FILE).is_file():
        raise ConfigError(
            f"{path / MODEL_FILE}: no such file",
            "export the model to ONNX into that folder (docs/sentiment.md, Transformer models)",
        )
    return path


def model_sha256(path: Path) -> str:
    """The sha256 hex of a file, read in 1 MiB chunks (cached per path, size and mtime)."""
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as model:
        while chunk := model.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _model_id(path: Path) -> str:
    return f"onnx:{path.resolve().name}@{model_sha256(path / MODEL_FILE)[:12]}"


def _json_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such file", _FILES_HINT)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigError(f"{path}: not a JSON file ({error})", _FILES_HINT) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a JSON object", _FILES_HINT)
    return data


_FILES_HINT = (
    "export the model again (docs/sentiment.md, Transformer models): "
    f"DIR needs {MODEL_FILE}, {TOKENIZER_FILE} and {CONFIG_FILE}"
)


def _labels(config: Mapping[str, Any], where: Path) -> tuple[Label, ...]:
    """id2label as positive/neutral/negative by class index (ConfigError otherwise)."""
    hint = 'set "id2label" in config.json, e.g. {"0": "negative", "1": "neutral", "2": "positive"}'
    raw = config.get("id2label")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: no id2label", hint)
    try:
        by_index = {int(key): str(value) for key, value in raw.items()}
    except ValueError:
        raise ConfigError(f"{where}: id2label keys must be class numbers", hint) from None
    if sorted(by_index) != list(range(len(by_index))):
        raise ConfigError(f"{where}: id2label must number the classes 0..{len(by_index) - 1}", hint)
    names = [by_index[i] for i in range(len(by_index))]
    if any(_GENERIC_LABEL.fullmatch(name.strip()) for name in names):
        raise ConfigError(f"{where}: id2label has generic names ({', '.join(names)})", hint)
    labels = [_LABELS.get(name.strip().lower()) for name in names]
    if None in labels or len(set(labels)) != len(labels) or len(labels) < 2:
        raise ConfigError(
            f"{where}: id2label {', '.join(names)} is not a set of "
            "negative/neutral/positive (or neg/neu/pos) classes",
            hint,
        )
    return tuple(label for label in labels if label is not None)


def _max_tokens(config: Mapping[str, Any], tokenizer: Mapping[str, Any], where: Path) -> int:
    """The longest window, special tokens included: tokenizer.json's
    `truncation.max_length`, else config.json's `max_length`, else config.json's
    `max_position_embeddings` (minus 2 for roberta-type models); each capped at the
    position limit when config.json gives `max_position_embeddings`."""
    offset = _POSITION_OFFSET.get(str(config.get("model_type", "")).lower(), 0)
    positions = config.get("max_position_embeddings")
    limit = positions - offset if isinstance(positions, int) and positions > offset else None
    truncation = tokenizer.get("truncation")
    for value in (
        truncation.get("max_length") if isinstance(truncation, dict) else None,
        config.get("max_length"),
        limit,
    ):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return min(value, limit) if limit else value
    raise ConfigError(
        f"{where}: no maximum length",
        'set "max_length" (tokens, special tokens included) or "max_position_embeddings"',
    )


def _languages(config: Mapping[str, Any], where: Path) -> frozenset[str] | None:
    raw = config.get("languages")
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) and c for c in raw):
        raise ConfigError(
            f'{where}: "languages" must be a list of language codes',
            'e.g. "languages": ["en"], or leave it out to score any language',
        )
    from sentiment_pipeline.sentiment.language import check_languages

    return frozenset(check_languages(raw, f'{where}: "languages"'))


def _pad_id(config: Mapping[str, Any], tokenizer: Mapping[str, Any]) -> int | None:
    """config.json's pad_token_id, else tokenizer.json's padding pad_id, else None."""
    for value in (
        config.get("pad_token_id"),
        (tokenizer.get("padding") or {}).get("pad_id"),
    ):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def read_folder(arg: str | None) -> ModelFolder:
    """DIR's config.json and tokenizer.json, checked (ConfigError naming the file)."""
    path = _folder(arg)
    config_path = path / CONFIG_FILE
    config = _json_file(config_path)
    tokenizer = _json_file(path / TOKENIZER_FILE)
    return ModelFolder(
        path,
        _labels(config, config_path),
        _max_tokens(config, tokenizer, config_path),
        _languages(config, config_path),
        _pad_id(config, tokenizer),
    )


def _threads() -> int:
    """Intra-op threads from SENTPIPE_SCORER_THREADS; 0 (onnxruntime's default) if unset."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{THREADS_ENV}={raw!r} is not a number", "set it to a thread count, or unset it"
        ) from None
    return max(0, value)


def _import_runtime() -> tuple[Any, Any, Any]:
    """(onnxruntime, tokenizers.Tokenizer, numpy), or ConfigError naming the extra."""
    try:  # onnxruntime first: without the extra, it is the one a user recognises
        import numpy
        import onnxruntime  # type: ignore[import-untyped]
        from tokenizers import Tokenizer
    except ImportError as error:
        missing = getattr(error, "name", None) or "onnxruntime/tokenizers"
        raise ConfigError(
            f"--model onnx:DIR needs the sentpipe[onnx] extra ({missing} is not installed)",
            _EXTRA_HINT,
        ) from None
    return onnxruntime, Tokenizer, numpy


@dataclass
class _Window:
    """One window of one text: its ids (special tokens included), type ids, weight."""

    text: int
    ids: list[int]
    type_ids: list[int]
    weight: int


class OnnxScorer:
    """A transformer classifier from an ONNX export in a folder (see the module docstring).

    `OnnxScorer(arg)`: `arg` is DIR. ConfigError: the `sentpipe[onnx]` extra missing, a
    missing or bad file, a model with other inputs or an output of the wrong shape."""

    name = "onnx"
    outputs = ("compound", "label", "probabilities")

    @classmethod
    def is_stored_id(cls, arg: str) -> bool:
        """`<folder name>@<12 hex>` that is not an existing folder: a stored model id
        (`onnx:twitter-roberta@3f2a9c01be47`), readable after the folder is gone."""
        return _STORED_ID.fullmatch(arg) is not None and not Path(arg).expanduser().is_dir()

    @classmethod
    def identify(cls, arg: str | None = None) -> str:
        """`onnx:<folder name>@<12 hex of model.onnx's sha256>`, without onnxruntime."""
        return _model_id(_folder(arg))

    def __init__(self, arg: str | None = None) -> None:
        runtime, tokenizer_class, self._np = _import_runtime()
        folder = read_folder(arg)
        self.model_id = _model_id(folder.path)
        self.languages: frozenset[str] | None = folder.languages
        self.labels = folder.labels
        self.max_tokens = folder.max_tokens
        self._tokenizer = _load_tokenizer(tokenizer_class, folder.path / TOKENIZER_FILE)
        self._specials = self._tokenizer.num_special_tokens_to_add(False)
        if self.max_tokens - self._specials < 1:
            raise ConfigError(
                f"{folder.path / CONFIG_FILE}: maximum length {self.max_tokens} leaves no room "
                f"besides {self._specials} special tokens",
                'set "max_length" in config.json',
            )
        self._pad_id = folder.pad_id if folder.pad_id is not None else _pad_token(self._tokenizer)
        self._session, self._inputs = _session(runtime, folder.path / MODEL_FILE, len(self.labels))

    def score_batch(self, texts: Sequence[str]) -> list[Score]:
        """One Score per text, in order: compound, label, probabilities (see the module
        docstring for windows, batches and how windows combine)."""
        np = self._np
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        windows = [w for i, e in enumerate(encodings) for w in self._windows(i, e)]
        windows.sort(key=lambda w: len(w.ids))
        sums = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        for start in range(0, len(windows), BATCH_WINDOWS):
            batch = windows[start : start + BATCH_WINDOWS]
            probabilities = self._run(batch)
            for window, row in zip(batch, probabilities, strict=True):
                sums[window.text] += row * window.weight
                weights[window.text] += window.weight
        return [self._score(sums[i] / max(weights[i], 1.0)) for i in range(len(texts))]

    def _windows(self, text: int, encoding: Any) -> list[_Window]:
        """The text's windows: its content tokens in runs of max_tokens - specials, each
        with the special tokens added by the tokenizer's post-processor."""
        size = self.max_tokens - self._specials
        if len(encoding.ids) > size:
            encoding.truncate(size, stride=0)  # the rest goes to encoding.overflowing
        contents = [encoding, *encoding.overflowing]
        done = self._tokenizer.post_process(encoding)  # also processes the overflowing
        return [
            _Window(text, window.ids, window.type_ids, max(len(content.ids), 1))
            for content, window in zip(contents, [done, *done.overflowing], strict=True)
        ]

    def _run(self, batch: Sequence[_Window]) -> Any:
        """Softmax probabilities, shape [len(batch), classes], float64."""
        np = self._np
        width = max(len(w.ids) for w in batch)
        ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        types = np.zeros((len(batch), width), dtype=np.int64)
        for row, window in enumerate(batch):
            n = len(window.ids)
            ids[row, :n] = window.ids
            mask[row, :n] = 1
            types[row, :n] = window.type_ids
        given = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feed = {name: given[name].astype(dtype, copy=False) for name, dtype in self._inputs}
        logits = np.asarray(self._session.run(None, feed)[0], dtype=np.float64)
        if logits.shape != (len(batch), len(self.labels)):
            raise ConfigError(
                f"model.onnx gave logits of shape {list(logits.shape)}, expected "
                f"[{len(batch)}, {len(self.labels)}] (id2label has {len(self.labels)} classes)",
                "check that config.json belongs to this model.onnx",
            )
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def _score(self, probabilities: Any) -> Score:
        values: dict[str, float] = {
            label: float(p) for label, p in zip(self.labels, probabilities, strict=True)
        }
        compound = values.get("positive", 0.0) - values.get("negative", 0.0)
        label = self.labels[int(probabilities.argmax())]
        return Score(max(-1.0, min(1.0, compound)), label, probabilities=values)


def _load_tokenizer(tokenizer_class: Any, path: Path) -> Any:
    try:
        tokenizer = tokenizer_class.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception for a bad file
        raise ConfigError(f"{path}: not a tokenizers file ({error})", _FILES_HINT) from None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _pad_token(tokenizer: Any) -> int:
    for token in ("<pad>", "[PAD]"):
        found = tokenizer.token_to_id(token)
        if found is not None:
            return int(found)
    return 0


_DTYPES = {"tensor(int64)": "int64", "tensor(int32)": "int32"}


def _session(runtime: Any, path: Path, classes: int) -> tuple[Any, list[tuple[str, str]]]:
    """The InferenceSession and its inputs as (name, numpy dtype); ConfigError for a
    file onnxruntime cannot load or a model that is not a text classifier."""
    options = runtime.SessionOptions()
    options.intra_op_num_threads = _threads()
    options.inter_op_num_threads = 1
    try:
        session = runtime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime's own exception types vary by version
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"{path}: onnxruntime cannot load it ({first})", _FILES_HINT) from None
    inputs = [(i.name, _DTYPES.get(i.type)) for i in session.get_inputs()]
    names = {name for name, _ in inputs}
    if (
        not {"input_ids", "attention_mask"} <= names
        or not names <= set(_INPUTS)
        or any(dtype is None for _, dtype in inputs)
    ):
        raise ConfigError(
            f"{path}: inputs are {', '.join(sorted(names))}; a text classifier needs integer "
            "input_ids and attention_mask (and optionally token_type_ids)",
            "export it with --task text-classification (docs/sentiment.md)",
        )
    shape = session.get_outputs()[0].shape
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != classes):
        raise ConfigError(
            f"{path}: the first output has shape {shape}; expected [batch, {classes}] "
            f"(config.json's id2label has {classes} classes)",
            "export it with --task text-classification, with its own config.json",
        )
    return session, [(name, dtype) for name, dtype in inputs if dtype is not None]
