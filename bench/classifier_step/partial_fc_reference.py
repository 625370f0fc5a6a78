"""One rank of the PyTorch peer for bench/classifier_step: the same step (cosine softmax,
smoothed labels over each sample's top-k classes, SGD with momentum) in the model-parallel
style of Partial FC (insightface's partial_fc_v2 with sample_rate = 1): all-gather of the
features with a reduce backward, a row shard of W per rank, a distributed cross-entropy that
turns the B x |C_r| logits into probabilities in place, autograd for the rest.

Run by classifier_step.py with /usr/bin/python3 (Debian's python3-torch); prints rank 0's
figures as one JSON line, like classifier_step_rank.
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F


class AllGather(torch.autograd.Function):
    """Partial FC's AllGatherFunc: all-gather forward, reduce of each block to its owner in
    backward."""

    @staticmethod
    def forward(ctx, tensor):
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        world, rank = dist.get_world_size(), dist.get_rank()
        parts = list(grad.contiguous().chunk(world))
        works = [dist.reduce(parts[i], i, dist.ReduceOp.SUM, async_op=True) for i in range(world)]
        for w in works:
            w.wait()
        return parts[rank]


class DistSmoothedCrossEntropy(torch.autograd.Function):
    """Partial FC's DistCrossEntropyFunc with the smoothed top-k targets: the softmax is
    computed in place over the shard, with an all-reduce of the max and of the sum."""

    @staticmethod
    def forward(ctx, logits, target_rows, target_samples, target_values, batch):
        max_v = logits.max(dim=1, keepdim=True)[0]
        dist.all_reduce(max_v, dist.ReduceOp.MAX)
        logits.sub_(max_v).exp_()
        sum_v = logits.sum(dim=1, keepdim=True)
        dist.all_reduce(sum_v, dist.ReduceOp.SUM)
        logits.div_(sum_v)  # now probabilities
        picked = torch.zeros(batch, dtype=logits.dtype)
        picked.index_add_(0, target_samples,
                          target_values * logits[target_samples, target_rows].clamp_min(1e-30).log())
        dist.all_reduce(picked, dist.ReduceOp.SUM)
        ctx.save_for_backward(logits, target_rows, target_samples, target_values)
        return -picked.mean()

    @staticmethod
    def backward(ctx, grad_loss):
        probs, rows, samples, values = ctx.saved_tensors
        probs.index_put_((samples, rows), -values, accumulate=True)
        probs.mul_(grad_loss / probs.size(0))
        return probs, None, None, None, None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--top-k", type=int, default=100)
    p.add_argument("--smoothing", type=float, default=0.2)
    p.add_argument("--temperature", type=float, default=0.15)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    rank, world = int(os.environ["MW_RANK"]), int(os.environ["MW_WORLD_SIZE"])
    store = dist.TCPStore("127.0.0.1", int(os.environ["MW_STORE_PORT"]), world, rank == 0)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world)

    base, extra = divmod(a.classes, world)
    begin = rank * base + min(rank, extra)
    rows = base + (1 if rank < extra else 0)
    weight = torch.nn.Parameter(torch.randn(rows, a.dim))
    opt = torch.optim.SGD([weight], lr=0.1, momentum=0.9, weight_decay=1e-4)
    local = a.batch // world
    k = a.top_k
    column_values = torch.full((k + 1,), a.smoothing / k)
    column_values[0] = 1 - a.smoothing

    setup_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
    times = []
    for step in range(a.warmup + a.steps):
        features = torch.randn(local, a.dim, requires_grad=True)
        ids = torch.randint(0, a.classes, (local,))
        labels_local = torch.cat([ids[:, None], (ids[:, None] + torch.arange(1, k + 1)) % a.classes], 1)
        dist.barrier()
        start = time.perf_counter()
        label_parts = [torch.empty_like(labels_local) for _ in range(world)]
        dist.all_gather(label_parts, labels_local)
        labels = torch.cat(label_parts)
        x = AllGather.apply(F.normalize(features))
        flat = labels.reshape(-1)
        mine = (flat >= begin) & (flat < begin + rows)
        samples = torch.arange(a.batch).repeat_interleave(k + 1)[mine]
        target_rows = flat[mine] - begin
        values = column_values.repeat(a.batch)[mine]
        logits = x @ F.normalize(weight).t() / a.temperature
        loss = DistSmoothedCrossEntropy.apply(logits, target_rows, samples, values, a.batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - start)

    step_s = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
    figures = torch.tensor([step_s, peak, setup_rss], dtype=torch.float64)
    dist.all_reduce(figures, dist.ReduceOp.MAX)
    # Per step: features and labels all-gathered, max/sum/loss all-reduced (ring: 2(W-1)/W),
    # feature gradient reduced to its owners ((W-1)/W of B x d).
    w = world
    traffic = ((w - 1) * local * a.dim * 4 + (w - 1) * local * (k + 1) * 8
               + 2 * (w - 1) / w * a.batch * 4 * 3 + (w - 1) / w * a.batch * a.dim * 4)
    if rank == 0:
        print(json.dumps({"impl": "pytorch", "classes": a.classes, "world": world,
                          "batch": a.batch, "chunk": 0, "step_s": figures[0].item(),
                          "peak_rss_bytes": figures[1].item(),
                          "setup_rss_bytes": figures[2].item(), "bytes_per_step": traffic,
                          "gflops": 6.0 * a.batch * rows * a.dim / figures[0].item() / 1e9,
                          "threads": torch.get_num_threads()}), flush=True)
    dist.barrier()


if __name__ == "__main__":
    main()
