#!/usr/bin/python3
"""bench/pipeline: augmented two-view pairs per second per core, ours (OpenCV, C++) against
torchvision transforms in Python on the same images, one core each, side by side.

  /usr/bin/python3 bench/pipeline/run.py [--pairs 20000] [--build build]

Recipes: "fashion" (28 x 28 grey Fashion-MNIST train images, crop 28, flip, brightness and
contrast jitter, blur) and "imagenet" (random 256 x 256 colour images, crop 224, flip, full
colour jitter, grayscale, blur).
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def torchvision_recipe(name):
    if name == "fashion":
        return T.Compose([
            T.RandomResizedCrop(28, scale=(0.2, 1.0)),
            T.RandomHorizontalFlip(),
            T.RandomApply([T.ColorJitter(0.4, 0.4)], p=0.8),
            T.RandomApply([T.GaussianBlur(3, sigma=(0.1 * 28 / 224, 1.0))], p=0.5),
            T.ToTensor(),
            T.Normalize([0.2860], [0.3530]),
        ])
    return T.Compose([
        T.RandomResizedCrop(224, scale=(0.2, 1.0)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(23, sigma=(0.1, 2.0))], p=0.5),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])


def images(name):
    if name == "fashion":
        with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") as f:
            data = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
        return [Image.fromarray(data[i]) for i in range(1000)]
    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)) for _ in range(64)]


def torchvision_rate(name, pairs):
    torch.set_num_threads(1)
    transform, imgs = torchvision_recipe(name), images(name)
    start = time.perf_counter()
    for i in range(pairs):
        img = imgs[i % len(imgs)]
        transform(img)
        transform(img)
    return pairs / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    binary = os.path.join(a.build, "bench", "pipeline_bench")
    print(f"{'recipe':<9} {'ours pairs/s':>13} {'torchvision':>12} {'ratio':>6}")
    for name, pairs in (("fashion", a.pairs), ("imagenet", max(200, a.pairs // 20))):
        ours = json.loads(subprocess.check_output([binary, "--recipe", name, "--pairs", str(pairs)],
                                                  env=dict(os.environ, OMP_NUM_THREADS="1")))
        theirs = torchvision_rate(name, pairs)
        print(f"{name:<9} {ours['pairs_per_s']:13.0f} {theirs:12.0f} {ours['pairs_per_s'] / theirs:6.2f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
