"""benchmarks/triage_instructions.py counts a triage pass's instructions with callgrind, relying on
the count being the same every run for the same program and input."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
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
