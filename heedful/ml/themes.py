"""Themes: group short texts, label each group in plain words, assign new texts, count over time.

Texts are embedded (MiniLM when built, else TF-IDF reduced by truncated SVD), L2-normalised and
clustered with k-means (fixed seed; mini-batch k-means above 20,000 texts). ``k`` defaults to
``round(sqrt(n / 2))`` clamped to 2..40. A theme's label is its most distinctive words (class
TF-IDF: frequent in the theme, rare elsewhere, stop words removed) plus the text closest to its
centre. :func:`assign_theme` puts a new text in the nearest theme, or in none when it is further
than ``min_similarity`` from every centre.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from heedful.ml.linear import F32
from heedful.ml.text import STOP_WORDS, clean, tokens

# Negations matter for sentiment explanations but make poor theme keywords.
_NOT_KEYWORDS = STOP_WORDS | {"not", "no", "again"}


@dataclass(frozen=True)
class Theme:
    id: int
    keywords: tuple[str, ...]
    representative: str
    size: int

    @property
    def label(self) -> str:
        return " / ".join(self.keywords)


@dataclass
class ThemeModel:
    themes: list[Theme]
    centres: F32  # (k, d), unit rows
    encoder: str
    min_similarity: float
    _svd: Any = None  # fitted (tfidf, components) when encoder == "tfidf"


def _embed(texts: Sequence[str], encoder: str, state: Any = None) -> tuple[F32, Any]:
    items = [clean(t) or "." for t in texts]
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


def find_themes(texts: Sequence[str], *, k: int | None = None, encoder: str | None = None) -> ThemeModel:
    """Cluster ``texts`` into themes (see the module docstring); needs >= 2 non-empty texts."""
    items = [t for t in texts if isinstance(t, str) and clean(t)]
    if len(items) < 2:
        raise ValueError("need at least two non-empty texts to find themes")
    from heedful.ml.encoders import minilm_available

    name = encoder or ("minilm" if minilm_available() else "tfidf")
    vectors, state = _embed(items, name)
    n_clusters = min(k or default_k(len(items)), len(items))
    if len(items) > 20000:
        from sklearn.cluster import MiniBatchKMeans

        km: Any = MiniBatchKMeans(n_clusters, random_state=0, n_init=3, batch_size=4096)
    else:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters, random_state=0, n_init=4)
    assignment = km.fit_predict(vectors)
    centres = np.asarray(km.cluster_centers_, dtype=np.float32)
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    # Relabel clusters by size (largest first) so ids are stable and meaningful.
    sizes = Counter(assignment.tolist())
    order = sorted(sizes, key=lambda c: (-sizes[c], c))
    remap = {old: new for new, old in enumerate(order)}
    assignment = np.array([remap[a] for a in assignment])
    centres = centres[order]
    keywords = _keywords(items, assignment, len(order))
    themes = []
    for cid in range(len(order)):
        rows = np.where(assignment == cid)[0]
        sims = vectors[rows] @ centres[cid]
        best = rows[int(np.lexsort((rows, -sims))[0])]
        themes.append(Theme(cid, keywords[cid], items[best], len(rows)))
    member_sims = np.einsum("ij,ij->i", vectors, centres[assignment])
    min_sim = float(np.quantile(member_sims, 0.05))
    return ThemeModel(themes, centres, name, round(min_sim, 4), state)


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


def assign_theme(texts: Sequence[str], model: ThemeModel) -> list[int | None]:
    """Theme id of each text (``None``: no theme is close enough)."""
    if not texts:
        return []
    vectors, _ = _embed(list(texts), model.encoder, model._svd)
    sims = vectors @ model.centres.T
    best = sims.argmax(axis=1)
    out: list[int | None] = []
    for text, row, cid in zip(texts, sims, best, strict=True):
        ok = isinstance(text, str) and bool(clean(text)) and row[cid] >= model.min_similarity
        out.append(int(cid) if ok else None)
    return out


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
