#!/bin/sh
# `scanlite predict` from a cold process on a full-size network (torchvision
# resnet18, 45 MB of weights): the default thread count (every usable
# CPU, at most 8) gives the same answer as --threads 1 and 3; peak RSS
# stays within the model file + 40 MB (issue 5's budget, when
# /usr/bin/time is there); a byte flipped at 1/5, 1/2 or the end of the
# file (the weights' checksum is computed in parts on several threads) is
# reported as corruption.
. "$(dirname "$0")/lib.sh"
need_torch
need_testdata
IMG=$TESTDATA/imagenet/images/grace_hopper.jpg
[ -f "$IMG" ] || skip "$IMG is absent"
"$PY" -W ignore - "$OUT/r18.onnx" <<'PYEOF' || exit 1
import sys
import torch, torchvision
torch.manual_seed(5)
m = torchvision.models.resnet18().eval()
torch.onnx.export(m, torch.randn(1, 3, 224, 224), sys.argv[1], opset_version=13,
                  input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}})
PYEOF
check "convert" "$SCANLITE" convert "$OUT/r18.onnx" -o "$OUT/r18.slm" >/dev/null

"$SCANLITE" predict -m "$OUT/r18.slm" "$IMG" --top-k 5 >"$OUT/default.txt" ||
    { echo "FAIL: predict (default threads)"; fails=$((fails + 1)); }
for t in 1 3; do
    "$SCANLITE" predict -m "$OUT/r18.slm" "$IMG" --top-k 5 --threads $t >"$OUT/t$t.txt"
    if cmp -s "$OUT/default.txt" "$OUT/t$t.txt"; then
        echo "ok: default threads = --threads $t: $(head -n 1 "$OUT/t$t.txt")"
    else
        echo "FAIL: default threads and --threads $t differ"; fails=$((fails + 1))
    fi
done
"$SCANLITE" predict --help >"$OUT/help.txt"
check "usage names the thread default" grep -q "default: every CPU" "$OUT/help.txt"

if [ -x /usr/bin/time ] && [ "${SANITIZE:-0}" != 1 ]; then
    size=$(wc -c <"$OUT/r18.slm")
    /usr/bin/time -f "%M" -o "$OUT/rss.txt" "$SCANLITE" predict -m "$OUT/r18.slm" "$IMG" >/dev/null
    rss=$(tail -n 1 "$OUT/rss.txt")
    limit=$((size / 1024 + 40 * 1024))
    if [ "$rss" -le "$limit" ]; then
        echo "ok: peak RSS $rss KB <= $limit KB (file + 40 MB)"
    else
        echo "FAIL: peak RSS $rss KB > $limit KB (file + 40 MB)"; fails=$((fails + 1))
    fi
fi

size=$(wc -c <"$OUT/r18.slm")
for where in $((size / 5)) $((size / 2)) $((size - 100)); do
    cp "$OUT/r18.slm" "$OUT/bad.slm"
    "$PY" -c "
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))
" "$OUT/bad.slm" "$where"
    expect_fail "byte $where flipped" "$SCANLITE" predict -m "$OUT/bad.slm" "$IMG"
    grep -q "checksum mismatch" "$OUT/ef.err" ||
        { echo "FAIL: byte $where: $(cat "$OUT/ef.err")"; fails=$((fails + 1)); }
done
finish
