#!/bin/sh
# PyTorch state_dicts (torch.save zip format) converted without torch:
# resnet18/34/50 with their class counts taken from fc.weight, plus the
# `module.`-prefixed {"state_dict": ...} and {"model": ...} wrappings; logits
# within 1e-4 of PyTorch's.
. "$(dirname "$0")/lib.sh"
need_torch
"$PY" -W ignore "$(dirname "$0")/py/oracle_gen.py" pth "$OUT" || exit 1
TOL=1e-4
run_cmp() { # MODEL CASE BATCH
    if "$SCANLITE" run -m "$1" --input "$OUT/$2.b$3.in.f32" --output "$OUT/out.f32" --threads 2; then
        check "$1 b$3" "$PY" "$(dirname "$0")/py/compare.py" $TOL "$OUT/out.f32" "$OUT/$2.b$3.ref.f32" "$(basename "$1") batch $3"
    else
        echo "FAIL: run $1"; fails=$((fails + 1))
    fi
}
for src in resnet18 resnet18_wrapped resnet18_model; do
    check "convert $src" "$SCANLITE" convert "$OUT/$src.pth" -o "$OUT/$src.slm" >/dev/null
    [ -f "$OUT/$src.slm" ] && run_cmp "$OUT/$src.slm" resnet18_pth 1 && run_cmp "$OUT/$src.slm" resnet18_pth 4
done
for a in resnet34 resnet50; do
    check "convert $a" "$SCANLITE" convert "$OUT/$a.pth" -o "$OUT/$a.slm" >/dev/null
    [ -f "$OUT/$a.slm" ] && run_cmp "$OUT/$a.slm" ${a}_pth 1
done
# --arch forcing the wrong architecture must fail with a message, not crash
expect_fail "wrong --arch" "$SCANLITE" convert "$OUT/resnet18.pth" -o "$OUT/x.slm" --arch resnet50
# inspect: ResNet-18's multiply-accumulates at 224x224 are 1.81 G
"$SCANLITE" inspect --json "$OUT/resnet18.slm" >"$OUT/inspect.json" 2>&1
check "inspect macs" "$PY" -c "
import json,sys; d=json.load(open('$OUT/inspect.json'))
m=d['macs']; print('macs', m); sys.exit(0 if 1.80e9 < m < 1.83e9 else 1)"
rm -f "$OUT"/*.slm "$OUT"/*.f32 "$OUT"/*.pth
finish
