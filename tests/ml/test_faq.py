"""FAQ matcher: determinism, golden explanations, persistence, bad input."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from heedful.ml import faq
from heedful.ml.faq import Candidate, FaqMatcher, Neighbour
from heedful.ml.persist import ArtefactError

from .conftest import FAQ, OOS


def test_answers_in_scope_question_with_golden_explanation(matcher: FaqMatcher) -> None:
    m = matcher.match("when do you open on saturday")
    assert m.answer_id == "hours"
    assert m.confidence == pytest.approx(0.8508, abs=2e-3)
    assert m.candidates[0] == Candidate("hours", m.confidence)
    assert [c.answer_id for c in m.candidates] == ["hours", "delivery", "address"]
    assert m.neighbours[0] == Neighbour("when do you open", "hours", 0.8435)
    assert m.neighbours[1].text == "are you open on sunday"
    assert m.reason == "answer 'hours': confidence 0.85 >= threshold 0.80"
    assert m.model_version == matcher.version
    assert m.model_version.startswith("faq-tfidf-")


def test_hands_off_out_of_scope_question(matcher: FaqMatcher) -> None:
    m = matcher.match("what is the meaning of life")
    assert m.answer_id is None
    assert m.out_of_scope
    assert m.reason.startswith("most like the out-of-scope examples")


def test_small_faq_is_flagged_thin_and_conservative(matcher: FaqMatcher) -> None:
    cal = matcher.calibration
    assert cal["thin"] is True
    assert cal["method"] == "4-fold cross-validation"
    assert matcher.threshold >= 0.8
    assert "too few to calibrate" in cal["note"]


def test_deterministic_training_and_answers() -> None:
    a = FaqMatcher.train(FAQ, encoder="tfidf", oos_examples=OOS)
    b = FaqMatcher.train(list(reversed(FAQ)), encoder="tfidf", oos_examples=OOS)
    assert a.version == b.version
    for q in ["where are you", "shipping costs?", "hello"]:
        assert a.match(q) == a.match(q)
        assert a.match(q).answer_id == b.match(q).answer_id


def test_save_load_round_trip(matcher: FaqMatcher, tmp_path: Path) -> None:
    path = tmp_path / "faq.hml"
    digest = matcher.save(path)
    assert len(digest) == 64
    loaded = FaqMatcher.load(path)
    for q in ["when do you open", "do you ship abroad", "tell me a story", ""]:
        assert loaded.match(q) == matcher.match(q)
    assert loaded.calibration == matcher.calibration


def test_load_refuses_tampered_and_wrong_files(matcher: FaqMatcher, tmp_path: Path) -> None:
    path = tmp_path / "faq.hml"
    matcher.save(path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtefactError, match="checksum mismatch"):
        FaqMatcher.load(path)
    (tmp_path / "junk.hml").write_bytes(b"not a model")
    with pytest.raises(ArtefactError, match="bad magic"):
        FaqMatcher.load(tmp_path / "junk.hml")
    with pytest.raises(ArtefactError, match="no such model file"):
        FaqMatcher.load(tmp_path / "missing.hml")
    head = path.read_bytes().replace(b'"format_version": 1', b'"format_version": 9', 1)
    (tmp_path / "future.hml").write_bytes(head)
    with pytest.raises(ArtefactError, match="format version 9"):
        FaqMatcher.load(tmp_path / "future.hml")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "\x00\x01\x02",
        "x" * 1_000_000,
        "open " * 200_000,
        "¿Cuándo abren la tienda?",
        "营业时间是什么时候",
        "🙂🙂🙂 delivery???",
        "when\u200bdo\u202eyou open\x85",
    ],
)
def test_bad_input_never_crashes(matcher: FaqMatcher, text: str) -> None:
    m = matcher.match(text)
    assert m.answer_id in (None, "hours", "address", "delivery")
    assert 0.0 <= m.confidence <= 1.0


def test_rejects_wrong_types_and_bad_examples(matcher: FaqMatcher) -> None:
    with pytest.raises(TypeError):
        matcher.match(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reserved"):
        FaqMatcher.train([("hi", "oos")], encoder="tfidf")
    with pytest.raises(ValueError, match="no usable examples"):
        FaqMatcher.train([("   ", "a")], encoder="tfidf")


def test_validation_set_calibration_is_used() -> None:
    val = [(q + " please", a) for q, a in FAQ] * 5 + [(q, None) for q in OOS] * 3
    m = FaqMatcher.train(FAQ, encoder="tfidf", oos_examples=OOS, validation=val, target_wrong_rate=0.05)
    assert m.calibration["method"] == "validation set"
    assert m.calibration["n_in_scope"] == 60
    assert m.calibration["n_out_of_scope"] == 12
    assert m.calibration["thin"] is False
    assert m.calibration["wrong_rate"] <= 0.05


def test_an_answer_with_one_phrasing_is_never_held_out_and_the_others_still_calibrate() -> None:
    # An owner's CSV import of plain question,answer rows next to entries with variants: the
    # folds used to be limited by the answer with fewest phrasings (1: no folds), and training
    # crashed on the empty calibration.
    matcher = FaqMatcher.train([*FAQ, ("can i pay by card", "payment")], encoder="tfidf")
    assert matcher.calibration["method"] == (
        "4-fold cross-validation (answers with one phrasing are never held out); 2 of 4 answers left "
        "out of a fit whole, their phrasings standing for questions the knowledge base does not answer"
    )
    # The 12 phrasings of the 3 answers with several, and "payment"'s only one as the question of
    # an answer left out; 2 of them (one per left-out answer) stand for off-topic questions.
    assert (matcher.calibration["n_in_scope"], matcher.calibration["n_out_of_scope"]) == (10, 2)
    assert matcher.match("when do you open on sunday").answer_id == "hours"
    assert "payment" in matcher.model.classes


def test_a_faq_where_no_answer_has_two_phrasings_answers_cautiously() -> None:
    kb = [("when do you open", "hours"), ("where is your shop", "address"), ("do you deliver", "delivery")]
    matcher = FaqMatcher.train(kb, encoder="tfidf")
    assert matcher.calibration["method"] == "none (no answer has 2 phrasings)"
    assert matcher.calibration["thin"]
    assert matcher.threshold == 0.8
    assert matcher.match("when do you open").answer_id == "hours"
    assert matcher.match("tell me a joke").answer_id is None


SHOP_CSV = [  # an owner's first import: one phrasing per answer
    ("Do you sell gift cards", "gift-cards"),
    ("What are your opening hours", "hours"),
    ("Where is your shop", "address"),
    ("How much is shipping", "shipping"),
    ("Do you ship to Switzerland", "abroad"),
    ("Can I return an item", "returns"),
    ("How do I track my order", "tracking"),
    ("Can I pay by invoice", "payment"),
    ("Do you have a loyalty card", "loyalty"),
    ("Is the shop wheelchair accessible", "access"),
    ("Can I change my delivery address", "change-address"),
]


def test_a_question_written_as_in_the_knowledge_base_gets_its_answer() -> None:
    matcher = FaqMatcher.train(SHOP_CSV, encoder="tfidf", oos_examples=["tell me a joke"])
    assert matcher.threshold == 0.8  # thin: the cautious threshold
    m = matcher.match("  do you sell GIFT cards?! ")
    assert m.answer_id == "gift-cards"
    assert m.confidence == 1.0
    assert m.candidates == (Candidate("gift-cards", 1.0),)
    assert m.neighbours == (Neighbour("Do you sell gift cards", "gift-cards", 1.0),)
    assert m.reason == (
        "answer 'gift-cards': the question is the knowledge base's own phrasing 'Do you sell gift cards'"
    )
    assert m.escalated is False
    # A paraphrase is not a phrasing of the knowledge base: the model decides, cautiously.
    paraphrase = matcher.match("do you sell gift vouchers")
    assert "own phrasing" not in paraphrase.reason
    assert paraphrase.confidence < 1.0
    # The owner's example of a question not to answer is handed off, with the reason.
    joke = matcher.match("Tell me a joke!")
    assert joke.answer_id is None
    assert joke.confidence == 0.0
    assert joke.reason == "the knowledge base lists 'tell me a joke' among the questions it does not answer"


def test_words_written_for_two_answers_are_left_to_the_model() -> None:
    kb = [*FAQ, ("do you deliver", "address")]  # "do you deliver" is also a phrasing of delivery
    matcher = FaqMatcher.train(kb, encoder="tfidf")
    m = matcher.match("do you deliver")
    assert "own phrasing" not in m.reason
    assert m.confidence < 1.0
    assert matcher.match("Where is your shop?").reason.endswith("own phrasing 'where is your shop'")


def test_evaluation_scores_decide_phrasings_as_match_does(tmp_path: Path) -> None:
    matcher = FaqMatcher.train(SHOP_CSV, encoder="tfidf", oos_examples=["tell me a joke"])
    questions = ["do you sell gift cards", "tell me a joke", "how do i track my order?", "gift vouchers?"]
    predicted, conf = matcher.scores(questions)
    matches = [matcher.match(q) for q in questions]
    assert conf.tolist()[:3] == [1.0, 0.0, 1.0]
    assert (predicted[0], predicted[2]) == ("gift-cards", "tracking")
    assert conf[3] == pytest.approx(matches[3].confidence, abs=1e-4)
    assert [m.confidence for m in matches[:3]] == [1.0, 0.0, 1.0]
    matcher.save(tmp_path / "faq.hml")
    loaded = FaqMatcher.load(tmp_path / "faq.hml")
    assert [loaded.match(q) for q in questions] == matches
    assert loaded.match_batch(questions * 3) == matches * 3  # the batch path (>= 8 questions)


TOPICS = [
    "opening hours",
    "delivery cost",
    "refund",
    "gift cards",
    "parking",
    "allergens",
    "loyalty points",
    "returns",
    "invoices",
    "sizes",
    "repairs",
    "vouchers",
]


def test_a_knowledge_base_without_out_of_scope_examples_still_calibrates_on_off_topic_questions() -> None:
    # The knowledge app trains without out-of-scope examples. Its threshold used to guard only
    # against wrong answers among the owner's own topics: on CLINC150 without its out-of-scope
    # examples, 1.6 % of off-topic test questions were handed off. Each fold now leaves some
    # answers out whole, and their phrasings count as questions it must not answer.
    forms = ["tell me about {}", "question about {}", "help with {}", "info on {}"]
    kb = [(form.format(topic), topic) for topic in TOPICS for form in forms]
    kb += [("do you have a toilet", "toilet"), ("is there wifi", "wifi")]  # one phrasing each
    counts = Counter(a for _, a in kb)

    matcher = FaqMatcher.train(kb, encoder="tfidf")

    unseen = faq._unseen_answers(counts, 4)
    assert sorted(unseen.items()) == [
        ("delivery cost", 0),
        ("invoices", 0),
        ("parking", 3),
        ("repairs", 3),
        ("sizes", 0),
        ("toilet", 0),
        ("vouchers", 1),
    ]
    # A 4-phrasing answer has one phrasing in each of the 4 folds; "toilet" has only one.
    assert matcher.calibration["n_out_of_scope"] == 6 + 1
    assert matcher.calibration["n_in_scope"] == 12 * 4 - 6
    assert matcher.calibration["method"] == (
        "4-fold cross-validation (answers with one phrasing are never held out); 7 of 14 answers "
        "left out of a fit whole, their phrasings standing for questions the knowledge base does "
        "not answer"
    )
    assert "no out-of-scope examples" not in matcher.calibration["note"]


def test_a_knowledge_base_of_few_answers_leaves_none_out() -> None:
    matcher = FaqMatcher.train(FAQ, encoder="tfidf")

    assert faq._unseen_answers(Counter(a for _, a in FAQ), 4) == {}
    assert matcher.calibration["n_out_of_scope"] == 0


def test_a_validation_set_is_scored_with_some_answers_left_out_too() -> None:
    forms = ["tell me about {}", "question about {}", "help with {}", "info on {}"]
    kb = [(form.format(topic), topic) for topic in TOPICS for form in forms]
    val = [(f"i have a question on {topic} please", topic) for topic in TOPICS] * 5
    val += [(q, None) for q in OOS]

    matcher = FaqMatcher.train(kb, encoder="tfidf", validation=val)

    unseen = faq._unseen_answers(Counter(a for _, a in kb), 1)
    assert sorted(unseen) == ["delivery cost", "invoices", "sizes"]
    assert matcher.calibration["n_out_of_scope"] == len(OOS) + 3 * 5
    assert matcher.calibration["n_in_scope"] == 9 * 5
    assert matcher.calibration["method"] == (
        "validation set; 3 of 12 answers left out of a second fit, whose 15 validation questions "
        "stand for questions the knowledge base does not answer"
    )
    assert set(matcher.calibration["thresholds_at"]) == {"1%", "5%"}
    assert matcher.calibration["thresholds_at"]["5%"] == matcher.threshold


def test_every_knowledge_base_of_four_answers_leaves_one_out_of_a_calibration_fit() -> None:
    from heedful.ml.faq import _unseen_answers

    three = Counter({"hours": 5, "delivery": 5, "returns": 5})
    assert _unseen_answers(three, 5) == {}
    for names in (
        ["a", "b", "c", "d"],
        ["hours", "delivery", "returns", "payment"],
        [f"e{i}" for i in range(9)],
    ):
        for folds in (1, 2, 5):
            unseen = _unseen_answers(Counter(dict.fromkeys(names, 5)), folds)
            assert unseen, (names, folds)
            assert set(unseen) <= set(names)
            assert all(0 <= fold < folds for fold in unseen.values())
            # By the names alone: the same answers in another order leave the same ones out.
            assert _unseen_answers(Counter(dict.fromkeys(reversed(names), 3)), folds) == unseen


def test_chosen_out_of_scope_examples_are_trained_on_but_never_calibrated_on() -> None:
    # The knowledge app's list of questions marked as not covered: near misses chosen by people,
    # no sample of off-topic traffic. Held out, they would decide the folds and the threshold.
    topics = ["opening hours", "shipping", "returns", "payment", "parking", "vouchers"]
    topics += ["gift wrapping", "wholesale", "tea storage", "brewing", "organic", "allergies"]
    asks = ("what about", "tell me about", "question on", "help with", "info on", "details of")
    examples = [(f"{ask} {topic}", topic) for topic in topics for ask in asks]
    marked = ["do you sell coffee", "are you hiring", "can I buy coffee beans", "is there a cafe"]

    def counts(m: FaqMatcher) -> tuple[int, int, str]:
        return m.calibration["n_in_scope"], m.calibration["n_out_of_scope"], m.calibration["method"][:24]

    plain = FaqMatcher.train(examples, encoder="tfidf", oos_share=0.25)
    held = FaqMatcher.train(examples, encoder="tfidf", oos_examples=marked, oos_share=0.25)
    kept = FaqMatcher.train(
        examples, encoder="tfidf", oos_examples=marked, oos_share=0.25, calibrate_on_oos=False
    )

    assert counts(plain) == (62, 10, "5-fold cross-validation;")
    assert counts(held) == (63, 13, "4-fold cross-validation;")  # the four decided the folds
    assert counts(kept) == counts(plain)
    coffee = kept.match("Do you sell coffee?")
    assert (coffee.answer_id, coffee.reason) == (
        None,
        "the knowledge base lists 'do you sell coffee' among the questions it does not answer",
    )
