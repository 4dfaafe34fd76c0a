#include <sodium.h>

#include <chrono>

#include "base/strings.h"
#include "crypto/sha256.h"
#include "ledger/entry.h"
#include "tools/bench/peers.h"

namespace ledger::bench {

absl::StatusOr<Ed25519Result> RunEd25519Ceiling(const Ed25519Options& options) {
  using Clock = std::chrono::steady_clock;
  // A pool of distinct messages (so no cache helps), reused round-robin
  // when more verifications than messages are asked for.
  const size_t pool = static_cast<size_t>(
      std::min<uint64_t>(std::max<uint64_t>(options.signatures, 1), 4096));
  const crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  std::vector<std::string> messages;
  std::vector<crypto::Ed25519Signature> signatures;
  for (size_t i = 0; i < pool; ++i) {
    messages.push_back(BatchSignatureMessage(
        options.batch_size, crypto::Sha256Digest(StrCat("batch ", i))));
    signatures.push_back(key.Sign(messages.back()));
  }
  const crypto::Ed25519PublicKey& pk = key.public_key();
  Ed25519Result result;
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop_at =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(options.max_seconds));
  for (uint64_t i = 0; i < options.signatures; ++i) {
    // Check the clock every 256 verifications (each takes tens of us).
    if ((i & 255) == 0 && Clock::now() >= stop_at) break;
    const std::string& m = messages[i % pool];
    if (crypto_sign_verify_detached(
            signatures[i % pool].data(),
            reinterpret_cast<const unsigned char*>(m.data()), m.size(),
            pk.data()) != 0) {
      return absl::InternalError("a valid signature did not verify");
    }
    ++result.verifications;
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace ledger::bench
