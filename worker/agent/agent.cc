#include "worker/agent/agent.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>

#include "common/fault_points.h"
#include "common/host_memory.h"
#include "common/log.h"
#include "common/rpc/grpc_status.h"
#include "millionway/v1/worker.grpc.pb.h"
#include "shard_server/piece_proto.h"
#include "worker/agent/worker_metrics.h"
#include "worker/checkpoint/checkpoint_upload.h"
#include "worker/checkpoint/trainer_checkpoint.h"
#include "worker/classifier/classifier_memory.h"
#include "worker/comm/device_memory.h"
#include "worker/comm/gang_communicator.h"
#include "worker/comm/timed_communicator.h"
#include "worker/comm/torch_device.h"
#include "worker/training/evaluation.h"
#include "worker/training/job_spec.h"

namespace mw {

namespace v1 = millionway::v1;

// What a worker holds for the job of its current gang.
struct Agent::Job {
  explicit Job(WorkerMetrics* m) : metrics(m) {}
  ~Job() {
    upload.reset();    // a write in progress is cancelled and waited for; it reports metrics
    metrics->Leave();  // the job's series go with it
  }

  WorkerMetrics* metrics;
  std::string id;
  uint32_t attempt = 0;
  JobSpec spec;
  std::unique_ptr<Communicator> comm;
  TimedCommunicator* timed = nullptr;  // comm, read for the step-time breakdown
  std::unique_ptr<Dataset> train, test;
  std::unique_ptr<Trainer> trainer;
  std::vector<std::unique_ptr<ShardClient>> shard_clients;
  std::vector<ShardClient*> shards;
  // Declared last, destroyed first: its write uses the shard clients.
  std::unique_ptr<CheckpointUpload> upload = std::make_unique<CheckpointUpload>();
};

namespace {

Status SplitHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument(address + ": not host:port");
  *host = address.substr(0, colon);
  try {
    *port = std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
    return Status::InvalidArgument(address + ": bad port");
  }
  return Status::Ok();
}

// A job whose classifier share cannot fit is refused before anything is allocated, with the
// arithmetic in the message: the task fails, the job ends FAILED saying why, and the worker
// lives on (rather than being killed by the kernel or the kubelet mid-job). Every rank
// computes the same figure, so the whole gang refuses at once. A GPU job is sized against
// the device's free memory, a CPU job against the host's.
Status CheckMemory(const JobSpec& spec, int64_t rows, uint32_t world_size,
                   const DeviceSpec& device) {
  ClassifierConfig classifier = spec.trainer.classifier;
  classifier.num_classes = rows;
  const int64_t global_batch = 2 * spec.trainer.local_batch * static_cast<int64_t>(world_size);
  const ClassifierMemory need =
      EstimateClassifierMemory(classifier, static_cast<int>(world_size), global_batch);
  const std::optional<int64_t> device_free = DeviceFreeBytes(device);
  const int64_t host = UsableMemoryBytes();
  const auto fits = [](int64_t need_bytes, int64_t usable) {
    return need_bytes <= usable / 10 * 9;
  };
  if (device_free ? fits(need.device(), *device_free) && fits(need.host(), host)
                  : fits(need.total(), host)) {
    return Status::Ok();
  }
  return Status::ResourceExhausted(
      "the job's classifier share needs " + need.ToString() +
      " per rank (N = " + std::to_string(rows) + ", d = " + std::to_string(classifier.dim) +
      ", W = " + std::to_string(world_size) + "); this worker may use " +
      (device_free
           ? std::to_string(*device_free >> 20) + " MiB free on " + device.ToString() + " and "
           : std::string()) +
      std::to_string(host >> 20) + " MiB of host memory: use more workers or a smaller dim");
}

}  // namespace

Status Agent::OpenShards(const google::protobuf::RepeatedPtrField<std::string>& addresses,
                         std::vector<std::unique_ptr<ShardClient>>* out) const {
  for (const auto& address : addresses) {
    ConnectionOptions shard = options_.connection;
    shard.address = address;
    std::shared_ptr<grpc::Channel> channel;
    MW_RETURN_IF_ERROR(OpenChannel(shard, &channel));
    out->push_back(std::make_unique<ShardClient>(channel));
  }
  return Status::Ok();
}

