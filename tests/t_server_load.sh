#!/bin/sh
# t_server_load.sh — the server under concurrent load, kill -9 and SIGTERM
# (tests/py/server_load.py): rows in the database == predictions answered
# 200, integrity_check ok, nothing answered is ever lost.
set -eu
: "${SCANLITE:?}" "${PY:?}" "${OUT:?}"
if ! "$PY" -c 'import torch, onnx, PIL' 2>/dev/null; then
    echo "skip: $PY lacks torch/onnx/PIL (needed to build the test model)"
    exit 77
fi
HERE=$(cd "$(dirname "$0")" && pwd)
"$PY" "$HERE/py/server_fixtures.py" "$OUT/fx"
"$SCANLITE" convert "$OUT/fx/tiny.onnx" -o "$OUT/fx/tiny.slm" --labels "$OUT/fx/labels.txt" \
    --resize 0 --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 >/dev/null
cd "$HERE/py"
exec "$PY" server_load.py "$SCANLITE" "$OUT/fx" "$OUT/run"
