#pragma once

// The node's configuration: built-in defaults, overridden by a TOML file,
// overridden by command-line flags. Example file:
//
//   data_dir = "/var/lib/ledger"
//   listen = "0.0.0.0:7400"
//   health_listen = "0.0.0.0:7401" # health alone, on a server of its own
//   http_listen = "0.0.0.0:7402"   # tlog-tiles and /metrics over HTTP(S)
//   node_name = "node-1"
//   checkpoint_interval = "1s"     # or a number of seconds
//   empty_interval = "60s"
//   max_group_events = 20000
//   max_message_bytes = 16777216
//   block_cache_bytes = 1073741824 # RocksDB block cache (tiles, indexes)
//   max_queued_events = 200000    # pushback bounds of the append queue
//   max_queued_bytes = 268435456
//   grpc_memory_bytes = 268435456 # gRPC's own buffers (resource quota)
//   full_check_max_entries = 1000000 # verify all on start up to this size
//   scrub_rate = 500000           # background re-verification, entries/s
//   scrub_interval = "24h"
//   log_level = "info"            # trace debug info warn error critical off
//   insecure_plaintext = false    # true: no TLS, no authorization
//   idle_timeout = "5m"           # idle connections are closed
//   reflection = false            # gRPC server reflection (admin only)
//   rate_limit_per_identity = 20000 # requests/s per caller; 0: no limit
//   rate_limit_burst = 40000
//   access_denied_interval = "10s" # at most one access.denied entry per
//                                  # identity this often
//   max_future_skew = "5m"        # occurred_at at most this far ahead ...
//   max_event_age = "400d"        # ... and at most this far behind the clock
//   provenance_max_depth = 16     # provenance graph queries: deepest walk,
//   provenance_max_nodes = 10000  # largest answer (nodes, edges and
//   provenance_max_edges = 50000  # entries read)
//   [limits]                      # ledger::EventLimits
//   max_event_bytes = 65536
//   [tls]                         # mutual TLS; paths relative to the file
//   ca_file = "ca.pem"
//   cert_file = "node.pem"
//   key_file = "node.key"         # refused if group/world-readable
//   [access]
//   policy_file = "access-policy.toml"  # node/access_policy.h
//   [cluster]                     # a node of a replicated cluster
//   listen = "127.0.0.1:7411"     # replication between nodes (own port)
//   etcd_endpoints = ["127.0.0.1:2379", "127.0.0.1:2479", "127.0.0.1:2579"]
//   log_key_file = "log.key"      # the log key all nodes share
//   lease_ttl = "5s"              # a dead leader is replaced after about this
//   commit_timeout = "10s"        # waiting for a majority, then for etcd
//   [[cluster.peers]]             # every other node of the cluster
//   name = "node-2"
//   address = "127.0.0.1:7500"    # its client API (appends are sent there)
//   cluster_address = "127.0.0.1:7511"  # its cluster.listen
//
// Unknown keys are errors, so a typo never silently falls back to a default.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ledger/event.h"
#include "ledger/ledger.h"
#include "ledger/provenance.h"

namespace ledger::node {

// [cluster] (docs/cluster.md). Empty listen: a single node.
struct ClusterPeer {
  std::string name;
  std::string address;          // its client API, for redirected appends
  std::string cluster_address;  // its replication listener
};

struct ClusterConfig {
  std::string listen;
  std::vector<std::string> etcd_endpoints;  // IPv4 "a.b.c.d:port"
  std::string log_key_file;
  absl::Duration lease_ttl = absl::Seconds(5);
  absl::Duration commit_timeout = absl::Seconds(10);
  std::vector<ClusterPeer> peers;
  // TLS to etcd: all three set (PEM files: the CA that signed the members'
  // certificates, this node's client certificate and key), or none
  // (plaintext). etcd_tls_name: the name the members' certificates are
  // checked against (a DNS or IP SAN they all carry); default the first
  // endpoint's address.
  std::string etcd_ca_file;
  std::string etcd_cert_file;
  std::string etcd_key_file;
  std::string etcd_tls_name;
  bool enabled() const { return !listen.empty(); }
};

struct NodeConfig {
  std::string data_dir;  // required
  std::string listen = "127.0.0.1:7400";
  // Empty: off. Otherwise "host:port" of a second gRPC server that serves
  // only grpc.health.v1.Health, with the same statuses and the same
  // transport security as `listen`, and its own small gRPC memory quota
  // (docs/decisions.md, "A health endpoint of its own": under a flood it
  // misses as many checks as `listen` does).
  std::string health_listen;
  // Empty: off. Otherwise "host:port" of the HTTP port (node/http_server.h):
  // the log as c2sp.org/tlog-tiles (checkpoint, tiles, entry bundles) and
  // /metrics, with the same transport security and access policy as
  // `listen`.
  std::string http_listen;
  // Empty: the origin stored in the data directory, or on first start a new
  // "annotation-ledger.local/<8 hex>". A non-empty value must match the
  // stored one.
  std::string origin;
  std::string node_name = "node-1";
  absl::Duration checkpoint_interval = absl::Seconds(1);
  absl::Duration empty_interval = absl::Seconds(60);
  size_t max_group_events = 20000;  // events per sequencer group
  // Largest request; with grpc_memory_bytes it bounds what requests being
  // received and verified can hold (docs/decisions.md, "Per-request
  // memory").
  size_t max_message_bytes = 16 << 20;
  // RocksDB's block cache, shared by every column family. Proofs read one
  // leaf tile each (32 bytes per entry in all): a cache that holds them
  // keeps proofs off the disk.
  size_t block_cache_bytes = ledger::kDefaultBlockCacheBytes;
  // Pushback: batches admitted and not yet acknowledged hold at most this
  // many events and canonical event bytes; past it appends get
  // RESOURCE_EXHAUSTED with a retry hint and streams stop being read.
  size_t max_queued_events = 200'000;
  size_t max_queued_bytes = size_t{256} << 20;
  // gRPC's buffers for requests being received and responses being sent
  // (its resource quota): past it gRPC stops reading from connections and
  // closes some of them.
  size_t grpc_memory_bytes = size_t{256} << 20;
  // On start the whole ledger is re-verified up to this many entries
  // (about a second per million); above it, only what the last checkpoint
  // does not cover, and the background scrub does the rest.
  uint64_t full_check_max_entries = 1'000'000;
  // The background scrub: entries per second (0: off), and the time
  // between scrubs.
  uint64_t scrub_rate = 500'000;
  absl::Duration scrub_interval = absl::Hours(24);
  EventLimits limits;
  std::string log_level = "info";

