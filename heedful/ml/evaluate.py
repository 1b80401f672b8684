"""Reproducible evaluation of the text engine on any dataset in the generic format.

Used by ``heedful eval`` and ``benchmarks/text_engine.py``. All metrics are fractions.

Intents: fit on train (rows labelled ``oos`` become out-of-scope examples), choose the threshold
on val (or by internal hold-out when there is no val split), report on test:

* ``in_scope_accuracy``: in-scope test questions answered with the right answer (hand-offs count
  as wrong, as in Larson et al. 2019);
* ``oos_recall`` / ``oos_precision``: out-of-scope questions handed off / hand-offs that were OOS;
* ``auroc``: how well the confidence separates in-scope from OOS questions (threshold-free);
* a metric with nothing to measure (``oos_recall`` without out-of-scope test questions, say) is
  ``None`` (JSON null), not 0;
* ``answered_at_1pct`` / ``answered_at_5pct``: the best share of in-scope test questions answered
  correctly while at most 1 % / 5 % of answers are wrong (an oracle curve read off the test set,
  for comparison only; the deployed threshold is the val-calibrated one);
* ``calibrated``: what the val-chosen thresholds for 1 % and 5 % give on test (full model).

A matcher with a first pass (hybrid encoder) is evaluated as :meth:`FaqMatcher.match` answers:
the first pass decides where it is sure, the full model elsewhere. ``first_pass`` gives its
kind, the share of test questions it settled (``settled_share``; the rest escalate) and the
accuracy among those; ``full_model`` gives the full model alone, for comparison.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from heedful.ml import datasets
from heedful.ml.faq import OOS_LABEL, FaqMatcher


def auroc(positive_scores: Sequence[float], negative_scores: Sequence[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = np.asarray(positive_scores, dtype=np.float64)
    neg = np.asarray(negative_scores, dtype=np.float64)
    if not len(pos) or not len(neg):
        return float("nan")
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    i = 0
    while i < len(allv):  # average ranks over ties
        j = i
        while j + 1 < len(allv) and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _answers(conf: Any, threshold: float) -> Any:
    """Which questions the matcher answers at ``threshold``: confidence 0 is its own hand-off
    (the out-of-scope class won, or the question was empty), whatever the threshold."""
    return (conf >= threshold) & (conf > 0)


def answered_at(conf: Any, correct: Any, in_scope: Any, wrong_rate: float) -> float:
    order = np.lexsort((np.arange(len(conf)), -conf))
    wrong = ~(correct & in_scope)[order]
    rate = np.cumsum(wrong) / np.arange(1, len(conf) + 1)
    good = np.cumsum((correct & in_scope)[order])
    # Confidence 0 is the model's own hand-off: no threshold answers those questions.
    ok = np.where((rate <= wrong_rate) & (conf[order] > 0))[0]
    return float(good[ok.max()] / max(in_scope.sum(), 1)) if len(ok) else 0.0


def evaluate_intents(
    path: str | Path,
    *,
    encoder: str | None = None,
    target_wrong_rate: float = 0.05,
    matcher: FaqMatcher | None = None,
) -> dict[str, Any]:
    """See the module docstring. ``matcher``: one already trained exactly this way on ``path``
    (the benchmark reuses its cached matcher instead of training a second identical one)."""
    rows = datasets.load(path)
    train = [(r.text, r.label) for r in rows if r.split == "train" and r.label != OOS_LABEL]
    oos = [r.text for r in rows if r.split == "train" and r.label == OOS_LABEL]
    val = [(r.text, r.label) for r in rows if r.split == "val"]
    test = [(r.text, r.label) for r in rows if r.split == "test"]
    _require_splits(path, train, test)
    started = time.perf_counter()
    if matcher is None:
        matcher = FaqMatcher.train(
            train,
            encoder=encoder,
            oos_examples=oos,
            validation=val or None,
            target_wrong_rate=target_wrong_rate,
        )
        fit_seconds: float | None = round(time.perf_counter() - started, 1)
    else:
        fit_seconds = None  # trained elsewhere
    labels = np.array([lab for _, lab in test])
    test_texts = [t for t, _ in test]
    predicted, conf = matcher.scores(test_texts)
    pred = np.array(predicted)
    full_pred, full_conf = pred, conf
    in_scope = labels != OOS_LABEL
    full_model: dict[str, Any] | None = None
    first_pass: dict[str, Any] = {"kind": matcher.first_pass}
    if matcher.fast is not None:
        full_model = _intent_metrics(pred, conf, labels, matcher.threshold)
        fast_pred, fast_conf, settled = matcher.first_pass_scores(test_texts)
        fast_right = (np.array(fast_pred) == labels) & in_scope
        fast_says = np.where(_answers(fast_conf, matcher.threshold), np.array(fast_pred), OOS_LABEL)
        first_pass |= {
            "fast_accept": matcher.fast_accept,
            "settled_share": _frac(settled.sum(), len(settled)),
            # a settled question is right when the first pass answers it correctly or hands
            # off an out-of-scope one
            "settled_right": _frac(((fast_says == labels) & settled).sum(), settled.sum()),
            "accuracy_no_rejection": _frac(fast_right.sum(), in_scope.sum()),
        }
        pred = np.where(settled, np.array(fast_pred), pred)
        conf = np.where(settled, fast_conf, conf).astype(np.float32)
    correct = pred == labels
    answered = _answers(conf, matcher.threshold)
    handed_off = ~answered
    result: dict[str, Any] = {
        "dataset": str(path),
        "encoder": matcher.space.encoder,
        "model_version": matcher.version,
        # "seen": TF-IDF weights only on the terms each answer's questions use (FULL_WEIGHTS_UP_TO),
        # kept as a sparse matrix; a seen fit with over half its weights kept is an array, "full".
        "weights": "seen" if matcher.model.sparse_weights_stored_sparse else "full",
        "n_train": len(train),
        "n_oos_train": len(oos),
        "n_val": len(val),
        "n_test": len(test),
        "target_wrong_rate": target_wrong_rate,
        "threshold": matcher.threshold,
        "calibration": matcher.calibration,
        "in_scope_accuracy": _frac((correct & answered & in_scope).sum(), in_scope.sum()),
        "oos_recall": _frac((handed_off & ~in_scope).sum(), (~in_scope).sum()),
        "oos_precision": _frac((handed_off & ~in_scope).sum(), handed_off.sum()),
        "auroc": _rounded_auroc(-conf[~in_scope], -conf[in_scope]),
        "accuracy_no_rejection": _frac((correct & in_scope).sum(), in_scope.sum()),
        "answered_at_1pct": round(answered_at(conf, correct, in_scope, 0.01), 4),
        "answered_at_5pct": round(answered_at(conf, correct, in_scope, 0.05), 4),
        "wrong_answer_rate": _frac((answered & ~(correct & in_scope)).sum(), answered.sum()),
        "fit_seconds": fit_seconds,
        "first_pass": first_pass,
    }
    if full_model is not None:
        result["full_model"] = full_model
    thresholds_at = matcher.calibration.get("thresholds_at") if val else None
    if thresholds_at:
        # The full model at the thresholds the same validation questions gave for other targets
        # (FaqMatcher.train chose them). Not the first pass: its confidences use TF-IDF
        # closeness, on another scale, and its acceptance level was set for the trained
        # threshold only (another target means another trained matcher).
        correct, conf = full_pred == labels, full_conf
        calibrated = {}
        for target in (0.01, 0.05):
            threshold = float(thresholds_at[f"{target:.0%}"])
            ans = _answers(conf, threshold)
            calibrated[f"{target:.0%}"] = {
                "threshold": threshold,
                "in_scope_accuracy": _frac((correct & ans & in_scope).sum(), in_scope.sum()),
                "oos_recall": _frac((~ans & ~in_scope).sum(), (~in_scope).sum()),
                "test_wrong_answer_rate": _frac((ans & ~(correct & in_scope)).sum(), ans.sum()),
            }
        result["calibrated"] = calibrated
    return result


def _intent_metrics(pred: Any, conf: Any, labels: Any, threshold: float) -> dict[str, Any]:
    in_scope = labels != OOS_LABEL
    correct = pred == labels
    answered = _answers(conf, threshold)
    return {
        "in_scope_accuracy": _frac((correct & answered & in_scope).sum(), in_scope.sum()),
        "oos_recall": _frac((~answered & ~in_scope).sum(), (~in_scope).sum()),
        "oos_precision": _frac((~answered & ~in_scope).sum(), (~answered).sum()),
        "auroc": _rounded_auroc(-conf[~in_scope], -conf[in_scope]),
        "accuracy_no_rejection": _frac((correct & in_scope).sum(), in_scope.sum()),
        "answered_at_1pct": round(answered_at(conf, correct, in_scope, 0.01), 4),
        "answered_at_5pct": round(answered_at(conf, correct, in_scope, 0.05), 4),
    }


def evaluate_sentiment(
    path: str | Path, *, baselines: bool = True, mode: str = "auto", train_model: bool = True
) -> dict[str, Any]:
    """Train on train (C and escalation chosen on val), report test accuracy and macro-F1."""
    from heedful.ml import sentiment
    from heedful.ml.encoders import minilm_available

    rows = datasets.load(path)
    train = [(r.text, r.label) for r in rows if r.split == "train"]
    val = [(r.text, r.label) for r in rows if r.split == "val"]
    test = [(r.text, r.label) for r in rows if r.split == "test"]
    _require_splits(path, train, test)
    validation = "val split"
    if not val:
        # C and the escalation threshold chosen on the training rows themselves would pick the
        # least regularised model and never escalate (train accuracy is ~99 %).
        train, val = datasets.carve_validation(train)
        validation = "1 in 9 training rows per label, fixed by hash (no val split given)"
        if not val:
            raise datasets.DatasetError(
                f"{path}: no val rows, and too few training rows per label to hold some out"
            )
    started = time.perf_counter()
    # Trained as `heedful ml build` trains it (TF-IDF-only fast model; see build_sentiment).
    model = sentiment.train(train, val, with_minilm=minilm_available(), with_static=False)
    fit_seconds = time.perf_counter() - started
    y = [lab for _, lab in test]
    texts = [t for t, _ in test]
    result: dict[str, Any] = {
        "dataset": str(path),
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
        "validation": validation,
        "model_version": model.version,
        "fit_seconds": round(fit_seconds, 1),
        "fast_static": bool(model.fast_static),
        "train_metrics": model.metrics,
    }
    for name in ("fast", "full", "auto"):
        if name != "fast" and model.full is None:
            continue
        result[f"{name}_model"] = _classification(y, model.predict(texts, mode=name))
    result["auto_escalated_share"] = _frac(model.escalates(texts).sum(), len(texts))
    headline = result.get(f"{mode}_model") or result["fast_model"]
    result |= {"accuracy": headline["accuracy"], "macro_f1": headline["macro_f1"]}
    if baselines:
        result["baselines"] = _baselines(texts, y)
    return result


# Label spellings the lexicon baselines can be scored against: they only know polarity.
POLARITY_ALIASES = {
    "negative": "negative",
    "neg": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
}


def _baselines(texts: list[str], y: list[str]) -> dict[str, Any]:
    labels = sorted(set(y))
    polarity = {label: POLARITY_ALIASES.get(label.strip().lower()) for label in labels}
    if None in polarity.values() or len(set(polarity.values())) != len(labels):
        skipped = {
            "skipped": f"labels {', '.join(map(repr, labels[:6]))} are not negative/neutral/positive, "
            "which is all VADER and TextBlob can tell"
        }
        return {"vader": skipped, "textblob": dict(skipped)}
    # Predictions are spelled as the dataset spells its labels; without a neutral label the
    # baseline decides by the sign of its score alone.
    spelled = {kind: label for label, kind in polarity.items() if kind is not None}
    margins = (0.05, 0.0) if "neutral" in spelled else (0.0, 0.0)
    out: dict[str, Any] = {}
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        vader = SentimentIntensityAnalyzer()
        pred = [_polarity_label(vader.polarity_scores(t)["compound"], margins[0], spelled) for t in texts]
        out["vader"] = _classification(y, pred)
    except ImportError:
        out["vader"] = {"skipped": "vaderSentiment not installed (pip install 'heedful[eval]')"}
    try:
        from textblob import TextBlob

        pred = [_polarity_label(TextBlob(t).sentiment.polarity, margins[1], spelled) for t in texts]
        out["textblob"] = _classification(y, pred)
    except ImportError:
        out["textblob"] = {"skipped": "textblob not installed (pip install 'heedful[eval]')"}
    except Exception as exc:  # e.g. missing corpora: nothing may be downloaded at run time
        out["textblob"] = {"skipped": f"textblob failed: {exc}"}
    return out


def _polarity_label(score: float, margin: float, spelled: dict[str, str]) -> str:
    if "neutral" not in spelled:
        return spelled["positive"] if score >= 0 else spelled["negative"]
    kind = "positive" if score > margin else "negative" if score < -margin else "neutral"
    return spelled.get(kind, spelled["neutral"])


def _require_splits(path: str | Path, train: Sequence[Any], test: Sequence[Any]) -> None:
    """A clear error instead of metrics over nothing (or a traceback) for a lopsided file."""
    if not train:
        raise datasets.DatasetError(f"{path}: no training rows (split=train)")
    if not test:
        raise datasets.DatasetError(
            f"{path}: no test rows: mark some rows split=test, or leave the split column out "
            "for a fixed stratified 80/10/10 split"
        )


def _classification(y: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    labels = sorted(set(y))
    yt, yp = np.array(y), np.array(pred)
    f1s = []
    for label in labels:
        tp = float(((yp == label) & (yt == label)).sum())
        precision = tp / max((yp == label).sum(), 1)
        recall = tp / max((yt == label).sum(), 1)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {
        "accuracy": round(float((yt == yp).mean()), 4),
        "macro_f1": round(float(np.mean(f1s)), 4),
    }


def evaluate_themes(
    path: str | Path, *, k: int | None = None, encoder: str | None = None, segment: bool = True
) -> dict[str, Any]:
    """Themes against reference labels (k = number of labels unless given).

    Single-label figures compare each text's primary theme with its label (for MAMS: the first
    category listed): ``nmi``, ``purity``, ``multi_label_purity`` (pure if the theme's most common
    label is any of the text's labels). Multi-label figures compare each text's set of themes with
    its set of labels: ``overlapping_nmi`` (McDaid et al. 2011, NMI_max) and ``categories``: per
    label, precision and recall of "the text has a theme mapped to this label", with themes mapped
    one-to-one (Hungarian, on theme/label co-occurrence) or many-to-one (each theme to its most
    co-occurring label). The mapping is read off the same texts, so these are upper estimates.
    """
    from heedful.ml.themes import find_themes

    rows = datasets.load(path)
    texts = [r.text for r in rows]
    labels = [r.label for r in rows]
    n_labels = len(set(labels))
    if len(texts) < 2:
        raise datasets.DatasetError(f"{path}: {len(texts)} text(s); themes need at least two")
    started = time.perf_counter()
    model = find_themes(texts, k=k or n_labels, encoder=encoder, segment=segment)
    seconds = time.perf_counter() - started
    assigned = [-1 if t.primary is None else t.primary for t in model.fitted]
    theme_sets = [set(t.themes) for t in model.fitted]
    multi = [set(r.labels or (r.label,)) for r in rows]
    return {
        "dataset": str(path),
        "n_texts": len(texts),
        "k": len(model.themes),
        "encoder": model.encoder,
        "segmented": model.segmented,
        "nmi": round(nmi(labels, assigned), 4),
        "purity": round(purity(labels, assigned), 4),
        "multi_label_purity": round(_multi_purity(multi, assigned), 4),
        "overlapping_nmi": round(overlapping_nmi(theme_sets, multi), 4),
        "themes_per_text": round(sum(map(len, theme_sets)) / max(len(texts), 1), 3),
        "labels_per_text": round(sum(map(len, multi)) / max(len(texts), 1), 3),
        "categories": {
            "one_to_one": category_match(theme_sets, multi, one_to_one=True),
            "many_to_one": category_match(theme_sets, multi, one_to_one=False),
        },
        "seconds": round(seconds, 1),
        "themes": [
            {
                "id": t.id,
                "label": t.label,
                "size": t.size,
                "mentions": t.mentions,
                "representative": t.representative,
            }
            for t in model.themes
        ],
    }


def overlapping_nmi(found: Sequence[set[Any]], reference: Sequence[set[Any]]) -> float:
    """NMI of two covers (each item may be in several clusters or none), as NMI_max of McDaid,
    Greene & Hurley (2011), "Normalized Mutual Information to evaluate overlapping community
    finding algorithms", in bits. Each cluster is a binary variable over the n items; a cluster's
    conditional entropy given the other cover is its lowest over the other clusters that pass
    Lancichinetti et al.'s check h(a)+h(d) > h(b)+h(c) (else its own entropy); then
    I = (H(X) - H(X|Y) + H(Y) - H(Y|X)) / 2 and NMI = I / max(H(X), H(Y)).
    """
    n = len(found)
    if n != len(reference):
        raise ValueError("both covers must describe the same items")
    x, y = _cover(found), _cover(reference)
    hx = sum(_cluster_entropy(len(c), n) for c in x)
    hy = sum(_cluster_entropy(len(c), n) for c in y)
    if max(hx, hy) == 0:
        return 1.0 if x == y else 0.0
    mutual = (hx - _conditional(x, y, n) + hy - _conditional(y, x, n)) / 2
    return float(mutual / max(hx, hy))


def _cover(sets: Sequence[set[Any]]) -> list[frozenset[int]]:
    members: dict[Any, set[int]] = {}
    for i, labels in enumerate(sets):
        for lab in labels:
            members.setdefault(lab, set()).add(i)
    return sorted((frozenset(m) for m in members.values()), key=sorted)


def _h(w: int, n: int) -> float:
    return -w * float(np.log2(w / n)) / n if w > 0 else 0.0


def _cluster_entropy(size: int, n: int) -> float:
    return _h(size, n) + _h(n - size, n)


def _conditional(x: list[frozenset[int]], y: list[frozenset[int]], n: int) -> float:
    total = 0.0
    for xk in x:
        best = _cluster_entropy(len(xk), n)
        for yl in y:
            d = len(xk & yl)
            c, b = len(xk) - d, len(yl) - d
            a = n - b - c - d
            if _h(a, n) + _h(d, n) > _h(b, n) + _h(c, n):
                joint = _h(a, n) + _h(b, n) + _h(c, n) + _h(d, n)
                best = min(best, joint - _cluster_entropy(len(yl), n))
        total += best
    return total


def category_match(
    found: Sequence[set[Any]], reference: Sequence[set[Any]], *, one_to_one: bool
) -> dict[str, Any]:
    """Per reference label: precision and recall of "the text has a theme mapped to the label"."""
    themes = sorted({t for s in found for t in s})
    cats = sorted({c for s in reference for c in s}, key=str)
    together = np.zeros((len(themes), len(cats)))
    t_index = {t: i for i, t in enumerate(themes)}
    c_index = {c: i for i, c in enumerate(cats)}
    for ts, cs in zip(found, reference, strict=True):
        for t in ts:
            for c in cs:
                together[t_index[t], c_index[c]] += 1
    if one_to_one:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(-together)
        mapping = {themes[r]: cats[c] for r, c in zip(rows, cols, strict=True)}
    else:
        # argmax takes the first of equal counts, so ties go to the first label in sorted order.
        mapping = {t: cats[int(together[i].argmax())] for t, i in t_index.items()}
    per: dict[str, dict[str, float]] = {}
    for cat in cats:
        predicted = [any(mapping.get(t) == cat for t in ts) for ts in found]
        actual = [cat in cs for cs in reference]
        hits = sum(p and a for p, a in zip(predicted, actual, strict=True))
        # A label no theme maps to counts as precision 0 in the macro average (scikit-learn's
        # zero_division=0), as the per-category tables in docs/benchmarks-text-engine.md do.
        per[str(cat)] = {
            "precision": _frac(hits, sum(predicted)) or 0.0,
            "recall": _frac(hits, sum(actual)) or 0.0,
        }
    return {
        "mapping": {str(t): str(c) for t, c in sorted(mapping.items())},
        "per_label": per,
        "macro_precision": round(float(np.mean([v["precision"] for v in per.values()])), 4),
        "macro_recall": round(float(np.mean([v["recall"] for v in per.values()])), 4),
    }


def nmi(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Normalised mutual information (arithmetic mean normalisation, as scikit-learn's default)."""
    from collections import Counter

    n = len(a)
    ca, cb, cab = Counter(a), Counter(b), Counter(zip(a, b, strict=True))
    mi = sum(c / n * np.log(c * n / (ca[x] * cb[y])) for (x, y), c in cab.items())
    ha = -sum(c / n * np.log(c / n) for c in ca.values())
    hb = -sum(c / n * np.log(c / n) for c in cb.values())
    return float(mi / ((ha + hb) / 2)) if ha + hb > 0 else 1.0


def purity(labels: Sequence[Any], clusters: Sequence[Any]) -> float:
    from collections import Counter

    by_cluster: dict[Any, Counter[Any]] = {}
    for lab, cl in zip(labels, clusters, strict=True):
        by_cluster.setdefault(cl, Counter())[lab] += 1
    return sum(c.most_common(1)[0][1] for c in by_cluster.values()) / max(len(labels), 1)


def _multi_purity(labels: Sequence[set[str]], clusters: Sequence[int]) -> float:
    from collections import Counter

    by_cluster: dict[int, list[set[str]]] = {}
    for labs, cl in zip(labels, clusters, strict=True):
        by_cluster.setdefault(cl, []).append(labs)
    hits = 0
    for members in by_cluster.values():
        top = Counter(lab for labs in members for lab in labs).most_common(1)[0][0]
        hits += sum(top in labs for labs in members)
    return hits / max(len(labels), 1)


def _frac(num: Any, den: Any) -> float | None:
    """``num / den`` rounded, or None when there is nothing to divide by (no out-of-scope test
    questions, say): reported as null, never as a 0 that reads like a measured failure."""
    return round(float(num) / float(den), 4) if den else None


def _rounded_auroc(positive: Any, negative: Any) -> float | None:
    """:func:`auroc`, None when one side is empty (a dataset without out-of-scope questions)."""
    value = auroc(positive, negative)
    return None if np.isnan(value) else round(value, 4)
