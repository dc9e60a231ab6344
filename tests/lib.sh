# lib.sh — shared helpers of the script tests (sourced, POSIX sh).
# Needs SCANLITE, PY, OUT from tests/run.sh.

# skip WHY: exit 77 with a reason as the last line.
skip() { echo "skipped: $*"; exit 77; }

# need_torch: skip unless $PY has torch, torchvision, onnx and numpy.
need_torch() {
    "$PY" -c 'import torch, torchvision, onnx, numpy' 2>/dev/null ||
        skip "$PY lacks torch/torchvision/onnx/numpy (make deps installs python3-torch python3-torchvision python3-onnx python3-numpy)"
}

# need_testdata: skip unless ../shared/testdata is beside the repo.
need_testdata() {
    [ -n "${TESTDATA:-}" ] && [ -d "$TESTDATA" ] || skip "../shared/testdata is absent"
}

fails=0
# check NAME CMD...: runs CMD, counts a failure (and prints it) on non-zero exit.
check() {
    _what=$1; shift
    if "$@"; then :; else echo "FAIL: $_what"; fails=$((fails + 1)); fi
}

# expect_fail NAME CMD...: CMD must exit non-zero, not crash (exit < 128),
# and print exactly one line on stderr.
expect_fail() {
    _what=$1; shift
    "$@" >"$OUT/ef.out" 2>"$OUT/ef.err" </dev/null
    _rc=$?
    _lines=$(wc -l <"$OUT/ef.err")
    if [ $_rc -eq 0 ] || [ $_rc -ge 128 ] || [ "$_lines" -lt 1 ]; then
        echo "FAIL: $_what: exit $_rc, stderr: $(head -c 300 "$OUT/ef.err")"
        fails=$((fails + 1))
    else
        echo "ok: $_what -> $(head -n 1 "$OUT/ef.err")"
    fi
}

finish() {
    echo "$fails failures"
    [ "$fails" -eq 0 ]
}
