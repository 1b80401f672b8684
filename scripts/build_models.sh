#!/usr/bin/env bash
# Build the text engine's models once (the sentiment model needs ../shared/datasets or
# HEEDFUL_DATASETS_DIR; without them it is left out and heedful reports sentiment as unavailable):
# MiniLM exported to int8 ONNX in a separate venv with torch (never in the run-time venv), static
# word-piece embeddings distilled from that ONNX file (run-time venv, onnxruntime only, 2-3 min),
# and the sentiment model trained from it. Idempotent: a second run says "up to date".
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/heedful ] || bash scripts/install.sh --no-models
if [ ! -x .venv-build/bin/python ]; then
  python3 -m venv .venv-build
  # Every version pinned (requirements/build.txt): the exported file depends on them, and an
  # unpinned torch pulls a multi-GB CUDA build.
  .venv-build/bin/python -m pip install -q -r requirements/build.txt \
    2>&1 | grep -v -E "^WARNING: Location .* is ignored" || true
fi
# HEEDFUL_FINETUNE_SENTIMENT=1 also fine-tunes the sentiment classifier (opt-in, ~7 min on 2 cores;
# see `heedful ml build --help`).
finetune=()
[ "${HEEDFUL_FINETUNE_SENTIMENT:-0}" = "1" ] && finetune=(--finetune-sentiment)
tweets="${HEEDFUL_DATASETS_DIR:-../shared/datasets}/twitter-airline-sentiment/Tweets.csv"
sentiment=()
if [ ! -f "$tweets" ]; then
  echo "build_models: no $tweets, so no sentiment model; heedful runs and reports sentiment as"
  echo "unavailable until this script runs again with the datasets (or HEEDFUL_DATASETS_DIR)."
  sentiment=(--no-sentiment)
fi
.venv/bin/heedful ml build --build-python .venv-build/bin/python "${finetune[@]}" "${sentiment[@]}"
