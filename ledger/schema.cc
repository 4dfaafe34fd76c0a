#include "ledger/schema.h"

#include <algorithm>
#include <iterator>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/codec.h"

namespace ledger {

const std::vector<std::string>& ColumnFamilyNames() {
  static const std::vector<std::string> kNames = {
      "entries",    "tree",    "checkpoints",   "by_event_id",
      "keys",       "meta",    "subject_heads", "shred_keys",
      "by_subject", "by_type", "by_run",        "lineage"};
  return kNames;
}

std::string Be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t ReadBe64(std::string_view bytes) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

std::string EventIdKey(std::string_view tenant, const Uuid& id) {
  std::string key(tenant);
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(id.data()), id.size());
  return key;
}

std::string EventIdValue(uint64_t index, const Hash& event_hash) {
  std::string value = Be64(index);
  value.append(crypto::AsView(event_hash));
  return value;
}

absl::StatusOr<EventIdRecord> DecodeEventIdValue(std::string_view value) {
  if (value.size() != 8 + crypto::kHashSize) {
    return absl::DataLossError(StrCat("a by_event_id record has ", value.size(),
                                      " bytes, not ", 8 + crypto::kHashSize));
  }
  EventIdRecord record;
  record.index = ReadBe64(value);
  std::copy(value.begin() + 8, value.end(), record.event_hash.begin());
  return record;
}

std::string SubjectHeadKey(LinkKind kind, std::string_view tenant,
                           std::string_view id) {
  std::string key(1, static_cast<char>(kind));
  key.append(tenant);
  key.push_back('\0');
  key.append(id);
  return key;
}

// (Built by appending: GCC 12 at -O3 warns -Wrestrict on "q" + string.)
std::string CheckpointKey(uint64_t sequence) {
  std::string key = "q";
  key.append(Be64(sequence));
  return key;
}

std::string CheckpointSizeKey(uint64_t size, uint64_t sequence) {
  std::string key = "s";
  key.append(Be64(size));
  key.append(Be64(sequence));
  return key;
}

std::string EncodeHeadRecord(const HeadRecord& record) {
  Encoder e;
  e.PutU64(record.size);
  e.PutHash(record.root);
  e.PutHash(record.chain_hash);
  e.PutI64(record.last_received_at_ns);
  return e.Take();
}

absl::StatusOr<HeadRecord> DecodeHeadRecord(std::string_view value) {
  if (value.size() != 8 + 2 * crypto::kHashSize + 8) {
    return absl::DataLossError("the head record has the wrong length");
  }
  Decoder d(value);
  HeadRecord record;
  LEDGER_ASSIGN_OR_RETURN(record.size, d.GetU64("size"));
  LEDGER_ASSIGN_OR_RETURN(record.root, d.GetHash("root"));
  LEDGER_ASSIGN_OR_RETURN(record.chain_hash, d.GetHash("chain"));
  LEDGER_ASSIGN_OR_RETURN(record.last_received_at_ns, d.GetI64("received_at"));
  return record;
}

std::string SubjectIndexPrefix(LinkKind kind, std::string_view tenant,
                               std::string_view id) {
  std::string key = SubjectHeadKey(kind, tenant, id);
  key.push_back('\0');
  return key;
}

std::string TypeIndexPrefix(std::string_view tenant, std::string_view type) {
  std::string key(tenant);
  key.push_back('\0');
  key.append(type);
  key.push_back('\0');
  return key;
}

std::string RunIndexPrefix(RunRole role, std::string_view tenant,
                           std::string_view run_id) {
  std::string key(1, static_cast<char>(role));
  key.append(tenant);
  key.push_back('\0');
  key.append(run_id);
  key.push_back('\0');
  return key;
}

std::string LineagePrefix(LineageRole role, std::string_view tenant,
                          SubjectKind kind, std::string_view id,
                          std::string_view version) {
  std::string key(1, static_cast<char>(role));
  key.append(tenant);
  key.push_back('\0');
  key.push_back(static_cast<char>(kind));
  key.append(id);
  key.push_back('\0');
  key.append(version);
  key.push_back('\0');
  return key;
}

void IndexKeys::Reserve(size_t keys, size_t bytes) {
  spans_.reserve(keys);
  buffer_.reserve(bytes);
}

void IndexKeys::Add(std::initializer_list<std::string_view> parts,
                    uint64_t index) {
  const size_t offset = buffer_.size();
  for (std::string_view part : parts) buffer_.append(part);
  char be[8];
  for (int i = 7; i >= 0; --i) {
    be[i] = static_cast<char>(index & 0xff);
    index >>= 8;
  }
  buffer_.append(be, 8);
  spans_.emplace_back(static_cast<uint32_t>(offset),
                      static_cast<uint32_t>(buffer_.size() - offset));
}

