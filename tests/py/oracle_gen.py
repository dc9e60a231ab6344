"""oracle_gen.py — PyTorch as the oracle: writes test cases for scanlite.

usage: oracle_gen.py ops|models|pth OUTDIR

For each case NAME it writes into OUTDIR:
  NAME.onnx (or NAME.pth)  the model, exported by torch (random init, fixed seed)
  NAME.b<N>.in.f32         input batch, float32 little-endian NCHW
  NAME.b<N>.ref.f32        PyTorch's output for that batch
and appends "NAME N C H W opset" lines to OUTDIR/cases.txt.
No network access: torchvision models are built with weights=None.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)


def randomize_bn(model, seed):
    """torchvision inits BN as identity; give it real statistics so that
    batchnorm folding is actually exercised."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 0.5 + torch.rand(c, generator=g)
            m.bias.data = 0.2 * torch.randn(c, generator=g)
            m.running_mean.data = 0.2 * torch.randn(c, generator=g)
            m.running_var.data = 0.5 + torch.rand(c, generator=g)
    return model


def write_case(out, name, model, shape, batches=(1, 4), opset=13, seed=0, export=True, dynamic=True):
    model.eval()
    g = torch.Generator().manual_seed(1000 + seed)
    path = os.path.join(out, name + ".onnx")
    if export:
        x0 = torch.randn((1,) + tuple(shape), generator=g)
        kw = {}
        if dynamic:
            kw["dynamic_axes"] = {"input": {0: "N"}, "output": {0: "N"}}
        torch.onnx.export(model, x0, path, opset_version=opset, input_names=["input"],
                          output_names=["output"], do_constant_folding=True, **kw)
    with open(os.path.join(out, "cases.txt"), "a") as f:
        for b in batches:
            x = torch.randn((b,) + tuple(shape), generator=g)
            with torch.no_grad():
                y = model(x)
            x.numpy().astype("<f4").tofile(os.path.join(out, "%s.b%d.in.f32" % (name, b)))
            y.numpy().astype("<f4").tofile(os.path.join(out, "%s.b%d.ref.f32" % (name, b)))
            f.write("%s %d %d %d %d %d\n" % (name, b, shape[0], shape[1], shape[2], opset))


class Wrap(nn.Module):
    def __init__(self, fn, *mods):
        super().__init__()
        self.fn = fn
        self.mods = nn.ModuleList(mods)

    def forward(self, x):
        return self.fn(x, *self.mods)


