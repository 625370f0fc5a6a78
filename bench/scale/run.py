"""A job of N instance classes through the whole service, measured: `mwctl local` (shard
servers, coordinator, W workers, tokens on every hop) on a synthetic set of N small images.

    /usr/bin/python3 bench/scale/run.py --instances 1280000 --workers 2 --shard-servers 2 \\
        [--steps 20] [--epochs 2] [--smoothing 0.2] [--prior contrastive] \\
        [--checkpoint-every 0] [--evaluation-subset 0] [--logit-cache-bytes 1073741824] \\
        [--kill worker --kill shard-server --kill sigterm] [--drills-after-checkpoint 0] \\
        [--resize W2] [--reference [--tolerance 0.02]] [--no-peers] [--build build]

The job: the prior over all N (unless --prior gaussian), per epoch a top-k refresh over all N
(unless --smoothing 0), --steps training steps (max_steps_per_epoch), a checkpoint (and one
every --checkpoint-every steps: checkpoint_every_steps); then the evaluation (its kNN bank
the first --evaluation-subset training images; 0: all N).

Fault drills (--kill, in the order given, each once the one before has been recovered from;
the first once worker-0 has written checkpoint --drills-after-checkpoint): `worker` and
`shard-server` kill -9 worker-1 / shard-server-1 just after rank 0 has taken a checkpoint's
snapshot, so while its pieces stream to the shard servers; `sigterm` sends SIGTERM to
worker-1 part-way through a training task, so the gang checkpoints mid-epoch before it
leaves. `mwctl local` restarts what exits, as Kubernetes restarts a pod. With
--checkpoint-every and --drills-after-checkpoint 1, the drills land after the epoch's top-k
refresh, with its table in the checkpoint they resume from.
--resize W2 then asks the coordinator (mwctl scale) to run the job on W2 workers from its
next checkpoint, which it loads on W2 ranks: a resume at another W, whose global batch
differs, so --reference compares it by its kNN top-1 within --tolerance. Without --resize,
--reference runs the same job without drills and compares the two final checkpoints
byte for byte (classifier rows, momentum and the backbone's state dict; not the model blob,
whose optimizer state LibTorch keys by memory addresses).

Prints Markdown tables, from the workers' logs and from /proc sampled every 0.5 s: each task
kind's time (rank 0), each checkpoint's write and each restore's throughput beside the
disk's sequential write and read rates (measured here first, with dd and O_DIRECT), the training time each checkpoint took (its
snapshot), every process's peak RSS beside `mwctl plan`'s classifier estimate per worker, and
the drills' outcomes. Beside the job, measured in the same run first (unless --no-peers):
the classifier step alone at the job's per-rank share (bench/classifier_step's ranks, the
job's batch, chunk, cache and smoothing), against which the job's step time shows what the
backbone, the data and the services add; and at::mm's rate in those processes, from which
the brute-force arithmetic of a refresh (all N x N scores, 2 N^2 d flops) follows. Exits 1 unless every job COMPLETED (and, with --reference, the final
checkpoints are identical).
"""
import argparse
import glob
import hashlib
import importlib.util
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