void IndexKeys::SortUnique() {
  const std::string_view all(buffer_);
  const auto view = [&](const std::pair<uint32_t, uint32_t>& s) {
    return all.substr(s.first, s.second);
  };
  std::sort(spans_.begin(), spans_.end(),
            [&](const auto& a, const auto& b) { return view(a) < view(b); });
  spans_.erase(std::unique(spans_.begin(), spans_.end(),
                           [&](const auto& a, const auto& b) {
                             return view(a) == view(b);
                           }),
               spans_.end());
}

void IndexKeys::Clear() {
  buffer_.clear();
  spans_.clear();
}

void IndexFamilyKeys::SortUnique() {
  by_subject.SortUnique();
  by_type.SortUnique();
  by_run.SortUnique();
  lineage.SortUnique();
}

void IndexFamilyKeys::Clear() {
  by_subject.Clear();
  by_type.Clear();
  by_run.Clear();
  lineage.Clear();
}

EventLimits UnboundedEventLimits() {
  constexpr uint32_t kMax = ~uint32_t{0};
  return EventLimits{kMax, kMax, kMax, kMax, kMax, kMax};
}

void AddIndexKeys(const Event& e, uint64_t index, IndexFamilyKeys& out) {
  static constexpr std::string_view kZero("\0", 1);
  // One-byte parts: link and subject kinds, roles. Every key part is a view
  // of the event or of these.
  static constexpr char kBytes[] = {0, 1, 2, 3, 4, 'i', 'o', 'p', 'r', 's'};
  const auto byte = [](char c) {
    const char* p = std::find(std::begin(kBytes), std::end(kBytes), c);
    return std::string_view(p, 1);
  };
  const std::string_view tenant = e.tenant;
  out.by_subject.Add({byte(static_cast<char>(LinkKind::kActor)), tenant, kZero,
                      e.actor.id, kZero},
                     index);
  for (const auto* list : {&e.subjects, &e.inputs, &e.outputs}) {
    for (const SubjectRef& r : *list) {
      out.by_subject.Add(
          {byte(static_cast<char>(r.kind)), tenant, kZero, r.id, kZero}, index);
    }
  }
  out.by_type.Add({tenant, kZero, e.type, kZero}, index);
  if (!e.run_id.empty()) {
    out.by_run.Add({byte(static_cast<char>(RunRole::kRun)), tenant, kZero,
                    e.run_id, kZero},
                   index);
  }
  if (!e.parent_run_id.empty()) {
    out.by_run.Add({byte(static_cast<char>(RunRole::kParent)), tenant, kZero,
                    e.parent_run_id, kZero},
                   index);
  }
  const auto lineage = [&](LineageRole role, const SubjectRef& r) {
    out.lineage.Add(
        {byte(static_cast<char>(role)), tenant, kZero,
         byte(static_cast<char>(r.kind)), r.id, kZero, r.version, kZero},
        index);
  };
  for (const SubjectRef& r : e.inputs) lineage(LineageRole::kInput, r);
  for (const SubjectRef& r : e.outputs) lineage(LineageRole::kOutput, r);
  for (const SubjectRef& r : e.subjects) {
    if (!r.version.empty()) lineage(LineageRole::kSubject, r);
  }
}

uint64_t IndexOfIndexKey(std::string_view key) {
  if (key.size() < 8) return kNoPrevious;
  return ReadBe64(key.substr(key.size() - 8));
}

std::string EncodeIndexDigests(const IndexDigests& digests) {
  std::string out;
  for (const crypto::MultisetHash* d :
       {&digests.by_event_id, &digests.subject_heads, &digests.keys,
        &digests.by_subject, &digests.by_type, &digests.by_run,
        &digests.lineage}) {
    out.append(d->Encode());
  }
  return out;
}

namespace {

absl::StatusOr<IndexDigests> DecodeDigests(std::string_view value,
                                           size_t families) {
  constexpr size_t n = crypto::MultisetHash::kEncodedSize;
  if (value.size() != families * n) {
    return absl::DataLossError(
        StrCat("the index digest record has the wrong length (", value.size(),
               " bytes, not ", families * n, ")"));
  }
  IndexDigests d;
  crypto::MultisetHash* const all[] = {
      &d.by_event_id, &d.subject_heads, &d.keys,   &d.by_subject,
      &d.by_type,     &d.by_run,        &d.lineage};
  for (size_t i = 0; i < families; ++i) {
    LEDGER_ASSIGN_OR_RETURN(
        *all[i], crypto::MultisetHash::Decode(value.substr(i * n, n)));
  }
  return d;
}

}  // namespace

absl::StatusOr<IndexDigests> DecodeIndexDigests(std::string_view value) {
  return DecodeDigests(value, 7);
}

absl::StatusOr<IndexDigests> DecodeIndexDigestsV2(std::string_view value) {
  return DecodeDigests(value, 3);
}

}  // namespace ledger
