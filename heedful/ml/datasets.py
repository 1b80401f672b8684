"""Read evaluation data: the generic ``text,label,split`` format plus three public datasets as-is.

Generic format (what ``heedful eval`` accepts for any dataset):

* CSV with a header containing ``text`` and ``label`` and optionally ``split``
  (``train`` | ``val`` | ``test``; also ``training``, ``validation``/``valid``/``dev``,
  ``testing``; column names and splits in any case); label ``oos`` marks an out-of-scope
  example. Any other split value is an error, not silently re-split.
* JSON: a list of objects with the same keys, or a dict ``split -> [[text, label], ...]`` (the
  CLINC150 layout; ``oos_train``/``oos_val``/``oos_test`` are folded into train/val/test).

Rows without a split (no ``split`` column, or an empty cell) get a fixed stratified 80/10/10
split (:func:`stratified_split`).
Also read directly: CLINC150 ``data_full.json``, the airline ``Tweets.csv`` (deduplicated on
tweet_id, first occurrence kept) and MAMS-ACSA XML (label = the sentence's first category).
"""

from __future__ import annotations

import csv
import hashlib
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    split: str
    labels: tuple[str, ...] = ()  # all labels when a text has several (MAMS)
    time: str = ""  # timestamp when the source has one (tweets)


def stratified_split(keys: list[str], labels: list[str]) -> list[str]:
    """Fixed stratified 80/10/10 split: within each label, rows sorted by sha256(key) are dealt
    8 to train, 1 to val, 1 to test in turn. Depends only on the keys, not on row order."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    out = [""] * len(keys)
    for rows in by_label.values():
        rows.sort(key=lambda i: (hashlib.sha256(keys[i].encode("utf-8")).hexdigest(), i))
        for position, i in enumerate(rows):
            slot = position % 10
            out[i] = "train" if slot < 8 else ("val" if slot == 8 else "test")
    return out


Pairs = list[tuple[str, str]]


def carve_validation(rows: Pairs, every: int = 9) -> tuple[Pairs, Pairs]:
    """Split a training set without a validation split into (train, val), fixed and stratified.

    Within each label, rows sorted by sha256(text) are dealt ``every - 1`` to train and 1 to val
    (1 in 9 keeps the 80/10 proportion of :func:`stratified_split`). A label with fewer than
    ``every`` rows stays in train whole: holding out its only examples would teach nothing about
    it. Depends only on the rows, not on their order."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, (_, label) in enumerate(rows):
        by_label[label].append(i)
    held: set[int] = set()
    for members in by_label.values():
        if len(members) < every:
            continue
        members.sort(key=lambda i: (hashlib.sha256(rows[i][0].encode("utf-8")).hexdigest(), i))
        held.update(i for position, i in enumerate(members) if position % every == every - 1)
    return (
        [row for i, row in enumerate(rows) if i not in held],
        [row for i, row in enumerate(rows) if i in held],
    )


class DatasetError(ValueError):
    """A file that is not a dataset this module can read; the message says what is wrong."""


def load(path: str | Path) -> list[Row]:
    """Load any supported file; see the module docstring. Raises :class:`DatasetError`."""
    try:
        return _load(Path(path))
    except DatasetError:
        raise
    except UnicodeDecodeError as exc:
        # Guessing another encoding could turn "café" into "cafÃ©" without a word: ask instead.
        raise DatasetError(
            f"{path}: is not UTF-8 text (byte {exc.object[exc.start]:#04x} at position {exc.start}); "
            "save it as UTF-8 (in a spreadsheet: CSV UTF-8) and try again"
        ) from exc
    except (json.JSONDecodeError, csv.Error, ET.ParseError) as exc:
        raise DatasetError(f"{path}: cannot be read as a dataset ({exc})") from exc
    except (KeyError, TypeError, ValueError) as exc:
        # A JSON list item without "text"/"label", or a split whose items are not [text, label].
        raise DatasetError(
            f"{path}: not in a dataset layout this reads ({type(exc).__name__}: {exc}); "
            "see `heedful eval --help`"
        ) from exc


