#pragma once

// ledger-gateway's configuration file (TOML, every key optional; flags
// override it; docs/gateway.md):
//
//   listen = "127.0.0.1:8480"        # HTTP address
//   tenant = "demo"                  # the events' tenant (required)
//   producer = "ledger-gateway"      # events' producer: "<producer>/<source>"
//   emitter_key = "keys/gateway.key" # signer key file, or a folder with one
//   node_profile = "tls/gateway.profile"  # how to reach the node: a client
//                                    # profile (address, ca, cert, key)
//   node_address = "127.0.0.1:7400"  # overrides the profile's address
//   cvat_secret_file = "cvat.secret"        # CVAT webhook secret
//   label_studio_token_file = "ls.token"    # token Label Studio must send
//   openlineage_type = "dataset.version_created"
//   threads = 16                     # HTTP handler threads
//   senders = 2                      # AppendBatch calls in flight
//   max_batch_events = 1000          # events per AppendBatch
//   max_body_bytes = 1048576         # larger requests get 413
//   timeout_seconds = 10             # per AppendBatch call
//
// Relative paths are relative to the file's folder. Secrets live in files
// of their own (one line; a trailing newline is ignored) so the
// configuration can be shown and versioned.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ledger::gateway {

struct GatewayConfig {
  std::string listen = "127.0.0.1:8480";
  std::string tenant;
  std::string producer = "ledger-gateway";
  std::string emitter_key;
  std::string node_profile;
  std::string node_address;
  std::string cvat_secret_file;
  std::string label_studio_token_file;
  std::string openlineage_type = "dataset.version_created";
  int64_t threads = 16;
  int64_t senders = 2;
  int64_t max_batch_events = 1000;
  int64_t max_body_bytes = 1 << 20;
  double timeout_seconds = 10;
};

// Parses the file's text over the defaults; `path` names it in errors
// ("PATH:LINE: key: what is wrong") and anchors relative paths.
// InvalidArgument for bad TOML, unknown keys, wrong types and values out
// of range.
absl::StatusOr<GatewayConfig> ParseGatewayConfig(std::string_view text,
                                                 const std::string& path);
absl::StatusOr<GatewayConfig> LoadGatewayConfig(const std::string& path);

// "HOST:PORT" -> {host, port}; InvalidArgument naming `what` otherwise.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(
    std::string_view address, std::string_view what);

// The first line of a secret file, without its newline. NotFound /
// PermissionDenied naming the file; InvalidArgument if it is empty.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace ledger::gateway
