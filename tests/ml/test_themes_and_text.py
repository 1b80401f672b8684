"""Themes, text clean-up, datasets, evaluation helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from heedful.ml import datasets
from heedful.ml.evaluate import auroc, nmi, purity
from heedful.ml.text import NgramTfidf, clean
from heedful.ml.themes import assign_theme, count_by_period, find_themes

TEXTS = (
    [f"my delivery is late again, order {i}" for i in range(10)]
    + [f"the parcel never arrived, tracking {i}" for i in range(5)]
    + [f"refund not received for invoice {i}" for i in range(10)]
    + [f"the staff in store {i} were rude" for i in range(10)]
)


def test_clean_handles_control_characters_urls_and_length() -> None:
    assert clean("  Still   WAITING!!\x00 see https://x.co/a @united &amp; ") == (
        "still waiting!! see url @user &"
    )
    assert clean("a\u200bb\u202ec") == "a b c"
    assert len(clean("x" * 1_000_000)) == 2000
    assert clean("🙂") == "🙂"


def test_vectoriser_is_unit_norm_and_deterministic() -> None:
    v = NgramTfidf.fit(["hello world", "hello there", "good bye"])
    idx, val = v.vector("hello world")
    assert sum(x * x for x in val) == pytest.approx(1.0, abs=1e-5)
    assert (idx, val) == v.vector("hello world")
    assert v.vector("") == ([], [])


def test_themes_group_and_label_texts() -> None:
    model = find_themes(TEXTS, k=3, encoder="tfidf")
    assert [t.id for t in model.themes] == [0, 1, 2]
    assert sum(t.size for t in model.themes) == len(TEXTS)
    labels = {t.label for t in model.themes}
    assert any("refund" in label for label in labels)
    assert any("staff" in label or "rude" in label for label in labels)
    again = find_themes(TEXTS, k=3, encoder="tfidf")
    assert again.themes == model.themes
    ids = assign_theme(["refund not received for invoice 99", ""], model)
    refund_theme = next(t.id for t in model.themes if "refund" in t.label)
    assert ids == [refund_theme, None]


def test_count_by_period() -> None:
    times = [datetime(2026, 11, d, tzinfo=UTC) for d in (2, 3, 10)]
    assert count_by_period([0, None, 0], times, "week") == {
        "2026-W45": {0: 1, None: 1},
        "2026-W46": {0: 1},
    }
    with pytest.raises(ValueError, match="period must be"):
        count_by_period([0], times[:1], "year")


def test_generic_csv_with_and_without_split(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label,split\nhi,greet,train\nbye,oos,test\n", encoding="utf-8")
    rows = datasets.load(path)
    assert [(r.text, r.label, r.split) for r in rows] == [
        ("hi", "greet", "train"),
        ("bye", "oos", "test"),
    ]
    path.write_text("text,label\n" + "".join(f"t{i},a\n" for i in range(20)), encoding="utf-8")
    splits = [r.split for r in datasets.load(path)]
    assert splits.count("train") == 16
    assert splits.count("val") == 2
    assert splits.count("test") == 2
    assert splits == [r.split for r in datasets.load(path)]


def test_metrics() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.5], [0.5]) == 0.5
    assert nmi(["a", "a", "b", "b"], [1, 1, 2, 2]) == pytest.approx(1.0)
    assert purity(["a", "a", "b", "b"], [1, 1, 1, 2]) == 0.75


def test_public_datasets_load_with_documented_counts() -> None:
    from heedful.ml.paths import datasets_dir

    base = datasets_dir()
    if not (base / "clinc150").is_dir():
        pytest.skip(f"public datasets not found in {base} (set HEEDFUL_DATASETS_DIR)")
    clinc = datasets.load(base / "clinc150")
    assert len(clinc) == 23700
    assert sum(r.label == "oos" for r in clinc) == 1200
    tweets = datasets.load(base / "twitter-airline-sentiment" / "Tweets.csv")
    assert len(tweets) == 14485  # deduplicated on tweet_id
    assert [sum(r.split == s for r in tweets) for s in ("train", "val", "test")] == [
        11590,
        1448,
        1447,
    ]
    assert len(datasets.load(base / "mams-absa" / "MAMS-ACSA")) == 3949


def test_a_batch_transform_gives_each_text_the_vector_it_gets_alone() -> None:
    texts = [
        "where is my parcel",
        "Where is my parcel?? still no parcel, parcel parcel!",
        "",
        "🙂🙂",
        "Ünïcödé ﬁancée café",
        "unseen words only: zyxw qvvv",
        "refund " * 300,
    ]
    tfidf = NgramTfidf.fit([*texts[:2], "my refund is late", "a café in town"])
    matrix = tfidf.transform(texts)
    assert matrix.shape == (7, tfidf.n_features)
    for row, text in enumerate(texts):
        idx, val = tfidf.vector(text)
        got = matrix[row]
        assert got.indices.tolist() == idx
        assert got.data.tolist() == np.asarray(val, dtype=np.float32).tolist()
    assert matrix[2].nnz == 0


def test_generic_csv_takes_common_split_names_and_refuses_unknown_ones(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "Text, Label ,SPLIT\nhi,greet,Training\nhello,greet,validation\nhey,greet,dev\n"
        "bye,oos,TEST\nyo,greet,\n",
        encoding="utf-8",
    )
    rows = datasets.load(path)
    assert [(r.text, r.split) for r in rows[:4]] == [
        ("hi", "train"),
        ("hello", "val"),
        ("hey", "val"),
        ("bye", "test"),
    ]
    assert rows[4].split in ("train", "val", "test")  # an empty cell: the fixed stratified split

    path.write_text("text,label,split\nhi,greet,train\nbye,oos,holdout\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown split value\\(s\\) 'holdout'"):
        datasets.load(path)
    path.write_text("text,label,split\nhi,greet,train\nbye,,test\n", encoding="utf-8")
    with pytest.raises(ValueError, match="1 row\\(s\\) with text but no label"):
        datasets.load(path)
