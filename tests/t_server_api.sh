#!/bin/sh
# t_server_api.sh — starts a real `scanlite serve` on a free loopback port
# and drives every endpoint: shapes, pagination, filters, CSV, image round
# trip, batch order, feedback upsert, stats arithmetic, Grad-CAM heatmaps
# (explain=1), users and keys over HTTP, the role x route authorization
# matrix and the bad-input list (tests/py/server_api.py).
set -eu
: "${SCANLITE:?}" "${PY:?}" "${OUT:?}"
if ! "$PY" -c 'import torch, onnx, PIL' 2>/dev/null; then
    echo "skip: $PY lacks torch/onnx/PIL (needed to build the test model)"
    exit 77
fi
HERE=$(cd "$(dirname "$0")" && pwd)
"$PY" "$HERE/py/server_fixtures.py" "$OUT/fx"
for m in tiny mlp; do
    "$SCANLITE" convert "$OUT/fx/$m.onnx" -o "$OUT/fx/$m.slm" --labels "$OUT/fx/labels.txt" \
        --resize 0 --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 >/dev/null
done
cd "$HERE/py"
exec "$PY" server_api.py "$SCANLITE" "$OUT/fx" "$OUT/run"
