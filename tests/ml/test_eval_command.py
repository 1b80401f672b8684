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


POSITIVE = [
    "great service, thank you so much",
    "love it, amazing staff",
    "thanks, very helpful and quick",
    "awesome, best shop in town",
    "wonderful people, happy with my order",
    "brilliant, the parcel came early",
    "lovely experience, will come back",
    "super friendly and fast, thanks",
    "excellent quality, love the colour",
    "perfect fit and great price",
    "the staff were kind and helpful",
    "fantastic support, problem solved",
]
NEGATIVE = [
    "terrible, still waiting for my refund",
    "worst experience ever, cancel my order",
    "my parcel is late again, not happy",
    "rude staff and broken product",
    "awful quality, it broke in a day",
    "nobody answers the phone, useless",
    "horrible service, never again",
    "the order was wrong and nobody cares",
    "disappointed, the item arrived damaged",
    "bad experience, i want my money back",
    "slow delivery and poor packaging",
    "this is the third time i complain",
]


def _sentiment(path: Path, monkeypatch: Any, *extra: str) -> dict[str, Any]:
    # The TF-IDF model alone: what is checked here is the procedure, not MiniLM's accuracy.
    monkeypatch.setattr("heedful.ml.encoders.minilm_available", lambda: False)
    result = CliRunner().invoke(eval_group, ["sentiment", "--data", str(path), *extra])
    assert result.exit_code == 0, result.output
    if "--json" not in extra:
        return {"table": result.output}
    parsed: dict[str, Any] = _strict(result.output)
    return parsed


def _binary(tmp_path: Path, pos: str, neg: str) -> Path:
    rows = [(t, pos, "train") for t in POSITIVE] + [(t, neg, "train") for t in NEGATIVE]
    rows += [
        ("thank you, great help", pos, "test"),
        ("love the new shop", pos, "test"),
        ("the worst service, terrible", neg, "test"),
        ("rude and slow, never again", neg, "test"),
    ]
    return _write(tmp_path / f"{pos}-{neg}.csv", rows)


def test_sentiment_without_a_val_split_holds_out_training_rows_to_choose_on(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # Choosing C and the escalation threshold on the rows the model was fitted on picks the least
    # regularised model at ~100 % "validation" accuracy; a fixed 1 in 9 of each label is held out.
    r = _sentiment(_binary(tmp_path, "positive", "negative"), monkeypatch, "--json")

    assert (r["n_train"], r["n_val"], r["n_test"]) == (22, 2, 4)
    assert r["validation"] == "1 in 9 training rows per label, fixed by hash (no val split given)"


def test_sentiment_baselines_answer_in_the_dataset_s_own_label_spelling(
    tmp_path: Path, monkeypatch: Any
) -> None:
    r = _sentiment(_binary(tmp_path, "pos", "neg"), monkeypatch, "--json")

    # Without a neutral label the lexicons decide by the sign of their score; these four are
    # clear to both, so a prediction spelled "positive" instead of "pos" would show as 0.
    assert r["baselines"]["vader"] == {"accuracy": 1.0, "macro_f1": 1.0}
    assert r["baselines"]["textblob"] == {"accuracy": 1.0, "macro_f1": 1.0}


def test_sentiment_on_labels_the_baselines_cannot_tell_skips_them_and_still_prints_the_table(
    tmp_path: Path, monkeypatch: Any
) -> None:
    path = _binary(tmp_path, "praise", "complaint")

    r = _sentiment(path, monkeypatch, "--json")
    table = _sentiment(path, monkeypatch)["table"]

    expected = (
        "labels 'complaint', 'praise' are not negative/neutral/positive, which is all VADER and "
        "TextBlob can tell"
    )
    assert r["baselines"] == {"vader": {"skipped": expected}, "textblob": {"skipped": expected}}
    assert "| vader " in table
    assert expected in table


def test_a_file_that_is_not_a_usable_dataset_is_one_line_of_error_not_a_traceback(tmp_path: Path) -> None:
    no_test = _write(tmp_path / "no-test.csv", [(q, a, "train") for q, a in FAQ])
    odd_split = _write(tmp_path / "odd.csv", [("hello", "greeting", "holdout")])
    not_utf8 = tmp_path / "latin1.csv"
    not_utf8.write_bytes("text,label\ncaf\xe9,drink\n".encode("latin-1"))
    no_label = tmp_path / "list.json"
    no_label.write_text('[{"text": "hello"}]', encoding="utf-8")
    cases = {
        no_test: f"Error: {no_test}: no test rows: mark some rows split=test, or leave the split "
        "column out for a fixed stratified 80/10/10 split",
        odd_split: f"Error: {odd_split}: unknown split value(s) 'holdout'; use train, val or test "
        "(or leave the cell empty for a fixed stratified split)",
        not_utf8: f"Error: {not_utf8}: is not UTF-8 text (byte 0xe9 at position 14); save it as UTF-8 "
        "(in a spreadsheet: CSV UTF-8) and try again",
        no_label: f"Error: {no_label}: not in a dataset layout this reads (KeyError: 'label'); see "
        "`heedful eval --help`",
    }
    for path, message in cases.items():
        for command in ("intents", "sentiment"):
            result = CliRunner().invoke(eval_group, [command, "--data", str(path), "--json"])

            assert result.exit_code == 1, (command, path)
            assert result.output == message + "\n", (command, path)
            assert isinstance(result.exception, SystemExit)  # click's exit, not a traceback


def test_the_carved_validation_set_depends_on_the_rows_not_their_order() -> None:
    from heedful.ml.datasets import carve_validation

    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    rows += [("is the blue one in stock", "neutral"), ("when do you open", "neutral")]

    train, val = carve_validation(rows)
    train_reversed, val_reversed = carve_validation(rows[::-1])

    assert len(val) == 2
    assert {label for _, label in val} == {"positive", "negative"}
    assert sorted(val) == sorted(val_reversed)
    assert sorted(train) == sorted(train_reversed)
    # Two neutral rows are too few to hold one out: both stay in training.
    assert [t for t, label in train if label == "neutral"] == ["is the blue one in stock", "when do you open"]


def test_themes_of_a_single_text_is_one_line_of_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.csv", [("hello there", "greeting", "")])

    result = CliRunner().invoke(eval_group, ["themes", "--data", str(path)])

    assert result.exit_code == 1
    assert result.output == f"Error: {path}: 1 text(s); themes need at least two\n"