def processes(root):
    """(pid, name) of the processes whose command line names `root` (a cluster's dir)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            if root.encode() not in b" ".join(cmd):
                continue
            name = os.path.basename(cmd[0].decode())
            if name == "mw_worker":
                name = cmd[cmd.index(b"--name") + 1].decode()
            elif name == "mw_shard_server":
                name = os.path.basename(cmd[cmd.index(b"--data-dir") + 1].decode())
            elif name == "mw_coordinator":
                name = "coordinator"
            else:
                continue
            yield int(pid), name
        except (OSError, ValueError, IndexError):
            continue


def peak_rss_by_process(root, stop, peaks):
    """Samples VmHWM of every process of the cluster (restarted ones under the same name)."""
    while not stop.is_set():
        for pid, name in processes(root):
            try:
                for line in open("/proc/%d/status" % pid):
                    if line.startswith("VmHWM:"):
                        peaks[name] = max(peaks.get(name, 0), int(line.split()[1]) * 1024)
            except OSError:
                continue
        stop.wait(0.5)


def log_lines(path):
    try:
        for line in open(path):
            try:
                yield json.loads(line)
            except ValueError:
                continue
    except OSError:
        return


class LogTail:
    """The JSON records appended to a log since the last call."""

    def __init__(self, path):
        self.path, self.offset = path, 0

    def new(self):
        try:
            with open(self.path) as f:
                f.seek(self.offset)
                text = f.read()
        except OSError:
            return []
        end = text.rfind("\n") + 1
        self.offset += len(text[:end].encode())
        out = []
        for line in text[:end].splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def signal_process(cluster, name, sig):
    for pid, found in processes(cluster):
        if found == name:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:  # exited between the scan and the signal
                continue
            return pid
    return None


def resize(a, cluster, workers):
    """Asks the coordinator (mwctl scale, the user's token) to run the job on `workers` from
    its next checkpoint on."""
    port = open(os.path.join(cluster, "coordinator.port")).read().strip()
    done = subprocess.run([os.path.join(a.build, "bin", "mwctl"), "--coordinator",
                           "127.0.0.1:" + port, "--token-file",
                           os.path.join(cluster, "auth", "user.token"), "scale", "job-1",
                           "--workers", str(workers), "--min-workers", str(workers)],
                          capture_output=True, text=True)
    return done.returncode


def drill(a, cluster, kills, outcomes, stop):
    """Runs the fault drills (then the resize, if any), reading worker-0's log (the drills
    spare worker-0, and every member of a gang logs each task it runs), once worker-0 has
    written checkpoint --drills-after-checkpoint (0: from the start)."""
    after_checkpoint = a.drills_after_checkpoint
    tail = LogTail(os.path.join(cluster, "worker-0.log"))
    pending = list(kills)
    armed = after_checkpoint == 0
    while pending and not stop.wait(0.1):
        for record in tail.new():
            if not pending:
                break
            msg = record.get("msg", "")
            if not armed:
                m = re.match(r"checkpoint (\d+) written", msg)
                armed = bool(m) and int(m.group(1)) >= after_checkpoint
                continue
            kind = pending[0]
            if kind == "resize":
                code = resize(a, cluster, a.resize)
                if code != 0:
                    sys.stderr.write("mwctl scale failed (exit %d)\n" % code)
                outcomes.append({"drill": "mwctl scale job-1 --workers %d" % a.resize,
                                 "pid": "exit %d" % code, "at": time.time(),
                                 "when": "epoch %s, from its next checkpoint" %
                                 record.get("epoch")})
                pending.pop(0)
            elif kind in ("worker", "shard-server") and msg == "TASK_CHECKPOINT done":
                target = "worker-1" if kind == "worker" else "shard-server-1"
                pid = signal_process(cluster, target, signal.SIGKILL)
                outcomes.append({"drill": "kill -9 %s" % target, "pid": pid,
                                 "when": "checkpoint of epoch %s streaming" % record.get("epoch"),
                                 "at": time.time()})
                pending.pop(0)
            elif kind == "sigterm" and msg == "TASK_TRAIN done":
                # Part-way into the next training task: the gang checkpoints at that step.
                time.sleep(0.4 * float(record.get("seconds", 1)))
                pid = signal_process(cluster, "worker-1", signal.SIGTERM)
                outcomes.append({"drill": "SIGTERM worker-1", "pid": pid,
                                 "when": "mid-epoch %s" % record.get("epoch"),
                                 "at": time.time()})
                pending.pop(0)
    for kind in pending:
        outcomes.append({"drill": kind, "pid": None, "when": "never: the job ended first",
                         "at": time.time()})


def disk_rates(directory):
    """Sequential write (fsync'd) and read rates of the disk under `directory`, bytes/s."""
    path = os.path.join(directory, "disk_probe")
    rates = []
    for cmd in (["dd", "if=/dev/zero", "of=" + path, "bs=8M", "count=128", "oflag=direct",
                 "conv=fsync"],
                ["dd", "if=" + path, "of=/dev/null", "bs=8M", "iflag=direct"]):
        out = subprocess.run(cmd, capture_output=True, text=True).stderr
        m = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", out)
        rates.append(int(m.group(1)) / float(m.group(2)) if m else float("nan"))
    os.remove(path)
    return rates


def final_checkpoint_digests(cluster, checkpoint):
    """sha256 of every piece of checkpoint `checkpoint`, by name without the gang attempt.
    Not the model blob: LibTorch keys its optimizer state by the parameters' TensorImpl
    addresses (torch/optim/serialize.h), so its bytes differ between any two processes; the
    backbone's state dict and the classifier rows are compared instead."""
    digests = {}
    for path in glob.glob(os.path.join(cluster, "shard-server-*", "*", "%020d" % checkpoint,
                                       "*")):
        name = os.path.basename(path)
        if not (name.endswith(".rows") or name.endswith(".blob")) or name.startswith("model."):
            continue
        key = re.sub(r"\.a\d+\.", ".", name)
        digests[key] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return digests


def peers(a):
    """The classifier step alone at the job's per-rank share, and at::mm's rate in the same
    processes (bench/classifier_step's ranks, W of them, cores // W threads each)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "classifier_step",
                        "run.py")
    spec = importlib.util.spec_from_file_location("classifier_step_run", path)
    classifier_step = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(classifier_step)
    threads = max(1, (os.cpu_count() or 1) // a.workers)
    cmd = [os.path.join(a.build, "bench", "classifier_step_rank"), "--layout", "sharded",
           "--classes", str(a.instances), "--batch", str(2 * a.local_batch * a.workers),
           "--chunk", "65536", "--cache", str(a.logit_cache_bytes), "--smoothing",
           str(a.smoothing), "--steps", "3", "--threads", str(threads)]
    return classifier_step.run_ranks(cmd, a.workers, 1800)


def run_job(a, spec_path, cluster, kills):
    mwctl = os.path.join(a.build, "bin", "mwctl")
    peaks, stop, outcomes = {}, threading.Event(), []
    sampler = threading.Thread(target=peak_rss_by_process, args=(cluster, stop, peaks))
    sampler.start()
    driller = threading.Thread(target=drill, args=(a, cluster, kills, outcomes, stop))
    driller.start()
    started = time.time()
    try:
        done = subprocess.run([mwctl, "local", "--spec", spec_path, "--workers", str(a.workers),
                               "--shard-servers", str(a.shard_servers), "--dir", cluster],
                              capture_output=True, text=True)
    finally:
        stop.set()
        sampler.join()
        driller.join()
    out = done.stdout + done.stderr
    summary = re.findall(r"^job-\S+ \(.*$", done.stdout, re.M)
    result = {"wall": time.time() - started, "peaks": peaks, "drills": outcomes,
              "output": out, "summary": summary[-1] if summary else ""}
    state = re.findall(r"\b(COMPLETED|FAILED|CANCELLED)\b", result["summary"])
    result["state"] = state[-1] if state else "no final state"
    m = re.search(r"checkpoint (\d+):", result["summary"])
    result["checkpoint"] = int(m.group(1)) if m else 0
    m = re.search(r"kNN top-1 ([\d.]+)", result["summary"])
    result["knn"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"after (\d+) attempt", result["summary"])
    result["attempts"] = int(m.group(1)) if m else 0
    tasks, writes, train_steps, loads = {}, [], [], []
    for record in log_lines(os.path.join(cluster, "worker-0.log")):
        msg = record.get("msg", "")
        if msg.endswith(" done") and msg.startswith("TASK_"):
            tasks.setdefault(msg[:-5], []).append(float(record.get("seconds", 0)))
            reached = int(record.get("stopped_at_step", 0)) or int(record.get("last_step", 0))
            steps = reached - int(record.get("first_step", 0))
            if msg == "TASK_TRAIN done" and steps > 0:
                train_steps.append(float(record.get("seconds", 0)) / steps)
            if int(record.get("stopped_at_step", 0)):
                result.setdefault("stops", []).append(
                    "epoch %s: TRAIN [%s, %s) stopped after step %d (%.1f s)" % (
                        record.get("epoch"), record.get("first_step"), record.get("last_step"),
                        reached - 1, float(record.get("seconds", 0))))
    for w in range(a.workers):
        for record in log_lines(os.path.join(cluster, "worker-%d.log" % w)):
            msg = record.get("msg", "")
            if re.match(r"checkpoint \d+ loaded", msg):
                loads.append((int(msg.split()[1]), int(record.get("rank", w)),
                              int(record.get("row_bytes", 0)), float(record.get("seconds", 0))))
            if re.match(r"checkpoint \d+ (written|not written)", msg):
                writes.append((int(msg.split()[1]), int(record.get("rank", w)),
                               "not written" not in msg,
                               int(record.get("bytes", 0)), float(record.get("seconds", 0)),
                               msg))
    result["tasks"], result["writes"], result["train_steps"] = tasks, writes, train_steps
    result["loads"] = loads
    return result


def print_peers(a, result, peer):
    """The job's step and refresh beside the classifier step alone and the refresh's
    brute-force arithmetic."""
    if not peer:
        return
    print("| measured in the job (rank 0) | seconds | beside | seconds | job / beside |")
    print("|---|---|---|---|---|")
    steps = [s for s in result["train_steps"] if s > 0]
    if steps:
        step = sorted(steps)[len(steps) // 2]
        print("| a training step (median of %d tasks' seconds per step) | %.3f | the classifier "
              "step alone, bench/classifier_step, %d rows per rank, batch %d | %.3f | %.2f |" % (
                  len(steps), step, a.instances // a.workers, 2 * a.local_batch * a.workers,
                  peer["step_s"], step / peer["step_s"]))
    refreshes = [t for t in result["tasks"].get("TASK_TOPK_REFRESH", []) if t > 1]
    rate = peer.get("mm_gflops", 0) * a.workers * 1e9  # W ranks, cores // W threads each
    if refreshes and rate:
        brute = 2.0 * a.instances ** 2 * 128 / rate
        print("| a top-k refresh over all N (k = 100) | %.1f | all N x N scores at at::mm's "
              "rate (%.1f GFLOP/s per rank x %d) | %.1f | %.2f |" % (
                  refreshes[0], peer["mm_gflops"], a.workers, brute, refreshes[0] / brute))
    print()


def print_report(a, result, planned, disk):
    print("N = %d, W = %d, S = %d, %d steps per epoch, %d epochs, smoothing %s, prior %s, "
          "a checkpoint every %s steps: %.0f s in all, %s after %d attempt(s)\n" % (
              a.instances, a.workers, a.shard_servers, a.steps, a.epochs, a.smoothing, a.prior,
              a.checkpoint_every or "epoch's", result["wall"], result["state"],
              result["attempts"]))
    print("| task (rank 0) | count | seconds each |")
    print("|---|---|---|")
    for kind in ("TASK_START", "TASK_TOPK_REFRESH", "TASK_TRAIN", "TASK_CHECKPOINT",
                 "TASK_EVALUATE"):
        times = result["tasks"].get(kind, [])
        print("| %s | %d | %s |" % (kind, len(times),
                                   ", ".join("%.2f" % t for t in times) or "-"))
    print()
    print_peers(a, result, result.get("peer"))
    print("\nCheckpoint writes, each rank's pieces to the S shard servers in the background; "
          "the disk here: %.0f MB/s sequential write (O_DIRECT, fsync), %.0f MB/s read.\n"
          % (disk[0] / 1e6, disk[1] / 1e6))
    print("| checkpoint | rank | outcome | GB | seconds | MB/s | of the disk's write rate |")
    print("|---|---|---|---|---|---|---|")
    for checkpoint, rank, ok, nbytes, seconds, msg in sorted(result["writes"]):
        rate = nbytes / seconds if ok and seconds > 0 else 0
        print("| %d | %d | %s | %.2f | %.2f | %s | %s |" % (
            checkpoint, rank, "written" if ok else msg.split(": ", 1)[-1][:60], nbytes / 1e9,
            seconds, "%.0f" % (rate / 1e6) if rate else "-",
            "%.0f %%" % (100 * rate / disk[0]) if rate else "-"))
    if result["loads"]:
        print("\nCheckpoint restores at START, each rank's classifier rows (and the table "
              "mid-epoch) from the shard servers; the disk's read rate: %.0f MB/s.\n"
              % (disk[1] / 1e6))
        print("| checkpoint | rank | GB of rows | seconds | MB/s | of the disk's read rate |")
        print("|---|---|---|---|---|---|")
        for checkpoint, rank, nbytes, seconds in sorted(result["loads"]):
            rate = nbytes / seconds if seconds > 0 else 0
            print("| %d | %d | %.2f | %.2f | %.0f | %.0f %% |" % (
                checkpoint, rank, nbytes / 1e9, seconds, rate / 1e6, 100 * rate / disk[1]))
    print("\n| process | peak RSS | mwctl plan, classifier per worker |")
    print("|---|---|---|")
    for name in sorted(result["peaks"]):
        print("| %s | %.2f GiB | %s |" % (name, result["peaks"][name] / 2**30,
                                         (planned + " GiB")
                                         if planned and name.startswith("worker") else ""))
    if result["drills"]:
        print("\n| drill | when | pid |")
        print("|---|---|---|")
        for d in result["drills"]:
            print("| %s | %s | %s |" % (d["drill"], d["when"], d["pid"]))
    for stop in result.get("stops", []):
        print("\nA member leaving cut a training task short (rank 0's log): " + stop)
    print("\n" + result["summary"] + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--instances", type=int, default=1280000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shard-servers", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--smoothing", type=float, default=0.2)
    p.add_argument("--prior", default="contrastive")
    p.add_argument("--local-batch", type=int, default=64)
    p.add_argument("--image-size", type=int, default=16)
    p.add_argument("--evaluation-subset", type=int, default=0)
    p.add_argument("--logit-cache-bytes", type=int, default=1 << 30)
    p.add_argument("--checkpoint-every", type=int, default=0)
    p.add_argument("--kill", action="append", default=[],
                   choices=["worker", "shard-server", "sigterm"])
    p.add_argument("--drills-after-checkpoint", type=int, default=0)
    p.add_argument("--resize", type=int, default=0,
                   help="after the drills, mwctl scale the job to this W (from its next "
                        "checkpoint)")
    p.add_argument("--tolerance", type=float, default=0.02,
                   help="with --resize and --reference: the kNN top-1 the resized run must "
                        "reach, at most this far from the reference's")
    p.add_argument("--reference", action="store_true")
    p.add_argument("--no-peers", action="store_true")
    a = p.parse_args()
    if a.kill and a.workers < 2:
        p.error("--kill needs --workers >= 2 (worker-1 is the one killed)")
    if a.resize and not 1 <= a.resize < a.workers:
        p.error("--resize must be at least 1 and below --workers (no more workers are started)")
    if a.resize and "sigterm" in a.kill:
        p.error("--resize with --kill sigterm: the resize would land during the SIGTERM drain")
    spec = {"dataset": "synthetic", "synthetic_size": a.instances, "image_size": a.image_size,
            "test_subset": 1000, "backbone": "small", "local_batch": a.local_batch,
            "epochs": a.epochs, "warmup_epochs": 0, "max_steps_per_epoch": a.steps,
            "smoothing": a.smoothing, "prior": a.prior, "linear_probe": False,
            "chunk_rows": 65536, "evaluation_subset": a.evaluation_subset,
            "logit_cache_bytes": a.logit_cache_bytes,
            "checkpoint_every_steps": a.checkpoint_every}
    root = tempfile.mkdtemp(prefix="mw_scale_")
    spec_path = os.path.join(root, "spec.json")
    json.dump(spec, open(spec_path, "w"))
    plan = subprocess.run([os.path.join(a.build, "bin", "mwctl"), "plan", "--spec", spec_path,
                           "--workers", str(a.workers), "--shard-servers", str(a.shard_servers)],
                          capture_output=True, text=True).stdout
    planned = re.search(r"per worker, classifier: \d+ rows, ([\d.]+) GiB", plan)
    planned = planned.group(1) if planned else ""
    ok = True
    try:
        disk = disk_rates(root)
        peer = None if a.no_peers else peers(a)
        runs = [("drilled" if a.kill or a.resize else "run",
                 a.kill + (["resize"] if a.resize else []))]
        if a.reference:
            runs.append(("reference", []))
        results = {}
        for name, kills in runs:
            result = run_job(a, spec_path, os.path.join(root, name), kills)
            result["peer"] = peer
            results[name] = result
            if len(runs) > 1:
                print("### %s run\n" % name)
            print_report(a, result, planned, disk)
            if result["state"] != "COMPLETED":
                ok = False
                sys.stderr.write(result["output"][-4000:])
            missed = [d["drill"] for d in result["drills"] if d["pid"] is None]
            # Each drill stops the gang: the job restarts at least once per drill.
            if missed or (kills and result["attempts"] < 1 + len(kills)):
                ok = False
                sys.stderr.write("drills not carried out: %s; %d attempts for %d drills\n" % (
                    ", ".join(missed) or "none", result["attempts"], len(kills)))
        if a.reference and ok and a.resize:
            # Another W changes the global batch, so the runs part ways: held to a tolerance.
            gap = abs(results["drilled"]["knn"] - results["reference"]["knn"])
            print("Resumed on W = %d: kNN top-1 %.4f, the uninterrupted run on W = %d %.4f: "
                  "|difference| %.4f, held to <= %.4f" % (
                      a.resize, results["drilled"]["knn"], a.workers,
                      results["reference"]["knn"], gap, a.tolerance))
            scaled = [d for d in results["drilled"]["drills"] if d["drill"].startswith("mwctl")]
            ok = gap <= a.tolerance and all(d["pid"] == "exit 0" for d in scaled)
        elif a.reference and ok:
            drilled = final_checkpoint_digests(os.path.join(root, runs[0][0]),
                                               results[runs[0][0]]["checkpoint"])
            reference = final_checkpoint_digests(os.path.join(root, "reference"),
                                                 results["reference"]["checkpoint"])
            differ = sorted(k for k in set(drilled) | set(reference)
                            if drilled.get(k) != reference.get(k))
            print("Final checkpoints (%d pieces): %s" % (
                len(reference), "identical, byte for byte" if not differ and reference
                else "DIFFER in " + ", ".join(differ[:8])))
            ok = ok and not differ and bool(reference)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
