"""A job of N instance classes through the whole service, measured: `mwctl local` (shard
servers, coordinator, W workers, tokens on every hop) on a synthetic set of N small images.

    /usr/bin/python3 bench/scale/run.py --instances 1280000 --workers 2 --shard-servers 2 \\
        [--steps 20] [--epochs 2] [--smoothing 0.2] [--prior contrastive] [--build build]

The job: the prior over all N (unless --prior gaussian), per epoch a top-k refresh over all N
(unless --smoothing 0), --steps training steps (max_steps_per_epoch), a checkpoint; then the
evaluation. Prints one Markdown table, from the workers' and coordinator's logs and from
/proc sampled every 0.5 s: each task kind's time (rank 0), the training time each checkpoint
took (its snapshot) beside its background write, the steps' time, and every process's peak
RSS beside `mwctl plan`'s classifier estimate per worker. Ends with the job's state; exits 1
unless it COMPLETED.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time


def peak_rss_by_process(root, stop, peaks):
    """Samples VmHWM of the processes whose command line names `root` (the cluster's dir)."""
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
                if root.encode() not in b" ".join(cmd):
                    continue
                name = os.path.basename(cmd[0].decode())
                if name == "mw_worker":
                    name += " " + cmd[cmd.index(b"--name") + 1].decode()
                if name == "mw_shard_server":
                    name += " " + os.path.basename(cmd[cmd.index(b"--data-dir") + 1].decode())
                for line in open("/proc/%s/status" % pid):
                    if line.startswith("VmHWM:"):
                        kib = int(line.split()[1])
                        peaks[name] = max(peaks.get(name, 0), kib * 1024)
            except (OSError, ValueError, IndexError):
                continue
        stop.wait(0.5)


def log_lines(path):
    for line in open(path):
        try:
            yield json.loads(line)
        except ValueError:
            continue


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--instances", type=int, default=1280000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shard-servers", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--smoothing", type=float, default=0.2)
    p.add_argument("--prior", default="contrastive")
    p.add_argument("--local-batch", type=int, default=64)
    p.add_argument("--image-size", type=int, default=16)
    a = p.parse_args()
    spec = {"dataset": "synthetic", "synthetic_size": a.instances, "image_size": a.image_size,
            "test_subset": 1000, "backbone": "small", "local_batch": a.local_batch,
            "epochs": a.epochs, "warmup_epochs": 0, "max_steps_per_epoch": a.steps,
            "smoothing": a.smoothing, "prior": a.prior, "linear_probe": False,
            "chunk_rows": 65536}
    root = tempfile.mkdtemp(prefix="mw_scale_")
    spec_path = os.path.join(root, "spec.json")
    json.dump(spec, open(spec_path, "w"))
    mwctl = os.path.join(a.build, "bin", "mwctl")
    plan = subprocess.run([mwctl, "plan", "--spec", spec_path, "--workers", str(a.workers),
                           "--shard-servers", str(a.shard_servers)],
                          capture_output=True, text=True).stdout
    planned = re.search(r"per worker, classifier: \d+ rows, ([\d.]+) GiB", plan)
    cluster = os.path.join(root, "cluster")
    peaks, stop = {}, threading.Event()
    sampler = threading.Thread(target=peak_rss_by_process, args=(cluster, stop, peaks))
    sampler.start()
    started = time.time()
    try:
        done = subprocess.run([mwctl, "local", "--spec", spec_path, "--workers", str(a.workers),
                               "--shard-servers", str(a.shard_servers), "--dir", cluster],
                              capture_output=True, text=True)
        wall = time.time() - started
    finally:
        stop.set()
        sampler.join()
    try:
        tasks, blocked, writes = {}, [], []
        for record in log_lines(os.path.join(cluster, "worker-0.log")):
            msg = record.get("msg", "")
            if msg.endswith(" done") and msg.startswith("TASK_"):
                tasks.setdefault(msg[:-5], []).append(float(record.get("seconds", 0)))
        state = re.findall(r"\b(COMPLETED|FAILED|CANCELLED)\b", done.stdout + done.stderr)
        print("N = %d, W = %d, S = %d, %d steps per epoch, %d epochs, smoothing %s, prior %s: "
              "%.0f s in all, %s\n" % (a.instances, a.workers, a.shard_servers, a.steps,
                                       a.epochs, a.smoothing, a.prior, wall,
                                       state[-1] if state else "no final state"))
        print("| task (rank 0) | count | seconds each |")
        print("|---|---|---|")
        for kind in ("TASK_START", "TASK_TOPK_REFRESH", "TASK_TRAIN", "TASK_CHECKPOINT",
                     "TASK_EVALUATE"):
            times = tasks.get(kind, [])
            print("| %s | %d | %s |" % (kind, len(times),
                                       ", ".join("%.2f" % t for t in times) or "-"))
        print("\n| process | peak RSS | mwctl plan, classifier per worker |")
        print("|---|---|---|")
        for name in sorted(peaks):
            print("| %s | %.2f GiB | %s |" % (name, peaks[name] / 2**30,
                                             (planned.group(1) + " GiB")
                                             if planned and name.startswith("mw_worker") else ""))
        ok = bool(state) and state[-1] == "COMPLETED"
        if not ok:
            sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
