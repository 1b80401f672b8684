"""``heedful eval intents`` on a dataset in the generic format, as an outside evaluator runs it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from heedful.ml.commands import eval_group

from .conftest import FAQ, OOS

PARAPHRASES = [
    ("when are you open", "hours"),
    ("what time do you open", "hours"),
    ("where can i find your shop", "address"),
    ("what's your address", "address"),
    ("do you ship to my house", "delivery"),
    ("what does shipping cost", "delivery"),
]


def _strict(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "split"])
        writer.writerows(rows)
    return path


def _run(path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(eval_group, ["intents", "--data", str(path), "--encoder", "tfidf", "--json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = _strict(result.output)
    return parsed


def test_a_dataset_without_out_of_scope_questions_reports_those_metrics_as_null(tmp_path: Path) -> None:
    rows = [(q, a, "train") for q, a in FAQ] + [(q, a, "test") for q, a in PARAPHRASES]
    r = _run(_write(tmp_path / "no-oos.csv", rows))

    assert r["n_test"] == 6
    assert r["oos_recall"] is None
    assert r["auroc"] is None
    assert isinstance(r["in_scope_accuracy"], float)
    assert 0.0 <= r["in_scope_accuracy"] <= 1.0

    table = CliRunner().invoke(
        eval_group, ["intents", "--data", str(tmp_path / "no-oos.csv"), "--encoder", "tfidf"]
    )
    assert table.exit_code == 0, table.output
    assert "| oos_recall " in table.output
    assert "n/a" in table.output


def test_with_out_of_scope_questions_every_metric_is_a_number(tmp_path: Path) -> None:
    rows = [(q, a, "train") for q, a in FAQ] + [(q, "oos", "train") for q in OOS]
    rows += [(q, a, "test") for q, a in PARAPHRASES]
    rows += [(q, "oos", "test") for q in ("book me a flight to rome", "what is two plus two")]
    r = _run(_write(tmp_path / "with-oos.csv", rows))

    assert r["n_test"] == 8
    assert r["n_oos_train"] == 4
    for key in ("in_scope_accuracy", "oos_recall", "oos_precision", "auroc"):
        assert isinstance(r[key], float), key
        assert 0.0 <= r[key] <= 1.0, key
