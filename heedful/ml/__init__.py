"""heedful.ml: the text engine. Pure Python (numpy, onnxruntime, tokenizers); never imports Django.

Stable API for the inbox (import from the submodules named; they defer heavy imports)::

    from heedful.ml.faq import FaqMatcher, Match
    matcher = FaqMatcher.train(
        [("when do you open", "hours"), ("opening times", "hours"), ...],  # (variant, answer id)
        encoder=None,               # None/"auto": HEEDFUL_TEXT_ENCODER, else hybrid if built
        oos_examples=["..."],       # questions the FAQ does not answer (optional, helps)
        target_wrong_rate=0.05,     # threshold = largest coverage at <= 5 % wrong answers
    )
    m = matcher.match("what time do you open?")
    m.answer_id            # "hours", or None: out of scope / hand off to a person
    m.confidence, m.threshold, m.candidates, m.neighbours, m.reason, m.model_version
    m.escalated            # True when MiniLM ran, False when the first pass decided alone
    matcher.first_pass     # "static" (TF-IDF + static embeddings), "tfidf" or "none"
    # confidence: probability x closeness to the nearest known variants (plain probability for
    # thin FAQs); see docs/model-cards/faq-matcher.md
    matcher.calibration    # how the threshold was chosen; ["thin"] is True when data is too thin
    matcher.save(path); FaqMatcher.load(path)   # FORMAT_VERSION + sha256; ArtefactError if not

    from heedful.ml.sentiment import analyse_sentiment, SentimentUnavailable
    s = analyse_sentiment("still no refund!!")   # label, probabilities, top_words, model_version
    s.model, s.engine     # "fast"/"full" (escalated); which model answered: "tfidf",
                          # "minilm-tuned" (fine-tuned at build time) or "tfidf+minilm-layers"
                          # (logistic regression over TF-IDF and MiniLM's six layers' means)
    # raises SentimentUnavailable (with the command to run) when `heedful ml build` has not run

    from heedful.ml.frustration import ConversationSignals, score_frustration
    f = score_frustration(text, ConversationSignals(repeat_contacts=2, minutes_waited=180),
                          sentiment=s)           # score 0..1, urgency, reasons (plain words)

    from heedful.ml.themes import find_themes, assign_theme, assign_themes, count_by_period
    model = find_themes(texts)                   # model.themes: id, keywords, representative,
                                                 # size (primary for), mentions (carried by)
    ids = assign_theme(new_texts, model)         # primary theme id or None per text
    assign_themes(new_texts, model)              # TextThemes: primary, all themes, and each
                                                 # segment with its theme (the explanation)
    count_by_period(ids, timestamps, "week")     # {"2026-W48": {0: 12, 3: 4, None: 1}, ...}

    from heedful.ml.triage import triage         # match + sentiment + frustration in one call
    t = triage(text, matcher=matcher, signals=...); t.escalated  # did MiniLM run for it?

All results are frozen dataclasses of plain values, deterministic for the same input and model.
Settings: HEEDFUL_MODEL_DIR (artefacts), HEEDFUL_DATASETS_DIR (evaluation data),
HEEDFUL_TEXT_ENCODER (auto|tfidf|static|minilm|hybrid), HEEDFUL_ML_THREADS (onnxruntime threads;
also the FAQ matcher's training threads, default up to 2),
HEEDFUL_ML_SPIN (0: onnxruntime threads sleep instead of spinning; better on a busy machine),
HEEDFUL_ML_WEIGHTS (auto|full|seen: the TF-IDF weights a classifier fit keeps; see
heedful.ml.linear.FULL_WEIGHTS_UP_TO; for evaluation, the default is auto).
Build artefacts with ``heedful ml build``; evaluate with
``heedful eval intents|sentiment|themes|small-kbs``.
"""
