#!/usr/bin/python3
"""The job spec each rendered manifest submits (its submit ConfigMap's spec.yaml) is one mwctl
accepts: read with mwctl's own parser (`mwctl plan`, which also sizes it for the Job's
--workers and the manifest's shard servers), so a profile with a misspelt or out-of-range field fails here, not in a
cluster's submit Job.

  check_job_specs.py MWCTL FILE.yaml...
"""
import os
import subprocess
import sys
import tempfile

import yaml

# What a dataset holds is known only to the workers that open it: the sizes the profiles are
# written for. These profiles train on every image: a subset left over from the chart's
# default spec (Helm merges a profile's spec over it key by key) would be a silent mistake.
INSTANCES = {"train-in1k.yaml": 1281167, "train-in21k.yaml": 14197122}


def main():
    mwctl, failed = sys.argv[1], 0
    for path in sys.argv[2:]:
        with open(path) as f:
            objects = [o for o in yaml.safe_load_all(f) if o]
        jobs = [o for o in objects if o["kind"] == "Job"]
        for job in jobs:
            args = job["spec"]["template"]["spec"]["containers"][0]["args"]
            workers = next(a.split("=", 1)[1] for a in args if a.startswith("--workers="))
            config = next(o for o in objects if o["kind"] == "ConfigMap" and
                          o["metadata"]["name"] == job["metadata"]["name"])
            spec = yaml.safe_load(config["data"]["spec.yaml"])
            if os.path.basename(path) in INSTANCES and (spec.get("train_subset") or
                                                        spec.get("test_subset")):
                print(f"{path}: trains or evaluates on a subset: {spec}")
                failed += 1
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                f.write(config["data"]["spec.yaml"])
            shards = next(o["spec"]["replicas"] for o in objects if o["kind"] == "StatefulSet"
                          and o["metadata"]["name"].endswith("shard-server"))
            command = [mwctl, "plan", "--spec", f.name, "--workers", workers,
                       "--shard-servers", str(shards)]
            if os.path.basename(path) in INSTANCES:
                command += ["--instances", str(INSTANCES[os.path.basename(path)])]
            run = subprocess.run(command, capture_output=True, text=True)
            os.unlink(f.name)
            print(f"{path}: {run.stdout.strip() or run.stderr.strip()}")
            failed += run.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
