#!/usr/bin/python3
"""demo_eval.py — accuracy of a model on a labelled image folder, measured
through `scanlite predict --json` (never from a training log).

    demo_eval.py SCANLITE MODEL.slm DIR [--min-acc 0.95]

DIR holds images and labels.csv (columns file,label,...). Prints the accuracy,
the confusion counts and every miss; exits 1 if an image failed, a label is
unknown to the model, or accuracy < --min-acc. Python standard library only.
"""
import argparse
import csv
import json
import os
import subprocess
import sys


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scanlite")
    ap.add_argument("model")
    ap.add_argument("dir")
    ap.add_argument("--min-acc", type=float, default=0.0)
    a = ap.parse_args(argv)

    with open(os.path.join(a.dir, "labels.csv"), newline="") as f:
        truth = {row["file"]: row["label"] for row in csv.DictReader(f)}
    if not truth:
        print("FAIL: no images listed in %s/labels.csv" % a.dir)
        return 1
    files = sorted(truth)
    cmd = [a.scanlite, "predict", "-m", a.model, "--json", "--top-k", "2"]
    proc = subprocess.run(cmd + [os.path.join(a.dir, f) for f in files], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    if proc.returncode != 0:
        print("FAIL: scanlite predict exit %d: %s" % (proc.returncode, proc.stderr.strip()[:500]))
        return 1
    try:
        results = json.loads(proc.stdout)
    except ValueError as e:
        print("FAIL: scanlite predict printed no valid JSON (%s): %s" % (e, proc.stdout[:300]))
        return 1
    if len(results) != len(files):
        print("FAIL: %d results for %d images" % (len(results), len(files)))
        return 1

    classes = sorted(set(truth.values()))
    confusion = {(t, p): 0 for t in classes for p in classes}
    correct, bad = 0, 0
    for f, r in zip(files, results):
        if os.path.basename(r.get("file", "")) != f or "label" not in r:
            print("FAIL: %s: %s" % (f, r.get("error", "unexpected result %r" % r)))
            bad += 1
            continue
        t, p = truth[f], r["label"]
        if p not in classes:
            print("FAIL: %s: label %r is not one of %s" % (f, p, classes))
            bad += 1
            continue
        confusion[(t, p)] += 1
        if p == t:
            correct += 1
        else:
            print("miss: %s is %s, predicted %s (confidence %.3f)" % (f, t, p, r["confidence"]))
    acc = correct / len(files)
    print("confusion (true -> predicted): " +
          ", ".join("%s->%s %d" % (t, p, confusion[(t, p)]) for t in classes for p in classes))
    print("accuracy through scanlite: %d/%d = %.4f (required >= %.4f)" % (correct, len(files), acc, a.min_acc))
    if bad or acc < a.min_acc:
        print("FAIL: accuracy %.4f, %d failed images" % (acc, bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
