#!/bin/sh
# t_server_cli.sh — the server process: bad models refused, configuration
# from the environment and files, JSON logs, first-start admin, user and
# key commands, bounded queue (tests/py/server_cli.py).
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
exec "$PY" server_cli.py "$SCANLITE" "$OUT/fx" "$OUT/run"
