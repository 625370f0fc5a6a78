#include "shard_server/piece_proto.h"

namespace mw {

namespace v1 = millionway::v1;

PieceRecord RecordOf(const v1::PieceHeader& header) {
  PieceRecord r;
  r.tensor = header.tensor();
  r.rows = header.kind() == v1::PieceHeader::ROWS;
  r.row_begin = header.row_begin();
  r.row_end = header.row_end();
  r.row_bytes = header.row_bytes();
  r.total_rows = header.total_rows();
  return r;
}

void FillHeader(const PieceRecord& record, v1::PieceHeader* header) {
  header->set_tensor(record.tensor);
  header->set_kind(record.rows ? v1::PieceHeader::ROWS : v1::PieceHeader::BLOB);
  header->set_row_begin(record.row_begin);
  header->set_row_end(record.row_end);
  header->set_row_bytes(record.row_bytes);
  header->set_total_rows(record.total_rows);
}

void FillInfo(const PieceRecord& record, v1::PieceInfo* info) {
  FillHeader(record, info->mutable_header());
  info->set_bytes(record.bytes);
  info->set_checksum(record.checksum);
}

}  // namespace mw
