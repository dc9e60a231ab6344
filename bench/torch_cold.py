"""torch_cold.py MODEL.pt IMAGE [THREADS] — cold-start probe for `make bench`:
import torch and torchvision, load the pickled eval() module, decode IMAGE
with PIL, resize 256 / center-crop 224 / ImageNet-normalise, run it on
THREADS (default 1) threads and print the top class. bench.py times process start -> the printed line."""
import os
import sys

import torch
from PIL import Image
from torchvision import transforms

sys.dont_write_bytecode = True  # unpickling imports repo modules: no __pycache__ beside them
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))


def main():
    model_path, image = sys.argv[1], sys.argv[2]
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    model = torch.load(model_path).eval()
    pre = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                              transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = pre(Image.open(image).convert("RGB")).unsqueeze(0)
    with torch.inference_mode():
        y = model(x)[0]
    best = int(y.argmax())
    print("class %d %.4f" % (best, float(y[best])), flush=True)


if __name__ == "__main__":
    main()
