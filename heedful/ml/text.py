"""Text clean-up and n-gram TF-IDF features, in plain Python + numpy (no scikit-learn at run time).

The vectoriser is deliberately small: word 1-2 grams and character 2-5 grams inside words, sublinear
term frequency, smoothed idf, each block L2-normalised. Written here rather than taken from
scikit-learn so that one query is featurised in tens of microseconds and the fitted vocabulary can
be persisted without pickle.
"""

from __future__ import annotations

import functools
import html
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")

# Only the start of a very long text is looked at: a 1 MB paste must not stall the inbox.
MAX_CHARS = 2000
# Per-word caches keep this many words, the least recently used going first. Words recur, but the
# order numbers and tracking codes of a busy inbox do not: caches that kept the first 100,000
# words took a triage process from 271 to 601 MB over 10,000 such messages (`python
# benchmarks/text_engine.py --only memory`, session 14). Natural text has fewer different words:
# CLINC150 7,464, the 14,640 airline tweets 13,275.
WORD_CACHE_SIZE = 16_384
# Longer "words" (codes, base64, text run together) are not cached at all: they rarely recur,
# and a 2,000-character one has 8,000 character n-grams.
CACHED_WORD_CHARS = 24

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
# Control and invisible formatting characters (C0, C1, zero-width, bidi, BOM, separators).
_CONTROL = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff]")
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]")

# English function words, left out of theme keywords and sentiment explanations.
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "i'm",
        "if",
        "in",
        "into",
        "is",
        "it",
        "it's",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "nor",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "url",
        "@user",
        "they're",
        "we're",
        "i've",
        "you're",
        "isn't",
        "wasn't",
    ]
)


