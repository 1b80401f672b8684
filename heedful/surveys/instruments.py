"""The question bank: eNPS, engagement, wellbeing, workload, and the 7-item team psychological
safety scale (Edmondson, 1999) used as the C15 culture check. Scoring and plain-language
interpretation live next to the items so that they change together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    code: str
    instrument: str
    text: str
    low: int = 1
    high: int = 5
    reverse: bool = False  # agreeing is the bad answer: scored as low + high − value
    free_text: bool = False


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    about: str


INSTRUMENTS = {
    i.code: i
    for i in [
        Instrument("enps", "Employee NPS", "Would people recommend working here? −100 to +100."),
        Instrument("engagement", "Engagement", "Energy for and pride in the work, 1 to 5."),
        Instrument("wellbeing", "Wellbeing", "How people feel at and after work, 1 to 5."),
        Instrument("workload", "Workload", "Whether the amount of work is manageable, 1 to 5."),
        Instrument(
            "psych_safety",
            "Psychological safety (culture check)",
            "Whether people feel safe to speak up, ask for help and take risks, 1 to 7.",
        ),
        Instrument("comments", "Comments", "Free text; shown only for groups of at least k people."),
    ]
}

_PS = "psych_safety"
QUESTIONS: dict[str, Question] = {
    q.code: q
    for q in [
        Question("enps", "enps", "How likely are you to recommend working here to a friend?", 0, 10),
        Question("eng_energy", "engagement", "I feel energised by my work."),
        Question("eng_pride", "engagement", "I am proud of the work we do."),
        Question("eng_future", "engagement", "I see myself still working here in a year."),
        Question("well_energy", "wellbeing", "I have had enough energy for my life outside work lately."),
        Question("well_stress", "wellbeing", "I have felt stressed by work most days lately.", reverse=True),
        Question("work_manageable", "workload", "My workload is manageable within my working hours."),
        Question("work_overtime", "workload", "I often work outside my agreed hours.", reverse=True),
        # Edmondson's seven items, 7-point scale, items 1, 3 and 5 reverse-scored.
        Question(
            "ps_1", _PS, "If you make a mistake on this team, it is often held against you.", 1, 7, True
        ),
        Question("ps_2", _PS, "Members of this team are able to bring up problems and tough issues.", 1, 7),
        Question("ps_3", _PS, "People on this team sometimes reject others for being different.", 1, 7, True),
        Question("ps_4", _PS, "It is safe to take a risk on this team.", 1, 7),
        Question("ps_5", _PS, "It is difficult to ask other members of this team for help.", 1, 7, True),
        Question(
            "ps_6",
            _PS,
            "No one on this team would deliberately act in a way that undermines my efforts.",
            1,
            7,
        ),
        Question(
            "ps_7",
            _PS,
            "Working with members of this team, my unique skills and talents are valued and utilised.",
            1,
            7,
        ),
        Question("comment", "comments", "Anything you would like to add?", free_text=True),
    ]
}

PULSE = ["enps", "eng_energy", "well_energy", "well_stress", "work_manageable", "comment"]
CULTURE_CHECK = [f"ps_{i}" for i in range(1, 8)] + ["comment"]


def score(question: Question, value: int) -> int:
    return question.low + question.high - value if question.reverse else value


def enps(values: Sequence[int]) -> int | None:
    """Promoters (9–10) minus detractors (0–6), as a whole percentage. ``[10, 9, 7, 3] → 25``."""
    if not values:
        return None
    promoters = sum(1 for v in values if v >= 9)
    detractors = sum(1 for v in values if v <= 6)
    return round(100 * (promoters - detractors) / len(values))


def instrument_score(instrument: str, answers: Mapping[str, Sequence[int]]) -> float | None:
    """The instrument's score from the raw answers of one group: eNPS, or the mean item score."""
    if instrument == "enps":
        result = enps(answers.get("enps", []))
        return None if result is None else float(result)
    scored = [
        score(QUESTIONS[code], v)
        for code, values in answers.items()
        if code in QUESTIONS and QUESTIONS[code].instrument == instrument
        for v in values
    ]
    return round(sum(scored) / len(scored), 2) if scored else None


def interpret(instrument: str, value: float) -> str:
    """One sentence a leader can act on."""
    if instrument == "enps":
        if value >= 30:
            return "Many more people would recommend working here than would warn against it."
        if value >= 0:
            return "Recommenders and critics are roughly balanced; ask what would tip people over."
        return "More people would warn a friend off than recommend the job: worth a conversation."
    if instrument == "psych_safety":
        if value >= 5.5:
            return (
                "People feel safe to speak up, admit mistakes and ask for help: automation can build on this."
            )
        if value >= 4:
            return (
                "Mixed: people speak up on some things but hold back on others. "
                "Invite dissent explicitly and thank people for raising problems."
            )
        return (
            "People likely keep problems and mistakes to themselves. Fix this before automating more: "
            "automation amplifies silence as much as it amplifies good habits."
        )
    if value >= 4:
        return "Good: most answers are positive."
    if value >= 3:
        return "Middling: some people are struggling; look at the comments and the trend."
    return "Low: many people answered negatively. Talk with the team soon."