class SmallCNN(nn.Module):
    """A small custom CNN: conv/bn/relu blocks, max pool, GAP head."""

    def __init__(self, classes=5):
        super().__init__()
        self.f = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32), nn.LeakyReLU(0.1),
            nn.Conv2d(32, 64, 1), nn.Sigmoid())
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.f(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(F.dropout(x, 0.5, self.training))


class KerasStyleCNN(nn.Module):
    """Keras-style: conv+relu+maxpool blocks, NHWC flatten, dense layers,
    sigmoid output (as models ported from Keras are)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, padding=1)
        self.c3 = nn.Conv2d(16, 16, 3)
        self.d1 = nn.Linear(16 * 6 * 6, 32)
        self.d2 = nn.Linear(32, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.c3(x))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        x = F.dropout(F.relu(self.d1(x)), 0.3, self.training)
        return torch.sigmoid(self.d2(x))


def op_cases(out):
    torch.manual_seed(0)
    cases = []
    c = cases.append
    # convolutions: (name, module, input CxHxW)
    c(("conv3x3", nn.Conv2d(3, 8, 3, padding=1), (3, 13, 11)))
    c(("conv_s2", nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), (4, 15, 16)))
    c(("conv_s2_p0", nn.Conv2d(4, 6, 3, stride=2), (4, 15, 16)))
    c(("conv7_s2_p3", nn.Conv2d(3, 8, 7, stride=2, padding=3), (3, 33, 29)))
    c(("conv1x1", nn.Conv2d(8, 5, 1), (8, 7, 9)))
    c(("conv1x1_s2", nn.Conv2d(8, 5, 1, stride=2), (8, 7, 9)))
    c(("conv_dil2", nn.Conv2d(3, 4, 3, padding=2, dilation=2), (3, 12, 10)))
    c(("conv_groups2", nn.Conv2d(4, 6, 3, padding=1, groups=2), (4, 9, 9)))
    c(("conv_depthwise", nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6), (6, 11, 10)))
    c(("conv_dw_mult", nn.Conv2d(4, 8, 3, padding=1, groups=4), (4, 8, 8)))
    c(("conv_rect", nn.Conv2d(2, 3, (1, 5), padding=(0, 2)), (2, 6, 9)))
    c(("conv_k1_c1", nn.Conv2d(1, 1, 1), (1, 5, 5)))
    c(("conv_asym_pad", Wrap(lambda x, m: m(F.pad(x, (0, 1, 2, 0))), nn.Conv2d(3, 4, 3)), (3, 8, 7)))
    c(("bn_standalone", Wrap(lambda x, m: m(x + 1.0), randomize_bn(nn.BatchNorm2d(3), 5)), (3, 5, 6)))
    c(("conv_bn_relu", randomize_bn(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()), 6), (3, 7, 7)))
    c(("relu", nn.ReLU(), (3, 4, 5)))
    c(("relu6", nn.ReLU6(), (3, 4, 5)))
    c(("hardtanh_clip", Wrap(lambda x: torch.clamp(x * 3, -1.5, 2.0)), (2, 4, 4)))
    c(("leakyrelu", nn.LeakyReLU(0.2), (3, 4, 5)))
    c(("sigmoid", Wrap(lambda x: torch.sigmoid(x * 20)), (3, 4, 5)))
    c(("tanh", nn.Tanh(), (3, 4, 5)))
    c(("maxpool2", nn.MaxPool2d(2), (3, 9, 8)))
    c(("maxpool3_s2_p1", nn.MaxPool2d(3, 2, 1), (3, 11, 12)))
    c(("maxpool_ceil", nn.MaxPool2d(3, 2, ceil_mode=True), (3, 10, 13)))
    c(("maxpool_ceil_pad", nn.MaxPool2d(3, 2, 1, ceil_mode=True), (3, 10, 14)))
    c(("maxpool_dil", nn.MaxPool2d(2, 1, dilation=2), (2, 7, 7)))
    c(("avgpool2", nn.AvgPool2d(2), (3, 9, 8)))
    c(("avgpool_pad_incl", nn.AvgPool2d(3, 2, 1, count_include_pad=True), (3, 9, 10)))
    c(("avgpool_pad_excl", nn.AvgPool2d(3, 2, 1, count_include_pad=False), (3, 9, 10)))
    c(("avgpool_ceil_incl", nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=True), (3, 10, 10)))
    c(("avgpool_ceil_excl", nn.AvgPool2d(3, 2, 0, ceil_mode=True, count_include_pad=False), (3, 10, 11)))
    c(("gap", nn.AdaptiveAvgPool2d(1), (5, 7, 6)))
    c(("add_bcast", Wrap(lambda x: x + torch.arange(3.0).reshape(3, 1, 1)), (3, 4, 5)))
    c(("add_residual", Wrap(lambda x, m: F.relu(m(x) + x), nn.Conv2d(3, 3, 3, padding=1)), (3, 6, 6)))
    c(("mul_bcast", Wrap(lambda x: x * torch.linspace(-1, 1, 5)), (3, 4, 5)))
    c(("mul_self", Wrap(lambda x: x * F.relu(x)), (3, 4, 5)))
    c(("concat", Wrap(lambda x, m: torch.cat([x, m(x), x * 2], 1), nn.Conv2d(3, 2, 1)), (3, 4, 5)))
    c(("slice_steps", Wrap(lambda x: x[:, 1:, ::2, 1::3]), (4, 9, 10)))
    c(("slice_neg", Wrap(lambda x: x[:, :-1, 2:-1, :]), (4, 9, 10)))
    c(("flatten_linear", Wrap(lambda x, m: m(torch.flatten(x, 1)), nn.Linear(60, 7)), (3, 4, 5)))
    c(("view_linear", Wrap(lambda x, m: m(x.view(x.size(0), -1)), nn.Linear(60, 4)), (3, 4, 5)))
    c(("permute_flatten", Wrap(lambda x, m: m(x.permute(0, 2, 3, 1).flatten(1)), nn.Linear(60, 3)), (3, 4, 5)))
    c(("transpose_hw", Wrap(lambda x: x.transpose(2, 3) * 1.5), (2, 3, 5)))
    c(("matmul", Wrap(lambda x: torch.matmul(x, torch.linspace(-1, 1, 35).reshape(5, 7))), (2, 3, 5)))
    c(("softmax", Wrap(lambda x, m: F.softmax(m(x.flatten(1)), dim=1), nn.Linear(30, 10)), (2, 3, 5)))
    c(("softmax_ch", Wrap(lambda x: F.softmax(x, dim=1)), (4, 3, 3)))
    c(("dropout", Wrap(lambda x, m: m(x) * 2, nn.Dropout(0.5)), (2, 3, 3)))
    c(("pad_const", Wrap(lambda x: F.pad(x, (1, 2, 0, 3), value=0.5)), (2, 4, 5)))
    c(("pad_reflect", Wrap(lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect")), (2, 4, 5)))
    c(("pad_edge", Wrap(lambda x: F.pad(x, (2, 1, 1, 2), mode="replicate")), (2, 4, 5)))
    c(("pad_channels", Wrap(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 2, 2))), (3, 8, 8)))
    for i, (name, mod, shape) in enumerate(cases):
        write_case(out, name, mod, shape, batches=(1, 3), seed=i)
    autopad_cases(out)
    # legacy opsets: ONNX defaults and attribute forms from older exporters
    for opset in (9, 11):
        write_case(out, "smallcnn_op%d" % opset, randomize_bn(SmallCNN(), 3), (3, 20, 20), opset=opset, seed=90 + opset)
        write_case(out, "slicepad_op%d" % opset, Wrap(lambda x: F.pad(x[:, :, 1:-1, 1:], (1, 1, 0, 0))), (2, 6, 7),
                   opset=opset, seed=80 + opset)
        write_case(out, "relu6_op%d" % opset, nn.ReLU6(), (2, 3, 3), opset=opset, seed=70 + opset)


def autopad_cases(out):
    """Conv/MaxPool with auto_pad SAME_UPPER / SAME_LOWER / VALID, which torch
    does not export: built with onnx.helper, the reference computed by torch
    with the explicit padding the ONNX spec prescribes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    g = torch.Generator().manual_seed(7)
    w = torch.randn(4, 3, 4, 3, generator=g)
    b = torch.randn(4, generator=g)
    for mode in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        for op in ("Conv", "MaxPool"):
            name = "autopad_%s_%s" % (op.lower(), mode.lower())
            h, wd, stride = 9, 10, 2
            if op == "Conv":
                node = helper.make_node("Conv", ["input", "w", "b"], ["output"], auto_pad=mode, strides=[stride, stride])
                inits = [numpy_helper.from_array(w.numpy(), "w"), numpy_helper.from_array(b.numpy(), "b")]
                kh, kw = 4, 3
            else:
                node = helper.make_node("MaxPool", ["input"], ["output"], auto_pad=mode, kernel_shape=[4, 3],
                                        strides=[stride, stride])
                inits = []
                kh, kw = 4, 3
            graph = helper.make_graph([node], name, [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                      ["N", 3, h, wd])], [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                      None)], inits)
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
            onnx.save(model, os.path.join(out, name + ".onnx"))

            def fn(x, op=op, mode=mode, kh=kh, kw=kw):
                pads = []
                for size, k in ((wd, kw), (h, kh)):
                    if mode == "VALID":
                        pads += [0, 0]
                        continue
                    o = -(-size // stride)
                    total = max((o - 1) * stride + k - size, 0)
                    small, big = total // 2, total - total // 2
                    pads += [small, big] if mode == "SAME_UPPER" else [big, small]
                if op == "Conv":
                    return F.conv2d(F.pad(x, pads), w, b, stride)
                return F.max_pool2d(F.pad(x, pads, value=-float("inf")), (kh, kw), stride)
            write_case(out, name, Wrap(fn), (3, h, wd), batches=(1, 2), opset=11, export=False)


def model_cases(out):
    import torchvision
    torch.manual_seed(0)
    write_case(out, "resnet18", randomize_bn(torchvision.models.resnet18(), 1), (3, 224, 224))
    write_case(out, "resnet50", randomize_bn(torchvision.models.resnet50(), 2), (3, 224, 224), batches=(1, 4))
    write_case(out, "mobilenet_v2", randomize_bn(torchvision.models.mobilenet_v2(), 3), (3, 224, 224))
    write_case(out, "squeezenet1_1", torchvision.models.squeezenet1_1(), (3, 224, 224), batches=(1, 2))
    write_case(out, "smallcnn", randomize_bn(SmallCNN(), 4), (3, 64, 64))
    write_case(out, "kerascnn", KerasStyleCNN(), (3, 32, 32))
    write_case(out, "vgg11_bn", randomize_bn(torchvision.models.vgg11_bn(), 5), (3, 224, 224), batches=(1,))


def pth_cases(out):
    """ResNet state_dicts as torch.save writes them, plain and wrapped."""
    import torchvision
    torch.manual_seed(0)
    m = randomize_bn(torchvision.models.resnet18(num_classes=7), 11).eval()
    sd = m.state_dict()
    torch.save(sd, os.path.join(out, "resnet18.pth"))
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}, "epoch": 3},
               os.path.join(out, "resnet18_wrapped.pth"))
    torch.save({"model": sd}, os.path.join(out, "resnet18_model.pth"))
    write_case(out, "resnet18_pth", m, (3, 224, 224), export=False)
    m34 = randomize_bn(torchvision.models.resnet34(num_classes=3), 12).eval()
    torch.save(m34.state_dict(), os.path.join(out, "resnet34.pth"))
    write_case(out, "resnet34_pth", m34, (3, 224, 224), batches=(1,), export=False)
    m50 = randomize_bn(torchvision.models.resnet50(num_classes=4), 13).eval()
    torch.save(m50.state_dict(), os.path.join(out, "resnet50.pth"))
    write_case(out, "resnet50_pth", m50, (3, 224, 224), batches=(1,), export=False)


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    {"ops": op_cases, "models": model_cases, "pth": pth_cases}[kind](out)
