#!/bin/sh
# The command-line tool's contract: --help on every subcommand, and a
# non-zero exit with a one-line message (never a crash) on bad usage, bad
# model files and bad images.
. "$(dirname "$0")/lib.sh"
for c in convert inspect predict run preprocess bench serve key user; do
    check "$c --help" sh -c "'$SCANLITE' $c --help | grep -q usage"
done
check "top-level --help" sh -c "'$SCANLITE' --help | grep -q predict"
expect_fail "unknown command" "$SCANLITE" frobnicate
expect_fail "predict without model" "$SCANLITE" predict x.png
expect_fail "missing model file" "$SCANLITE" predict -m "$OUT/none.slm" x.png
printf 'not a model at all' >"$OUT/bad.slm"
expect_fail "garbage model" "$SCANLITE" inspect "$OUT/bad.slm"
: >"$OUT/empty.slm"
expect_fail "empty model" "$SCANLITE" run -m "$OUT/empty.slm" --input /dev/null --output "$OUT/o.f32"
printf 'garbage' >"$OUT/bad.onnx"
expect_fail "garbage onnx" "$SCANLITE" convert "$OUT/bad.onnx" -o "$OUT/x.slm"
printf 'PK\003\004garbage' >"$OUT/bad.pth"
expect_fail "garbage pth" "$SCANLITE" convert "$OUT/bad.pth" -o "$OUT/x.slm"
expect_fail "convert without -o" "$SCANLITE" convert "$OUT/bad.onnx"
expect_fail "bad --top-k" "$SCANLITE" predict -m "$OUT/bad.slm" --top-k 0 x.png
finish
