"""torch_worker.py — the PyTorch side of `make bench`: a long-lived process
driven by bench.py, one JSON request per stdin line, one JSON reply per
stdout line (same protocol as ort_worker.js):
  {"op":"time","model":M,"threads":T,"input":F,"shape":[N,C,H,W],"warmup":W,"iters":K}
      -> {"ok":true,"median_ms","min_ms","max_ms"}   (K timed forward calls)
  {"op":"infer", ...same..., "output":F2} -> {"ok":true,"out_shape":[...]}
  {"op":"quit"}
M is a whole module saved with torch.save (eager mode, eval()); F is raw
float32 NCHW. Every call runs under torch.inference_mode() with
torch.set_num_threads(T). Models are cached by path for the whole run.
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True  # unpickling imports repo modules: no __pycache__ beside them
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))

_models = {}


def get_model(path):
    if path not in _models:
        _models[path] = torch.load(path).eval()
    return _models[path]


def load_input(path, shape):
    a = np.fromfile(path, dtype="<f4")
    if a.size != int(np.prod(shape)):
        raise ValueError("%s: %d floats, shape %s needs %d" % (path, a.size, shape, int(np.prod(shape))))
    return torch.from_numpy(a.reshape(shape).copy())


def handle(req):
    model = get_model(req["model"])
    torch.set_num_threads(int(req["threads"]))
    x = load_input(req["input"], req["shape"])
    with torch.inference_mode():
        if req["op"] == "infer":
            y = model(x)
            y.numpy().astype("<f4").tofile(req["output"])
            return {"ok": True, "out_shape": list(y.shape)}
        if req["op"] != "time":
            raise ValueError("unknown op %r" % req["op"])
        for _ in range(int(req["warmup"])):
            model(x)
        ms = []
        for _ in range(int(req["iters"])):
            t0 = time.perf_counter()
            model(x)
            ms.append((time.perf_counter() - t0) * 1e3)
    return {"ok": True, "median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms)}


def main():
    out = sys.stdout
    out.write(json.dumps({"ok": True, "ready": True, "version": torch.__version__}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if req.get("op") == "quit":
                break
            reply = handle(req)
        except Exception as e:  # report, keep serving: one bad model must not end the run
            reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
