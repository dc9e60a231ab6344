#!/usr/bin/python3
"""simxray.py — deterministic generator of simulated chest-radiograph-like images.

Two classes: "normal" (label 0) and "opacity" (label 1: one to three soft
round opacities inside the lung fields, clear of the heart). Each image is a
pure function of (seed, index, size): the same arguments give the same pixels
and, written with the same PIL/zlib, the same PNG bytes. Labels alternate
(index % 2), so any contiguous range is balanced. Needs numpy and PIL only
(Debian python3-numpy, python3-pil). SIMULATED DATA: not anatomy, not for any clinical purpose.

    simxray.py --seed 7 --count 200 --size 128 --out DIR   # DIR/*.png + DIR/labels.csv
    simxray.py --seed 1 --count 4000 --size 128 --npz train.npz
"""
import argparse
import csv
import math
import os
import sys

import numpy as np
from PIL import Image

LABELS = ("normal", "opacity")
MIN_SIZE, MAX_SIZE = 16, 4096  # a side below 16 px cannot show ribs; above 4096 is a mistake


def _ellipse_dist(x, y, cx, cy, rx, ry, tilt):
    """Normalised distance from the centre of a tilted ellipse (1 on its border); arrays or floats."""
    c, s = math.cos(tilt), math.sin(tilt)
    dx, dy = x - cx, y - cy
    u = (c * dx + s * dy) / rx
    v = (-s * dx + c * dy) / ry
    return np.sqrt(u * u + v * v)


def _soft_ellipse(x, y, cx, cy, rx, ry, tilt, edge):
    """1 inside the tilted ellipse, 0 outside, sigmoid edge of width `edge`."""
    d = _ellipse_dist(x, y, cx, cy, rx, ry, tilt)
    return 1.0 / (1.0 + np.exp(np.clip((d - 1.0) / edge, -50.0, 50.0)))


def _smooth_noise(rng, size, cells):
    """Zero-mean, unit-ish smooth random field [size, size] from a cells x cells grid."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    img = Image.fromarray(grid, mode="F").resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.float64)


def _lung_point(rng, lung, heart):
    """A point inside the inner 80% of a lung field and clear of the heart
    (rejection sampling on the unit disc; the upper lung is always clear)."""
    cx, cy, rx, ry, tilt = lung
    c, s = math.cos(tilt), math.sin(tilt)
    while True:
        a, b = rng.uniform(-1.0, 1.0, 2)
        if a * a + b * b > 1.0:
            continue
        a, b = 0.8 * a * rx, 0.8 * b * ry
        px, py = cx + c * a - s * b, cy + s * a + c * b
        if _ellipse_dist(px, py, *heart) > 1.25:
            return px, py


def render(seed, index, size=128):
    """Image `index` of the set `seed`: (uint8 array [size, size], label)."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError("size must be in %d..%d" % (MIN_SIZE, MAX_SIZE))
    label = index % 2
    rng = np.random.default_rng([int(seed), int(index)])

    # Pixel centres in frame coordinates [-1, 1], then the inverse of a random
    # similarity (scale, rotation, shift) gives anatomy coordinates (X right, Y down).
    t = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    fx, fy = np.meshgrid(t, t)
    scale = rng.uniform(0.82, 1.08)
    rot = rng.uniform(-0.08, 0.08)
    sx, sy = rng.uniform(-0.07, 0.07, 2)
    c, s = math.cos(rot), math.sin(rot)
    x = (c * (fx - sx) + s * (fy - sy)) / scale
    y = (-s * (fx - sx) + c * (fy - sy)) / scale

    # background with an exposure gradient
    phi = rng.uniform(0.0, 2.0 * math.pi)
    ramp = math.cos(phi) * fx + math.sin(phi) * fy
    img = rng.uniform(0.04, 0.16) + rng.uniform(0.0, 0.06) * ramp

    # body (soft tissue)
    body = _soft_ellipse(x, y, 0.0, 0.15, rng.uniform(0.78, 0.9), rng.uniform(1.0, 1.15), 0.0, 0.03)
    img = img + body * rng.uniform(0.34, 0.46)

    # lung fields: darker, darkest at the apex, hidden behind the cardiac silhouette
    heart = (rng.uniform(0.08, 0.16), rng.uniform(0.28, 0.36), rng.uniform(0.22, 0.3), rng.uniform(0.17, 0.22),
             rng.uniform(-0.3, 0.0))
    heart_mask = _soft_ellipse(x, y, *heart, edge=0.08)
    lungs = []
    mask = np.zeros_like(x)
    for side in (-1.0, 1.0):
        lung = (side * rng.uniform(0.32, 0.4), rng.uniform(-0.1, 0.0), rng.uniform(0.22, 0.28),
                rng.uniform(0.5, 0.6), side * rng.uniform(0.0, 0.15))
        lungs.append(lung)
        mask = np.maximum(mask, _soft_ellipse(x, y, *lung, edge=0.06))
    mask = mask * (1.0 - heart_mask)
    depth = rng.uniform(0.22, 0.32) * (1.0 - 0.25 * np.clip(y, -1.0, 1.0))
    markings = _smooth_noise(rng, size, 10) * rng.uniform(0.01, 0.025)
    img = img - mask * (depth + markings)

    # mediastinum, spine with vertebrae, cardiac silhouette
    img = img + body * rng.uniform(0.05, 0.1) * _soft_ellipse(x, y, 0.0, 0.0, 0.11, 1.2, 0.0, 0.08)
    period = rng.uniform(0.1, 0.14)
    spine = _soft_ellipse(x, y, 0.0, 0.1, 0.05, 1.2, 0.0, 0.1)
    img = img + spine * (0.035 + 0.02 * np.cos(2.0 * math.pi * y / period))
    img = img + heart_mask * rng.uniform(0.1, 0.16)

    # ribs: n_ribs curved bright bands per side, `gap` apart, visible over the lungs
    n_ribs = int(rng.integers(8, 11))
    gap = rng.uniform(0.11, 0.14)
    width = rng.uniform(0.018, 0.028)
    rib_gain = rng.uniform(0.04, 0.08)
    first = rng.uniform(-0.66, -0.58)
    xl = np.abs(x)
    lateral = 1.0 / (1.0 + np.exp(np.clip(-(xl - 0.06) / 0.02, -50.0, 50.0)))
    d = y - first - (-0.6 * (xl - 0.05) + 0.9 * (xl - 0.05) ** 2 + 0.08)
    k = np.round(d / gap)
    ribs = np.where((k >= 0) & (k < n_ribs), np.exp(-((d - k * gap) / width) ** 2), 0.0)
    img = img + ribs * lateral * body * rib_gain

    # opacities (class 1): soft round, brighter, inside a lung field
    if label == 1:
        n_op = 1 + int(rng.random() < 0.3) + int(rng.random() < 0.1)
        for _ in range(n_op):
            ox, oy = _lung_point(rng, lungs[int(rng.integers(0, 2))], heart)
            r = math.exp(rng.uniform(math.log(0.055), math.log(0.16)))
            # one in five is faint (about a rib's contrast): the hard cases, hardest when small
            gain = rng.uniform(0.09, 0.24) if rng.random() < 0.8 else rng.uniform(0.06, 0.09)
            d2 = (x - ox) ** 2 + (y - oy) ** 2
            if rng.random() < 0.5:
                blob = np.exp(-d2 / (2.0 * r * r))
            else:
                blob = 1.0 / (1.0 + np.exp(np.clip((np.sqrt(d2) - r) / (0.3 * r), -50.0, 50.0)))
            img = img + gain * blob * (0.4 + 0.6 * mask)

    # global contrast, brightness, gamma, film grain
    img = (img - 0.4) * rng.uniform(0.85, 1.2) + 0.4 + rng.uniform(-0.05, 0.05)
    img = np.clip(img, 0.0, 1.0) ** rng.uniform(0.8, 1.25)
    img = img + rng.standard_normal(img.shape) * rng.uniform(0.004, 0.016)
    return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8), label


