#include "shard_server/checkpoint_coverage.h"

#include <algorithm>
#include <map>
#include <string>

namespace mw {

namespace {

Status Missing(const std::string& what) {
  return Status::FailedPrecondition("checkpoint incomplete: " + what);
}

}  // namespace

Status VerifyCoverage(const std::vector<PieceRecord>& pieces) {
  std::map<std::string, std::vector<const PieceRecord*>> rows;
  std::map<std::string, int> blobs;
  for (const PieceRecord& p : pieces) {
    if (p.rows) {
      rows[p.tensor].push_back(&p);
    } else {
      ++blobs[p.tensor];
    }
  }
  for (const char* blob : {kModelBlob, kBackboneBlob}) {
    if (blobs[blob] == 0) return Missing("no " + std::string(blob) + " blob");
  }
  for (const auto& [name, count] : blobs) {
    if (count > 1) return Missing(name + " written " + std::to_string(count) + " times");
  }
  for (const char* tensor : {kWeightTensor, kMomentumTensor}) {
    if (rows[tensor].empty()) return Missing("no rows of " + std::string(tensor));
  }
  const uint64_t num_rows = rows[kWeightTensor].front()->total_rows;
  for (auto& [name, parts] : rows) {
    if (parts.empty()) continue;
    std::sort(parts.begin(), parts.end(), [](const PieceRecord* a, const PieceRecord* b) {
      return a->row_begin < b->row_begin;
    });
    uint64_t next = 0;
    for (const PieceRecord* p : parts) {
      if (p->total_rows != num_rows) {
        return Missing(name + " has " + std::to_string(p->total_rows) + " rows, " + kWeightTensor +
                       " " + std::to_string(num_rows));
      }
      if (p->row_begin != next) {
        return Missing(name + " rows [" + std::to_string(std::min(next, p->row_begin)) + ", " +
                       std::to_string(std::max(next, p->row_begin)) + ") " +
                       (p->row_begin > next ? "are in no piece" : "are in two pieces"));
      }
      next = p->row_end;
    }
    if (next != num_rows) {
      return Missing(name + " rows [" + std::to_string(next) + ", " + std::to_string(num_rows) +
                     ") are in no piece");
    }
  }
  return Status::Ok();
}

}  // namespace mw
