"""Which survey groups may be shown: the k-anonymity rule, with differencing closed off.

Plain functions, no ORM. The attack tests (``tests/test_anonymity_attacks.py``) throw random
organisations at them.

The rule
--------
Results are only ever computed for a fixed family of groups of one survey round: the company,
each team (with its sub-teams) and each tenure band. Every figure heedful shows (counts, sums,
averages, eNPS, answer distributions, the list of comments) is a *sum over the group's
respondents*, so anything a reader can work out by adding and subtracting shown figures is a
sum over a set of respondents whose indicator vector lies in the linear span of the shown
groups' indicator vectors. So:

    A set of groups may be shown together only if no set of 1 … k−1 respondents has its
    indicator in the span of the shown groups' indicators.

This covers "company minus everyone-but-team-A", "team B minus a tenure band that lies inside
it", sums of several differences, and every other combination, at once.

How it is enforced
------------------
1. *Primary suppression*: a group with fewer than k respondents is withheld (its answers still
   count in its parent: the parent team, else the company).
2. *Secondary suppression*: respondents who share every attribute (team × band) are
   interchangeable, so we work on those cells. A set of cells is derivable iff its indicator
   is orthogonal to the null space of the group × cell matrix (exact rational arithmetic).
   We search for derivable cell sets of total size 1 … k−1 (meet in the middle over halves of
   at most ⌈(k−1)/2⌉ cells) and, while one exists, withhold one more shown group, preferring
   the smallest group whose removal breaks that particular derivation. The company is never
   withheld this way: alone it reveals only itself, which has at least k respondents.
3. Date ranges are whole rounds, and a round's results appear only after it closes, so
   watching figures change while answers arrive reveals nothing either.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Cell = Hashable
TOO_FEW = "too_few"
PROTECTS_OTHERS = "protects_others"


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    cells: frozenset[Cell]
    parent: str | None = None  # where a withheld group's answers still count


@dataclass(frozen=True)
class Disclosure:
    k: int
    sizes: Mapping[str, int]
    shown: tuple[str, ...]
    withheld: Mapping[str, str] = field(default_factory=dict)  # key → TOO_FEW | PROTECTS_OTHERS

    def is_shown(self, key: str) -> bool:
        return key in self.shown


def plan_disclosure(cell_sizes: Mapping[Cell, int], groups: Sequence[Group], k: int) -> Disclosure:
    """Decide which of ``groups`` may be shown. ``groups[0]`` is the root (the company).

    >>> cells = {"a": 4, "b": 1}
    >>> groups = [Group("all", "Company", frozenset("ab")), Group("t:a", "A", frozenset("a"), "all")]
    >>> plan_disclosure(cells, groups, 5).shown   # 5 − 4 = 1 person would be exposed
    ('all',)
    """
    sizes = {g.key: sum(cell_sizes.get(c, 0) for c in g.cells) for g in groups}
    withheld = {g.key: TOO_FEW for g in groups if sizes[g.key] < k}
    shown = [g for g in groups if g.key not in withheld]
    root = groups[0].key if groups else None
    while True:
        leak = find_small_derivable(cell_sizes, shown, k)
        if leak is None:
            break
        victim = _group_to_withhold(cell_sizes, shown, leak, root)
        withheld[victim.key] = PROTECTS_OTHERS
        shown = [g for g in shown if g is not victim]
    return Disclosure(k=k, sizes=sizes, shown=tuple(g.key for g in shown), withheld=withheld)


def _group_to_withhold(
    cell_sizes: Mapping[Cell, int], shown: list[Group], leak: frozenset[Cell], root: str | None
) -> Group:
    candidates = sorted(
        (g for g in shown if g.key != root), key=lambda g: (sum(cell_sizes.get(c, 0) for c in g.cells), g.key)
    )
    breakers = _sole_supports(cell_sizes, shown, leak)
    for candidate in candidates:
        if candidate.key in breakers:
            return candidate
    # No single removal breaks this derivation; drop the smallest and look again.
    return candidates[0]


def _sole_supports(cell_sizes: Mapping[Cell, int], shown: Sequence[Group], leak: frozenset[Cell]) -> set[str]:
    """The shown groups without which ``leak`` (derivable from all of them) could not be derived.

    Solve Σ c_g · group_g = leak once. Removing g breaks the derivation exactly when g's figures
    do not follow from the other groups (no dependency among the groups involves g) and the
    solution uses g (c_g ≠ 0; unique for such a g). One elimination instead of one per group.
    """
    cells = _reachable(cell_sizes, shown)
    prime = _exact_prime(len(shown) + 1)
    rows = [[int(c in g.cells) for g in shown] + [int(c in leak)] for c in cells]
    matrix, pivots = _eliminate(rows, len(shown), prime)
    free = [col for col in range(len(shown)) if col not in pivots]
    # g takes part in a dependency when it is free, or a pivot whose row mentions a free column.
    dependent = set(free) | {p for r, p in enumerate(pivots) if any(matrix[r][f] for f in free)}
    solution = {p: matrix[r][-1] for r, p in enumerate(pivots)}  # free columns set to 0
    return {g.key for i, g in enumerate(shown) if i not in dependent and solution.get(i, 0)}


def find_small_derivable(
    cell_sizes: Mapping[Cell, int], shown: Sequence[Group], k: int
) -> frozenset[Cell] | None:
    """A set of cells with 1 … k−1 respondents whose figures follow from the shown groups, if any.

    Meet in the middle: every set of at most ⌈(k−1)/2⌉ cells under k people, paired with one
    whose signature is its negative. Signatures are compared by a fingerprint first, a fixed
    random linear combination of their coordinates: a sum that is zero has a zero fingerprint,
    so no derivable set is missed, and the rare fingerprint that matches by chance is caught by
    adding the full signatures before anything is returned.
    """
    signatures = _signatures(cell_sizes, shown)
    small = sorted((c for c in signatures.of if cell_sizes[c] < k), key=repr)
    if not small:
        return None
    prime = signatures.prime
    fingerprint = _fingerprints(signatures, small)
    by_print: dict[int, list[tuple[tuple[Cell, ...], int]]] = {}
    subsets = list(_light_subsets(small, cell_sizes, fingerprint, prime, most_cells=k // 2, below=k))
    for combo, size, total in subsets:
        by_print.setdefault(total, []).append((combo, size))
    for combo, size, total in subsets:
        if total == 0 and signatures.derivable(combo):
            return frozenset(combo)
        for other, other_size in by_print.get(-total % prime, ()):
            if size + other_size < k and not set(combo) & set(other) and signatures.derivable(combo + other):
                return frozenset(combo + other)
    return None


def _fingerprints(signatures: Signatures, cells: Sequence[Cell]) -> dict[Cell, int]:
    dimension, prime = signatures.dimension, signatures.prime
    # Seeded, so the same organisation gets the same plan. Not a secret: nobody chooses the
    # signatures, and a chance match is checked exactly, so predictable weights cost nothing.
    rng = random.Random(dimension)  # noqa: S311
    weights = [rng.randrange(1, prime) for _ in range(dimension)]
    return {c: sum(w * x for w, x in zip(weights, signatures.of[c], strict=True)) % prime for c in cells}


def _light_subsets(
    cells: Sequence[Cell],
    sizes: Mapping[Cell, int],
    fingerprint: Mapping[Cell, int],
    prime: int,
    *,
    most_cells: int,
    below: int,
) -> Iterator[tuple[tuple[Cell, ...], int, int]]:
    """Sets of 1 … ``most_cells`` cells with fewer than ``below`` people, with their size and
    fingerprint, by number of cells and then in ``combinations`` order; a set already too heavy
    is not extended."""
    for count in range(1, most_cells + 1):

        def extend(start: int, chosen: tuple[Cell, ...], size: int, printed: int, count: int = count) -> Any:
            if len(chosen) == count:
                yield chosen, size, printed % prime
                return
            for i in range(start, len(cells)):
                cell = cells[i]
                weight = size + sizes[cell]
                if weight < below:
                    yield from extend(i + 1, (*chosen, cell), weight, printed + fingerprint[cell])

        yield from extend(0, (), 0, 0)


@dataclass(frozen=True)
class Signatures:
    """Each reachable cell's coordinates in a basis of the null space of the group × cell matrix,
    modulo ``prime``: a set of cells is derivable from the shown groups exactly when its
    coordinates sum to zero."""

    of: Mapping[Cell, tuple[int, ...]]
    dimension: int
    prime: int

    def derivable(self, cells: Iterable[Cell]) -> bool:
        cells = list(cells)
        if any(c not in self.of for c in cells):
            return False  # a cell in no shown group cannot be reached
        return all(sum(column) % self.prime == 0 for column in zip(*(self.of[c] for c in cells), strict=True))


def _reachable(cell_sizes: Mapping[Cell, int], shown: Sequence[Group]) -> list[Cell]:
    return sorted({c for g in shown for c in g.cells if cell_sizes.get(c, 0) > 0}, key=repr)


def _signatures(cell_sizes: Mapping[Cell, int], shown: Sequence[Group]) -> Signatures:
    cells = _reachable(cell_sizes, shown)
    index = {c: i for i, c in enumerate(cells)}
    rows = []
    for g in shown:
        row = [0] * len(cells)
        for c in g.cells:
            if c in index:
                row[index[c]] = 1
        rows.append(row)
    prime = _exact_prime(len(shown) + 1)
    basis = _null_space(rows, len(cells), prime)
    return Signatures({c: tuple(vector[i] for vector in basis) for c, i in index.items()}, len(basis), prime)


# Mersenne exponents whose 2**e − 1 is prime, for _exact_prime.
_MERSENNE_EXPONENTS = (61, 127, 521, 607, 1279, 2203, 2281, 3217, 4253, 4423, 9689)


def _exact_prime(size: int) -> int:
    """A prime above every minor of a 0/1 matrix with at most ``size`` rows (Hadamard's bound,
    size^(size/2)). A minor is then zero modulo the prime exactly when it is zero, so ranks,
    null spaces and solutions modulo it are those over the rationals, exactly, with machine-ish
    integers instead of fractions.

    >>> _exact_prime(10) == 2**61 - 1, _exact_prime(40) == 2**127 - 1
    (True, True)
    """
    bits = math.ceil(size / 2 * math.log2(max(size, 2))) + 1
    exponent = next((e for e in _MERSENNE_EXPONENTS if e > bits), None)
    if exponent is None:
        raise ValueError(f"{size} groups are more than the exact search is built for")
    return (1 << exponent) - 1


def _eliminate(rows: list[list[int]], width: int, prime: int) -> tuple[list[list[int]], list[int]]:
    """Reduced row echelon form modulo ``prime`` over the first ``width`` columns, and the pivot columns."""
    matrix = [[x % prime for x in r] for r in rows]
    pivots: list[int] = []
    rank = 0
    for col in range(width):
        pivot = next((r for r in range(rank, len(matrix)) if matrix[r][col]), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        inverse = pow(matrix[rank][col], -1, prime)
        lead = matrix[rank] = [x * inverse % prime for x in matrix[rank]]
        for r in range(len(matrix)):
            factor = matrix[r][col]
            if r != rank and factor:
                matrix[r] = [(a - factor * b) % prime for a, b in zip(matrix[r], lead, strict=True)]
        pivots.append(col)
        rank += 1
    return matrix, pivots


def _null_space(rows: list[list[int]], width: int, prime: int) -> list[list[int]]:
    matrix, pivots = _eliminate(rows, width, prime)
    free = [c for c in range(width) if c not in pivots]
    basis = []
    for f in free:
        vector = [0] * width
        vector[f] = 1
        for r, p in enumerate(pivots):
            vector[p] = -matrix[r][f] % prime
        basis.append(vector)
    return basis
