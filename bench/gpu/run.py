"""Runs the GPU benchmark's parts (built by run.sh) and prints one Markdown table.

1. Correctness: the sharded step (fp32, bf16; whole-shard and chunked blocks, every cache
   setting) against the float64 dense reference, by tests/classifier_rank on the device.
2. Classifier step, d = 128, global batch 4096, one rank's share at N = 1.28M (W = 1 and
   W = 8) and at N = 14.2M / 8: step time, TFLOP/s against the bf16 matmul rate measured
   here, peak device memory chunked and not; the PyTorch Partial-FC step side by side.
3. ResNet-50 training step, bf16, channels-last, batch 256, against PyTorch eager.
4. The whole worker step at the ImageNet-21K share of one of 8 GPUs, and what it implies
   for 64 GPUs.
5. The gang under faults (bench/gpu/gang_faults): a peer killed mid-collective (how long the
   survivor's collective takes to fail, how long its teardown takes; needs 2 devices), and a
   collective reading a buffer written on a side stream (must wait for it; CUDA only).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

FULL = {"matmul": 8192, "batch": 4096, "shares": [("1.28M, W = 1", 1280000),
                                                  ("1.28M, W = 8", 160000),
                                                  ("14.2M, W = 8", 1775000)],
        "chunk": 8192, "resnet_batch": 256, "local_images": 256, "steps": 10}
# The same script on the CPU with small sizes: checks the plumbing, measures nothing.
QUICK = {"matmul": 256, "batch": 64, "shares": [("2k", 2000), ("4k", 4000)], "chunk": 512,
         "resnet_batch": 2, "local_images": 2, "steps": 1}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_json(cmd, env=None):
    started = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout + done.stderr)
        return {"error": "exit %d: %s" % (done.returncode, (done.stderr.strip().splitlines() or ["?"])[-1])}
    result = json.loads(lines[-1])
    result["wall_s"] = time.time() - started
    return result


def correctness(build, device, precision):
    env = dict(os.environ, MW_RANK="0", MW_WORLD_SIZE="1", MW_STORE_PORT=str(free_port()),
               MW_DEVICE=device, MW_PRECISION=precision, MW_REPORT_ERRORS="1")
    done = subprocess.run([os.path.join(build, "bench", "gpu", "classifier_rank")],
                          capture_output=True, text=True, env=env)
    worst = [float(l.split("worst error ")[1].split(",")[0])
             for l in done.stdout.splitlines() if "worst error" in l]
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
    return {"passed": done.returncode == 0, "cases": len(worst),
            "worst": max(worst) if worst else None}


def dead_peer(faults, device):
    """Two ranks; rank 1 kills itself mid-loop; rank 0's figures, or why there are none."""
    if device.startswith("cuda"):
        import torch
        if torch.cuda.device_count() < 2:
            return "skipped: NCCL needs a device per rank, this machine has %d" % torch.cuda.device_count()
    port = str(free_port())
    ranks = [subprocess.Popen([faults, "dead_peer", "--device", device, "--timeout-s", "20"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, MW_RANK=str(r), MW_WORLD_SIZE="2",
                                       MW_STORE_PORT=port))
             for r in (0, 1)]
    try:
        out, err = ranks[0].communicate(timeout=90)
    except subprocess.TimeoutExpired:
        for r in ranks:
            r.kill()
        return "FAIL: rank 0 still blocked after 90 s (collective or teardown hung)"
    ranks[1].wait()
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if ranks[0].returncode != 0 or not lines:
        return "FAIL: exit %d: %s" % (ranks[0].returncode, (err.strip().splitlines() or ["?"])[-1])
    r = json.loads(lines[-1])
    return ("%s after %d collectives: the next failed in %.2f s (timeout %d s) with %s; "
            "teardown %.2f s" % (r["device"], r["collectives"], r["error_after_s"], r["timeout_s"],
                                 r["error"], r["teardown_s"]))


