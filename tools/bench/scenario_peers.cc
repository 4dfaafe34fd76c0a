// The in-process peers and offline verification of scenario.h.

#include <algorithm>
#include <filesystem>

#include "base/status_macros.h"
#include "base/strings.h"
#include "grpcpp/grpcpp.h"
#include "ledger/entry.h"
#include "ledger/v1/query.grpc.pb.h"
#include "tools/bench/cleanup.h"
#include "tools/bench/peers.h"
#include "tools/bench/report.h"
#include "tools/bench/scenario.h"

namespace ledger::bench {

using nlohmann::json;

absl::StatusOr<json> RunLocalPeers(const BenchEnv& env, const IngestSpec& spec,
                                   uint64_t first_event) {
  json out;
  const uint32_t batch = spec.per_event_signatures ? 1 : spec.batch_size;
  {
    WorkloadOptions w;
    w.tenant = kTenant;
    w.seed = env.seed;
    w.first_event = first_event;
    w.events = spec.events;
    w.batch_size = batch;
    w.event_bytes = spec.event_bytes;
    w.keep_event_bytes = true;
    const crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
    LEDGER_ASSIGN_OR_RETURN(std::vector<SignedBatch> batches,
                            BuildWorkload(w, key));
    RawRocksOptions options;
    options.dir = MakeTempDir(env.work_dir, "ledger-bench-rocks");
    if (options.dir.empty()) {
      return absl::InternalError("cannot create a temporary directory");
    }
    const std::string dir = options.dir;
    uint64_t cleanup = RegisterCleanup([dir] { RemoveTree(dir); });
    // The node groups whatever is queued: at most every client's request.
    options.group_events =
        batch * static_cast<uint32_t>(std::max(1, spec.clients));
    options.max_seconds = spec.max_seconds;
    absl::StatusOr<RawRocksResult> raw =
        RunRawRocks(batches, key.public_key(), options);
    UnregisterCleanup(cleanup);
    RemoveTree(dir);
    if (!raw.ok()) return Annotate(raw.status(), "raw RocksDB peer");
    out["raw_rocksdb"] =
        json{{"events", raw->events},
             {"groups", raw->groups},
             {"group_events", options.group_events},
             {"seconds", raw->seconds},
             {"events_per_second", raw->events_per_second()},
             {"entry_bytes", raw->entry_bytes},
             {"disk_bytes", raw->disk_bytes},
             {"write_latency", HistogramJson(raw->group_latency)}};
  }
  LEDGER_ASSIGN_OR_RETURN(out["ed25519"], RunEd25519Peer(batch, spec.events));
  return out;
}

absl::StatusOr<json> RunEd25519Peer(uint32_t batch_size, uint64_t events) {
  Ed25519Options ed;
  ed.batch_size = batch_size;
  // A rate: about a second is plenty, less for smoke-sized runs.
  ed.signatures = 100000;
  ed.max_seconds = std::clamp(static_cast<double>(events) / 20000.0, 0.3, 2.0);
  LEDGER_ASSIGN_OR_RETURN(Ed25519Result sig, RunEd25519Ceiling(ed));
  return json{{"batch_size", batch_size},
              {"verifications", sig.verifications},
              {"seconds", sig.seconds},
              {"verifications_per_second", sig.verifications_per_second()}};
}

absl::StatusOr<OfflineLedger> FetchOfflineLedger(NodeProcess& node,
                                                 uint64_t min_size) {
  OfflineLedger ledger;
  LEDGER_ASSIGN_OR_RETURN(v1::Checkpoint checkpoint,
                          node.WaitForCheckpoint(min_size, 60));
  ledger.checkpoint_note = checkpoint.note();
  LEDGER_ASSIGN_OR_RETURN(v1::NodeInfo info, node.GetNodeInfo());
  for (const std::string& vkey : info.note_verifier_keys()) {
    LEDGER_ASSIGN_OR_RETURN(crypto::NoteVerifier v,
                            crypto::ParseVerifierKey(vkey));
    ledger.log_keys.push_back(v);
  }
  LEDGER_ASSIGN_OR_RETURN(std::vector<v1::KeyInfo> keys, node.ListKeys());
  for (const v1::KeyInfo& k : keys) {
    LEDGER_ASSIGN_OR_RETURN(crypto::Hash id, crypto::ToArray<crypto::kHashSize>(
                                                 k.key_id(), "key_id"));
    LEDGER_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey pk,
                            crypto::ToArray<crypto::kEd25519PublicKeySize>(
                                k.public_key(), "public_key"));
    ledger.keys[id] = pk;
  }
  auto stub = v1::Query::NewStub(node.channel());
  const uint64_t size = checkpoint.size();
  ledger.entries.reserve(size);
  while (ledger.entries.size() < size) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(120));
    v1::GetEntriesRequest request;
    request.set_start(ledger.entries.size());
    request.set_end(size);
    auto reader = stub->GetEntries(&ctx, request);
    v1::Entry entry;
    const size_t before = ledger.entries.size();
    while (reader->Read(&entry) && ledger.entries.size() < size) {
      ledger.entries.push_back(std::move(*entry.mutable_entry_bytes()));
    }
    grpc::Status status = reader->Finish();
    if (!status.ok()) {
      return absl::UnavailableError(
          StrCat("GetEntries: ", status.error_message()));
    }
    if (ledger.entries.size() == before) {
      return absl::DataLossError(
          StrCat("GetEntries returned nothing at ", before, " of ", size));
    }
  }
  return ledger;
}

absl::StatusOr<json> RunOfflineVerification(const OfflineLedger& ledger) {
  LEDGER_ASSIGN_OR_RETURN(OfflineResult hash, VerifyOffline(ledger, false));
  LEDGER_ASSIGN_OR_RETURN(OfflineResult sig, VerifyOffline(ledger, true));
  uint64_t bytes = 0;
  for (const std::string& e : ledger.entries) bytes += e.size();
  return json{
      {"entries", hash.entries},
      {"mean_entry_bytes",
       hash.entries > 0 ? static_cast<double>(bytes) / hash.entries : 0.0},
      {"hash_path", json{{"seconds", hash.seconds},
                         {"entries_per_second", hash.entries_per_second()}}},
      {"with_signatures",
       json{{"seconds", sig.seconds},
            {"entries_per_second", sig.entries_per_second()},
            {"ed25519_verifications", sig.signature_verifications}}}};
}

}  // namespace ledger::bench
