#pragma once

// Entries: a signed event as the ledger wraps it (ledger/FORMAT.md,
// "Entry"), and the hashes built on them: the RFC 6962 leaf hash, the chain
// hash, emitter key IDs and the batch-signature message.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "ledger/event.h"

namespace ledger {

using crypto::Hash;

enum class RiskGrade : uint8_t {
  kUnassessed = 0,  // no risk policy was in force
  kLow = 1,
  kMedium = 2,
  kHigh = 3,
  kCritical = 4,
};

struct Risk {
  RiskGrade grade = RiskGrade::kUnassessed;
  std::vector<std::string> reasons;
  friend bool operator==(const Risk&, const Risk&) = default;
};

// What a back-link follows: the previous entry about the same subject.
enum class LinkKind : uint8_t {
  kDataset = 1,
  kItem = 2,
  kAnnotation = 3,
  kActor = 4,
};

// "dataset", "item", "annotation", "actor" (as the API and reports spell
// them).
std::string_view LinkKindName(LinkKind kind);
// The inverse of LinkKindName; nullopt for any other text.
std::optional<LinkKind> ParseLinkKindName(std::string_view name);

inline constexpr uint64_t kNoPrevious = ~uint64_t{0};

struct BackLink {
  LinkKind kind = LinkKind::kActor;
  std::string id;
  uint64_t previous = kNoPrevious;  // index of the previous entry, if any
  friend bool operator==(const BackLink&, const BackLink&) = default;
};

inline constexpr uint8_t kSigAlgEd25519 = 0x01;

// The emitter's signature over the batch the event was sent in. A single
// signed event is a batch of one (batch_root = the event's leaf hash, empty
// audit path).
struct EmitterSignature {
  uint8_t algorithm = kSigAlgEd25519;
  Hash key_id{};  // KeyIdOf(public key)
  uint32_t batch_size = 1;
  uint32_t batch_index = 0;
  Hash batch_root{};
  std::vector<Hash> audit_path;  // event leaf hash -> batch_root
  crypto::Ed25519Signature signature{};
  friend bool operator==(const EmitterSignature&,
                         const EmitterSignature&) = default;
};

struct Entry {
  uint64_t index = 0;
  int64_t received_at_ns = 0;  // ledger clock, UTC ns since the epoch
  std::string event_bytes;     // canonical event bytes (EncodeEvent)
  EmitterSignature emitter;
  Risk risk;
  uint32_t policy_version = 0;  // 0: no policy in force
  Hash prev_chain_hash{};       // chain hash of entry index-1 (zeros for 0)
  std::vector<BackLink> back_links;  // one per SubjectKeys(event), in order
  friend bool operator==(const Entry&, const Entry&) = default;
};

// Canonical entry bytes, format version 1.
std::string EncodeEntry(const Entry& entry);
// The fields an entry starts with, as views of its bytes.
struct EntryHead {
  uint64_t index = 0;
  int64_t received_at_ns = 0;
  std::string_view event_bytes;
};
// Decodes only those fields (InvalidArgument naming the field), without
// looking at the rest: for reads of many entries that need no more.
absl::StatusOr<EntryHead> DecodeEntryHead(std::string_view bytes);

// Strict inverse of EncodeEntry (InvalidArgument naming the field). Does not
// decode the embedded event, but checks emitter.algorithm, the enums,
// batch_index < batch_size and that the audit path has the RFC 9162 length
// for (batch_index, batch_size).
absl::StatusOr<Entry> DecodeEntry(std::string_view bytes);
// DecodeEntry into `*out`, whose strings and lists keep their capacity:
// for loops that decode many entries into one Entry. On error *out holds
// part of the entry.
absl::Status DecodeEntryInto(std::string_view bytes, Entry* out);

// SHA-256(prev || leaf_hash).
Hash ChainHash(const Hash& prev, const Hash& leaf_hash);

// SHA-256(0x01 || public key): the ID of an Ed25519 emitter key.
Hash KeyIdOf(const crypto::Ed25519PublicKey& key);

// The message an emitter signs for a batch (FORMAT.md, "Batch signature").
std::string BatchSignatureMessage(uint32_t batch_size, const Hash& batch_root);

// The subjects an event's back-links follow, in order: the actor, then each
// distinct (kind, id) of subjects, inputs and outputs in order of first
// appearance.
std::vector<std::pair<LinkKind, std::string>> SubjectKeys(const Event& event);

// The part of VerifyEntrySignature before the signature: emitter.algorithm,
// emitter.key_id == key_id, and the audit path from the event's leaf hash
// to batch_root (for checking many entries of one batch with one signature
// verification). The event's leaf hash, or DataLoss naming the failing
// field.
absl::StatusOr<Hash> VerifyEntryAuditPath(const Entry& entry,
                                          const Hash& key_id);

// Checks that `key` signed the entry's event: leaf hash of event_bytes,
// audit path to batch_root, signature over the batch message, and
// key_id == KeyIdOf(key). DataLoss naming the failing step otherwise.
absl::Status VerifyEntrySignature(const Entry& entry,
                                  const crypto::Ed25519PublicKey& key);

// What differs between two encoded entries, for a message: the first field
// (in format order) whose values differ, with both values ("risk.reasons:
// [...] here, [...] there"), or why one does not decode.
std::string DescribeEntryDifference(std::string_view here,
                                    std::string_view there);

}  // namespace ledger
