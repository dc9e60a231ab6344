#!/usr/bin/python3
"""train_demo.py — trains scanlite's demo model on simulated radiographs.

Generates a training and a validation set with tools/simxray.py (different
seeds), passes every image through exactly the preprocessing that
`scanlite predict` applies for the recipe written at conversion (gray,
stretch to INPUTxINPUT with PIL bilinear antialias, x/255, (x-M)/S), trains a
small ResNet (stem, 3 stages of basic blocks, global average pool, Linear)
on CPU with Debian's PyTorch, and exports ONNX (opset 13, dynamic batch).
Writes WORK/demo.onnx, WORK/labels.txt and WORK/norm.txt ("M S").
Demo on simulated data only: not a medical device.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import simxray  # noqa: E402

TRAIN_SEED, VAL_SEED = 1001, 2002       # the stored held-out set uses 3003 (make_demo.sh)
RENDER_SIZES = (112, 128, 144)          # source sizes, so that the resize to INPUT is real
WIDTHS, BLOCKS = (16, 32, 64), (2, 2, 2)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut (identity, or 1x1 conv stride s + BN), ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class DemoNet(nn.Module):
    """[N, 1, H, W] -> logits [N, 2]; ResNet18's layout, narrower and shallower."""

    def __init__(self, n_classes=2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, WIDTHS[0], 5, 2, 2, bias=False), nn.BatchNorm2d(WIDTHS[0]),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], WIDTHS[0]
        for i, (w, n) in enumerate(zip(WIDTHS, BLOCKS)):
            for b in range(n):
                layers.append(BasicBlock(cin, w, 2 if (i > 0 and b == 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, n_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


def render_set(seed, count, size_of):
    """PIL 'L' images and labels of set `seed`, image i rendered at size_of(i)."""
    imgs, labels = [], []
    for i in range(count):
        px, y = simxray.render(seed, i, size_of(i))
        imgs.append(Image.fromarray(px, mode="L"))
        labels.append(y)
    return imgs, torch.tensor(labels, dtype=torch.int64)


def to_tensor(imgs, tf):
    return torch.stack([tf(im) for im in imgs])


def accuracy(model, x, y, batch=256):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="output directory")
    ap.add_argument("--train", type=int, default=8000)
    ap.add_argument("--val", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--input", type=int, default=96, help="network input side")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core machine 2 threads ran 7x slower)")
    a = ap.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    t0 = time.time()

    size_of = lambda i: RENDER_SIZES[(i // 2) % len(RENDER_SIZES)]  # noqa: E731 (both labels at every size)
    tr_imgs, ytr = render_set(TRAIN_SEED, a.train, size_of)
    va_imgs, yva = render_set(VAL_SEED, a.val, size_of)
    # mean/std of the resized training pixels, rounded: they become the recipe
    raw = transforms.Compose([transforms.Grayscale(1), transforms.Resize((a.input, a.input)), transforms.ToTensor()])
    sample = to_tensor(tr_imgs[:1000], raw)
    m, s = round(sample.mean().item(), 3), round(sample.std().item(), 3)
    tf = transforms.Compose([raw, transforms.Normalize([m], [s])])
    xtr, xva = to_tensor(tr_imgs, tf), to_tensor(va_imgs, tf)
    del tr_imgs, va_imgs
    print("data: %d train, %d val, input 1x%dx%d, mean %g std %g (%.0fs)"
          % (len(xtr), len(xva), a.input, a.input, m, s, time.time() - t0), flush=True)

    model = DemoNet()
    n_params = sum(p.numel() for p in model.parameters())
    steps = a.epochs * ((len(xtr) + a.batch - 1) // a.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.2)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(a.epochs):
        model.train()
        t1, total, seen = time.time(), 0.0, 0
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), a.batch):
            idx = perm[i:i + a.batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        print("epoch %d: loss %.4f, val acc %.4f (%.0fs)"
              % (epoch + 1, total / seen, accuracy(model, xva, yva), time.time() - t1), flush=True)

    model.eval()
    val_acc = accuracy(model, xva, yva)
    onnx_path = os.path.join(a.work, "demo.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, a.input, a.input), onnx_path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with open(os.path.join(a.work, "labels.txt"), "w") as f:
        f.write("\n".join(simxray.LABELS) + "\n")
    with open(os.path.join(a.work, "norm.txt"), "w") as f:
        f.write("%g %g\n" % (m, s))
    print("trained DemoNet (%d parameters) in %.0fs: val acc %.4f (torch, %d images, seed %d); wrote %s"
          % (n_params, time.time() - t0, val_acc, len(xva), VAL_SEED, onnx_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