void Agent::DropJob() {
  if (!job_) return;
  // On its own thread, under a deadline: a transport whose peer died can block in its
  // teardown (NCCL's destroy, a socket never closed), and a worker stuck there would stay out
  // of every gang for good while heartbeating as alive. Past the deadline the process exits
  // and Kubernetes restarts it: a clean worker sooner than a wedged one never.
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread teardown([job = std::move(job_), done]() mutable {
    const Status ignored = FaultPoint("worker.teardown");  // only its block action matters
    (void)ignored;
    job.reset();
    done->set_value();
  });
  if (finished.wait_for(options_.teardown_timeout) == std::future_status::ready) {
    teardown.join();
    return;
  }
  Log(LogLevel::kError,
      "leaving the gang did not finish within " +
          std::to_string(options_.teardown_timeout.count()) + " ms; exiting to be restarted",
      {{"worker", options_.name}});
  std::fflush(nullptr);
  std::_Exit(kTeardownTimeoutExit);
}

Agent::Agent(AgentOptions options) : options_(std::move(options)) {}
Agent::~Agent() = default;

Status Agent::Run(const std::atomic<bool>* stop) {
  stop_ = stop;
  at::set_num_threads(options_.threads);
  ConnectionOptions coordinator = options_.connection;
  coordinator.address = options_.coordinator;
  std::shared_ptr<grpc::Channel> channel;
  MW_RETURN_IF_ERROR(OpenChannel(coordinator, &channel));
  auto stub = v1::WorkerService::NewStub(channel);
  while (!*stop) {
    // Register (again), and drop whatever job this worker held: its gang is gone.
    DropJob();
    std::string worker_id;
    std::chrono::milliseconds heartbeat{500};
    {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::RegisterRequest request;
      request.set_name(options_.name);
      request.set_rendezvous_address(options_.rendezvous);
      v1::RegisterResponse response;
      const grpc::Status s = stub->Register(&context, request, &response);
      if (!s.ok()) {
        if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) return FromGrpc(s);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      worker_id = response.worker_id();
      heartbeat =
          std::chrono::milliseconds(std::max<uint32_t>(50, response.heartbeat_interval_ms()));
    }
    Log(LogLevel::kInfo, "registered with " + options_.coordinator,
        {{"worker", options_.name}, {"worker_id", worker_id}});
    options_.metrics->SetReady(!*stop);
    report_lost_ = false;
    std::atomic<bool> forgotten{false};
    std::atomic<bool> in_gang{false};
    std::thread beats([&] {
      while (!forgotten) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + heartbeat * 4);
        v1::HeartbeatRequest request;
        request.set_worker_id(worker_id);
        request.set_leaving(*stop);
        v1::HeartbeatResponse response;
        if (stub->Heartbeat(&context, request, &response).ok() && !response.known()) {
          forgotten = true;
        }
        std::this_thread::sleep_for(heartbeat);
      }
    });
    grpc::ClientContext stream_context;
    v1::TaskStreamRequest request;
    request.set_worker_id(worker_id);
    auto tasks = stub->Tasks(&stream_context, request);
    std::thread watchdog([&] {
      // Ends the blocking stream read when the worker was forgotten, or must stop and has no
      // gang to see through a last checkpoint (or has waited for it long enough).
      std::chrono::steady_clock::time_point stop_deadline =
          std::chrono::steady_clock::time_point::max();
      while (!forgotten) {
        if (*stop && stop_deadline == std::chrono::steady_clock::time_point::max()) {
          stop_deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
        }
        if (*stop && (!in_gang || std::chrono::steady_clock::now() > stop_deadline)) break;
        if (report_lost_) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      stream_context.TryCancel();
    });
    send_report_ = [this, stub = stub.get(), worker_id](v1::TaskReport report) {
      report.set_worker_id(worker_id);
      grpc::Status reported;
      for (int attempt = 0; attempt < 3; ++attempt) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::ReportResponse response;
        reported = stub->Report(&context, report, &response);
        if (reported.ok() || (reported.error_code() != grpc::StatusCode::UNAVAILABLE &&
                              reported.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED)) {
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
      }
      if (!reported.ok()) {
        Log(LogLevel::kError, "report not delivered: " + reported.error_message(),
            {{"worker", options_.name}, {"task_id", report.task_id()}});
      }
      return reported.ok();
    };
    v1::Task task;
    while (tasks->Read(&task)) {
      v1::TaskReport report;
      report.set_worker_id(worker_id);
      report.set_task_id(task.task_id());
      const auto start = std::chrono::steady_clock::now();
      const Status done = ExecuteGuarded(task, &report);
      report.set_ok(done.ok());
      report.set_error(done.ToString());
      report.set_error_code(static_cast<int32_t>(ToGrpc(done).error_code()));
      report.set_seconds(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      report.set_leaving(*stop);
      Log(done.ok() ? LogLevel::kInfo : LogLevel::kError,
          v1::TaskKind_Name(task.kind()) + (done.ok() ? " done" : " failed: " + done.ToString()),
          {{"worker", options_.name},
           {"job_id", task.job_id()},
           {"rank", std::to_string(task.rank())},
           {"task_id", task.task_id()},
           {"epoch", std::to_string(task.epoch())},
           {"first_step", std::to_string(task.first_step())},
           {"last_step", std::to_string(task.last_step())},
           {"stopped_at_step", std::to_string(report.stopped_at_step())},
           {"seconds", std::to_string(report.seconds())}});
      // A report that cannot be delivered leaves the coordinator waiting on this worker:
      // after a few tries the worker drops the job and its stream and registers again, which
      // the coordinator sees as this member lost, so the gang restarts without waiting. The
      // report goes before a failed job is dropped, so that it is the first word of the
      // failure (the teardown cancels a checkpoint write, which reports nothing).
      const bool delivered = send_report_(report);
      if (!done.ok() || !delivered) DropJob();
      in_gang = job_ != nullptr;
      if (!delivered) break;
      if (*stop && !job_) break;
    }
    DropJob();  // its checkpoint upload reports through this registration's worker id
    forgotten = true;
    options_.metrics->SetReady(false);  // until registered again
    stream_context.TryCancel();
    tasks->Finish();
    watchdog.join();
    beats.join();
  }
  return Status::Ok();
}

