#!/bin/sh
# Whole torchvision models against PyTorch (random init, fixed seed, real
# batchnorm statistics): resnet18, resnet50, mobilenet_v2, squeezenet1_1,
# vgg11_bn, a small custom CNN and a Keras-style NHWC-flatten CNN, exported
# to ONNX, converted, run at batch 1 and 4 (1, 2 and 3 threads: 3 splits
# work unevenly and oversubscribes a 2-CPU machine) with every
# kernel ISA this CPU has (SCANLITE_ISA generic, avx2, avx512); logits
# within 1e-4 of PyTorch's (max abs, relative to max |logit|).
. "$(dirname "$0")/lib.sh"
need_torch
"$PY" -W ignore "$(dirname "$0")/py/oracle_gen.py" models "$OUT" || exit 1
TOL=1e-4
# the ISAs this CPU runs (the dispatcher refuses the others by name)
isas=""
for isa in generic avx2 avx512; do
    if SCANLITE_ISA=$isa "$SCANLITE" bench -m "$(dirname "$0")/../weights/demo-xray.slm" --iters 1 \
        >/dev/null 2>"$OUT/probe.err"; then
        isas="$isas $isa"
    elif grep -q "does not support" "$OUT/probe.err"; then
        echo "note: this CPU has no $isa: its kernels are not run here"
    else
        echo "FAIL: probe of SCANLITE_ISA=$isa: $(cat "$OUT/probe.err")"; fails=$((fails + 1))
    fi
done
# a build with the AVX-512 kernels on SIMDe (make EMU_AVX512=1) runs them
# wherever the CPU has AVX2
case "$isas" in
*avx512*) ;;
*avx2*) if [ "${EMU_AVX512:-0}" = 1 ]; then
        echo "FAIL: an EMU_AVX512=1 build that does not run its avx512 kernels"; fails=$((fails + 1))
    fi ;;
esac
prev=""
while read -r name b c h w opset; do
    if [ "$name" != "$prev" ]; then
        check "convert $name" "$SCANLITE" convert "$OUT/$name.onnx" -o "$OUT/$name.slm" --output-activation none >/dev/null
        rm -f "$OUT/$name.onnx"
        prev=$name
    fi
    [ -f "$OUT/$name.slm" ] || continue
    for isa in $isas; do
        for th in 1 2 3; do
            if SCANLITE_ISA=$isa "$SCANLITE" run -m "$OUT/$name.slm" --input "$OUT/$name.b$b.in.f32" --output "$OUT/out.f32" --threads $th; then
                check "$name b$b t$th $isa" "$PY" "$(dirname "$0")/py/compare.py" $TOL "$OUT/out.f32" "$OUT/$name.b$b.ref.f32" "$name batch $b threads $th $isa"
            else
                echo "FAIL: run $name b$b t$th $isa"; fails=$((fails + 1))
            fi
        done
    done
done <"$OUT/cases.txt"
rm -f "$OUT"/*.slm "$OUT"/*.f32
finish
