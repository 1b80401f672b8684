"""Linear softmax models over (sparse TF-IDF, dense embedding) features, stored as numpy arrays.

Training uses scikit-learn's LogisticRegression (imported only when training); scoring is plain
numpy/scipy so that loading and answering need no scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from heedful.ml.text import NgramTfidf

F32 = npt.NDArray[np.float32]


@dataclass
class FeatureSpace:
    """TF-IDF block plus an optional dense embedding block scaled by ``dense_weight``."""

    tfidf: NgramTfidf
    encoder: str  # "tfidf" | "static" | "minilm" | "hybrid"
    dense_weight: float = 1.0

    @property
    def uses_tfidf(self) -> bool:
        return self.encoder in ("tfidf", "static", "hybrid")

    @property
    def uses_dense(self) -> bool:
        return self.encoder in ("static", "minilm", "hybrid")

    @property
    def uses_minilm(self) -> bool:
        """Whether a question runs through the transformer (what ``escalated`` reports)."""
        return self.encoder in ("minilm", "hybrid")

    def dense(self, texts: list[str]) -> F32 | None:
        if not self.uses_dense:
            return None
        from heedful.ml.encoders import shared_minilm, shared_static

        encoder: Any = shared_static() if self.encoder == "static" else shared_minilm()
        vectors: F32 = encoder.encode_one(texts[0])[None, :] if len(texts) == 1 else encoder.encode(texts)
        return vectors * np.float32(self.dense_weight)

    def sparse(self, texts: list[str]) -> Any:
        import scipy.sparse as sp

        if not self.uses_tfidf:
            return sp.csr_matrix((len(texts), self.tfidf.n_features), dtype=np.float32)
        return self.tfidf.transform(texts)

    def stacked(self, texts: list[str]) -> Any:
        import scipy.sparse as sp

        sparse = self.sparse(texts)
        dense = self.dense(texts)
        return sparse if dense is None else sp.hstack([sparse, sp.csr_matrix(dense)]).tocsr()


@dataclass
class LinearSoftmax:
    """``softmax(x_sparse @ w_sparse + x_dense @ w_dense + bias)`` over ``classes``."""

    classes: list[str]
    w_sparse: F32  # (n_sparse, n_classes)
    w_dense: F32  # (n_dense, n_classes), n_dense may be 0
    bias: F32  # (n_classes,)

    @classmethod
    def fit(
        cls,
        features: Any,
        labels: list[str],
        n_sparse: int,
        *,
        c: float = 10.0,
        max_iter: int = 300,
        class_weight: str | None = None,
        start: LinearSoftmax | None = None,
    ) -> LinearSoftmax:
        """Fit by L-BFGS; ``start`` (a model over the same TF-IDF block, e.g. one fitted on
        most of the same questions) is where the solver begins instead of zero.

        The loss is strictly convex, so the start changes how many iterations it takes, not
        where it ends (up to the tolerance): a retrain from a near solution takes a fraction of
        the iterations. Its dense block is used only when it has the same width.
        """
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError("need at least two different labels to train a classifier")
        model = LogisticRegression(C=c, max_iter=max_iter, class_weight=class_weight, tol=1e-4)
        if start is not None and len(classes) > 2 and start.w_sparse.shape[0] == n_sparse:
            # Answers the start does not know begin at zero; those it has that are gone drop out.
            cols = [start.classes.index(a) if a in start.classes else -1 for a in classes]
            n_dense = features.shape[1] - n_sparse
            dense = start.w_dense if start.w_dense.shape[0] == n_dense else np.zeros((n_dense, 0))
            begin = np.zeros((n_sparse + n_dense, len(classes)))
            begin_bias = np.zeros(len(classes))
            for j, col in enumerate(cols):
                if col >= 0:
                    begin[:n_sparse, j] = start.w_sparse[:, col]
                    if dense.shape[1]:
                        begin[n_sparse:, j] = dense[:, col]
                    begin_bias[j] = start.bias[col]
            model.warm_start = True
            model.coef_ = begin.T
            model.intercept_ = begin_bias
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(features, np.array(labels))
        coef = np.asarray(model.coef_, dtype=np.float32)
        bias = np.asarray(model.intercept_, dtype=np.float32)
        if len(classes) == 2:  # binary LR stores one row: expand to two logits
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            bias = np.array([-bias[0] / 2, bias[0] / 2], dtype=np.float32)
        weights = np.ascontiguousarray(coef.T)
        return cls(classes, weights[:n_sparse], weights[n_sparse:], bias)

    def logits_batch(self, sparse: Any, dense: F32 | None) -> F32:
        out = np.asarray(sparse @ self.w_sparse, dtype=np.float32) + self.bias
        if dense is not None and self.w_dense.shape[0]:
            out += dense @ self.w_dense
        return out

    def logits_one(self, idx: list[int], val: list[float], dense: F32 | None) -> F32:
        out = self.bias.copy()
        if idx:
            out += np.asarray(val, dtype=np.float32) @ self.w_sparse[idx]
        if dense is not None and self.w_dense.shape[0]:
            out += dense @ self.w_dense
        return out

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        return {
            f"{prefix}w_sparse": self.w_sparse,
            f"{prefix}w_dense": self.w_dense,
            f"{prefix}bias": self.bias,
        }

    @classmethod
    def from_arrays(
        cls, classes: list[str], arrays: dict[str, npt.NDArray[Any]], prefix: str
    ) -> LinearSoftmax:
        return cls(
            list(classes),
            arrays[f"{prefix}w_sparse"],
            arrays[f"{prefix}w_dense"],
            arrays[f"{prefix}bias"],
        )


def softmax(logits: F32) -> F32:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: F32 = exp / exp.sum(axis=-1, keepdims=True)
    return result