def clean(text: str) -> str:
    """Normalise text for the models: NFKC, no control characters, URLs/@mentions masked.

    >>> clean("  Still   WAITING!!\\x00 see https://x.co/a @united &amp; ")
    'still waiting!! see url @user &'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    text = unicodedata.normalize("NFKC", html.unescape(text[: MAX_CHARS * 2]))[:MAX_CHARS]
    text = _CONTROL.sub(" ", text)
    text = _URL.sub(" url ", text)
    text = _MENTION.sub(" @user ", text)
    return _SPACE.sub(" ", text).strip().lower()


def phrase_key(text: str) -> str:
    """The words of ``text`` alone, for looking up a phrasing exactly: case, spacing,
    punctuation and emoji do not count.

    >>> phrase_key("Do you sell  gift cards?!")
    'do you sell gift cards'
    """
    # analyse() is cached per text: a match that goes on to the TF-IDF vector splits it once.
    return " ".join(analyse(text)[1])


def tokens(cleaned: str) -> list[str]:
    """Words (with inner apostrophes) and single punctuation/emoji characters."""
    return _TOKEN.findall(cleaned)


def _char_grams_of(token: str) -> tuple[str, ...]:
    """Character 2-5 grams of one word."""
    padded = f" {token} "
    size = len(padded)
    return tuple(f"c{padded[i : i + n]}" for n in range(2, 6) for i in range(size - n + 1))


class WordCache(Generic[T]):
    """``compute(word)``, remembered for the ``maxsize`` most recently used words of at most
    ``CACHED_WORD_CHARS`` characters; longer ones are computed each time."""

    __slots__ = ("_cached", "_compute", "cache_info")

    def __init__(self, compute: Callable[[str], T], maxsize: int = WORD_CACHE_SIZE):
        self._compute = compute
        self._cached = functools.lru_cache(maxsize=maxsize)(compute)
        self.cache_info = self._cached.cache_info

    def __call__(self, word: str) -> T:
        return self._cached(word) if len(word) <= CACHED_WORD_CHARS else self._compute(word)


# Smaller than the other word caches, its entries being the largest (50 strings for a word of
# 12 letters): it serves fitting, where frequent words recur, and the second vocabulary that
# looks up a message's new word just after the first (FAQ matcher, then sentiment).
_char_grams = WordCache(_char_grams_of, maxsize=4096)


def _word_grams(toks: list[str]) -> list[str]:
    return [f"w {t}" for t in toks] + [f"w {a} {b}" for a, b in itertools.pairwise(toks)]


def _grams(cleaned: str) -> tuple[list[str], list[str]]:
    toks = tokens(cleaned)
    words = _word_grams(toks)
    chars: list[str] = []
    for tok in toks:
        if tok[0].isalnum():
            chars.extend(_char_grams(tok))
    return words, chars


def analyse(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Word n-grams of ``text`` after :func:`clean`, and its words that have char n-grams.

    Cached for the last few hundred texts: one triage pass featurises the same message for the
    FAQ matcher and the sentiment model, and cleaning and splitting are the costly part of that.
    (A vocabulary looks the char n-grams up per word, see ``NgramTfidf._char_hits``.)
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    return _analyse(looked_at(text))


@functools.lru_cache(maxsize=512)
def _analyse(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    toks = tokens(clean(text))
    return tuple(_word_grams(toks)), tuple(t for t in toks if t[0].isalnum())


def looked_at(text: str) -> str:
    """The start of ``text`` that :func:`clean` reads, and so all that a result depends on: the
    key of caches of per-text results, which would otherwise keep a 1 MB paste whole."""
    return text[: MAX_CHARS * 2]


class NgramTfidf:
    """Fitted word + char n-gram TF-IDF vocabulary; see the module docstring."""

    def __init__(self, vocabulary: Sequence[str], idf: npt.NDArray[np.float32], n_word: int):
        self.terms = list(vocabulary)
        self.index = {term: i for i, term in enumerate(self.terms)}
        self.idf = np.asarray(idf, dtype=np.float32)
        self.n_word = n_word
        self._idf64 = self.idf.astype(np.float64)
        # Vocabulary ids of one word's char n-grams, remembered per word (words recur).
        self._char_hits = WordCache(self._char_hits_of)

    @property
    def n_features(self) -> int:
        return len(self.terms)

    @classmethod
    def fit(cls, texts: Iterable[str], *, min_df: int | None = None) -> NgramTfidf:
        docs = [_grams(clean(t)) for t in texts]
        if min_df is None:
            min_df = 2 if len(docs) >= 1000 else 1
        word_df: Counter[str] = Counter()
        char_df: Counter[str] = Counter()
        for words, chars in docs:
            word_df.update(set(words))
            char_df.update(set(chars))
        word_terms = sorted(t for t, c in word_df.items() if c >= min_df)
        char_terms = sorted(t for t, c in char_df.items() if c >= min_df)
        n = len(docs)
        dfs = [word_df[t] for t in word_terms] + [char_df[t] for t in char_terms]
        idf = np.array([math.log((1 + n) / (1 + d)) + 1.0 for d in dfs], dtype=np.float32)
        return cls(word_terms + char_terms, idf, len(word_terms))

    def vector(self, text: str) -> tuple[list[int], list[float]]:
        """Sparse feature vector of one text as (sorted indices, values)."""
        out_idx: list[int] = []
        out_val: list[float] = []
        get = self.index.get
        words, alnum = analyse(text)
        word_hits = [i for i in map(get, words) if i is not None]
        char_hits: list[int] = []
        for tok in alnum:
            char_hits.extend(self._char_hits(tok))
        for hits in (word_hits, char_hits):
            if not hits:
                continue
            ids, counts = np.unique(np.array(hits, dtype=np.int64), return_counts=True)
            vals = (1.0 + np.log(counts)) * self._idf64[ids]
            vals *= math.sqrt(0.5) / math.sqrt(float(vals @ vals))
            out_idx.extend(ids.tolist())
            out_val.extend(vals.tolist())
        return out_idx, out_val

    def _char_hits_of(self, token: str) -> tuple[int, ...]:
        get = self.index.get
        return tuple(i for i in map(get, _char_grams(token)) if i is not None)

    def transform(self, texts: Sequence[str]) -> Any:
        """Feature matrix (scipy CSR, float32) of several texts; rows have unit norm or none.

        The same values as :meth:`vector` row by row (up to float64 rounding), computed for the
        whole batch at once: counting each text's hits with ``np.unique`` was half of the time.
        """
        import scipy.sparse as sp  # deferred: only needed for batches and training

        get = self.index.get
        cols: list[int] = []
        lengths: list[int] = []
        for text in texts:
            start = len(cols)
            words, alnum = analyse(text)
            cols.extend(i for i in map(get, words) if i is not None)
            for tok in alnum:
                cols.extend(self._char_hits(tok))
            lengths.append(len(cols) - start)
        n = len(lengths)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        counts = sp.csr_matrix(
            (np.ones(len(cols)), (rows, np.asarray(cols, dtype=np.int64))), shape=(n, self.n_features)
        )
        counts.sum_duplicates()  # counts per (text, term), indices sorted
        values = (1.0 + np.log(counts.data)) * self._idf64[counts.indices]
        # Each text's word block and char block are scaled to norm sqrt(1/2) separately.
        owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(counts.indptr))
        block = 2 * owner + (counts.indices >= self.n_word)
        norms = np.sqrt(np.bincount(block, weights=values * values, minlength=2 * n))
        values *= math.sqrt(0.5) / norms[block]
        return sp.csr_matrix(
            (values.astype(np.float32), counts.indices.astype(np.int32), counts.indptr.astype(np.int64)),
            shape=(n, self.n_features),
            dtype=np.float32,
        )

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        return {"terms": self.terms, "n_word": self.n_word}, {"idf": self.idf}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> NgramTfidf:
        return cls(meta["terms"], arrays["idf"], int(meta["n_word"]))
