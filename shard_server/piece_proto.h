// A checkpoint piece as the protos carry it (PieceHeader, PieceInfo) and as the store records
// it (PieceRecord): shared by the shard server, its clients and the coordinator.
#pragma once

#include "millionway/v1/shard.pb.h"
#include "shard_server/manifest.h"

namespace mw {

// The proto header <-> the store's record (bytes and checksums aside).
PieceRecord RecordOf(const millionway::v1::PieceHeader& header);
void FillHeader(const PieceRecord& record, millionway::v1::PieceHeader* header);
void FillInfo(const PieceRecord& record, millionway::v1::PieceInfo* info);

}  // namespace mw
