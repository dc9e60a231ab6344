#!/bin/sh
# Whole torchvision models against PyTorch (random init, fixed seed, real
# batchnorm statistics): resnet18, resnet50, mobilenet_v2, squeezenet1_1,
# vgg11_bn, a small custom CNN and a Keras-style NHWC-flatten CNN, exported
# to ONNX, converted, run at batch 1 and 4 (1 and 2 threads); logits within
# 1e-4 of PyTorch's (max abs, relative to max |logit|).
. "$(dirname "$0")/lib.sh"
need_torch
"$PY" -W ignore "$(dirname "$0")/py/oracle_gen.py" models "$OUT" || exit 1
TOL=1e-4
prev=""
while read -r name b c h w opset; do
    if [ "$name" != "$prev" ]; then
        check "convert $name" "$SCANLITE" convert "$OUT/$name.onnx" -o "$OUT/$name.slm" --output-activation none >/dev/null
        rm -f "$OUT/$name.onnx"
        prev=$name
    fi
    [ -f "$OUT/$name.slm" ] || continue
    for th in 1 2; do
        if "$SCANLITE" run -m "$OUT/$name.slm" --input "$OUT/$name.b$b.in.f32" --output "$OUT/out.f32" --threads $th; then
            check "$name b$b t$th" "$PY" "$(dirname "$0")/py/compare.py" $TOL "$OUT/out.f32" "$OUT/$name.b$b.ref.f32" "$name batch $b threads $th"
        else
            echo "FAIL: run $name b$b t$th"; fails=$((fails + 1))
        fi
    done
done <"$OUT/cases.txt"
rm -f "$OUT"/*.slm "$OUT"/*.f32
finish
