"""bench_report.py — what `make bench` records about the machine and build
(system_info), and how its results are shown: render_text gives the
Markdown tables printed at the end of the run and pasted into
docs/PERFORMANCE.md; render_png draws a bar chart with PIL (no matplotlib).
The results dict is the one bench.py writes to bench/results/DATE.json;
`bench_report.py bench/results/DATE.json` prints a past run's tables again.
"""
import os
import platform
import re
import subprocess

RUNTIMES = ("scanlite", "ort", "pytorch")
LABEL = {"scanlite": "scanlite", "ort": "ORT", "pytorch": "PyTorch"}
ISA_FLAGS = ("sse4_2", "avx", "fma", "f16c", "avx2", "avx512f", "avx512dq", "avx512bw", "avx512vl",
             "avx512_vnni", "avx512_bf16", "amx_tile")


def sh(argv, cwd=None):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60)
        return r.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def cpu_fields():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k and k not in info:
                    info[k] = v.strip()
                if k == "cpu MHz":
                    info["mhz_max_seen"] = max(float(v), info.get("mhz_max_seen", 0.0))
    except OSError:
        pass
    return info


def measured_peak():
    """(GFLOP/s, ISA) of one core from bench/fma_peak.c (built by run.sh,
    path in BENCH_FMA_PEAK), or None."""
    exe = os.environ.get("BENCH_FMA_PEAK")
    out = sh([exe]) if exe and os.access(exe, os.X_OK) else ""
    parts = out.split(None, 1)
    try:
        return (float(parts[0]), parts[1].strip()) if len(parts) == 2 else None
    except ValueError:
        return None


def peak_info(flags, info):
    """fp32 peak per core: measured by bench/fma_peak.c (12 independent FMA
    chains in assembly, best of 5) unless BENCH_GHZ is set; else FMA units x
    SIMD lanes x 2 flops x GHz, with the highest frequency the OS exposes."""
    meas = None if os.environ.get("BENCH_GHZ") else measured_peak()
    if meas:
        gf, isa = meas
        lanes = 16 if isa == "AVX-512" else 8
        return {"isa": isa, "ghz": gf / (4 * lanes), "ghz_source": "measured (bench/fma_peak.c)",
                "flops_per_cycle": 4 * lanes, "gflops_per_core": gf,
                "assumption": "%s: %.1f GFLOP/s per core measured by bench/fma_peak.c (12 independent "
                              "FMA chains; = 2 FMA units x %d lanes x 2 flops x %.2f GHz effective)"
                              % (isa, gf, lanes, gf / (4 * lanes))}
    lscpu = sh(["lscpu"])
    m = re.search(r"CPU max MHz:\s*([\d.]+)", lscpu)
    if os.environ.get("BENCH_GHZ"):
        ghz, src = float(os.environ["BENCH_GHZ"]), "BENCH_GHZ"
    elif m and float(m.group(1)) > 0:
        ghz, src = float(m.group(1)) / 1e3, "lscpu 'CPU max MHz'"
    elif os.path.exists("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"):
        with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") as f:
            ghz, src = int(f.read()) / 1e6, "cpufreq cpuinfo_max_freq"
    else:
        ghz = info.get("mhz_max_seen", 0.0) / 1e3
        src = "/proc/cpuinfo 'cpu MHz' (no max frequency exposed, e.g. under a hypervisor; boost clocks can " \
              "exceed it, so % of peak may be over-stated)"
    if "avx512f" in flags and "fma" in flags:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in flags and "fma" in flags:
        lanes, isa = 8, "AVX2+FMA"
    else:
        lanes, isa = 4, "SSE (no FMA: counted as 2 units x 4 lanes x 2)"
    per_core = 2 * lanes * 2 * ghz
    text = "%s: 2 FMA units x %d fp32 lanes x 2 flops x %.3f GHz = %.1f GFLOP/s per core (clock from %s)" % (
        isa, lanes, ghz, per_core, src)
    return {"isa": isa, "ghz": ghz, "ghz_source": src, "flops_per_cycle": 4 * lanes,
            "gflops_per_core": per_core, "assumption": text}


