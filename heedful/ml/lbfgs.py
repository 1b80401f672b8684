"""Limited-memory BFGS for smooth convex objectives with millions of parameters.

Why not ``scipy.optimize.minimize(method="L-BFGS-B")``: on the FAQ matcher's ~4 million weights
its bound-constrained bookkeeping cost about three times the objective's own evaluation per
iteration. Here the curvature pairs are float32 rows of two (m, n) matrices and the search
direction comes from the compact representation (Byrd, Nocedal and Schnabel 1994; Nocedal and
Wright eq. 7.24), a handful of matrix-vector products per iteration; the iterate, gradient and
small matrices stay float64. Without bounds it follows the same path as L-BFGS-B up to the line
search, and stops by the same rule: largest gradient component <= ``gtol``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Objective = Callable[[F64], tuple[float, F64]]

ARMIJO = 1e-4  # sufficient decrease, as in L-BFGS-B
MAX_BACKTRACKS = 30


@dataclass(frozen=True)
class Result:
    x: F64
    fun: float
    max_gradient: float
    iterations: int
    evaluations: int
    converged: bool


@dataclass
class _History:
    """The last ``m`` steps s and gradient changes y, oldest first in ``order``."""

    s: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]
    sy: F64  # sy[i, j] = s_i . y_j (by slot), filled for s older than or as old as y
    yy: F64
    order: list[int]

    @classmethod
    def empty(cls, m: int, n: int) -> _History:
        return cls(
            np.empty((m, n), np.float32), np.empty((m, n), np.float32), np.zeros((m, m)), np.zeros((m, m)), []
        )

    def add(self, s: F64, y: F64) -> None:
        m = self.s.shape[0]
        filled = len(self.order)  # slots 0..filled-1 hold pairs
        slot = self.order.pop(0) if filled == m else filled
        old = self.order
        y32 = y.astype(np.float32)
        if old:
            # Products over the filled block, not over a fancy-indexed copy of it (~100 MB).
            with_s, with_y = self.s[:filled] @ y32, self.y[:filled] @ y32
            self.sy[old, slot] = with_s[old]
            self.yy[old, slot] = self.yy[slot, old] = with_y[old]
        self.sy[slot, slot] = float(s @ y)
        self.yy[slot, slot] = float(y @ y)
        self.s[slot], self.y[slot] = s, y32
        self.order = [*old, slot]

    def times(self, g: F64) -> F64:
        """H g for the inverse-Hessian approximation H the pairs define."""
        if not self.order:
            return g.copy()
        o = self.order
        last = o[-1]
        gamma = self.sy[last, last] / self.yy[last, last]
        g32 = g.astype(np.float32)
        k = len(o)  # slots 0..k-1 are filled, in the chronological order ``o``
        u = (self.s[:k] @ g32).astype(np.float64)[o]
        v = gamma * (self.y[:k] @ g32).astype(np.float64)[o]
        r = np.triu(self.sy[np.ix_(o, o)])
        r_inv_u = np.linalg.solve(r, u)
        inner = np.diag(np.diag(r)) + gamma * self.yy[np.ix_(o, o)]
        a = np.linalg.solve(r.T, inner @ r_inv_u - v)
        b = -r_inv_u
        by_slot_a, by_slot_b = np.zeros(k, np.float32), np.zeros(k, np.float32)
        by_slot_a[o], by_slot_b[o] = a, gamma * b
        step = (by_slot_a @ self.s[:k] + by_slot_b @ self.y[:k]).astype(np.float64)
        result: F64 = gamma * g + step
        return result


def _approximately_wolfe(f: float, f_new: float, slope: float, slope_new: float) -> bool:
    """Hager and Zhang's (2005) acceptance where the value is too noisy to show the decrease:
    the objective's products are float32, so near the optimum a step's true decrease (~|g|^2)
    falls below the rounding of the value, and Armijo's test alone stalls the solver. The
    slope along the step, from the gradient, still says whether the step went far enough."""
    return f_new <= f + 1e-6 * abs(f) and 0.9 * slope <= slope_new <= -0.8 * slope


def minimize(
    fun: Objective,
    x0: F64,
    *,
    gtol: float,
    max_iter: int,
    m: int = 10,
    ftol: float = 64 * np.finfo(float).eps,
) -> Result:
    """Minimise ``fun`` (returning value and gradient) from ``x0``.

    Stops when the largest gradient component is <= ``gtol``, when a step lowers the value by
    less than ``ftol`` relative to it, or after ``max_iter`` iterations.
    """
    x = np.array(x0, dtype=np.float64)
    f, g = fun(x)
    history = _History.empty(m, x.size)
    evaluations, iterations = 1, 0
    while iterations < max_iter and np.abs(g).max() > gtol:
        d = -history.times(g)
        slope = float(g @ d)
        if slope >= 0:  # rounding in the float32 pairs spoilt the direction: start afresh
            history = _History.empty(m, x.size)
            d, slope = -g, -float(g @ g)
        step = 1.0 if history.order else min(1.0, 1.0 / float(np.linalg.norm(g)))
        for _ in range(MAX_BACKTRACKS):
            x_new = x + step * d
            f_new, g_new = fun(x_new)
            evaluations += 1
            armijo = f_new <= f + ARMIJO * step * slope
            if armijo or _approximately_wolfe(f, f_new, slope, float(g_new @ d)):
                break
            # Minimum of the quadratic through f, the slope and f_new, kept within [0.1, 0.5] step.
            guess = -slope * step * step / (2.0 * (f_new - f - slope * step))
            step = min(max(guess, 0.1 * step), 0.5 * step)
        else:
            break
        iterations += 1
        s, y = x_new - x, g_new - g
        if float(s @ y) > 1e-10 * float(y @ y):  # curvature: always, for a strictly convex loss
            history.add(s, y)
        decrease = f - f_new
        x, f, g = x_new, f_new, g_new
        # (A step taken for its slope alone may not lower the rounded value: no stop for that.)
        if armijo and decrease <= ftol * max(abs(f), abs(f + decrease), 1.0):
            break
    max_g = float(np.abs(g).max())
    return Result(x, float(f), max_g, iterations, evaluations, max_g <= gtol)
