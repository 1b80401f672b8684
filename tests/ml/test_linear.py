"""LinearSoftmax's own L-BFGS fit: the objective, its gradient, and scikit-learn's optimum."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from heedful.ml import lbfgs
from heedful.ml.linear import LinearSoftmax, SoftmaxProblem


def _data(n_classes: int = 3) -> tuple[sp.csr_matrix, np.ndarray, list[str]]:
    """12 rows: 6 sparse columns (a third of them stored) and 2 dense ones, fixed seed."""
    rng = np.random.default_rng(7)
    sparse = sp.random(12, 6, density=0.35, format="csr", dtype=np.float32, random_state=rng)
    dense = rng.normal(size=(12, 2)).astype(np.float32)
    names = ["a", "b", "c"][:n_classes]
    labels = [names[i % n_classes] for i in range(12)]
    labels[0] = names[1]  # uneven classes, so that "balanced" weights differ from 1
    return sparse, dense, labels


def _numeric_gradient(problem: SoftmaxProblem, w: np.ndarray, step: float = 1e-3) -> np.ndarray:
    """Central differences of the objective, weight by weight."""
    numeric = np.empty_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = step
        numeric[i] = (problem.loss_grad(w + e)[0] - problem.loss_grad(w - e)[0]) / (2 * step)
    return numeric


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_the_gradient_is_the_objectives_derivative(class_weight: str | None) -> None:
    sparse, dense, labels = _data()
    y = np.searchsorted(["a", "b", "c"], labels)
    problem = SoftmaxProblem(sparse, dense, y, 3, c=2.0, class_weight=class_weight)
    w = np.random.default_rng(1).normal(scale=0.5, size=problem.size)
    _, grad = problem.loss_grad(w)
    numeric = _numeric_gradient(problem, w)
    # The products are float32: agreement to ~1e-5 is rounding, not a wrong formula.
    assert np.abs(grad - numeric).max() < 2e-5
    assert problem.size == (6 + 2 + 1) * 3


def test_the_objective_is_scikit_learns() -> None:
    """At w = 0 every class has probability 1/3: the mean loss is log 3 and there is no penalty."""
    sparse, dense, labels = _data()
    problem = SoftmaxProblem(sparse, dense, np.searchsorted(["a", "b", "c"], labels), 3, c=1.0)
    loss, grad = problem.loss_grad(np.zeros(problem.size))
    assert loss == pytest.approx(np.log(3), abs=1e-6)
    # the bias gradient is (1/3 - share of the class): shares 3/12, 5/12, 4/12
    assert np.allclose(grad[-3:], [1 / 3 - 3 / 12, 1 / 3 - 5 / 12, 1 / 3 - 4 / 12], atol=1e-7)


@pytest.mark.parametrize(("n_classes", "class_weight"), [(3, None), (3, "balanced"), (2, None)])
def test_the_fit_reaches_scikit_learns_optimum(n_classes: int, class_weight: str | None) -> None:
    from sklearn.linear_model import LogisticRegression

    sparse, dense, labels = _data(n_classes)
    ours = LinearSoftmax.fit(sparse, labels, 6, dense=dense, c=3.0, class_weight=class_weight, tol=1e-7)
    theirs = LogisticRegression(C=3.0, class_weight=class_weight, tol=1e-10, max_iter=10_000)
    theirs.fit(np.hstack([sparse.toarray(), dense]).astype(np.float64), labels)  # exact reference
    coef, bias = theirs.coef_, theirs.intercept_
    if n_classes == 2:  # scikit-learn's binary model: one row of logit differences
        coef, bias = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-bias[0] / 2, bias[0] / 2])
    assert ours.classes == sorted(set(labels))
    assert np.abs(np.vstack([ours.w_sparse, ours.w_dense]) - coef.T).max() < 1e-4
    assert np.abs(ours.bias - bias).max() < 1e-4


def test_fitting_is_deterministic_and_the_blocks_may_come_stacked() -> None:
    sparse, dense, labels = _data()
    apart = LinearSoftmax.fit(sparse, labels, 6, dense=dense)
    again = LinearSoftmax.fit(sparse, labels, 6, dense=dense)
    stacked = LinearSoftmax.fit(sp.hstack([sparse, sp.csr_matrix(dense)]).tocsr(), labels, 6)
    for model in (again, stacked):
        assert model.w_sparse.tobytes() == apart.w_sparse.tobytes()
        assert model.w_dense.tobytes() == apart.w_dense.tobytes()
        assert model.bias.tobytes() == apart.bias.tobytes()
    assert apart.w_dense.shape == (2, 3)
    # Softmax's free shift: none. Float32 weights: a few units in the last place of each bias
    # (2.6e-6 on an AVX2 processor, under 1e-6 with AVX-512), not a shift.
    assert float(apart.bias.sum()) == pytest.approx(0.0, abs=1e-5)


def test_a_start_is_centred_and_reaches_the_same_optimum() -> None:
    sparse, dense, labels = _data()
    cold = LinearSoftmax.fit(sparse, labels, 6, dense=dense, tol=1e-7)
    shifted = LinearSoftmax(cold.classes, cold.w_sparse, cold.w_dense, cold.bias + np.float32(5.0))
    warm = LinearSoftmax.fit(sparse, labels, 6, dense=dense, tol=1e-7, start=shifted)
    assert np.abs(warm.bias - cold.bias).max() < 1e-4
    assert np.abs(warm.w_sparse - cold.w_sparse).max() < 1e-4


def test_lbfgs_solves_a_quadratic_and_says_why_it_stopped() -> None:
    a = np.diag([1.0, 10.0, 100.0])
    b = np.array([1.0, -2.0, 3.0])
    result = lbfgs.minimize(
        lambda x: (0.5 * x @ a @ x - b @ x, a @ x - b), np.zeros(3), gtol=1e-8, max_iter=100
    )
    assert result.converged
    assert np.allclose(result.x, [1.0, -0.2, 0.03], atol=1e-8)
    assert result.max_gradient <= 1e-8
    capped = lbfgs.minimize(
        lambda x: (0.5 * x @ a @ x - b @ x, a @ x - b), np.zeros(3), gtol=1e-10, max_iter=1
    )
    assert (capped.iterations, capped.converged) == (1, False)


def _seen_pattern(sparse: sp.csr_matrix, labels: list[str]) -> np.ndarray:
    """(terms, classes): True where some text of the class uses the term."""
    classes = sorted(set(labels))
    out = np.zeros((sparse.shape[1], len(classes)), bool)
    for row, label in zip(sparse.toarray(), labels, strict=True):
        out[row != 0, classes.index(label)] = True
    return out


def test_seen_weights_have_the_objectives_gradient_over_fewer_weights() -> None:
    sparse, dense, labels = _data()
    y = np.searchsorted(["a", "b", "c"], labels)
    problem = SoftmaxProblem(sparse, dense, y, 3, c=2.0, seen=True)
    pattern = _seen_pattern(sparse, labels)
    assert problem.size == int(pattern.sum()) + (2 + 1) * 3
    assert 0 < pattern.sum() < 6 * 3  # the data leaves some (term, class) pairs unused
    w = np.random.default_rng(1).normal(scale=0.5, size=problem.size)
    _, grad = problem.loss_grad(w)
    numeric = _numeric_gradient(problem, w)
    assert np.abs(grad - numeric).max() < 2e-5
    # Many classes go through the products a few at a time: blocks of 2 give the same.
    problem.block = 2
    assert np.array_equal(problem.loss_grad(w)[1], grad)


def test_a_seen_fit_is_the_full_objectives_optimum_over_the_terms_each_class_uses() -> None:
    sparse, dense, labels = _data()
    pattern = _seen_pattern(sparse, labels)
    seen = LinearSoftmax.fit(sparse, labels, 6, dense=dense, c=3.0, tol=1e-7, weights="seen")
    assert np.all(seen.w_sparse[~pattern] == 0.0)
    assert np.all(seen.w_sparse[pattern] != 0.0)
    # The same optimum as the full objective's with the unused weights held at zero: a full
    # fit that starts there and may move only the kept weights' gradients is already at rest.
    y = np.searchsorted(["a", "b", "c"], labels)
    full = SoftmaxProblem(sparse, dense, y, 3, c=3.0)
    _, grad = full.loss_grad(np.concatenate([seen.w_sparse.ravel(), seen.w_dense.ravel(), seen.bias]))
    g_sparse, g_dense, g_bias = full.unpack(grad)
    assert np.abs(g_sparse[pattern]).max() < 1e-6
    assert np.abs(g_dense).max() < 1e-6
    assert np.abs(g_bias).max() < 1e-6
    # ... and not the full optimum: an unused term would count against the class
    assert np.abs(g_sparse[~pattern]).max() > 1e-3


def test_seen_and_full_agree_where_every_class_uses_every_term() -> None:
    rng = np.random.default_rng(3)
    sparse = sp.csr_matrix(rng.uniform(0.1, 1.0, size=(12, 5)).astype(np.float32))
    labels = ["a", "b", "c"] * 4
    full = LinearSoftmax.fit(sparse, labels, 5, c=2.0, tol=1e-7, weights="full")
    seen = LinearSoftmax.fit(sparse, labels, 5, c=2.0, tol=1e-7, weights="seen")
    assert np.abs(seen.w_sparse - full.w_sparse).max() < 1e-5
    assert np.abs(seen.bias - full.bias).max() < 1e-5


def test_auto_keeps_only_seen_weights_above_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from heedful.ml import linear

    sparse, dense, labels = _data()
    pattern = _seen_pattern(sparse, labels)
    monkeypatch.setattr(linear, "FULL_WEIGHTS_UP_TO", (6 + 2 + 1) * 3)  # exactly this problem
    assert np.all(LinearSoftmax.fit(sparse, labels, 6, dense=dense).w_sparse != 0.0)
    monkeypatch.setattr(linear, "FULL_WEIGHTS_UP_TO", (6 + 2 + 1) * 3 - 1)
    auto = LinearSoftmax.fit(sparse, labels, 6, dense=dense)
    assert np.all(auto.w_sparse[~pattern] == 0.0)
    # The setting overrides the size rule either way (for evaluation).
    monkeypatch.setenv("HEEDFUL_ML_WEIGHTS", "full")
    assert np.all(LinearSoftmax.fit(sparse, labels, 6, dense=dense).w_sparse != 0.0)
    monkeypatch.setenv("HEEDFUL_ML_WEIGHTS", "dense")
    with pytest.raises(ValueError, match="HEEDFUL_ML_WEIGHTS must be one of"):
        LinearSoftmax.fit(sparse, labels, 6, dense=dense)
    with pytest.raises(ValueError, match="weights must be one of"):
        LinearSoftmax.fit(sparse, labels, 6, dense=dense, weights="some")


def test_a_seen_fit_from_a_start_reaches_the_same_optimum() -> None:
    sparse, dense, labels = _data()
    cold = LinearSoftmax.fit(sparse, labels, 6, dense=dense, tol=1e-7, weights="seen")
    # A start from a full fit: its weights on unused terms are dropped, not carried over.
    full = LinearSoftmax.fit(sparse, labels, 6, dense=dense, tol=1e-7, weights="full")
    shifted = LinearSoftmax(full.classes, full.w_sparse, full.w_dense, full.bias + np.float32(5.0))
    warm = LinearSoftmax.fit(sparse, labels, 6, dense=dense, tol=1e-7, start=shifted, weights="seen")
    assert np.abs(warm.w_sparse - cold.w_sparse).max() < 1e-4
    assert np.abs(warm.bias - cold.bias).max() < 1e-4
    assert np.all(warm.w_sparse[~_seen_pattern(sparse, labels)] == 0.0)


def test_weights_kept_sparse_score_as_the_same_weights_in_an_array() -> None:
    rng = np.random.default_rng(11)
    w = sp.random(40, 7, density=0.1, format="csr", dtype=np.float32, random_state=rng)
    w_dense, bias = rng.normal(size=(3, 7)).astype(np.float32), rng.normal(size=7).astype(np.float32)
    kept = LinearSoftmax(list("abcdefg"), w, w_dense, bias)
    plain = LinearSoftmax(list("abcdefg"), w.toarray(), w_dense, bias)
    assert kept.sparse_weights_stored_sparse
    assert not plain.sparse_weights_stored_sparse
    x = sp.random(5, 40, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    e = rng.normal(size=(5, 3)).astype(np.float32)
    assert np.allclose(kept.logits_batch(x, e), plain.logits_batch(x, e), atol=1e-6)
    for i in range(5):
        row = x.getrow(i)
        idx, val = row.indices.tolist(), row.data.tolist()
        assert np.allclose(kept.logits_one(idx, val, e[i]), plain.logits_one(idx, val, e[i]), atol=1e-6)
    # A row with no stored weight, and no row at all.
    empty = int(np.flatnonzero(np.diff(w.indptr) == 0)[0])
    assert np.array_equal(kept.logits_one([empty], [1.0], None), bias)
    assert np.array_equal(kept.logits_one([], [], None), bias)
    arrays = kept.to_arrays("m_")
    assert LinearSoftmax.in_arrays(arrays, "m_")
    assert not LinearSoftmax.in_arrays(arrays, "n_")
    back = LinearSoftmax.from_arrays(kept.classes, arrays, "m_")
    assert back.w_sparse.shape == (40, 7)
    assert np.array_equal(back.w_sparse.toarray(), w.toarray())
    with pytest.raises(KeyError):
        LinearSoftmax.from_arrays(kept.classes, {k: v for k, v in arrays.items() if "indptr" not in k}, "m_")
