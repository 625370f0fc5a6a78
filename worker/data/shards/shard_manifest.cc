#include "worker/data/shards/shard_manifest.h"

#include <xxhash.h>
#include <cstring>
#include <nlohmann/json.hpp>

namespace mw {

namespace {

using nlohmann::json;

constexpr char kIndexMagic[8] = {'M', 'W', 'S', 'H', 'I', 'D', 'X', '1'};
constexpr size_t kEntryBytes = 20;

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

Status ParseChecksum(const json& j, const std::string& where, uint64_t* out) {
  if (!j.is_string() || j.get_ref<const std::string&>().size() != 16) {
    return Status::InvalidArgument(where + ": must be 16 hex digits");
  }
  const std::string& hex = j.get_ref<const std::string&>();
  if (hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::InvalidArgument(where + ": must be 16 hex digits");
  }
  *out = std::stoull(hex, nullptr, 16);
  return Status::Ok();
}

// Names go into paths and URLs as they are, so only characters neither needs escaped.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
         name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
             "._-") == std::string::npos;
}

}  // namespace

std::string ChecksumHex(uint64_t checksum) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(checksum));
  return hex;
}

std::string SampleKey(int64_t id) {
  char key[32];
  std::snprintf(key, sizeof key, "%09lld", static_cast<long long>(id));
  return key;
}

std::string ShardManifest::ToJson() const {
  json shard_list = json::array();
  for (const ShardInfo& s : shards) {
    shard_list.push_back({{"name", s.name},
                          {"samples", s.samples},
                          {"bytes", s.bytes},
                          {"xxh3_64", ChecksumHex(s.checksum)}});
  }
  const json j = {
      {"format", kFormat},
      {"samples", samples},
      {"channels", channels},
      {"labels", labels},
      {"index",
       {{"name", kIndexName}, {"bytes", index_bytes}, {"xxh3_64", ChecksumHex(index_checksum)}}},
      {"shards", shard_list}};
  return j.dump(1) + "\n";
}

Status ShardManifest::FromJson(const std::string& text, const std::string& source,
                               ShardManifest* out) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(source + ": " + e.what());
  }
  ShardManifest m;
  try {
    if (!j.is_object() || j.value("format", "") != kFormat) {
      return Status::InvalidArgument(source + ": format is not " + std::string(kFormat));
    }
    m.samples = j.at("samples").get<int64_t>();
    m.channels = j.at("channels").get<int>();
    m.labels = j.at("labels").get<int64_t>();
    const json& index = j.at("index");
    if (index.at("name").get<std::string>() != kIndexName) {
      return Status::InvalidArgument(source + ": index.name must be " + std::string(kIndexName));
    }
    m.index_bytes = index.at("bytes").get<uint64_t>();
    MW_RETURN_IF_ERROR(
        ParseChecksum(index.at("xxh3_64"), source + ": index.xxh3_64", &m.index_checksum));
    int64_t total = 0;
    for (const json& s : j.at("shards")) {
      ShardInfo info;
      info.name = s.at("name").get<std::string>();
      info.samples = s.at("samples").get<int64_t>();
      info.bytes = s.at("bytes").get<uint64_t>();
      const std::string where = source + ": shard " + std::to_string(m.shards.size());
      MW_RETURN_IF_ERROR(ParseChecksum(s.at("xxh3_64"), where + ".xxh3_64", &info.checksum));
      if (!IsPlainFileName(info.name)) {
        return Status::InvalidArgument(where + ".name: '" + info.name + "' is not a file name");
      }
      if (info.samples < 0 || info.samples > kMaxSamples) {
        return Status::InvalidArgument(where + ".samples: out of range");
      }
      total += info.samples;
      m.shards.push_back(std::move(info));
    }
    if (m.samples < 1 || m.samples > kMaxSamples || total != m.samples) {
      return Status::InvalidArgument(source + ": samples is " + std::to_string(m.samples) +
                                     " but the shards hold " + std::to_string(total));
    }
    if (m.channels != 1 && m.channels != 3) {
      return Status::InvalidArgument(source + ": channels must be 1 or 3");
    }
    if (m.labels < 0 || m.labels > (int64_t{1} << 20)) {
      return Status::InvalidArgument(source + ": labels must be in [0, 2^20]");
    }
    if (m.index_bytes != 16 + kEntryBytes * static_cast<uint64_t>(m.samples)) {
      return Status::InvalidArgument(source + ": index.bytes does not match samples");
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(source + ": " + e.what());
  }
  *out = std::move(m);
  return Status::Ok();
}

