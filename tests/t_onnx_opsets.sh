#!/bin/sh
# ONNX opset coverage: small models (custom CNN with view(), Keras-style
# NHWC flatten, an op mix with legacy forms) exported by torch at opsets 9,
# 11, 13 and 17, converted by the ONNX reader and run; outputs compared with
# PyTorch's by tests/test_onnx's directory mode.
. "$(dirname "$0")/lib.sh"
need_torch
"$PY" -W ignore "$(dirname "$0")/py/make_onnx_cases.py" "$OUT/cases" --opsets 9,11,13,17 --models small || exit 1
"$BUILD/tests/test_onnx" "$OUT/cases"
