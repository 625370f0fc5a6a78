#!/usr/bin/python3
"""deploy/monitoring.yaml as the Prometheus Operator and Grafana will read it: the
PrometheusRule's rules pass `promtool check rules` and equal deploy/prometheus/alerts.yaml
(which `promtool test rules` covers); the monitors and rules carry the release label
kube-prometheus-stack selects on; every dashboard of deploy/grafana/ is a ConfigMap labelled
grafana_dashboard: "1" holding that file unchanged.

  check_monitoring.py SOURCE_DIR
"""
import glob
import os
import subprocess
import sys
import tempfile

import yaml


def main():
    root = sys.argv[1]
    with open(os.path.join(root, "deploy/monitoring.yaml")) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    problems = []
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    if len(rules) != 1:
        problems.append(f"{len(rules)} PrometheusRules, expected 1")
    for rule in rules:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(rule["spec"], f)
        run = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True,
                             text=True)
        os.unlink(f.name)
        print(run.stdout.strip())
        if run.returncode != 0:
            problems.append("promtool check rules: " + run.stderr.strip())
        with open(os.path.join(root, "deploy/prometheus/alerts.yaml")) as f:
            if yaml.safe_load(f) != rule["spec"]:
                problems.append("PrometheusRule differs from deploy/prometheus/alerts.yaml")
    for o in objects:
        if o["kind"] in ("PodMonitor", "ServiceMonitor", "PrometheusRule"):
            if not o["metadata"].get("labels", {}).get("release"):
                problems.append(f'{o["kind"]}/{o["metadata"]["name"]}: no release label')
    dashboards = {}
    for o in objects:
        if o["kind"] == "ConfigMap" and o["metadata"]["labels"].get("grafana_dashboard") == "1":
            dashboards.update(o["data"])
    for path in glob.glob(os.path.join(root, "deploy/grafana/*.json")):
        with open(path) as f:
            if dashboards.get(os.path.basename(path)) != f.read():
                problems.append(f"dashboard {os.path.basename(path)}: no ConfigMap holds it as is")
    for p in problems:
        print("monitoring.yaml: " + p)
    if not problems:
        print(f"monitoring.yaml: rules check out, {len(dashboards)} dashboards, release labels set")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
