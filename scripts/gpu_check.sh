#!/usr/bin/env bash
# GPU check (issue 9, item 3): at most about 8 minutes on one H200.
#
#   (a) builds builders/tiny-cpu.yaml on CUDA (bfloat16) and compares its negatives with the
#       CPU (float32) release leaderboard/releases/negsamp-tiny-0.1.0: how many agree, by how much
#       they differ;
#   (b) runs `negsamp throughput` on a Llama-3.1-8B-shaped model with random weights built from
#       scripts/llama31_8b_config.json (nothing is downloaded; speed does not depend on weight
#       values): prompts 4096 and 8192, batch 1, 8, 32; the baseline `none` against
#       `streamingllm:budget=2048` and against `kivi:bits=4`;
#   then writes both tables, with the fraction of the HBM-bandwidth roofline reached, to
#   docs/gpu_check.md (and prints them).
#
#   scripts/gpu_check.sh              # on the GPU machine
#   scripts/gpu_check.sh --dry-run    # the same steps on the CPU in seconds: a tiny config, tiny
#                                     # sizes, (a) compares the release with itself; writes OUT only
#   options: --out DIR (default build/gpu_check), --skip-build (only (b); (a) compares the release)
set -euo pipefail
cd "$(dirname "$0")/.."
NEGSAMP=${NEGSAMP:-.venv/bin/negsamp}
PYTHON=${PYTHON:-.venv/bin/python}
RELEASE=leaderboard/releases/negsamp-tiny-0.1.0
MODE=gpu OUT=build/gpu_check BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) MODE=dry ;;
    --skip-build) BUILD=0 ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$MODE" = gpu ]; then
  DEVICE=cuda CONFIG=scripts/llama31_8b_config.json PROMPTS="4096 8192" BATCHES=1,8,32 BUDGET=2048
  GEN=32 REPEATS=2 HBM=4.8e12 DOC=docs/gpu_check.md TITLE="GPU check (one H200)"
  "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check.sh: torch sees no CUDA device (use --dry-run on a CPU)')"
else
  DEVICE=cpu CONFIG=scripts/tiny_llama_config.json PROMPTS="64 96" BATCHES=1,2 BUDGET=32
  GEN=4 REPEATS=1 HBM="" DOC=$OUT/gpu_check.md TITLE="GPU check, dry run on the CPU (tiny config; not GPU figures)"
  BUILD=0
fi
mkdir -p "$OUT"
start=$SECONDS

BUILT=$RELEASE
if [ "$BUILD" = 1 ]; then
  echo "== (a) build builders/tiny-cpu.yaml on $DEVICE"
  "$NEGSAMP" build builders/tiny-cpu.yaml --device "$DEVICE" --out "$OUT/tiny-$DEVICE" --no-progress
  BUILT=$OUT/tiny-$DEVICE/dataset
fi

RUNS=()
for PROMPT in $PROMPTS; do
  for METHOD in "streamingllm:budget=$BUDGET" "kivi:bits=4"; do
    DIR=$OUT/throughput-$PROMPT-${METHOD%%:*}
    echo "== (b) throughput prompt $PROMPT, $METHOD vs none, batch $BATCHES  ($((SECONDS - start)) s so far)"
    "$NEGSAMP" throughput --model "$CONFIG" --method "$METHOD" --device "$DEVICE" --batch-sizes "$BATCHES" \
      --prompt-len "$PROMPT" --gen-len "$GEN" --repeats "$REPEATS" --warmup 1 --out "$DIR" --no-progress >/dev/null
    RUNS+=("$DIR")
  done
done

"$PYTHON" scripts/gpu_report.py --release "$RELEASE" --built "$BUILT" --throughput "${RUNS[@]}" \
  ${HBM:+--hbm "$HBM"} --title "$TITLE" --out "$DOC"
echo "gpu_check.sh: done in $((SECONDS - start)) s; wrote $DOC"
