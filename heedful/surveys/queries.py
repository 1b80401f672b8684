"""Survey results: only ever aggregates, only for groups the disclosure rule allows.

The ORM gathers (cell → answers) for one closed round; ``anonymity.plan_disclosure`` decides
what may be shown; figures are computed for shown groups only, so a withheld group's numbers
never leave this module.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count

from heedful.people.models import Employee, Team
from heedful.surveys import instruments
from heedful.surveys.anonymity import PROTECTS_OTHERS, Group, plan_disclosure
from heedful.surveys.models import Answer, Participation, Survey, SurveyRound
from heedful.surveys.text import CommentAnalysis, analyse_comments

BANDS = [("<1y", "Less than a year"), ("1-3y", "1 to 3 years"), ("3y+", "More than 3 years")]
BAND_LABELS = dict(BANDS)
Cell = tuple[int | None, str]


def tenure_band(start: date, on: date) -> str:
    years = (on - start).days / 365.25
    return "<1y" if years < 1 else "1-3y" if years < 3 else "3y+"


@dataclass(frozen=True)
class Score:
    instrument: str
    name: str
    value: float
    meaning: str


@dataclass
class GroupResult:
    key: str
    label: str
    kind: str
    respondents: int
    scores: list[Score]
    comments: list[str] = field(default_factory=list)
    analysis: CommentAnalysis = field(default_factory=CommentAnalysis)


@dataclass(frozen=True)
class Withheld:
    key: str
    label: str
    reason: str


@dataclass
class RoundResults:
    round: SurveyRound
    k: int
    is_closed: bool
    shown: list[GroupResult]
    withheld: list[Withheld]

    def group(self, key: str) -> GroupResult | None:
        return next((g for g in self.shown if g.key == key), None)


def groups_for_round(teams: Sequence[Team], cells: Sequence[Cell]) -> list[Group]:
    """Company, every team with its sub-teams, every tenure band: the fixed family of cuts."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for team in teams:
        children[team.parent_id].append(team.pk)

    def subtree(pk: int) -> set[int]:
        found = {pk}
        for child in children[pk]:
            found |= subtree(child)
        return found

    all_cells = frozenset(cells)
    groups = [Group("company", "The whole company", all_cells)]
    for team in teams:
        members = subtree(team.pk)
        parent = f"team:{team.parent_id}" if team.parent_id else "company"
        groups.append(
            Group(f"team:{team.pk}", team.name, frozenset(c for c in all_cells if c[0] in members), parent)
        )
    for band, label in BANDS:
        groups.append(
            Group(f"tenure:{band}", label, frozenset(c for c in all_cells if c[1] == band), "company")
        )
    return groups


def _reason(group: Group, why: str, k: int, labels: dict[str, str]) -> str:
    where = labels.get(group.parent or "company", "the company figures")
    if why == PROTECTS_OTHERS:
        return (
            f"Withheld although it has enough answers: together with the other figures it would "
            f"reveal the answers of fewer than {k} people. Its answers count in {where}."
        )
    return f"Fewer than {k} people answered, so it is not shown on its own. Its answers count in {where}."


# A closed round's results change only when what they are computed from changes, and every such
# thing is in the key (see _results_key); the time limit only bounds how long an older comment
# analysis (the text engine may improve) is kept.
RESULTS_TTL_SECONDS = 24 * 3600


def round_results(survey_round: SurveyRound, today: date, *, analyse: bool = True) -> RoundResults:
    """Results of one round. An open round shows nothing: watching figures move as answers
    arrive would reveal each new answer.

    The disclosure rule and the comment analysis take seconds for a few hundred people, and a
    results page, a survey's trend and the daily brief ask for the same rounds again and again,
    so a closed round's results are cached (analysed results also serve a call without analysis).
    """
    k = survey_round.survey.k
    if survey_round.closes_on >= today:
        return RoundResults(survey_round, k, False, [], [])
    teams = list(Team.objects.all())
    base = _results_key(survey_round, teams)
    keys = [f"{base}:analysed"] + ([] if analyse else [f"{base}:plain"])
    found = cache.get_many(keys)
    cached = next((found[key] for key in keys if key in found), None)
    if cached is not None:
        return replace(cached, round=survey_round)
    results = _compute_round_results(survey_round, teams, analyse)
    cache.set(keys[-1], results, RESULTS_TTL_SECONDS)
    return results


def _results_key(survey_round: SurveyRound, teams: Sequence[Team]) -> str:
    """Everything the results depend on: the round and its answers (a new answer changes the
    count, so it invalidates the entry), k, the team tree and names. The survey's creation time
    keeps a reused primary key (a test database rolled back, say) from meeting an old entry."""
    survey = survey_round.survey
    answers = Answer.objects.filter(response__round=survey_round).aggregate(
        responses=Count("response_id", distinct=True), answers=Count("id")
    )
    parts = [
        survey.pk,
        survey.created_at.isoformat(),
        survey.k,
        survey_round.pk,
        survey_round.closes_on.isoformat(),
        answers["responses"],
        answers["answers"],
        [(t.pk, t.parent_id, t.name) for t in teams],
    ]
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    return f"surveys:round-results:v1:{survey_round.pk}:{digest}"