std::string EncodeSampleIndex(const std::vector<SampleLocation>& samples) {
  std::string out(kIndexMagic, sizeof kIndexMagic);
  const uint64_t n = samples.size();
  PutU32(&out, static_cast<uint32_t>(n & 0xffffffffu));
  PutU32(&out, static_cast<uint32_t>(n >> 32));
  out.reserve(out.size() + kEntryBytes * samples.size());
  for (const SampleLocation& s : samples) {
    PutU32(&out, s.shard);
    PutU32(&out, s.block);
    PutU32(&out, s.size);
    PutU32(&out, static_cast<uint32_t>(s.label));
    PutU32(&out, s.check);
  }
  return out;
}

Status DecodeSampleIndex(const std::string& bytes, const ShardManifest& manifest,
                         const std::string& source, std::vector<SampleLocation>* out) {
  if (bytes.size() != manifest.index_bytes || bytes.size() < 16 ||
      std::memcmp(bytes.data(), kIndexMagic, sizeof kIndexMagic) != 0) {
    return Status::DataLoss(source + ": not an index of " + std::to_string(manifest.samples) +
                            " samples (" + std::to_string(bytes.size()) + " bytes)");
  }
  if (Checksum(bytes.data(), bytes.size()) != manifest.index_checksum) {
    return Status::DataLoss(source + ": checksum differs from the manifest's");
  }
  const uint64_t n = GetU32(bytes.data() + 8) | (uint64_t{GetU32(bytes.data() + 12)} << 32);
  if (n != static_cast<uint64_t>(manifest.samples)) {
    return Status::DataLoss(source + ": holds " + std::to_string(n) + " samples, not " +
                            std::to_string(manifest.samples));
  }
  std::vector<SampleLocation> samples(n);
  std::vector<int64_t> per_shard(manifest.shards.size(), 0);
  for (uint64_t i = 0; i < n; ++i) {
    const char* p = bytes.data() + 16 + kEntryBytes * i;
    SampleLocation& s = samples[i];
    s.shard = GetU32(p);
    s.block = GetU32(p + 4);
    s.size = GetU32(p + 8);
    s.label = static_cast<int32_t>(GetU32(p + 12));
    s.check = GetU32(p + 16);
    const std::string where = source + ": sample " + std::to_string(i);
    if (s.shard >= manifest.shards.size()) return Status::DataLoss(where + ": no such shard");
    if (s.size == 0 || s.size > ShardManifest::kMaxSampleBytes ||
        s.offset() + s.size > manifest.shards[s.shard].bytes) {
      return Status::DataLoss(where + ": lies outside " + manifest.shards[s.shard].name);
    }
    if (s.label < -1 || s.label >= manifest.labels || (manifest.labels > 0 && s.label < 0)) {
      return Status::DataLoss(where + ": label " + std::to_string(s.label) + " out of range");
    }
    ++per_shard[s.shard];
  }
  for (size_t k = 0; k < per_shard.size(); ++k) {
    if (per_shard[k] != manifest.shards[k].samples) {
      return Status::DataLoss(source + ": " + manifest.shards[k].name + " has " +
                              std::to_string(per_shard[k]) + " samples in the index, " +
                              std::to_string(manifest.shards[k].samples) + " in the manifest");
    }
  }
  *out = std::move(samples);
  return Status::Ok();
}

}  // namespace mw
