#!/bin/sh
# `scanlite preprocess` against torchvision (tests/py/preproc_ref.py) on the
# medical images of the shared test data (gray and RGB, JPEG and PNG, 224 px
# to 2373 px): a gray 1x28x28 stretch recipe (PneumoniaMNIST style, also
# checked against the stored reference tensors) and the ImageNet RGB
# Resize(256)/CenterCrop(224) recipe. The models only carry the recipe.
. "$(dirname "$0")/lib.sh"
need_testdata
need_torch
[ -x "$SCANLITE" ] || skip "no scanlite binary at $SCANLITE"
"$SCANLITE" preprocess --help >/dev/null 2>&1 || skip "scanlite has no working preprocess command"
REF="$(dirname "$0")/py/preproc_ref.py"

"$PY" "$REF" models "$OUT" >"$OUT/export.log" 2>&1 || { cat "$OUT/export.log"; echo "FAIL: ONNX export"; exit 1; }
"$SCANLITE" convert "$OUT/gray28.onnx" -o "$OUT/gray28.slm" --gray --input 1x28x28 \
    --mean 0.5 --std 0.5 --resize 0 --crop 0 || { echo "FAIL: convert gray28"; exit 1; }
"$SCANLITE" convert "$OUT/rgb224.onnx" -o "$OUT/rgb224.slm" --input 3x224x224 \
    --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --resize 256 --crop 224 ||
    { echo "FAIL: convert rgb224"; exit 1; }

mkdir -p "$OUT/c/gray28" "$OUT/c/rgb224"
ls "$TESTDATA"/medical/*/*.jpg "$TESTDATA"/medical/*/*.jpeg "$TESTDATA"/medical/*/*.png \
    "$TESTDATA"/models/pneumoniamnist_cnn_pytorch/sample_xrays/*.png 2>/dev/null >"$OUT/images.txt"
n=$(wc -l <"$OUT/images.txt")
[ "$n" -gt 0 ] || { echo "FAIL: no medical images under $TESTDATA"; exit 1; }
start=$(date +%s)
while read -r img; do
    base=$(basename "$img")
    stem="$(basename "$(dirname "$img")")__${base%.*}"
    for r in gray28 rgb224; do
        check "preprocess $r $base" "$SCANLITE" preprocess -m "$OUT/$r.slm" "$img" -o "$OUT/c/$r/$stem.f32"
    done
done <"$OUT/images.txt"
echo "C preprocess: $n images x 2 recipes in $(( $(date +%s) - start ))s"

# shellcheck disable=SC2046
check "torchvision comparison" "$PY" "$REF" compare "$OUT" "$TESTDATA" $(cat "$OUT/images.txt")
finish
