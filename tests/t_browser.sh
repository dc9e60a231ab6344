#!/bin/sh
# t_browser.sh — the web page in a real browser: starts `scanlite serve` on a
# free loopback port (fresh database and data dir, the demo model or a tiny
# test model), reads the first-start admin password from the data dir, and
# runs tests/browser/web_test.mjs in headless Debian chromium via
# playwright-core (installed into tests/browser/node_modules on first use).
# Skips (77) without /usr/bin/chromium, node or npm. Screenshots: $OUT/shots.
set -eu
: "${SCANLITE:?}" "${PY:?}" "${OUT:?}"
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium; make deps installs it)"
command -v node >/dev/null 2>&1 || skip "no node (apt-get install nodejs npm)"

if [ ! -f "$HERE/browser/node_modules/playwright-core/package.json" ]; then
    command -v npm >/dev/null 2>&1 || skip "no npm to install playwright-core (apt-get install npm)"
    (cd "$HERE/browser" && npm install --no-audit --no-fund --no-package-lock >"$OUT/npm.log" 2>&1) ||
        skip "npm could not install playwright-core (offline?): see $OUT/npm.log"
fi

# The model: the shipped demo model and two of its evaluation images (one per
# class), else a tiny CNN made with Debian's torch.
if [ -f "$ROOT/weights/demo-xray.slm" ] && [ -f "$ROOT/tests/data/demo_eval/labels.csv" ]; then
    MODEL="demo-xray=$ROOT/weights/demo-xray.slm"
    EVAL="$ROOT/tests/data/demo_eval"
    IMAGE1="$EVAL/$(awk -F, '$2 == "normal" { print $1; exit }' "$EVAL/labels.csv")"
    IMAGE2="$EVAL/$(awk -F, 'NR > 1 && $2 != "normal" { print $1; exit }' "$EVAL/labels.csv")"
else
    "$PY" -c 'import torch, onnx, PIL' 2>/dev/null ||
        skip "no weights/demo-xray.slm and $PY lacks torch/onnx/PIL to build a test model"
    "$PY" "$HERE/py/server_fixtures.py" "$OUT/fx"
    "$SCANLITE" convert "$OUT/fx/tiny.onnx" -o "$OUT/fx/tiny.slm" --labels "$OUT/fx/labels.txt" \
        --resize 0 --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 >/dev/null
    MODEL="tiny=$OUT/fx/tiny.slm"
    IMAGE1="$OUT/fx/img/s01.png"
    IMAGE2="$OUT/fx/img/s02.jpg"
fi
[ -f "$IMAGE1" ] && [ -f "$IMAGE2" ] || { echo "FAIL: test images missing: $IMAGE1 $IMAGE2"; exit 1; }

# Nothing from the caller's environment configures this server.
unset SCANLITE_PORT SCANLITE_HOST SCANLITE_MODELS SCANLITE_DB SCANLITE_DATA_DIR PORT API_KEY \
    SCANLITE_API_KEY_FILE SCANLITE_LOG_JSON 2>/dev/null || true
"$SCANLITE" serve --host 127.0.0.1 --port 0 -m "$MODEL" --db "$OUT/scanlite.db" \
    --data-dir "$OUT/data" >"$OUT/serve.out" 2>"$OUT/serve.log" &
PID=$!
stop() {
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
}
trap stop EXIT INT TERM

PORT=""
i=0
while [ $i -lt 300 ]; do
    PORT=$(sed -n 's|.*listening on http://[^:]*:\([0-9][0-9]*\).*|\1|p' "$OUT/serve.log" | head -n 1)
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || { echo "FAIL: the server exited:"; cat "$OUT/serve.log"; exit 1; }
    sleep 0.2
    i=$((i + 1))
done
[ -n "$PORT" ] || { echo "FAIL: the server did not start listening"; cat "$OUT/serve.log"; exit 1; }
BASE="http://127.0.0.1:$PORT"
i=0
until curl -fs "$BASE/ready" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 300 ] || { echo "FAIL: $BASE/ready stayed unready"; cat "$OUT/serve.log"; exit 1; }
    sleep 0.2
done
ct=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$BASE/")
case $ct in
"200 text/html"*) ;;
*) echo "FAIL: GET / answered '$ct', not the web page (is srv_h_web in the route table?)"; exit 1 ;;
esac
[ -s "$OUT/data/admin-password" ] || { echo "FAIL: no $OUT/data/admin-password after the first start"; exit 1; }
ADMIN_PASSWORD=$(head -n 1 "$OUT/data/admin-password")

mkdir -p "$OUT/shots"
rc=0
BASE_URL="$BASE" ADMIN_PASSWORD="$ADMIN_PASSWORD" IMAGE1="$IMAGE1" IMAGE2="$IMAGE2" OUT="$OUT/shots" \
    timeout 600 node "$HERE/browser/web_test.mjs" || rc=$?
rm -rf "$OUT"/shots/chromium-profile-*
trap - EXIT INT TERM
kill -TERM "$PID"
src=0
wait "$PID" || src=$?
[ "$src" -eq 0 ] || { echo "FAIL: the server exited with $src after SIGTERM"; rc=1; }
echo "screenshots: $OUT/shots"
exit "$rc"
