// One rank of the checkpoint test. MW_MODE=save: initialise from the prior, train a few
// steps (so momentum is non-zero), write this rank's pieces of two mid-epoch checkpoints (the
// second with int64 top-k ids, the older format) to the shard servers in MW_SHARD_SERVERS,
// and leave the pieces' records and the raw rows in MW_DIR for the test. MW_MODE=load: load
// each committed checkpoint into a fresh trainer (any world size) and check every row,
// momentum row and top-k row against what the savers left.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <grpcpp/create_channel.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "shard_server/checkpoint_coverage.h"
#include "shard_server/piece_proto.h"
#include "tests/support/check.h"
#include "worker/checkpoint/trainer_checkpoint.h"
#include "worker/comm/gloo_communicator.h"
#include "worker/data/in_memory_dataset.h"

namespace {

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

// Every saver's rows of one tensor, assembled: [N, d], like `like`.
at::Tensor SavedRows(const std::string& dir, const char* name, int64_t n, const at::Tensor& like) {
  const int64_t d = like.size(1);
  at::Tensor all = at::full({n, d}, -1, like.options());
  for (int r = 0;; ++r) {
    std::ifstream in(dir + "/" + name + "." + std::to_string(r), std::ios::binary);
    if (!in) break;
    int64_t begin = 0, rows = 0;
    in.read(reinterpret_cast<char*>(&begin), sizeof(begin));
    in.read(reinterpret_cast<char*>(&rows), sizeof(rows));
    in.read(static_cast<char*>(all.narrow(0, begin, rows).data_ptr()),
            rows * d * like.element_size());
  }
  return all;
}

}  // namespace

int main() {
  at::set_num_threads(1);
  mw::GangOptions options;
  MW_CHECK_OK(mw::GangOptionsFromEnvironment(&options));
  std::unique_ptr<mw::Communicator> comm;
  MW_CHECK_OK(mw::GlooCommunicator::Create(options, &comm));
  const std::string mode = std::getenv("MW_MODE"), dir = std::getenv("MW_DIR");
  std::vector<std::unique_ptr<mw::ShardClient>> clients;
  std::vector<mw::ShardClient*> servers;
  for (const auto& address : Split(std::getenv("MW_SHARD_SERVERS"))) {
    clients.push_back(std::make_unique<mw::ShardClient>(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
    servers.push_back(clients.back().get());
  }
  mw::GreyImages images;
  MW_CHECK_OK(mw::LoadFashionMnist(mw::kFashionMnistDir, mw::Split::kTrain, &images));
  const mw::InMemoryDataset data(mw::FirstImages(std::move(images), 997), "train");
  mw::TrainerConfig config;
  config.classifier.top_k = 5;
  config.local_batch = 30;
  config.seed = mode == "save" ? 1 : 2;  // the loader starts from another network
  std::unique_ptr<mw::Trainer> trainer;
  MW_CHECK_OK(mw::Trainer::Create(config, comm.get(), &data, &trainer));
  const int rank = comm->rank();
  const int64_t n = data.size(), begin = trainer->classifier_row_begin();
  const char* names[] = {"classifier.weight", "classifier.momentum", "classifier.neighbors"};
  const auto row_tensor = [&](int t) {
    return t == 0   ? trainer->classifier_rows()
           : t == 1 ? trainer->classifier_momentum()
                    : trainer->neighbor_rows();
  };

  if (mode == "save") {
    MW_CHECK_OK(trainer->InitializeClassifier());
    MW_CHECK_OK(trainer->RefreshNeighbors(0));
    double loss = 0;
    MW_CHECK_OK(trainer->TrainEpoch(0, trainer->steps_per_epoch() - 3, &loss));
    // Checkpoint 1 as written today; checkpoint 2 with the top-k ids as int64, as
    // checkpoints were written before the table became int32.
    for (uint64_t checkpoint : {1, 2}) {
      mw::CheckpointSnapshot snapshot;
      MW_CHECK_OK(mw::TakeSnapshot(*trainer, rank, n, /*mid_epoch=*/true, &snapshot));
      for (auto& [name, rows] : snapshot.rows) {
        if (checkpoint == 2 && name == mw::kNeighborTensor) rows = rows.to(at::kLong);
      }
      std::vector<mw::WrittenPiece> written;
      MW_CHECK_OK(mw::WriteSnapshot(snapshot, servers, "ckpt-test", checkpoint, 1, &written));
      std::ofstream pieces(dir + "/pieces" + std::to_string(checkpoint) + "." +
                           std::to_string(rank));
      for (const auto& w : written) {
        millionway::v1::PieceInfo info;
        mw::FillInfo(w.piece, &info);
        pieces << w.server << " " << info.SerializeAsString().size() << "\n"
               << info.SerializeAsString();
      }
    }
    for (int t = 0; t < 3; ++t) {
      const at::Tensor rows = row_tensor(t).contiguous();
      std::ofstream out(dir + "/" + names[t] + "." + std::to_string(rank), std::ios::binary);
      const int64_t count = rows.size(0);
      out.write(reinterpret_cast<const char*>(&begin), sizeof(begin));
      out.write(reinterpret_cast<const char*>(&count), sizeof(count));
      out.write(static_cast<const char*>(rows.data_ptr()), rows.numel() * rows.element_size());
    }
    at::Tensor features;  // the backbone as saved, seen through its outputs
    MW_CHECK_OK(trainer->Features(data, &features));
    if (rank == 0) {
      std::ofstream(dir + "/features", std::ios::binary)
          .write(static_cast<const char*>(features.data_ptr()), features.numel() * 4);
    }
    return comm->Barrier().ok() ? 0 : 1;
  }

  for (uint64_t checkpoint : {1, 2}) {
    for (int t = 0; t < 3; ++t) row_tensor(t).zero_();
    MW_CHECK_OK(mw::LoadCheckpoint(*trainer, n, servers, "ckpt-test", checkpoint, true));
    for (int t = 0; t < 3; ++t) {
      const at::Tensor loaded = row_tensor(t);
      const at::Tensor saved = SavedRows(dir, names[t], n, loaded).narrow(0, begin, loaded.size(0));
      MW_CHECK(at::equal(loaded, saved),
               "checkpoint %d: %s rows [%lld, +%lld) differ after loading",
               static_cast<int>(checkpoint), names[t], static_cast<long long>(begin),
               static_cast<long long>(loaded.size(0)));
    }
  }
  at::Tensor features;
  MW_CHECK_OK(trainer->Features(data, &features));
  at::Tensor saved = at::empty_like(features);
  std::ifstream(dir + "/features", std::ios::binary)
      .read(static_cast<char*>(saved.data_ptr()), saved.numel() * 4);
  const double diff = (features - saved).abs().max().item<double>();
  MW_CHECK(diff < 1e-5, "the loaded backbone's features differ by %g", diff);
  return comm->Barrier().ok() ? 0 : 1;
}
