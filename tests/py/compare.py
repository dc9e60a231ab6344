"""compare.py — compares scanlite outputs with PyTorch's.

usage: compare.py TOL OUT.f32 REF.f32 [LABEL]
Error = max |out - ref| / max(max |ref|, 1e-6) (relative to the largest
output magnitude). Prints one line; exits 1 when above TOL or the sizes
differ or anything is not finite.
"""
import sys

import numpy as np

tol = float(sys.argv[1])
a = np.fromfile(sys.argv[2], dtype="<f4")
b = np.fromfile(sys.argv[3], dtype="<f4")
label = sys.argv[4] if len(sys.argv) > 4 else sys.argv[2]
if a.size != b.size:
    print("%s: size %d, expected %d" % (label, a.size, b.size))
    sys.exit(1)
if not np.all(np.isfinite(a)):
    print("%s: non-finite outputs" % label)
    sys.exit(1)
err = float(np.max(np.abs(a.astype(np.float64) - b))) / max(float(np.max(np.abs(b))), 1e-6)
ok = err <= tol
print("%s: %d values, max rel err %.3g (tol %g) %s" % (label, a.size, err, tol, "ok" if ok else "FAIL"))
sys.exit(0 if ok else 1)
