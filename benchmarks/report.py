"""Write a benchmark's latest table into docs/benchmarks.md.

Each script owns one block of that page, between two HTML comments that name it. A run replaces
its own block and nothing else, so the notes people wrote around the blocks (what changed, under
what load, what was tried) stay as they were. A block says when, at which commit, under what load
and by which command its figures were measured, so a reader can re-run it and compare.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
# Blocks a page lacks go under this heading (added once, before the first session notes).
LATEST = "## Latest figures (written by the scripts)"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; every cell is written with str()."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def commit() -> str:
    """The short commit the figures were measured at, marked when the tree had other changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            # docs/ left out: the run itself has just written its pages there.
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{sha} with uncommitted changes" if dirty else sha


# The CPU reference on the machine of sessions 3-8 (2026-11-27; session 5 recorded AVX-512
# VNNI and AMX), quiet. Pure Python speed only: numpy and onnxruntime depend on the vector instructions
# too (cpu_summary), so on another processor the loop alone does not scale the figures.
REFERENCE_SECONDS = "0.65–0.83 s"


def cpu_reference(additions: int = 2_000_000, runs: int = 3) -> float:
    """Seconds this machine takes for 10 million additions in a pure-Python loop, median of
    ``runs`` timings of ``additions`` each.

    The load average cannot tell a quiet slow machine from a quiet fast one: the machine is a
    share of a host whose speed moves from one day, even one minute, to the next. Printed
    beside every table, with :func:`cpu_summary`, so that a reader knows what ran the figures."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        total = 0
        for i in range(additions):
            total += i
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 10_000_000 / additions


def cpu_summary(cpuinfo: str | None = None) -> str:
    """The processor's model and the vector instructions the int8 model's speed depends on,
    e.g. ``AMD EPYC (AVX2; no AVX-512 VNNI)``.

    onnxruntime's int8 kernels use AVX-512 VNNI or AMX where the CPU has them: the same code ran
    MiniLM about three times faster on session 5's processor (with both) than on an AVX2-only
    EPYC on 2026-11-28."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "unknown CPU"
    model, flags = "unknown CPU", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown CPU":
            model = " ".join(value.split())
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    have = [name for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX-512")) if flag in flags]
    have += [name for flag, name in (("avx512_vnni", "VNNI"), ("amx_int8", "AMX")) if flag in flags]
    missing = "" if {"avx512_vnni", "amx_int8"} & flags else "; no AVX-512 VNNI"
    return f"{model} ({', '.join(have) or 'no AVX2'}{missing})"


def stamp(
    load_before: float,
    *,
    when: datetime | None = None,
    argv: Sequence[str] | None = None,
    reference: float | None = None,
) -> str:
    """One line: the command, the time, the commit, the 1-minute load average before and now,
    and the CPU reference (:func:`cpu_reference`, measured now unless given)."""
    when = when or datetime.now(UTC)
    args = list(sys.argv if argv is None else argv)
    script = os.path.relpath(Path(args[0]).resolve(), ROOT) if args else "?"
    command = " ".join(["python", script, *args[1:]])
    load_after = os.getloadavg()[0]
    seconds = cpu_reference() if reference is None else reference
    return (
        f"`{command}`, {when:%Y-%m-%d %H:%M} UTC, commit {commit()}, "
        f"1-minute load average {load_before:.1f} → {load_after:.1f} on {os.cpu_count()} cores "
        f"of {cpu_summary()}; 10M Python additions in {seconds:.2f} s (sessions 3–8's machine, "
        f"quiet: {REFERENCE_SECONDS})."
    )


def markers(key: str, command: str) -> tuple[str, str]:
    return (
        f"<!-- {key}: written by {command}; a run replaces what is between these lines -->",
        f"<!-- /{key} -->",
    )


def write_block(key: str, body: str, *, command: str, path: Path = DOC) -> None:
    """Put ``body`` between ``key``'s markers in ``path``, replacing what was there; ``command``
    names what writes the block, for whoever finds it in the page.

    A page without the block gets it at the end of the "Latest figures" section, which is added
    after the page's first table when it is missing too."""
    begin, end = markers(key, command)
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    opening = f"<!-- {key}: "
    if opening in text and end in text[text.index(opening) :]:
        start = text.index(opening)
        stop = text.index(end, start) + len(end)
        text = text[:start] + block + text[stop:]
    elif LATEST in text:
        start = text.index(LATEST) + len(LATEST)
        following = text.find("\n## ", start)
        stop = len(text) if following == -1 else following
        text = text[:stop].rstrip("\n") + "\n\n" + block + "\n" + text[stop:]
    else:
        first_session = text.find("\n## ")
        stop = len(text) if first_session == -1 else first_session
        text = text[:stop].rstrip("\n") + f"\n\n{LATEST}\n\n" + block + "\n" + text[stop:]
    path.write_text(text, encoding="utf-8")
