#include "tools/bench/inproc.h"

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/entry.h"
#include "ledger/entry_keys.h"
#include "tools/bench/cleanup.h"

namespace ledger::bench {

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t NsSince(InprocClock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(InprocClock::now() -
                                                           t0)
          .count());
}

Uuid BenchUuid(uint64_t n) {
  Uuid u{};
  u[0] = 0xbe;
  for (size_t i = 0; i < 8; ++i)
    u[8 + i] = static_cast<uint8_t>(n >> (8 * (7 - i)));
  u[6] = 0x40;
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);
  return u;
}

absl::StatusOr<VerifiedBatch> SignEvents(std::vector<Event> events,
                                         const crypto::Ed25519PrivateKey& key) {
  std::vector<std::string> bytes;
  bytes.reserve(events.size());
  for (const Event& e : events) bytes.push_back(EncodeEvent(e));
  const crypto::Ed25519Signature sig = SignBatch(key, bytes);
  return VerifyBatch(std::move(events), KeyIdOf(key.public_key()),
                     key.public_key(), sig, EventLimits{});
}

absl::Status AppendChecked(Ledger& ledger, const VerifiedBatch& batch) {
  const VerifiedBatch* batches[] = {&batch};
  GroupResult g = ledger.Append(batches, WallNowNs());
  LEDGER_RETURN_IF_ERROR(g.status);
  return g.batches[0].status;
}

BenchKeys::BenchKeys(std::string origin_name, std::string tenant_name)
    : origin(std::move(origin_name)),
      tenant(std::move(tenant_name)),
      node(crypto::Ed25519PrivateKey::Generate()),
      emitter(crypto::Ed25519PrivateKey::Generate()),
      log(origin, crypto::NoteSigType::kEd25519, node) {}

absl::StatusOr<std::unique_ptr<Ledger>> OpenFreshLedger(
    const std::string& dir, const BenchKeys& keys,
    const std::function<void(LedgerOptions&)>& configure) {
  LedgerOptions options;
  options.origin = keys.origin;
  options.checkpoint_verifiers = {keys.log.verifier()};
  options.node_key = keys.node;
  if (configure) configure(options);
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger,
                          Ledger::Open(dir, std::move(options)));
  const int64_t now = WallNowNs();
  KeyInfo node;
  node.key_id = KeyIdOf(keys.node.public_key());
  node.public_key = keys.node.public_key();
  node.name = keys.origin;
  node.role = KeyRole::kNode;
  node.valid_from_ns = now;
  KeyInfo emitter;
  emitter.key_id = KeyIdOf(keys.emitter.public_key());
  emitter.public_key = keys.emitter.public_key();
  emitter.name = "bench-emitter";
  emitter.tenant = keys.tenant;
  emitter.role = KeyRole::kEmitter;
  emitter.valid_from_ns = now;
  uint64_t n = 0;
  for (const KeyInfo* info : {&node, &emitter}) {
    Event e = KeyRegisteredEvent(*info);
    e.event_id = BenchUuid(++n);
    e.occurred_at_ns = now;
    e.producer = "ledger-bench";
    e.actor = {ActorKind::kService, "ledger-bench", "node"};
    std::vector<Event> events;
    events.push_back(std::move(e));
    LEDGER_ASSIGN_OR_RETURN(VerifiedBatch batch,
                            SignEvents(std::move(events), keys.node));
    LEDGER_RETURN_IF_ERROR(AppendChecked(*ledger, batch));
  }
  return ledger;
}

absl::StatusOr<double> TimedIngest(
    const std::string& parent, const BenchKeys& keys,
    const std::vector<VerifiedBatch>& batches,
    const std::function<void(LedgerOptions&)>& configure,
    const std::function<absl::Status(Ledger&)>& prepare) {
  const std::string dir = MakeTempDir(parent, "ledger-bench-ingest");
  if (dir.empty()) return absl::InternalError("cannot create a directory");
  const uint64_t cleanup = RegisterCleanup([dir] { RemoveTree(dir); });
  double rate = 0;
  {
    LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger,
                            OpenFreshLedger(dir, keys, configure));
    if (prepare) LEDGER_RETURN_IF_ERROR(prepare(*ledger));
    uint64_t events = 0;
    const InprocClock::time_point t0 = InprocClock::now();
    for (const VerifiedBatch& b : batches) {
      LEDGER_RETURN_IF_ERROR(AppendChecked(*ledger, b));
      events += b.size();
    }
    const double seconds = static_cast<double>(NsSince(t0)) / 1e9;
    rate = seconds > 0 ? static_cast<double>(events) / seconds : 0;
  }
  UnregisterCleanup(cleanup);
  RemoveTree(dir);
  return rate;
}

}  // namespace ledger::bench