def _load(source: Path) -> list[Row]:
    if source.is_dir() and (source / "train.xml").is_file():
        return load_mams(source)
    if source.is_dir():
        for candidate in ("data/data_full.json", "data_full.json", "Tweets.csv", "MAMS-ACSA"):
            if (source / candidate).exists():
                return _load(source / candidate)
        raise DatasetError(f"{source}: no dataset file found in this directory")
    if source.name.endswith(".xml"):
        return load_mams(source.parent)
    if source.suffix == ".json":
        return _load_json(source)
    with open(source, encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    if {"tweet_id", "airline_sentiment", "text"} <= set(header):
        return load_tweets(source)
    return _load_csv(source)


def _finish(texts: list[str], labels: list[str], splits: list[str], source: Path) -> list[Row]:
    unlabelled = sum(1 for label in labels if not label)
    if unlabelled:
        raise DatasetError(f"{source}: {unlabelled} row(s) with text but no label")
    unknown = sorted({s for s in splits if s and s not in SPLIT_NAMES})
    if unknown:
        # Re-splitting them would mix a dataset's own test rows into training without a word.
        raise DatasetError(
            f"{source}: unknown split value(s) {', '.join(map(repr, unknown[:5]))}; "
            "use train, val or test (or leave the cell empty for a fixed stratified split)"
        )
    splits = [SPLIT_NAMES.get(s, "") for s in splits]
    if "" in splits:
        missing = stratified_split(texts, labels)
        splits = [s or m for s, m in zip(splits, missing, strict=True)]
    return [Row(t, lab, s) for t, lab, s in zip(texts, labels, splits, strict=True)]


def _load_csv(source: Path) -> list[Row]:
    with open(source, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames:
            reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
        if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
            raise DatasetError(f"{source}: expected a CSV header with columns text,label[,split]")
        rows = [r for r in reader if (r.get("text") or "").strip()]
    return _finish(
        [r["text"] for r in rows],
        [(r["label"] or "").strip() for r in rows],
        [(r.get("split") or "").strip().lower() for r in rows],
        source,
    )


def _load_json(source: Path) -> list[Row]:
    data = json.loads(source.read_text(encoding="utf-8"))
    texts: list[str] = []
    labels: list[str] = []
    splits: list[str] = []
    if isinstance(data, dict):
        for key, items in sorted(data.items()):
            split = key.removeprefix("oos_")
            for text, label in items:
                texts.append(text)
                labels.append("oos" if key.startswith("oos_") else label)
                splits.append(split)
    else:
        for item in data:
            texts.append(item["text"])
            labels.append(str(item["label"]))
            splits.append(str(item.get("split", "")).lower())
    return _finish(texts, labels, splits, source)


def load_tweets(path: str | Path) -> list[Row]:
    """Airline tweets: dedupe on tweet_id (first occurrence kept), fixed stratified split."""
    seen: set[str] = set()
    keys: list[str] = []
    texts: list[str] = []
    labels: list[str] = []
    times: list[str] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            if record["tweet_id"] in seen:
                continue
            seen.add(record["tweet_id"])
            keys.append(record["tweet_id"])
            texts.append(record["text"])
            labels.append(record["airline_sentiment"])
            times.append(record.get("tweet_created", ""))
    splits = stratified_split(keys, labels)
    return [Row(t, lab, s, time=tm) for t, lab, s, tm in zip(texts, labels, splits, times, strict=True)]


def load_mams(folder: str | Path) -> list[Row]:
    """MAMS-ACSA sentences with their categories (train/val/test files)."""
    base = Path(folder)
    if (base / "MAMS-ACSA").is_dir():
        base = base / "MAMS-ACSA"
    rows = []
    for split in SPLITS:
        tree = ET.parse(base / f"{split}.xml")  # noqa: S314 - local, known public dataset files
        for sentence in tree.getroot().iter("sentence"):
            text = (sentence.findtext("text") or "").strip()
            cats = tuple(c.get("category", "") for c in sentence.iter("aspectCategory"))
            if text and cats:
                rows.append(Row(text, cats[0], split, labels=cats))
    return rows