def system_info(root, scanlite):
    info = cpu_fields()
    flags = info.get("flags", "").split()
    make_db = sh(["make", "-s", "-p", "-n", "-q", "scanlite"], cwd=root)
    cflags = re.search(r"^CFLAGS :?= (.*)$", make_db, re.M)
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root)
    return {
        "cpu": info.get("model name", platform.processor() or "unknown"),
        "cpu_family_model": "family %s model %s stepping %s" % (info.get("cpu family"), info.get("model"),
                                                                info.get("stepping")),
        "cpus": os.cpu_count(),
        "isa_flags": [f for f in ISA_FLAGS if f in flags],
        "peak": peak_info(flags, info),
        "kernel": platform.release(),
        "loadavg_start": list(os.getloadavg()),
        "build": {"cflags": cflags.group(1) if cflags else None,
                  "scanlite_version": sh([scanlite, "--version"]),
                  "cc": sh(["cc", "--version"]).splitlines()[0] if sh(["cc", "--version"]) else None,
                  "git": (sh(["git", "rev-parse", "--short", "HEAD"], cwd=root) or "?") +
                  (" + uncommitted changes" if dirty else "")},
        "versions": {"python": platform.python_version(), "torch": torch_version(),
                     "node": sh(["node", "--version"])},
    }


def torch_version():
    import torch
    return torch.__version__


def fmt(x, nd=1):
    """x with nd decimals, but three below 1 (SmallCNN runs in 0.2-0.5 ms:
    one decimal would hide a 25% difference)."""
    if x is None:
        return "n/a"
    return ("%%.%df" % (max(nd, 3) if abs(x) < 1 else nd)) % x


def cell(s, nd=1):
    if not s:
        return "n/a"
    return "%s [%s–%s]" % (fmt(s["median"], nd), fmt(s["min"], nd), fmt(s["max"], nd))


def ratio(a, b):
    if not a or not b or not b["median"]:
        return "n/a"
    return "%.2f" % (a["median"] / b["median"])


def err(e, rt):
    v = (e or {}).get(rt)
    if rt == "pytorch" and v == 0.0:
        return "ref"
    return "n/a" if v is None else "%.1e" % v


def header(res):
    s = res["system"]
    b = s["build"]
    v = s["versions"]
    busy = []
    if s["loadavg_start"][0] > 0.5 * s["cpus"]:
        busy = ["- WARNING: the machine was busy (1-minute load average %.1f on %d CPUs at the start): other "
                "processes competed for the cores, so times are inflated and widely spread; compare runtimes "
                "within this run (they were interleaved), and prefer an idle machine for figures to quote" % (
                    s["loadavg_start"][0], s["cpus"])]
    return [
        "scanlite bench, %s (UTC), %s; %s repetitions, interleaved; %.0f s" % (
            res["date"], "quick" if res["method"]["quick"] else "full", res["method"]["reps"], res["elapsed_s"]),
        "",
        "- CPU: %s (%s), %d logical CPUs; ISA flags: %s" % (s["cpu"], s["cpu_family_model"], s["cpus"],
                                                            " ".join(s["isa_flags"])),
        "- peak: %s" % s["peak"]["assumption"],
        "- load average at start: %s, at end: %s" % (" ".join("%.2f" % x for x in s["loadavg_start"]),
                                                     " ".join("%.2f" % x for x in s.get("loadavg_end", []))),
        "- scanlite: %s, git %s; %s; CFLAGS %s" % (b["scanlite_version"], b["git"], b["cc"], b["cflags"]),
        "- ONNX Runtime: onnxruntime-node %s on node %s (CPU EP, intraOpNumThreads=threads, interOpNumThreads=1, "
        "graphOptimizationLevel all, sequential)" % (v.get("onnxruntime-node"), v["node"]),
        "- PyTorch: %s (Debian), python %s, eager, torch.inference_mode(), torch.set_num_threads(threads)" % (
            v["torch"], v["python"]),
        "- each cell: median over repetitions [min–max] of each repetition's median of K timed runs; "
        "ratios < 1 mean scanlite is faster; err = max |output - PyTorch output| on the same input",
    ] + busy


def latency_table(res, groups):
    rows = ["| config | K | scanlite ms | ORT ms | PyTorch ms | scanlite/ORT | scanlite/PyTorch | err scanlite "
            "| err ORT |", "|---|---|---|---|---|---|---|---|---|"]
    for c in res["configs"]:
        if c["group"] not in groups:
            continue
        r = c["results"]
        rows.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            c["id"], c["iters"], cell(r["scanlite"]), cell(r["ort"]), cell(r["pytorch"]),
            ratio(r["scanlite"], r["ort"]), ratio(r["scanlite"], r["pytorch"]), err(c["max_abs_err"], "scanlite"),
            err(c["max_abs_err"], "ort")))
    return rows


