"""``heedful eval small-kbs``: one-topic knowledge bases drawn from an intent dataset."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from heedful.ml.commands import eval_group
from heedful.ml.small_kbs import Mix, evaluate_small_kbs

# Six intents of one shop, each asked in ten training and four test words of its own: too few
# intents for more than one topic, so all six are the topic and each draw's knowledge base
# takes four (two thirds) and leaves two as the near misses.
INTENTS = {
    "hours": ["open", "close", "closing", "opening", "saturday", "sunday", "evening", "morning"],
    "delivery": ["parcel", "shipping", "courier", "package", "arrive", "dispatch", "postage", "tracking"],
    "returns": ["refund", "return", "exchange", "money", "faulty", "broken", "back", "reimburse"],
    "payment": ["paypal", "card", "invoice", "visa", "debit", "cash", "pay", "transfer"],
    "parking": ["car", "park", "garage", "spaces", "bicycle", "bike", "drive", "lot"],
    "vouchers": ["voucher", "coupon", "discount", "code", "promo", "gift", "sale", "offer"],
}


def _dataset(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "split"])
        for intent, words in INTENTS.items():
            for i, word in enumerate(words):
                writer.writerow([f"question about {word}", intent, "train"])
                writer.writerow([f"{word} {words[(i + 1) % 8]} please", intent, "train" if i < 2 else "test"])
        writer.writerow(["what is the meaning of life", "oos", "test"])
        writer.writerow(["tell me a joke", "oos", "test"])
    return path


def test_each_draw_trains_a_knowledge_base_as_the_knowledge_app_does_and_reports_what_it_answered(
    tmp_path: Path,
) -> None:
    path = _dataset(tmp_path)

    result = evaluate_small_kbs(path, draws=3, phrasings=6, encoder="tfidf")
    again = evaluate_small_kbs(path, draws=3, phrasings=6, encoder="tfidf")

    def timeless(r: dict) -> dict:
        return r | {"per_draw": [{k: v for k, v in d.items() if k != "fit_seconds"} for d in r["per_draw"]]}

    assert timeless(result) == timeless(again)
    assert [(d["topic"], d["answers"], d["near_miss_intents"]) for d in result["per_draw"]] == [(0, 4, 2)] * 3
    assert (result["topics"], result["intents_in_topics"], result["assumed_off_topic_share"]) == (1, 6, 0.25)
    # 4 answers of 6 phrasings hold out 24 questions: too few to calibrate, so the cautious 0.8;
    # in the first draw a left-out answer's phrasing (all are "question about ...") came out on
    # top of the held-out questions, and no threshold met 5 %: it answers nothing.
    assert [(d["thin"], d["threshold"], d["near_miss_answered"]) for d in result["per_draw"]] == [
        (True, 1.0, 0.0),
        (True, 0.8, 0.0),
        (True, 0.8, 0.0),
    ]
    assert [d["coverage"] > 0 for d in result["per_draw"]] == [False, True, True]
    mix = Mix()
    for d in result["per_draw"]:
        answered = (
            mix.covered * (d["coverage"] + d["wrong_covered"])
            + mix.near_miss * d["near_miss_answered"]
            + mix.far * d["far_answered"]
        )
        wrong = (
            mix.covered * d["wrong_covered"]
            + mix.near_miss * d["near_miss_answered"]
            + mix.far * d["far_answered"]
        )
        assert d["realized"] == pytest.approx(wrong / answered if answered else 0.0, abs=1e-4)
    assert result["draws_over_target"] == sum(d["realized"] > 0.05 for d in result["per_draw"])


def test_the_command_prints_one_json_object_or_a_table(tmp_path: Path) -> None:
    path = _dataset(tmp_path)
    args = ["small-kbs", "--data", str(path), "--draws", "2", "--phrasings", "6", "--encoder", "tfidf"]

    as_json = CliRunner().invoke(eval_group, [*args, "--json"])
    table = CliRunner().invoke(eval_group, args)

    assert as_json.exit_code == 0, as_json.output
    parsed = json.loads(as_json.output)
    assert {"realized_median", "realized_mean", "draws_over_target", "coverage_median", "per_draw"} <= set(
        parsed
    )
    assert table.exit_code == 0, table.output
    assert "| knowledge bases (draws)" in table.output
    assert "| 2 from 1 topics of 6 intents |" in table.output


def test_a_dataset_without_a_topic_of_three_intents_is_one_line_of_error(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text(
        "text,label,split\nwhen do you open,hours,train\nopening times,hours,train\nhours please,hours,test\n"
        "where is my parcel,delivery,train\nshipping time,delivery,train\nparcel please,delivery,test\n",
        encoding="utf-8",
    )

    result = CliRunner().invoke(eval_group, ["small-kbs", "--data", str(path), "--encoder", "tfidf"])

    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: needs topics of at least 3 intents with train and test questions "
        "(2 usable intents)\n"
    )


def test_questions_marked_not_covered_reach_the_matcher_and_are_reported_apart(tmp_path: Path) -> None:
    path = _dataset(tmp_path)

    plain = evaluate_small_kbs(path, draws=3, phrasings=6, encoder="tfidf")
    marked = evaluate_small_kbs(path, draws=3, phrasings=6, encoder="tfidf", not_covered=4)

    # Two near-miss intents: one marked (or the one that would be), one not; both reported.
    assert [(d["near_miss_shown_answered"], d["near_miss_unseen_answered"]) for d in plain["per_draw"]] == [
        (0.0, 0.0)
    ] * 3
    assert (marked["not_covered"], marked["near_miss_shown_answered_mean"]) == (4, 0.0)
    assert marked["near_miss_unseen_answered_mean"] == 0.0
    # Four questions of one near-miss intent among the examples change what the matcher does:
    # the first draw no longer stays at answering nothing.
    assert [(d["threshold"], d["coverage"]) for d in plain["per_draw"]] == [
        (1.0, 0.0),
        (0.8, 0.25),
        (0.8, 0.375),
    ]
    assert [(d["threshold"], d["coverage"]) for d in marked["per_draw"]] == [
        (0.8, 0.125),
        (0.8, 0.2083),
        (0.8, 0.375),
    ]
