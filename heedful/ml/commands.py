"""Click command groups for the lead's CLI: ``heedful eval ...`` and ``heedful ml build``.

Importing this module is cheap: numpy, scikit-learn and onnxruntime are imported inside the
commands. Datasets default to ``HEEDFUL_DATASETS_DIR`` or ``../shared/datasets``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

ENCODER_CHOICE = click.Choice(["auto", "tfidf", "static", "minilm", "hybrid"])


def _default_datasets() -> Path:
    from heedful.ml.paths import datasets_dir

    return datasets_dir()


def _quiet_blas() -> None:
    # onnxruntime and OpenBLAS threads fight on small machines (see docs/benchmarks).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _emit(result: dict[str, Any], as_json: bool, rows: list[tuple[str, str]]) -> None:
    if as_json:
        # Strict JSON (no NaN) for any consumer; an undefined metric is already None.
        click.echo(json.dumps(result, sort_keys=True, allow_nan=False))
        return
    width = max(len(k) for k, _ in rows)
    click.echo(f"| {'metric'.ljust(width)} | value |")
    click.echo(f"|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        click.echo(f"| {key.ljust(width)} | {value} |")


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f} %"


def _fixed(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.4f}"


class _EvalGroup(click.Group):
    """Turns a dataset the evaluation cannot use into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from heedful.ml.datasets import DatasetError

        try:
            return super().invoke(ctx)
        except DatasetError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group("eval", cls=_EvalGroup)
def eval_group() -> None:
    """Evaluate the text engine on a dataset (text,label,split CSV/JSON or a known public one)."""


