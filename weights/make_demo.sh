#!/bin/sh
# make_demo.sh — re-makes weights/demo-xray.slm, scanlite's default demo model.
# Writes the held-out set tests/data/demo_eval (seed 3003, generator output,
# byte-identical on a re-run), trains on simulated images with Debian's
# PyTorch (weights/train_demo.py: seeds 1001 train / 2002 validation), exports
# ONNX, converts with `scanlite convert`, then measures the accuracy through
# `scanlite predict` and prints it with the SHA-256 for weights/README.md.
# Needs ./scanlite (run `make` first). Env: PY (default /usr/bin/python3),
# WORK (scratch dir, default build/demo-model).
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
WORK=${WORK:-build/demo-model}
SCANLITE=${SCANLITE:-./scanlite}
INPUT=96
[ -x "$SCANLITE" ] || { echo "make_demo.sh: no $SCANLITE: run make first" >&2; exit 1; }
"$PY" -c 'import torch, torchvision, numpy, PIL' ||
    { echo "make_demo.sh: $PY lacks torch/torchvision/numpy/PIL (apt-get install python3-torch python3-torchvision)" >&2; exit 1; }
mkdir -p "$WORK"

rm -rf tests/data/demo_eval
"$PY" tools/simxray.py --seed 3003 --count 200 --size 112 --out tests/data/demo_eval

start=$(date +%s)
"$PY" weights/train_demo.py --work "$WORK" --input "$INPUT"
echo "training took $(( $(date +%s) - start ))s"

read -r MEAN STD <"$WORK/norm.txt"
"$SCANLITE" convert "$WORK/demo.onnx" -o weights/demo-xray.slm --labels "$WORK/labels.txt" \
    --gray --input "1x${INPUT}x${INPUT}" --resize 0 --crop 0 --mean "$MEAN" --std "$STD" \
    --name demo-xray --output-activation softmax

"$PY" tests/py/demo_eval.py "$SCANLITE" weights/demo-xray.slm tests/data/demo_eval --min-acc 0.95
echo "size: $(wc -c <weights/demo-xray.slm) bytes"
echo "SHA-256: $(sha256sum weights/demo-xray.slm | cut -d' ' -f1)  (update weights/README.md)"
