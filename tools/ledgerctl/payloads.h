#pragma once

// Encrypted payloads from the shell (ledger/FORMAT.md section 3.4): the
// payload keys `ledgerctl append` encrypts `payload_plaintext` under, the
// decrypted view `ledgerctl get` prints, and `ledgerctl admin
// erase-subject`.

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "base/sync.h"
#include "ledger/payload.h"
#include "ledger/v1/ingest.grpc.pb.h"
#include "ledger/v1/query.pb.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/event_lines.h"

namespace ledger::ctl {

struct PayloadKeyMaterial {
  PayloadKeyId key_id{};
  crypto::AeadKey key{};
};

// Where payload keys come from. Thread-safe.
class PayloadKeySource {
 public:
  virtual ~PayloadKeySource() = default;
  virtual absl::StatusOr<PayloadKeyMaterial> Get(std::string_view tenant,
                                                 std::string_view subject) = 0;
};

// Ingest.GetPayloadKey on the node, each (tenant, subject) asked once and
// remembered (in memory only, wiped on destruction). Connects on first use.
class NodePayloadKeys final : public PayloadKeySource {
 public:
  explicit NodePayloadKeys(ConnectionOptions conn) : conn_(std::move(conn)) {}
  ~NodePayloadKeys() override;
  absl::StatusOr<PayloadKeyMaterial> Get(std::string_view tenant,
                                         std::string_view subject) override;

 private:
  const ConnectionOptions conn_;
  Mutex mu_;
  std::unique_ptr<v1::Ingest::Stub> stub_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::pair<std::string, std::string>, PayloadKeyMaterial>
      cache_ ABSL_GUARDED_BY(mu_);
};

// Encrypts `plain` (an event line's payload_plaintext, event_lines.h)
// under the subject's key from `keys` for `event` (its
// tenant and event_id), into event->payload and proto->payload.
absl::Status EncryptPayload(const PlaintextPayload& plain,
                            PayloadKeySource& keys, Event* event,
                            v1::Event* proto);

// The PayloadView of a queried entry as JSON: {"state": "PLAINTEXT",
// "plaintext": "...", "key_id": hex} (plaintext that is not UTF-8 comes as
// "plaintext_base64"), {"state": "ERASED", "erased_by": N, ...},
// {"state": "NONE"}, ...
Json PayloadViewJson(const v1::PayloadView& view);

// Admin.EraseSubject; prints the key.erased entry's EntryRef JSON with the
// erased key's "payload_key_id".
absl::Status RunEraseSubject(const ConnectionOptions& conn,
                             std::string_view subject, std::string_view tenant,
                             std::string_view reason, std::ostream& out);

}  // namespace ledger::ctl
