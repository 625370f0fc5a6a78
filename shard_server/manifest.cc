#include "shard_server/manifest.h"

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

// A non-negative integer field; anything else (a float, a negative, a string) is refused
// before a conversion could overflow.
uint64_t Unsigned(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_number_unsigned()) {
    throw json::type_error::create(302, std::string(key) + " is not a non-negative integer", &v);
  }
  return v.get<uint64_t>();
}

std::vector<uint64_t> Unsigneds(const json& j, const char* key) {
  std::vector<uint64_t> out;
  for (const json& v : j.at(key)) {
    if (!v.is_number_unsigned()) {
      throw json::type_error::create(302, std::string(key) + " holds a non-integer", &v);
    }
    out.push_back(v.get<uint64_t>());
  }
  return out;
}

}  // namespace

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
    m.checkpoint = Unsigned(body, "checkpoint");
    for (const json& p : body.at("pieces")) {
      PieceRecord r;
      r.tensor = p.at("tensor").get<std::string>();
      r.rows = p.at("rows").get<bool>();
      r.row_begin = Unsigned(p, "row_begin");
      r.row_end = Unsigned(p, "row_end");
      r.row_bytes = Unsigned(p, "row_bytes");
      r.total_rows = Unsigned(p, "total_rows");
      r.bytes = Unsigned(p, "bytes");
      r.checksum = Unsigned(p, "checksum");
      r.block_checksums = Unsigneds(p, "blocks");
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
    if (Unsigned(outer, "checksum") != Checksum(canonical.data(), canonical.size())) {
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