Status Agent::ExecuteGuarded(const v1::Task& task, v1::TaskReport* report) {
  // A task that throws (LibTorch's c10::Error, bad_alloc, a Gloo exception) fails that task,
  // which the coordinator retries elsewhere; the worker stays registered for the next one.
  try {
    MW_RETURN_IF_ERROR(FaultPoint("worker.task." + v1::TaskKind_Name(task.kind())));
    return Execute(task, report);
  } catch (const std::exception& e) {
    return Status::Internal(v1::TaskKind_Name(task.kind()) + " threw: " + e.what());
  } catch (...) {
    return Status::Internal(v1::TaskKind_Name(task.kind()) + " threw a non-standard exception");
  }
}

Status Agent::Execute(const v1::Task& task, v1::TaskReport* report) {
  if (task.kind() == v1::TASK_STOP) {
    DropJob();
    return Status::Ok();
  }
  if (task.kind() == v1::TASK_START) {
    DropJob();  // a new gang: the old communicator and its store go first
    auto job = std::make_unique<Job>(options_.metrics);
    job->id = task.job_id();
    job->attempt = task.attempt();
    MW_RETURN_IF_ERROR(ParseJobSpec(task.spec_json(), "job " + task.job_id(), &job->spec));
    job->spec.ResolveLearningRates(static_cast<int>(task.world_size()));
    MW_RETURN_IF_ERROR(OpenDatasets(job->spec.data, job->spec.trainer.seed, options_.object_store,
                                    &job->train, &job->test));
    GangOptions gang;
    gang.rank = static_cast<int>(task.rank());
    gang.world_size = static_cast<int>(task.world_size());
    MW_RETURN_IF_ERROR(SplitHostPort(task.rendezvous(), &gang.store_host, &gang.store_port));
    std::string own_host;
    int own_port = 0;
    MW_RETURN_IF_ERROR(SplitHostPort(options_.rendezvous, &own_host, &own_port));
    gang.bind_host = own_host;
    gang.timeout = options_.collective_timeout;
    DeviceSpec& device = job->spec.trainer.classifier.device;
    device = BindGpu(device, options_.gpu);
    MW_RETURN_IF_ERROR(CheckDeviceAvailable(device));
    MW_RETURN_IF_ERROR(CheckMemory(job->spec, job->train->size(), task.world_size(), device));
    options_.metrics->SetDevice(device.ToString());
    std::unique_ptr<Communicator> transport;
    MW_RETURN_IF_ERROR(ConnectGang(gang, device, &transport));
    auto timed = std::make_unique<TimedCommunicator>(std::move(transport));
    job->timed = timed.get();
    job->comm = std::move(timed);
    options_.metrics->Join(task.job_id(), static_cast<int>(task.rank()));
    MW_RETURN_IF_ERROR(
        Trainer::Create(job->spec.trainer, job->comm.get(), job->train.get(), &job->trainer));
    MW_RETURN_IF_ERROR(OpenShards(task.shard_servers(), &job->shard_clients));
    for (const auto& client : job->shard_clients) job->shards.push_back(client.get());
    if (task.checkpoint() > 0) {
      const bool mid_epoch = task.first_step() > 0;
      std::vector<std::unique_ptr<ShardClient>> written_to;
      std::vector<ShardClient*> layout = job->shards;
      if (task.checkpoint_shard_servers_size() > 0) {
        MW_RETURN_IF_ERROR(OpenShards(task.checkpoint_shard_servers(), &written_to));
        layout.clear();
        for (const auto& client : written_to) layout.push_back(client.get());
      }
      const auto load_start = std::chrono::steady_clock::now();
      MW_RETURN_IF_ERROR(LoadCheckpoint(*job->trainer, job->train->size(), layout, task.job_id(),
                                        task.checkpoint(), mid_epoch));
      const Trainer& trainer = *job->trainer;
      const size_t row_bytes = trainer.classifier_rows().nbytes() +
                               trainer.classifier_momentum().nbytes() +
                               (mid_epoch ? trainer.neighbor_rows().nbytes() : 0);
      Log(LogLevel::kInfo, "checkpoint " + std::to_string(task.checkpoint()) + " loaded",
          {{"worker", options_.name},
           {"job_id", task.job_id()},
           {"rank", std::to_string(task.rank())},
           {"row_bytes", std::to_string(row_bytes)},
           {"seconds", std::to_string(std::chrono::duration<double>(
                                          std::chrono::steady_clock::now() - load_start)
                                          .count())}});
      if (mid_epoch) {
        MW_RETURN_IF_ERROR(job->trainer->RouteNeighbors(static_cast<int64_t>(task.epoch())));
      }
    } else {
      MW_RETURN_IF_ERROR(job->trainer->InitializeClassifier());
    }
    report->set_steps_per_epoch(static_cast<uint64_t>(job->trainer->steps_per_epoch()));
    job->trainer->set_stop_flag(stop_);
    job->trainer->set_step_observer(
        [metrics = options_.metrics, timed = job->timed, device](const StepStats& stats) {
          metrics->Step(stats, timed->TakeSeconds());
          if (const auto memory = ReadDeviceMemory(device)) {
            metrics->DeviceMemory(static_cast<double>(memory->allocated),
                                  static_cast<double>(memory->reserved),
                                  static_cast<double>(memory->peak));
          }
        });
    const at::Tensor rows = job->trainer->classifier_rows();
    options_.metrics->ShardBytes(2.0 * static_cast<double>(rows.numel() * rows.element_size()));
    job_ = std::move(job);
    return Status::Ok();
  }
  if (!job_ || job_->id != task.job_id() || job_->attempt != task.attempt()) {
    return Status::FailedPrecondition("task " + task.task_id() +
                                      " for a gang this worker is not in");
  }
  Job& job = *job_;
  const auto epoch = static_cast<int64_t>(task.epoch());
  switch (task.kind()) {
    case v1::TASK_TOPK_REFRESH: {
      const auto start = std::chrono::steady_clock::now();
      MW_RETURN_IF_ERROR(job.trainer->RefreshNeighbors(epoch));
      options_.metrics->TopKRefreshed(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      return Status::Ok();
    }
    case v1::TASK_TRAIN: {
      job.timed->TakeSeconds();  // collectives since the last step are not a step's
      double loss = 0;
      int64_t stopped_at = 0;
      MW_RETURN_IF_ERROR(job.trainer->TrainSteps(epoch, static_cast<int64_t>(task.first_step()),
                                                 static_cast<int64_t>(task.last_step()), &loss,
                                                 &stopped_at));
      report->set_mean_loss(loss);
      report->set_stopped_at_step(static_cast<uint64_t>(stopped_at));
      return Status::Ok();
    }
    case v1::TASK_CHECKPOINT: {
      // Training stops for the snapshot only; the write goes on behind the next tasks and
      // reports on its own (TaskReport.uploaded) when it ends. The one before ends first.
      CheckpointSnapshot snapshot = job.upload->Reuse();
      const auto start = std::chrono::steady_clock::now();
      MW_RETURN_IF_ERROR(TakeSnapshot(*job.trainer, static_cast<int>(task.rank()),
                                      job.train->size(), task.first_step() > 0, &snapshot));
      const double blocked =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options_.metrics->CheckpointBlocked(blocked);
      report->set_snapshot_seconds(blocked);
      report->set_upload_pending(true);
      const double bytes = static_cast<double>(snapshot.bytes());
      job.upload->Start(
          std::move(snapshot), job.shards, task.job_id(), task.checkpoint(), task.attempt(),
          [this, send = send_report_, task_id = task.task_id(), bytes, job_id = task.job_id(),
           checkpoint = task.checkpoint(), rank = task.rank()](
              const Status& status, const std::vector<WrittenPiece>& written, double seconds) {
            Log(status.ok() ? LogLevel::kInfo : LogLevel::kError,
                "checkpoint " + std::to_string(checkpoint) +
                    (status.ok() ? " written" : " not written: " + status.ToString()),
                {{"worker", options_.name},
                 {"job_id", job_id},
                 {"rank", std::to_string(rank)},
                 {"bytes", std::to_string(static_cast<uint64_t>(bytes))},
                 {"seconds", std::to_string(seconds)}});
            v1::TaskReport uploaded;
            uploaded.set_task_id(task_id);
            uploaded.set_uploaded(true);
            uploaded.set_ok(status.ok());
            uploaded.set_error(status.ToString());
            uploaded.set_error_code(static_cast<int32_t>(ToGrpc(status).error_code()));
            uploaded.set_seconds(seconds);
            for (const auto& w : written) {
              auto* piece = uploaded.add_pieces();
              piece->set_server(static_cast<uint32_t>(w.server));
              FillInfo(w.piece, piece->mutable_piece());
            }
            if (status.ok()) options_.metrics->CheckpointWritten(bytes, seconds);
            // Undelivered, the coordinator would wait for it until the task deadline: the
            // worker drops its stream instead, so its gang is seen to lose it now.
            if (!send(uploaded)) report_lost_ = true;
          });
      return Status::Ok();
    }
    case v1::TASK_EVALUATE: {
      if (!job.test || job.train->num_labels() == 0) return Status::Ok();  // nothing to score
      EvaluationOptions options;
      options.linear_probe = job.spec.linear_probe;
      options.train_subset = job.spec.evaluation_subset;
      Evaluation result;
      MW_RETURN_IF_ERROR(Evaluate(*job.trainer, *job.train, *job.test, options, &result));
      report->set_knn_top1(result.knn_top1);
      report->set_linear_top1(result.linear_top1);
      return Status::Ok();
    }
    default:
      return Status::InvalidArgument("task kind " + std::to_string(task.kind()) + " is unknown");
  }
}

}  // namespace mw
