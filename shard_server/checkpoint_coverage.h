// What a trainer's checkpoint holds, by piece name, and the check that a set of pieces holds
// all of it: shared by the workers that write checkpoints and the coordinator, which commits
// none that is missing anything. Every shard server checks only its own part, so only the
// committer, seeing every rank's pieces, can tell that rows fell between two ranks.
#pragma once

#include <vector>

#include "common/status.h"
#include "shard_server/manifest.h"

namespace mw {

inline constexpr char kWeightTensor[] = "classifier.weight";
inline constexpr char kMomentumTensor[] = "classifier.momentum";
// The epoch's top-k table: only in a checkpoint taken mid-epoch (the weights it came from are
// gone by the time the checkpoint is loaded).
inline constexpr char kNeighborTensor[] = "classifier.neighbors";
inline constexpr char kModelBlob[] = "model";           // backbone, head, optimizer, sampler
inline constexpr char kBackboneBlob[] = "backbone.pt";  // torchvision state dict, for export

// OK when `pieces` (of every server) hold rows [0, N) of the weights and the momentum, the
// same N for both, each row exactly once; every other row tensor whole likewise; and each
// blob exactly once. FAILED_PRECONDITION naming the first thing missing or doubled.
Status VerifyCoverage(const std::vector<PieceRecord>& pieces);

}  // namespace mw