def _compute_round_results(survey_round: SurveyRound, teams: list[Team], analyse: bool) -> RoundResults:
    k = survey_round.survey.k
    rows = list(
        Answer.objects.filter(response__round=survey_round).values_list(
            "response_id", "response__team_id", "response__tenure_band", "question", "value", "text"
        )
    )
    cell_of: dict[object, Cell] = {}
    for response_id, team_id, band, *_ in rows:
        cell_of[response_id] = (team_id, band)
    sizes: dict[Cell, int] = defaultdict(int)
    for cell in cell_of.values():
        sizes[cell] += 1
    groups = groups_for_round(
        teams, [(t.pk, b) for t in teams for b, _ in BANDS] + [(None, b) for b, _ in BANDS]
    )
    plan = plan_disclosure(dict(sizes.items()), groups, k)
    labels = {g.key: g.label for g in groups}
    shown = []
    for group in groups:
        if not plan.is_shown(group.key):
            continue
        members = [r for r in rows if cell_of[r[0]] in group.cells]
        shown.append(_group_result(group, plan.sizes[group.key], members, analyse))
    withheld = [
        Withheld(g.key, g.label, _reason(g, plan.withheld[g.key], k, labels))
        for g in groups
        if g.key in plan.withheld
    ]
    return RoundResults(survey_round, k, True, shown, withheld)


def _group_result(group: Group, size: int, rows: list[tuple[Any, ...]], analyse: bool) -> GroupResult:
    values: dict[str, list[int]] = defaultdict(list)
    comments = []
    for _rid, _team, _band, question, value, text in rows:
        if value is not None:
            values[question].append(value)
        if text:
            comments.append(text)
    by_instrument = sorted(
        {instruments.QUESTIONS[q].instrument for q in values if q in instruments.QUESTIONS}
    )
    scores = []
    for code in by_instrument:
        value = instruments.instrument_score(code, values)
        if value is not None:
            scores.append(
                Score(code, instruments.INSTRUMENTS[code].name, value, instruments.interpret(code, value))
            )
    kind = group.key.split(":")[0]
    comments.sort()  # stored order must not hint at who wrote what
    analysis = analyse_comments(comments) if analyse and comments else CommentAnalysis()
    return GroupResult(group.key, group.label, kind, size, scores, comments, analysis)


@dataclass(frozen=True)
class Flag:
    survey: str
    group: str
    instrument: str
    before: float
    after: float
    text: str
    survey_id: int = 0


def closed_rounds(survey: Survey, today: date) -> list[SurveyRound]:
    return list(survey.rounds.filter(closes_on__lt=today).order_by("opens_on"))


def trend(survey: Survey, today: date) -> tuple[list[SurveyRound], dict[tuple[str, str], list[float | None]]]:
    """Per shown group and instrument, one value per closed round (None where withheld)."""
    rounds = closed_rounds(survey, today)
    series: dict[tuple[str, str], list[float | None]] = {}
    for i, survey_round in enumerate(rounds):
        for group in round_results(survey_round, today, analyse=False).shown:
            for score in group.scores:
                series.setdefault((group.label, score.name), [None] * len(rounds))[i] = score.value
    return rounds, series


def early_flags(survey: Survey, today: date, *, weeks: int = 4, drop: float = 0.2) -> list[Flag]:
    """Drops of ``drop`` or more over about ``weeks`` weeks, for groups shown in both rounds.

    eNPS runs from −100 to 100, so there the drop is counted in points (20 points), not percent.
    These feed the daily brief (C26) through ``all_early_flags``.
    """
    rounds = closed_rounds(survey, today)
    if len(rounds) < 2:
        return []
    latest = rounds[-1]
    earlier = [
        r for r in rounds[:-1] if r.opens_on <= latest.opens_on - timedelta(weeks=weeks) + timedelta(days=7)
    ]
    if not earlier:
        return []
    before_results = round_results(earlier[-1], today, analyse=False)
    after_results = round_results(latest, today, analyse=False)
    flags = []
    for group in after_results.shown:
        old = before_results.group(group.key)
        if old is None:
            continue
        old_scores = {s.instrument: s.value for s in old.scores}
        for s in group.scores:
            was = old_scores.get(s.instrument)
            if was is None:
                continue
            fell = was - s.value
            if (s.instrument == "enps" and fell >= 100 * drop) or (
                s.instrument != "enps" and was > 0 and fell / was >= drop
            ):
                amount = f"{fell:.0f} points" if s.instrument == "enps" else f"{100 * fell / was:.0f} %"
                flags.append(
                    Flag(
                        survey.title,
                        group.label,
                        s.name,
                        was,
                        s.value,
                        # "employee NPS", not "employee nps": only the first letter goes small.
                        f"{group.label}: {s.name[0].lower()}{s.name[1:]} fell {amount} in {weeks} weeks "
                        f"({was} → {s.value}).",
                        survey.pk,
                    )
                )
    return flags


def all_early_flags(today: date) -> list[Flag]:
    """Every active survey's early flags: the daily brief's "teams whose mood dropped"."""
    return [flag for survey in Survey.objects.filter(is_active=True) for flag in early_flags(survey, today)]


def participation_of(employee: Employee) -> list[SurveyRound]:
    """Rounds this person took part in; what they answered is not (and cannot be) known."""
    return [p.round for p in Participation.objects.filter(employee=employee).select_related("round__survey")]


def open_rounds_for(employee: Employee | None, today: date) -> list[SurveyRound]:
    rounds = SurveyRound.objects.filter(opens_on__lte=today, closes_on__gte=today, survey__is_active=True)
    if employee is not None:
        rounds = rounds.exclude(participations__employee=employee)
    return list(rounds.select_related("survey"))
