#!/usr/bin/env python3
"""Packed datasets read over real servers with faults in between (issue 20):

1. nginx serves Fashion-MNIST packed as shards; a fault proxy in front drops connections
   mid-body, answers 503s and stalls past the read timeout. `mwctl dataset check` passes
   through it, and three ranks reading an epoch (mw_read_epoch: the sampler, the loader's
   threads, the shard reader) load exactly the ids, and make exactly the views, that they
   make from the local directory, each sample of the epoch once.
2. A truncated shard over HTTP fails the check with the shard's name.
3. s3rver holds the same shards; the proxy checks every request's SigV4 signature (s3rver
   3.7.1 checks only the access key). The right secret reads; a wrong one is refused by name.
4. `mwctl local` trains on the shards from S3 (through the proxy's faults) and on
   dataset fashion-mnist: the same images in the same order, so the same accuracies.
5. A job on a shard with a corrupt sample ends FAILED, its status naming shard and sample.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from waiting import wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KEY, SECRET = "S3RVER", "S3RVER"  # s3rver's built-in account
SPEC = {"train_subset": 600, "test_subset": 300, "epochs": 1, "local_batch": 50, "top_k": 10,
        "lr": 0.1, "classifier_lr": 1.0, "warmup_epochs": 0, "linear_probe": False,
        "evaluate_before_training": False}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    def __init__(self):
        self.procs = []

    def start(self, args, log):
        p = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def run(args, env=None, expect=0):
    r = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if expect is not None and r.returncode != expect:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}, not {expect}:\n"
                             f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def start_nginx(procs, tmp, root):
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""user root;
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/nginx-body;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
""")
    procs.start(["nginx", "-p", tmp, "-c", conf, "-e", f"{tmp}/nginx-error.log"],
                f"{tmp}/nginx.out")
    wait_for("nginx", lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 20)
    return port


def start_proxy(procs, tmp, name, upstream, *flags):
    port_file = os.path.join(tmp, f"{name}.port")
    log = os.path.join(tmp, f"{name}.jsonl")
    procs.start([sys.executable, os.path.join(HERE, "fault_proxy.py"), "--upstream", upstream,
                 "--port-file", port_file, "--log", log, *flags], f"{tmp}/{name}.out")
    port = int(wait_for(name, lambda: os.path.exists(port_file) and open(port_file).read(), 20))
    return port, log


def faults_in(log):
    counts = {}
    for line in open(log):
        fault = json.loads(line)["fault"]
        counts[fault] = counts.get(fault, 0) + 1
    return counts


