#!/usr/bin/env python3
"""Writes millionway's Grafana dashboards (training.json, memory.json, cluster.json) next to
this script. The JSON files are what Grafana imports (docs/observability.md); this script is
their source, so a panel is one line here. Run: /usr/bin/python3 deploy/grafana/generate.py
(--check: exit 1 if the committed files differ from what this script writes; CI runs it).
"""
import json
import os
import sys

RATE = "$__rate_interval"
JOB = 'job_id=~"$job_id"'
JOB_RANK = 'job_id=~"$job_id", rank=~"$rank"'


def panel(title, targets, unit="short", description=""):
    """A time-series panel; targets are (PromQL, legend) pairs."""
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def variables(with_rank):
    def query(name, expr, label):
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {"query": expr, "refId": name},
            "definition": expr,
            "refresh": 2,
            "includeAll": True,
            "allValue": ".*",
            "multi": True,
            "current": {"text": "All", "value": "$__all"},
        }

    result = [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
        },
        query("job_id", "label_values(millionway_job_epoch, job_id)", "Job"),
    ]
    if with_rank:
        result.append(
            query("rank", 'label_values(millionway_train_loss{job_id=~"$job_id"}, rank)', "Rank"))
    return result


def dashboard(uid, title, description, panels, with_rank=True):
    for i, p in enumerate(panels):
        p["id"] = i + 1
        p["gridPos"] = {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)}
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["millionway"],
        "timezone": "utc",
        "schemaVersion": 38,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": variables(with_rank)},
        "panels": panels,
    }


TRAINING = dashboard(
    "millionway-training", "millionway / training",
    "Loss, learning rate, throughput, progress, step-time breakdown and accuracy of jobs.", [
        panel("Loss (per rank, last step)",
              [(f"millionway_train_loss{{{JOB_RANK}}}", "{{job_id}} rank {{rank}}")]),
        panel("Loss (job, last training task)",
              [(f"millionway_job_loss{{{JOB}}}", "{{job_id}}")]),
        panel("Learning rate",
              [(f"millionway_learning_rate{{{JOB_RANK}}}", "{{job_id}} rank {{rank}} {{group}}")]),
        panel("Samples per second (views)",
              [(f"sum by (job_id) (rate(millionway_train_samples_total{{{JOB}}}[{RATE}]))",
                "{{job_id}}")], unit="ops"),
        panel("Epoch", [(f"millionway_job_epoch{{{JOB}}}", "{{job_id}} done"),
                        (f"millionway_job_epochs{{{JOB}}}", "{{job_id}} in spec")]),
        panel("Progress", [(f"millionway_job_progress_ratio{{{JOB}}}", "{{job_id}}")],
              unit="percentunit"),
        panel("Step time by part (mean seconds per step)",
              [(f"sum by (phase) (rate(millionway_step_phase_seconds_sum{{{JOB_RANK}}}[{RATE}]))"
                f" / sum by (phase) (rate(millionway_step_phase_seconds_count{{{JOB_RANK}}}"
                f"[{RATE}]))", "{{phase}}")], unit="s",
              description="data_wait: the batch was not ready; each collective; compute: the "
                          "rest of the step."),
        panel("Step time p50 / p99",
              [(f"histogram_quantile(0.5, sum by (le) (rate(millionway_step_seconds_bucket"
                f"{{{JOB_RANK}}}[{RATE}])))", "p50"),
               (f"histogram_quantile(0.99, sum by (le) (rate(millionway_step_seconds_bucket"
                f"{{{JOB_RANK}}}[{RATE}])))", "p99")], unit="s"),
        panel("Evaluation accuracy (top-1)",
              [(f"millionway_job_knn_top1{{{JOB}}}", "{{job_id}} kNN"),
               (f"millionway_job_linear_top1{{{JOB}}}", "{{job_id}} linear probe")],
              unit="percentunit"),
    ])

