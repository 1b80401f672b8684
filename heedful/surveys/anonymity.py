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
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations

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
    for candidate in candidates:
        rest = [g for g in shown if g is not candidate]
        if not _derivable(_signatures(cell_sizes, rest), leak):
            return candidate
    # No single removal breaks this derivation; drop the smallest and look again.
    return candidates[0]


def find_small_derivable(
    cell_sizes: Mapping[Cell, int], shown: Sequence[Group], k: int
) -> frozenset[Cell] | None:
    """A set of cells with 1 … k−1 respondents whose figures follow from the shown groups, if any."""
    signatures = _signatures(cell_sizes, shown)
    small = sorted((c for c in signatures if cell_sizes[c] < k), key=repr)
    half = (k - 1 + 1) // 2
    by_sum: dict[tuple[int, ...], list[tuple[frozenset[Cell], int]]] = {}
    subsets: list[tuple[frozenset[Cell], int, tuple[int, ...]]] = []
    for r in range(1, half + 1):
        for combo in combinations(small, r):
            size = sum(cell_sizes[c] for c in combo)
            if size >= k:
                continue
            total = _add(signatures[c] for c in combo)
            subset = frozenset(combo)
            subsets.append((subset, size, total))
            by_sum.setdefault(total, []).append((subset, size))
    dimension = len(next(iter(signatures.values()), ()))
    zero = tuple(0 for _ in range(dimension))
    for subset, size, total in subsets:
        if total == zero:
            return subset
        for other, other_size in by_sum.get(tuple(-x for x in total), ()):
            if size + other_size < k and not (subset & other):
                return subset | other
    return None


def _derivable(signatures: Mapping[Cell, tuple[int, ...]], cells: Iterable[Cell]) -> bool:
    cells = list(cells)
    if any(c not in signatures for c in cells):
        return False  # a cell in no shown group cannot be reached
    return all(x == 0 for x in _add(signatures[c] for c in cells))


def _add(vectors: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    total: list[int] | None = None
    for vector in vectors:
        total = list(vector) if total is None else [a + b for a, b in zip(total, vector, strict=True)]
    return tuple(total or ())


def _signatures(cell_sizes: Mapping[Cell, int], shown: Sequence[Group]) -> dict[Cell, tuple[int, ...]]:
    """Each reachable cell's coordinates in a basis of the null space of the group × cell matrix.

    A set of cells is derivable from the shown groups exactly when its coordinates sum to zero.
    """
    cells = sorted({c for g in shown for c in g.cells if cell_sizes.get(c, 0) > 0}, key=repr)
    index = {c: i for i, c in enumerate(cells)}
    rows = []
    for g in shown:
        row = [Fraction(0)] * len(cells)
        for c in g.cells:
            if c in index:
                row[index[c]] = Fraction(1)
        rows.append(row)
    # Each basis vector scaled to whole numbers: a coordinate's sum over a set of cells is zero
    # exactly when it was before scaling, and adding ints is many times faster than Fractions.
    basis = [_whole(vector) for vector in _null_space(rows, len(cells))]
    return {c: tuple(vector[i] for vector in basis) for c, i in index.items()}


def _whole(vector: list[Fraction]) -> list[int]:
    scale = math.lcm(*(x.denominator for x in vector)) if vector else 1
    return [int(x * scale) for x in vector]


def _null_space(rows: list[list[Fraction]], width: int) -> list[list[Fraction]]:
    matrix = [list(r) for r in rows]
    pivots: list[int] = []
    rank = 0
    for col in range(width):
        pivot = next((r for r in range(rank, len(matrix)) if matrix[r][col] != 0), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        lead = matrix[rank][col]
        matrix[rank] = [x / lead for x in matrix[rank]]
        for r in range(len(matrix)):
            if r != rank and matrix[r][col] != 0:
                factor = matrix[r][col]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[rank], strict=True)]
        pivots.append(col)
        rank += 1
    free = [c for c in range(width) if c not in pivots]
    basis = []
    for f in free:
        vector = [Fraction(0)] * width
        vector[f] = Fraction(1)
        for r, p in enumerate(pivots):
            vector[p] = -matrix[r][f]
        basis.append(vector)
    return basis
