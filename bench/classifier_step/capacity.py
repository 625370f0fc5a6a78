#!/usr/bin/python3
"""bench/classifier_step/capacity.py: the largest N whose classifier step runs with W ranks
on this machine. Tries each N in ascending order (sharded layout, --chunk rows, no logit
cache, one step) and stops at the first that fails (out of memory: the kernel's OOM killer
ends a rank). Prints step time and peak RSS per rank and in total for each N tried.

  /usr/bin/python3 bench/classifier_step/capacity.py [--world 4] [--batch 1024]
      [--classes 14200000,16000000,18000000,20000000] [--build build]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, run_ranks  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--classes", default="14200000,16000000,18000000,20000000")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    rank_bin = os.path.join(a.build, "bench", "classifier_step_rank")
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    print(f"machine memory {mem_total / 2**30:.1f} GiB, {os.cpu_count()} cores, W = {a.world}, "
          f"d = {a.dim}, global batch {a.batch}, chunk {a.chunk}, no logit cache")
    largest = None
    for n in [int(v) for v in a.classes.split(",")]:
        threads = max(1, (os.cpu_count() or 1) // a.world)
        cmd = [rank_bin, "--layout", "sharded", "--classes", str(n), "--dim", str(a.dim),
               "--batch", str(a.batch), "--chunk", str(a.chunk), "--cache", "0",
               "--steps", "1", "--warmup", "0", "--threads", str(threads)]
        r = run_ranks(cmd, a.world, timeout=3600)
        if r is None:
            print(f"N = {n:>10,}: failed")
            break
        rss = r["peak_rss_bytes"]
        print(f"N = {n:>10,}: step {r['step_s']:.1f} s, peak RSS {rss / 2**30:.2f} GiB per rank "
              f"(max), {a.world * rss / 2**30:.2f} GiB for {a.world} ranks", flush=True)
        largest = n
    print(f"largest N that ran: {largest:,}" if largest else "no N ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
