"""How long the survey disclosure rule takes to decide what a results page may show.

    .venv/bin/python benchmarks/people.py          # a table
    .venv/bin/python benchmarks/people.py --json   # {"<people>p_<teams>t_k<k>": {"median_ms", "max_ms", ...}}
    .venv/bin/python benchmarks/people.py --page   # round_results through the ORM, cold and cached

Each row: random organisations (seeded) of that many respondents in that many teams (a third of
them sub-teams), three tenure bands, everyone answering; ``plan_disclosure`` over the company,
every team and every band, exactly as ``surveys.queries.round_results`` calls it. The pure rule
only: no database, no comment analysis. A results page and every round of a survey's trend
pay this once each.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = [(12, 3), (30, 6), (60, 10), (120, 20), (250, 30)]
BANDS = ["<1y", "1-3y", "3y+"]
SEEDS = 7


def _organisation(rng: random.Random, people: int, teams: int) -> tuple[dict[Any, int], list[Any]]:
    from heedful.surveys.anonymity import Group

    parents: dict[int, int | None] = {}
    for team in range(teams):
        parents[team] = rng.randrange(team) if team and rng.random() < 1 / 3 else None
    sizes: dict[Any, int] = {}
    for _ in range(people):
        cell = (rng.randrange(teams), rng.choice(BANDS))
        sizes[cell] = sizes.get(cell, 0) + 1

    def subtree(team: int) -> set[int]:
        found = {team}
        for child, parent in parents.items():
            if parent == team:
                found |= subtree(child)
        return found

    cells = [(t, b) for t in range(teams) for b in BANDS]
    groups = [Group("company", "company", frozenset(cells))]
    for team in range(teams):
        members = subtree(team)
        parent = f"team:{parents[team]}" if parents[team] is not None else "company"
        groups.append(
            Group(f"team:{team}", f"team {team}", frozenset(c for c in cells if c[0] in members), parent)
        )
    for band in BANDS:
        groups.append(Group(f"tenure:{band}", band, frozenset(c for c in cells if c[1] == band), "company"))
    return sizes, groups


def measure(people: int, teams: int, k: int) -> dict[str, float]:
    from heedful.surveys.anonymity import plan_disclosure

    timings, shown, withheld = [], [], []
    for seed in range(SEEDS):
        sizes, groups = _organisation(random.Random(seed), people, teams)
        start = time.perf_counter()
        plan = plan_disclosure(sizes, groups, k)
        timings.append((time.perf_counter() - start) * 1000)
        shown.append(len(plan.shown))
        withheld.append(len(plan.withheld))
    return {
        "people": people,
        "teams": teams,
        "k": k,
        "groups": teams + 4,
        "shown_median": statistics.median(shown),
        "withheld_median": statistics.median(withheld),
        "median_ms": round(statistics.median(timings), 1),
        "max_ms": round(max(timings), 1),
    }


HEADER = ("people", "teams", "k", "groups", "shown", "withheld", "median ms", "max ms")


def measure_page(people: int = 250, teams: int = 30, k: int = 7, repeat: int = 5) -> dict[str, Any]:
    """One closed round answered by everyone of a seeded organisation in a fresh SQLite database:
    ``round_results`` with the cache emptied first (what every view paid before the cache) and
    then from the cache. No comment analysis (the text engine's time is its own benchmark)."""
    import tempfile

    data_dir = tempfile.mkdtemp(prefix="heedful-bench-people-")
    os.environ.update(
        {
            "HEEDFUL_DATA_DIR": data_dir,
            "SECRET_KEY": "bench",
            "ALLOWED_HOSTS": "localhost",
            "DJANGO_SETTINGS_MODULE": "heedful.settings",
        }
    )
    import django

    django.setup()
    from datetime import date, timedelta

    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from heedful.accounts.models import User
    from heedful.people.models import Employee, Team
    from heedful.surveys import instruments, queries, services

    rng = random.Random(0)
    owner = User.objects.create_user(username="o@bench.local", email="o@bench.local", role="owner")
    made: list[Team] = []
    for i in range(teams):
        parent = rng.choice(made) if made and rng.random() < 1 / 3 else None
        made.append(Team.objects.create(name=f"Team {i}", parent=parent))
    opens = date(2026, 3, 2)
    staff = [
        Employee.objects.create(
            first_name=f"P{i}",
            email=f"p{i}@bench.local",
            team=rng.choice(made),
            start_date=opens - timedelta(days=rng.choice([100, 800, 2000])),
        )
        for i in range(people)
    ]
    survey = services.create_survey(title="Pulse", question_codes=instruments.PULSE, user=owner, k=k)
    survey_round = services.open_round(survey=survey, today=opens, user=owner)
    for person in staff:
        answers = {code: rng.randint(3, 5) for code in instruments.PULSE if code not in ("enps", "comment")}
        answers["enps"] = rng.randint(0, 10)
        services.submit_response(survey_round=survey_round, employee=person, answers=answers, today=opens)
    later = opens + timedelta(days=30)
    cold, warm = [], []
    for _ in range(repeat):
        cache.clear()
        start = time.perf_counter()
        first = queries.round_results(survey_round, later, analyse=False)
        cold.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        queries.round_results(survey_round, later, analyse=False)
        warm.append((time.perf_counter() - start) * 1000)
    return {
        "people": people,
        "teams": teams,
        "k": k,
        "shown": len(first.shown),
        "withheld": len(first.withheld),
        "cold_median_ms": round(statistics.median(cold), 1),
        "cached_median_ms": round(statistics.median(warm), 2),
        "runs": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--k", type=int, nargs="*", default=[5, 7])
    parser.add_argument("--max-people", type=int, default=250)
    parser.add_argument("--page", action="store_true", help="time round_results, cold and cached, instead")
    args = parser.parse_args()
    load = round(os.getloadavg()[0], 1)
    import report

    if args.page:
        row = measure_page(k=args.k[-1])
        print(json.dumps({**row, "load_average_1m": load}, indent=2 if args.json else None))
        body = report.table(
            [
                "respondents",
                "teams",
                "k",
                "groups shown / withheld",
                "first view ms (median)",
                "cached ms (median)",
            ],
            [
                [
                    row["people"],
                    row["teams"],
                    row["k"],
                    f"{row['shown']} / {row['withheld']}",
                    row["cold_median_ms"],
                    row["cached_median_ms"],
                ]
            ],
        )
        report.write_block(
            "people-page",
            "\n".join(
                [
                    "### Survey results page (issue 6): `round_results`, first view and cached",
                    "",
                    report.stamp(load),
                    f"Medians of {row['runs']} runs.",
                    "",
                    body,
                ]
            ),
            command="benchmarks/people.py --page",
        )
        return
    if not args.json:
        print(f"plan_disclosure, {SEEDS} random organisations per row, load average {load}")
        print(" ".join(f"{h:>9}" for h in HEADER), flush=True)
    results = {}
    for people, teams in SIZES:
        if people > args.max_people:
            continue
        for k in args.k:
            row = measure(people, teams, k)
            results[f"{people}p_{teams}t_k{k}"] = row
            if not args.json:
                print(" ".join(f"{row[key]:>9}" for key in row), flush=True)
    if args.json:
        print(json.dumps({"results": results, "load_average_1m": load, "seeds_per_row": SEEDS}, indent=2))
    body = report.table(HEADER, [[row[key] for key in row] for row in results.values()])
    report.write_block(
        "people",
        "\n".join(
            [
                "### Survey disclosure rule (issue 6): `plan_disclosure`",
                "",
                report.stamp(load),
                f"{SEEDS} seeded random organisations per row.",
                "",
                body,
            ]
        ),
        command="benchmarks/people.py",
    )


if __name__ == "__main__":
    main()
