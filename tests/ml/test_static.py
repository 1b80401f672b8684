"""Static word-piece embeddings: distillation, the encoder, and the first passes that use them.

Most tests run on a small synthetic table (a word-level tokenizer over the fixtures' words and
fixed pseudo-random rows), so they need no built artefact; the distillation tests use the real
ONNX model and are skipped when `heedful ml build` has not run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from heedful.ml import paths
from heedful.ml.distil_static import ARTEFACT_KIND, post_process, table_sha256
from heedful.ml.encoders import (
    StaticEncoder,
    installed_static_table,
    minilm_available,
    resolve_encoder_name,
    static_meta,
)
from heedful.ml.faq import FaqMatcher
from heedful.ml.persist import ArtefactError, save_artefact
from heedful.ml.sentiment import SentimentModel, train

from .conftest import FAQ, OOS, SENTIMENT_TRAIN

REAL_MODEL_DIR = paths.model_dir()


def _write_table(model_dir: Path, seed: int = 0) -> str:
    """A synthetic static table over the fixtures' words; returns its table_sha256."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = {w for text, _ in FAQ + SENTIMENT_TRAIN for w in text.split()} | set(" ".join(OOS).split())
    words = sorted(words)
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words]
    tokenizer = Tokenizer(models.WordLevel({p: i for i, p in enumerate(pieces)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    raw = np.random.default_rng(seed).normal(size=(len(pieces), 16)).astype(np.float32)
    table, scale = post_process(raw, pieces, range(len(pieces)))
    digest = table_sha256(table, scale)
    meta = {"method": "test", "table_sha256": digest, "vocabulary": len(pieces), "distilled": len(pieces)}
    arrays = {
        "table": table,
        "scale": scale,
        "tokenizer": np.frombuffer(tokenizer.to_str().encode("utf-8"), dtype=np.uint8),
    }
    save_artefact(model_dir / paths.STATIC_TABLE, ARTEFACT_KIND, meta, arrays)
    return digest


def _forget_shared() -> None:
    from heedful.ml.encoders import _SHARED

    for key in [k for k in _SHARED if k.startswith("static:")]:
        del _SHARED[key]


@pytest.fixture
def static_dir(tmp_model_dir: Path) -> Path:
    _write_table(tmp_model_dir)
    _forget_shared()
    return tmp_model_dir


def test_post_process_centres_on_real_pieces_weights_by_rank_and_quantises() -> None:
    raw = np.array([[9.0, 9.0], [1.0, 3.0], [3.0, 1.0]], dtype=np.float32)
    table, scale = post_process(raw, ["[PAD]", "a", "b"], [0, 1, 2])
    rows = table.astype(np.float64) * scale[:, None]
    # centre = mean of "a" and "b" only = (2, 2); weights log(2 + rank)
    assert np.allclose(rows[1], np.array([-1.0, 1.0]) * np.log(3.0), atol=0.02)
    assert np.allclose(rows[2], np.array([1.0, -1.0]) * np.log(4.0), atol=0.02)
    assert np.allclose(rows[0], np.array([7.0, 7.0]) * np.log(2.0), atol=0.05)
    assert table.dtype == np.int8
    assert np.abs(table).max() == 127


def test_static_encoder_is_unit_norm_deterministic_and_handles_bad_input(static_dir: Path) -> None:
    enc = StaticEncoder(static_dir)
    texts = ["when do you open", "", "🙂🙂", "\x00\x01\u202e", "¿dónde está mi pedido?", "open " * 250_000]
    a = enc.encode(texts)
    assert a.shape == (len(texts), enc.dim)
    norms = np.linalg.norm(a, axis=1)
    assert np.allclose(norms[[0, 2, 4, 5]], 1.0, atol=1e-5)  # unknown words map to [UNK]
    assert norms[1] == 0.0
    assert norms[3] == 0.0
    assert np.array_equal(a, enc.encode(list(reversed(texts)))[::-1])
    one = enc.encode_one("When do you OPEN")
    assert np.allclose(one, a[0], atol=1e-6)
    assert not one.flags.writeable
    ids = enc.tokenizer.encode("when do you open", add_special_tokens=False).ids
    mean = (enc.table[ids].astype(np.float32) * enc.scale[ids, None]).mean(axis=0)
    assert np.allclose(a[0], mean / np.linalg.norm(mean), atol=1e-6)
    assert enc.version == f"static-{enc.table_sha256[:12]}"


def test_auto_encoder_prefers_static_to_tfidf_when_minilm_is_missing(static_dir: Path) -> None:
    assert resolve_encoder_name("auto") == "static"
    assert static_meta(static_dir) is not None
    (static_dir / paths.STATIC_TABLE).unlink()
    assert resolve_encoder_name("auto") == "tfidf"
    assert static_meta(static_dir) is None
    from heedful.ml.encoders import EncoderUnavailable

    with pytest.raises(EncoderUnavailable, match="heedful ml build"):
        resolve_encoder_name("static")


def test_static_matcher_round_trips_and_refuses_another_table(static_dir: Path, tmp_path: Path) -> None:
    m = FaqMatcher.train(FAQ, encoder="static", oos_examples=OOS)
    assert m.static_table == installed_static_table() != ""
    match = m.match("what time do you open")
    assert match.escalated is False  # no transformer ran
    assert match == m.match("what time do you open")
    assert m.version.startswith("faq-static-")
    path = tmp_path / "static.hml"
    m.save(path)
    assert FaqMatcher.load(path).match("what time do you open") == match
    _write_table(static_dir, seed=1)
    _forget_shared()
    with pytest.raises(ArtefactError, match="retrain the matcher"):
        FaqMatcher.load(path)


def test_sentiment_fast_model_uses_the_table_and_checks_it(static_dir: Path, tmp_path: Path) -> None:
    model = train(SENTIMENT_TRAIN, SENTIMENT_TRAIN, with_minilm=False, with_static=True)
    assert model.fast_static == installed_static_table()
    assert model.fast.w_dense.shape == (16, 3)
    assert "+static-" in model.version
    result = model.analyse("still waiting for my refund!!")
    assert result.model == "fast"
    assert model.analyse("still waiting for my refund!!") == result
    path = tmp_path / "sentiment.hml"
    model.save(path)
    assert SentimentModel.load(path).analyse("still waiting for my refund!!") == result
    assert not model.escalates(["anything"]).any()  # no full model: nothing to escalate to
    (static_dir / paths.STATIC_TABLE).unlink()
    _forget_shared()
    with pytest.raises(ArtefactError, match="heedful ml build"):
        SentimentModel.load(path)


@pytest.mark.skipif(not minilm_available(REAL_MODEL_DIR), reason="MiniLM ONNX artefact not built")
def test_hybrid_first_pass_uses_static_and_falls_back_without_it(static_dir: Path, tmp_path: Path) -> None:
    for name in (paths.MINILM_ONNX, paths.MINILM_TOKENIZER):
        os.symlink(REAL_MODEL_DIR / name, static_dir / name)
    val = [(f"{q} please", a) for q, a in FAQ] + [(q, None) for q in OOS]
    m = FaqMatcher.train(FAQ, encoder="hybrid", oos_examples=OOS, validation=val)
    assert m.first_pass == "static"
    assert m.calibration["first_pass"] == "static"
    assert "+static-" in m.version
    questions = [f"so {q}" for q, _ in FAQ] + ["what is the weather like"]
    firsts = [m.match(q) for q in questions]
    for q, first in zip(questions, firsts, strict=True):
        assert m.match(q) == first
        answered_by_first_pass = not first.escalated and first.answer_id is not None
        assert ("(first pass: static)" in first.reason) == answered_by_first_pass
    for text in ["", "🙂🙂🙂", "\x00\x01\u202e", "¿dónde está mi reembolso?", "when do you open " * 70_000]:
        first = m.match(text)
        assert 0.0 <= first.confidence <= 1.0
        assert m.match(text) == first
    path = tmp_path / "hybrid.hml"
    m.save(path)
    assert [FaqMatcher.load(path).match(q) for q in questions] == firsts
    (static_dir / paths.STATIC_TABLE).unlink()
    _forget_shared()
    again = FaqMatcher.load(path)  # the full model still answers; the first pass is off and says so
    assert again.first_pass == "none"
    assert again.calibration["first_pass"].startswith("off:")
    assert all(again.match(q).escalated for q in questions)
    # trained without the table: today's TF-IDF first pass
    assert FaqMatcher.train(FAQ, encoder="hybrid", oos_examples=OOS, validation=val).first_pass == "tfidf"


@pytest.mark.skipif(not minilm_available(REAL_MODEL_DIR), reason="MiniLM ONNX artefact not built")
def test_distillation_is_deterministic_and_independent_of_batch_mates() -> None:
    from heedful.ml.distil_static import distil, raw_rows

    tokenizer_json = (REAL_MODEL_DIR / paths.MINILM_TOKENIZER).read_text(encoding="utf-8")
    onnx = REAL_MODEL_DIR / paths.MINILM_ONNX
    pair = raw_rows(onnx, tokenizer_json, [2023, 7592])
    assert np.array_equal(pair[1], raw_rows(onnx, tokenizer_json, [7592])[0])
    first_meta, first = distil(REAL_MODEL_DIR, limit=200)
    second_meta, second = distil(REAL_MODEL_DIR, limit=200)
    assert first_meta["table_sha256"] == second_meta["table_sha256"]
    assert np.array_equal(first["table"], second["table"])
    assert first_meta["distilled"] == 200
    assert first_meta["vocabulary"] == 30522
