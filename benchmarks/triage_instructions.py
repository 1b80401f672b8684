"""Instructions per triage pass, counted by valgrind's callgrind: the cost of our own code in one
message, free of the shared machine's noise.

    python benchmarks/triage_instructions.py                 # table; writes its block in docs/benchmarks.md
    python benchmarks/triage_instructions.py --json          # one JSON object
    python benchmarks/triage_instructions.py --against HEAD  # also the code of a git ref, same run

Why: timings here move by 15-25 % between runs (docs/benchmarks-text-engine.md), so a change
worth 5 % of a triage pass cannot be seen in them. callgrind counts the instructions a process
executes, whatever else the machine does. Measured on 2026-11-29 (500 questions), the same code
counted within 0.25 % of itself in five runs: 3,640,095 to 3,648,148 instructions a message.
Compare in one run with --against all the same.

What is counted: the main thread of one process answering CLINC150 test questions one at a time
with ``heedful.ml.triage.triage`` (FAQ match with the hybrid matcher of text_engine.py,
sentiment, frustration), as text_engine.py times it, from the first question after the warm-up
ones to the last. onnxruntime is not run: it replays the outputs it gave natively for the same
word pieces, recorded just before by the same code. Its kernels differ by processor (VNNI or not)
and text_engine.py times them; what is left is our code and the libraries it calls (cleaning,
TF-IDF vectors, the first pass, the decision and its explanation, sentiment, frustration). Each
question is a new one, so no cache of an earlier question helps a later one; start-up, imports
and model loading are not counted. The bench matcher is the one text_engine.py trains with the
working tree's code; an older ref is given the same file.

Needs valgrind (Debian's package) and the built models (`heedful ml build`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Runs in a fresh interpreter, natively to record onnxruntime's outputs or under callgrind to
# replay them; prints one JSON line: a digest of every result and how many ran MiniLM.
CHILD = r"""
import hashlib, json, os, pickle, sys
from heedful.ml.encoders import shared_minilm
from heedful.ml.faq import FaqMatcher
from heedful.ml.frustration import ConversationSignals
from heedful.ml.sentiment import load_default
from heedful.ml.triage import triage

mode, matcher_path, queries_path, warmup, count, tape_path = sys.argv[1:7]
queries = json.load(open(queries_path))[: int(warmup) + int(count)]
matcher = FaqMatcher.load(matcher_path)
smodel = load_default()
encoder = shared_minilm()
real = encoder.session

class Tape:
    # Same interface as the onnxruntime session for what MiniLMEncoder asks of it.
    def __init__(self, outputs):
        self.outputs = outputs
    def get_outputs(self):
        return real.get_outputs()
    def run(self, fetch, feeds):
        key = (tuple(fetch), feeds["input_ids"].tobytes())
        if mode == "record":
            self.outputs[key] = real.run(fetch, feeds)
        elif key not in self.outputs:
            raise SystemExit("onnxruntime was asked for something not recorded")
        return self.outputs[key]

if mode == "record":
    encoder.session = Tape({})
else:
    with open(tape_path, "rb") as f:
        encoder.session = Tape(pickle.load(f))
signals = ConversationSignals(repeat_contacts=1, minutes_waited=30)
digest = hashlib.sha256()
escalated = 0
for i, q in enumerate(queries):
    if i == int(warmup):
        os.sched_yield()  # callgrind zeroes its counts here (--zero-before)
    result = triage(q, matcher=matcher, signals=signals, sentiment_model=smodel)
    digest.update(repr(result).encode())
    escalated += result.escalated if i >= int(warmup) else 0
os.getppid()  # and writes them out here (--dump-before)
if mode == "record":
    with open(tape_path, "wb") as f:
        pickle.dump(encoder.session.outputs, f)
print(json.dumps({"digest": digest.hexdigest()[:12], "escalated": escalated}))
"""


def queries_file(directory: Path, limit: int) -> Path:
    """The CLINC150 test questions in text_engine.py's fixed order (sha256 of the text)."""
    import text_engine

    queries = text_engine.test_questions()
    if len(queries) < limit:
        raise SystemExit(f"only {len(queries)} test questions; ask for fewer")
    path = directory / "queries.json"
    path.write_text(json.dumps(queries[:limit]))
    return path