MEMORY = dashboard(
    "millionway-memory", "millionway / memory",
    "Host and device memory of every process, and what the classifier shards hold.", [
        panel("Host RSS by process",
              [("millionway_process_resident_memory_bytes", "{{role}} {{instance}}")],
              unit="bytes"),
        panel("Device memory (CUDA caching allocator; 0 with device=cpu)",
              [("millionway_device_memory_allocated_bytes", "allocated {{instance}} {{device}}"),
               ("millionway_device_memory_reserved_bytes", "reserved {{instance}} {{device}}"),
               ("millionway_device_memory_peak_bytes", "peak {{instance}} {{device}}")],
              unit="bytes"),
        panel("Classifier shard bytes per rank",
              [(f"millionway_classifier_shard_bytes{{{JOB_RANK}}}", "{{job_id}} rank {{rank}}")],
              unit="bytes"),
        panel("Checkpoint bytes",
              [(f"millionway_checkpoint_write_bytes{{{JOB_RANK}}}",
                "written by {{job_id}} rank {{rank}}"),
               ("millionway_shard_last_commit_bytes", "committed on {{instance}}")],
              unit="bytes"),
        panel("GPU framebuffer used (DCGM exporter)",
              [("DCGM_FI_DEV_FB_USED", "{{Hostname}} GPU {{gpu}}")], unit="decmbytes",
              description="From NVIDIA's DCGM exporter, not millionway: empty without one."),
        panel("GPU utilisation (DCGM exporter)",
              [("DCGM_FI_DEV_GPU_UTIL", "{{Hostname}} GPU {{gpu}}")], unit="percent",
              description="From NVIDIA's DCGM exporter, not millionway: empty without one."),
    ])

CLUSTER = dashboard(
    "millionway-cluster", "millionway / cluster",
    "Workers, jobs, checkpoints, top-k refreshes and the API.", [
        panel("Workers",
              [("millionway_workers_registered", "registered"),
               ("millionway_workers_alive", "alive"),
               ("millionway_workers_busy", "in a gang")]),
        panel("Jobs by state", [("millionway_jobs", "{{state}}")]),
        panel("Checkpoint commit (all shard servers) p50 / p99",
              [("histogram_quantile(0.5, sum by (le) (rate(millionway_checkpoint_commit_seconds"
                f"_bucket[{RATE}])))", "p50"),
               ("histogram_quantile(0.99, sum by (le) (rate(millionway_checkpoint_commit_seconds"
                f"_bucket[{RATE}])))", "p99")], unit="s"),
        panel("Checkpoint write (mean per rank)",
              [(f"millionway_checkpoint_write_seconds_sum{{{JOB}}} / "
                f"millionway_checkpoint_write_seconds_count{{{JOB}}}",
                "{{job_id}} rank {{rank}}")], unit="s"),
        panel("Top-k refresh (mean per rank)",
              [(f"millionway_topk_refresh_seconds_sum{{{JOB}}} / "
                f"millionway_topk_refresh_seconds_count{{{JOB}}}", "{{job_id}} rank {{rank}}")],
              unit="s"),
        panel("Seconds since the last checkpoint",
              [('time() - millionway_job_last_checkpoint_timestamp_seconds{state="RUNNING"}',
                "{{job_id}}")], unit="s"),
        panel("Gang stops by cause",
              [(f"sum by (cause) (rate(millionway_gang_stops_total[{RATE}]))", "{{cause}}"),
               (f"rate(millionway_workers_lost_total[{RATE}])", "workers lost")], unit="ops"),
        panel("API calls by method and code",
              [(f"sum by (method, code) (rate(millionway_grpc_server_handled_total[{RATE}]))",
                "{{method}} {{code}}")], unit="reqps"),
        panel("API latency p99 by method",
              [("histogram_quantile(0.99, sum by (le, method) (rate("
                f"millionway_grpc_server_handling_seconds_bucket[{RATE}])))", "{{method}}")],
              unit="s"),
        panel("Shard server traffic",
              [(f"rate(millionway_shard_written_bytes_total[{RATE}])", "written {{instance}}"),
               (f"rate(millionway_shard_read_bytes_total[{RATE}])", "read {{instance}}")],
              unit="Bps"),
    ], with_rank=False)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    check = "--check" in sys.argv[1:]
    stale = []
    for name, board in (("training", TRAINING), ("memory", MEMORY), ("cluster", CLUSTER)):
        path = os.path.join(here, name + ".json")
        text = json.dumps(board, indent=2, sort_keys=True) + "\n"
        if check:
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(path)
        else:
            with open(path, "w") as out:
                out.write(text)
    for path in stale:
        print(f"{path} differs from what generate.py writes: run it and commit the result")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
