#include "node/config.h"

#include <toml++/toml.h>

#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <utility>

#include "base/strings.h"
#include "crypto/key_file.h"
#include "crypto/note.h"

namespace ledger::node {
namespace {

constexpr std::array<std::string_view, 7> kLogLevels = {
    "trace", "debug", "info", "warn", "error", "critical", "off"};

// Error context "file:line: key".
std::string Where(std::string_view source, const toml::node& node,
                  std::string_view key) {
  return StrCat(source, ":", static_cast<uint64_t>(node.source().begin.line),
                ": ", key);
}

absl::Status GetString(std::string_view where, const toml::node& node,
                       std::string* out) {
  const toml::value<std::string>* v = node.as_string();
  if (v == nullptr) {
    return absl::InvalidArgumentError(StrCat(where, ": must be a string"));
  }
  *out = v->get();
  return absl::OkStatus();
}

absl::Status GetBool(std::string_view where, const toml::node& node,
                     bool* out) {
  const toml::value<bool>* v = node.as_boolean();
  if (v == nullptr) {
    return absl::InvalidArgumentError(StrCat(where, ": must be true or false"));
  }
  *out = v->get();
  return absl::OkStatus();
}

// A file name; a relative one is taken relative to the directory of the
// config file `source` (so a config and its certificates move together).
absl::Status GetPath(std::string_view where, std::string_view source,
                     const toml::node& node, std::string* out) {
  std::string path;
  if (absl::Status s = GetString(where, node, &path); !s.ok()) return s;
  if (path.empty()) {
    return absl::InvalidArgumentError(StrCat(where, ": must not be empty"));
  }
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(source).parent_path() / p;
  *out = p.string();
  return absl::OkStatus();
}

template <typename T>
absl::Status GetUint(std::string_view where, const toml::node& node, T* out,
                     bool allow_zero = false) {
  const toml::value<int64_t>* v = node.as_integer();
  if (v == nullptr) {
    return absl::InvalidArgumentError(StrCat(where, ": must be an integer"));
  }
  int64_t n = v->get();
  const int64_t min = allow_zero ? 0 : 1;
  if (n < min || static_cast<uint64_t>(n) > std::numeric_limits<T>::max()) {
    return absl::InvalidArgumentError(StrCat(
        where, ": must be between ", min, " and ",
        static_cast<uint64_t>(std::numeric_limits<T>::max()), ", got ", n));
  }
  *out = static_cast<T>(n);
  return absl::OkStatus();
}

// absl::ParseDuration, and also a number of days: "400d", "1.5d".
bool ParseDurationWithDays(const std::string& text, absl::Duration* out) {
  if (absl::ParseDuration(absl::string_view(text.data(), text.size()), out)) {
    return true;
  }
  if (text.size() < 2 || text.back() != 'd') return false;
  double days = 0;
  const char* end = text.data() + text.size() - 1;
  auto r = std::from_chars(text.data(), end, days);
  if (r.ec != std::errc() || r.ptr != end || !std::isfinite(days)) {
    return false;
  }
  *out = absl::Hours(24) * days;
  return true;
}

// A number of seconds, or a string such as "1s", "500ms", "2m", "400d".
absl::Status GetDuration(std::string_view where, const toml::node& node,
                         absl::Duration* out) {
  if (const auto* i = node.as_integer()) {
    *out = absl::Seconds(i->get());
  } else if (const auto* f = node.as_floating_point()) {
    if (!std::isfinite(f->get())) {
      return absl::InvalidArgumentError(StrCat(where, ": must be finite"));
    }
    *out = absl::Seconds(f->get());
  } else if (const auto* s = node.as_string()) {
    const std::string& text = s->get();
    if (!ParseDurationWithDays(text, out)) {
      return absl::InvalidArgumentError(
          StrCat(where, ": \"", text,
                 "\" is not a duration (examples: \"1s\", \"500ms\", \"2m\", "
                 "\"400d\")"));
    }
  } else {
    return absl::InvalidArgumentError(
        StrCat(where, ": must be a number of seconds or a duration string"));
  }
  if (*out <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(StrCat(where, ": must be positive"));
  }
  return absl::OkStatus();
}

absl::Status ParseLimits(std::string_view source, const toml::table& table,
                         EventLimits* limits) {
  for (auto&& [key, node] : table) {
    std::string_view k = key.str();
    std::string where = Where(source, node, StrCat("limits.", k));
    uint32_t* field = nullptr;
    if (k == "max_event_bytes") field = &limits->max_event_bytes;
    if (k == "max_string_bytes") field = &limits->max_string_bytes;
    if (k == "max_attribute_value_bytes") {
      field = &limits->max_attribute_value_bytes;
    }
    if (k == "max_refs") field = &limits->max_refs;
    if (k == "max_attributes") field = &limits->max_attributes;
    if (k == "max_payload_bytes") field = &limits->max_payload_bytes;
    if (field == nullptr) {
      return absl::InvalidArgumentError(StrCat(where, ": unknown key"));
    }
    if (absl::Status s = GetUint(where, node, field); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ParseTls(std::string_view source, const toml::table& table,
                      NodeConfig* config) {
  for (auto&& [key, node] : table) {
    std::string_view k = key.str();
    std::string where = Where(source, node, StrCat("tls.", k));
    std::string* field = nullptr;
    if (k == "ca_file") field = &config->tls_ca_file;
    if (k == "cert_file") field = &config->tls_cert_file;
    if (k == "key_file") field = &config->tls_key_file;
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          StrCat(where, ": unknown key (known: ca_file, cert_file, key_file)"));
    }
    if (absl::Status s = GetPath(where, source, node, field); !s.ok()) {
      return s;
    }
  }
  if (config->tls_ca_file.empty() || config->tls_cert_file.empty() ||
      config->tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        StrCat(source, ":", static_cast<uint64_t>(table.source().begin.line),
               ": [tls] needs ca_file, cert_file and key_file"));
  }
  return absl::OkStatus();
}

absl::Status ParseAccess(std::string_view source, const toml::table& table,
                         NodeConfig* config) {
  for (auto&& [key, node] : table) {
    std::string_view k = key.str();
    std::string where = Where(source, node, StrCat("access.", k));
    if (k != "policy_file") {
      return absl::InvalidArgumentError(
          StrCat(where, ": unknown key (known: policy_file)"));
    }
    if (absl::Status s =
            GetPath(where, source, node, &config->access_policy_file);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ParseClusterPeer(std::string_view source, const toml::node& node,
                              ClusterConfig* cluster) {
  std::string where = Where(source, node, "cluster.peers");
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return absl::InvalidArgumentError(
        StrCat(where, ": each peer must be a table ([[cluster.peers]])"));
  }
  ClusterPeer peer;
  for (auto&& [key, value] : *table) {
    std::string_view k = key.str();
    std::string at = Where(source, value, StrCat("cluster.peers.", k));
    std::string* field = nullptr;
    if (k == "name") field = &peer.name;
    if (k == "address") field = &peer.address;
    if (k == "cluster_address") field = &peer.cluster_address;
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          StrCat(at, ": unknown key (known: name, address, cluster_address)"));
    }
    if (absl::Status s = GetString(at, value, field); !s.ok()) return s;
  }
  if (peer.name.empty() || peer.address.empty() ||
      peer.cluster_address.empty()) {
    return absl::InvalidArgumentError(
        StrCat(where, ": a peer needs name, address and cluster_address"));
  }
  cluster->peers.push_back(std::move(peer));
  return absl::OkStatus();
}

absl::Status ParseCluster(std::string_view source, const toml::table& table,
                          ClusterConfig* cluster) {
  for (auto&& [key, node] : table) {
    std::string_view k = key.str();
    std::string where = Where(source, node, StrCat("cluster.", k));
    absl::Status s;
    if (k == "listen") {
      s = GetString(where, node, &cluster->listen);
    } else if (k == "log_key_file") {
      s = GetPath(where, source, node, &cluster->log_key_file);
    } else if (k == "lease_ttl") {
      s = GetDuration(where, node, &cluster->lease_ttl);
    } else if (k == "commit_timeout") {
      s = GetDuration(where, node, &cluster->commit_timeout);
    } else if (k == "etcd_ca_file") {
      s = GetPath(where, source, node, &cluster->etcd_ca_file);
    } else if (k == "etcd_cert_file") {
      s = GetPath(where, source, node, &cluster->etcd_cert_file);
    } else if (k == "etcd_key_file") {
      s = GetPath(where, source, node, &cluster->etcd_key_file);
    } else if (k == "etcd_tls_name") {
      s = GetString(where, node, &cluster->etcd_tls_name);
    } else if (k == "etcd_endpoints" || k == "peers") {
      const toml::array* array = node.as_array();
      if (array == nullptr) {
        return absl::InvalidArgumentError(StrCat(where, ": must be an array"));
      }
      for (const toml::node& item : *array) {
        if (k == "peers") {
          s = ParseClusterPeer(source, item, cluster);
        } else {
          std::string endpoint;
          s = GetString(where, item, &endpoint);
          cluster->etcd_endpoints.push_back(std::move(endpoint));
        }
        if (!s.ok()) return s;
      }
    } else {
      return absl::InvalidArgumentError(
          StrCat(where,
                 ": unknown key (known: listen, etcd_endpoints, log_key_file, "
                 "lease_ttl, commit_timeout, peers, etcd_ca_file, "
                 "etcd_cert_file, etcd_key_file, etcd_tls_name)"));
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateCluster(const NodeConfig& config) {
  const ClusterConfig& c = config.cluster;
  if (!c.enabled()) {
    if (!c.etcd_endpoints.empty() || !c.peers.empty() ||
        !c.log_key_file.empty()) {
      return absl::InvalidArgumentError(
          "[cluster] needs listen (the replication address of this node); "
          "without [cluster] the node runs alone");
    }
    return absl::OkStatus();
  }
  if (!SplitHostPort(c.listen).ok() || c.listen == config.listen) {
    return absl::InvalidArgumentError(
        StrCat("cluster.listen: \"", c.listen,
               "\" must be host:port, a port of its own (not listen)"));
  }
  if (c.etcd_endpoints.empty()) {
    return absl::InvalidArgumentError(
        "cluster.etcd_endpoints: name at least one etcd member "
        "(\"127.0.0.1:2379\")");
  }
  if (c.log_key_file.empty() || config.origin.empty()) {
    return absl::InvalidArgumentError(
        "a cluster needs origin and cluster.log_key_file: every node holds "
        "the same log, signed with the same log key");
  }
  if (c.peers.empty()) {
    return absl::InvalidArgumentError(
        "cluster.peers: name the other nodes of the cluster "
        "([[cluster.peers]] with name, address, cluster_address)");
  }
  const int etcd_tls_files = !c.etcd_ca_file.empty() +
                             !c.etcd_cert_file.empty() +
                             !c.etcd_key_file.empty();
  if (etcd_tls_files != 0 && etcd_tls_files != 3) {
    return absl::InvalidArgumentError(
        "cluster.etcd_ca_file, etcd_cert_file and etcd_key_file: TLS to etcd "
        "needs all three (or none: plaintext)");
  }
  if (etcd_tls_files == 0 && !c.etcd_tls_name.empty()) {
    return absl::InvalidArgumentError(
        "cluster.etcd_tls_name is set but TLS to etcd is not (etcd_ca_file, "
        "etcd_cert_file, etcd_key_file)");
  }
  for (const ClusterPeer& p : c.peers) {
    if (p.name == config.node_name) {
      return absl::InvalidArgumentError(
          StrCat("cluster.peers: \"", p.name,
                 "\" is this node's own name; list the other nodes only"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseKey(std::string_view source, std::string_view k,
                      const toml::node& node, NodeConfig* config) {
  std::string where = Where(source, node, k);
  if (k == "data_dir") return GetString(where, node, &config->data_dir);
  if (k == "listen") return GetString(where, node, &config->listen);
  if (k == "health_listen") {
    return GetString(where, node, &config->health_listen);
  }
  if (k == "http_listen") {
    return GetString(where, node, &config->http_listen);
  }
  if (k == "origin") return GetString(where, node, &config->origin);
  if (k == "node_name") return GetString(where, node, &config->node_name);
  if (k == "log_level") return GetString(where, node, &config->log_level);
  if (k == "checkpoint_interval") {
    return GetDuration(where, node, &config->checkpoint_interval);
  }
  if (k == "empty_interval") {
    return GetDuration(where, node, &config->empty_interval);
  }
  if (k == "max_group_events") {
    return GetUint(where, node, &config->max_group_events);
  }
  if (k == "max_message_bytes") {
    return GetUint(where, node, &config->max_message_bytes);
  }
  if (k == "block_cache_bytes") {
    return GetUint(where, node, &config->block_cache_bytes);
  }
  if (k == "max_queued_events") {
    return GetUint(where, node, &config->max_queued_events);
  }
  if (k == "max_queued_bytes") {
    return GetUint(where, node, &config->max_queued_bytes);
  }
  if (k == "grpc_memory_bytes") {
    return GetUint(where, node, &config->grpc_memory_bytes);
  }
  if (k == "full_check_max_entries") {
    return GetUint(where, node, &config->full_check_max_entries, true);
  }
  if (k == "scrub_rate") {
    return GetUint(where, node, &config->scrub_rate, true);
  }
  if (k == "scrub_interval") {
    return GetDuration(where, node, &config->scrub_interval);
  }
  if (k == "max_future_skew") {
    return GetDuration(where, node, &config->max_future_skew);
  }
  if (k == "max_event_age") {
    return GetDuration(where, node, &config->max_event_age);
  }
  if (k == "provenance_max_depth") {
    return GetUint(where, node, &config->provenance.max_depth);
  }
  if (k == "provenance_max_nodes") {
    return GetUint(where, node, &config->provenance.max_nodes);
  }
  if (k == "provenance_max_edges") {
    return GetUint(where, node, &config->provenance.max_edges);
  }
  if (k == "insecure_plaintext") {
    return GetBool(where, node, &config->insecure_plaintext);
  }
  if (k == "reflection") return GetBool(where, node, &config->reflection);
  if (k == "idle_timeout") {
    return GetDuration(where, node, &config->idle_timeout);
  }
  if (k == "rate_limit_per_identity") {
    return GetUint(where, node, &config->rate_limit_per_identity, true);
  }
  if (k == "rate_limit_burst") {
    return GetUint(where, node, &config->rate_limit_burst);
  }
  if (k == "access_denied_interval") {
    return GetDuration(where, node, &config->access_denied_interval);
  }
  if (k == "limits" || k == "tls" || k == "access" || k == "cluster") {
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return absl::InvalidArgumentError(StrCat(where, ": must be a table"));
    }
    if (k == "cluster") return ParseCluster(source, *table, &config->cluster);
    if (k == "tls") return ParseTls(source, *table, config);
    if (k == "access") return ParseAccess(source, *table, config);
    return ParseLimits(source, *table, &config->limits);
  }
  return absl::InvalidArgumentError(StrCat(
      where,
      ": unknown key (known: data_dir, listen, health_listen, http_listen, "
      "origin, "
      "node_name, "
      "checkpoint_interval, empty_interval, max_group_events, "
      "max_message_bytes, block_cache_bytes, max_queued_events, "
      "max_queued_bytes, grpc_memory_bytes, full_check_max_entries, "
      "scrub_rate, scrub_interval, log_level, insecure_plaintext, "
      "idle_timeout, reflection, rate_limit_per_identity, "
      "rate_limit_burst, access_denied_interval, max_future_skew, "
      "max_event_age, provenance_max_depth, provenance_max_nodes, "
      "provenance_max_edges, [limits], [tls], [access], [cluster])"));
}

}  // namespace

absl::StatusOr<NodeConfig> ParseConfig(std::string_view text,
                                       std::string_view source,
                                       NodeConfig base) {
  toml::table table;
  // toml++ reports syntax errors by exception; they stop here.
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        StrCat(source, ":", static_cast<uint64_t>(e.source().begin.line), ": ",
               e.description()));
  }
  for (auto&& [key, node] : table) {
    if (absl::Status s = ParseKey(source, key.str(), node, &base); !s.ok()) {
      return s;
    }
  }
  return base;
}

absl::StatusOr<NodeConfig> LoadConfigFile(const std::string& path,
                                          NodeConfig base) {
  absl::StatusOr<std::string> text = crypto::ReadFileToString(path);
  if (!text.ok()) return Annotate(text.status(), "config file");
  return ParseConfig(*text, path, std::move(base));
}

void ApplyOverrides(const ConfigOverrides& overrides, NodeConfig* config) {
  if (overrides.data_dir) config->data_dir = *overrides.data_dir;
  if (overrides.listen) config->listen = *overrides.listen;
  if (overrides.http_listen) config->http_listen = *overrides.http_listen;
  if (overrides.health_listen) {
    config->health_listen = *overrides.health_listen;
  }
  if (overrides.origin) config->origin = *overrides.origin;
  if (overrides.node_name) config->node_name = *overrides.node_name;
  if (overrides.log_level) config->log_level = *overrides.log_level;
  if (overrides.insecure_plaintext) {
    config->insecure_plaintext = *overrides.insecure_plaintext;
  }
}

absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(
    std::string_view address) {
  size_t colon = address.rfind(':');
  std::optional<uint64_t> port;
  if (colon != std::string_view::npos) {
    port = ParseCanonicalUint64(address.substr(colon + 1));
  }
  if (colon == std::string_view::npos || colon == 0 || !port || *port > 65535) {
    return absl::InvalidArgumentError(
        StrCat("listen: \"", address,
               "\" is not host:port (examples: 127.0.0.1:7400, [::]:7400, "
               "0.0.0.0:0 for any free port)"));
  }
  return std::make_pair(std::string(address.substr(0, colon)),
                        static_cast<uint16_t>(*port));
}

absl::Status ValidateConfig(const NodeConfig& config) {
  if (config.data_dir.empty()) {
    return absl::InvalidArgumentError(
        "data_dir: required (--data DIR or data_dir in the config file)");
  }
  if (absl::Status s = SplitHostPort(config.listen).status(); !s.ok()) {
    return s;
  }
  if (!config.health_listen.empty()) {
    absl::StatusOr<std::pair<std::string, uint16_t>> health =
        SplitHostPort(config.health_listen);
    if (!health.ok()) {
      return absl::InvalidArgumentError(
          StrCat("health_listen: \"", config.health_listen,
                 "\" is not host:port (examples: 127.0.0.1:7401, [::]:7401, "
                 "0.0.0.0:0 for any free port; leave it empty for no health "
                 "endpoint of its own)"));
    }
    if (health->second != 0 && config.health_listen == config.listen) {
      return absl::InvalidArgumentError(
          StrCat("health_listen: \"", config.health_listen,
                 "\" is the service address (listen) too; give the health "
                 "endpoint a port of its own, or leave it empty"));
    }
  }
  if (!config.http_listen.empty()) {
    absl::StatusOr<std::pair<std::string, uint16_t>> http =
        SplitHostPort(config.http_listen);
    if (!http.ok()) {
      return absl::InvalidArgumentError(
          StrCat("http_listen: \"", config.http_listen,
                 "\" is not host:port (examples: 127.0.0.1:7402, [::]:7402, "
                 "0.0.0.0:0 for any free port; leave it empty for no HTTP "
                 "port)"));
    }
    if (http->second != 0 && (config.http_listen == config.listen ||
                              config.http_listen == config.health_listen)) {
      return absl::InvalidArgumentError(
          StrCat("http_listen: \"", config.http_listen,
                 "\" is also listen or health_listen; give the HTTP port a "
                 "port of its own, or leave it empty"));
    }
  }
  if (!config.origin.empty() && !crypto::IsValidKeyName(config.origin)) {
    return absl::InvalidArgumentError(
        StrCat("origin: \"", config.origin,
               "\" is not usable as a key name (no spaces, '+' or control "
               "characters)"));
  }
  if (!crypto::IsValidKeyName(config.node_name)) {
    return absl::InvalidArgumentError(
        StrCat("node_name: \"", config.node_name,
               "\" is not usable as a key name (non-empty; no spaces, '+' "
               "or control characters)"));
  }
  if (config.checkpoint_interval <= absl::ZeroDuration() ||
      config.empty_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "checkpoint_interval and empty_interval must be positive");
  }
  if (config.max_group_events == 0) {
    return absl::InvalidArgumentError("max_group_events: must be positive");
  }
  if (config.max_message_bytes < 4096 ||
      config.max_message_bytes >
          static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(
        StrCat("max_message_bytes: must be between 4096 and 2147483647, got ",
               config.max_message_bytes));
  }
  if (config.max_queued_events == 0 || config.max_queued_bytes < (1 << 20)) {
    return absl::InvalidArgumentError(
        "max_queued_events must be positive and max_queued_bytes at least "
        "1048576 (1 MiB)");
  }
  if (config.grpc_memory_bytes < config.max_message_bytes) {
    return absl::InvalidArgumentError(StrCat(
        "grpc_memory_bytes (", config.grpc_memory_bytes,
        ") must be at least max_message_bytes (", config.max_message_bytes,
        "), or no request of the largest size could be received"));
  }
  if (config.max_future_skew <= absl::ZeroDuration() ||
      config.max_event_age <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "max_future_skew and max_event_age must be positive");
  }
  if (config.block_cache_bytes < (1 << 20)) {
    return absl::InvalidArgumentError(
        StrCat("block_cache_bytes: must be at least 1048576 (1 MiB), got ",
               config.block_cache_bytes));
  }
  if (absl::Status s = ValidateCluster(config); !s.ok()) return s;
  bool known = false;
  for (std::string_view level : kLogLevels) known |= config.log_level == level;
  if (!known) {
    return absl::InvalidArgumentError(
        StrCat("log_level: \"", config.log_level,
               "\" is not one of trace, debug, info, warn, error, critical, "
               "off"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTransport(const NodeConfig& config) {
  if (config.insecure_plaintext && config.tls_configured()) {
    return absl::InvalidArgumentError(
        "insecure_plaintext (or --insecure-plaintext) and [tls] are both set: "
        "choose one (remove [tls] from the config file to run without TLS, "
        "or drop insecure_plaintext to serve mutual TLS)");
  }
  if (!config.insecure_plaintext && !config.tls_configured()) {
    return absl::InvalidArgumentError(
        "no transport security configured: give the config file a [tls] "
        "section (ca_file, cert_file, key_file) and an [access] policy_file "
        "for mutual TLS, or set insecure_plaintext = true (flag "
        "--insecure-plaintext) to serve without TLS and without "
        "authorization (tests and local experiments only)");
  }
  if (config.tls_configured()) {
    if (config.tls_ca_file.empty() || config.tls_cert_file.empty() ||
        config.tls_key_file.empty()) {
      return absl::InvalidArgumentError(
          "tls: ca_file, cert_file and key_file are all required");
    }
    if (config.access_policy_file.empty()) {
      return absl::InvalidArgumentError(
          "access.policy_file: required with [tls] (the access policy maps "
          "client certificates to roles and tenants; see "
          "deploy/ledger-node.toml)");
    }
  }
  if (config.idle_timeout <= absl::ZeroDuration() ||
      config.access_denied_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "idle_timeout and access_denied_interval must be positive");
  }
  constexpr uint64_t kMaxRate = 1'000'000'000;
  if (config.rate_limit_burst == 0 || config.rate_limit_burst > kMaxRate ||
      config.rate_limit_per_identity > kMaxRate) {
    return absl::InvalidArgumentError(
        "rate_limit_burst must be between 1 and 1000000000, "
        "rate_limit_per_identity between 0 (no limit) and 1000000000");
  }
  return absl::OkStatus();
}

}  // namespace ledger::node
