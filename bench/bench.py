"""bench.py — `make bench`: scanlite, ONNX Runtime (onnxruntime-node) and
PyTorch measured in the same run, interleaved. Every repetition visits every
config and, within a config, every runtime in turn (the starting runtime
rotates), so machine noise falls on all three alike. One measurement is the
median of K timed runs after W warm-up runs inside the runtime's own process:
`scanlite bench --json` (a fresh process each time), ort_worker.js and
torch_worker.py (long-lived, models cached). Writes bench/results/DATE.json
and DATE.png; prints the tables. Never asserts a timing.

usage: bench.py SCANLITE [--reps N] [--work DIR] [--quick]
"""
import argparse
import datetime
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True  # keep bench/ and tests/py/ free of __pycache__
sys.path.insert(0, HERE)
import bench_models  # noqa: E402
import bench_report  # noqa: E402

RUNTIMES = ("scanlite", "ort", "pytorch")
WORKER_TIMEOUT_S = 600   # one request (load + warm-up + K runs of ResNet18 batch 8) fits easily
PROCESS_TIMEOUT_S = 600  # same bound for one `scanlite bench` / `run` / cold-start process
SETTLE_S = 0.05          # pause between measurements: let the previous runtime's threads go idle


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class Worker:
    """A long-lived runtime process speaking JSON lines (see ort_worker.js)."""

    def __init__(self, name, argv):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                     cwd=HERE)
        ready = self._read()
        self.version = ready.get("version")

    def _read(self):
        fd = self.proc.stdout
        r, _, _ = select.select([fd], [], [], WORKER_TIMEOUT_S)
        if not r:
            raise RuntimeError("%s worker: no reply in %d s" % (self.name, WORKER_TIMEOUT_S))
        line = fd.readline()
        if not line:
            raise RuntimeError("%s worker exited (status %s)" % (self.name, self.proc.poll()))
        return json.loads(line)

    def call(self, **req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        try:
            self.proc.stdin.write('{"op":"quit"}\n')
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def run_scanlite_bench(scanlite, m, cfg):
    if m["slm_error"]:
        return {"ok": False, "error": m["slm_error"]}
    cmd = [scanlite, "bench", "-m", m["slm"], "--json", "--batch", str(cfg["batch"]), "--threads",
           str(cfg["threads"]), "--iters", str(cfg["iters"]), "--warmup", str(cfg["warmup"])]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "scanlite bench timed out"}
    if r.returncode != 0:
        return {"ok": False, "error": r.stderr.strip()[-300:]}
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["ok"] = True
    return out


def worker_req(m, cfg, op, **extra):
    b = cfg["batch"]
    req = {"op": op, "threads": cfg["threads"], "input": m["inputs"][b], "shape": [b] + m["chw"],
           "warmup": cfg["warmup"], "iters": cfg["iters"]}
    req.update(extra)
    return req


def measure(rt, scanlite, workers, m, cfg):
    if rt == "scanlite":
        return run_scanlite_bench(scanlite, m, cfg)
    model = m["onnx"] if rt == "ort" else m["pt"]
    return workers[rt].call(**worker_req(m, cfg, "time", model=model))


def max_abs_errors(scanlite, workers, m, cfg, work):
    """Each runtime's output on NAME.b<N>.in.f32 against PyTorch's (the oracle)."""
    base = os.path.join(work, "%s.b%d.t%d" % (m["name"], cfg["batch"], cfg["threads"]))
    ref = workers["pytorch"].call(**worker_req(m, cfg, "infer", model=m["pt"], output=base + ".pytorch.f32"))
    if not ref.get("ok"):
        return {"pytorch": None, "error": ref.get("error")}
    want = np.fromfile(base + ".pytorch.f32", dtype="<f4")
    errs = {"pytorch": 0.0}
    r = workers["ort"].call(**worker_req(m, cfg, "infer", model=m["onnx"], output=base + ".ort.f32"))
    errs["ort"] = compare(want, base + ".ort.f32") if r.get("ok") else None
    errs["scanlite"] = None
    if not m["slm_error"]:
        cmd = [scanlite, "run", "-m", m["slm"], "--input", m["inputs"][cfg["batch"]], "--output",
               base + ".scanlite.f32", "--threads", str(cfg["threads"])]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S)
            if p.returncode == 0:
                errs["scanlite"] = compare(want, base + ".scanlite.f32")
        except subprocess.TimeoutExpired:
            pass
    return errs