def read_epoch(build, tmp, location, world, extra=()):
    """Every rank's (id, checksum of its two views) pairs, in the order it loaded them."""
    out = [f"{tmp}/rank{r}.ids" for r in range(world)]
    procs = [subprocess.Popen([f"{build}/tests/mw_read_epoch", location, "--world-size",
                               str(world), "--rank", str(r), "--local-batch", "16", "--epoch",
                               "3", "--threads", "4", "--out", out[r], *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(world)]
    ids = []
    for r, p in enumerate(procs):
        log, _ = p.communicate(timeout=300)
        assert p.returncode == 0, f"rank {r}: {log[-2000:]}"
        ids.append([tuple(line.split()) for line in open(out[r])])
    return ids


def figures_of(output):
    """The job's losses as it went and the accuracies it reached."""
    knn = re.findall(r"COMPLETED after .*: (kNN top-1 [0-9.]+, linear probe top-1 [0-9.]+)",
                     output)
    assert knn, output[-2000:]
    return sorted(set(re.findall(r"loss ([0-9.]+)", output))), knn[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--tools", required=True)
    args = ap.parse_args()
    mwctl = f"{args.build}/bin/mwctl"
    tmp = tempfile.mkdtemp(prefix="mw_data_")
    procs = Processes()
    try:
        www = os.path.join(tmp, "www")
        train, test = f"{www}/fm/train", f"{www}/fm/test"
        run([mwctl, "dataset", "pack", "--fashion-mnist", "train", "--limit", "3000",
             "--shard-size", "1M", "--out", train])
        run([mwctl, "dataset", "pack", "--fashion-mnist", "test", "--limit", "1000",
             "--shard-size", "1M", "--out", test])

        # 1. HTTP with dropped connections, 503s and stalls.
        nginx = start_nginx(procs, tmp, www)
        proxy, proxy_log = start_proxy(procs, tmp, "http-proxy", f"127.0.0.1:{nginx}",
                                       "--drop-every", "5", "--fail-every", "7",
                                       "--stall-every", "701", "--stall-s", "3")
        url = f"http://127.0.0.1:{proxy}/fm/train"
        stall = ["--data-stall-timeout-s", "1"]
        r = run([mwctl, "dataset", "check", url, *stall])
        print(r.stdout.strip())
        local = read_epoch(args.build, tmp, train, 3)
        remote = read_epoch(args.build, tmp, url, 3, stall)
        assert remote == local, "ranks trained on other samples or views over HTTP"
        everything = [i for rank in remote for i, _ in rank]
        batch = 3 * 16
        assert len(everything) == 3000 // batch * batch, len(everything)
        assert len(set(everything)) == len(everything), "a sample was read twice"
        faults = faults_in(proxy_log)
        assert faults.get("drop") and faults.get("fail") and faults.get("stall"), faults
        print(f"epoch at W=3 over HTTP: {len(everything)} samples once each; faults {faults}")

        # 2. A truncated shard is named.
        shutil.copytree(train, f"{www}/fm/truncated")
        victim = f"{www}/fm/truncated/shard-000001.tar"
        os.truncate(victim, os.path.getsize(victim) // 2)
        r = run([mwctl, "dataset", "check", f"http://127.0.0.1:{proxy}/fm/truncated", *stall],
                expect=1)
        assert "shard-000001.tar" in r.stderr, r.stderr
        print("truncated shard:", r.stderr.strip().splitlines()[-1][:160])

        # 3. S3 with SigV4 checked.
        s3_dir = os.path.join(tmp, "s3")
        os.makedirs(s3_dir)
        s3_log = f"{tmp}/s3rver.out"
        procs.start([f"{args.tools}/test-servers/node_modules/.bin/s3rver", "-d", s3_dir, "-a",
                     "127.0.0.1", "-p", "0", "--configure-bucket", "data"], s3_log)
        s3_port = int(wait_for("s3rver", lambda: re.findall(
            r"listening on 127.0.0.1:(\d+)", open(s3_log).read()), 30)[0])
        s3_proxy, s3_proxy_log = start_proxy(procs, tmp, "s3-proxy", f"127.0.0.1:{s3_port}",
                                             "--sigv4", f"{KEY}:{SECRET}", "--drop-every", "9",
                                             "--fail-every", "11")
        endpoint = f"http://127.0.0.1:{s3_proxy}"
        for split in ("train", "test"):
            for name in sorted(os.listdir(f"{www}/fm/{split}")):
                run(["curl", "-sSf", "--retry", "5", "--retry-all-errors", "--aws-sigv4",
                     "aws:amz:us-east-1:s3", "--user", f"{KEY}:{SECRET}", "-H",
                     "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", f"{www}/fm/{split}/{name}",
                     f"{endpoint}/data/fm/{split}/{name}"])
        s3_env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
                  "MW_S3_ENDPOINT": endpoint}
        print(run([mwctl, "dataset", "check", "s3://data/fm/train"], env=s3_env).stdout.strip())
        r = run([mwctl, "dataset", "check", "s3://data/fm/train"],
                env={**s3_env, "AWS_SECRET_ACCESS_KEY": "wrong"}, expect=1)
        assert "PERMISSION_DENIED" in r.stderr and "SignatureDoesNotMatch" in r.stderr, r.stderr
        print("wrong secret:", r.stderr.strip()[:160])

        # 4. A job on the shards from S3 against the same job on dataset fashion-mnist.
        figures = {}
        for name, data in (("fashion-mnist", {}),
                           ("shards", {"dataset": "shards", "train_shards": "s3://data/fm/train",
                                       "test_shards": "s3://data/fm/test",
                                       "augmentation_preset": "fashion-mnist"})):
            spec = f"{tmp}/{name}.json"
            with open(spec, "w") as f:
                json.dump({**SPEC, **data}, f)
            r = run([mwctl, "local", "--spec", spec, "--workers", "2", "--dir",
                     f"{tmp}/local-{name}"], env=s3_env)
            assert "COMPLETED" in r.stdout, r.stdout[-2000:]
            figures[name] = figures_of(r.stdout)
            print(f"{name}: {r.stdout.strip().splitlines()[-1]}")
        assert figures["shards"] == figures["fashion-mnist"], figures
        print(f"the same figures from S3 shards and from the files: {figures['shards']}; "
              f"S3 faults {faults_in(s3_proxy_log)}")

        # 5. A corrupt sample fails the job by name, not the worker.
        corrupt = f"{www}/fm/corrupt"
        shutil.copytree(train, corrupt)
        with open(f"{train}/index.bin", "rb") as f:  # sample 150: shard, block, size, ...
            shard, block, size = struct.unpack("<III", f.read()[16 + 20 * 150:][:12])
        with open(f"{corrupt}/shard-{shard:06d}.tar", "r+b") as f:
            f.seek(block * 512 + size // 2)
            f.write(b"XXXX")
        spec = f"{tmp}/corrupt.json"
        with open(spec, "w") as f:
            json.dump({**SPEC, "dataset": "shards", "train_shards": corrupt, "test_shards": test,
                       "augmentation_preset": "fashion-mnist"}, f)
        r = run([mwctl, "local", "--spec", spec, "--workers", "2", "--dir", f"{tmp}/corrupt-run"],
                expect=1)
        last = r.stdout.strip().splitlines()[-1]
        assert "FAILED" in last and "sample 150" in last and "corrupt" in last, last
        print("corrupt shard:", last[last.find("FAILED"):][:300])
    finally:
        procs.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
