"""Titles, authors and HN-style HTML comment text.

HN's ``text`` is HTML: paragraphs separated by ``<p>`` (no closing tags), ``<i>``,
``<a href="..." rel="nofollow">``, ``<pre><code>``, and entities ``&#x27;``
``&quot;`` ``&gt;`` ``&#x2F;`` ``&amp;`` (github.com/HackerNews/API: "text: HTML").
Titles are plain text, not escaped.
"""

from __future__ import annotations

import random

WORDS = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "that",
    "it",
    "is",
    "for",
    "on",
    "with",
    "as",
    "this",
    "be",
    "you",
    "not",
    "are",
    "at",
    "was",
    "have",
    "but",
    "by",
    "they",
    "we",
    "or",
    "from",
    "one",
    "can",
    "if",
    "would",
    "more",
    "about",
    "which",
    "their",
    "will",
    "what",
    "people",
    "there",
    "just",
    "like",
    "so",
    "some",
    "when",
    "other",
    "only",
    "time",
    "think",
    "also",
    "because",
    "than",
    "these",
    "make",
    "then",
    "any",
    "could",
    "code",
    "system",
    "data",
    "rust",
    "python",
    "database",
    "server",
    "latency",
    "memory",
    "compiler",
    "startup",
    "market",
    "price",
    "open",
    "source",
    "license",
    "model",
    "paper",
    "study",
    "browser",
    "kernel",
    "linux",
    "team",
    "company",
    "work",
    "great",
    "terrible",
    "useful",
    "broken",
    "fast",
    "slow",
    "cheap",
    "expensive",
    "simple",
    "complex",
    "interesting",
]
NAMES = [
    "pg",
    "dang",
    "tptacek",
    "patio11",
    "jacquesm",
    "throwaway42",
    "rayiner",
    "kens",
    "simonw",
    "jrockway",
    "userbinator",
    "walterbright",
    "ChuckMcM",
    "zdw",
    "todsacerdoti",
    "nostrademons",
    "Animats",
    "pjmlp",
    "tosh",
    "ingve",
]
SUBJECTS = (
    "a tiny database",
    "my weekend compiler",
    "a faster grep",
    "the history of Unix",
    "why latency matters",
    "a new kind of editor",
    "open source funding",
    "PostgreSQL internals",
)
DOMAINS = ("example.com", "blog.example.org", "news.example.net", "github.com/example")


def hn_escape(text: str) -> str:
    """Escape plain text the way HN's API does inside ``text``."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
        .replace("/", "&#x2F;")
    )


def author(rng: random.Random) -> str:
    """A user name; a small pool so ``author_<name>`` tags find several items."""
    return rng.choice(NAMES)


def link(rng: random.Random) -> str:
    """An external URL (the ``url`` field: plain, unescaped)."""
    return f"https://{rng.choice(DOMAINS)}/{rng.randrange(10**6)}"


def title(rng: random.Random, kind: str) -> str:
    """A title with HN's prefixes for Ask/Show HN and polls."""
    subject = rng.choice(SUBJECTS)
    if kind == "ask":
        return f"Ask HN: What's your take on {subject}?"
    if kind == "show":
        return f"Show HN: I built {subject} & it's fast"
    if kind == "job":
        return f"Example Corp (YC S{rng.randrange(10, 25)}) is hiring engineers for {subject}"
    if kind == "poll":
        return f"Poll: Which matters more in {subject}?"
    return f"{subject.capitalize()} ({rng.randrange(2000, 2025)})"


def _sentence(rng: random.Random, words: int) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(max(1, words)))
    return body[0].upper() + body[1:] + rng.choice((".", ".", "?", "!"))


def _paragraph(rng: random.Random, words: int) -> str:
    """One paragraph of escaped HTML, sometimes with markup."""
    roll = rng.random()
    plain = hn_escape(_sentence(rng, words).replace(" is ", " isn't ", 1))
    if roll < 0.1:
        return "&gt; " + plain
    if roll < 0.18:
        url = link(rng)
        esc = hn_escape(url)
        return f'{plain} See <a href="{esc}" rel="nofollow">{esc}</a>'
    if roll < 0.24:
        return f"{plain} <i>{hn_escape(rng.choice(WORDS))}</i> &quot;quoted&quot;"
    if roll < 0.28:
        return "<pre><code>  let x = a &lt; b &amp;&amp; c &gt; d;\n</code></pre>"
    return plain


def comment_text(rng: random.Random, extra: str | None = None) -> str:
    """A comment body: log-normal length (median ~30 words, tail to hundreds)."""
    total = min(600, max(2, int(rng.lognormvariate(3.4, 0.9))))
    paragraphs = []
    while total > 0:
        size = min(total, rng.randrange(8, 60))
        paragraphs.append(_paragraph(rng, size))
        total -= size
    if extra is not None:
        paragraphs[rng.randrange(len(paragraphs))] += " " + hn_escape(extra)
    return "<p>".join(paragraphs)
