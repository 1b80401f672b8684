"""Themes: group short texts, label each group in plain words, assign new texts, count over time.

A text that talks about several things belongs to several themes ("the food was great but the
service was slow" counts under food *and* service). So texts are first split into segments
(:func:`split_segments`: sentence ends, semicolons, commas and a few contrastive conjunctions;
pieces shorter than three words stay with their neighbour), and the *segments* are clustered:
embedded (MiniLM and TF-IDF side by side when MiniLM is built, else TF-IDF alone; TF-IDF reduced
by truncated SVD), L2-normalised, k-means with a fixed seed, fitted on at most ``FIT_SAMPLE``
segments (the others are only assigned). ``k`` defaults to ``round(sqrt(n / 2))``
for ``n`` texts, clamped to 2..40. A text carries the themes of its segments; its *primary* theme
is the one of its strongest segment (closest to its theme's centre), which is what the
single-theme API (:func:`assign_theme`, ``Theme.size``) uses. :func:`assign_themes` gives all of
them with the segments as the explanation. ``find_themes(..., segment=False)`` clusters whole
texts (one theme per text), as before.

A theme's label is its most distinctive words (class TF-IDF over its segments: frequent in the
theme, rare elsewhere, stop words removed) plus a representative sentence: the text nearest the
centre among texts that carry only this theme (else the nearest segment's text). Every fitted
segment has a theme. A new segment less similar to every centre than ``min_similarity`` (the 5 %
least typical of the fitted segments) gets none; a new text none of whose segments has one gets
``None``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from heedful.ml.linear import F32
from heedful.ml.text import STOP_WORDS, clean, tokens

# Negations matter for sentiment explanations but make poor theme keywords.
_NOT_KEYWORDS = STOP_WORDS | {"not", "no", "again"}

# Segment boundaries. Punctuation works in any language that uses it; the conjunctions that
# usually turn to a new subject ("but", "although" ...) are listed for English, German, French,
# Spanish and Dutch only. A segment boundary is a guess: a wrong one costs little because short
# pieces are merged back and each piece still has a theme.
_HARD_BREAK = re.compile(r"(?<=[.!?;…。！？])\s+|\n+|;\s*")
_SOFT_BREAK = re.compile(
    r",\s+|\s+(?=(?:but|although|though|however|whereas|aber|obwohl|jedoch|mais|cependant|"
    r"pero|aunque|maar|hoewel)\b)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+")
_TRIM = " \t,;:-–—"
# MiniLM and TF-IDF together (the default when MiniLM is built): word overlap says what a segment
# is about, MiniLM what it means; on MAMS the pair beat either alone on the multi-label measures.
ENCODER_BOTH = "minilm+tfidf"
MIN_SEGMENT_WORDS = 3
MAX_SEGMENTS = 8
# Only the start of a very long text is split (clean() keeps 2,000 characters of each segment).
_MAX_SPLIT_CHARS = 4000


@dataclass(frozen=True)
class Theme:
    id: int
    keywords: tuple[str, ...]
    representative: str
    size: int  # texts whose primary theme this is
    mentions: int = 0  # texts that carry this theme at all (>= size when texts were segmented)

    @property
    def label(self) -> str:
        return " / ".join(self.keywords)


@dataclass(frozen=True)
class TextThemes:
    """The themes of one text, primary first, with the segments that gave them (the explanation)."""

    primary: int | None
    themes: tuple[int, ...]
    segments: tuple[tuple[str, int | None, float], ...]  # (segment, theme or None, similarity)

    def explanation(self) -> str:
        parts = [
            f'"{s}" -> {"none" if t is None else f"theme {t}"} ({sim:.2f})' for s, t, sim in self.segments
        ]
        return "; ".join(parts) or "empty text: no theme"


@dataclass
class ThemeModel:
    themes: list[Theme]
    centres: F32  # (k, d), unit rows
    encoder: str
    min_similarity: float
    _svd: Any = None  # fitted (tfidf, components) when the encoder uses TF-IDF
    segmented: bool = False
    # The themes of each text given to find_themes (same order; empty texts have none), so callers
    # need not embed the same texts twice.
    fitted: list[TextThemes] = field(default_factory=list, repr=False)


def split_segments(text: str) -> list[str]:
    """Clauses of ``text`` that may each be about a different subject (see the module docstring)."""
    if not isinstance(text, str):
        return []
    pieces = [
        p.strip(_TRIM) for part in _HARD_BREAK.split(text[:_MAX_SPLIT_CHARS]) for p in _SOFT_BREAK.split(part)
    ]
    out: list[str] = []
    for piece in pieces:
        if not clean(piece):
            continue
        # A short piece ("an entree", "however") says too little alone: keep it with its neighbour.
        if out and (
            len(_WORD.findall(piece)) < MIN_SEGMENT_WORDS or len(_WORD.findall(out[-1])) < MIN_SEGMENT_WORDS
        ):
            out[-1] = f"{out[-1]}, {piece}"
        else:
            out.append(piece)
    if len(out) > MAX_SEGMENTS:
        out = [*out[: MAX_SEGMENTS - 1], ", ".join(out[MAX_SEGMENTS - 1 :])]
    return out


def _embed(texts: Sequence[str], encoder: str, state: Any = None) -> tuple[F32, Any]:
    items = [clean(t) or "." for t in texts]
    if encoder == ENCODER_BOTH:
        # Equal weight: the cosine of two such vectors is the mean of the two encoders' cosines.
        lexical, state = _embed(items, "tfidf", state)
        semantic, _ = _embed(items, "minilm")
        return np.hstack([semantic, lexical]) / np.float32(math.sqrt(2)), state
    if encoder == "minilm":
        from heedful.ml.encoders import shared_minilm

        return shared_minilm().encode(items), None
    from heedful.ml.text import NgramTfidf

    if state is None:
        from sklearn.decomposition import TruncatedSVD

        tfidf = NgramTfidf.fit(items)
        x = tfidf.transform(items)
        dims = max(1, min(100, x.shape[1] - 1, len(items) - 1))
        svd = TruncatedSVD(n_components=dims, random_state=0).fit(x)
        state = (tfidf, svd)
    tfidf, svd = state
    vectors = np.asarray(svd.transform(tfidf.transform(items)), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors, state


def default_k(n: int) -> int:
    return max(2, min(40, round(math.sqrt(n / 2))))


# k-means is fitted on at most this many segments (a fixed-seed sample); the rest are embedded in
# chunks and only assigned, so memory stays flat from 30 texts to 100k.
FIT_SAMPLE = 20000
_CHUNK = 4096


def find_themes(
    texts: Sequence[str], *, k: int | None = None, encoder: str | None = None, segment: bool = True
) -> ThemeModel:
    """Cluster ``texts`` into themes (see the module docstring); needs >= 2 non-empty texts."""
    if sum(isinstance(t, str) and bool(clean(t)) for t in texts) < 2:
        raise ValueError("need at least two non-empty texts to find themes")
    from heedful.ml.encoders import minilm_available

    name = encoder or (ENCODER_BOTH if minilm_available() else "tfidf")
    pieces = _pieces(texts, segment)
    flat = [p for ps in pieces for p in ps]
    n_clusters = min(k or default_k(sum(bool(ps) for ps in pieces)), len(flat))
    rng = np.random.default_rng(0)
    sample = (
        np.sort(rng.choice(len(flat), FIT_SAMPLE, replace=False))
        if len(flat) > FIT_SAMPLE
        else np.arange(len(flat))
    )
    vectors, state = _embed([flat[i] for i in sample], name)
    from sklearn.cluster import KMeans

    # Ten starts: on MAMS, four left the multi-label result varying twice as much between seeds.
    km = KMeans(n_clusters, random_state=0, n_init=10).fit(vectors)
    centres = np.asarray(km.cluster_centers_, dtype=np.float32)
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    sims = _similarities(flat, sample, vectors, centres, name, state)
    best = sims.max(axis=1)
    min_sim = round(float(np.quantile(best, 0.05)), 4)
    fitted = _text_themes(pieces, sims, min_sim, keep_all=True)
    # Number themes by how many texts they are primary for (largest first), so ids are stable.
    primary = Counter(t.primary for t in fitted if t.primary is not None)
    mentions = Counter(theme for t in fitted for theme in t.themes)
    order = sorted(range(n_clusters), key=lambda c: (-primary[c], -mentions[c], c))
    order = [c for c in order if mentions[c]]
    remap = {old: new for new, old in enumerate(order)}
    fitted = [_renumber(t, remap) for t in fitted]
    centres = centres[order]
    seg_theme = [theme for t in fitted for _, theme, _ in t.segments]
    keywords = _keywords(
        [p for p, c in zip(flat, seg_theme, strict=True) if c is not None],
        [c for c in seg_theme if c is not None],
        len(order),
    )
    themes = [
        Theme(
            new,
            keywords[new],
            _representative(texts, pieces, fitted, sims[:, old], new),
            primary[old],
            mentions[old],
        )
        for new, old in enumerate(order)
    ]
    return ThemeModel(themes, centres, name, min_sim, state, segment, fitted)


def _pieces(texts: Sequence[str], segment: bool) -> list[list[str]]:
    """The segments of each text (a whole text when not segmenting; none when it is empty)."""
    out: list[list[str]] = []
    for text in texts:
        if not (isinstance(text, str) and clean(text)):
            out.append([])
        else:
            out.append((split_segments(text) if segment else []) or [text.strip()])
    return out


def _similarities(flat: list[str], done: Any, vectors: F32, centres: F32, encoder: str, state: Any) -> F32:
    """Cosine of every segment to every centre; ``vectors`` are those of the ``done`` indices."""
    sims = np.zeros((len(flat), len(centres)), dtype=np.float32)
    sims[done] = vectors @ centres.T
    rest = np.setdiff1d(np.arange(len(flat)), done)
    for start in range(0, len(rest), _CHUNK):
        chunk = rest[start : start + _CHUNK]
        sims[chunk] = _embed([flat[i] for i in chunk], encoder, state)[0] @ centres.T
    return sims


def _text_themes(pieces: list[list[str]], sims: F32, min_sim: float, *, keep_all: bool) -> list[TextThemes]:
    """Group segment similarities back by text. A segment below ``min_sim`` adds no theme, except
    with ``keep_all`` (the fitted segments: k-means put every one of them in a cluster)."""
    out = []
    row = 0
    for segs in pieces:
        rows = sims[row : row + len(segs)]
        row += len(segs)
        if not segs:
            out.append(TextThemes(None, (), ()))
            continue
        best, score = rows.argmax(axis=1), rows.max(axis=1)
        labelled: list[tuple[str, int | None, float]] = []
        for seg, cid, sim in zip(segs, best, score, strict=True):
            ok = keep_all or sim >= min_sim
            labelled.append((seg, int(cid) if ok else None, round(float(sim), 4)))
        by_strength = sorted(range(len(segs)), key=lambda i: (-score[i], i))
        ordered = [labelled[i][1] for i in by_strength]
        themes = tuple(dict.fromkeys(c for c in ordered if c is not None))
        out.append(TextThemes(themes[0] if themes else None, themes, tuple(labelled)))
    return out


def _renumber(t: TextThemes, remap: dict[int, int]) -> TextThemes:
    segs = tuple((s, None if c is None else remap[c], sim) for s, c, sim in t.segments)
    themes = tuple(remap[c] for c in t.themes)
    return TextThemes(themes[0] if themes else None, themes, segs)


def _representative(
    texts: Sequence[str], pieces: list[list[str]], fitted: list[TextThemes], sims: Any, cid: int
) -> str:
    """The text nearest the centre among texts with only this theme, else the nearest segment."""
    best: tuple[float, int, str] | None = None
    fallback: tuple[float, int, str] | None = None
    row = 0
    for i, (segs, t) in enumerate(zip(pieces, fitted, strict=True)):
        for j, (seg, theme, _) in enumerate(t.segments):
            if theme == cid:
                key = (-float(sims[row + j]), row + j)
                if t.themes == (cid,) and (best is None or key < best[:2]):
                    best = (*key, str(texts[i]).strip())
                if fallback is None or key < fallback[:2]:
                    fallback = (*key, seg)
        row += len(segs)
    chosen = best or fallback
    return chosen[2] if chosen else ""


def _keywords(items: Sequence[str], assignment: Any, k: int, top: int = 4) -> list[tuple[str, ...]]:
    per_theme: list[Counter[str]] = [Counter() for _ in range(k)]
    for text, cid in zip(items, assignment, strict=True):
        words = [w for w in tokens(clean(text)) if w[0].isalnum() and w not in _NOT_KEYWORDS]
        per_theme[cid].update(set(words))
    df: Counter[str] = Counter()
    for counter in per_theme:
        df.update(set(counter))
    out = []
    for counter in per_theme:
        size = max(sum(counter.values()), 1)
        scored = sorted(((c / size) * math.log(1 + k / df[w]), w) for w, c in counter.items() if c >= 2)
        ranked = sorted(scored, key=lambda s: (-s[0], s[1]))
        out.append(tuple(w for _, w in ranked[:top]) or ("(misc)",))
    return out


def assign_themes(texts: Sequence[str], model: ThemeModel) -> list[TextThemes]:
    """All themes of each text, primary first, with its segments as the explanation."""
    if not texts:
        return []
    pieces = _pieces(texts, model.segmented)
    flat = [p for ps in pieces for p in ps]
    empty = np.zeros((0, model.centres.shape[1]), dtype=np.float32)
    sims = _similarities(flat, np.arange(0), empty, model.centres, model.encoder, model._svd)
    return _text_themes(pieces, sims, model.min_similarity, keep_all=False)


def assign_theme(texts: Sequence[str], model: ThemeModel) -> list[int | None]:
    """Primary theme id of each text (``None``: no theme is close enough)."""
    return [t.primary for t in assign_themes(texts, model)]


def count_by_period(
    theme_ids: Sequence[int | None], times: Sequence[datetime], period: str = "week"
) -> dict[str, dict[int | None, int]]:
    """Counts of each theme per period (``day`` | ``week`` (ISO) | ``month``), keys sorted."""
    formats = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}
    if period not in formats:
        raise ValueError("period must be day, week or month")
    counts: dict[str, Counter[int | None]] = {}
    for theme, when in zip(theme_ids, times, strict=True):
        counts.setdefault(when.strftime(formats[period]), Counter())[theme] += 1
    return {
        key: dict(sorted(counts[key].items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))
        for key in sorted(counts)
    }
