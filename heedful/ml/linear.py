"""Linear softmax models over (sparse TF-IDF, dense embedding) features, stored as numpy arrays.

Training minimises multinomial logistic regression's objective (scikit-learn's, see
:class:`SoftmaxProblem`) with our L-BFGS (:mod:`heedful.ml.lbfgs`), keeping the sparse block
sparse and the embedding block dense; scoring is plain numpy/scipy.

Big problems (many answers, each with its own row of weights over every TF-IDF term) are fitted
with each class's TF-IDF weights restricted to the terms its own training texts use (see
:data:`FULL_WEIGHTS_UP_TO`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from heedful.ml.text import NgramTfidf

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

# A fit with more weights than this ((TF-IDF terms + embedding width + 1) x classes) gives each
# class TF-IDF weights only on the terms its own training texts use ("seen" weights); the others
# stay zero, and the model keeps them as a sparse matrix. Why: the solver's time and memory go
# with the number of weights (L-BFGS keeps 20 float32 copies of them), and every answer had a
# weight for every term. Measured in session 18 (docs/benchmarks-text-engine.md): a knowledge
# base of 2,000 answers took 311 s and 14.1 GB to train in heedful, and 102 s and 1.4 GB seen; 600
# answers of 8 questions, 42 s and 3.4 GB, and 20 s and 0.7 GB seen. What is lost: a term no
# longer counts *against* an answer whose questions never use it (the embedding block and the
# biases stay full). On CLINC150 that cost nothing measurable (in-scope 93.44 % against 93.58 %,
# out-of-scope recall 90.1 % against 90.0 %), but the first pass was less often sure enough to
# answer alone (54.9 % of the test questions against 58.5 %; 30.5 % against 45.7 % of the held-out
# ones in text_engine.py's retrain), so more questions ran MiniLM. Up to this limit (CLINC150's
# 151 classes: 5.0 million weights) a fit keeps every weight, as before session 18.
FULL_WEIGHTS_UP_TO = 6_000_000
WEIGHTS = ("auto", "full", "seen")


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
    # (n_sparse, n_classes): a float32 array, or a scipy CSR matrix of float32 for a "seen" fit,
    # whose weights are mostly zero (1,200 answers of 8 questions: 0.5 million of 31 million), so that a
    # matcher of many answers holds and writes megabytes instead of hundreds of them.
    w_sparse: Any
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
        weights: str = "auto",
    ) -> LinearSoftmax:
        """Fit by L-BFGS; ``start`` (a model over the same TF-IDF block, e.g. one fitted on
        most of the same questions) is where the solver begins instead of zero.

        ``weights``: "full" (every class has a weight for every TF-IDF term), "seen" (only for
        the terms its own texts use, see :data:`FULL_WEIGHTS_UP_TO`; kept as a sparse matrix) or
        "auto" (full up to that many weights).

        ``features``: the sparse block (``n_sparse`` columns), with ``dense`` the embedding block;
        or, without ``dense``, both blocks stacked in one sparse matrix (split here).
        The loss is strictly convex, so the start changes how many iterations it takes, not
        where it ends (up to the tolerance): a retrain from a near solution takes a fraction of
        the iterations. Its dense block is used only when it has the same width.
        """
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError("need at least two different labels to train a classifier")
        if weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, not {weights!r}")
        sparse, dense = _split_blocks(features, n_sparse, dense)
        y = np.searchsorted(np.array(classes), np.array(labels))
        if weights == "auto":
            weights = os.environ.get("HEEDFUL_ML_WEIGHTS", "").strip() or "auto"
            if weights not in WEIGHTS:
                raise ValueError(f"HEEDFUL_ML_WEIGHTS must be one of {WEIGHTS}, not {weights!r}")
        if weights == "auto":
            n_dense = 0 if dense is None else dense.shape[1]
            weights = "full" if (n_sparse + n_dense + 1) * len(classes) <= FULL_WEIGHTS_UP_TO else "seen"
        # Two classes: the binary model of logistic regression, whose one weight vector d has
        # penalty |d|^2 / 2C. Two softmax rows settle at -d/2 and d/2, whose penalty is half of
        # |d|^2 / 2C per unit of C: halving C gives the same optimum.
        c_fit = c / 2 if len(classes) == 2 else c
        problem = SoftmaxProblem(sparse, dense, y, len(classes), c_fit, class_weight, seen=weights == "seen")
        begin = None if start is None else _start_vector(start, classes, problem)
        w_sparse, w_dense, bias = problem.solve(begin, max_iter=max_iter, tol=tol)
        return cls(classes, w_sparse, w_dense, bias)

    @property
    def sparse_weights_stored_sparse(self) -> bool:
        return not isinstance(self.w_sparse, np.ndarray)

    def logits_batch(self, sparse: Any, dense: F32 | None) -> F32:
        product = sparse @ self.w_sparse
        if self.sparse_weights_stored_sparse:
            product = product.toarray()
        out = np.asarray(product, dtype=np.float32) + self.bias
        if dense is not None and self.w_dense.shape[0]:
            out += dense @ self.w_dense
        return out

    def logits_one(self, idx: list[int], val: list[float], dense: F32 | None) -> F32:
        out = self.bias.copy()
        if idx and self.sparse_weights_stored_sparse:
            out += _rows_times(self.w_sparse, idx, val)
        elif idx:
            # take(), not w_sparse[idx]: indexing by a list converts it element by element first.
            out += np.asarray(val, dtype=np.float32) @ self.w_sparse.take(idx, axis=0)
        if dense is not None and self.w_dense.shape[0]:
            out += dense @ self.w_dense
        return out

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        arrays = {f"{prefix}w_dense": self.w_dense, f"{prefix}bias": self.bias}
        if not self.sparse_weights_stored_sparse:
            return arrays | {f"{prefix}w_sparse": self.w_sparse}
        w = self.w_sparse
        return arrays | {
            f"{prefix}w_sparse_data": w.data,
            f"{prefix}w_sparse_indices": w.indices,
            f"{prefix}w_sparse_indptr": w.indptr,
            f"{prefix}w_sparse_shape": np.array(w.shape, dtype=np.int64),
        }

    @staticmethod
    def in_arrays(arrays: dict[str, npt.NDArray[Any]], prefix: str) -> bool:
        """Whether :meth:`to_arrays` wrote a model under ``prefix`` into ``arrays``."""
        return f"{prefix}w_sparse" in arrays or f"{prefix}w_sparse_data" in arrays

    @classmethod
    def from_arrays(
        cls, classes: list[str], arrays: dict[str, npt.NDArray[Any]], prefix: str
    ) -> LinearSoftmax:
        """The model :meth:`to_arrays` wrote under ``prefix``; KeyError if a part is missing."""
        w_sparse: Any
        if f"{prefix}w_sparse" in arrays:
            w_sparse = arrays[f"{prefix}w_sparse"]
        else:
            import scipy.sparse as sp

            shape = tuple(int(n) for n in arrays[f"{prefix}w_sparse_shape"])
            parts = (arrays[f"{prefix}w_sparse_{part}"] for part in ("data", "indices", "indptr"))
            w_sparse = sp.csr_matrix(tuple(parts), shape=shape)
        return cls(list(classes), w_sparse, arrays[f"{prefix}w_dense"], arrays[f"{prefix}bias"])


def _rows_times(w: Any, idx: list[int], val: list[float]) -> F32:
    """``val @ w[idx]`` for a CSR ``w``, straight from its arrays (scipy's row indexing builds a
    new matrix first, several times slower for the few dozen rows of one question)."""
    rows = np.asarray(idx, dtype=np.int64)
    starts = w.indptr[rows]
    lengths = w.indptr[rows + 1] - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(w.shape[1], np.float32)
    # Position of every stored value of the chosen rows, row after row.
    at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
    weights = w.data[at] * np.repeat(np.asarray(val, dtype=np.float32), lengths)
    return np.bincount(w.indices[at], weights=weights, minlength=w.shape[1]).astype(np.float32)


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

    ``seen``: ``W_sparse`` may be non-zero only where a class's own texts use the term (the
    same objective over fewer weights). The vector then holds those weights alone, class by
    class, and the products go through a full block of a few classes at a time.
    """

    def __init__(
        self,
        sparse: Any,
        dense: F32 | None,
        y: npt.NDArray[np.int64],
        n_classes: int,
        c: float,
        class_weight: str | None = None,
        *,
        seen: bool = False,
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
        self.terms: npt.NDArray[np.int64] | None = None  # seen: each weight's term, by class
        self.class_ptr = np.zeros(n_classes + 1, np.int64)  # seen: class j's weights' slice
        if seen:
            self._restrict_to_seen_terms()
        self.n_sparse_weights = self.shapes[0][0] * n_classes if self.terms is None else int(self.terms.size)

    def _restrict_to_seen_terms(self) -> None:
        import scipy.sparse as sp

        (ns, k), _ = self.shapes
        n = self.sparse.shape[0]
        one_hot = sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), self.y)), shape=(n, k))
        used = abs(self.sparse).T @ one_hot  # term x class: > 0 where a class's text uses the term
        used = sp.csc_matrix(used)
        used.eliminate_zeros()
        used.sort_indices()
        self.terms = used.indices.astype(np.int64)
        self.class_ptr = used.indptr.astype(np.int64)
        # Classes per block: a full (terms x block) float32 array of about 32 MB at most.
        self.block = max(1, min(k, (8 << 20) // max(ns, 1)))

    @property
    def size(self) -> int:
        (_, k), (nd, _) = self.shapes
        return self.n_sparse_weights + (nd + 1) * k

    def unpack(self, w: F64) -> tuple[F64, F64, F64]:
        """The sparse block's weights ((terms, classes), or flat when ``seen``), the dense
        block's and the biases, as views of ``w``."""
        (ns, k), (nd, _) = self.shapes
        m = self.n_sparse_weights
        sparse = w[:m] if self.terms is not None else w[:m].reshape(ns, k)
        return sparse, w[m : m + nd * k].reshape(nd, k), w[m + nd * k :]

    def stored_sparse(self, w_sparse: F64) -> Any:
        """The sparse block as a model keeps it: a (terms, classes) float32 array, or when
        ``seen`` a CSR matrix of that shape, if that is smaller (a stored weight costs 8 bytes
        in it, and 4 in the array)."""
        if self.terms is None:
            return w_sparse.astype(np.float32)
        import scipy.sparse as sp

        (ns, k), _ = self.shapes
        w = sp.csc_matrix((w_sparse.astype(np.float32), self.terms, self.class_ptr), shape=(ns, k)).tocsr()
        return w if 2 * w.nnz < ns * k else w.toarray()

    def seen_part(self, w_sparse: Any, columns: npt.NDArray[np.int64]) -> F64:
        """Where ``seen`` keeps weights, flat: the weights of ``w_sparse`` (an array, or a
        sparse matrix, of (terms, its classes)) in column ``columns[j]`` for class j, 0 where
        ``columns[j]`` is -1."""
        assert self.terms is not None  # noqa: S101 - only called for seen problems
        cols = np.repeat(columns, np.diff(self.class_ptr))
        out = np.zeros(self.terms.size)
        has = cols >= 0
        if isinstance(w_sparse, np.ndarray):
            out[has] = w_sparse[self.terms[has], cols[has]]
        else:  # element look-ups, without a (terms, classes) array of the start's
            out[has] = np.asarray(w_sparse[self.terms[has], cols[has]]).ravel()
        return out

    def _blocks(self) -> Any:
        """(first class, end class, first weight, end weight) of each block of classes."""
        k = self.shapes[0][1]
        for lo in range(0, k, self.block):
            hi = min(k, lo + self.block)
            yield lo, hi, int(self.class_ptr[lo]), int(self.class_ptr[hi])

    def _sparse_logits(self, w_sparse: F64) -> F32:
        if self.terms is None:
            return np.asarray(self.sparse @ w_sparse.astype(np.float32))
        (ns, k), _ = self.shapes
        z = np.empty((self.sparse.shape[0], k), np.float32)
        block = np.zeros((ns, self.block), np.float32)
        counts = np.diff(self.class_ptr)
        for lo, hi, a, b in self._blocks():
            block[:] = 0
            cols = np.repeat(np.arange(hi - lo), counts[lo:hi])
            block[self.terms[a:b], cols] = w_sparse[a:b]
            z[:, lo:hi] = self.sparse @ block[:, : hi - lo]
        return z

    def _sparse_gradient(self, p: F32, out: F64) -> None:
        if self.terms is None:
            out[:] = self.sparse_t @ p
            return
        counts = np.diff(self.class_ptr)
        for lo, hi, a, b in self._blocks():
            full = self.sparse_t @ np.ascontiguousarray(p[:, lo:hi])
            out[a:b] = full[self.terms[a:b], np.repeat(np.arange(hi - lo), counts[lo:hi])]

    def loss_grad(self, w: F64) -> tuple[float, F64]:
        w_sparse, w_dense, bias = self.unpack(w)
        z = self._sparse_logits(w_sparse)
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
        self._sparse_gradient(p, g_sparse)
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
        return self.stored_sparse(w_sparse), w_dense.astype(np.float32), bias.astype(np.float32)


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
    known = {answer: col for col, answer in enumerate(start.classes)}
    # Column of ``start`` for each class of ``problem`` (-1: an answer it does not know).
    at = np.array([known.get(answer, -1) for answer in classes], dtype=np.int64)
    has = at >= 0
    if problem.terms is not None:
        w_sparse[:] = problem.seen_part(start.w_sparse, at)
    elif start.sparse_weights_stored_sparse:
        w_sparse[:, has] = start.w_sparse[:, at[has]].toarray()
    else:
        w_sparse[:, has] = start.w_sparse[:, at[has]]
    if start.w_dense.shape[0] == nd:
        w_dense[:, has] = start.w_dense[:, at[has]]
    bias[has] = start.bias[at[has]]
    # Softmax ignores a shift of all biases and the solver never moves along it: centred, the
    # result's biases sum to zero, as a fit from zero's do.
    bias -= bias.mean()
    return w