def best_rows(res):
    """The least disturbed timed run of each runtime (min over reps x K):
    closest to an idle machine when the run was noisy."""
    rows = ["| config | scanlite ms | ORT ms | PyTorch ms | scanlite/ORT | scanlite/PyTorch |",
            "|---|---|---|---|---|---|"]
    for c in res["configs"]:
        if c["group"] == "conv":
            continue
        b = c.get("best_ms") or {}
        q = {rt: ("%.2f" % (b["scanlite"] / b[rt]) if b.get("scanlite") and b.get(rt) else "n/a")
             for rt in ("ort", "pytorch")}
        rows.append("| %s | %s | %s | %s | %s | %s |" % (c["id"], fmt(b.get("scanlite")), fmt(b.get("ort")),
                                                         fmt(b.get("pytorch")), q["ort"], q["pytorch"]))
    return rows


def throughput_rows(res):
    rows = ["| config | scanlite img/s | ORT img/s | PyTorch img/s | scanlite/ORT throughput |", "|---|---|---|---|---|"]
    for c in res["configs"]:
        if c["group"] != "resnet18" or c["batch"] == 1:
            continue
        ips = {rt: (c["batch"] * 1e3 / c["results"][rt]["median"]) if c["results"][rt] else None for rt in RUNTIMES}
        rows.append("| %s | %s | %s | %s | %s |" % (
            c["id"], fmt(ips["scanlite"]), fmt(ips["ort"]), fmt(ips["pytorch"]),
            "%.2f" % (ips["scanlite"] / ips["ort"]) if ips["scanlite"] and ips["ort"] else "n/a"))
    return rows


def conv_rows(res):
    peak = res["system"]["peak"]["gflops_per_core"]
    rows = ["| conv layer (k/stride C->O HxW->HoxWo) | x in net | MFLOP | scanlite ms / GFLOP/s / %peak | "
            "ORT ms / GFLOP/s / %peak | PyTorch ms / GFLOP/s / %peak | scanlite/ORT | err scanlite | err ORT |",
            "|---|---|---|---|---|---|---|---|---|"]
    total = {rt: 0.0 for rt in RUNTIMES}
    for c in res["configs"]:
        if c["group"] != "conv":
            continue
        r = c["results"]
        cells = []
        for rt in RUNTIMES:
            s = r[rt]
            if not s:
                cells.append("n/a")
                total[rt] = None
                continue
            gf = c["flops"] / s["median"] / 1e6
            cells.append("%.2f / %.1f / %.0f%%" % (s["median"], gf, 100 * gf / (peak * c["threads"])))
            if total[rt] is not None:
                total[rt] += c["count"] * s["median"]
        rows.append("| %s | %d | %.1f | %s | %s | %s | %s | %s | %s |" % (
            c["shape"], c["count"], c["flops"] / 1e6, cells[0], cells[1], cells[2], ratio(r["scanlite"], r["ort"]),
            err(c["max_abs_err"], "scanlite"), err(c["max_abs_err"], "ort")))
    flops = sum(c["flops"] * c["count"] for c in res["configs"] if c["group"] == "conv")
    if flops:
        cells = ["%.1f / %.1f / %.0f%%" % (t, flops / t / 1e6, 100 * flops / t / 1e6 / peak) if t else "n/a"
                 for t in (total[rt] for rt in RUNTIMES)]
        count = sum(c["count"] for c in res["configs"] if c["group"] == "conv")
        rows.append("| all ResNet18 convs (sum of x * median) | %d | %.1f | %s | %s | %s | %s | | |" % (
            count, flops / 1e6, cells[0], cells[1], cells[2],
            "%.2f" % (total["scanlite"] / total["ort"]) if total["scanlite"] and total["ort"] else "n/a"))
    return rows


