"""Linear softmax models over (sparse TF-IDF, dense embedding) features, stored as numpy arrays.

Training minimises multinomial logistic regression's objective (scikit-learn's, see
:class:`SoftmaxProblem`) with scipy's L-BFGS-B, keeping the sparse block sparse and the embedding
block dense; scoring is plain numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from heedful.ml.text import NgramTfidf

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


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
        return embed(self.encoder, texts, self.dense_weight)

    def sparse(self, texts: list[str]) -> Any:
        import scipy.sparse as sp

        if not self.uses_tfidf:
            return sp.csr_matrix((len(texts), self.tfidf.n_features), dtype=np.float32)
        return self.tfidf.transform(texts)


def embed(encoder: str, texts: list[str], weight: float = 1.0) -> F32:
    """``texts``' embeddings by ``encoder``'s dense block (the static table for "static", else
    MiniLM), times ``weight``."""
    from heedful.ml.encoders import shared_minilm, shared_static

    model: Any = shared_static() if encoder == "static" else shared_minilm()
    vectors: F32 = model.encode_one(texts[0])[None, :] if len(texts) == 1 else model.encode(texts)
    return vectors * np.float32(weight)


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
        dense: F32 | None = None,
        c: float = 10.0,
        max_iter: int = 300,
        class_weight: str | None = None,
        start: LinearSoftmax | None = None,
        tol: float = 1e-4,
    ) -> LinearSoftmax:
        """Fit by L-BFGS; ``start`` (a model over the same TF-IDF block, e.g. one fitted on
        most of the same questions) is where the solver begins instead of zero.

        ``features``: the sparse block (``n_sparse`` columns), with ``dense`` the embedding block;
        or, without ``dense``, both blocks stacked in one sparse matrix (split here).
        The loss is strictly convex, so the start changes how many iterations it takes, not
        where it ends (up to the tolerance): a retrain from a near solution takes a fraction of
        the iterations. Its dense block is used only when it has the same width.
        """
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError("need at least two different labels to train a classifier")
        sparse, dense = _split_blocks(features, n_sparse, dense)
        y = np.searchsorted(np.array(classes), np.array(labels))
        # Two classes: the binary model of logistic regression, whose one weight vector d has
        # penalty |d|^2 / 2C. Two softmax rows settle at -d/2 and d/2, whose penalty is half of
        # |d|^2 / 2C per unit of C: halving C gives the same optimum.
        problem = SoftmaxProblem(
            sparse, dense, y, len(classes), c / 2 if len(classes) == 2 else c, class_weight
        )
        begin = None if start is None else _start_vector(start, classes, problem)
        w_sparse, w_dense, bias = problem.solve(begin, max_iter=max_iter, tol=tol)
        return cls(classes, w_sparse, w_dense, bias)

    def logits_batch(self, sparse: Any, dense: F32 | None) -> F32:
        out = np.asarray(sparse @ self.w_sparse, dtype=np.float32) + self.bias
        if dense is not None and self.w_dense.shape[0]:
            out += dense @ self.w_dense
        return out

    def logits_one(self, idx: list[int], val: list[float], dense: F32 | None) -> F32:
        out = self.bias.copy()
        if idx:
            # take(), not w_sparse[idx]: indexing by a list converts it element by element first.
            out += np.asarray(val, dtype=np.float32) @ self.w_sparse.take(idx, axis=0)
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


class SoftmaxProblem:
    """Multinomial logistic regression's objective, as scikit-learn's ``LogisticRegression``
    (lbfgs) states it, so that both reach the same optimum:

    ``(sum_i s_i * (logsumexp(z_i) - z_i[y_i]) + |W|^2 / 2C) / sum_i s_i``,
    ``z_i = x_i @ W_sparse + e_i @ W_dense + bias`` (no penalty on the bias), ``s_i`` = 1, or
    ``n / (n_classes * count(y_i))`` with ``class_weight="balanced"``.

    Why not scikit-learn itself: it takes one sparse matrix, so the 384 dense embedding columns
    became 384 sparse ones, and every product walked ~4x the stored values of the TF-IDF block
    alone. Here the sparse block stays CSR and the dense block goes through BLAS, both in float32
    (the solver's own arithmetic, the loss and the penalty are float64).
    """

    def __init__(
        self,
        sparse: Any,
        dense: F32 | None,
        y: npt.NDArray[np.int64],
        n_classes: int,
        c: float,
        class_weight: str | None = None,
    ) -> None:
        import scipy.sparse as sp

        if class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', not {class_weight!r}")
        n = sparse.shape[0]
        self.sparse = sp.csr_matrix(sparse, dtype=np.float32)
        self.sparse_t = self.sparse.T.tocsr()  # X.T @ G row by row: faster than through CSC
        self.dense = (
            None if dense is None or not dense.shape[1] else np.ascontiguousarray(dense, dtype=np.float32)
        )
        self.y = y
        self.n_classes = n_classes
        weight = np.ones(n)
        if class_weight == "balanced":
            weight = (n / (n_classes * np.bincount(y, minlength=n_classes)))[y]
        total = float(weight.sum())
        self.row_weight = weight / total
        self.row_weight32 = self.row_weight.astype(np.float32)[:, None]
        self.l2 = 1.0 / (c * total)
        self.shapes: tuple[tuple[int, int], tuple[int, int]] = (
            (int(self.sparse.shape[1]), n_classes),
            (0 if self.dense is None else int(self.dense.shape[1]), n_classes),
        )

    @property
    def size(self) -> int:
        (ns, k), (nd, _) = self.shapes
        return (ns + nd + 1) * k

    def unpack(self, w: F64) -> tuple[F64, F64, F64]:
        (ns, k), (nd, _) = self.shapes
        return w[: ns * k].reshape(ns, k), w[ns * k : (ns + nd) * k].reshape(nd, k), w[(ns + nd) * k :]

    def loss_grad(self, w: F64) -> tuple[float, F64]:
        w_sparse, w_dense, bias = self.unpack(w)
        z = np.asarray(self.sparse @ w_sparse.astype(np.float32))
        if self.dense is not None:
            z += self.dense @ w_dense.astype(np.float32)
        z += bias.astype(np.float32)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        total = p.sum(axis=1)
        rows = np.arange(len(self.y))
        nll = np.log(total.astype(np.float64)) - z[rows, self.y]
        penalty = float(w_sparse.ravel() @ w_sparse.ravel() + w_dense.ravel() @ w_dense.ravel())
        loss = float(self.row_weight @ nll) + 0.5 * self.l2 * penalty
        p /= total[:, None]
        p[rows, self.y] -= 1.0
        p *= self.row_weight32
        grad = np.empty_like(w)
        g_sparse, g_dense, g_bias = self.unpack(grad)
        g_sparse[:] = self.sparse_t @ p
        g_sparse += self.l2 * w_sparse
        if self.dense is not None:
            g_dense[:] = self.dense.T @ p
            g_dense += self.l2 * w_dense
        g_bias[:] = p.sum(axis=0)
        return loss, grad

    def solve(self, begin: F64 | None, *, max_iter: int, tol: float) -> tuple[F32, F32, F32]:
        """L-BFGS from ``begin`` (or zero), stopping by scikit-learn's rule: largest gradient
        component <= ``tol``."""
        from heedful.ml import lbfgs

        w0 = np.zeros(self.size) if begin is None else begin
        result = lbfgs.minimize(self.loss_grad, w0, gtol=tol, max_iter=max_iter)
        self.result = result
        w_sparse, w_dense, bias = self.unpack(result.x)
        return w_sparse.astype(np.float32), w_dense.astype(np.float32), bias.astype(np.float32)


def _split_blocks(features: Any, n_sparse: int, dense: F32 | None) -> tuple[Any, F32 | None]:
    if dense is not None or features.shape[1] == n_sparse:
        return features, dense
    import scipy.sparse as sp

    stacked = sp.csr_matrix(features)
    return stacked[:, :n_sparse], stacked[:, n_sparse:].toarray().astype(np.float32)


def _start_vector(start: LinearSoftmax, classes: list[str], problem: SoftmaxProblem) -> F64 | None:
    """``start``'s weights laid out for ``problem``: answers it does not know begin at zero,
    those it has that are gone drop out; its dense block only when it has the same width."""
    (ns, _), (nd, _) = problem.shapes
    if start.w_sparse.shape[0] != ns:
        return None
    w = np.zeros(problem.size)
    w_sparse, w_dense, bias = problem.unpack(w)
    for j, answer in enumerate(classes):
        if answer in start.classes:
            col = start.classes.index(answer)
            w_sparse[:, j] = start.w_sparse[:, col]
            if start.w_dense.shape[0] == nd:
                w_dense[:, j] = start.w_dense[:, col]
            bias[j] = start.bias[col]
    # Softmax ignores a shift of all biases and the solver never moves along it: centred, the
    # result's biases sum to zero, as a fit from zero's do.
    bias -= bias.mean()
    return w
