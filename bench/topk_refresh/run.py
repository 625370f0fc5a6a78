#!/usr/bin/python3
"""bench/topk_refresh: the per-epoch top-k refresh against FAISS exact search.

For each N: random Gaussian rows (d = 128, seeded), written once to a scratch file. Then,
on the same machine, one after the other:
  ours   topk_refresh_rank on W processes over loopback (1 thread each): ring of shards,
         blocked products, symmetric half, running top-k
  faiss  IndexFlatIP on the normalised rows (Debian python3-faiss), all cores, search of
         k + 1 then the row itself dropped
and prints both times, their ratio, and recall of ours against FAISS (the fraction of
FAISS's k neighbours that ours also lists).

  /usr/bin/python3 bench/topk_refresh/run.py [--rows 50000,200000] [--world 2] [--k 100]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "classifier_step"))
from run import ROOT, run_ranks  # noqa: E402


def faiss_topk(x, k, threads):
    import faiss
    faiss.omp_set_num_threads(threads)
    start = time.perf_counter()
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(xn)
    _, ids = index.search(xn, k + 1)
    seconds = time.perf_counter() - start
    own = np.arange(len(x))[:, None]
    # Drop the row itself (normally column 0), keeping k.
    keep = ids != own
    out = np.empty((len(x), k), dtype=np.int64)
    for i in range(len(x)):
        out[i] = ids[i][keep[i]][:k]
    return seconds, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="50000,200000")
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    rank_bin = os.path.join(a.build, "bench", "topk_refresh_rank")
    print(f"{cores} cores; ours: W = {a.world} processes x {max(1, cores // a.world)} thread; "
          f"faiss: 1 process x {cores} threads; d = {a.dim}, k = {a.k}")
    print(f"{'N':>8} {'ours s':>8} {'faiss s':>8} {'ours/faiss':>10} {'recall':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(v) for v in a.rows.split(",")]:
            x = np.random.default_rng(0).standard_normal((n, a.dim), dtype=np.float32)
            rows_file = os.path.join(tmp, "rows.f32")
            out_file = os.path.join(tmp, "ids.i64")
            x.tofile(rows_file)
            with open(out_file, "wb") as f:
                f.truncate(n * a.k * 8)
            r = run_ranks([rank_bin, "--rows", rows_file, "--out", out_file, "--num-rows", str(n),
                           "--dim", str(a.dim), "--k", str(a.k),
                           "--threads", str(max(1, cores // a.world))], a.world, timeout=7200)
            if r is None:
                print(f"{n:>8} ours failed")
                continue
            ours = np.fromfile(out_file, dtype=np.int64).reshape(n, a.k)
            faiss_s, theirs = faiss_topk(x, a.k, cores)
            hits = sum(len(np.intersect1d(ours[i], theirs[i], assume_unique=True)) for i in range(n))
            print(f"{n:>8} {r['seconds']:8.2f} {faiss_s:8.2f} {r['seconds'] / faiss_s:10.2f} "
                  f"{hits / (n * a.k):7.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
