"""FAQ matcher training against the number of answers: time, memory and answers, with full and
with "seen" TF-IDF weights (heedful.ml.linear.FULL_WEIGHTS_UP_TO).

    python benchmarks/faq_scaling.py                       # table; writes its block in docs/benchmarks.md
    python benchmarks/faq_scaling.py --json                # one JSON object
    python benchmarks/faq_scaling.py --sizes 150 600 --runs 1

Why: the text engine's retrain figure (text_engine.py) has CLINC150's 150 answers. A knowledge
base with many more answers costs more than in proportion: each answer has a weight for every
TF-IDF term, and every question is scored against every answer while fitting. This measures
how training grows with the number of answers, in real words.

The knowledge bases: CLINC150's in-scope questions (all splits), each intent's questions cut in
runs of ``--per-answer`` (8) consecutive ones, each run one answer, taken intent by intent until
there are N answers. So 1,200 answers are 150 intents x 8 runs, and answers of the same intent
are alike, as a shop's answers about one product's delivery, returns and price may be.

Per size and weights mode, in a fresh process (``HEEDFUL_ML_WEIGHTS``; the default encoder, a
20 % hold-out): the seconds to train from scratch, then to retrain after an edit (one answer
removed, one new with 8 questions) from the matcher in memory, the process's peak RSS, and the
saved matcher's size. Then the questions left over (up to 20 per intent, none in the knowledge
base) and 500 of CLINC150's out-of-scope test questions: whether the top candidate is one of the
question's intent's answers (no threshold: how well the model ranks), and whether the bot
answers, rightly (an answer of its intent) or wrongly. With several answers per intent the bot
hands off most questions, rightly: it cannot tell an intent's answers apart, and its threshold
is calibrated on that. "auto" is what the product uses at that size. Medians of ``--runs`` runs
for the times and memory; the answers are the same every run.

Needs the built models (`heedful ml build`) and CLINC150 under HEEDFUL_DATASETS_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Runs in a fresh interpreter: prints one JSON line of figures.
CHILD = r"""
import json, os, resource, sys, tempfile, time
from heedful.ml.datasets import load
from heedful.ml.faq import FaqMatcher

path, n_answers, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = load(path)
by_intent = {}
for r in rows:
    if r.label != "oos":
        by_intent.setdefault(r.label, []).append(r.text)
oos = [r.text for r in rows if r.label == "oos" and r.split == "test"][:500]
intents = sorted(by_intent)
answers, chunk = {}, 0
while len(answers) < n_answers:
    added = 0
    for intent in intents:
        texts = by_intent[intent][chunk * per : (chunk + 1) * per]
        if len(texts) == per and len(answers) < n_answers:
            answers[f"{intent}/{chunk}"] = texts
            added += 1
    if not added:
        raise SystemExit(f"CLINC150 has fewer than {n_answers} answers of {per} questions")
    chunk += 1
examples = [(t, a) for a, texts in answers.items() for t in texts]
used = {a.split("/")[0] for a in answers}
last = {}
for a in answers:
    intent, k = a.split("/")
    last[intent] = max(last.get(intent, -1), int(k))
held = [(t, i) for i in sorted(used) for t in by_intent[i][(last[i] + 1) * per :][:20]]

started = time.perf_counter()
matcher = FaqMatcher.train(examples)
train_s = time.perf_counter() - started
removed = examples[0][1]
edited = [e for e in examples if e[1] != removed]
edited += [(f"how do i reach the help desk about case {i}", "new_helpdesk") for i in range(per)]
started = time.perf_counter()
FaqMatcher.train(edited, previous=matcher)
edit_s = time.perf_counter() - started
with tempfile.TemporaryDirectory() as tmp:
    matcher.save(os.path.join(tmp, "m.hml"))
    size = os.path.getsize(os.path.join(tmp, "m.hml"))
right = wrong = top_right = 0
for match, (_, intent) in zip(matcher.match_batch([t for t, _ in held]), held):
    top_right += match.candidates[0].answer_id.split("/")[0] == intent
    if match.answer_id is not None:
        right += match.answer_id.split("/")[0] == intent
        wrong += match.answer_id.split("/")[0] != intent
