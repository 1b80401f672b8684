"""MiniLM ONNX encoder and the hybrid matcher; skipped when `heedful ml build` has not run."""

from __future__ import annotations

import numpy as np
import pytest

from heedful.ml.encoders import minilm_available

from .conftest import FAQ, OOS

pytestmark = pytest.mark.skipif(
    not minilm_available(), reason="MiniLM ONNX artefact not built (run `heedful ml build`)"
)


def test_embeddings_are_unit_norm_deterministic_and_order_free() -> None:
    from heedful.ml.encoders import shared_minilm

    texts = ["where is my parcel", "", "🙂", "x" * 100_000, "¿dónde está mi pedido?"]
    enc = shared_minilm()
    a = enc.encode(texts)
    b = enc.encode(list(reversed(texts)))[::-1]
    assert a.shape == (5, 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert np.allclose(a, b, atol=1e-5)
    assert float(a[0] @ a[4]) > float(a[0] @ a[2])  # the Spanish paraphrase is closer than emoji


def test_hybrid_matcher_answers_paraphrase_and_round_trips(tmp_path: object) -> None:
    from pathlib import Path

    from heedful.ml.faq import FaqMatcher

    val = [("what are your hours on saturday", "hours"), ("where do I find the store", "address")]
    m = FaqMatcher.train(FAQ, encoder="hybrid", oos_examples=OOS, validation=[*val, ("hi", None)])
    match = m.match("at what time do you open?")
    assert match.candidates[0].answer_id == "hours"
    assert match.model_version.startswith("faq-hybrid-")
    path = Path(str(tmp_path)) / "m.hml"
    m.save(path)
    assert FaqMatcher.load(path).match("at what time do you open?") == match


# Texts where word-by-word tokenizing could part from whole-text tokenizing if it were wrong:
# accents the normaliser strips, CJK characters it spaces out, punctuation runs, emoji, a word
# longer than WordPiece's 100-character limit, zero-width and control characters, and a text
# longer than MAX_TOKENS pieces.
TRICKY = [
    "where is my parcel?!",
    "Ünïcödé ﬁancée café — naïve",
    "我的订单在哪里 where is 我的 order",
    "wait...what??? (seriously) #refund @user",
    "thanks 🙂🙂 great service👍",
    "a" * 150 + " b",
    "zero\u200bwidth and \x00control\x1f chars",
    " ".join(["refund"] * 40 + ["unbelievable"] * 60),
    "",
]


def test_word_pieces_equal_the_tokenizer_on_whole_texts() -> None:
    from heedful.ml.encoders import shared_minilm, shared_static, static_available
    from heedful.ml.text import clean

    enc = shared_minilm()
    for text in TRICKY:
        cleaned = clean(text) or "."
        assert enc.token_ids(cleaned) == enc.tokenizer.encode(cleaned).ids, text
    assert len(enc.token_ids(clean(TRICKY[7]))) == 128  # cut to MAX_TOKENS like the tokenizer
    if static_available():
        static = shared_static()
        for text in TRICKY:
            cleaned = clean(text)
            expected = static.tokenizer.encode(cleaned, add_special_tokens=False).ids
            assert static.pieces.ids(cleaned) == expected, text


def test_layer_means_end_with_the_sentence_embedding() -> None:
    from heedful.ml.encoders import shared_minilm

    enc = shared_minilm()
    texts = ["still waiting for my refund!!", "", "thanks, great crew 🙂", "x" * 100_000]
    sentences = enc.encode(texts)
    layers = enc.encode_layers(texts)

    assert enc.has_layers
    assert layers.shape == (4, 6 * 384)
    blocks = layers.reshape(4, 6, 384)
    assert np.allclose(np.linalg.norm(blocks, axis=2), 1.0, atol=1e-4)
    assert np.allclose(blocks[:, 5], sentences, atol=1e-5)  # the last layer is the embedding
    assert not np.allclose(blocks[:, 0], blocks[:, 5], atol=0.1)
    one = enc.encode_layers_one("thanks, great crew 🙂")
    assert one.shape == (6 * 384,)
    assert not one.flags.writeable
    assert np.allclose(one[5 * 384 :], enc.encode_one("thanks, great crew 🙂"), atol=1e-6)


def test_sentiment_reads_the_layers_and_says_so(tmp_path: object) -> None:
    from pathlib import Path

    from heedful.ml.sentiment import SentimentModel, train

    from .conftest import SENTIMENT_TRAIN

    model = train(SENTIMENT_TRAIN, SENTIMENT_TRAIN, with_minilm=True, tuned_dir=Path(str(tmp_path)))
    full = model.analyse("still waiting for my refund, terrible", mode="full")
    path = Path(str(tmp_path)) / "s.hml"
    model.save(path)
    loaded = SentimentModel.load(path)

    assert model.full_layers
    assert model.full is not None
    assert model.full.w_dense.shape == (6 * 384, 3)
    assert model.version.endswith("+layers")
    assert model.metrics["full_features"] == "tfidf+minilm-layers"
    assert (full.model, full.engine) == ("full", "tfidf+minilm-layers")
    assert full.explanation.endswith("by the TF-IDF + MiniLM layers model")
    assert loaded.full_layers
    assert loaded.analyse("still waiting for my refund, terrible", mode="full") == full


def test_a_sentiment_model_on_layers_without_them_says_it_answers_fast_only(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    import heedful.ml.encoders
    from heedful.ml.sentiment import SentimentModel, train

    from .conftest import SENTIMENT_TRAIN

    path = Path(str(tmp_path)) / "s.hml"
    train(SENTIMENT_TRAIN, SENTIMENT_TRAIN, with_minilm=True, tuned_dir=Path(str(tmp_path))).save(path)
    # A model file exported before the layer output existed (an install not rebuilt yet).
    monkeypatch.setattr(heedful.ml.encoders, "minilm_has_layers", lambda model_dir=None: False)

    loaded = SentimentModel.load(path)

    assert loaded.full is None
    assert loaded.version.endswith("+layers+fast-only(no-minilm-layers)")
    assert loaded.analyse("still waiting for my refund", mode="full").engine == "tfidf"


def test_models_record_the_minilm_file_and_set_aside_another(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A matcher or sentiment model fitted on one MiniLM file never reads another's vectors
    (an upgrade re-exports the file: 7-bit weights since session 11)."""
    from pathlib import Path

    import heedful.ml.encoders
    import heedful.ml.faq
    from heedful.ml.encoders import shared_minilm
    from heedful.ml.faq import FaqMatcher, _known_embeddings
    from heedful.ml.paths import MINILM_ONNX, file_sha256, model_dir
    from heedful.ml.persist import ArtefactError
    from heedful.ml.sentiment import SentimentModel, train

    from .conftest import SENTIMENT_TRAIN

    installed = file_sha256(model_dir() / MINILM_ONNX)
    assert shared_minilm().file_sha256 == installed
    base = Path(str(tmp_path))
    matcher = FaqMatcher.train(FAQ, encoder="hybrid", oos_examples=OOS)
    assert matcher.minilm_model == installed
    matcher.save(base / "m.hml")
    model = train(SENTIMENT_TRAIN, SENTIMENT_TRAIN, with_minilm=True, tuned_dir=base)
    assert model.minilm_model == installed
    model.save(base / "s.hml")
    assert len(_known_embeddings(matcher, "hybrid")) == len(set(matcher.texts))

    other = "0" * 64
    monkeypatch.setattr(heedful.ml.faq, "installed_minilm", lambda: other)
    monkeypatch.setattr(heedful.ml.encoders, "installed_minilm", lambda: other)

    refused = f"trained on MiniLM file {installed[:12]}, installed: 000000000000"
    with pytest.raises(ArtefactError, match=refused):
        FaqMatcher.load(base / "m.hml")
    assert _known_embeddings(matcher, "hybrid") == {}  # a retrain embeds every question again
    retrained = FaqMatcher.train(FAQ, encoder="hybrid", oos_examples=OOS, previous=matcher)
    assert retrained.minilm_model == other
    assert retrained.version != matcher.version
    loaded = SentimentModel.load(base / "s.hml")
    assert loaded.full is None
    assert loaded.version.endswith("+layers+fast-only(other-minilm)")
    assert loaded.analyse("still waiting for my refund", mode="full").engine == "tfidf"


def test_build_exports_again_over_a_file_of_an_older_recipe(tmp_path: object) -> None:
    """An install built before the 7-bit weights gets the new file from `heedful ml build`."""
    import json
    import stat
    from pathlib import Path

    from heedful.ml import export_onnx
    from heedful.ml.build import build_onnx
    from heedful.ml.paths import MINILM_ONNX, MINILM_TOKENIZER, model_dir

    models = Path(str(tmp_path)) / "models"
    models.mkdir()
    for name in (MINILM_ONNX, MINILM_TOKENIZER):
        (models / name).write_bytes((model_dir() / name).read_bytes())
    # Stands in for the build venv's interpreter: the real export needs torch and ~30 s; this
    # records the call and leaves the files as an export would.
    calls = Path(str(tmp_path)) / "calls"
    python = Path(str(tmp_path)) / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho \'{{"min_cosine_vs_torch": 0.968}}\'\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    said: list[str] = []

    assert build_onnx(models, said.append, str(python)) is True
    assert said[0] == f"onnx: {MINILM_ONNX} was exported by an older recipe; exporting it again"
    assert said[-1] == 'onnx: exported, {"min_cosine_vs_torch": 0.968}'
    assert calls.read_text().split() == [str(Path(export_onnx.__file__)), "--out", str(models)]
    assert json.loads((models / export_onnx.RECIPE_STAMP).read_text()) == {"recipe": export_onnx.RECIPE}

    said.clear()
    assert build_onnx(models, said.append, str(python)) is True
    assert said == [f"onnx: {MINILM_ONNX} already built in {models}"]
    assert len(calls.read_text().splitlines()) == 1
