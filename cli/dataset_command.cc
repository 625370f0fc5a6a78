#include "cli/dataset_command.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>

#include "common/durable_file.h"
#include "worker/data/fashion_mnist.h"
#include "worker/data/image_folder_dataset.h"
#include "worker/data/shards/shard_check.h"
#include "worker/data/shards/shard_writer.h"

namespace mw {

namespace {

int Fail(const Status& status) {
  std::fprintf(stderr, "mwctl dataset: %s\n", status.ToString().c_str());
  return status.code() == Status::Code::kInvalidArgument ? 2 : 1;
}

// "1G", "256M", "4096": bytes, binary multiples.
Status ParseSize(const std::string& text, uint64_t* out) {
  size_t end = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(text, &end);
  } catch (const std::exception&) {
    return Status::InvalidArgument("--shard-size: '" + text + "' is not a size such as 1G");
  }
  const std::string unit = text.substr(end);
  const int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (shift < 0 || n == 0 || n > (1ull << 40) >> shift) {
    return Status::InvalidArgument("--shard-size: '" + text + "' is not a size such as 1G");
  }
  *out = n << shift;
  return Status::Ok();
}

void Progress(int64_t done, int64_t total, const char* what) {
  if (done == total || done % 10000 == 0) {
    std::fprintf(stderr, "\r%lld / %lld %s", static_cast<long long>(done),
                 static_cast<long long>(total), what);
    if (done == total) std::fprintf(stderr, "\n");
  }
}

Status PackFashionMnist(const DatasetCommand& c, ShardWriterOptions options, ShardManifest* m) {
  if (c.fashion_mnist != "train" && c.fashion_mnist != "test") {
    return Status::InvalidArgument("--fashion-mnist: '" + c.fashion_mnist +
                                   "' is not train or test");
  }
  GreyImages images;
  MW_RETURN_IF_ERROR(LoadFashionMnist(
      kFashionMnistDir, c.fashion_mnist == "train" ? Split::kTrain : Split::kTest, &images));
  images = FirstImages(std::move(images), c.limit);
  options.channels = 1;
  options.labels = 10;
  std::unique_ptr<ShardWriter> writer;
  MW_RETURN_IF_ERROR(ShardWriter::Create(c.out, options, &writer));
  const int64_t pixels = images.height * images.width;
  std::vector<uchar> png;
  for (int64_t i = 0; i < images.count; ++i) {
    const cv::Mat image(static_cast<int>(images.height), static_cast<int>(images.width), CV_8UC1,
                        images.pixels.data() + i * pixels);
    cv::imencode(".png", image, png);
    MW_RETURN_IF_ERROR(writer->Add(std::string(png.begin(), png.end()), "png", images.labels[i]));
    Progress(i + 1, images.count, "images packed");
  }
  return writer->Finish(m);
}

Status PackImageFolder(const DatasetCommand& c, ShardWriterOptions options, ShardManifest* m) {
  std::unique_ptr<ImageFolderDataset> folder;
  MW_RETURN_IF_ERROR(ImageFolderDataset::Open(c.from, &folder));
  const int64_t count = c.limit > 0 ? std::min(c.limit, folder->size()) : folder->size();
  options.channels = 3;
  options.labels = folder->num_labels();
  std::unique_ptr<ShardWriter> writer;
  MW_RETURN_IF_ERROR(ShardWriter::Create(c.out, options, &writer));
  std::string bytes;
  for (int64_t i = 0; i < count; ++i) {
    const std::string& path = folder->path(i);
    MW_RETURN_IF_ERROR(ReadFile(path, &bytes));
    std::string extension = path.substr(path.rfind('.') + 1);
    for (char& ch : extension) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const Status added = writer->Add(bytes, extension, folder->Label(i));
    if (!added.ok()) return Status::FromCode(added.code(), path + ": " + added.message());
    Progress(i + 1, count, "images packed");
  }
  return writer->Finish(m);
}

}  // namespace

void AddDatasetCommands(CLI::App& app, DatasetCommand* c) {
  CLI::App* dataset =
      app.add_subcommand("dataset", "pack images into WebDataset shards; verify packed sets");
  dataset->require_subcommand(1);
  c->pack = dataset->add_subcommand("pack", "an image folder or Fashion-MNIST into shards");
  CLI::Option* from =
      c->pack->add_option("--from", c->from, "an image folder: root/<class>/<image>.jpg");
  c->pack->add_option("--fashion-mnist", c->fashion_mnist, "train or test")->excludes(from);
  c->pack->add_option("--out", c->out, "the directory the shards go to")->required();
  c->pack->add_option("--shard-size", c->shard_size, "bytes per shard (K, M, G)");
  c->pack->add_option("--limit", c->limit, "the first n images only")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 31));
  c->check = dataset->add_subcommand("check", "read a packed set through and verify it");
  c->check->add_option("location", c->location, "a directory, http(s):// or s3:// URL")->required();
  AddObjectStoreFlags(*c->check, &c->store);
}

int RunDatasetCommand(DatasetCommand& c) {
  if (c.pack->parsed()) {
    if (c.from.empty() == c.fashion_mnist.empty()) {
      return Fail(Status::InvalidArgument("give one of --from and --fashion-mnist"));
    }
    ShardWriterOptions options;
    if (const Status s = ParseSize(c.shard_size, &options.shard_bytes); !s.ok()) return Fail(s);
    const auto start = std::chrono::steady_clock::now();
    ShardManifest m;
    const Status s =
        c.from.empty() ? PackFashionMnist(c, options, &m) : PackImageFolder(c, options, &m);
    if (!s.ok()) return Fail(s);
    uint64_t bytes = 0;
    for (const ShardInfo& shard : m.shards) bytes += shard.bytes;
    std::printf("packed %lld images (%lld classes) into %zu shards, %.1f MB, in %.1f s: %s\n",
                static_cast<long long>(m.samples), static_cast<long long>(m.labels),
                m.shards.size(), bytes / 1e6,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                c.out.c_str());
    return 0;
  }
  if (const Status s = ResolveObjectStoreFlags(&c.store); !s.ok()) return Fail(s);
  ShardCheckReport report;
  bool line_open = false;
  const Status s =
      CheckShards(c.location, c.store.options, &report, [&](int64_t done, int64_t total) {
        std::fprintf(stderr, "\r%lld / %lld shards checked", static_cast<long long>(done),
                     static_cast<long long>(total));
        line_open = done != total;
        if (!line_open) std::fprintf(stderr, "\n");
      });
  if (!s.ok()) {
    if (line_open) std::fprintf(stderr, "\n");
    return Fail(s);
  }
  std::printf("ok: %lld samples in %lld shards, %.1f MB read in %.1f s (%.0f MB/s): %s\n",
              static_cast<long long>(report.samples), static_cast<long long>(report.shards),
              report.bytes / 1e6, report.seconds, report.bytes / 1e6 / report.seconds,
              c.location.c_str());
  return 0;
}

}  // namespace mw