def gib(v):
    return "n/a" if v is None else "%.2f GiB" % (v / 2**30)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    size = QUICK if a.quick else FULL
    bench = os.path.join(a.build, "bench", "gpu", "engine_bench")
    peers = [sys.executable, os.path.join(HERE, "pytorch_peers.py")]
    dev = ["--device", a.device]
    steps = ["--steps", str(size["steps"])]
    out = []

    out.append("### 1. Correctness against the float64 reference (%s)\n" % a.device)
    out.append("| precision | cases | worst relative error | result |")
    out.append("|---|---|---|---|")
    failed = False
    for precision in ("f32", "bf16"):
        c = correctness(a.build, a.device, precision)
        failed |= not c["passed"]
        out.append("| %s | %d | %s | %s |" % (precision, c["cases"],
                                              "n/a" if c["worst"] is None else "%.2e" % c["worst"],
                                              "pass" if c["passed"] else "FAIL"))

    mm = run_json([bench, "matmul", "--size", str(size["matmul"])] + dev)
    rate = mm.get("tflops")
    out.append("\n### 2. Classifier step, d = 128, global batch %d, bf16\n" % size["batch"])
    out.append("bf16 matmul rate measured here (%d^3): %s TFLOP/s\n"
               % (size["matmul"], "n/a" if rate is None else "%.1f" % rate))
    out.append("| share (rows) | blocks | step | TFLOP/s | of matmul | peak memory "
               "| PyTorch Partial-FC step | its peak | time ratio | memory ratio |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for name, rows in size["shares"]:
        common = ["--rows", str(rows), "--batch", str(size["batch"])] + dev + steps
        peer = run_json(peers + ["classifier"] + common)
        for blocks, extra in (("chunked %d, 1 GiB cache" % size["chunk"],
                               ["--chunk", str(size["chunk"]), "--cache", str(2**30)]),
                              ("whole shard", ["--chunk", "0", "--cache", "-1"])):
            r = run_json([bench, "classifier"] + common + extra)
            if "error" in r:
                out.append("| %s (%d) | %s | %s |  |  |  |  |  |  |  |" % (name, rows, blocks, r["error"]))
                continue
            ratio_t = "%.2f" % (r["step_s"] / peer["step_s"]) if "step_s" in peer else "n/a"
            ratio_m = ("%.2f" % (r["peak_bytes"] / peer["peak_bytes"])
                       if r.get("peak_bytes") and peer.get("peak_bytes") else "n/a")
            out.append("| %s (%d) | %s | %.2f ms | %.1f | %s | %s | %s | %s | %s | %s |" % (
                name, rows, blocks, 1e3 * r["step_s"], r["tflops"],
                "n/a" if rate is None else "%.2f" % (r["tflops"] / rate), gib(r.get("peak_bytes")),
                peer.get("error") or "%.2f ms" % (1e3 * peer["step_s"]), gib(peer.get("peak_bytes")),
                ratio_t, ratio_m))

    out.append("\n### 3. ResNet-50 training step, bf16, channels-last, batch %d\n" % size["resnet_batch"])
    ours = run_json([bench, "resnet50", "--batch", str(size["resnet_batch"])] + dev + steps)
    theirs = run_json(peers + ["resnet50", "--batch", str(size["resnet_batch"])] + dev + steps)
    out.append("| implementation | images/s | peak memory |")
    out.append("|---|---|---|")
    for label, r in (("millionway (C++)", ours), ("PyTorch eager (Python)", theirs)):
        out.append("| %s | %s | %s |" % (label, r.get("error") or "%.1f" % r["images_per_s"],
                                          gib(r.get("peak_bytes"))))
    if "images_per_s" in ours and "images_per_s" in theirs:
        out.append("\nratio: %.2f" % (ours["images_per_s"] / theirs["images_per_s"]))

    rows = size["shares"][-1][1]
    out.append("\n### 4. Whole worker step at the %d-row share, global batch %d, %d images "
               "(x 2 views) per GPU\n" % (rows, size["batch"], size["local_images"]))
    w = run_json([bench, "worker", "--rows", str(rows), "--batch", str(size["batch"]),
                  "--local-images", str(size["local_images"]), "--chunk", str(size["chunk"]),
                  "--cache", str(2**30)] + dev + steps)
    if "error" in w:
        out.append("error: " + w["error"])
    else:
        per_gpu = w["images_per_s"]
        out.append("step %.1f ms, %.1f images/s per GPU, peak memory %s\n"
                   % (1e3 * w["step_s"], per_gpu, gib(w.get("peak_bytes"))))
        # On 64 GPUs each holds 14.2M / 64 rows, 1/8 of the share measured here, so the step
        # can only be shorter: the figure is an upper bound. Collectives are not counted.
        out.append("64 GPUs (the paper's count), from these figures: one ImageNet-21K epoch "
                   "(14.2M images) at %.0f images/s per GPU takes at most %.1f min of compute "
                   "(each GPU then holds 1/8 of the rows measured here; collectives not included)."
                   % (per_gpu, 14.2e6 / (64 * per_gpu) / 60))

    out.append("\n### 5. The gang under faults\n")
    faults = os.path.join(a.build, "bench", "gpu", "gang_faults")
    out.append("| check | result |")
    out.append("|---|---|")
    killed = dead_peer(faults, a.device)
    failed |= killed.startswith("FAIL")
    out.append("| peer killed mid-collective | %s |" % killed)
    if a.device.startswith("cuda"):
        env = dict(os.environ, MW_RANK="0", MW_WORLD_SIZE="1", MW_STORE_PORT=str(free_port()))
        r = run_json([faults, "stream_order"] + dev, env=env)
        failed |= "error" in r
        out.append("| collective after a side-stream write | %s |" % (
            r.get("error") or "%d of %d trials read stale bytes" % (r["wrong"], r["trials"])))

    table = "\n".join(out)
    print(table)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "gpu_table.md"), "w") as f:
            f.write(table + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
