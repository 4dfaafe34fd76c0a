#pragma once

// Benchmark scenarios over a real ledger-node: a node with a registered
// emitter key (BenchNode) and ingest runs against it (RunIngest), each
// reported as JSON with throughput, latency, node CPU and disk use.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "crypto/note.h"
#include "nlohmann/json.hpp"
#include "tools/bench/load.h"
#include "tools/bench/node_process.h"
#include "tools/bench/verify_offline.h"

namespace ledger::bench {

inline constexpr char kTenant[] = "bench";

class BenchTls;

struct BenchEnv {
  std::string node_binary;
  std::string work_dir;  // parent of temporary directories; "" = /tmp
  std::string node_log_level = "warn";
  bool keep = false;  // keep data directories and logs
  uint64_t seed = 1;
  // Set: every node started runs mutual TLS with authorization, with these
  // certificates (bench_tls.h); null: plaintext (--insecure-plaintext).
  std::shared_ptr<const BenchTls> tls;
  std::string dev_ca_script;  // deploy/dev-ca.sh, for --tls and `tls`
  // --connect modes: how to reach a node that is already running.
  client_tls::ClientFlags client;
};

// A fresh node in its own temporary directory with an emitter key
// registered for kTenant, plaintext or mTLS as env.tls says. Stops the
// node and removes the directory (unless env.keep) on destruction.
class BenchNode {
 public:
  // `health_endpoint`: the node also serves health alone on a port of its
  // own (NodeProcess::health_target()); `http_endpoint`: its HTTP port
  // (NodeProcess::http_target()).
  static absl::StatusOr<std::unique_ptr<BenchNode>> Start(
      const BenchEnv& env, bool health_endpoint = false,
      bool http_endpoint = false);
  ~BenchNode();

  NodeProcess& node() { return *node_; }
  const crypto::NoteSigner& emitter() const { return emitter_; }
  // The payload key the workloads seal their padding under.
  const PayloadSeal& payload_seal() const { return payload_seal_; }
  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }

  // Stops the node (idempotent); its data directory stays until
  // destruction.
  absl::Status Stop();

 private:
  BenchNode(const BenchEnv& env, crypto::NoteSigner emitter)
      : env_(env), emitter_(std::move(emitter)) {}
  BenchEnv env_;
  crypto::NoteSigner emitter_;
  PayloadSeal payload_seal_;
  std::string dir_;
  uint64_t cleanup_ = 0;
  std::unique_ptr<NodeProcess> node_;
};

struct IngestSpec {
  std::string name;
  Rpc rpc = Rpc::kAppendBatch;
  // One signature per event: every request (Append) or stream message
  // (AppendStream) is a batch of one. Otherwise one per batch_size events.
  bool per_event_signatures = false;
  uint32_t batch_size = 100;
  int clients = 4;
  uint64_t events = 20000;
  double rate = 0;  // open loop, requests/s; 0: closed loop
  double max_seconds = 30;
  uint32_t stream_messages = 50;
  uint64_t warmup_events = 1000;  // sent first, not measured
  uint32_t event_bytes = 1024;
};

// Checks that the spec is runnable (InvalidArgument saying why not).
absl::Status ValidateSpec(const IngestSpec& spec);

// Builds the spec's workload (events numbered from `first_event`), runs the
// warm-up and then the measured load against `node`, and returns the run as
// JSON: spec fields, events, seconds, events_per_second, latency, node and
// client CPU, failures, ledger disk bytes.
absl::StatusOr<nlohmann::json> RunIngest(BenchNode& node,
                                         const IngestSpec& spec, uint64_t seed,
                                         uint64_t first_event);
// The same against any node (a cluster's leader): the load is signed with
// `key` (registered with the node) and its padding sealed under `seal` (a
// payload key the node holds); `data_dir` is the node's, for its disk use.
absl::StatusOr<nlohmann::json> RunIngestOn(NodeProcess& node,
                                           const crypto::Ed25519PrivateKey& key,
                                           const PayloadSeal& seal,
                                           const std::string& data_dir,
                                           const IngestSpec& spec,
                                           uint64_t seed, uint64_t first_event);

// Appends `events` batch-signed events (batches of 1000, two streams,
// generated in chunks so memory stays bounded), numbered from
// `first_event`; returns the events-per-second of the fill.
absl::StatusOr<double> FillLedger(BenchNode& node, uint64_t events,
                                  uint64_t seed, uint64_t first_event);

// Runs the raw RocksDB and Ed25519 peers on the spec's own records (same
// seed and event numbers; group = batch_size x clients events) and returns
// {"raw_rocksdb": ..., "ed25519": ...}.
absl::StatusOr<nlohmann::json> RunLocalPeers(const BenchEnv& env,
                                             const IngestSpec& spec,
                                             uint64_t first_event);

// The Ed25519 ceiling for messages of `batch_size` events, measured for
// about as long as a run of `events` events needs (0.3-2 s):
// {batch_size, verifications, seconds, verifications_per_second}.
absl::StatusOr<nlohmann::json> RunEd25519Peer(uint32_t batch_size,
                                              uint64_t events);

// Fetches entries [0, checkpoint size) and the keys from `node` (whose
// latest checkpoint must cover `min_size`) for offline verification.
absl::StatusOr<OfflineLedger> FetchOfflineLedger(NodeProcess& node,
                                                 uint64_t min_size);

// Runs both offline verification modes; JSON with entries_per_second.
absl::StatusOr<nlohmann::json> RunOfflineVerification(
    const OfflineLedger& ledger);

}  // namespace ledger::bench
