"""The fine-tuned MiniLM sentiment classifier on the escalated path.

The first tests need nothing built. The others use the artefacts of `heedful ml build` (the
fine-tuned classifier is trained from the airline tweets, which are not shipped) and are skipped
when they are absent.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from heedful.ml import finetune_sentiment, paths
from heedful.ml import sentiment as sentiment_module
from heedful.ml.persist import ArtefactError
from heedful.ml.sentiment import SentimentModel, built_tuned, finetune_rows, train

from .conftest import SENTIMENT_TRAIN

REAL_MODEL_DIR = paths.model_dir()
TUNED_BUILT = (REAL_MODEL_DIR / finetune_sentiment.ONNX_NAME).is_file() and (
    REAL_MODEL_DIR / paths.SENTIMENT_ARTEFACT
).is_file()
needs_tuned = pytest.mark.skipif(
    not TUNED_BUILT, reason="fine-tuned sentiment classifier not built (run `heedful ml build`)"
)
CONFIDENT = "thank you so much, great crew and a lovely flight!"
UNSURE = "@united is the flight to denver on time today?"
VERY_UNSURE = "well that was interesting"


def test_the_finetune_input_is_cleaned_and_stable() -> None:
    rows = [("  Still WAITING @united https://x.co/a", "negative"), ("ok", "neutral")]
    text = finetune_rows(rows, rows[:1])
    assert json.loads(text) == {
        "labels": ["negative", "neutral"],
        "train": [["still waiting @user url", "negative"], ["ok", "neutral"]],
        "val": [["still waiting @user url", "negative"]],
    }
    assert finetune_rows(list(rows), rows[:1]) == text


def test_training_batches_are_shuffled_the_same_way_and_grouped_by_length() -> None:
    lengths = [5, 1, 9, 3, 7, 2, 8]
    first = finetune_sentiment._batches(lengths, 3, random.Random(0))
    assert first == finetune_sentiment._batches(lengths, 3, random.Random(0))
    assert sorted(i for b in first for i in b) == list(range(7))
    assert all([lengths[i] for i in b] == sorted(lengths[i] for i in b) for b in first)
    assert finetune_sentiment._scores([0, 1, 1, 2], [0, 1, 2, 2], 3) == (0.75, 0.7778)


def test_a_classifier_tuned_on_other_rows_is_not_used(tmp_path: Path) -> None:
    (tmp_path / finetune_sentiment.ONNX_NAME).write_bytes(b"not used")
    report = {"rows_sha256": "0" * 64, "labels": ["negative", "neutral", "positive"]}
    (tmp_path / finetune_sentiment.REPORT_NAME).write_text(json.dumps(report))
    assert built_tuned(tmp_path, SENTIMENT_TRAIN, SENTIMENT_TRAIN) is None
    model = train(SENTIMENT_TRAIN, SENTIMENT_TRAIN, with_minilm=False, tuned_dir=tmp_path)
    assert model.tuned is None
    assert "+tuned-" not in model.version


@pytest.fixture(scope="module")
def built() -> SentimentModel:
    return SentimentModel.load(REAL_MODEL_DIR / paths.SENTIMENT_ARTEFACT)


@needs_tuned
def test_sure_tweets_stay_fast_and_unsure_ones_go_to_the_finetuned_model(built: SentimentModel) -> None:
    assert built.tuned is not None
    assert built.tuned_meta is not None
    assert built.version.endswith(f"+tuned-{built.tuned_meta['sha256'][:8]}")
    sure = built.analyse(CONFIDENT)
    assert (sure.label, sure.model, sure.engine) == ("positive", "fast", "tfidf")
    assert sure.explanation.endswith("; by the TF-IDF model")
    unsure = built.analyse(UNSURE)
    assert (unsure.label, unsure.model, unsure.engine) == ("neutral", "full", "minilm-tuned")
    assert unsure.explanation.endswith("; by the fine-tuned MiniLM model (words from the TF-IDF model)")
    assert unsure.top_words  # the TF-IDF model's words for the label the fine-tuned model chose
    assert list(built.escalates([CONFIDENT, UNSURE])) == [False, True]


@needs_tuned
def test_the_finetuned_path_is_deterministic_and_batch_agrees_with_single_calls(
    built: SentimentModel,
) -> None:
    texts = [CONFIDENT, UNSURE, "", "🙂", "my bag is lost again " * 200, "\x00\x1f", "très bien merci"]
    singles = [built.analyse(t) for t in texts]
    assert [built.analyse(t) for t in texts] == singles
    assert built.predict(texts) == [s.label for s in singles]
    fulls = [built.analyse(t, mode="full") for t in texts[:2]]
    assert [s.engine for s in fulls] == ["minilm-tuned", "minilm-tuned"]
    assert built.predict(texts[:2], mode="full") == [s.label for s in fulls]


@needs_tuned
def test_a_missing_classifier_falls_back_to_the_minilm_regression_and_says_so(
    built: SentimentModel, tmp_path: Path
) -> None:
    shutil.copyfile(REAL_MODEL_DIR / paths.SENTIMENT_ARTEFACT, tmp_path / paths.SENTIMENT_ARTEFACT)
    fallback = SentimentModel.load(tmp_path / paths.SENTIMENT_ARTEFACT)
    assert fallback.tuned is None
    assert built.full_layers  # the build exports MiniLM with every layer's mean
    assert fallback.version == built.version + "+no-tuned(tfidf+minilm-layers)"
    assert fallback.analyse(CONFIDENT).engine == "tfidf"
    # Unsure enough for both thresholds: the regression over frozen MiniLM layers answers.
    assert built.analyse(VERY_UNSURE).engine == "minilm-tuned"
    answer = fallback.analyse(VERY_UNSURE)
    assert (answer.model, answer.engine) == ("full", "tfidf+minilm-layers")
    assert answer.explanation.endswith("; by the TF-IDF + MiniLM layers model")
    assert list(fallback.escalates([CONFIDENT, VERY_UNSURE])) == [False, True]


@needs_tuned
def test_a_different_classifier_file_is_refused(tmp_path: Path) -> None:
    shutil.copyfile(REAL_MODEL_DIR / paths.SENTIMENT_ARTEFACT, tmp_path / paths.SENTIMENT_ARTEFACT)
    (tmp_path / finetune_sentiment.ONNX_NAME).write_bytes(b"another model")
    with pytest.raises(ArtefactError, match="rebuild with `heedful ml build`"):
        SentimentModel.load(tmp_path / paths.SENTIMENT_ARTEFACT)
    sentiment_module._CACHE.clear()


def test_the_fine_tuned_classifier_is_opt_in_and_no_finetune_sentiment_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from heedful.ml.commands import ml_group

    models = tmp_path / "models"
    models.mkdir()
    for name in (
        finetune_sentiment.ONNX_NAME,
        finetune_sentiment.REPORT_NAME,
        "sentiment-finetune.stamp.json",
    ):
        (models / name).write_bytes(b"x")
    monkeypatch.setenv("HEEDFUL_MODEL_DIR", str(models))
    no_data = ["--no-onnx", "--no-static", "--datasets", str(tmp_path / "none")]

    kept = CliRunner().invoke(ml_group, ["build", *no_data])  # default: keep what an opt-in built
    assert (models / finetune_sentiment.ONNX_NAME).is_file()
    assert "sentiment-finetune" not in kept.output

    removed = CliRunner().invoke(ml_group, ["build", *no_data, "--no-finetune-sentiment"])
    assert (
        "sentiment-finetune: removed sentiment-minilm-ft-int8.onnx, sentiment-minilm-ft.json"
        in removed.output
    )
    assert sorted(p.name for p in models.iterdir()) == []
    # Without the tweets the sentiment step cannot train: the build says so and fails.
    assert "sentiment: skipped" in removed.output
    assert removed.exit_code == 1


def test_a_build_without_the_datasets_leaves_sentiment_out_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What scripts/build_models.sh passes where ../shared/datasets is absent, so that the
    # README's install works on a machine without them; asked for, sentiment still fails the build.
    from click.testing import CliRunner

    from heedful.ml.commands import ml_group

    models = tmp_path / "models"
    monkeypatch.setenv("HEEDFUL_MODEL_DIR", str(models))
    no_data = ["--no-onnx", "--no-static", "--datasets", str(tmp_path / "none")]

    left_out = CliRunner().invoke(ml_group, ["build", *no_data, "--no-sentiment"])
    assert (left_out.exit_code, left_out.output) == (0, "")
    assert sorted(p.name for p in models.iterdir()) == []
    asked = CliRunner().invoke(ml_group, ["build", *no_data])
    assert asked.exit_code == 1
    assert (
        f"sentiment: skipped, {tmp_path / 'none'}/twitter-airline-sentiment/Tweets.csv not found"
        in asked.output
    )