def _run(code: Path, args: list[str], *, valgrind_out: Path | None = None) -> dict[str, Any]:
    from heedful.ml.paths import model_dir

    env = os.environ | {
        "PYTHONPATH": str(code),
        "PYTHONHASHSEED": "0",  # set and dict orders, hence instructions, the same every run
        "OPENBLAS_NUM_THREADS": "1",
        "HEEDFUL_ML_THREADS": "1",
        # A checkout of another ref has no built models: everyone uses this one's.
        "HEEDFUL_MODEL_DIR": str(model_dir()),
    }
    command = [sys.executable, "-c", CHILD, *args]
    if valgrind_out is not None:
        command = [
            "valgrind",
            "--tool=callgrind",
            # Per thread: libraries' helper threads wait by the clock, and so executed from 1 to
            # 9 million instructions in two runs of the same 50 questions; the main thread's
            # count differed by 0.03 %.
            "--separate-threads=yes",
            # Only the questions after the warm-up: counts start at the child's sched_yield() and
            # are written out at its getppid() (neither is called anywhere else).
            "--zero-before=sched_yield",
            "--dump-before=getppid",
            f"--callgrind-out-file={valgrind_out}",
            *command,
        ]
    done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:3])} … exited with {done.returncode}:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if valgrind_out is not None:
        # The first dump (".1") of the main thread ("-01").
        result["instructions"] = _total(valgrind_out.with_name(valgrind_out.name + ".1-01"))
    return result


def _total(callgrind_out: Path) -> int:
    """The instructions counted in one callgrind output file."""
    if not callgrind_out.is_file():
        raise RuntimeError(f"callgrind wrote no {callgrind_out.name}: the counted part was not reached")
    for line in callgrind_out.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {callgrind_out}")


def measure(
    code: Path, matcher: Path, queries: Path, warmup: int, messages: int, work: Path
) -> dict[str, Any]:
    """Instructions per message of the code in ``code`` (a checkout of this repository)."""
    tape = work / f"tape-{code.name}.pickle"
    args = [str(matcher), str(queries), str(warmup), str(messages), str(tape)]
    recorded = _run(code, ["record", *args])
    counted = _run(code, ["replay", *args], valgrind_out=work / f"callgrind-{code.name}.out")
    if counted["digest"] != recorded["digest"]:
        raise RuntimeError(
            f"the replayed run answered differently from the native one ({counted['digest']} != "
            f"{recorded['digest']}): the tape does not stand for onnxruntime"
        )
    return {
        "instructions_per_message": round(counted["instructions"] / messages),
        "escalated_share": round(counted["escalated"] / messages, 3),
        "result_digest": counted["digest"],
    }


def checkout(ref: str, work: Path) -> Path:
    """``ref``'s tree in a temporary directory (git archive: no worktree bookkeeping left)."""
    target = work / f"at-{hashlib.sha256(ref.encode()).hexdigest()[:8]}"
    target.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500, help="questions counted (default 500)")
    parser.add_argument("--warmup", type=int, default=200, help="questions before them (default 200)")
    parser.add_argument("--against", metavar="REF", help="also count the code of this git ref, same run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    from heedful.ml.encoders import minilm_available, static_available

    if not (minilm_available() and static_available()):
        raise SystemExit("the models are not built: run `heedful ml build` first")
    import text_engine

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    matcher = text_engine.bench_matcher("hybrid")
    with tempfile.TemporaryDirectory(prefix="heedful-callgrind-") as tmp:
        work = Path(tmp)
        queries = queries_file(work, args.warmup + args.messages)
        codes = {"working tree": REPO}
        if args.against:
            codes[args.against] = checkout(args.against, work)
        # One valgrind run per code, each on its own core.
        with ThreadPoolExecutor(max_workers=2) as pool:
            counted = pool.map(
                lambda code: measure(code, matcher, queries, args.warmup, args.messages, work), codes.values()
            )
            results = dict(zip(codes, counted, strict=True))
    figures: dict[str, Any] = {"messages": args.messages, "warmup": args.warmup, "code": results}
    if args.against:
        base = results[args.against]["instructions_per_message"]
        figures["ratio_to_ref"] = round(results["working tree"]["instructions_per_message"] / base, 4)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
        return 0
    import report

    rows = [
        [
            name,
            f"{r['instructions_per_message']:,}",
            f"{r['escalated_share']:.1%}",
            f"`{r['result_digest']}`",
        ]
        for name, r in results.items()
    ]
    body = report.table(["code", "instructions per message (our side)", "ran MiniLM", "results digest"], rows)
    if args.against:
        body += f"\n\nWorking tree / {args.against}: {figures['ratio_to_ref']:.4f}."
    print(body)
    report.write_block(
        "triage_instructions",
        "\n".join(
            [
                "### Triage pass, instructions per message (issue 3)",
                "",
                report.stamp(load_before),
                "",
                f"{args.messages} CLINC150 test questions after {args.warmup} warm-up ones, one "
                "process, onnxruntime replayed from a native recording (its kernels are timed by "
                "text_engine.py); counted by valgrind's callgrind in the main thread, so the figure "
                "repeats to 0.25 %.",
                "",
                body,
            ]
        ),
        command="benchmarks/triage_instructions.py",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