  // Transport security: mutual TLS ([tls] and [access]), or explicitly
  // none. Exactly one of the two; ValidateConfig refuses neither and both.
  // With insecure_plaintext every caller is the identity
  // "insecure-plaintext" with every role and every tenant.
  bool insecure_plaintext = false;
  // [tls]: PEM files (relative paths in a config file are relative to its
  // directory). All three, or none.
  std::string tls_ca_file;    // CA bundle client certificates chain to
  std::string tls_cert_file;  // this node's certificate chain
  std::string tls_key_file;   // its private key, mode 0600 or stricter
  // [access] policy_file: identities -> role and tenants
  // (node/access_policy.h). Required with [tls].
  std::string access_policy_file;
  // Connections idle this long are closed (GRPC_ARG_MAX_CONNECTION_IDLE_MS).
  absl::Duration idle_timeout = absl::Minutes(5);
  // gRPC server reflection; only the admin role may call it.
  bool reflection = false;
  // Per-identity token bucket (requests per second, 0: no limit; burst).
  uint64_t rate_limit_per_identity = 20'000;
  uint64_t rate_limit_burst = 40'000;
  // An identity's denied requests become at most one access.denied entry
  // per this interval, carrying how many denials it stands for.
  absl::Duration access_denied_interval = absl::Seconds(10);

  bool tls_configured() const {
    return !tls_ca_file.empty() || !tls_cert_file.empty() ||
           !tls_key_file.empty();
  }
  // Appends whose events' occurred_at lies outside [clock - max_event_age,
  // clock + max_future_skew] are refused (InvalidArgument naming the event).
  absl::Duration max_future_skew = absl::Minutes(5);
  absl::Duration max_event_age = absl::Hours(24 * 400);
  // Bounds of the provenance graph queries (ledger/provenance.h):
  // provenance_max_depth, provenance_max_nodes, provenance_max_edges.
  ledger::ProvenanceLimits provenance;
  ClusterConfig cluster;
};

// Command-line values; each set one replaces the file's value.
struct ConfigOverrides {
  std::optional<std::string> data_dir;
  std::optional<std::string> listen;
  std::optional<std::string> health_listen;  // --health-listen
  std::optional<std::string> http_listen;    // --http-listen
  std::optional<std::string> origin;
  std::optional<std::string> node_name;
  std::optional<std::string> log_level;
  std::optional<bool> insecure_plaintext;  // --insecure-plaintext
};

// Applies TOML `text` on top of `base`. `source` (a file name) prefixes
// error messages, which name the line and key: InvalidArgument for syntax
// errors, unknown keys and values of the wrong type or range.
absl::StatusOr<NodeConfig> ParseConfig(std::string_view text,
                                       std::string_view source,
                                       NodeConfig base = {});

// Reads and parses a file (NotFound if it is missing).
absl::StatusOr<NodeConfig> LoadConfigFile(const std::string& path,
                                          NodeConfig base = {});

void ApplyOverrides(const ConfigOverrides& overrides, NodeConfig* config);

// Checks the assembled configuration: data_dir set, listen "host:port"
// (and health_listen, if set, another "host:port"),
// names usable as note key names, positive intervals and limits, a known
// log level. InvalidArgument naming the setting.
absl::Status ValidateConfig(const NodeConfig& config);

// For a node that serves (not for `ledger-node verify`): transport security
// chosen, [tls] with [access] or insecure_plaintext, not both, not neither;
// positive idle_timeout, access_denied_interval and rate_limit_burst.
// InvalidArgument naming the settings.
absl::Status ValidateTransport(const NodeConfig& config);

// Splits "host:port" ("[::1]:7400" too); InvalidArgument otherwise.
absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(
    std::string_view address);

}  // namespace ledger::node