def generate(seed, count, size=128, start=0):
    """Images start..start+count-1 of set `seed`: (uint8 [count, size, size], int64 labels [count])."""
    xs = np.empty((count, size, size), dtype=np.uint8)
    ys = np.empty(count, dtype=np.int64)
    for i in range(count):
        xs[i], ys[i] = render(seed, start + i, size)
    return xs, ys


def write_pngs(seed, count, size, out, start=0):
    """Writes out/sim_<seed>_<index>.png and out/labels.csv (file,label,seed,index,size)."""
    os.makedirs(out, exist_ok=True)
    rows = []
    for i in range(start, start + count):
        px, label = render(seed, i, size)
        name = "sim_%d_%05d.png" % (seed, i)
        Image.fromarray(px, mode="L").save(os.path.join(out, name), optimize=True)
        rows.append((name, LABELS[label], seed, i, size))
    with open(os.path.join(out, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("file", "label", "seed", "index", "size"))
        w.writerows(rows)


def main(argv):
    ap = argparse.ArgumentParser(description="simulated 2-class radiograph-like images (deterministic)")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", type=int, default=0, help="first image index (default 0)")
    ap.add_argument("--size", type=int, default=128, help="side in pixels (default 128)")
    ap.add_argument("--out", help="directory for PNG files and labels.csv")
    ap.add_argument("--npz", help="write x (uint8 [N,S,S]) and y (int64 [N]) to this .npz instead")
    a = ap.parse_args(argv)
    if (a.out is None) == (a.npz is None):
        ap.error("give exactly one of --out and --npz")
    if a.count < 1 or a.start < 0 or not MIN_SIZE <= a.size <= MAX_SIZE:
        ap.error("need --count >= 1, --start >= 0, --size in %d..%d" % (MIN_SIZE, MAX_SIZE))
    if a.out:
        write_pngs(a.seed, a.count, a.size, a.out, a.start)
    else:
        x, y = generate(a.seed, a.count, a.size, a.start)
        np.savez_compressed(a.npz, x=x, y=y)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
