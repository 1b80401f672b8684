"""Attack tests: random organisations and answers; try to derive a group smaller than k."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from heedful.surveys.anonymity import PROTECTS_OTHERS, TOO_FEW, Group, plan_disclosure

FAST = settings(max_examples=200, deadline=None)
BANDS = ("<1y", "1-3y", "3y+")


@st.composite
def organisations(
    draw: st.DrawFn, ks: tuple[int, ...] = (3, 4, 5)
) -> tuple[list[tuple[int | None, str]], dict[int, int | None], int]:
    """Respondents as (team, band), a team tree (team → parent) and k."""
    n_teams = draw(st.integers(min_value=1, max_value=6))
    parents: dict[int, int | None] = {}
    for team in range(n_teams):
        parents[team] = draw(st.one_of(st.none(), st.sampled_from(range(team)))) if team else None
    people = draw(
        st.lists(
            st.tuples(st.one_of(st.none(), st.sampled_from(range(n_teams))), st.sampled_from(BANDS)),
            max_size=draw(st.sampled_from([12, 30])),
        )
    )
    return people, parents, draw(st.sampled_from(ks))


def groups_for(parents: dict[int, int | None]) -> list[Group]:
    """The same family of cuts the results page uses: company, team subtrees, tenure bands."""
    all_teams = [*parents, None]
    cells = frozenset((t, b) for t in all_teams for b in BANDS)

    def subtree(team: int) -> set[int]:
        found = {team}
        for child, parent in parents.items():
            if parent == team:
                found |= subtree(child)
        return found

    groups = [Group("company", "Company", cells)]
    for team, parent in parents.items():
        members = subtree(team)
        groups.append(
            Group(
                f"team:{team}",
                f"T{team}",
                frozenset(c for c in cells if c[0] in members),
                f"team:{parent}" if parent is not None else "company",
            )
        )
    groups += [Group(f"band:{b}", b, frozenset(c for c in cells if c[1] == b), "company") for b in BANDS]
    return groups


def shown_sets(
    people: list[tuple[int | None, str]], parents: dict[int, int | None], k: int
) -> list[frozenset[int]]:
    groups = groups_for(parents)
    sizes: dict[tuple[int | None, str], int] = {}
    for person in people:
        sizes[person] = sizes.get(person, 0) + 1
    plan = plan_disclosure(sizes, groups, k)
    by_key = {g.key: g for g in groups}
    return [frozenset(i for i, p in enumerate(people) if p in by_key[key].cells) for key in plan.shown]


@FAST
@given(organisations())
def test_every_shown_group_has_at_least_k_respondents(org: tuple) -> None:  # type: ignore[type-arg]
    people, parents, k = org
    assert all(len(members) >= k for members in shown_sets(people, parents, k))


@FAST
@given(organisations())
def test_no_subtraction_of_shown_groups_from_a_shown_group_reveals_fewer_than_k(org: tuple) -> None:  # type: ignore[type-arg]
    people, parents, k = org
    shown = shown_sets(people, parents, k)
    for whole in shown:
        parts = [g for g in shown if g < whole]
        for r in range(1, len(parts) + 1):
            for chosen in combinations(parts, r):
                union = frozenset().union(*chosen)
                if sum(len(p) for p in chosen) != len(union):
                    continue  # overlapping parts are not a clean subtraction
                assert len(whole - union) == 0 or len(whole - union) >= k, (whole, chosen)


@settings(max_examples=150, deadline=None)
@given(organisations())
def test_no_linear_combination_of_shown_figures_isolates_fewer_than_k_people(org: tuple) -> None:  # type: ignore[type-arg]
    """The strongest attacker: any sum and difference of any shown figures, found by linear
    algebra over individual respondents (independent of the implementation's cell search)."""
    people, parents, k = org
    _assert_no_small_set_in_the_span(people[:14], parents, k)


@settings(max_examples=100, deadline=None)
@given(organisations(ks=(6, 7)))
def test_with_a_larger_k_no_combination_isolates_fewer_than_k_people_either(org: tuple) -> None:  # type: ignore[type-arg]
    """k of 6 and 7: the cell search pairs sets of up to three cells, not two."""
    people, parents, k = org
    _assert_no_small_set_in_the_span(people[:16], parents, k)


def _assert_no_small_set_in_the_span(
    people: list[tuple[int | None, str]], parents: dict[int, int | None], k: int
) -> None:
    shown = shown_sets(people, parents, k)
    if not shown:
        return
    matrix = np.array([[1.0 if i in g else 0.0 for i in range(len(people))] for g in shown])
    projector = np.linalg.pinv(matrix) @ matrix  # projects onto the span of the shown groups
    for size in range(1, k):
        for chosen in combinations(range(len(people)), size):
            target = np.zeros(len(people))
            target[list(chosen)] = 1.0
            assert not np.allclose(projector @ target, target, atol=1e-8), chosen


def test_a_team_of_three_is_withheld_and_still_counts_in_the_company() -> None:
    parents = {0: None, 1: None}
    people = [(0, "<1y")] * 6 + [(1, "3y+")] * 3
    groups = groups_for(parents)
    sizes = {(0, "<1y"): 6, (1, "3y+"): 3}
    plan = plan_disclosure(sizes, groups, 5)
    assert plan.sizes["company"] == len(people) == 9
    assert plan.withheld["team:1"] == TOO_FEW
    # Company minus team 0 would be team 1: team 0 must go too, and so must the bands.
    assert plan.withheld["team:0"] == PROTECTS_OTHERS
    assert plan.shown == ("company",)


def test_a_band_inside_a_team_cannot_be_subtracted_to_expose_one_person() -> None:
    parents = {0: None, 1: None}
    sizes = {(0, "<1y"): 6, (1, "1-3y"): 5, (1, "3y+"): 1}
    plan = plan_disclosure(sizes, groups_for(parents), 5)
    # team 1 (6) − band 1-3y (5, all in team 1) = 1 person, so one of them is withheld.
    assert not ({"team:1", "band:1-3y"} <= set(plan.shown))
    assert "company" in plan.shown


def test_a_company_below_k_shows_nothing() -> None:
    plan = plan_disclosure({(0, "<1y"): 4}, groups_for({0: None}), 5)
    assert plan.shown == ()
    assert plan.withheld["company"] == TOO_FEW
