"""What a checkpoint costs training at one rank's share, beside the disk's own rates.

    /usr/bin/python3 bench/checkpoint/run.py [--build build] [--rows 640000] [--steps 20]

Starts two shard servers on loopback (their data in a temporary folder), measures that
folder's disk with dd (sequential write with fsync, and read, 1 GiB each, direct I/O: the
physical limit a checkpoint's write and restore cannot beat), runs build/bench/checkpoint_bench
(one rank, the given share of classifier rows) and prints one Markdown table. 640,000 rows is
the share of one of 2 ranks at ImageNet-1K's 1.28M instances.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dd_rate(args):
    """MB/s as dd reports it on its last line."""
    done = subprocess.run(["dd"] + args, capture_output=True, text=True)
    match = re.search(r"([\d.,]+) ([kMG]?B)/s", done.stderr.strip().splitlines()[-1])
    if done.returncode != 0 or not match:
        sys.exit("dd failed: " + done.stderr)
    value = float(match.group(1).replace(",", "."))
    return value * {"kB": 1e-3, "MB": 1, "GB": 1e3, "B": 1e-6}[match.group(2)]


def start_shard_server(build, data, log):
    port_file = data + ".port"
    process = subprocess.Popen(
        [os.path.join(build, "bin", "mw_shard_server"), "--data-dir", data,
         "--allow-unauthenticated", "--listen", "127.0.0.1:0", "--port-file", port_file],
        stdout=log, stderr=subprocess.STDOUT)
    for _ in range(3000):
        if os.path.exists(port_file) and open(port_file).read().strip():
            return process, "127.0.0.1:" + open(port_file).read().strip()
        time.sleep(0.01)
    process.kill()
    sys.exit("shard server did not start")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--rows", type=int, default=640000)
    p.add_argument("--steps", type=int, default=20)
    a = p.parse_args()
    root = tempfile.mkdtemp(prefix="mw_ckpt_bench_")
    servers = []
    try:
        probe = os.path.join(root, "dd.probe")
        write_mb_s = dd_rate(["if=/dev/zero", "of=" + probe, "bs=1M", "count=1024",
                              "oflag=direct", "conv=fsync"])
        read_mb_s = dd_rate(["if=" + probe, "of=/dev/null", "bs=1M", "iflag=direct"])
        os.remove(probe)
        with open(os.path.join(root, "servers.log"), "w") as log:
            servers = [start_shard_server(a.build, os.path.join(root, "shards%d" % s), log)
                       for s in range(2)]
            env = dict(os.environ, MW_RANK="0", MW_WORLD_SIZE="1", MW_STORE_PORT=str(free_port()))
            done = subprocess.run(
                [os.path.join(a.build, "bench", "checkpoint_bench"), "--rows", str(a.rows),
                 "--steps", str(a.steps), "--shard-servers", ",".join(s[1] for s in servers)],
                capture_output=True, text=True, env=env)
        lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
        if done.returncode != 0 or not lines:
            sys.exit("checkpoint_bench failed:\n" + done.stdout + done.stderr)
        r = json.loads(lines[-1])
    finally:
        for process, _ in servers:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)

    mb = r["bytes"] / 1e6
    print("| rows (one rank's share) | checkpoint bytes | step | training blocked per checkpoint "
          "(snapshot: first, then into its buffers) | write, in the background "
          "| its rate / disk write (%.0f MB/s) | step while it writes / step alone | restore "
          "| its rate / disk read (%.0f MB/s) |" % (write_mb_s, read_mb_s))
    print("|---|---|---|---|---|---|---|---|---|")
    print("| %d | %.0f MB | %.3f s | %.3f s, %.3f s | %.2f s | %.2f | %.2f (%d steps) | %.2f s "
          "| %.2f |" % (
        r["rows"], mb, r["step_s"], r["first_snapshot_s"], r["snapshot_s"], r["write_s"],
        mb / r["write_s"] / write_mb_s, r["step_during_write_s"] / r["step_s"],
        r["steps_during_write"], r["restore_s"], mb / r["restore_s"] / read_mb_s))


if __name__ == "__main__":
    main()
