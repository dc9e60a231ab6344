"""gradcam_ref.py — PyTorch Grad-CAM (forward/backward hooks) as the oracle
for `scanlite explain`.

usage: gradcam_ref.py gen OUTDIR     models, inputs and reference maps
       gradcam_ref.py check OUTDIR   compares scanlite's maps with them
       gradcam_ref.py image OUT.png W H     a synthetic test image

gen writes for each model NAME: NAME.onnx, NAME.in<i>.f32 (one input,
float32 [1, C, H, W]), and for each explained class CLS (-1 = predicted):
NAME.in<i>.c<CLS>.ref.f32 (the raw map, [h, w]); and one line per case in
OUTDIR/cases.txt: "NAME i CLS expected_class h w margin_ok prescale".
check reads scanlite's NAME.in<i>.c<CLS>.cam.f32 and .txt ("h w class") and
asserts: same shape, the predicted class agrees (unless a near tie),
Pearson correlation of the maps normalised to [0, 1] >= 0.999 and raw
values within 1e-3 of the reference (relative to its maximum).

Grad-CAM: score = class logit before Softmax/Sigmoid (for the negative
label of a single-logit head, the negated logit); A = the hooked layer's
output; alpha_k = mean over (h, w) of dscore/dA_k; cam = relu(sum alpha_k A_k).
No network access: torchvision models are built with weights=None.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
CORR_MIN = 0.999
RAW_TOL = 1e-3


def randomize_bn(model, seed):
    """Real batchnorm statistics so that folding is exercised."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 0.5 + torch.rand(c, generator=g)
            m.bias.data = 0.2 * torch.randn(c, generator=g)
            m.running_mean.data = 0.2 * torch.randn(c, generator=g)
            m.running_var.data = 0.5 + torch.rand(c, generator=g)
    return model


class ResNetLogits(nn.Module):
    """torchvision resnet18 (GAP + Linear head); target layer4."""

    def __init__(self, seed):
        super().__init__()
        import torchvision
        self.net = randomize_bn(torchvision.models.resnet18(), seed)
        self.target = self.net.layer4

    def logits(self, x):
        return self.net(x)

    def forward(self, x):
        return self.logits(x)


class KerasBinary(nn.Module):
    """conv+relu+maxpool blocks, last conv+relu (target), NHWC flatten,
    Linear+ReLU, Dropout, Linear(1), Sigmoid."""

    def __init__(self):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.b2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.c3 = nn.Conv2d(16, 16, 3)
        self.target = nn.ReLU()
        self.d1 = nn.Linear(16 * 10 * 10, 32)
        self.drop = nn.Dropout(0.3)
        self.d2 = nn.Linear(32, 1)

    def logits(self, x):
        x = self.target(self.c3(self.b2(self.b1(x))))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.d2(self.drop(F.relu(self.d1(x))))

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


class KerasMulti(nn.Module):
    """As KerasBinary, with an overlapping MaxPool after the target, a
    Linear on a 3-D tensor (exported as MatMul + bias Add), LeakyReLU and a
    6-way Softmax."""

    def __init__(self):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.b2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.c3 = nn.Conv2d(16, 16, 3, padding=1)
        self.target = nn.ReLU()
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.d1 = nn.Linear(16 * 6 * 6, 64)
        self.drop = nn.Dropout(0.5)
        self.d2 = nn.Linear(64, 6)

    def logits(self, x):
        x = self.pool(self.target(self.c3(self.b2(self.b1(x)))))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], 1, -1)
        x = F.leaky_relu(self.d1(x), 0.1).reshape(x.shape[0], -1)
        return self.d2(self.drop(x))

    def forward(self, x):
        return F.softmax(self.logits(x), dim=1)


class AvgPoolCNN(nn.Module):
    """conv+BN+ReLU, strided conv+ReLU6 (target; Clip fused into Conv),
    AveragePool with padding, NCHW flatten, Linear+ReLU, Linear(4) logits."""

    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                               nn.Conv2d(8, 12, 3, stride=2, padding=1))
        self.target = nn.ReLU6()
        self.pool = nn.AvgPool2d(3, 2, 1, count_include_pad=False)
        self.d1 = nn.Linear(12 * 5 * 5, 32)
        self.d2 = nn.Linear(32, 4)

    def logits(self, x):
        x = self.pool(self.target(self.f(x)))
        return self.d2(F.relu(self.d1(x.flatten(1))))

    def forward(self, x):
        return self.logits(x)


def gradcam(model, x, cls, sign):
    """Raw Grad-CAM map [h, w] and the pre-ReLU map's max |value|."""
    store = {}

    def hook(mod, inp, out):
        store["a"] = out
        out.register_hook(lambda g: store.__setitem__("g", g))

    h = model.target.register_forward_hook(hook)
    try:
        model.zero_grad()
        score = sign * model.logits(x).reshape(-1)[cls]
        score.backward()
    finally:
        h.remove()
    a, g = store["a"][0].detach(), store["g"][0]
    alpha = g.mean(dim=(1, 2))
    pre = (alpha[:, None, None] * a).sum(0)
    return torch.relu(pre).numpy(), float(pre.abs().max())


def usable(cam):
    return (cam > 0).sum() >= 3 and cam.max() > cam.min()


