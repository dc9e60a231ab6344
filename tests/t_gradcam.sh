#!/bin/sh
# Grad-CAM against PyTorch's (forward/backward hooks on the same layer):
# torchvision resnet18 (GAP + Linear head, target layer4), Keras-style
# Flatten/Dense CNNs with a 1-logit sigmoid head and a 6-way softmax head
# (NHWC flatten, overlapping MaxPool after the target, MatMul + bias Add,
# LeakyReLU), and a
# CNN with AveragePool + NCHW flatten. `scanlite explain` on several inputs
# and classes (and the predicted one): same map shape, correlation of the
# normalised maps >= 0.999, raw values within 1e-3; explain is
# deterministic run after run; `predict --heatmap` writes PNGs of the
# original image size.
. "$(dirname "$0")/lib.sh"
need_torch
REF="$(dirname "$0")/py/gradcam_ref.py"
"$PY" -W ignore "$REF" gen "$OUT" || exit 1
prev=""
while read -r name i cls label h w margin scale; do
    if [ "$name" != "$prev" ]; then
        check "convert $name" "$SCANLITE" convert "$OUT/$name.onnx" -o "$OUT/$name.slm" >/dev/null
        prev=$name
    fi
    base="$OUT/$name.in$i.c$cls"
    if [ "$cls" -ge 0 ]; then set -- --class "$cls"; else set --; fi
    "$SCANLITE" explain -m "$OUT/$name.slm" --input "$OUT/$name.in$i.f32" --raw "$base.cam.f32" "$@" \
        >"$base.txt" || { echo "FAIL: explain $name input $i class $cls"; fails=$((fails + 1)); }
done <"$OUT/cases.txt"
check "maps match PyTorch" "$PY" "$REF" check "$OUT"

# deterministic: the same map, bit for bit, run after run (2 threads)
for r in 1 2; do
    "$SCANLITE" explain -m "$OUT/resnet18.slm" --input "$OUT/resnet18.in0.f32" --raw "$OUT/again$r.f32" \
        --class 327 --threads 2 >/dev/null
done
check "explain is deterministic" cmp "$OUT/again1.f32" "$OUT/again2.f32"

# heatmaps at the original image size, by label name too; several images
"$PY" "$REF" image "$OUT/wide.png" 300 200 && "$PY" "$REF" image "$OUT/tall.png" 90 130 || exit 1
check "predict --heatmap" "$SCANLITE" predict -m "$OUT/resnet18.slm" "$OUT/wide.png" --heatmap "$OUT/hm.png"
check "predict --heatmap --class" "$SCANLITE" predict -m "$OUT/kerasbin.slm" "$OUT/wide.png" "$OUT/tall.png" \
    --heatmap "$OUT/bin.png" --class negative --json
sizes() { "$PY" -c 'import sys; from PIL import Image; print(" ".join("%dx%d" % Image.open(p).size for p in sys.argv[1:]))' "$@"; }
got=$(sizes "$OUT/hm.png" "$OUT/bin-1.png" "$OUT/bin-2.png")
echo "heatmap sizes: $got"
check "heatmap sizes are the images'" test "$got" = "300x200 300x200 90x130"
expect_fail "explain: unknown class" "$SCANLITE" explain -m "$OUT/kerasmc.slm" --input "$OUT/kerasmc.in0.f32" \
    --raw "$OUT/x.f32" --class 6
expect_fail "explain: wrong input size" "$SCANLITE" explain -m "$OUT/kerasmc.slm" --input "$OUT/resnet18.in0.f32" \
    --raw "$OUT/x.f32"
rm -f "$OUT"/*.onnx "$OUT"/*.slm
finish
