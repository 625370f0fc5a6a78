"""The PyTorch side of bench/gpu/run.sh: the same work as engine_bench, written the way a
PyTorch user would, on the same device, each mode printing one JSON line.

  classifier  one rank's share of the cosine-softmax step in the style of Partial FC
              (insightface's partial_fc_v2, sample_rate 1): the B x rows logits materialised
              under bf16 autocast, softmax in place in fp32, autograd for the products, SGD
  resnet50    torchvision's ResNet-50 (defined here, so torchvision is not needed), bf16
              autocast, channels-last, SGD, cross-entropy over 1000 classes
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def timed(device, fn):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def peak_bytes(device):
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None


def reset_peak(device):
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


class SoftmaxCrossEntropy(torch.autograd.Function):
    """Partial FC's DistCrossEntropyFunc on one rank: probabilities in place of the logits."""

    @staticmethod
    def forward(ctx, logits, labels):
        logits.sub_(logits.max(dim=1, keepdim=True)[0]).exp_()
        logits.div_(logits.sum(dim=1, keepdim=True))
        picked = logits.gather(1, labels[:, None]).clamp_min(1e-30).log()
        ctx.save_for_backward(logits, labels)
        return -picked.mean()

    @staticmethod
    def backward(ctx, grad):
        probs, labels = ctx.saved_tensors
        probs.scatter_add_(1, labels[:, None], -torch.ones_like(labels[:, None], dtype=probs.dtype))
        return probs.mul_(grad / probs.size(0)), None


def median_step_s(device, warmup, steps, make_step):
    """Median seconds of the step make_step() returns, called afresh for each of warmup + steps
    (the inputs it draws are outside the timing); the peak memory counts the timed steps."""
    times = []
    for i in range(warmup + steps):
        step = make_step()
        if i == warmup:
            reset_peak(device)
        seconds = timed(device, step)
        if i >= warmup:
            times.append(seconds)
    return statistics.median(times)


def sgd_step(opt, loss):
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def classifier(a, device):
    weight = nn.Parameter(torch.randn(a.rows, a.dim, device=device))
    opt = torch.optim.SGD([weight], lr=0.1, momentum=0.9, weight_decay=1e-4)

    def make_step():
        features = torch.randn(a.batch, a.dim, device=device, requires_grad=True)
        labels = torch.randint(0, a.rows, (a.batch,), device=device)

        def one_step():
            with torch.autocast(device.type, dtype=torch.bfloat16):
                logits = F.linear(F.normalize(features), F.normalize(weight))
            sgd_step(opt, SoftmaxCrossEntropy.apply(logits.float().div_(a.temperature), labels))

        return one_step

    return {"mode": "classifier", "impl": "pytorch", "rows": a.rows, "batch": a.batch,
            "step_s": median_step_s(device, 2, a.steps, make_step), "peak_bytes": peak_bytes(device)}


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet50(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, inplanes = [], 64
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * 4))
            block = [Bottleneck(inplanes, planes, stride, downsample)]
            inplanes = planes * 4
            block += [Bottleneck(inplanes, planes) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*block))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(a, device):
    model = ResNet50().to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    images = torch.randn(a.batch, 3, 224, 224, device=device).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (a.batch,), device=device)

    def one_step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = F.cross_entropy(model(images), labels)
        sgd_step(opt, loss)

    step_s = median_step_s(device, 3, a.steps, lambda: one_step)
    return {"mode": "resnet50", "impl": "pytorch", "batch": a.batch, "step_s": step_s,
            "images_per_s": a.batch / step_s, "peak_bytes": peak_bytes(device)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["classifier", "resnet50"])
    p.add_argument("--device", default="cuda")
    p.add_argument("--rows", type=int, default=160000)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.15)
    p.add_argument("--steps", type=int, default=10)
    a = p.parse_args()
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        result = classifier(a, device) if a.mode == "classifier" else resnet50(a, device)
    except torch.cuda.OutOfMemoryError as e:
        result = {"mode": a.mode, "impl": "pytorch", "rows": a.rows, "batch": a.batch,
                  "error": "out of memory: " + str(e).split("\n")[0]}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
