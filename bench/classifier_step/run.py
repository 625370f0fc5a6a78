#!/usr/bin/python3
"""bench/classifier_step: the classifier step, side by side, on real processes over loopback.

For each (N, W, global batch) it runs, one after the other on the same machine:
  sharded        millionway's model-parallel classifier, logits in chunks of --chunk rows,
                 every chunk's exponentials kept for backward (cache -1)
  sharded/512M   the same with a 512 MiB logit cache; chunks beyond it are recomputed
  sharded/0      the same with no cache: every chunk recomputed, O(B x chunk) memory
  replicated     millionway's data-parallel baseline: all N rows on every rank, N x d
                 gradient all-reduce per step (the paper's DDP), same kernels, cache -1
  sampled/m      sampled-instance classification (the paper's Table 3 baseline, PIC): the
                 batch's own classes plus m drawn uniformly per step, sharded, cache -1
                 (--sampled, default 4096,16384; "" for none)
  pytorch        the same math in PyTorch, Partial-FC style (partial_fc_reference.py)
and prints median step time, peak RSS per rank (max over ranks), bytes sent per step per
rank, achieved GFLOP/s against at::mm's rate measured in the same run, and ratios.

  /usr/bin/python3 bench/classifier_step/run.py [--classes 100000,1000000] [--world 2,4]
      [--batch 1024,128] [--chunk 1024] [--sampled 4096,16384] [--smoothing 0.2] [--steps 3]
      [--build build] [--no-pytorch]
"""
import argparse
import json
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(cmd, world, timeout):
    port = free_port()
    procs = []
    for rank in range(world):
        env = dict(os.environ, MW_RANK=str(rank), MW_WORLD_SIZE=str(world),
                   MW_STORE_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True))
    outputs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=timeout)
            outputs.append(out)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    if any(p.returncode != 0 for p in procs):
        return None
    return json.loads(outputs[0].strip().splitlines()[-1])


def gib(b):
    return b / 2**30


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", default="100000,1000000")
    ap.add_argument("--world", default="2,4")
    ap.add_argument("--batch", default="1024,128")
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--sampled", default="4096,16384")
    ap.add_argument("--smoothing", default="0.2",
                    help="alpha of every run of ours (0 for the paper's Table 3 setting)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--no-pytorch", action="store_true")
    ap.add_argument("--timeout", type=int, default=1800)
    a = ap.parse_args()

    rank_bin = os.path.join(a.build, "bench", "classifier_step_rank")
    ref = os.path.join(HERE, "partial_fc_reference.py")
    cores = os.cpu_count() or 1
    rows = []
    for n in [int(v) for v in a.classes.split(",")]:
        for w in [int(v) for v in a.world.split(",")]:
            for b in [int(v) for v in a.batch.split(",")]:
                threads = max(1, cores // w)
                common = ["--classes", str(n), "--batch", str(b), "--steps", str(a.steps),
                          "--threads", str(threads)]
                ours = [rank_bin, "--chunk", str(a.chunk), "--smoothing", a.smoothing] + common
                runs = {
                    "sharded": ours + ["--layout", "sharded", "--cache", "-1"],
                    "sharded/512M": ours + ["--layout", "sharded", "--cache", str(512 << 20)],
                    "sharded/0": ours + ["--layout", "sharded", "--cache", "0"],
                    "replicated": ours + ["--layout", "replicated", "--cache", "-1"],
                }
                for m in [int(v) for v in a.sampled.split(",") if v]:
                    if m < n:
                        runs[f"sampled/{m}"] = ours + ["--layout", "sharded", "--cache", "-1",
                                                       "--sampled", str(m)]
                if not a.no_pytorch:
                    runs["pytorch"] = ["/usr/bin/python3", ref] + common
                results = {}
                for name, cmd in runs.items():
                    r = run_ranks(cmd, w, a.timeout)
                    results[name] = r
                    if r is None:
                        print(f"# N={n} W={w} B={b} {name}: failed (out of memory?)", flush=True)
                    else:
                        print("# " + json.dumps(dict(r, run=name)), flush=True)
                rows.append((n, w, b, results))

    blas = next((r["blas"] for *_, res in rows for r in res.values() if r and "blas" in r), "?")
    print(f"\nBLAS loaded: {blas}; {cores} cores; threads per rank = cores // W")
    head = (f"{'N':>8} {'W':>2} {'B':>5} {'run':<14} {'step s':>8} {'RSS GiB':>8} "
            f"{'MB/step':>9} {'GFLOP/s':>8} {'%mm':>5} {'t/repl':>7} {'mem/repl':>8} "
            f"{'t/torch':>7} {'mem/torch':>9}")
    print(head)
    print("-" * len(head))
    for n, w, b, res in rows:
        base, torch_ref = res.get("replicated"), res.get("pytorch")
        for name, r in res.items():
            if r is None:
                print(f"{n:>8} {w:>2} {b:>5} {name:<14} {'failed':>8}")
                continue
            mm = r.get("mm_gflops") or (res.get("sharded") or {}).get("mm_gflops")
            pct = f"{100 * r['gflops'] / mm:5.0f}" if mm else "    -"

            def ratio(other, key):
                return f"{r[key] / other[key]:.2f}" if other else "-"

            print(f"{n:>8} {w:>2} {b:>5} {name:<14} {r['step_s']:8.3f} {gib(r['peak_rss_bytes']):8.2f} "
                  f"{r['bytes_per_step'] / 1e6:9.2f} {r['gflops']:8.1f} {pct} "
                  f"{ratio(base, 'step_s'):>7} {ratio(base, 'peak_rss_bytes'):>8} "
                  f"{ratio(torch_ref, 'step_s'):>7} {ratio(torch_ref, 'peak_rss_bytes'):>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
