"""bench_chart.py — the PNG of `make bench`, drawn with PIL (python3-pil
comes with torchvision; matplotlib is not a dependency). Horizontal bars, one
panel per measure, each panel on its own scale (set by the longest median): a bar is the median over
repetitions, the thin line across its end spans min–max (cut at the panel's
right edge when an outlier goes further).
"""
import os

from PIL import Image, ImageDraw, ImageFont

RUNTIMES = ("scanlite", "ort", "pytorch")
LABEL = {"scanlite": "scanlite", "ort": "ONNX Runtime", "pytorch": "PyTorch"}
COLOR = {"scanlite": (31, 119, 180), "ort": (255, 127, 14), "pytorch": (44, 160, 44)}
WIDTH, LEFT, BAR_W = 1100, 260, 620   # image width, label column, longest median bar (px)
CLIP = 90                             # how far past the longest bar a min–max line may run (px)
BAR_H, GROUP_GAP, TITLE_H = 13, 10, 30


def font(size):
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                 "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"):
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def panels(res):
    """[(title, unit, [(group label, {runtime: summary or None})])]; a summary
    has median/min/max in the panel's unit."""
    peak = res["system"]["peak"]["gflops_per_core"]
    out = []
    for group, title in (("resnet18", "ResNet18 224x224 latency per batch, ms (lower is better)"),
                         ("smallcnn", "SmallCNN 64x64 latency, ms (lower is better)")):
        rows = [(c["id"], c["results"]) for c in res["configs"] if c["group"] == group]
        out.append((title, "ms", rows))
    rows = []
    for c in res["configs"]:
        if c["group"] != "conv":
            continue
        conv = {}
        for rt in RUNTIMES:
            s = c["results"][rt]
            conv[rt] = None if not s else {k: c["flops"] / s[j] / 1e6 for k, j in
                                           (("median", "median"), ("min", "max"), ("max", "min"))}
        rows.append((c["shape"], conv))
    out.append(("ResNet18 conv layers, batch 1, 1 thread: GFLOP/s (higher is better; peak %.0f)" % peak,
                "GFLOP/s", rows))
    cs = res["cold_start"]["threads"]
    out.append(("Cold start, ResNet18: process start -> first result, ms (lower is better)", "ms",
                [("wall time, %s thread(s)" % t, {rt: cs[t][rt]["ms"] for rt in RUNTIMES})
                 for t in sorted(cs, key=int)]))
    out.append(("Peak RSS of the 1-thread cold-start process, MB (lower is better)", "MB",
                [("peak RSS", {rt: cs["1"][rt]["maxrss_mb"] for rt in RUNTIMES})]))
    return out


def draw(res, path):
    ps = panels(res)
    height = 70 + sum(TITLE_H + len(rows) * (3 * BAR_H + GROUP_GAP) + 20 for _, _, rows in ps)
    img = Image.new("RGB", (WIDTH, height), "white")
    d = ImageDraw.Draw(img)
    f, fs, fb = font(13), font(11), font(15)
    s = res["system"]
    d.text((10, 8), "scanlite bench %s — %s, %d CPUs, %s" % (res["date"], s["cpu"], s["cpus"],
                                                             " ".join(s["isa_flags"])), fill="black", font=fb)
    x = 10
    for rt in RUNTIMES:
        d.rectangle([x, 36, x + 14, 50], fill=COLOR[rt])
        d.text((x + 20, 36), LABEL[rt], fill="black", font=f)
        x += 40 + int(d.textlength(LABEL[rt], font=f))
    d.text((x + 20, 36), "bar = median of %d repetitions, line = min–max" % res["method"]["reps"],
           fill=(90, 90, 90), font=f)
    y = 70
    for title, unit, rows in ps:
        d.text((10, y), title, fill="black", font=fb)
        y += TITLE_H
        top = max([v["median"] for _, r in rows for v in r.values() if v] or [1.0])
        scale = BAR_W / top if top > 0 else 0
        edge = LEFT + BAR_W + CLIP
        for label, r in rows:
            d.text((10, y + BAR_H), label, fill="black", font=f)
            for rt in RUNTIMES:
                v = r.get(rt)
                if v:
                    x1 = LEFT + max(1, int(v["median"] * scale))
                    d.rectangle([LEFT, y, x1, y + BAR_H - 2], fill=COLOR[rt])
                    mid = y + (BAR_H - 2) // 2
                    x2 = min(edge, LEFT + int(v["max"] * scale))
                    d.line([LEFT + int(v["min"] * scale), mid, x2, mid], fill="black")
                    d.text((max(x1, x2) + 6, y - 1), "%.1f %s" % (v["median"], unit), fill="black", font=fs)
                else:
                    d.text((LEFT + 4, y - 1), "%s: n/a" % LABEL[rt], fill=(150, 0, 0), font=fs)
                y += BAR_H
            y += GROUP_GAP
        y += 20
    img.save(path, optimize=True)
