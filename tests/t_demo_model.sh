#!/bin/sh
# The shipped demo model (weights/demo-xray.slm): its SHA-256 is the one in
# weights/README.md, it reaches >= 95% accuracy on the stored held-out
# simulated set (tests/data/demo_eval, 200 images) measured THROUGH
# `scanlite predict --json`, and the generator tools/simxray.py is
# deterministic and produced that set (part skipped without numpy/PIL);
# `bench --profile` reports every node of it.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL="$ROOT/weights/demo-xray.slm"
EVAL="$ROOT/tests/data/demo_eval"
[ -x "$SCANLITE" ] || skip "no scanlite binary at $SCANLITE"
[ -f "$MODEL" ] || { echo "FAIL: $MODEL is missing (sh weights/make_demo.sh re-makes it)"; exit 1; }
[ -f "$EVAL/labels.csv" ] || { echo "FAIL: $EVAL/labels.csv is missing"; exit 1; }

# shellcheck disable=SC2016  # the backquotes are literal Markdown
want=$(sed -n 's/^SHA-256: `\([0-9a-f]\{64\}\)`.*/\1/p' "$ROOT/weights/README.md")
have=$(sha256sum "$MODEL" | cut -d' ' -f1)
if [ -n "$want" ] && [ "$want" = "$have" ]; then
    echo "ok: SHA-256 $have as in weights/README.md"
else
    echo "FAIL: SHA-256 of $MODEL is $have, weights/README.md says '${want:-nothing}'"
    fails=$((fails + 1))
fi

# bench --profile: one row per node of the loaded graph (as `inspect` counts
# them), each with a time and a share, convs with their kernel (the stem a
# GEMM, the 3x3 stride-1 convs Winograd), the sum line; refused with --json
nodes=$("$SCANLITE" inspect "$MODEL" | sed -n 's/^nodes *\([0-9]*\).*/\1/p')
"$SCANLITE" bench -m "$MODEL" --iters 3 --warmup 1 --threads 2 --profile >"$OUT/profile.txt"
rows=$(grep -c '^ *[0-9][0-9]*  [A-Za-z]' "$OUT/profile.txt")
if [ -n "$nodes" ] && [ "$rows" -eq "$nodes" ] && grep -q "sum of node medians" "$OUT/profile.txt" &&
    grep -q '^ *0  Conv .*%.*  gemm ' "$OUT/profile.txt" &&
    grep -q '^ *[0-9]*  Conv .*  winograd F([24]x[24],3x3)$' "$OUT/profile.txt"; then
    echo "ok: bench --profile lists $rows nodes"
else
    echo "FAIL: bench --profile: $rows rows for ${nodes:-?} nodes"; cat "$OUT/profile.txt"
    fails=$((fails + 1))
fi
# at 2 threads, each thread's busy share of the summed node time: the
# caller runs every node, so well above 0; no thread above the whole time
busy=$(sed -n 's/^ *threads busy ([^)]*): *\([0-9]*\)% \([0-9]*\)%$/\1 \2/p' "$OUT/profile.txt")
set -- $busy
if [ $# -eq 2 ] && [ "$1" -ge 10 ] && [ "$1" -le 105 ] && [ "$2" -le 105 ]; then
    echo "ok: bench --profile threads busy $1% $2%"
else
    echo "FAIL: bench --profile threads busy line: '$busy'"; fails=$((fails + 1))
fi
expect_fail "bench --profile with --json" "$SCANLITE" bench -m "$MODEL" --json --profile

n=$(($(wc -l <"$EVAL/labels.csv") - 1))
check "held-out set has 200 images (has $n)" test "$n" -eq 200
check "demo model accuracy >= 95% through scanlite" \
    "$PY" "$ROOT/tests/py/demo_eval.py" "$SCANLITE" "$MODEL" "$EVAL" --min-acc 0.95

"$PY" "$ROOT/tests/py/demo_gen_check.py" "$ROOT/tools/simxray.py" "$EVAL" "$OUT/gen"
rc=$?
case $rc in
0) ;;
77) echo "note: generator determinism not checked ($PY lacks numpy/PIL)" ;;
*) echo "FAIL: generator check"; fails=$((fails + 1)) ;;
esac
finish
