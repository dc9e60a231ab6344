#!/bin/sh
# run.sh — `make bench`: checks the tools, installs onnxruntime-node (pinned in
# bench/package.json) into bench/node_modules on first use, then runs
# bench/bench.py, which measures scanlite, ONNX Runtime and PyTorch
# interleaved and writes bench/results/<date>.json and .png.
# Env: PY (Python with torch; default /usr/bin/python3), SCANLITE (binary;
# default ./scanlite), BENCH_REPS (default 5), BENCH_QUICK=1 (fewer inner runs),
# BENCH_GHZ (a clock for the peak figure instead of measuring it).
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
SCANLITE=${SCANLITE:-./scanlite}
export PYTHONDONTWRITEBYTECODE=1

die() {
    echo "bench: $*" >&2
    exit 1
}

[ -x "$SCANLITE" ] || die "$SCANLITE not found: build it first (make)"
command -v node >/dev/null 2>&1 || die "node not found: install the Debian packages nodejs and npm"
command -v npm >/dev/null 2>&1 || die "npm not found: install the Debian package npm"
"$PY" -c 'import torch, torchvision, onnx, numpy, PIL' 2>/dev/null ||
    die "$PY cannot import torch, torchvision, onnx, numpy and PIL: install python3-torch python3-torchvision python3-onnx python3-numpy python3-pil, or set PY"

want=$(node -p "require('./bench/package.json').dependencies['onnxruntime-node']")
have=$(cd bench && node -p "require('onnxruntime-node/package.json').version" 2>/dev/null) || have=""
if [ "$have" != "$want" ]; then
    echo "bench: installing onnxruntime-node $want into bench/node_modules (CPU binaries only)" >&2
    # The package's postinstall fetches CUDA libraries; skipping it keeps the
    # install offline-safe apart from the registry download itself.
    (cd bench && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
        timeout 900 npm install --no-audit --no-fund --loglevel=error >&2) ||
        die "npm install of onnxruntime-node $want failed (no access to the npm registry?)"
fi
(cd bench && node -e "require('onnxruntime-node')") ||
    die "onnxruntime-node does not load in node $(node --version); remove bench/node_modules and retry"

# The peak behind "% of peak" is measured (bench/fma_peak.c), not read from
# the OS (a hypervisor shows its base clock, not the one the core runs at).
mkdir -p build/bench
if cc -O2 -o build/bench/fma_peak bench/fma_peak.c 2>/dev/null; then
    export BENCH_FMA_PEAK="$PWD/build/bench/fma_peak"
fi

quick=""
[ "${BENCH_QUICK:-0}" = 1 ] && quick=--quick
# The whole run takes ~5-10 minutes on 2 cores; the bound only stops a hang.
exec timeout 3600 "$PY" bench/bench.py "$SCANLITE" $quick
