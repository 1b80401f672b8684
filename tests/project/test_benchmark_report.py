"""benchmarks/report.py: each benchmark script rewrites its own block of docs/benchmarks.md and
nothing else on the page."""

from __future__ import annotations

import importlib.util
import os
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benchmarks" / "report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAGE = """# Benchmarks

| area | script |
|---|---|
| inbox | `benchmarks/inbox.py` |

## Inbox, 2026-11-27 (notes)

Quiet machine, medians of 3.
"""


def test_a_new_block_goes_under_latest_figures_before_the_notes(tmp_path: Path) -> None:
    report = _report()
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE, encoding="utf-8")

    report.write_block("inbox", "### Inbox\n\nfigures", command="benchmarks/inbox.py", path=page)

    assert page.read_text(encoding="utf-8") == (
        "# Benchmarks\n\n| area | script |\n|---|---|\n| inbox | `benchmarks/inbox.py` |\n\n"
        "## Latest figures (written by the scripts)\n\n"
        "<!-- inbox: written by benchmarks/inbox.py; a run replaces what is between these lines -->\n"
        "### Inbox\n\nfigures\n<!-- /inbox -->\n"
        "\n## Inbox, 2026-11-27 (notes)\n\nQuiet machine, medians of 3.\n"
    )


def test_a_second_run_replaces_only_its_own_block(tmp_path: Path) -> None:
    report = _report()
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE, encoding="utf-8")
    report.write_block("inbox", "old inbox", command="benchmarks/inbox.py", path=page)
    report.write_block("workflows", "old workflows", command="benchmarks/workflows.py", path=page)
    before = page.read_text(encoding="utf-8")

    report.write_block("inbox", "new inbox", command="benchmarks/inbox.py", path=page)

    after = page.read_text(encoding="utf-8")
    assert after == before.replace("\nold inbox\n", "\nnew inbox\n")
    assert after.count("<!-- inbox: ") == 1
    assert after.index("new inbox") < after.index("old workflows") < after.index("## Inbox, 2026-11-27")


def test_the_block_is_found_even_if_the_script_describing_it_changed(tmp_path: Path) -> None:
    report = _report()
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE, encoding="utf-8")
    report.write_block("people-page", "first", command="benchmarks/people.py --page", path=page)

    report.write_block("people-page", "second", command="python benchmarks/people.py --page", path=page)

    text = page.read_text(encoding="utf-8")
    assert text.count("<!-- people-page: ") == 1
    assert "first" not in text
    assert "<!-- people-page: written by python benchmarks/people.py --page;" in text


def test_table_and_stamp_say_what_was_run(tmp_path: Path) -> None:
    report = _report()

    assert report.table(["measure", "value"], [["p95 ms", 41.9], ["errors", 0]]) == (
        "| measure | value |\n|---|---|\n| p95 ms | 41.9 |\n| errors | 0 |"
    )
    line = report.stamp(
        0.5,
        when=datetime(2026, 11, 27, 21, 30, tzinfo=UTC),
        argv=[str(ROOT / "benchmarks" / "inbox.py"), "--repeat", "3"],
        reference=1.456,
    )
    assert line.startswith("`python benchmarks/inbox.py --repeat 3`, 2026-11-27 21:30 UTC, commit ")
    assert "1-minute load average 0.5 → " in line
    assert f"on {os.cpu_count()} cores of {report.cpu_summary()}; " in line
    assert line.endswith("; 10M Python additions in 1.46 s (sessions 3–8's machine, quiet: 0.65–0.83 s).")


EPYC = """processor	: 0
model name	: AMD EPYC
flags		: fpu vme sse sse2 fma avx avx2 bmi2
processor	: 1
model name	: AMD EPYC
flags		: fpu vme sse sse2 fma avx avx2 bmi2
"""
XEON = """model name	: Intel(R) Xeon(R) Platinum 8488C
flags		: fpu avx avx2 avx512f avx512_vnni amx_int8 amx_tile
"""


def test_the_cpu_summary_names_the_model_and_the_int8_instructions() -> None:
    report = _report()

    assert report.cpu_summary(EPYC) == "AMD EPYC (AVX2; no AVX-512 VNNI)"
    assert report.cpu_summary(XEON) == "Intel(R) Xeon(R) Platinum 8488C (AVX2, AVX-512, VNNI, AMX)"
    assert report.cpu_summary("") == "unknown CPU (no AVX2; no AVX-512 VNNI)"


def test_the_cpu_reference_is_the_median_run_scaled_to_ten_million_additions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = _report()
    clock = iter([10.0, 10.5, 20.0, 20.2, 30.0, 30.3])  # runs of 0.5, 0.2 and 0.3 s
    monkeypatch.setattr(report.time, "perf_counter", lambda: next(clock))

    assert report.cpu_reference(additions=1_000_000, runs=3) == pytest.approx(3.0)
