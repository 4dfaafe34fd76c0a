#include "tools/bench/verify_offline.h"

#include <chrono>

#include "absl/container/flat_hash_set.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"

namespace ledger::bench {
namespace {

// Emitter signatures already verified, by batch root || signature.
class SignatureCache {
 public:
  bool Contains(const EmitterSignature& sig) const {
    return seen_.contains(Key(sig));
  }
  void Add(const EmitterSignature& sig) {
    if (seen_.size() >= kMaxSize) seen_.clear();
    seen_.insert(Key(sig));
  }

 private:
  static constexpr size_t kMaxSize = 1 << 20;
  static std::string Key(const EmitterSignature& sig) {
    return StrCat(crypto::AsView(sig.batch_root),
                  crypto::AsView(sig.signature));
  }
  absl::flat_hash_set<std::string> seen_;
};

absl::Status CheckEmitter(const OfflineLedger& ledger, const Entry& entry,
                          SignatureCache& cache, uint64_t* verifications) {
  const EmitterSignature& sig = entry.emitter;
  auto key = ledger.keys.find(sig.key_id);
  if (key == ledger.keys.end()) {
    return absl::DataLossError(
        StrCat("unknown key ID ", crypto::HexEncode(sig.key_id)));
  }
  LEDGER_ASSIGN_OR_RETURN(
      Hash root,
      RootFromInclusionProof(crypto::HashLeaf(entry.event_bytes),
                             sig.batch_index, sig.batch_size, sig.audit_path));
  if (root != sig.batch_root) {
    return absl::DataLossError("audit path does not lead to the batch root");
  }
  if (cache.Contains(sig)) return absl::OkStatus();
  ++*verifications;
  if (!crypto::Ed25519Verify(
          key->second, BatchSignatureMessage(sig.batch_size, sig.batch_root),
          sig.signature)) {
    return absl::DataLossError("emitter signature does not verify");
  }
  cache.Add(sig);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OfflineResult> VerifyOffline(const OfflineLedger& ledger,
                                            bool signatures) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  LEDGER_ASSIGN_OR_RETURN(
      VerifiedCheckpoint checkpoint,
      OpenCheckpoint(ledger.checkpoint_note, ledger.log_keys));
  if (checkpoint.checkpoint.size != ledger.entries.size()) {
    return absl::InvalidArgumentError(
        StrCat("checkpoint of size ", checkpoint.checkpoint.size, " for ",
               ledger.entries.size(), " entries"));
  }
  OfflineResult result;
  SignatureCache cache;
  CompactRange range;
  Hash chain{};
  for (uint64_t i = 0; i < ledger.entries.size(); ++i) {
    const std::string& bytes = ledger.entries[i];
    absl::StatusOr<Entry> entry = DecodeEntry(bytes);
    if (!entry.ok()) return Annotate(entry.status(), StrCat("entry ", i));
    if (entry->index != i || entry->prev_chain_hash != chain) {
      return absl::DataLossError(
          StrCat("entry ", i, ": wrong index or prev_chain_hash"));
    }
    const Hash leaf = crypto::HashLeaf(bytes);
    chain = ChainHash(chain, leaf);
    range.Append(leaf);
    if (signatures) {
      absl::Status s =
          CheckEmitter(ledger, *entry, cache, &result.signature_verifications);
      if (!s.ok()) return Annotate(s, StrCat("entry ", i));
    }
  }
  if (range.Root() != checkpoint.checkpoint.root) {
    return absl::DataLossError(
        "the entries' Merkle root differs from the checkpoint's");
  }
  result.entries = ledger.entries.size();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace ledger::bench
