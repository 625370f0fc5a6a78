#!/usr/bin/env python3
"""A real Prometheus scraping a live `mwctl local` job (issue 5's must-shows 1 and 2).

While a small Fashion-MNIST job runs on 2 shard servers, a coordinator and 2 workers, every
process's /metrics passes `promtool check metrics`, /healthz and /readyz answer 200, and a
Prometheus server (Debian's `prometheus`) scrapes them all every second. After the job:
every PromQL expression of every dashboard panel, evaluated through Prometheus' HTTP API
over the job's time, returns data; every metric a dashboard or alert rule names is one the
services exported, except the DCGM exporter's (documented in docs/observability.md).

Usage: check_live.py BIN_DIR SOURCE_DIR
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from waiting import wait_for  # noqa: E402

SPEC = {"train_subset": 600, "test_subset": 200, "epochs": 6, "local_batch": 50, "top_k": 10,
        "lr": 0.1, "classifier_lr": 1.0, "warmup_epochs": 0, "linear_probe": True}
PROCESSES = ["shard-server-0", "shard-server-1", "coordinator", "worker-0", "worker-1"]
EXTERNAL = re.compile(r"^DCGM_")  # NVIDIA's DCGM exporter, not ours


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def status_of(url):
    try:
        return get(url)[0]
    except urllib.error.HTTPError as e:
        return e.code


def metric_names(expr):
    return {n for n in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr)
            if n.startswith("millionway_") or EXTERNAL.match(n)}


def main():
    bin_dir, source_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="mw_observability_")
    children = []
    failures = []
    try:
        spec_path = os.path.join(work, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(SPEC, f)
        cluster_dir = os.path.join(work, "cluster")
        mwctl = subprocess.Popen([os.path.join(bin_dir, "mwctl"), "local", "--spec", spec_path,
                                  "--workers", "2", "--dir", cluster_dir],
                                 stdout=open(os.path.join(work, "mwctl.log"), "w"),
                                 stderr=subprocess.STDOUT)
        children.append(mwctl)

        def ports():
            found = {}
            for name in PROCESSES:
                path = os.path.join(cluster_dir, name + ".metrics.port")
                if not os.path.exists(path):
                    return None
                text = open(path).read().strip()
                if not text:
                    return None
                found[name] = "127.0.0.1:" + text
            return found
        targets = wait_for("every process's metrics port", ports, 60)
        start = time.time()

        prometheus_port = free_port()
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: millionway\n    static_configs:\n"
                    "      - targets: [" + ", ".join(f"'{t}'" for t in targets.values()) + "]\n")
        prometheus = subprocess.Popen(
            ["prometheus", "--config.file", config, "--storage.tsdb.path",
             os.path.join(work, "tsdb"), "--web.listen-address", f"127.0.0.1:{prometheus_port}",
             "--log.level", "warn"],
            stdout=open(os.path.join(work, "prometheus.log"), "w"), stderr=subprocess.STDOUT)
        children.append(prometheus)
        api = f"http://127.0.0.1:{prometheus_port}/api/v1/"

        # Mid-job: a worker is training, so every family has its job's series.
        wait_for("a worker's training series", lambda: "millionway_train_loss{" in get(
            f"http://{targets['worker-0']}/metrics")[1], 120)
        for name, address in targets.items():
            text = get(f"http://{address}/metrics")[1]
            check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                                   capture_output=True)
            if check.returncode != 0 or check.stdout.strip() or check.stderr.strip():
                failures.append(f"promtool check metrics on {name}: {check.stdout}{check.stderr}")
            else:
                print(f"ok   promtool check metrics: {name} ({len(text.splitlines())} lines)")
            for probe in ("healthz", "readyz"):
                code = status_of(f"http://{address}/{probe}")
                if code != 200:
                    failures.append(f"{name} /{probe} answered {code}")
            print(f"ok   {name}: /healthz and /readyz answer 200")

        def scraped_all():
            _, body = get(api + "targets")
            active = json.loads(body)["data"]["activeTargets"]
            return len(active) == len(targets) and all(t["health"] == "up" for t in active)
        wait_for("Prometheus to scrape every target", scraped_all, 60)
        print("ok   Prometheus scrapes all 5 processes")

        if mwctl.wait(timeout=600) != 0:
            failures.append("mwctl local did not complete its job; see mwctl.log")
        end = time.time()
        time.sleep(2)

        _, body = get(api + "label/__name__/values")
        exported = set(json.loads(body)["data"])
        queried = 0
        for board_path in sorted(glob.glob(os.path.join(source_dir, "deploy/grafana/*.json"))):
            board = json.load(open(board_path))
            for panel in board["panels"]:
                for target in panel["targets"]:
                    expr = target["expr"]
                    names = metric_names(expr)
                    missing = {n for n in names if n not in exported and not EXTERNAL.match(n)}
                    if missing:
                        failures.append(f"{os.path.basename(board_path)} / {panel['title']}: "
                                        f"{sorted(missing)} not exported")
                    if names and all(EXTERNAL.match(n) for n in names):
                        print(f"skip {panel['title']}: DCGM exporter metrics only")
                        continue
                    promql = (expr.replace("$job_id", ".*").replace("$rank", ".*")
                              .replace("$__rate_interval", "30s"))
                    query = urllib.parse.urlencode({"query": promql, "start": start,
                                                    "end": end, "step": "1"})
                    _, body = get(api + "query_range?" + query, timeout=30)
                    result = json.loads(body)
                    series = result["data"]["result"] if result["status"] == "success" else []
                    queried += 1
                    if not series:
                        failures.append(f"{os.path.basename(board_path)} / {panel['title']}: "
                                        f"no data for {promql}")
                    else:
                        print(f"ok   {os.path.basename(board_path)} / {panel['title']}: "
                              f"{len(series)} series")
        alerts = open(os.path.join(source_dir, "deploy/prometheus/alerts.yaml")).read()
        for name in sorted(metric_names(alerts)):
            if name not in exported and not EXTERNAL.match(name):
                failures.append(f"alerts.yaml names {name}, which no service exported")
        print(f"{queried} dashboard expressions queried")
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.kill()
        if failures:
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print("FAIL " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
