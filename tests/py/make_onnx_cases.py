#!/usr/bin/python3
"""make_onnx_cases.py — exports test models to ONNX with torch.onnx.export
(dynamic batch) for the ONNX reader, at test time (no binary fixtures in
the repository). For every case NAME_opsetK it writes into OUT_DIR:
  NAME_opsetK.onnx      the model
  NAME_opsetK.in.f32    input, batch 2, raw little-endian float32
  NAME_opsetK.out.f32   PyTorch output for that input, raw float32
Weights are random (no downloads); BatchNorm statistics are randomised so
folding/normalisation errors show up in the numbers.
usage: make_onnx_cases.py OUT_DIR [--opsets 9,11,13,17] [--models a,b|all|small]
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class SmallCNN(nn.Module):
    """Conv/BN/ReLU/MaxPool + x.view(x.size(0), -1) (Shape->Gather->Unsqueeze->Concat->Reshape)."""
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.relu(self.c2(x))
        x = x.view(x.size(0), -1)
        return self.fc(x)


class KerasStyle(nn.Module):
    """NHWC flatten as Keras models do: permute(0,2,3,1) then view/flatten."""
    def __init__(self, use_view):
        super().__init__()
        self.use_view = use_view
        self.c1 = nn.Conv2d(3, 6, 3)
        self.c2 = nn.Conv2d(6, 4, 3)
        self.fc1 = nn.Linear(4 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.relu(self.c2(x))
        x = x.permute(0, 2, 3, 1)
        x = x.reshape(x.size(0), -1) if self.use_view else torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return torch.sigmoid(self.fc2(x))


class OpMix(nn.Module):
    """Ops the torchvision models do not reach: LeakyReLU, Tanh, AvgPool
    (ceil_mode, count_include_pad), standalone BatchNorm, Clip, reflect Pad,
    Concat, Mul/Add with constants, MatMul, Softmax."""
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(6)
        self.c2 = nn.Conv2d(6, 6, 1, groups=3)
        self.scale = nn.Parameter(torch.randn(6, 1, 1))
        self.w = nn.Parameter(torch.randn(6 * 5 * 5, 7))

    def forward(self, x):
        a = F.leaky_relu(self.c1(x), 0.2)
        b = self.bn(torch.tanh(a))
        b = F.pad(b, (1, 1, 1, 1), mode="reflect")
        b = F.avg_pool2d(b, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        c = torch.clamp(self.c2(b), -0.5, 0.7) * self.scale + 0.25
        d = torch.cat([c[:, :3], b[:, 3:]], dim=1)
        d = F.avg_pool2d(d, 2)
        return torch.softmax(torch.flatten(d, 1) @ self.w, dim=1)


def build(name):
    tv = torchvision.models
    table = {
        "resnet18": lambda: (tv.resnet18(weights=None), 224),
        "resnet34": lambda: (tv.resnet34(weights=None), 224),
        "resnet50": lambda: (tv.resnet50(weights=None), 224),
        "vgg11_bn": lambda: (tv.vgg11_bn(weights=None), 224),
        "mobilenet_v2": lambda: (tv.mobilenet_v2(weights=None), 224),
        "squeezenet1_1": lambda: (tv.squeezenet1_1(weights=None), 224),
        "small_cnn": lambda: (SmallCNN(), 16),
        "keras_view": lambda: (KerasStyle(True), 14),
        "keras_flatten": lambda: (KerasStyle(False), 14),
        "opmix": lambda: (OpMix(), 16),
    }
    return table[name]()


SMALL = ["small_cnn", "keras_view", "keras_flatten", "opmix", "squeezenet1_1"]
ALL = SMALL + ["resnet18", "resnet34", "resnet50", "vgg11_bn", "mobilenet_v2"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--opsets", default="9,11,13,17")
    ap.add_argument("--models", default="small")
    a = ap.parse_args()
    names = SMALL if a.models == "small" else ALL if a.models == "all" else a.models.split(",")
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    for name in names:
        model, hw = build(name)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
        model.eval()
        x = torch.randn(2, 3, hw, hw)
        with torch.no_grad():
            y = model(x)
        for opset in [int(o) for o in a.opsets.split(",")]:
            base = os.path.join(a.out, "%s_opset%d" % (name, opset))
            torch.onnx.export(model, x, base + ".onnx", opset_version=opset,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
            x.numpy().astype("<f4").tofile(base + ".in.f32")
            y.numpy().astype("<f4").tofile(base + ".out.f32")
            print(base + ".onnx", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
