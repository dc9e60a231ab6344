"""server_fixtures.py — test fixtures for the server tests (tests/t_server*.sh).

Usage: python server_fixtures.py OUTDIR
Writes OUTDIR/tiny.onnx (a small seeded CNN: 3x32x32 input, 3 classes),
OUTDIR/mlp.onnx (no convolution at all, so no Grad-CAM), OUTDIR/labels.txt,
and sample images OUTDIR/img/*.{png,jpg} of several
sizes and modes. Needs the Debian python with torch and PIL."""
import os
import sys

import torch
from PIL import Image


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.fc = torch.nn.Linear(16, 3)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.nn.functional.max_pool2d(x, 2)
        x = torch.relu(self.c2(x))
        x = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class Mlp(torch.nn.Module):
    """Flatten + Linear: a model Grad-CAM cannot explain (no feature map)."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3 * 32 * 32, 3)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "img"), exist_ok=True)
    torch.manual_seed(1234)
    m = Tiny().eval()
    with torch.no_grad():
        m.fc.weight.mul_(8.0)  # spread the logits so labels differ between images
    torch.onnx.export(m, torch.zeros(1, 3, 32, 32), os.path.join(out, "tiny.onnx"),
                      opset_version=13, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    torch.onnx.export(Mlp().eval(), torch.zeros(1, 3, 32, 32), os.path.join(out, "mlp.onnx"),
                      opset_version=13, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("normal\npneumonia\ncovid-19\n")
    g = torch.Generator().manual_seed(7)
    for i in range(12):
        w, h = 24 + 9 * i, 20 + 7 * i
        arr = (torch.rand(h, w, 3, generator=g) * 255).to(torch.uint8).numpy()
        arr[:, : w // (i % 3 + 2)] = (i * 40) % 256
        img = Image.fromarray(arr, "RGB")
        if i % 4 == 3:
            img = img.convert("L")
        img.save(os.path.join(out, "img", "s%02d.png" % i))
        img.convert("RGB").save(os.path.join(out, "img", "s%02d.jpg" % i), quality=90)
    # one upload above the in-database size limit (stored as a file)
    big = (torch.rand(700, 700, 3, generator=g) * 255).to(torch.uint8).numpy()
    Image.fromarray(big, "RGB").save(os.path.join(out, "img", "big.png"))


if __name__ == "__main__":
    main()
