#!/usr/bin/python3
"""bench/quality/recipe_search: one change at a time against a base recipe, measured.

  /usr/bin/python3 bench/quality/recipe_search.py bench/quality/search/<round>.json [--seeds 1]

The file names a base spec (a path, relative to the repository) and its overrides, and a list
of variants, each a name and a change to the base (nested objects such as "augmentation"
merge key by key). Every variant trains with W = 2 ranks (`mwctl train`) and is scored after
its last epoch: kNN and linear probe on the 10,000 test images, as bench/quality/run.py scores
the main job. Prints a Markdown table with each variant's difference from the base.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, run_job, spread  # noqa: E402


def merged(base, change):
    out = dict(base)
    for key, value in change.items():
        out[key] = merged(base.get(key, {}), value) if isinstance(value, dict) else value
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("round", help="a JSON file: base, overrides, variants")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--seeds", type=int, default=1, help="runs per variant")
    args = parser.parse_args()
    with open(args.round) as f:
        plan = json.load(f)
    with open(os.path.join(ROOT, plan["base"])) as f:
        base = merged(json.load(f), plan.get("overrides", {}))
    base.update(evaluate_before_training=False, evaluate_every_epoch=False)

    rows = []  # (name, change, [final eval of each seed])
    for variant in [{"name": "base", "change": {}}] + plan["variants"]:
        runs = []
        for seed in range(args.seeds):
            spec = merged(base, dict(variant["change"], seed=base.get("seed", 0) + seed))
            runs.append(run_job(args.build, spec, f"{variant['name']}, seed {seed}")["evals"][-1])
        rows.append((variant["name"], variant["change"], runs))

    print(f"Base: `{plan['base']}` with `{json.dumps(plan.get('overrides', {}))}`; "
          f"{args.seeds} seed(s) per variant (mean ± sample standard deviation).\n")
    print("| variant | change | training s | kNN top-1 | Δ kNN | linear probe top-1 | Δ linear |")
    print("|---|---|---|---|---|---|---|")
    base_knn = statistics.mean(r[1] for r in rows[0][2])
    base_linear = statistics.mean(r[2] for r in rows[0][2])
    for name, change, runs in rows:
        knn = [r[1] for r in runs]
        linear = [r[2] for r in runs]
        seconds = statistics.mean(r[3] for r in runs)
        print(f"| {name} | `{json.dumps(change)}` | {seconds:.0f} | {spread(knn)} | "
              f"{100 * (statistics.mean(knn) - base_knn):+.2f} | {spread(linear)} | "
              f"{100 * (statistics.mean(linear) - base_linear):+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
