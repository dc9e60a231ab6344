#!/bin/sh
# run.sh — runs every test of `make test` and prints one closing line
# "tests: N passed, N failed, N skipped".
#   C unit binaries   $BUILD/tests/test_*   (each prints "name: P passed, F failed")
#   script tests      tests/t_*.sh          (exit 0 pass, 77 skip, other fail)
# TESTS="pattern ..." (shell globs over test names, e.g. "test_* t_cli")
# runs only the matching tests. Script tests get: SCANLITE (binary), PY (python with torch), TESTDATA
# (../shared/testdata, or empty when absent), OUT (a fresh scratch dir under $BUILD/test-out, so that
# runs of different build dirs never share scratch files; logs of the C binaries go there too).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PY:-/usr/bin/python3}
export PY BUILD
export SCANLITE="$PWD/$BUILD/scanlite"
if [ -d ../shared/testdata ]; then
    TESTDATA=$(cd ../shared/testdata && pwd)
else
    TESTDATA=""
    echo "note: ../shared/testdata is absent: tests on shared real-world files are skipped"
fi
export TESTDATA
OUTROOT="$PWD/$BUILD/test-out"
mkdir -p "$OUTROOT"
pass=0 fail=0 skip=0 failed_names=""
# selected NAME: 0 when NAME matches one of $TESTS (or TESTS is empty).
selected() {
    [ -z "${TESTS:-}" ] && return 0
    for pat in $TESTS; do
        # shellcheck disable=SC2254
        case $1 in $pat) return 0 ;; esac
    done
    return 1
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    selected "$(basename "$t")" || continue
    log="$OUTROOT/$(basename "$t").log"
    # a hung binary fails (exit 124) instead of stalling the whole run
    timeout -k 10 1800 "$t" >"$log" 2>&1
    rc=$?
    line=$(grep -E '^[a-z_0-9]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    [ -n "$p" ] || p=0
    [ -n "$f" ] || f=0
    if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ $rc -ne 0 ]; then
        failed_names="$failed_names $(basename "$t")"
        echo "FAIL $(basename "$t") (exit $rc)"; tail -n 30 "$log"
    else
        echo "ok   $(basename "$t") ($p checks)"
    fi
done
for t in tests/t_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    selected "$name" || continue
    OUT="$OUTROOT/$name"
    rm -rf "$OUT"; mkdir -p "$OUT"
    export OUT
    start=$(date +%s)
    sh "$t" >"$OUT.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    case $rc in
    0) pass=$((pass + 1)); echo "ok   $name (${secs}s)" ;;
    77) skip=$((skip + 1)); echo "skip $name: $(tail -n 1 "$OUT.log")" ;;
    *) fail=$((fail + 1)); failed_names="$failed_names $name"
       echo "FAIL $name (exit $rc, ${secs}s)"; tail -n 40 "$OUT.log" ;;
    esac
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
