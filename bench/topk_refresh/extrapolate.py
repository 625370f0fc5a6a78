#!/usr/bin/python3
"""The top-k refresh at an N too large to run here, extrapolated from slices.

A whole refresh was timed at --measured-rows inside a job (bench/scale/run.py prints it:
--measured-seconds, on --measured-ranks ranks of one core each). topk_slice scores a slice of
rows against all N, with the refresh's own kernel, at that N and at each --rows; its time per
pair changes with N: the heap insertions per row grow like k (1 + ln(N / k)), so per pair
they fall, towards the matrix product's cost alone. The whole at a target N is then

    measured seconds x (N / measured N)^2 x (per pair at N / per pair at measured N)

on the same ranks, and, the work being spread evenly, that x measured ranks / R on R ranks.
Also printed: the slice's naive estimate at the measured N (N^2 / 2 pairs at its per-pair
cost, over the measured ranks) beside the measured whole, the factor the column-wise half,
the ring and the per-visit exchanges add.

  /usr/bin/python3 bench/topk_refresh/extrapolate.py --measured-rows 1280000 \\
      --measured-seconds 2000 [--measured-ranks 2] [--rows 14200000] [--slice 2048] \\
      [--ranks 64] [--build build]
"""
import argparse
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def slice_cost(build, n, rows):
    out = subprocess.run([os.path.join(build, "bench", "topk_slice"), "--num-rows", str(n),
                          "--slice", str(rows)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--measured-rows", type=int, required=True)
    ap.add_argument("--measured-seconds", type=float, required=True)
    ap.add_argument("--measured-ranks", type=int, default=2)
    ap.add_argument("--rows", default="14200000")
    ap.add_argument("--slice", type=int, default=2048)
    ap.add_argument("--ranks", default="64")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    base = slice_cost(a.build, a.measured_rows, a.slice)
    naive = a.measured_rows ** 2 / 2 * base["ns_per_pair"] * 1e-9 / a.measured_ranks
    print("| N | slice rows | slice seconds | ns per pair | whole refresh, %d ranks | "
          "per-pair cost / at %d |" % (a.measured_ranks, a.measured_rows))
    print("|---|---|---|---|---|---|")
    print("| %d | %d | %.1f | %.3f | %.0f s measured (the slice's naive estimate %.0f s: "
          "x%.2f) | 1.00 |" % (a.measured_rows, a.slice, base["seconds"], base["ns_per_pair"],
                               a.measured_seconds, naive, a.measured_seconds / naive))
    ranks = [int(r) for r in a.ranks.split(",")]
    for n in [int(v) for v in a.rows.split(",")]:
        cost = slice_cost(a.build, n, a.slice)
        growth = cost["ns_per_pair"] / base["ns_per_pair"]
        whole = a.measured_seconds * (n / a.measured_rows) ** 2 * growth
        spread = ", ".join("%.1f h on %d" % (whole * a.measured_ranks / r / 3600, r)
                           for r in ranks)
        print("| %d | %d | %.1f | %.3f | %.0f s = %.1f h extrapolated (%s ranks) | %.2f |" % (
            n, a.slice, cost["seconds"], cost["ns_per_pair"], whole, whole / 3600, spread,
            growth))


if __name__ == "__main__":
    main()