def cold_rows(res, t):
    cs = res["cold_start"]
    ct = cs["threads"][str(t)]
    rows = ["| runtime | command | process start -> first result, ms | CPU user+sys, ms | peak RSS, MB "
            "| model file, MB |", "|---|---|---|---|---|---|"]
    for rt in RUNTIMES:
        size = cs["model_bytes"][rt]
        rows.append("| %s | `%s` | %s | %s | %s | %s |" % (
            LABEL[rt], ct["commands"][rt], cell(ct[rt]["ms"]), cell(ct[rt]["cpu_ms"]), cell(ct[rt]["maxrss_mb"]),
            fmt(size / 2**20 if size else None)))
    for rt in ("ort", "pytorch"):
        rows.append("| scanlite/%s | | %s | %s | %s | |" % (
            LABEL[rt], ratio(ct["scanlite"]["ms"], ct[rt]["ms"]), ratio(ct["scanlite"]["cpu_ms"], ct[rt]["cpu_ms"]),
            ratio(ct["scanlite"]["maxrss_mb"], ct[rt]["maxrss_mb"])))
    return rows


def cold_tables(res):
    cs = res["cold_start"]
    lines = ["Peak RSS by %s. Commands run from bench/ with the files of build/bench/; the last "
             "argument of the ORT and PyTorch probes is their thread count." % cs["rss_method"]]
    for t in sorted(cs["threads"], key=int):
        lines += ["", "%s thread%s:" % (t, "" if t == "1" else "s"), ""] + cold_rows(res, t)
    return lines


def targets(res):
    """Issue 5's goals next to what this run measured (information only)."""
    by = {c["id"]: c["results"] for c in res["configs"]}
    cs = res["cold_start"]
    out = []

    def line(goal, value, ok):
        out.append("- %s: measured %s -> %s" % (goal, value, "met" if ok else "NOT met"))

    for t in (1, 2):
        r = by.get("resnet18 b1 t%d" % t)
        if r and r["scanlite"] and r["ort"]:
            q = r["scanlite"]["median"] / r["ort"]["median"]
            line("ResNet18 b1 latency <= 0.6x ORT at %d thread(s)" % t, "%.2fx" % q, q <= 0.6)
    r = by.get("resnet18 b8 t2")
    if r and r["scanlite"] and r["ort"]:
        q = r["ort"]["median"] / r["scanlite"]["median"]
        line("ResNet18 b8 throughput >= 1.5x ORT at 2 threads", "%.2fx" % q, q >= 1.5)
    for t in sorted(cs["threads"], key=int):
        s = cs["threads"][t]["scanlite"]
        if s["ms"]:
            line("cold start <= 30 ms at %s thread(s)" % t,
                 "%.1f ms wall, %.1f ms CPU" % (s["ms"]["median"], s["cpu_ms"]["median"]), s["ms"]["median"] <= 30)
    s = cs["threads"]["1"]["scanlite"]
    if s["maxrss_mb"] and cs["model_bytes"]["scanlite"]:
        lim = cs["model_bytes"]["scanlite"] / 2**20 + 40
        line("peak RSS <= model file + 40 MB (%.1f MB)" % lim, "%.1f MB" % s["maxrss_mb"]["median"],
             s["maxrss_mb"]["median"] <= lim)
    errs = [c["max_abs_err"].get("scanlite") for c in res["configs"]]
    if errs and all(e is not None for e in errs):
        line("outputs within 1e-4 of PyTorch (bench models)", "max %.1e" % max(errs), max(errs) <= 1e-4)
    return out or ["- nothing measured for scanlite in this run (see Failures)"]


def render_text(res):
    lines = header(res)
    lines += ["", "### ResNet18 224x224 and SmallCNN 64x64: latency per batch", ""]
    lines += latency_table(res, ("resnet18", "smallcnn"))
    lines += ["", "### Fastest single run (min over all repetitions x K runs)", ""] + best_rows(res)
    lines += ["", "### ResNet18 batch 8: throughput (from the medians above)", ""] + throughput_rows(res)
    lines += ["", "### ResNet18 conv layers one by one (batch 1, 1 thread; conv + global average pool)", ""]
    lines += conv_rows(res)
    lines += ["", "### Cold start, ResNet18 (page cache warm)", ""] + cold_tables(res)
    lines += ["", "### Issue 5 targets (information only; nothing is asserted)", ""] + targets(res)
    if res["failures"]:
        lines += ["", "### Failures", ""] + ["- %s: %s" % (k, v) for k, v in sorted(res["failures"].items())]
    return "\n".join(lines) + "\n"


def render_png(res, path):
    import bench_chart
    bench_chart.draw(res, path)


if __name__ == "__main__":
    # bench_report.py RESULTS.json: print a past run's tables again.
    import json
    import sys
    with open(sys.argv[1]) as f:
        sys.stdout.write(render_text(json.load(f)))
