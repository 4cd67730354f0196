"""ONNX sentiment benchmark: is `sentpipe sentiment score --model onnx:DIR` close to a bare
`InferenceSession.run` loop over the same batches?

The model (built in a temp dir, no network): a synthetic transformer encoder with the
shape of a small BERT (`--layers` 4, `--dim` 256, one attention head, feed-forward 4 ×
dim, post-LayerNorm residuals, masked mean pooling, a 3-class head), random weights.
Its scores mean nothing; its compute per token (about 6 MFLOP at the defaults, plus
attention's tokens²) resembles a real small classifier's, so inference, not Python,
dominates as it does with cardiffnlp/twitter-roberta-base (12 layers × 768: about 25×
more per token, so sentpipe's share of the time is smaller there than here). The
tokenizer: WordPiece (vocabulary 8,000) trained in memory with `tokenizers` on the
benchmark's own texts, BERT normalizer and pre-tokenizer, `[CLS] … [SEP]`; config.json
has id2label and max_length 512.

Texts: `bench/sentiment.py`'s short set: real Reddit comment lengths (`_data.comment_chars`,
median 100 characters, cut at 5,000) of mood sentences (`_data.mood_text`), 1 in 4 a
post; loaded with the project's pipeline into a scratch database (not timed).

  bare loop:  in this process, the same texts (`sentiment.clean.event_text`) tokenized
              and cut into windows by the scorer's own code, grouped as `sentiment
              score` groups them (each `--batch-size` claim sorted by length, runs of
              32, padded to the longest), all before the clock starts; timed: only the
              loop of `InferenceSession.run` over those batches (same session options);
  sentpipe:   the whole installed `sentpipe sentiment score --model onnx:DIR --workers 1`
              process, start-up, model load, claims, cleaning, language detection,
              tokenization, upserts included; events/s and the ratio to the bare loop
              (goal >= 0.8x); peak RSS of the process.

    python bench/sentiment_onnx.py --url postgresql://…/postgres   # TimescaleDB/PostgreSQL
    python bench/sentiment_onnx.py --sqlite
    python bench/sentiment_onnx.py --sqlite --events 300 --layers 1   # does it run

Defaults (3,000 events) take about a minute per backend on 2 CPUs; `--repeat N` keeps
the fastest of N runs of each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import fresh_database
from sentiment import Run, TextSet, _drop, _url_text, best, load, reset, set_records, timed

from sentiment_pipeline.db.migrate import init_db
from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from sentiment_pipeline.sentiment.clean import event_text
from sentiment_pipeline.sentiment.scorers.onnx import BATCH_WINDOWS, OnnxScorer

GOAL_RATIO = 0.8
MAX_LENGTH = 512


def build_model(folder: Path, texts: Sequence[str], layers: int, dim: int) -> Path:
    """model.onnx (see the module docstring), tokenizer.json trained on `texts`, config.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(_tokenizer(texts), encoding="utf-8")
    (folder / "model.onnx").write_bytes(_encoder(8_000, layers, dim))
    config = {
        "id2label": {"0": "negative", "1": "neutral", "2": "positive"},
        "max_length": MAX_LENGTH,
        "model_type": "synthetic-bert",
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def _tokenizer(texts: Sequence[str]) -> str:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = WordPieceTrainer(vocab_size=8_000, special_tokens=specials, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[(t, tokenizer.token_to_id(t)) for t in ("[CLS]", "[SEP]")],
    )
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return str(tokenizer.to_str())


def _encoder(vocab: int, layers: int, dim: int) -> bytes:
    """A BERT-shaped encoder: embedding, `layers` × (attention + feed-forward), pooling."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights: list[Any] = []
    nodes: list[Any] = []

    def weight(name: str, *shape: int, scale: float = 0.05) -> str:
        weights.append(numpy_helper.from_array(rng.normal(0, scale, shape).astype("f4"), name))
        return name

    def const(name: str, value: Any) -> str:
        weights.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    x = node("Gather", [weight("emb", vocab, dim, scale=0.5), "input_ids"], "x0")
    mask = node("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    inverted = node("Sub", [const("one", np.float32(1)), mask], "inverted")
    bias = node("Mul", [inverted, const("neg", np.float32(-1e4))], "bias2")
    bias = node("Unsqueeze", [bias, const("ax1", np.array([1], dtype=np.int64))], "bias3")
    scale = const("scale", np.float32(1 / np.sqrt(dim)))
    ones, zeros = const("gamma", np.ones(dim, "f4")), const("beta", np.zeros(dim, "f4"))
    for i in range(layers):
        q = node("MatMul", [x, weight(f"wq{i}", dim, dim)], f"q{i}")
        k = node("MatMul", [x, weight(f"wk{i}", dim, dim)], f"k{i}")
        v = node("MatMul", [x, weight(f"wv{i}", dim, dim)], f"v{i}")
        kt = node("Transpose", [k], f"kt{i}", perm=[0, 2, 1])
        s = node("Mul", [node("MatMul", [q, kt], f"qk{i}"), scale], f"s{i}")
        a = node("Softmax", [node("Add", [s, bias], f"sb{i}")], f"a{i}", axis=-1)
        o = node("MatMul", [node("MatMul", [a, v], f"h{i}"), weight(f"wo{i}", dim, dim)], f"o{i}")
        x = node("LayerNormalization", [node("Add", [x, o], f"r{i}"), ones, zeros], f"n{i}")
        f = node("MatMul", [x, weight(f"w1{i}", dim, 4 * dim)], f"f{i}")
        f = node("Relu", [node("Add", [f, weight(f"b1{i}", 4 * dim)], f"fb{i}")], f"fr{i}")
        f = node("MatMul", [f, weight(f"w2{i}", 4 * dim, dim)], f"g{i}")
        x = node("LayerNormalization", [node("Add", [x, f], f"m{i}"), ones, zeros], f"x{i + 1}")
    mask3 = node("Unsqueeze", [mask, const("ax2", np.array([2], dtype=np.int64))], "mask3")
    summed = node("ReduceSum", [node("Mul", [x, mask3], "xm"), "ax1"], "summed", keepdims=0)
    count = node("ReduceSum", [mask, "ax1"], "count", keepdims=1)
    pooled = node("Div", [summed, count], "pooled")
    projected = node("MatMul", [pooled, weight("wc", dim, 3)], "projected")
    node("Add", [projected, weight("bc", 3)], "logits")
    graph = helper.make_graph(
        nodes,
        "synthetic_encoder",
        [
            helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"])
            for n in ("input_ids", "attention_mask")
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        initializer=weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def scored_texts(text_set: TextSet) -> list[str]:
    """The cleaned texts `sentiment score` scores, in claim (occurred_at) order."""
    out = []
    for record in set_records(text_set):
        text = event_text(record["source"], record["event_type"], record["payload"])
        if text is not None:
            out.append(text)
    return out


def bare_loop(folder: Path, texts: Sequence[str], batch_size: int) -> tuple[float, int]:
    """Seconds of the `InferenceSession.run` loop alone over the batches `sentiment score`
    makes of `texts` (claims of `batch_size`, see the module docstring); texts done."""
    scorer = OnnxScorer(str(folder))
    feeds: list[dict[str, Any]] = []
    for start in range(0, len(texts), batch_size):
        claim = texts[start : start + batch_size]
        encodings = scorer._tokenizer.encode_batch(list(claim), add_special_tokens=False)
        windows = [w for i, e in enumerate(encodings) for w in scorer._windows(i, e)]
        windows.sort(key=lambda w: len(w.ids))
        for first in range(0, len(windows), BATCH_WINDOWS):
            batch = windows[first : first + BATCH_WINDOWS]
            width = max(len(w.ids) for w in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, window in enumerate(batch):
                ids[row, : len(window.ids)] = window.ids
                mask[row, : len(window.ids)] = 1
            feeds.append({"input_ids": ids, "attention_mask": mask})
    run = scorer._session.run
    started = time.perf_counter()
    for feed in feeds:
        run(None, feed)
    return time.perf_counter() - started, len(texts)


def measure(
    url: DatabaseURL, folder: Path, batch: int, repeat: int, data_dir: str
) -> dict[str, Run]:
    """The whole `sentpipe sentiment score --model onnx:DIR` process, fastest of `repeat`."""
    sentpipe = shutil.which("sentpipe", path=str(Path(sys.executable).parent)) or shutil.which(
        "sentpipe"
    )
    if sentpipe is None:
        raise SystemExit("no installed `sentpipe` next to this Python or on PATH")
    env = {**os.environ, "SENTPIPE_DATABASE_URL": _url_text(url), "SENTPIPE_DATA_DIR": data_dir}
    command = [sentpipe, "sentiment", "score", "--json", "--model", f"onnx:{folder}"]
    runs = []
    for _ in range(repeat):
        reset(url)
        runs.append(timed([*command, "--batch-size", str(batch)], env=env, cwd=data_dir))
    return {"sentpipe": best(runs)}


def run_backend(args: argparse.Namespace, sqlite: bool, folder: Path) -> Run:
    text_set = TextSet("short", args.events, 11)
    with tempfile.TemporaryDirectory(prefix="sentpipe-bench-onnx-") as data_dir:
        if sqlite:
            url = parse_database_url(f"sqlite:///{data_dir}/bench.db")
            init_db(url)
        else:
            url = fresh_database(args.url, "sentpipe_bench_sentiment_onnx")
        try:
            load(url, text_set, data_dir)
            return measure(url, folder, args.batch_size, args.repeat, data_dir)["sentpipe"]
        finally:
            if not sqlite:
                _drop(args.url, url)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="PostgreSQL/TimescaleDB admin URL (a scratch database)")
    parser.add_argument("--sqlite", action="store_true", help="also (or only) a SQLite file")
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--layers", type=int, default=4, help="encoder layers of the model")
    parser.add_argument("--dim", type=int, default=256, help="hidden size of the model")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts")
    args = parser.parse_args(argv)
    if not args.url and not args.sqlite:
        parser.error("give --url, --sqlite or both")
    texts = scored_texts(TextSet("short", args.events, 11))
    with tempfile.TemporaryDirectory(prefix="sentpipe-onnx-model-") as model_dir:
        folder = build_model(Path(model_dir) / "synthetic", texts, args.layers, args.dim)
        bare = min(bare_loop(folder, texts, args.batch_size)[0] for _ in range(args.repeat))
        bare_rate = len(texts) / bare
        lengths = sorted(len(t) for t in texts)
        print(
            f"onnx:DIR, synthetic encoder {args.layers} layers × {args.dim}; "
            f"{args.events:,} events, {len(texts):,} with text, batch size {args.batch_size:,}; "
            f"text chars median/p90/max {lengths[len(lengths) // 2]:,} / "
            f"{lengths[len(lengths) * 9 // 10]:,} / {lengths[-1]:,}"
        )
        print(f"{'bare InferenceSession.run loop':40}{bare_rate:9,.0f} events/s ({bare:6.1f} s)")
        backends = [("TimescaleDB/PostgreSQL", False)] if args.url else []
        backends += [("SQLite", True)] if args.sqlite else []
        for name, sqlite in backends:
            run = run_backend(args, sqlite, folder)
            ratio = run.rate / bare_rate
            verdict = "OK" if ratio >= GOAL_RATIO else "BELOW GOAL"
            print(
                f"{'sentpipe on ' + name:40}{run.rate:9,.0f} events/s ({run.seconds:6.1f} s), "
                f"{ratio:.2f}x bare (>= {GOAL_RATIO}) {verdict}; "
                f"peak RSS {run.peak_kb / 1024:.0f} MB"
            )
            if run.done != args.events:
                print(f"WARNING: {name}: events done {run.done:,}, loaded {args.events:,}")


if __name__ == "__main__":
    main()
