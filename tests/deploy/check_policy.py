#!/usr/bin/python3
"""Production conventions over the rendered manifests (deploy/*.yaml), object by object:

  - every container: CPU and memory requests and limits; the security context (no privilege
    escalation, read-only root filesystem, non-root, ALL capabilities dropped); an image pinned
    to a tag that is not "latest"; liveness and readiness probes, for the containers that serve
    (Deployments, StatefulSets): a Job's pod runs to its end, so it has none;
  - every pod: runAsNonRoot with a numeric user, seccomp RuntimeDefault, no service account
    token (nothing here talks to the Kubernetes API);
  - every Service port named; every workload's pods selected by at least one NetworkPolicy.

Prints each violation as FILE: KIND/NAME: what; exits 1 if there is any.
  check_policy.py FILE.yaml...
"""
import sys

import yaml

WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}
SERVING = {"Deployment", "StatefulSet", "DaemonSet"}


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def check_container(c, serving, problem):
    name = c.get("name")
    resources = c.get("resources", {})
    for kind in ("requests", "limits"):
        for what in ("cpu", "memory"):
            if what not in resources.get(kind, {}):
                problem(f"container {name}: no {what} in resources.{kind}")
    image = c.get("image", "")
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    if not tag or tag == "latest":
        problem(f"container {name}: image {image!r} is not pinned to a tag other than latest")
    sc = c.get("securityContext", {})
    if sc.get("allowPrivilegeEscalation") is not False:
        problem(f"container {name}: allowPrivilegeEscalation is not false")
    if sc.get("readOnlyRootFilesystem") is not True:
        problem(f"container {name}: readOnlyRootFilesystem is not true")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        problem(f"container {name}: capabilities do not drop ALL")
    if serving:
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                problem(f"container {name}: no {probe}")


def check_pod(spec, serving, problem):
    sc = spec.get("securityContext", {})
    if sc.get("runAsNonRoot") is not True or not isinstance(sc.get("runAsUser"), int):
        problem("pod: not runAsNonRoot with a numeric runAsUser")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem("pod: seccompProfile is not RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        problem("pod: mounts a service account token")
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        check_container(c, serving, problem)


def check(path):
    with open(path) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    problems = []
    for o in objects:
        kind, name = o["kind"], o["metadata"]["name"]

        def problem(what, kind=kind, name=name):
            problems.append(f"{path}: {kind}/{name}: {what}")

        if kind in WORKLOADS:
            template = o["spec"]["template"]
            check_pod(template["spec"], kind in SERVING, problem)
            labels = template["metadata"].get("labels", {})
            if not any(selects(p["spec"]["podSelector"], labels) for p in policies):
                problem("its pods are selected by no NetworkPolicy")
        elif kind == "Pod":
            check_pod(o["spec"], False, problem)
        elif kind == "Service":
            for port in o["spec"].get("ports", []):
                if not port.get("name"):
                    problem(f"port {port.get('port')} has no name")
    for p in problems:
        print(p)
    return len(problems), len(objects)


def main():
    total_problems = total_objects = 0
    for path in sys.argv[1:]:
        problems, objects = check(path)
        total_problems += problems
        total_objects += objects
    if total_problems:
        return 1
    print(f"{total_objects} objects in {len(sys.argv) - 1} files follow the conventions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
