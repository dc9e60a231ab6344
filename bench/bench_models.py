"""bench_models.py — the models `make bench` measures, built fresh each run
into the work directory: torchvision ResNet18 (random weights, batchnorm
given real statistics), the SmallCNN of tests/py/oracle_gen.py, and every
distinct conv layer shape of ResNet18 as a one-conv model. Each model is
written three ways from the same module: NAME.pt (whole eval() module, for
PyTorch), NAME.onnx (torch.onnx.export, opset 13, dynamic batch, for ORT)
and NAME.slm (`scanlite convert` of that ONNX file), plus the input batches
NAME.b<N>.in.f32 (raw float32 NCHW, seeded) every runtime is fed.
"""
import os
import subprocess
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))
from oracle_gen import SmallCNN, randomize_bn  # noqa: E402  (repo-local module)

CONVERT_TIMEOUT_S = 300  # a ResNet18 conversion takes a few seconds; a hang must not stall the bench


class ConvGap(nn.Module):
    """One conv layer followed by a global average pool. The pool keeps the
    output at [N, O] values: the sl_ API refuses outputs beyond 100000 values
    per sample (SL_MAX_LABELS) and most ResNet18 conv outputs are larger. The
    pool costs O*H*W adds, under 1% of the conv's FLOPs in every case."""

    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.pool(self.conv(x)).flatten(1)


def conv_flops(conv, h, w):
    """FLOPs (2 per multiply-add) of one sample through conv at input HxW."""
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    ph, pw = conv.padding
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (w + 2 * pw - kw) // sw + 1
    return 2 * conv.out_channels * oh * ow * (conv.in_channels // conv.groups) * kh * kw, oh, ow


def resnet18_conv_shapes(model):
    """Distinct conv shapes of model at 224x224, in network order, with how
    many times each occurs: [(conv, c, h, w, count)]."""
    seen = {}
    hooks = []

    def hook(mod, inp, _out):
        x = inp[0]
        key = (mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding, x.shape[2], x.shape[3])
        if key in seen:
            seen[key][4] += 1
        else:
            seen[key] = [mod, x.shape[1], x.shape[2], x.shape[3], 1]

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    return [tuple(v) for v in seen.values()]


def conv_name(conv, h):
    k, s = conv.kernel_size[0], conv.stride[0]
    return "conv%dx%d_s%d_%dto%d_@%d" % (k, k, s, conv.in_channels, conv.out_channels, h)


def export(work, name, module, chw, scanlite, batches, seed, activation=None):
    """Writes NAME.pt / .onnx / .slm and the input batches; returns the model
    record. A failed `scanlite convert` is recorded (slm_error), not raised:
    the other runtimes are still measured."""
    module.eval()
    base = os.path.join(work, name)
    torch.save(module, base + ".pt")
    g = torch.Generator().manual_seed(seed)
    torch.onnx.export(module, torch.randn((1,) + tuple(chw), generator=g), base + ".onnx", opset_version=13,
                      input_names=["input"], output_names=["output"], do_constant_folding=True,
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    rec = {"name": name, "pt": base + ".pt", "onnx": base + ".onnx", "slm": base + ".slm", "chw": list(chw),
           "inputs": {}, "slm_error": None}
    cmd = [scanlite, "convert", base + ".onnx", "-o", base + ".slm", "--name", name]
    if activation:
        cmd += ["--output-activation", activation]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S)
        if r.returncode != 0:
            rec["slm_error"] = (r.stderr.strip() or r.stdout.strip() or "exit %d" % r.returncode)[-300:]
    except subprocess.TimeoutExpired:
        rec["slm_error"] = "scanlite convert timed out after %d s" % CONVERT_TIMEOUT_S
    for b in batches:
        path = "%s.b%d.in.f32" % (base, b)
        torch.randn((b,) + tuple(chw), generator=g).numpy().astype("<f4").tofile(path)
        rec["inputs"][b] = path
    for k in ("onnx", "slm"):
        rec[k + "_bytes"] = os.path.getsize(rec[k]) if os.path.exists(rec[k]) else None
    return rec


def build_all(work, scanlite, log):
    """All models of the bench: {name: record}; conv records carry
    flops (per sample), count (occurrences in ResNet18) and shape text."""
    import torchvision
    torch.manual_seed(0)
    os.makedirs(work, exist_ok=True)
    models = {}
    r18 = randomize_bn(torchvision.models.resnet18(), 1).eval()
    log("export resnet18")
    models["resnet18"] = export(work, "resnet18", r18, (3, 224, 224), scanlite, (1, 8), seed=1)
    log("export smallcnn")
    models["smallcnn"] = export(work, "smallcnn", randomize_bn(SmallCNN(), 4), (3, 64, 64), scanlite, (1,), seed=2)
    for i, (conv, c, h, w, count) in enumerate(resnet18_conv_shapes(r18)):
        name = conv_name(conv, h)
        log("export " + name)
        rec = export(work, name, ConvGap(conv), (c, h, w), scanlite, (1,), seed=10 + i, activation="none")
        flops, oh, ow = conv_flops(conv, h, w)
        rec.update(kind="conv", flops=flops, count=count,
                   shape="%dx%d/%d %d->%d %dx%d->%dx%d" % (conv.kernel_size[0], conv.kernel_size[1],
                                                          conv.stride[0], c, conv.out_channels, h, w, oh, ow))
        models[name] = rec
    return models
