#include "shard_server/manifest.h"

#include <xxhash.h>

#include <nlohmann/json.hpp>

#include "common/names.h"

namespace mw {

namespace {

using nlohmann::json;

json PieceJson(const PieceRecord& p) {
  return json{{"tensor", p.tensor},   {"rows", p.rows},           {"row_begin", p.row_begin},
              {"row_end", p.row_end}, {"row_bytes", p.row_bytes}, {"total_rows", p.total_rows},
              {"bytes", p.bytes},     {"checksum", p.checksum},   {"blocks", p.block_checksums},
              {"file", p.file}};
}

std::string Body(const Manifest& m) {
  json pieces = json::array();
  for (const auto& p : m.pieces) pieces.push_back(PieceJson(p));
  return json{{"job_id", m.job_id}, {"checkpoint", m.checkpoint}, {"pieces", pieces}}.dump();
}

}  // namespace

uint64_t Checksum(const void* data, size_t bytes) { return XXH3_64bits(data, bytes); }

Status PieceRecord::Validate() const {
  MW_RETURN_IF_ERROR(ValidateTensorName(tensor));
  if (rows) {
    if (row_begin >= row_end || row_end > total_rows) {
      return Status::InvalidArgument(tensor + ": rows [" + std::to_string(row_begin) + ", " +
                                     std::to_string(row_end) + ") of " +
                                     std::to_string(total_rows) + " is not a valid range");
    }
    if (row_bytes == 0 || (row_end - row_begin) > bytes / row_bytes ||
        (row_end - row_begin) * row_bytes != bytes) {
      return Status::InvalidArgument(tensor + ": " + std::to_string(bytes) + " bytes is not " +
                                     std::to_string(row_end - row_begin) + " rows of " +
                                     std::to_string(row_bytes) + " bytes");
    }
  }
  return Status::Ok();
}

std::string SerializeManifest(const Manifest& manifest) {
  const std::string body = Body(manifest);
  return json{{"manifest", json::parse(body)}, {"checksum", Checksum(body.data(), body.size())}}
             .dump(1) +
         "\n";
}

Status ParseManifest(const std::string& text, Manifest* out) {
  try {
    const json outer = json::parse(text);
    const json& body = outer.at("manifest");
    Manifest m;
    m.job_id = body.at("job_id").get<std::string>();
    m.checkpoint = body.at("checkpoint").get<uint64_t>();
    for (const json& p : body.at("pieces")) {
      PieceRecord r;
      r.tensor = p.at("tensor").get<std::string>();
      r.rows = p.at("rows").get<bool>();
      r.row_begin = p.at("row_begin").get<uint64_t>();
      r.row_end = p.at("row_end").get<uint64_t>();
      r.row_bytes = p.at("row_bytes").get<uint64_t>();
      r.total_rows = p.at("total_rows").get<uint64_t>();
      r.bytes = p.at("bytes").get<uint64_t>();
      r.checksum = p.at("checksum").get<uint64_t>();
      r.block_checksums = p.at("blocks").get<std::vector<uint64_t>>();
      r.file = p.at("file").get<std::string>();
      const Status valid = r.Validate();
      if (!valid.ok()) return Status::DataLoss("manifest: " + valid.message());
      const uint64_t blocks = (r.bytes + kManifestBlockBytes - 1) / kManifestBlockBytes;
      if (r.block_checksums.size() != blocks) {
        return Status::DataLoss("manifest: " + r.tensor + " lists " +
                                std::to_string(r.block_checksums.size()) + " block checksums for " +
                                std::to_string(blocks) + " blocks");
      }
      if (r.file.find('/') != std::string::npos || r.file.empty() || r.file[0] == '.') {
        return Status::DataLoss("manifest: piece file '" + r.file + "' is not a plain name");
      }
      m.pieces.push_back(std::move(r));
    }
    const std::string canonical = Body(m);
    if (outer.at("checksum").get<uint64_t>() != Checksum(canonical.data(), canonical.size())) {
      return Status::DataLoss("manifest: checksum does not match its contents");
    }
    if (!ValidateJobId(m.job_id).ok()) return Status::DataLoss("manifest: bad job_id");
    *out = std::move(m);
    return Status::Ok();
  } catch (const json::exception& e) {
    return Status::DataLoss(std::string("manifest: ") + e.what());
  }
}

}  // namespace mw
