"""benchmarks/triage_instructions.py counts a triage pass's instructions with callgrind, relying on
the count being the same every run for the same program and input."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_triage_instructions", ROOT / "benchmarks" / "triage_instructions.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_total_reads_the_summary_line_of_either_callgrind_format(tmp_path: Path) -> None:
    total = _script()._total
    old = tmp_path / "old.out"
    old.write_text("version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 123456789\n\nfl=(1) x\n")
    new = tmp_path / "new.out"
    new.write_text("# callgrind format\nevents: Ir\nfn=(1) main\n5 10\ntotals: 42\n")
    assert (total(old), total(new)) == (123456789, 42)
    empty = tmp_path / "empty.out"
    empty.write_text("events: Ir\n")
    with pytest.raises(RuntimeError, match="no instruction total"):
        total(empty)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_callgrind_counts_the_same_instructions_twice(tmp_path: Path) -> None:
    total = _script()._total
    counts = []
    for n in (1, 2):
        out = tmp_path / f"run{n}.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "/bin/echo", "x"],
            check=True,
            capture_output=True,
        )
        counts.append(total(out))
    assert counts[0] == counts[1]
    assert counts[0] > 10_000


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_only_the_part_between_sched_yield_and_getppid_is_counted(tmp_path: Path) -> None:
    # The markers the script's child sets around the counted questions; Python's own start-up
    # must call neither, or the count would start or end at the wrong place.
    total = _script()._total
    out = tmp_path / "cg.out"
    program = "import os\nos.sched_yield()\nsum(range({n}))\nos.getppid()\nsum(range(10**6))\n"
    counted = []
    for n in (10_000, 20_000):
        for stale in tmp_path.iterdir():
            stale.unlink()
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--separate-threads=yes",
                "--zero-before=sched_yield",
                "--dump-before=getppid",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                program.format(n=n),
            ],
            check=True,
            capture_output=True,
        )
        written = sorted(p.name for p in tmp_path.iterdir() if p.stat().st_size)
        assert written == ["cg.out-01", "cg.out.1-01"]  # to the end, and the one dump
        counted.append(total(tmp_path / "cg.out.1-01"))
    # Twice the loop, about twice the count; the million additions after getppid() not in it.
    assert 1.8 < counted[1] / counted[0] < 2.2
    assert counted[1] < total(tmp_path / "cg.out-01")
