// What a worker exports to Prometheus: for the job of its gang (labelled job_id and rank; the
// series go when the worker leaves the gang, so label values stay bounded), each step's
// loss, learning rates, samples, and step time split into data wait, each collective and
// compute; top-k refresh and checkpoint write times, the checkpoint's bytes and the
// classifier shard's size. Device memory comes from the CUDA caching allocator, labelled with
// the GPU ("cuda:0"), for a job on a GPU; a worker that has run none exports 0 with
// device="cpu", since a dashboard should show that, not nothing.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <map>
#include <memory>
#include <string>

#include "worker/training/step_stats.h"

namespace mw {

class MetricsServer;

class WorkerMetrics {
 public:
  explicit WorkerMetrics(MetricsServer& server);
  ~WorkerMetrics();

  // Readiness (/readyz): registered with the coordinator and not leaving.
  void SetReady(bool ready);

  // The gang's job and this worker's rank label what follows; Leave removes those series.
  void Join(const std::string& job_id, int rank);
  void Leave();

  // collective_seconds: time in each collective during the step (TimedCommunicator).
  void Step(const StepStats& stats, const std::map<std::string, double>& collective_seconds);
  void TopKRefreshed(double seconds);
  void CheckpointWritten(double bytes, double seconds);
  void CheckpointBlocked(double seconds);
  void ShardBytes(double bytes);
  // The device the gang's job runs on ("cpu", "cuda:N"), and its memory as of now.
  void SetDevice(const std::string& device);
  void DeviceMemory(double allocated, double reserved, double peak);

 private:
  struct Families;
  struct Series;
  MetricsServer& server_;
  std::unique_ptr<Families> families_;
  std::unique_ptr<Series> series_;  // null outside a gang
  std::string device_ = "cpu";
};

}  // namespace mw