def compare(want, path):
    got = np.fromfile(path, dtype="<f4")
    if got.size != want.size:
        return None
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))


def read_first_line(proc, deadline):
    buf = b""
    fd = proc.stdout.fileno()
    while b"\n" not in buf:
        left = deadline - time.perf_counter()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return buf or None
        buf += chunk
    return buf


# Fallback peak-RSS wrapper when GNU time is absent: forks from a bare
# `python3 -S` (about 8 MB resident, a floor on what it can report).
RSS_WRAP = ("import os,sys\n"
            "pid=os.fork()\n"
            "if pid==0:\n os.execvp(sys.argv[2],sys.argv[2:])\n"
            "_,st,ru=os.wait4(pid,0)\n"
            "open(sys.argv[1],'w').write('%d %.3f %.3f\\n'%(ru.ru_maxrss,ru.ru_utime,ru.ru_stime))\n"
            "sys.exit(os.waitstatus_to_exitcode(st))\n")


def rss_wrapper(out_file):
    """argv prefix that runs a command and writes "peak-RSS-KiB user-s sys-s"
    to out_file. The child is forked from a small process: a child forked from
    this Python (torch loaded) would inherit its high-water mark."""
    if os.access("/usr/bin/time", os.X_OK):
        return ["/usr/bin/time", "-f", "%M %U %S", "-o", out_file], "GNU time (%M)"
    return [sys.executable, "-S", "-c", RSS_WRAP, out_file], "python -S fork+wait4 ru_maxrss (floor ~8 MB)"


def cold_start(argv, work):
    """Wall time from spawn to the first line on stdout; the peak RSS and
    CPU time (user + sys, less sensitive to a busy machine) of the process."""
    rss_file = os.path.join(work, "cold_rss.txt")
    prefix, _ = rss_wrapper(rss_file)
    with open(os.path.join(work, "cold_stderr.txt"), "w+b") as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(prefix + argv, stdout=subprocess.PIPE, stderr=errf, cwd=HERE)
        line = read_first_line(proc, t0 + PROCESS_TIMEOUT_S)
        t1 = time.perf_counter()
        if line is None:
            proc.kill()
        proc.communicate()
        errf.seek(0)
        err = errf.read().decode(errors="replace").strip()
    if line is None or proc.returncode != 0:
        return {"ok": False, "error": (err or "no output, exit %s" % proc.returncode)[-300:]}
    with open(rss_file) as f:
        kib, user, system = f.read().splitlines()[-1].split()
    return {"ok": True, "ms": (t1 - t0) * 1e3, "maxrss_mb": int(kib) / 1024.0,
            "cpu_ms": (float(user) + float(system)) * 1e3}


def make_configs(models, quick):
    """The measured configs in order; warmup/iters are per measurement."""
    k = 0.5 if quick else 1.0
    cfgs = []

    def add(group, name, batch, threads, warmup, iters):
        cfgs.append({"group": group, "model": name, "batch": batch, "threads": threads, "warmup": warmup,
                     "iters": max(3, int(iters * k)), "id": "%s b%d t%d" % (name, batch, threads)})

    for b, t in ((1, 1), (1, 2), (8, 1), (8, 2)):
        add("resnet18", "resnet18", b, t, 3 if b == 1 else 2, 20 if b == 1 else 5)
    for t in (1, 2):
        add("smallcnn", "smallcnn", 1, t, 10, 50)
    for name, m in models.items():
        if m.get("kind") == "conv":
            add("conv", name, 1, 1, 3, 15)
    return cfgs


COLD_THREADS = (1, 2)
# Launches per runtime, thread count and repetition (interleaved across the
# runtimes); a repetition keeps their median wall and CPU time and their
# largest peak RSS: one launch alone moves with the host's spells.
COLD_K = 3