oos_answered = sum(m.answer_id is not None for m in matcher.match_batch(oos))
print(json.dumps({
    "answers": n_answers, "questions": len(examples), "terms": matcher.space.tfidf.n_features,
    "stored_sparse": matcher.model.sparse_weights_stored_sparse,
    "train_s": round(train_s, 1), "retrain_after_edit_s": round(edit_s, 1),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    "file_mb": round(size / 1e6, 1),
    "held_questions": len(held), "top_answer_right": round(top_right / len(held), 4),
    "answered_right": round(right / len(held), 4),
    "answered_wrong": round(wrong / len(held), 4),
    "oos_questions": len(oos), "oos_answered": round(oos_answered / len(oos), 4),
    "threshold": round(matcher.threshold, 4),
}))
"""

HEADER = [
    "answers",
    "questions",
    "TF-IDF terms",
    "weights",
    "train s",
    "retrain after edit s",
    "peak RSS MB",
    "file MB",
    "top answer of the right intent",
    "in-scope answered right",
    "in-scope answered wrong",
    "off-topic answered",
]


def measure(data: Path, answers: int, per: int, weights: str, runs: int) -> dict[str, Any]:
    outs = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(data), str(answers), str(per)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env=os.environ | {"PYTHONPATH": str(REPO), "HEEDFUL_ML_WEIGHTS": weights},
        )
        outs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = dict(outs[0])
    answered = ("top_answer_right", "answered_right", "answered_wrong", "oos_answered", "threshold")
    if any(tuple(o[k] for k in answered) != tuple(first[k] for k in answered) for o in outs):
        raise SystemExit(f"{answers} answers, {weights}: the runs answered differently: {outs}")
    for key in ("train_s", "retrain_after_edit_s", "peak_rss_mb"):
        first[key] = statistics.median(o[key] for o in outs)
        first[f"{key}_runs"] = [o[key] for o in outs]
    first["weights"] = weights
    return first


def auto_weights(answers: int, terms: int, n_dense: int = 384) -> str:
    """What ``weights="auto"`` picks for the final fit: the TF-IDF block is the matcher's own."""
    from heedful.ml.linear import FULL_WEIGHTS_UP_TO

    return "full" if (terms + n_dense + 1) * answers <= FULL_WEIGHTS_UP_TO else "seen"


def percent(share: float) -> str:
    return f"{share:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*", default=[150, 300, 600, 1200])
    parser.add_argument("--per-answer", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--weights", nargs="*", default=["full", "seen"], choices=["full", "seen"])
    args = parser.parse_args()
    from heedful.ml.paths import datasets_dir

    data = datasets_dir() / "clinc150" / "data" / "data_full.json"
    if not data.exists():
        raise SystemExit(f"CLINC150 not found at {data} (set HEEDFUL_DATASETS_DIR)")
    load = round(os.getloadavg()[0], 1)
    rows = []
    for answers in args.sizes:
        for weights in args.weights:
            row = measure(data, answers, args.per_answer, weights, args.runs)
            row["auto"] = auto_weights(answers, row["terms"]) == weights
            rows.append(row)
            if not args.json:
                print(json.dumps(row), flush=True)
    if args.json:
        print(json.dumps({"rows": rows, "runs": args.runs, "load_average_1m": load}, indent=2))
    import report

    body = report.table(
        HEADER,
        [
            [
                f"{r['answers']:,}",
                f"{r['questions']:,}",
                f"{r['terms']:,}",
                r["weights"] + (" (auto)" if r["auto"] else ""),
                r["train_s"],
                r["retrain_after_edit_s"],
                r["peak_rss_mb"],
                r["file_mb"],
                percent(r["top_answer_right"]),
                percent(r["answered_right"]),
                percent(r["answered_wrong"]),
                percent(r["oos_answered"]),
            ]
            for r in rows
        ],
    )
    report.write_block(
        "faq_scaling",
        "\n".join(
            [
                "### FAQ matcher training against the number of answers (issue 3)",
                "",
                report.stamp(load),
                "",
                f"CLINC150 questions cut into answers of {args.per_answer}, default encoder, "
                f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
                + ("one run" if args.runs == 1 else f"medians of {args.runs} runs")
                + ", each in a fresh process (training, retraining after one edit, "
                'then answering). "(auto)": what the product uses at that size. Held-out questions: '
                "the top candidate is an answer of the question's intent; the bot answered with one "
                "of them (right) or another (wrong). An intent's answers cannot be told apart, so "
                "from 300 answers the bot rightly hands off nearly every question.",
                "",
                body,
            ]
        ),
        command="benchmarks/faq_scaling.py",
    )


if __name__ == "__main__":
    main()
