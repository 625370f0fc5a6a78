// One rank of the communicator tests (launched W times by comm_test).
//   comm_rank collectives   every collective, checked against values computed locally, then
//                           again through a StagedCommunicator
//   comm_rank peer_death    rank 1 dies abruptly; rank 0's next collective must fail cleanly
//   comm_rank silent_peer   rank 1 stops answering; rank 0 must time out cleanly
//   comm_rank unique_id     NCCL's unique id (random bytes without NCCL) travels from rank 0
//                           to every rank through the rendezvous store
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "common/random_token.h"
#include "tests/support/check.h"
#include "worker/comm/gang_communicator.h"
#include "worker/comm/gloo_communicator.h"
#include "worker/comm/staged_communicator.h"
#ifdef MW_WITH_NCCL
#include "worker/comm/nccl_communicator.h"
#endif

namespace mw {
namespace {

template <typename T>
BufferView View(std::vector<T>& v, DataType type) {
  return BufferView{v.data(), static_cast<int64_t>(v.size()), type};
}

void Collectives(Communicator& comm) {
  const int w = comm.world_size();
  const int r = comm.rank();

  std::vector<float> sum(5);
  for (int j = 0; j < 5; ++j) sum[j] = static_cast<float>((r + 1) * (j + 1));
  MW_CHECK_OK(comm.AllReduce(View(sum, DataType::kFloat32), ReduceOp::kSum));
  for (int j = 0; j < 5; ++j) {
    MW_CHECK(sum[j] == static_cast<float>(w * (w + 1) / 2 * (j + 1)), "sum[%d] = %f", j, sum[j]);
  }

  std::vector<double> max{static_cast<double>(r) - 0.5, -static_cast<double>(r)};
  MW_CHECK_OK(comm.AllReduce(View(max, DataType::kFloat64), ReduceOp::kMax));
  MW_CHECK(max[0] == w - 1.5 && max[1] == 0.0, "max = %f %f", max[0], max[1]);

  std::vector<int64_t> ints{int64_t{1} << 40, r};
  MW_CHECK_OK(comm.AllReduce(View(ints, DataType::kInt64), ReduceOp::kSum));
  MW_CHECK(ints[0] == w * (int64_t{1} << 40) && ints[1] == w * (w - 1) / 2, "int64 sum");

  std::vector<float> mine{10.f * r, 10.f * r + 1, 10.f * r + 2};
  std::vector<float> gathered(3 * static_cast<size_t>(w));
  MW_CHECK_OK(comm.AllGather(View(mine, DataType::kFloat32), View(gathered, DataType::kFloat32)));
  for (int q = 0; q < w; ++q) {
    for (int j = 0; j < 3; ++j) MW_CHECK(gathered[q * 3 + j] == 10.f * q + j, "gathered");
  }

  const int block = 4;
  std::vector<double> scatter_in(static_cast<size_t>(block * w));
  for (size_t i = 0; i < scatter_in.size(); ++i) scatter_in[i] = 100.0 * r + static_cast<double>(i);
  std::vector<double> scatter_out(block);
  MW_CHECK_OK(comm.ReduceScatter(View(scatter_in, DataType::kFloat64),
                                 View(scatter_out, DataType::kFloat64)));
  for (int j = 0; j < block; ++j) {
    const double expect = 100.0 * w * (w - 1) / 2 + static_cast<double>(w) * (r * block + j);
    MW_CHECK(scatter_out[j] == expect, "reduce-scatter[%d] = %f, want %f", j, scatter_out[j],
             expect);
  }

  std::vector<int64_t> bcast{r == w - 1 ? 77 : 0, r == w - 1 ? -5 : 0};
  MW_CHECK_OK(comm.Broadcast(View(bcast, DataType::kInt64), w - 1));
  MW_CHECK(bcast[0] == 77 && bcast[1] == -5, "broadcast");

  // Uneven all-to-all with some empty blocks: rank r sends (r + q + 1) % 3 values to q.
  std::vector<int64_t> send_counts(w), recv_counts(w);
  std::vector<float> send;
  for (int q = 0; q < w; ++q) {
    send_counts[q] = (r + q + 1) % 3;
    recv_counts[q] = (q + r + 1) % 3;
    for (int j = 0; j < send_counts[q]; ++j) send.push_back(1000.f * r + 10.f * q + j);
  }
  std::vector<float> recv(
      static_cast<size_t>(std::accumulate(recv_counts.begin(), recv_counts.end(), int64_t{0})));
  MW_CHECK_OK(comm.AllToAll(View(send, DataType::kFloat32), send_counts,
                            View(recv, DataType::kFloat32), recv_counts));
  size_t at = 0;
  for (int q = 0; q < w; ++q) {
    for (int j = 0; j < recv_counts[q]; ++j) {
      MW_CHECK(recv[at] == 1000.f * q + 10.f * r + j, "all-to-all from %d: %f", q, recv[at]);
      ++at;
    }
  }

  // int32, as the top-k table's ids travel: ids above 2^24, which a float would round.
  std::vector<int32_t> id_send, id_recv(recv.size());
  for (int q = 0; q < w; ++q) {
    for (int j = 0; j < send_counts[q]; ++j) id_send.push_back((1 << 30) + 1000 * r + 10 * q + j);
  }
  MW_CHECK_OK(comm.AllToAll(View(id_send, DataType::kInt32), send_counts,
                            View(id_recv, DataType::kInt32), recv_counts));
  at = 0;
  for (int q = 0; q < w; ++q) {
    for (int j = 0; j < recv_counts[q]; ++j, ++at) {
      MW_CHECK(id_recv[at] == (1 << 30) + 1000 * q + 10 * r + j, "int32 all-to-all from %d: %d", q,
               id_recv[at]);
    }
  }

  MW_CHECK_OK(comm.Barrier());

  // A size mistake is reported before any bytes move, identically on every rank.
  std::vector<float> wrong(3 * static_cast<size_t>(w) + 1);
  const Status bad =
      comm.AllGather(View(mine, DataType::kFloat32), View(wrong, DataType::kFloat32));
  MW_CHECK(bad.code() == Status::Code::kInvalidArgument, "%s", bad.ToString().c_str());
  MW_CHECK((w == 1 || comm.traffic().bytes_sent > 0) && comm.traffic().collectives == 8,
           "traffic counted: %lld bytes, %lld collectives",
           static_cast<long long>(comm.traffic().bytes_sent),
           static_cast<long long>(comm.traffic().collectives));
}

void PeerDeath(Communicator& comm) {
  MW_CHECK_OK(comm.Barrier());
  if (comm.rank() == 1) _exit(0);  // no goodbye: as a crash or a kill -9 would
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<float> data(1024, 1.f);
  const Status st = comm.AllReduce(View(data, DataType::kFloat32), ReduceOp::kSum);
  MW_CHECK(!st.ok(), "all-reduce with a dead peer succeeded");
  MW_CHECK(st.code() == Status::Code::kUnavailable || st.code() == Status::Code::kDeadlineExceeded,
           "unexpected code: %s", st.ToString().c_str());
  std::fprintf(stderr, "rank 0 saw: %s\n", st.ToString().c_str());
}

// Rank 1 stays alive but stops taking part: rank 0 must get DEADLINE_EXCEEDED, not a hang.
void SilentPeer(Communicator& comm) {
  MW_CHECK_OK(comm.Barrier());
  if (comm.rank() == 1) {
    std::this_thread::sleep_for(std::chrono::seconds(8));
    _exit(0);
  }
  std::vector<float> data(16, 1.f);
  const auto start = std::chrono::steady_clock::now();
  const Status st = comm.AllReduce(View(data, DataType::kFloat32), ReduceOp::kSum);
  MW_CHECK(st.code() == Status::Code::kDeadlineExceeded, "unexpected: %s", st.ToString().c_str());
  MW_CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(7),
           "the timeout was not honoured");
  std::fprintf(stderr, "rank 0 saw: %s\n", st.ToString().c_str());
}

// Only rank 0 makes the id; every rank ends with rank 0's bytes, as each reports back through
// the same store for rank 0 to compare.
void UniqueIdExchange(const GangOptions& options) {
  std::unique_ptr<Rendezvous> rendezvous;
  MW_CHECK_OK(Rendezvous::Connect(options, &rendezvous));
  int made = 0;
  std::string id;
  MW_CHECK_OK(rendezvous->ShareFromRankZero(
      kNcclUniqueIdKey,
      [&](std::string* out) {
        ++made;
#ifdef MW_WITH_NCCL
        return NcclCommunicator::NewUniqueId(out);
#else
        *out = RandomHex(64);
        return Status::Ok();
#endif
      },
      &id));
  MW_CHECK(made == (options.rank == 0 ? 1 : 0), "rank %d made the id %d times", options.rank, made);
  MW_CHECK(id.size() >= 64, "the id has %zu bytes", id.size());
  const std::string mine = "seen/" + std::to_string(options.rank);
  MW_CHECK_OK(rendezvous->Set(mine, id));
  if (options.rank != 0) {
    std::string done;
    MW_CHECK_OK(rendezvous->Get("checked", &done));  // rank 0's store lives until all are read
    return;
  }
  for (int r = 1; r < options.world_size; ++r) {
    std::string seen;
    MW_CHECK_OK(rendezvous->Get("seen/" + std::to_string(r), &seen));
    MW_CHECK(seen == id, "rank %d holds different id bytes than rank 0", r);
  }
  std::fprintf(stderr, "rank 0: %zu-byte id shared with %d ranks\n", id.size(),
               options.world_size - 1);
  MW_CHECK_OK(rendezvous->Set("checked", "1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

}  // namespace
}  // namespace mw

int main(int argc, char** argv) {
  MW_CHECK(argc == 2, "usage: comm_rank collectives|peer_death|silent_peer|unique_id");
  const std::string mode = argv[1];
  mw::GangOptions options;
  options.timeout = mode == "silent_peer" ? std::chrono::seconds(2) : std::chrono::seconds(20);
  MW_CHECK_OK(mw::GangOptionsFromEnvironment(&options));
  if (mode == "unique_id") {
    mw::UniqueIdExchange(options);
    return 0;
  }
  std::unique_ptr<mw::Communicator> comm;
  MW_CHECK_OK(mw::GlooCommunicator::Create(options, &comm));
  if (mode == "collectives") {
    mw::Collectives(*comm);
    // The same collectives through a staging copy on each call, as evaluation reaches NCCL.
    mw::StagedCommunicator staged(comm.get(), c10::Device(c10::kCPU));
    mw::Collectives(staged);
  } else if (mode == "peer_death") {
    mw::PeerDeath(*comm);
  } else if (mode == "silent_peer") {
    mw::SilentPeer(*comm);
  } else {
    MW_CHECK(false, "unknown mode %s", argv[1]);
  }
  return 0;
}