def cold_argvs(scanlite, py, m, work, image):
    """{threads: {runtime: argv}} of the cold-start probes, and the input
    tensor file ORT's probe reads."""
    tensor = os.path.join(work, "cold_input.f32")
    return {t: {"scanlite": [scanlite, "predict", "-m", m["slm"], image, "--threads", str(t)],
                "ort": ["node", os.path.join(HERE, "ort_cold.js"), m["onnx"], tensor, str(t)],
                "pytorch": [py, os.path.join(HERE, "torch_cold.py"), m["pt"], image, str(t)]}
            for t in COLD_THREADS}, tensor


def pick_image(work):
    """A real photo from the shared test data when present, else a synthetic
    640x480 JPEG (the decode cost is what matters, not the content)."""
    real = os.path.join(os.environ.get("TESTDATA") or "/work/shared/testdata", "imagenet", "images",
                        "grace_hopper.jpg")
    if os.path.exists(real):
        return real
    from PIL import Image
    path = os.path.join(work, "synthetic.jpg")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def summarize(samples):
    """median / min / max / samples of the values that exist, rounded to
    0.1 us (ms) or 0.1 KB (MB): the precision the clocks give."""
    ms = [round(s, 4) for s in samples if s is not None]
    if not ms:
        return None
    return {"median": round(float(np.median(ms)), 4), "min": min(ms), "max": max(ms), "n": len(ms), "samples": ms}


def preprocess_like_torchvision(image, path):
    """The [1, 3, 224, 224] tensor ORT's cold-start probe runs (ORT decodes
    no images): resize 256, center crop 224, ImageNet normalisation."""
    from PIL import Image
    from torchvision import transforms
    pre = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                              transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    pre(Image.open(image).convert("RGB")).numpy().astype("<f4").tofile(path)


def run_repetitions(reps, scanlite, workers, models, cfgs, cold_cmds, work, started):
    """The interleaved loop: returns per config and runtime the measurement
    medians and mins, the cold-start samples, failures and load averages."""
    times = {c["id"]: {rt: [] for rt in RUNTIMES} for c in cfgs}
    fastest = {c["id"]: {rt: [] for rt in RUNTIMES} for c in cfgs}  # each measurement's min of K
    cold = {t: {rt: {"ms": [], "maxrss_mb": [], "cpu_ms": []} for rt in RUNTIMES} for t in cold_cmds}
    failures = {}
    load = []
    for rep in range(reps):
        log("repetition %d/%d (%.0f s so far)" % (rep + 1, reps, time.time() - started))
        load.append(os.getloadavg()[0])
        for ci, c in enumerate(cfgs):
            k = (rep + ci) % 3
            for rt in RUNTIMES[k:] + RUNTIMES[:k]:
                r = measure(rt, scanlite, workers, models[c["model"]], c)
                times[c["id"]][rt].append(r["median_ms"] if r.get("ok") else None)
                fastest[c["id"]][rt].append(r["min_ms"] if r.get("ok") else None)
                if not r.get("ok"):
                    failures.setdefault("%s %s" % (c["id"], rt), r.get("error"))
                time.sleep(SETTLE_S)
        for ti, t in enumerate(cold_cmds):
            k = (rep + ti) % 3
            runs = {rt: [] for rt in RUNTIMES}
            for _ in range(COLD_K):
                for rt in RUNTIMES[k:] + RUNTIMES[:k]:
                    r = cold_start(cold_cmds[t][rt], work)
                    if r.get("ok"):
                        runs[rt].append(r)
                    else:
                        failures.setdefault("cold start t%d %s" % (t, rt), r.get("error"))
                    time.sleep(SETTLE_S)
            for rt in RUNTIMES:
                ok = runs[rt]
                cold[t][rt]["ms"].append(statistics.median(r["ms"] for r in ok) if ok else None)
                cold[t][rt]["cpu_ms"].append(statistics.median(r["cpu_ms"] for r in ok) if ok else None)
                cold[t][rt]["maxrss_mb"].append(max(r["maxrss_mb"] for r in ok) if ok else None)
    return {"times": times, "fastest": fastest, "cold": cold, "failures": failures, "load": load}


