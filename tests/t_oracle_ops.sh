#!/bin/sh
# Every op against PyTorch: single-op (and a few legacy-opset) models are
# exported by torch, converted by `scanlite convert`, run with the fast
# kernels at 1 and 2 threads and with the naive reference kernels; each
# output must be within 1e-5 (relative to the largest output) of PyTorch's.
. "$(dirname "$0")/lib.sh"
need_torch
"$PY" -W ignore "$(dirname "$0")/py/oracle_gen.py" ops "$OUT" || exit 1
TOL=1e-5
prev=""
while read -r name b c h w opset; do
    if [ "$name" != "$prev" ]; then
        check "convert $name" "$SCANLITE" convert "$OUT/$name.onnx" -o "$OUT/$name.slm" --output-activation none >/dev/null
        prev=$name
    fi
    [ -f "$OUT/$name.slm" ] || continue
    for mode in "--threads 1" "--threads 2" "--reference"; do
        # shellcheck disable=SC2086
        if "$SCANLITE" run -m "$OUT/$name.slm" --input "$OUT/$name.b$b.in.f32" --output "$OUT/out.f32" $mode; then
            check "$name b$b $mode" "$PY" "$(dirname "$0")/py/compare.py" $TOL "$OUT/out.f32" "$OUT/$name.b$b.ref.f32" "$name (opset $opset) batch $b $mode"
        else
            echo "FAIL: run $name b$b $mode"; fails=$((fails + 1))
        fi
    done
done <"$OUT/cases.txt"
finish