def gen(out):
    torch.manual_seed(0)
    models = [
        ("resnet18", ResNetLogits(1), (3, 224, 224), 2, 2),
        ("kerasbin", KerasBinary(), (3, 48, 48), 3, 2),
        ("kerasmc", KerasMulti(), (3, 48, 48), 3, 2),
        ("avgcnn", randomize_bn(AvgPoolCNN(), 2), (3, 20, 20), 3, 2),
    ]
    lines = []
    for mi, (name, model, shape, n_inputs, n_classes) in enumerate(models):
        model.eval()
        g = torch.Generator().manual_seed(100 + mi)
        torch.onnx.export(model, torch.randn((1,) + shape, generator=g), os.path.join(out, name + ".onnx"),
                          opset_version=13, input_names=["input"], output_names=["output"],
                          do_constant_folding=True)
        for i in range(n_inputs):
            x = torch.randn((1,) + shape, generator=g)
            x.numpy().astype("<f4").tofile(os.path.join(out, "%s.in%d.f32" % (name, i)))
            with torch.no_grad():
                logits = model.logits(x).reshape(-1)
            n_out = logits.numel()
            binary = n_out == 1
            if binary:
                pred = int(logits[0] > 0)
                margin_ok = abs(float(logits[0])) > 1e-4
                candidates = [0, 1]
            else:
                top = torch.topk(logits, 2).values
                pred = int(torch.argmax(logits))
                margin_ok = float(top[0] - top[1]) > 1e-4 * max(1.0, float(top[0].abs()))
                candidates = torch.randperm(n_out, generator=g).tolist()
            cases = []
            for cls in [-1] + candidates:
                label = pred if cls < 0 else cls
                if len(cases) > n_classes:
                    break
                if cls == pred and not binary:
                    continue
                sign = (1.0 if label == 1 else -1.0) if binary else 1.0
                cam, prescale = gradcam(model, x, 0 if binary else label, sign)
                if cls < 0 or usable(cam):
                    cases.append((cls, label, cam, prescale))
            for cls, label, cam, prescale in cases:
                cam.astype("<f4").tofile(os.path.join(out, "%s.in%d.c%d.ref.f32" % (name, i, cls)))
                lines.append("%s %d %d %d %d %d %d %.9g\n" % (name, i, cls, label, cam.shape[0], cam.shape[1],
                                                             int(margin_ok), prescale))
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.writelines(lines)


def check(out):
    fails = n = 0
    worst = 1.0
    for line in open(os.path.join(out, "cases.txt")):
        name, i, cls, label, h, w, margin_ok, prescale = line.split()
        i, cls, label, h, w, margin_ok, prescale = int(i), int(cls), int(label), int(h), int(w), int(margin_ok), float(prescale)
        base = os.path.join(out, "%s.in%d.c%d" % (name, i, cls))
        what = "%s input %d class %s" % (name, i, "predicted" if cls < 0 else cls)
        n += 1
        try:
            oh, ow, ocls = [int(v) for v in open(base + ".txt").read().split()]
            ours = np.fromfile(base + ".cam.f32", dtype="<f4")
        except (OSError, ValueError) as ex:
            print("FAIL %s: no scanlite output (%s)" % (what, ex))
            fails += 1
            continue
        ref = np.fromfile(base + ".ref.f32", dtype="<f4")
        if (oh, ow) != (h, w) or ours.size != h * w:
            print("FAIL %s: map %dx%d (%d values), PyTorch %dx%d" % (what, oh, ow, ours.size, h, w))
            fails += 1
            continue
        if ocls != label and margin_ok:
            print("FAIL %s: explained class %d, PyTorch predicts %d" % (what, ocls, label))
            fails += 1
            continue
        if ocls != label:
            print("ok   %s: near tie, scanlite picked %d, PyTorch %d (not compared)" % (what, ocls, label))
            continue
        if ref.max() <= 0:
            ok = np.abs(ours).max() <= RAW_TOL * prescale
            print("%s %s: PyTorch map all zero; scanlite max %.3g (scale %.3g)" %
                  ("ok  " if ok else "FAIL", what, ours.max(), prescale))
            fails += not ok
            continue
        rel = float(np.abs(ours - ref).max() / ref.max())
        corr = float(np.corrcoef(ours / max(ours.max(), 1e-30), ref / ref.max())[0, 1]) if ours.max() > 0 else 0.0
        ok = corr >= CORR_MIN and rel <= RAW_TOL
        worst = min(worst, corr)
        print("%s %s: %dx%d corr %.9f raw max rel err %.2e" % ("ok  " if ok else "FAIL", what, h, w, corr, rel))
        fails += not ok
    print("gradcam: %d cases, %d failed, worst correlation %.9f" % (n, fails, worst))
    return 1 if fails or n == 0 else 0


def image(path, w, h):
    """A synthetic RGB image: a gradient with a bright disc, so that
    heatmaps have structure to follow."""
    from PIL import Image
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt((xx - 0.65 * w) ** 2 + (yy - 0.4 * h) ** 2)
    px = np.stack([40 + 100 * xx / w, 60 + 80 * yy / h, 90 + 0 * xx], -1)
    px[r < 0.15 * min(w, h)] = (235, 225, 210)
    Image.fromarray(px.astype(np.uint8)).save(path)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "image":
        image(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
