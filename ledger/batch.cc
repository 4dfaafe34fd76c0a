// Emitter batch signatures (ledger/FORMAT.md, "Batch signature").

#include "ledger/batch.h"

#include <cassert>
#include <utility>

#include "base/check.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/codec.h"

namespace ledger {
namespace {

std::string HexPrefix(const Hash& h) {
  return StrCat(crypto::HexEncode(crypto::AsView(h).substr(0, 8)), "...");
}

// ValidateEvent's error for event i, as "events[i].<field>: ..." (or
// "events[i]: ..." for the whole-event size limit).
absl::Status EventError(const absl::Status& s, size_t i) {
  constexpr std::string_view kWhole = "event: ";
  std::string_view message = ToStd(s.message());
  if (message.substr(0, kWhole.size()) == kWhole) {
    return absl::Status(
        s.code(), StrCat("events[", i, "]: ", message.substr(kWhole.size())));
  }
  return PrefixField(s, StrCat("events[", i, "]."));
}

}  // namespace

crypto::Ed25519Signature SignBatch(const crypto::Ed25519PrivateKey& key,
                                   absl::Span<const std::string> event_bytes) {
  LEDGER_CHECK(!event_bytes.empty() && event_bytes.size() <= kMaxBatchSize,
               "a batch holds 1 to ", kMaxBatchSize, " events, not ",
               event_bytes.size());
  InMemoryTree tree;
  for (const std::string& bytes : event_bytes) {
    tree.Append(crypto::HashLeaf(bytes));
  }
  return key.Sign(BatchSignatureMessage(
      static_cast<uint32_t>(event_bytes.size()), tree.Root()));
}

EmitterSignature VerifiedBatch::SignatureFor(uint32_t i) const {
  LEDGER_CHECK(i < size(), "event ", i, " of a batch of ", size());
  EmitterSignature sig;
  sig.algorithm = kSigAlgEd25519;
  sig.key_id = key_id_;
  sig.batch_size =
      signed_size_ != 0 ? signed_size_ : static_cast<uint32_t>(size());
  sig.batch_index = signed_indexes_.empty() ? i : signed_indexes_[i];
  sig.batch_root = root_;
  sig.signature = signature_;
  sig.audit_path = audit_paths_[i];
  return sig;
}

absl::StatusOr<VerifiedBatch> VerifyBatch(
    std::vector<Event> events, const Hash& key_id,
    const crypto::Ed25519PublicKey& key,
    const crypto::Ed25519Signature& signature, const EventLimits& limits) {
  if (events.empty()) {
    return absl::InvalidArgumentError("batch: must contain at least one event");
  }
  if (events.size() > kMaxBatchSize) {
    return absl::InvalidArgumentError(StrCat("batch: ", events.size(),
                                             " events exceed the limit of ",
                                             kMaxBatchSize));
  }
  const Hash want_key_id = KeyIdOf(key);
  if (key_id != want_key_id) {
    return absl::InvalidArgumentError(StrCat(
        "key_id: ", HexPrefix(key_id), " is not the ID of the given key (",
        HexPrefix(want_key_id), ")"));
  }
  VerifiedBatch batch;
  batch.event_bytes_.reserve(events.size());
  batch.event_hashes_.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (absl::Status s = ValidateEvent(events[i], limits); !s.ok()) {
      return EventError(s, i);
    }
    batch.event_bytes_.push_back(EncodeEvent(events[i]));
    batch.event_hashes_.push_back(crypto::HashLeaf(batch.event_bytes_.back()));
  }
  InMemoryTree tree(batch.event_hashes_);
  batch.root_ = tree.Root();
  if (!crypto::Ed25519Verify(
          key,
          BatchSignatureMessage(static_cast<uint32_t>(events.size()),
                                batch.root_),
          signature)) {
    return absl::UnauthenticatedError(
        StrCat("batch signature does not verify for key ", HexPrefix(key_id)));
  }
  batch.audit_paths_.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    // Cannot fail: i is a leaf of the complete in-memory tree.
    absl::StatusOr<std::vector<Hash>> path =
        InclusionProof(tree, i, events.size());
    LEDGER_CHECK(path.ok(), path.status().ToString());
    batch.audit_paths_.push_back(*std::move(path));
  }
  batch.events_ = std::move(events);
  batch.key_id_ = key_id;
  batch.signature_ = signature;
  return batch;
}

absl::StatusOr<VerifiedBatch> VerifyStoredBatch(
    absl::Span<const Entry* const> entries, std::vector<Event> events,
    const crypto::Ed25519PublicKey& key, const EventLimits& limits) {
  LEDGER_CHECK(!entries.empty() && entries.size() == events.size(),
               entries.size(), " entries with ", events.size(), " events");
  const EmitterSignature& first = entries[0]->emitter;
  const Hash want_key_id = KeyIdOf(key);
  VerifiedBatch batch;
  batch.event_bytes_.reserve(entries.size());
  batch.event_hashes_.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& entry = *entries[i];
    const EmitterSignature& sig = entry.emitter;
    const auto bad = [&](std::string_view what) {
      return absl::DataLossError(StrCat("entry ", entry.index, ": ", what));
    };
    if (sig.batch_size != first.batch_size ||
        sig.batch_root != first.batch_root ||
        sig.signature != first.signature) {
      return bad(
          "emitter: not of the same signed batch as the entries "
          "before it");
    }
    if (i > 0 && sig.batch_index <= entries[i - 1]->emitter.batch_index) {
      return bad(StrCat("emitter.batch_index: ", sig.batch_index,
                        " does not follow the previous entry's ",
                        entries[i - 1]->emitter.batch_index));
    }
    if (absl::Status s = ValidateEvent(events[i], limits); !s.ok()) {
      return absl::Status(
          s.code(), StrCat("entry ", entry.index, ": ", ToStd(s.message())));
    }
    absl::StatusOr<Hash> leaf = VerifyEntryAuditPath(entry, want_key_id);
    if (!leaf.ok()) return bad(ToStd(leaf.status().message()));
    batch.event_bytes_.push_back(entry.event_bytes);
    batch.event_hashes_.push_back(*leaf);
    batch.audit_paths_.push_back(sig.audit_path);
    batch.signed_indexes_.push_back(sig.batch_index);
  }
  if (!crypto::Ed25519Verify(
          key, BatchSignatureMessage(first.batch_size, first.batch_root),
          first.signature)) {
    return absl::UnauthenticatedError(StrCat(
        "entry ", entries[0]->index,
        ": emitter.signature: does not verify over batch_root ",
        HexPrefix(first.batch_root), " for key ", HexPrefix(want_key_id)));
  }
  batch.events_ = std::move(events);
  batch.key_id_ = want_key_id;
  batch.root_ = first.batch_root;
  batch.signature_ = first.signature;
  batch.signed_size_ = first.batch_size;
  return batch;
}

}  // namespace ledger
