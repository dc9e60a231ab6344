"""preproc_ref.py — torchvision oracle for `scanlite preprocess` (t_preproc.sh).

  preproc_ref.py models OUTDIR
      writes two tiny ONNX models whose only purpose is to carry an input
      size: gray28.onnx ([N,1,28,28]) and rgb224.onnx ([N,3,224,224]).
  preproc_ref.py compare OUTDIR TESTDATA IMAGE...
      for each IMAGE DIR/NAME.EXT, compares OUTDIR/c/<recipe>/<DIR>__<NAME>.f32
      (written by the C tool) with torchvision on PIL:
        gray28:  convert("L"), Resize((28, 28)), ToTensor, Normalize(0.5, 0.5)
        rgb224:  convert("RGB"), Resize(256), CenterCrop(224), ToTensor,
                 Normalize(ImageNet mean, std)
      and, for images with a stored reference tensor in
      TESTDATA/reference/pneumoniamnist_cnn, also with that tensor.
      PNG sources are lossless, so the resize must match bit for bit
      (max |d| < 1e-5); JPEG sources go through two different decoders
      (stb_image vs libjpeg), so the bound is on the mean: < 0.01.
      Prints one row per image and recipe; exit 1 on any failure.
"""
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

RECIPES = {
    "gray28": ("L", (1, 28, 28), T.Compose([
        T.Resize((28, 28)), T.ToTensor(), T.Normalize([0.5], [0.5])])),
    "rgb224": ("RGB", (3, 224, 224), T.Compose([
        T.Resize(256), T.CenterCrop(224), T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])),
}
JPEG_MEAN_MAX = 0.01
PNG_MAX = 1e-5


def make_models(outdir):
    torch.manual_seed(0)
    gray = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 2))
    rgb = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(3, 2))
    for name, m, shape in (("gray28", gray, (1, 1, 28, 28)), ("rgb224", rgb, (1, 3, 224, 224))):
        m.eval()
        torch.onnx.export(m, torch.zeros(shape), os.path.join(outdir, name + ".onnx"),
                          input_names=["input"], output_names=["logits"], opset_version=13,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})


def stored_reference(testdata, image):
    """The pneumoniamnist reference input of this image, if there is one."""
    parent = os.path.basename(os.path.dirname(image))
    name = os.path.splitext(os.path.basename(image))[0]
    path = os.path.join(testdata, "reference", "pneumoniamnist_cnn",
                        "%s__%s.input.npy" % (parent, name))
    return np.load(path)[0] if os.path.exists(path) else None


def compare(outdir, testdata, images):
    failures = 0
    rows = 0
    worst = {}
    for image in images:
        stem = "%s__%s" % (os.path.basename(os.path.dirname(image)),
                           os.path.splitext(os.path.basename(image))[0])
        lossless = image.lower().endswith(".png")
        src = Image.open(image)
        for recipe, (mode, shape, tf) in RECIPES.items():
            path = os.path.join(outdir, "c", recipe, stem + ".f32")
            if not os.path.exists(path):
                print("FAIL %-48s %-6s no C output" % (stem, recipe))
                failures += 1
                continue
            got = np.fromfile(path, dtype="<f4")
            if got.size != np.prod(shape):
                print("FAIL %-48s %-6s C output has %d values" % (stem, recipe, got.size))
                failures += 1
                continue
            got = got.reshape(shape)
            refs = [("torchvision", tf(src.convert(mode)).numpy())]
            if recipe == "gray28":
                stored = stored_reference(testdata, image)
                if stored is not None:
                    refs.append(("stored", stored))
            for what, ref in refs:
                d = np.abs(got - ref)
                ok = d.max() < PNG_MAX if lossless else d.mean() < JPEG_MEAN_MAX
                print("%s %-48s %-6s %-11s %4s %4dx%-4d mean|d| %.6f max|d| %.6f" % (
                    "ok  " if ok else "FAIL", stem, recipe, what, "png" if lossless else "jpeg",
                    src.size[0], src.size[1], d.mean(), d.max()))
                key = (recipe, lossless)
                worst[key] = max(worst.get(key, 0.0), float(d.mean()))
                failures += not ok
                rows += 1
    for (recipe, lossless), w in sorted(worst.items()):
        print("worst mean|d| %s %s: %.6f" % (recipe, "png" if lossless else "jpeg", w))
    print("%d comparisons, %d failed" % (rows, failures))
    return 1 if failures or rows == 0 else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "models":
        make_models(argv[2])
        return 0
    if len(argv) >= 4 and argv[1] == "compare":
        return compare(argv[2], argv[3], argv[4:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
