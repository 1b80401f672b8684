"""The per-message fast path: cached featurisation, escalation flags, cached embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from heedful.ml.encoders import minilm_available
from heedful.ml.faq import FaqMatcher
from heedful.ml.frustration import ConversationSignals
from heedful.ml.sentiment import SentimentModel
from heedful.ml.text import CACHED_WORD_CHARS, WORD_CACHE_SIZE, NgramTfidf, _analyse, analyse
from heedful.ml.triage import triage

from .conftest import FAQ, OOS


def test_vector_is_the_same_with_cold_and_warm_caches() -> None:
    texts = ["Still WAITING for my refund!!", "hello there", "🙂 ok", "a\x00b"]
    fitted = NgramTfidf.fit(texts)
    _analyse.cache_clear()
    cold = [fitted.vector(t) for t in texts]
    warm = [fitted.vector(t) for t in texts]
    fresh = NgramTfidf(fitted.terms, fitted.idf, fitted.n_word)  # empty per-word cache
    assert cold == warm == [fresh.vector(t) for t in texts]
    idx, val = cold[0]
    assert idx == sorted(idx)
    assert sum(v * v for v in val) == pytest.approx(1.0, abs=1e-6)


def test_vector_handles_bad_input() -> None:
    fitted = NgramTfidf.fit(["where is my parcel", "refund please"])
    assert fitted.vector("") == ([], [])
    assert fitted.vector("\x00\x01\u200b") == ([], [])
    assert fitted.vector("完全に未知の言葉") == ([], [])
    idx, _ = fitted.vector("parcel " * 200_000)  # 1.4 MB: only the first 2,000 characters count
    assert idx == fitted.vector("parcel " * 300)[0]


def test_per_word_caches_keep_a_bounded_number_of_short_words() -> None:
    fitted = NgramTfidf.fit(["where is my parcel", "refund please", "order a1b2"])
    codes = [f"zq{n:06d}" for n in range(WORD_CACHE_SIZE + 100)]  # order numbers, none recurs
    for code in codes:
        fitted.vector(f"where is order {code}")
    cache = fitted._char_hits.cache_info()
    assert (cache.currsize, cache.maxsize) == (WORD_CACHE_SIZE, WORD_CACHE_SIZE)
    # A longer "word" is computed each time, never kept.
    fresh = NgramTfidf(fitted.terms, fitted.idf, fitted.n_word)
    long_word = "x" * (CACHED_WORD_CHARS + 1)
    assert fresh.vector(f"parcel {long_word}") == fitted.vector(f"parcel {long_word}")
    assert fresh._char_hits.cache_info().currsize == 1  # "parcel"


def test_the_text_cache_keeps_only_what_is_read_of_a_huge_text() -> None:
    _analyse.cache_clear()
    huge = "parcel " * 200_000
    analyse(huge)
    # Another text with the same first 4,000 characters is answered from the same entry.
    analyse(huge[:4000] + " something else entirely")
    assert (_analyse.cache_info().hits, _analyse.cache_info().misses) == (1, 1)


def test_tfidf_triage_never_escalates(matcher: FaqMatcher, sentiment_model: SentimentModel) -> None:
    result = triage(
        "where is your shop, STILL no answer!!",
        matcher=matcher,
        signals=ConversationSignals(repeat_contacts=1),
        sentiment_model=sentiment_model,
    )
    assert result.match is not None
    assert result.match.answer_id == "address"
    assert result.match.escalated is False
    assert result.sentiment.model == "fast"
    assert result.escalated is False
    assert "contacted us 1 time before about this" in result.frustration.reasons


@pytest.mark.skipif(not minilm_available(), reason="MiniLM ONNX artefact not built")
def test_hybrid_match_flags_escalation_and_reuses_the_embedding() -> None:
    from heedful.ml.encoders import shared_minilm

    m = FaqMatcher.train(FAQ, encoder="hybrid", oos_examples=OOS)
    # No validation set: the first pass is calibrated on the cross-validation folds' held-out
    # questions, as the threshold is.
    assert m.calibration["method"] == "4-fold cross-validation"
    assert m.calibration["fast_accept_from"] == "out-of-fold questions"
    sure = m.match("at what time do you open?")
    assert (sure.answer_id, sure.escalated) == ("hours", False)
    assert sure.reason.endswith("(first pass: static)")
    unsure = m.match("what is the weather")
    assert (unsure.answer_id, unsure.escalated) == (None, True)
    enc = shared_minilm()
    one = enc.encode_one("what is the weather")
    assert one is enc.encode_one("what is the weather")
    assert not one.flags.writeable
    assert np.allclose(one, enc.encode(["what is the weather"])[0], atol=1e-6)


def _faq(n_answers: int, per_answer: int) -> list[tuple[str, str]]:
    topics = ["opening hours", "parcel delivery", "refund policy", "store address", "gift cards"]
    forms = ["what about {}", "tell me about {}", "question on {}", "info on your {}", "{} please"]
    forms += ["i need help with {}", "can you explain {}", "how does {} work", "{}?", "details of {}"]
    return [(forms[j].format(topics[i]), f"a{i}") for i in range(n_answers) for j in range(per_answer)]


def test_calibrated_matcher_combines_probability_and_closeness(tmp_path: object) -> None:
    from pathlib import Path

    examples = _faq(5, 10)
    validation = [(f"{t} now", a) for t, a in examples[::2]] + [
        (f"weather report {i}", None) for i in range(30)
    ]
    m = FaqMatcher.train(examples, encoder="tfidf", oos_examples=OOS, validation=validation)
    assert m.confidence_kind == "probability*closeness"
    assert m.calibration["thin"] is False
    match = m.match("tell me about your refund policy")
    assert match.answer_id == "a2"
    assert "x closeness" in match.reason
    assert match.confidence <= match.candidates[0].confidence
    path = Path(str(tmp_path)) / "m.hml"
    m.save(path)
    again = FaqMatcher.load(path)
    assert again.confidence_kind == m.confidence_kind
    assert again.match("tell me about your refund policy") == match
    again_conf = again.scores(["tell me about your refund policy"])[1][0]
    assert again_conf == pytest.approx(match.confidence, abs=1e-4)


def test_thin_faq_keeps_plain_probability(matcher: FaqMatcher) -> None:
    assert matcher.calibration["thin"] is True
    assert matcher.confidence_kind == "probability"
    assert "closeness" not in matcher.match("when do you open on saturday").reason


def test_closeness_matcher_handles_bad_input() -> None:
    examples = _faq(5, 10)
    validation = [(f"{t} now", a) for t, a in examples[::2]] + [
        (f"weather report {i}", None) for i in range(30)
    ]
    m = FaqMatcher.train(examples, encoder="tfidf", oos_examples=OOS, validation=validation)
    assert m.match("").reason == "empty question"
    for text in ["🙂🙂🙂", "\x00\x01\u202e", "¿dónde está mi reembolso?", "refund policy " * 80_000]:
        first = m.match(text)
        assert 0.0 <= first.confidence <= 1.0
        assert first == m.match(text)  # deterministic, explanation included
    assert m.match("🙂🙂🙂").answer_id is None
    with pytest.raises(TypeError, match="text must be str"):
        m.match(None)  # type: ignore[arg-type]


@pytest.mark.skipif(not minilm_available(), reason="MiniLM ONNX artefact not built")
def test_encoder_without_spinning_gives_the_same_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    from heedful.ml.encoders import MiniLMEncoder

    text = "where is my refund"
    spinning = MiniLMEncoder(threads=2).encode([text])
    monkeypatch.setenv("HEEDFUL_ML_SPIN", "0")
    sleeping = MiniLMEncoder(threads=2)
    assert (
        sleeping.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
        == "0"
    )
    assert np.allclose(sleeping.encode([text]), spinning, atol=1e-6)


def test_word_pieces_keep_a_bounded_number_of_short_words() -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece

    from heedful.ml.encoders import WordPieces

    vocab = {"[UNK]": 0, "z": 1, "##q": 2, **{f"##{d}": 3 + d for d in range(10)}}
    pieces = WordPieces(Tokenizer(WordPiece(vocab, unk_token="[UNK]")))
    for n in range(WORD_CACHE_SIZE + 100):
        pieces.ids(f"zq{n:06d}")
    assert pieces._pieces.cache_info().currsize == WORD_CACHE_SIZE
    assert pieces.ids("zq000123 zq" + "9" * 40) == [1, 2, 3, 3, 3, 4, 5, 6, 1, 2] + [12] * 40
    assert pieces._pieces.cache_info().currsize == WORD_CACHE_SIZE
