"""Loads a state dict exported by millionway into torchvision's model with strict=True and
compares its output with the C++ model's on the same input.

  /usr/bin/python3 torchvision_check.py ARCH STATE_DICT IO
IO is a pickled {"input": x, "output": y}. Exits 0 when max |torchvision(x) - y| <= 1e-4.
"""
import sys

import torch
import torchvision


def main():
    arch, state_path, io_path = sys.argv[1:]
    state = torch.load(state_path)
    if not isinstance(state, dict):
        print(f"{state_path}: a {type(state).__name__}, not a dict")
        return 1
    model = getattr(torchvision.models, arch)()
    model.load_state_dict(state, strict=True)
    model.eval()
    io = torch.load(io_path)
    with torch.no_grad():
        out = model(io["input"])
    err = (out - io["output"]).abs().max().item()
    print(f"{arch}: {len(state)} tensors loaded strictly; max |torchvision - C++| = {err:.3g}")
    return 0 if err <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