def assemble(args, sysinfo, models, cfgs, errors, loop, cold_cmds, image, started):
    """The results document written to bench/results/DATE.json."""
    r18 = models["resnet18"]
    best = {c["id"]: {rt: min([round(v, 4) for v in loop["fastest"][c["id"]][rt] if v is not None], default=None)
                      for rt in RUNTIMES} for c in cfgs}
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "system": sysinfo,
        "method": {"reps": args.reps, "interleaved": True, "quick": args.quick,
                   "measurement": "median of K timed runs after W warm-up runs, inside each runtime's process",
                   "settle_s": SETTLE_S, "loadavg_1min_per_rep": loop["load"]},
        "configs": [dict(c, results={rt: summarize(loop["times"][c["id"]][rt]) for rt in RUNTIMES},
                         best_ms=best[c["id"]], max_abs_err=errors[c["id"]], flops=models[c["model"]].get("flops"),
                         count=models[c["model"]].get("count"), shape=models[c["model"]].get("shape"))
                    for c in cfgs],
        "cold_start": {
            "image": os.path.basename(image),
            "model_bytes": {"scanlite": r18["slm_bytes"], "ort": r18["onnx_bytes"],
                            "pytorch": os.path.getsize(r18["pt"])},
            "rss_method": rss_wrapper("FILE")[1],
            "threads": {str(t): {
                "commands": {rt: " ".join(os.path.basename(a) if "/" in a else a for a in v)
                             for rt, v in cold_cmds[t].items()},
                **{rt: {k: summarize(v) for k, v in loop["cold"][t][rt].items()} for rt in RUNTIMES}}
                for t in cold_cmds}},
        "failures": loop["failures"],
        "elapsed_s": round(time.time() - started, 1),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scanlite")
    ap.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", "5")))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--quick", action="store_true", help="fewer inner iterations (a smoke run)")
    args = ap.parse_args()
    # Measure a snapshot: a `make` elsewhere must not swap the binary mid-run.
    os.makedirs(args.work, exist_ok=True)
    scanlite = os.path.join(args.work, "scanlite")
    shutil.copy2(args.scanlite, scanlite)
    py = sys.executable
    started = time.time()
    sysinfo = bench_report.system_info(ROOT, scanlite)
    log("CPU %s; %s" % (sysinfo["cpu"], sysinfo["peak"]["assumption"]))

    models = bench_models.build_all(args.work, scanlite, log)
    for m in models.values():
        if m["slm_error"]:
            log("scanlite cannot convert %s: %s" % (m["name"], m["slm_error"]))
    cfgs = make_configs(models, args.quick)
    image = pick_image(args.work)
    cold_cmds, tensor = cold_argvs(scanlite, py, models["resnet18"], args.work, image)
    preprocess_like_torchvision(image, tensor)

    workers = {}
    try:
        workers["ort"] = Worker("ort", ["node", os.path.join(HERE, "ort_worker.js")])
        workers["pytorch"] = Worker("pytorch", [py, os.path.join(HERE, "torch_worker.py")])
        sysinfo["versions"]["onnxruntime-node"] = workers["ort"].version
        log("accuracy pass (max abs error against PyTorch)")
        errors = {c["id"]: max_abs_errors(scanlite, workers, models[c["model"]], c, args.work) for c in cfgs}
        for rt in RUNTIMES:  # page cache and first-load effects out of the cold-start samples
            cold_start(cold_cmds[COLD_THREADS[0]][rt], args.work)
        loop = run_repetitions(args.reps, scanlite, workers, models, cfgs, cold_cmds, args.work, started)
    except RuntimeError as e:
        log("stopped: %s" % e)
        return 1
    finally:
        for w in workers.values():
            w.close()
    sysinfo["loadavg_end"] = list(os.getloadavg())
    results = assemble(args, sysinfo, models, cfgs, errors, loop, cold_cmds, image, started)
    os.makedirs(args.results, exist_ok=True)
    stem = os.path.join(args.results, results["date"][:10])
    with open(stem + ".json", "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    print(bench_report.render_text(results))
    bench_report.render_png(results, stem + ".png")
    log("wrote %s.json and %s.png in %.0f s" % (stem, stem, results["elapsed_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