@eval_group.command("intents")
@click.option("--data", "data", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--encoder", type=ENCODER_CHOICE, default="auto", show_default=True)
@click.option(
    "--target",
    "target",
    type=float,
    default=0.05,
    show_default=True,
    help="Wrong-answer rate the threshold is calibrated for (on val).",
)
def intents(data: Path, as_json: bool, encoder: str, target: float) -> None:
    """FAQ/intent matching with out-of-scope hand-off (fit on train, threshold on val)."""
    _quiet_blas()
    from heedful.ml.evaluate import evaluate_intents

    r = evaluate_intents(data, encoder=encoder, target_wrong_rate=target)
    rows = [
        (k, _pct(r[k]))
        for k in (
            "in_scope_accuracy",
            "oos_recall",
            "oos_precision",
            "accuracy_no_rejection",
            "answered_at_1pct",
            "answered_at_5pct",
            "wrong_answer_rate",
        )
    ]
    rows += [
        ("auroc", _fixed(r["auroc"])),
        ("threshold", f"{r['threshold']:.4f}"),
        ("encoder", r["encoder"]),
        ("fit seconds", str(r["fit_seconds"])),
    ]
    first = r["first_pass"]
    if first["kind"] != "none":
        rows += [
            ("first pass", first["kind"]),
            ("first pass settled", _pct(first["settled_share"])),
            ("first pass right when settled", _pct(first["settled_right"])),
        ]
    _emit(r, as_json, rows)


@eval_group.command("small-kbs")
@click.option("--data", "data", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (with every draw).")
@click.option("--draws", type=click.IntRange(1, 10_000), default=40, show_default=True)
@click.option(
    "--phrasings",
    type=click.IntRange(2, 1_000),
    default=8,
    show_default=True,
    help="Ways of asking per answer.",
)
@click.option(
    "--target",
    "target",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.05,
    show_default=True,
    help="Wrong-answer rate the owner asks for (1, 2 or 5 in 100 in the product).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--encoder", type=ENCODER_CHOICE, default="auto", show_default=True)
@click.option(
    "--not-covered",
    type=click.IntRange(0, 1_000),
    default=0,
    show_default=True,
    help="Questions of each of half the near-miss intents marked as not covered (trained as "
    "out-of-scope examples, as the knowledge page's list is).",
)
def small_kbs_cmd(
    data: Path,
    as_json: bool,
    draws: int,
    phrasings: int,
    target: float,
    seed: int,
    encoder: str,
    not_covered: int,
) -> None:
    """Small one-topic knowledge bases drawn from an intent dataset, trained as the knowledge
    app trains them: does the promised wrong-answer rate hold?"""
    _quiet_blas()
    from heedful.ml.small_kbs import evaluate_small_kbs

    r = evaluate_small_kbs(
        data,
        draws=draws,
        phrasings=phrasings,
        target_wrong_rate=target,
        seed=seed,
        encoder=encoder,
        not_covered=not_covered,
    )
    rows = [
        (
            "knowledge bases (draws)",
            f"{r['draws']} from {r['topics']} topics of {r['intents_in_topics']} intents",
        ),
        ("ways of asking per answer", str(r["phrasings"])),
        ("target wrong-answer rate", _pct(r["target_wrong_rate"])),
        ("realized, median of draws", _pct(r["realized_median"])),
        ("realized, mean of draws", _pct(r["realized_mean"])),
        ("draws over the target", f"{r['draws_over_target']} of {r['draws']}"),
        ("covered questions answered right, median", _pct(r["coverage_median"])),
        ("covered questions answered right, mean", _pct(r["coverage_mean"])),
        ("near-miss questions answered, mean", _pct(r["near_miss_answered_mean"])),
        ("far off-topic questions answered, mean", _pct(r["far_answered_mean"])),
        ("draws too thin to calibrate", str(r["thin_draws"])),
    ]
    rows += [
        ("marked not covered, per near-miss intent of the first half", str(not_covered)),
        ("near misses of the first half answered, mean", _pct(r["near_miss_shown_answered_mean"])),
        ("near misses of the other half answered, mean", _pct(r["near_miss_unseen_answered_mean"])),
    ]
    _emit(r, as_json, rows)


@eval_group.command("sentiment")
@click.option("--data", "data", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-baselines", is_flag=True, help="Skip VADER and TextBlob.")
def sentiment_cmd(data: Path, as_json: bool, no_baselines: bool) -> None:
    """Three-class sentiment (train on train, choose C on val, report test)."""
    _quiet_blas()
    from heedful.ml.evaluate import evaluate_sentiment

    r = evaluate_sentiment(data, baselines=not no_baselines)
    rows = [("accuracy", _pct(r["accuracy"])), ("macro_f1", _pct(r["macro_f1"]))]
    rows += [("fast model uses static", str(r["fast_static"]))]
    rows += [("escalated to full (auto)", _pct(r["auto_escalated_share"]))]
    for name in ("fast_model", "full_model", "auto_model"):
        if name in r:
            rows.append((name, f"{_pct(r[name]['accuracy'])} / {_pct(r[name]['macro_f1'])}"))
    for name, m in r.get("baselines", {}).items():
        value = m.get("skipped") or f"{_pct(m['accuracy'])} / {_pct(m['macro_f1'])}"
        rows.append((name, value))
    _emit(r, as_json, rows)


@eval_group.command("themes")
@click.option("--data", "data", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--k", type=int, default=None, help="Number of themes (default: number of labels).")
@click.option("--encoder", type=click.Choice(["minilm+tfidf", "minilm", "tfidf"]), default=None)
@click.option(
    "--segments/--whole-texts",
    default=True,
    show_default=True,
    help="Split texts into segments so a text can have several themes.",
)
def themes_cmd(data: Path, as_json: bool, k: int | None, encoder: str | None, segments: bool) -> None:
    """Themes against reference labels: NMI, purity, overlapping NMI, per-label precision/recall."""
    _quiet_blas()
    from heedful.ml.evaluate import evaluate_themes

    r = evaluate_themes(data, k=k, encoder=encoder, segment=segments)
    rows = [
        ("nmi (primary theme vs label)", f"{r['nmi']:.4f}"),
        ("purity", _pct(r["purity"])),
        ("multi_label_purity", _pct(r["multi_label_purity"])),
        ("overlapping_nmi (theme sets vs label sets)", f"{r['overlapping_nmi']:.4f}"),
        ("themes / labels per text", f"{r['themes_per_text']} / {r['labels_per_text']}"),
    ]
    for kind in ("one_to_one", "many_to_one"):
        m = r["categories"][kind]
        rows.append(
            (f"label P / R, {kind} (macro)", f"{_pct(m['macro_precision'])} / {_pct(m['macro_recall'])}")
        )
    rows += [("k", str(r["k"])), ("encoder", r["encoder"]), ("segmented", str(r["segmented"]))]
    for label, m in r["categories"]["one_to_one"]["per_label"].items():
        rows.append((f"label {label} (1:1)", f"{_pct(m['precision'])} / {_pct(m['recall'])}"))
    rows += [(f"theme {t['id']}", f"{t['label']} ({t['size']}, in {t['mentions']})") for t in r["themes"]]
    _emit(r, as_json, rows)


@click.group("ml")
def ml_group() -> None:
    """Build and inspect the text engine's artefacts."""


@ml_group.command("build")
@click.option(
    "--onnx/--no-onnx",
    default=True,
    show_default=True,
    help="Export MiniLM to int8 ONNX (needs the build extra).",
)
@click.option(
    "--datasets",
    "datasets",
    type=click.Path(path_type=Path),
    default=None,
    help="Datasets dir (default: HEEDFUL_DATASETS_DIR or ../shared/datasets).",
)
@click.option(
    "--build-python",
    default=None,
    help="Python of a venv with the build extra (default: HEEDFUL_BUILD_PYTHON).",
)
@click.option(
    "--static/--no-static",
    default=True,
    show_default=True,
    help="Distil static word-piece embeddings from the ONNX model (onnxruntime only, 2-3 min).",
)
@click.option(
    "--finetune-sentiment/--no-finetune-sentiment",
    "finetune",
    default=None,
    help="Fine-tune MiniLM as the sentiment classifier for unsure messages (needs the build extra, "
    "~7 min on 2 cores; more accurate, a third fewer triage messages/s); --no-... removes it. "
    "Default: keep what was built.",
)
@click.option(
    "--sentiment/--no-sentiment",
    default=True,
    show_default=True,
    help="Train the sentiment model from the airline tweets in the datasets dir; without it "
    "heedful reports sentiment as unavailable.",
)
@click.option("--force", is_flag=True, help="Retrain even if up to date.")
def build(
    onnx: bool,
    static: bool,
    sentiment: bool,
    datasets: Path | None,
    build_python: str | None,
    finetune: bool | None,
    force: bool,
) -> None:
    """Build artefacts into HEEDFUL_MODEL_DIR (idempotent)."""
    _quiet_blas()
    from heedful.ml.build import build_all
    from heedful.ml.paths import model_dir

    result = build_all(
        datasets or _default_datasets(),
        model_dir(),
        click.echo,
        onnx=onnx,
        static=static,
        finetune=finetune,
        sentiment=sentiment,
        build_python=build_python,
        force=force,
    )
    # Asked for and not built (no datasets): a failure, so that CI with the datasets notices.
    if sentiment and not result["sentiment"]:
        raise SystemExit(1)
