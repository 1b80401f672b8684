"""Themes of texts that talk about several things, and the measures that judge them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heedful.ml.encoders import minilm_available
from heedful.ml.evaluate import category_match, overlapping_nmi
from heedful.ml.themes import _embed, assign_theme, assign_themes, find_themes, split_segments

# Several phrasings per subject, as real comments vary (near-duplicates would make every
# segment of a new text look atypical).
DELIVERY = [
    f"{start} delivery {end}"
    for start in ("my", "the", "our", "a")
    for end in ("is late again", "never arrived on time")
]
REFUND = [
    f"{start} refund {end}"
    for start in ("my", "the", "our", "a")
    for end in ("was never paid", "still has not been paid back")
]
STAFF = [
    f"{start} staff {end}"
    for start in ("the", "your", "store", "some")
    for end in ("were rude to me", "was very rude and unhelpful")
]
MIXED = "the delivery was late again, and my refund was never paid"


def test_split_segments_on_punctuation_and_contrast_words() -> None:
    assert split_segments("The food was great but the service was slow.") == [
        "The food was great",
        "but the service was slow.",
    ]
    assert split_segments("Tolles Essen, aber der Service war langsam; wir kommen nie wieder!") == [
        "Tolles Essen, aber der Service war langsam",
        "wir kommen nie wieder!",
    ]
    # Short pieces stay with their neighbour instead of becoming a theme of their own.
    assert split_segments("The soup, the bread and the wine were all cold.") == [
        "The soup, the bread and the wine were all cold.",
    ]
    assert split_segments("Line one is here\nline two is there") == ["Line one is here", "line two is there"]
    assert split_segments("") == []
    assert split_segments("   ,;  ") == []
    assert len(split_segments("a b c. " * 100_000)) == 8  # capped; the tail is one last segment


def test_a_text_about_two_things_gets_both_themes() -> None:
    mixed = MIXED
    model = find_themes(DELIVERY + REFUND + STAFF + [mixed], k=3, encoder="tfidf")
    assert model.segmented
    by_word = {w: t.id for t in model.themes for w in t.keywords}
    delivery, refund = by_word["delivery"], by_word["refund"]
    fitted = model.fitted[-1]
    assert set(fitted.themes) == {delivery, refund}
    assert fitted.primary == fitted.themes[0]
    assert [seg for seg, _, _ in fitted.segments] == [
        "the delivery was late again",
        "and my refund was never paid",
    ]
    # size counts texts by primary theme (they add up to the texts), mentions counts every theme.
    assert sum(t.size for t in model.themes) == 25
    assert sum(t.mentions for t in model.themes) == 26
    # A representative text carries only its own theme.
    assert all(t.representative != mixed for t in model.themes)
    # A new text: each segment must be as typical as 95 % of the fitted ones to count.
    new = assign_themes(
        ["my delivery is late again but my refund was never paid", "the staff were very rude to me", ""],
        model,
    )
    assert set(new[0].themes) == {delivery, refund}
    assert new[1].themes == (by_word["staff"],)
    assert (new[2].primary, new[2].themes, new[2].explanation()) == (None, (), "empty text: no theme")
    assert "-> theme" in new[0].explanation()
    assert assign_theme(["my delivery is late again but my refund was never paid"], model) == [new[0].primary]
    assert assign_themes([], model) == []


def test_whole_text_mode_gives_one_theme_per_text() -> None:
    model = find_themes(DELIVERY + REFUND + STAFF + [MIXED], k=3, encoder="tfidf", segment=False)
    assert not model.segmented
    assert all(len(t.themes) == 1 for t in model.fitted)
    assert [t.size for t in model.themes] == [t.mentions for t in model.themes]


def test_fitting_is_deterministic_and_skips_empty_texts() -> None:
    texts = [*DELIVERY, "", *REFUND, "   ", *STAFF]
    model = find_themes(texts, k=3, encoder="tfidf")
    again = find_themes(texts, k=3, encoder="tfidf")
    assert model.themes == again.themes
    assert model.fitted == again.fitted
    assert len(model.fitted) == len(texts)
    assert model.fitted[8].themes == ()
    assert model.fitted[17].themes == ()
    with pytest.raises(ValueError, match="at least two"):
        find_themes(["only one", ""], encoder="tfidf")


def test_overlapping_nmi_exact_values() -> None:
    same = [{"a"}, {"a", "b"}, {"b"}, set()]
    assert overlapping_nmi(same, same) == pytest.approx(1.0)
    # X = {0,1},{2,3}; Y = {0,1}. A matches C exactly (H(A|Y) = 0); B fails the
    # h(a)+h(d) > h(b)+h(c) check against C, so H(B|Y) = H(B) = 1 bit. H(X) = 2, H(Y) = 1,
    # H(Y|X) = 0: I = (2 - 1 + 1 - 0) / 2 = 1 and NMI = 1 / max(2, 1) = 0.5.
    assert overlapping_nmi([{"A"}, {"A"}, {"B"}, {"B"}], [{"C"}, {"C"}, set(), set()]) == pytest.approx(0.5)
    # X = {0,1}, Y = {0} over 4 items: H(X) = 1, H(Y) = 2 - 0.75 log2 3, H(X,Y) = 1.5,
    # so I = H(X) + H(Y) - H(X,Y) = 1.5 - 0.75 log2 3 and NMI = I / H(X).
    got = overlapping_nmi([{"x"}, {"x"}, set(), set()], [{"y"}, set(), set(), set()])
    assert got == pytest.approx(1.5 - 0.75 * math.log2(3))
    assert overlapping_nmi([set(), set()], [set(), set()]) == 1.0
    with pytest.raises(ValueError, match="same items"):
        overlapping_nmi([{"a"}], [])


def test_category_match_one_to_one_and_many_to_one() -> None:
    found = [{0}, {0}, {1}, {1}, {2}]
    reference = [{"a"}, {"b"}, {"b"}, {"a", "b"}, {"b"}]
    one = category_match(found, reference, one_to_one=True)
    # Co-occurrence: theme 0 (a 1, b 1), theme 1 (a 1, b 2), theme 2 (b 1): 0 -> a, 1 -> b.
    assert one["mapping"] == {"0": "a", "1": "b"}
    assert one["per_label"] == {
        "a": {"precision": 0.5, "recall": 0.5},
        "b": {"precision": 1.0, "recall": 0.5},
    }
    many = category_match(found, reference, one_to_one=False)
    assert many["mapping"] == {"0": "a", "1": "b", "2": "b"}
    assert many["per_label"]["b"] == {"precision": 1.0, "recall": 0.75}
    assert (many["macro_precision"], many["macro_recall"]) == (0.75, 0.625)


@pytest.mark.skipif(not minilm_available(), reason="MiniLM ONNX artefact not built (run `heedful ml build`)")
def test_default_encoder_puts_minilm_and_tfidf_side_by_side() -> None:
    texts = DELIVERY + REFUND + STAFF + [MIXED]
    model = find_themes(texts, k=3)
    assert model.encoder == "minilm+tfidf"
    lexical_dims = model._svd[1].n_components
    assert model.centres.shape == (3, 384 + lexical_dims)
    vectors, _ = _embed(["the delivery is late"], model.encoder, model._svd)
    assert float(np.linalg.norm(vectors[0])) == pytest.approx(1.0, abs=1e-5)
    by_word = {w: t.id for t in model.themes for w in t.keywords}
    assert set(model.fitted[-1].themes) == {by_word["delivery"], by_word["refund"]}
