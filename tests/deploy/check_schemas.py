#!/usr/bin/python3
"""Every object of the rendered manifests against the API types of a pinned Kubernetes (1.30,
npm kubernetes-types) and, for the monitoring objects, of the Prometheus Operator's CRDs
(npm @kubernetes-models/prometheus-operator): each object becomes a typed TypeScript constant
and the TypeScript compiler checks it, so an unknown field anywhere ("resource:" for
"resources:"), a wrong type or a missing required field fails, naming the object and the field.

  check_schemas.py TOOLS FILE.yaml...      TOOLS: a folder with node_modules of package.json
  check_schemas.py TOOLS --misspelt FILE   the same FILE with its first container's
                                           "resources:" renamed "resource:": must fail,
                                           printing what the compiler said
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

# apiVersion -> (module, how its types are named)
CORE_GROUPS = {
    "v1": "core/v1", "apps/v1": "apps/v1", "batch/v1": "batch/v1",
    "networking.k8s.io/v1": "networking/v1", "policy/v1": "policy/v1",
    "rbac.authorization.k8s.io/v1": "rbac/v1",
}
MONITORING = "monitoring.coreos.com/v1"


def type_of(obj, imports):
    api, kind = obj.get("apiVersion"), obj.get("kind")
    if not api or not kind:
        raise ValueError("no apiVersion or kind")
    if api in CORE_GROUPS:
        alias = "k_" + CORE_GROUPS[api].replace("/", "_")
        imports[alias] = f'import type * as {alias} from "kubernetes-types/{CORE_GROUPS[api]}";'
        return f"{alias}.{kind}"
    if api == MONITORING:
        alias = "m_" + kind
        imports[alias] = (f'import type {{ I{kind} as {alias} }} from '
                          f'"@kubernetes-models/prometheus-operator/{MONITORING}/{kind}";')
        return alias
    raise ValueError(f"no schema known for {api} {kind}")


def objects(path):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc:
                yield doc


def check(tools, files, label=None):
    imports, constants, where = {}, [], []
    for path in files:
        for obj in objects(path):
            name = f'{label or path}: {obj.get("kind")}/{obj.get("metadata", {}).get("name")}'
            try:
                typ = type_of(obj, imports)
            except ValueError as e:
                print(f"{name}: {e}")
                return 1
            where.append(name)
            constants.append(f"export const o{len(where) - 1}: {typ} = {json.dumps(obj, indent=1)};")
    lines, owner = list(imports.values()), {}
    for i, text in enumerate(constants):
        first = len(lines) + 1
        lines.extend(text.split("\n"))
        for n in range(first, len(lines) + 1):
            owner[n] = where[i]
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "objects.ts")
        with open(source, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.symlink(os.path.join(tools, "node_modules"), os.path.join(tmp, "node_modules"))
        tsc = os.path.join(tools, "node_modules", "typescript", "bin", "tsc")
        run = subprocess.run(["node", tsc, "--noEmit", "--strict", "--skipLibCheck", "false",
                              "--moduleResolution", "bundler", "--module", "esnext",
                              "--target", "es2020", "--pretty", "false", source],
                             capture_output=True, text=True)
    errors = 0
    for line in run.stdout.splitlines():
        m = re.match(r".*objects\.ts\((\d+),\d+\): (error .*)", line)
        if m:
            errors += 1
            print(f"{owner.get(int(m.group(1)), '?')}: {m.group(2)}")
        elif line.strip():
            print(line)
    if run.returncode != 0 and errors == 0:
        print(run.stdout + run.stderr)
        return 1
    if errors:
        return 1
    print(f"{len(where)} objects in {len(files)} files match Kubernetes 1.30 "
          f"and Prometheus Operator types")
    return 0


def main():
    tools, args = sys.argv[1], sys.argv[2:]
    if args and args[0] == "--misspelt":
        with open(args[1]) as f:
            text = f.read()
        at = text.find("resources:", text.find("containers:"))
        assert at >= 0, "no container resources to misspell"
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text[:at] + "resource:" + text[at + len("resources:"):])
        try:
            return check(tools, [f.name], label=args[1] + " (misspelt)")
        finally:
            os.unlink(f.name)
    return check(tools, args)


if __name__ == "__main__":
    sys.exit(main())
