#!/usr/bin/python3
"""Manifest wiring test: runs deploy/fashion-mnist.yaml, exactly as rendered, without
Kubernetes, by acting as a small kubelet and the controllers it needs. What it checks is the
wiring of the manifests (names, ports, env, volumes, users, secrets, probes), where real
deployments break; not Kubernetes itself.

  - Network: one network namespace per pod (ip netns), a veth to a bridge in a namespace of its
    own, an address per pod. Cluster DNS is /etc/hosts: every pod's (also written to
    /etc/netns/<pod>/hosts) names each Service and each StatefulSet pod by its cluster name;
    a Service's name is its one selected pod's address, so its port must equal the pod's
    containerPort (no kube-proxy here: a mismatch fails the test, as it is a wiring error).
  - Containers: the image's own root filesystem (a buildah working container of
    localhost/millionway/<name>:<tag>, built by scripts/build-images), mounted read-only in a
    private mount namespace, the manifest's volumes bind-mounted on it (PVCs and emptyDirs as
    folders, Secrets and ConfigMaps as files with their modes), chrooted into as the pod's
    user, with exactly the manifest's command, args and env ($(VAR) and the downward API
    resolved). Nothing of the build machine is visible inside.
  - Kubelet: liveness and readiness probes polled as declared (a failed liveness restarts the
    container); restartPolicy; deletion sends SIGTERM and waits terminationGracePeriodSeconds.
    Controllers: a Deployment's or StatefulSet's pod that is gone is created again (a new
    address; a StatefulSet pod keeps its name and volume claims).

Then, against the job the submit Job submits: it reaches COMPLETED through a worker's link cut
mid-epoch (restored later), a worker pod deleted with its grace period (it must checkpoint
before it exits), and the coordinator pod killed and replaced on the same volume (nothing
lost); the submit Job applied again submits nothing.

  manifest_wiring_test.py SOURCE_DIR BUILD_DIR      (root; needs scripts/build-images' images)
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from waiting import wait_for as poll  # noqa: E402

NAMESPACE_PREFIX = "mwk-"
BRIDGE_NS = "mwk-net"
SUBNET = "10.244.0."
CLUSTER_DOMAIN = "cluster.local"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def sh(*args, check=True, **kwargs):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kwargs)


class Network:
    """A bridge in its own namespace; each pod a namespace with a veth to it."""

    def __init__(self):
        self.next_ip = 10
        self.links = {}  # pod -> bridge-side veth
        # What a run that was killed left behind: its names would collide.
        for ns in sh("ip", "netns", "list").stdout.split("\n"):
            if ns.startswith(NAMESPACE_PREFIX):
                sh("ip", "netns", "del", ns.split()[0], check=False)
        sh("ip", "netns", "add", BRIDGE_NS)
        sh("ip", "-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", BRIDGE_NS, "link", "set", "br0", "up")

    def attach(self, pod):
        ns = NAMESPACE_PREFIX + pod
        ip = SUBNET + str(self.next_ip)
        veth = f"vk{self.next_ip}"
        self.next_ip += 1
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "netns", BRIDGE_NS, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        sh("ip", "-n", BRIDGE_NS, "link", "set", veth, "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        self.links[pod] = veth
        return ip

    def set_link(self, pod, up):
        sh("ip", "-n", BRIDGE_NS, "link", "set", self.links[pod], "up" if up else "down")

    def detach(self, pod):
        sh("ip", "netns", "del", NAMESPACE_PREFIX + pod, check=False)
        self.links.pop(pod, None)

    def close(self):
        for pod in list(self.links):
            self.detach(pod)
        sh("ip", "netns", "del", BRIDGE_NS, check=False)


class Pod:
    def __init__(self, name, owner, spec, labels, claims):
        self.name, self.owner, self.spec, self.labels = name, owner, spec, labels
        self.claims = claims  # volume name -> PVC name
        self.ip = None
        self.processes = {}  # container name -> Popen
        self.restarts = {}
        self.ready = False
        self.liveness_failures = {}
        self.exit_codes = {}
        self.deleted = False
        self.roots = {}  # container name -> (buildah container, mount path)


class Kubelet:
    def __init__(self, source, build, manifest, work):
        self.source, self.build, self.work = source, build, work
        with open(manifest) as f:
            self.objects = [o for o in yaml.safe_load_all(f) if o]
        secrets = subprocess.run(
            [os.path.join(source, "scripts/make-secrets"), "--out", os.path.join(work, "user")],
            check=True, capture_output=True, text=True).stdout
        self.objects += [o for o in yaml.safe_load_all(secrets) if o]
        self.by_kind = {}
        for o in self.objects:
            self.by_kind.setdefault(o["kind"], []).append(o)
        self.namespace = self.by_kind["Namespace"][0]["metadata"]["name"]
        store = os.path.join(build, "containers")
        self.buildah = ["buildah", "--root", os.path.join(store, "storage"), "--runroot",
                        os.path.join(store, "run"), "--storage-driver", "vfs"]
        self.network = Network()
        self.pods = {}
        self.lock = threading.RLock()
        self.stopping = False
        self.loop = None  # the kubelet_loop thread, once started
        self.generation = {}  # Deployment -> pods made so far
        os.makedirs(os.path.join(work, "logs"), exist_ok=True)

    # --- objects ---------------------------------------------------------------------------
    def find(self, kind, name):
        for o in self.by_kind.get(kind, []):
            if o["metadata"]["name"] == name:
                return o
        raise KeyError(f"{kind}/{name} is referenced but not in the manifest")

    def image_ref(self, image):
        # registry.example.com/millionway/coordinator:0.1.0 -> the image scripts/build-images
        # made: the same name and tag, in the local store.
        name, tag = image.rsplit("/", 1)[1].split(":")
        return f"localhost/millionway/{name}:{tag}"

    # --- DNS -------------------------------------------------------------------------------
    def hosts_text(self):
        lines = ["127.0.0.1 localhost"]
        suffix = f"{self.namespace}.svc.{CLUSTER_DOMAIN}"
        for svc in self.by_kind.get("Service", []):
            name = svc["metadata"]["name"]
            selector = svc["spec"]["selector"]
            selected = [p for p in self.pods.values()
                        if p.ip and not p.deleted and
                        all(p.labels.get(k) == v for k, v in selector.items())]
            if svc["spec"].get("clusterIP") == "None":
                for p in selected:
                    lines.append(f"{p.ip} {p.name}.{name}.{suffix}")
            elif selected:
                lines.append(f"{selected[0].ip} {name}.{suffix} {name}.{self.namespace}.svc")
        for p in self.pods.values():
            if p.ip and not p.deleted:
                lines.append(f"{p.ip} {p.name}")
        return "\n".join(lines) + "\n"

    def update_dns(self):
        text = self.hosts_text()
        for name in list(self.pods) + ["client"]:
            path = f"/etc/netns/{NAMESPACE_PREFIX}{name}/hosts"
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # In place: the containers see this file through a bind mount of its inode.
            with open(path, "a+") as f:
                f.seek(0)
                f.truncate()
                f.write(text)

    # --- volumes ---------------------------------------------------------------------------
    def volume_dir(self, pod, volume, fs_group):
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            if claim not in pod.claims.values():  # not from a volumeClaimTemplate
                self.find("PersistentVolumeClaim", claim)
            path = os.path.join(self.work, "pvc", claim)
        elif "emptyDir" in volume:
            path = os.path.join(self.work, "pods", pod.name, "emptydir", volume["name"])
        elif "secret" in volume or "configMap" in volume:
            kind, ref = (("Secret", volume["secret"]["secretName"]) if "secret" in volume
                         else ("ConfigMap", volume["configMap"]["name"]))
            source = volume.get("secret") or volume.get("configMap")
            obj = self.find(kind, ref)
            data = obj.get("data", {})
            path = os.path.join(self.work, "pods", pod.name, kind.lower(), volume["name"])
            if os.path.isdir(path):
                return path
            os.makedirs(path)
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                if item["key"] not in data:
                    raise KeyError(f"{kind}/{ref} has no key {item['key']}")
                value = data[item["key"]]
                content = base64.b64decode(value) if kind == "Secret" else value.encode()
                with open(os.path.join(path, item["path"]), "wb") as f:
                    f.write(content)
                os.chmod(os.path.join(path, item["path"]), source.get("defaultMode", 0o644))
                os.chown(os.path.join(path, item["path"]), 0, fs_group)
            os.chmod(path, 0o755)
            return path
        else:
            raise ValueError(f"pod {pod.name}: volume {volume['name']} of an unknown kind")
        os.makedirs(path, exist_ok=True)
        shutil.chown(path, 0, fs_group)
        os.chmod(path, 0o2775)
        return path

    # --- pods ------------------------------------------------------------------------------
    def create_pod(self, name, owner, template, claims):
        pod = Pod(name, owner, template["spec"], template["metadata"].get("labels", {}), claims)
        with self.lock:
            self.pods[name] = pod
            pod.ip = self.network.attach(name)
            self.update_dns()
        for c in pod.spec["containers"]:
            self.start_container(pod, c)
        log(f"pod {name} at {pod.ip}")
        return pod

    def env_of(self, pod, c):
        env, resolved = {}, {}
        fields = {"metadata.name": pod.name, "status.podIP": pod.ip,
                  "metadata.namespace": self.namespace}

        def expand(text):
            return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                          lambda m: resolved.get(m.group(1), m.group(0)), str(text))

        for e in c.get("env", []):
            if "valueFrom" in e:
                value = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
            else:
                value = expand(e.get("value", ""))
            env[e["name"]] = resolved[e["name"]] = value
        return env, expand

    def start_container(self, pod, c):
        image = self.image_ref(c["image"])
        if c["name"] not in pod.roots:
            container = sh(*self.buildah, "from", "--quiet", image).stdout.strip()
            root = sh(*self.buildah, "mount", container).stdout.strip()
            pod.roots[c["name"]] = (container, root)
        _, root = pod.roots[c["name"]]
        config = json.loads(sh(*self.buildah, "inspect", "--type", "image", image).stdout)
        entrypoint = config["OCIv1"]["config"].get("Entrypoint") or []
        pod_sc, sc = pod.spec.get("securityContext", {}), c.get("securityContext", {})
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        group = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
        fs_group = pod_sc.get("fsGroup", group)
        if user in (None, 0) or not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            raise ValueError(f"{pod.name}/{c['name']}: not a non-root numeric user")
        env, expand = self.env_of(pod, c)
        argv = [expand(a) for a in (c.get("command") or entrypoint) + c.get("args", [])]
        volumes = {v["name"]: v for v in pod.spec.get("volumes", [])}
        for template, claim in pod.claims.items():  # a StatefulSet's volumeClaimTemplates
            volumes[template] = {"name": template, "persistentVolumeClaim": {"claimName": claim}}
        mounts = []
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                raise KeyError(f"{pod.name}/{c['name']}: mounts {m['name']}, no such volume")
            source = self.volume_dir(pod, volumes[m["name"]], fs_group)
            if not m["mountPath"].startswith("/dev/"):
                os.makedirs(root + m["mountPath"], exist_ok=True)
            read_only = m.get("readOnly", False) or \
                volumes[m["name"]].get("persistentVolumeClaim", {}).get("readOnly", False)
            mounts.append((source, m["mountPath"], read_only))
        hosts = f"/etc/netns/{NAMESPACE_PREFIX}{pod.name}/hosts"
        open(root + "/etc/hosts", "a").close()
        for d in ("proc", "sys", "dev"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        # What a container runtime provides: /proc, /sys read-only, a /dev of the usual devices
        # with a /dev/shm, and /etc/hosts (the kubelet's).
        mount = "/usr/bin/mount"
        script = ["set -e", f"/usr/bin/hostname {pod.name}", f'{mount} --bind "{root}" "{root}"']
        if sc.get("readOnlyRootFilesystem"):
            script.append(f'{mount} -o remount,bind,ro "{root}"')
        script += [f'{mount} -t proc proc "{root}/proc"',
                   f'{mount} --bind /sys "{root}/sys"',
                   f'{mount} -o remount,bind,ro "{root}/sys"',
                   f'{mount} -t tmpfs -o mode=755 dev "{root}/dev"',
                   f'/usr/bin/mkdir "{root}/dev/shm"',
                   f'{mount} -t tmpfs -o mode=1777 shm "{root}/dev/shm"']
        for device in ("null", "zero", "random", "urandom"):
            script += [f'/usr/bin/touch "{root}/dev/{device}"',
                       f'{mount} --bind /dev/{device} "{root}/dev/{device}"']
        script.append(f'{mount} --bind "{hosts}" "{root}/etc/hosts"')
        for source, target, read_only in mounts:
            if target.startswith("/dev/"):  # inside the tmpfs just made
                script.append(f'/usr/bin/mkdir -p "{root}{target}"')
            script.append(f'{mount} --bind "{source}" "{root}{target}"')
            if read_only:
                script.append(f'/usr/bin/mount -o remount,bind,ro "{root}{target}"')
        script.append(f'exec /usr/sbin/chroot --userspec={user}:{group} --groups={fs_group} '
                      f'"{root}" "$@"')
        out = open(os.path.join(self.work, "logs", f"{pod.name}.{c['name']}.log"), "ab")
        process = subprocess.Popen(
            ["/usr/sbin/ip", "netns", "exec", NAMESPACE_PREFIX + pod.name, "/usr/bin/unshare",
             "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c",
             "\n".join(script), "container"] + argv,
            env=env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        pod.processes[c["name"]] = process

    def probe(self, pod, c, kind):
        probe = c.get(kind)
        if not probe:
            return True
        get = probe["httpGet"]
        port = get["port"]
        if isinstance(port, str):
            port = next(p["containerPort"] for p in c["ports"] if p.get("name") == port)
        url = f"http://{pod.ip}:{port}{get['path']}"
        run = subprocess.run(
            ["ip", "netns", "exec", NAMESPACE_PREFIX + pod.name, "/usr/bin/python3", "-c",
             "import sys,urllib.request\n"
             f"sys.exit(0 if urllib.request.urlopen({url!r}, timeout={probe.get('timeoutSeconds', 1)}).status == 200 else 1)"],
            capture_output=True)
        return run.returncode == 0

    def kubelet_loop(self):
        """Probes, restarts and controllers, once a second."""
        last_probe = {}
        while not self.stopping:
            with self.lock:
                pods = list(self.pods.values())
            for pod in pods:
                if pod.deleted:
                    continue
                ready = True
                for c in pod.spec["containers"]:
                    p = pod.processes.get(c["name"])
                    if p is None:
                        continue
                    code = p.poll()
                    policy = pod.spec.get("restartPolicy", "Always")
                    if code is not None:
                        pod.exit_codes[c["name"]] = code
                        if policy == "Always" or (policy == "OnFailure" and code != 0):
                            pod.restarts[c["name"]] = pod.restarts.get(c["name"], 0) + 1
                            log(f"{pod.name}/{c['name']} exited {code}: restarted")
                            self.start_container(pod, c)
                        ready = False
                        continue
                    now = time.time()
                    key = (pod.name, c["name"])
                    period = c.get("livenessProbe", {}).get("periodSeconds", 10)
                    if now - last_probe.get(key, 0) >= min(period, 5):
                        last_probe[key] = now
                        if not self.probe(pod, c, "livenessProbe"):
                            n = pod.liveness_failures.get(c["name"], 0) + 1
                            pod.liveness_failures[c["name"]] = n
                            if n >= c["livenessProbe"].get("failureThreshold", 3):
                                log(f"{pod.name}/{c['name']} failed liveness {n} times: killed")
                                p.kill()
                        else:
                            pod.liveness_failures[c["name"]] = 0
                        ready = ready and self.probe(pod, c, "readinessProbe")
                    else:
                        ready = ready and pod.ready
                pod.ready = ready
            self.reconcile()
            time.sleep(1)

    def reconcile(self):
        """The Deployment and StatefulSet controllers: every replica exists."""
        for d in self.by_kind.get("Deployment", []):
            name = d["metadata"]["name"]
            live = [p for p in self.pods.values() if p.owner == name and not p.deleted]
            if not live:
                n = self.generation.get(name, 0)
                self.generation[name] = n + 1
                self.create_pod(f"{name}-{n}", name, d["spec"]["template"], {})
        for s in self.by_kind.get("StatefulSet", []):
            name = s["metadata"]["name"]
            for i in range(s["spec"]["replicas"]):
                pod = f"{name}-{i}"
                if pod not in self.pods:  # a deleted pod leaves once released
                    claims = {t["metadata"]["name"]: f"{t['metadata']['name']}-{pod}"
                              for t in s["spec"].get("volumeClaimTemplates", [])}
                    self.create_pod(pod, name, s["spec"]["template"], claims)

    def run_job(self, name):
        job = self.find("Job", name)
        n = self.generation.get(name, 0)
        self.generation[name] = n + 1
        return self.create_pod(f"{name}-{n}", None, job["spec"]["template"], {})

    def delete_pod(self, name, grace=None):
        """SIGTERM, then SIGKILL after the grace period; returns seconds until exit."""
        pod = self.pods[name]
        grace = pod.spec.get("terminationGracePeriodSeconds", 30) if grace is None else grace
        with self.lock:
            pod.deleted = True
            self.update_dns()
        start = time.time()
        for p in pod.processes.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in pod.processes.values():
            try:
                p.wait(timeout=max(0.0, grace - (time.time() - start)))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        took = time.time() - start
        self.release(pod)
        return took

    def release(self, pod):
        with self.lock:
            for container, _ in pod.roots.values():
                sh(*self.buildah, "rm", container, check=False)
            self.network.detach(pod.name)
            pod.processes = {}
            self.pods.pop(pod.name, None)
            self.update_dns()

    def close(self):
        self.stopping = True
        # The loop ends its round first: mid-round it would restart a container killed below
        # (restartPolicy Always) or recreate a released StatefulSet pod, and that process
        # would outlive the test (seen: two shard servers left running after a passing run).
        if self.loop:
            self.loop.join(timeout=120)
        for name in list(self.pods):
            pod = self.pods.get(name)
            if pod:
                for p in pod.processes.values():
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                self.release(pod)
        self.network.close()
        shutil.rmtree(f"/etc/netns/{NAMESPACE_PREFIX}client", ignore_errors=True)
        for d in os.listdir("/etc/netns") if os.path.isdir("/etc/netns") else []:
            if d.startswith(NAMESPACE_PREFIX):
                shutil.rmtree(os.path.join("/etc/netns", d), ignore_errors=True)


class Client:
    """mwctl in a namespace of its own on the bridge, as a user reaching the Services."""

    def __init__(self, kubelet, mwctl):
        self.kubelet, self.mwctl = kubelet, mwctl
        ip = kubelet.network.attach("client")
        kubelet.update_dns()
        submit = kubelet.by_kind["Job"][0]
        env = {e["name"]: e.get("value") for e in
               submit["spec"]["template"]["spec"]["containers"][0]["env"] if "value" in e}
        self.coordinator = env["MW_COORDINATOR"]
        args = submit["spec"]["template"]["spec"]["containers"][0]["args"]
        self.name = next(a.split("=", 1)[1] for a in args if a.startswith("--name="))
        user = os.path.join(kubelet.work, "user")
        self.flags = ["--coordinator", self.coordinator, "--token-file",
                      os.path.join(user, "user.token"), "--tls-ca", os.path.join(user, "ca.pem")]
        log(f"client at {ip}")

    def run(self, *args):
        return subprocess.run(["ip", "netns", "exec", NAMESPACE_PREFIX + "client", self.mwctl] +
                              self.flags + list(args), capture_output=True, text=True)

    def job(self):
        """The submit Job's job, found by its name, or None while there is none or the
        coordinator does not answer: its id, state, phase, epoch, step, attempts, checkpoint."""
        listed = self.run("list")
        if listed.returncode != 0:
            return None
        for job_id in re.findall(r"^(job-\d+) ", listed.stdout, re.M):
            got = self.run("get", job_id)
            m = re.search(r"^(job-\d+) (\w+) +(\w*) +epoch (\d+)/\d+ step (\d+)/", got.stdout,
                          re.M)
            s = re.search(r"^job-\d+ \((.*)\) \w+ after (\d+) attempt\(s\), \d+ epoch\(s\), "
                          r"checkpoint (\d+)", got.stdout, re.M)
            if m and s and s.group(1) == self.name:
                break
        else:
            return None
        return {"id": m.group(1), "state": m.group(2), "phase": m.group(3),
                "epoch": int(m.group(4)), "step": int(m.group(5)), "attempts": int(s.group(2)),
                "checkpoint": int(s.group(3))}


def training(client, attempts=0):
    """The job, once it trains (phase train) in an attempt after `attempts`, else None."""
    job = client.job()
    return job if job and job["phase"] == "train" and job["attempts"] > attempts else None


def wait_for(what, predicate, seconds):
    return poll(what, predicate, seconds, interval=1)  # each poll runs mwctl twice


def main():
    source, build = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        print("manifest wiring test: needs root (network namespaces, mounts, chroot)")
        return 1
    work = tempfile.mkdtemp(prefix="mw_kubelet_")
    kubelet = None
    failures = []
    try:
        kubelet = Kubelet(source, build, os.path.join(source, "deploy/fashion-mnist.yaml"),
                          work)
        submit_name = kubelet.by_kind["Job"][0]["metadata"]["name"]
        for svc in kubelet.by_kind["Service"]:  # no kube-proxy: ports must line up
            for port in svc["spec"]["ports"]:
                if port.get("targetPort") not in (port["port"], port.get("name")):
                    failures.append(f"Service {svc['metadata']['name']}: port {port['port']} "
                                    f"-> {port.get('targetPort')}")
        kubelet.loop = threading.Thread(target=kubelet.kubelet_loop, daemon=True)
        kubelet.loop.start()
        client = Client(kubelet, os.path.join(build, "bin", "mwctl"))
        wait_for("every server pod ready", lambda: all(
            p.ready for p in list(kubelet.pods.values()) if p.owner), 180)
        log("servers ready: " + ", ".join(sorted(kubelet.pods)))
        submit = kubelet.run_job(submit_name)
        job = wait_for("the job to train", lambda: training(client), 300)
        time.sleep(2)  # into the epoch
        log(f"{job['id']} training: {job}")

        # 1. A worker's link cut mid-epoch, restored 15 s later.
        kubelet.network.set_link("millionway-worker-1", False)
        log("worker-1's link cut")
        time.sleep(15)
        kubelet.network.set_link("millionway-worker-1", True)
        log("worker-1's link restored")
        job = wait_for("the job to train again after the cut",
                   lambda: training(client, job["attempts"]), 300)
        log(f"resumed: {job}")

        # 2. A worker pod deleted with its grace period, mid-epoch: the gang checkpoints where
        # it stands, then the worker exits.
        time.sleep(2)
        before = client.job()
        worker0 = kubelet.pods["millionway-worker-0"]
        grace = worker0.spec["terminationGracePeriodSeconds"]
        took = kubelet.delete_pod("millionway-worker-0")
        after = wait_for("the job's record", lambda: client.job(), 60)
        log(f"worker-0 deleted: exited in {took:.1f} s of {grace}; checkpoint "
            f"{before['checkpoint']} -> {after['checkpoint']}")
        if took >= grace:
            failures.append(f"worker-0 did not exit within its grace period ({took:.0f} s)")
        if after["checkpoint"] <= before["checkpoint"]:
            failures.append("worker-0 left without a checkpoint "
                            f"({before['checkpoint']} -> {after['checkpoint']})")

        # 3. The coordinator killed; its Deployment makes a new pod on the same volume.
        wait_for("the job to train after the deletion", lambda: training(client, after["attempts"]),
             300)
        before = client.job()
        coordinator = next(p for p in kubelet.pods.values()
                           if p.owner == "millionway-coordinator")
        kubelet.delete_pod(coordinator.name, grace=0)
        log(f"coordinator pod {coordinator.name} killed at checkpoint {before['checkpoint']}")
        after = wait_for("the new coordinator to know the job",
                     lambda: client.job(), 180)
        log(f"new coordinator: {after}")
        if after["checkpoint"] < before["checkpoint"]:
            failures.append(f"the coordinator restart lost checkpoints ({before} -> {after})")

        done = wait_for("the job to end", lambda: (
            lambda j: j if j and j["state"] in ("COMPLETED", "FAILED", "CANCELLED") else None)(
            client.job()), 900)
        log(f"job ended: {done}")
        if done["state"] != "COMPLETED":
            failures.append(f"the job ended {done['state']}")
        wait_for("the submit Job's pod to succeed",
             lambda: submit.exit_codes.get("submit") == 0 or None, 120)
        log(f"submit pod succeeded after {submit.restarts.get('submit', 0)} restart(s)")

        # 4. The submit Job applied again: it finds the job by name, submits nothing.
        again = kubelet.run_job(submit_name)
        wait_for("the second submit pod to succeed",
             lambda: again.exit_codes.get("submit") == 0 or None, 120)
        listed = client.run("list").stdout
        count = len(re.findall(r"^job-\d+ ", listed, re.M))
        log(f"jobs after the second apply: {count}")
        if count != 1:
            failures.append(f"{count} jobs after the submit Job ran twice")
        with open(os.path.join(work, "logs", f"{again.name}.submit.log")) as f:
            said = f.read()
        if "nothing submitted" not in said:
            failures.append("the second submit did not say it found the job: " + said[-300:])
    except Exception as e:  # a wiring error: say which, with the logs
        failures.append(f"{type(e).__name__}: {e}")
    finally:
        if kubelet:
            if failures:
                for name in sorted(os.listdir(os.path.join(work, "logs"))):
                    with open(os.path.join(work, "logs", name), errors="replace") as f:
                        tail = f.read()[-1500:]
                    print(f"--- {name} (last lines)\n{tail}")
            kubelet.close()
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAILED: " + f)
    if not failures:
        print("manifest wiring test: deploy/fashion-mnist.yaml ran; the job COMPLETED through a "
              "link cut, a graceful worker deletion and a coordinator kill; a second apply "
              "submitted nothing")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
