#pragma once

// How every networked tool (ledgerctl, ledger-bench) reaches a node: mutual
// TLS with a client certificate, or, only when asked for by name, plaintext.
//
// Settings come from a profile file and from flags; a flag overrides the
// profile's value. The profile is `--profile FILE`, else the file named by
// the environment variable LEDGER_PROFILE. A profile (TOML):
//
//   address = "127.0.0.1:7400"
//   ca = "ca.pem"                # the CA the node's certificate chains to
//   cert = "emitter-demo.pem"    # this client's certificate chain
//   key = "emitter-demo.key"     # its private key, mode 0600
//   # insecure_plaintext = true  # only for a node started that way
//
// Relative paths in a profile are relative to the profile's directory;
// relative paths in flags, to the working directory. Unknown keys are
// errors. A private key file readable by group or others is refused, as
// the node refuses its own (chmod 600 fixes it). Nothing falls back to
// plaintext: without a CA, a certificate and a key the tool refuses to
// connect, and says which flag or profile key is missing.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ledger::client_tls {

// The environment variable naming the default profile file.
inline constexpr char kProfileEnv[] = "LEDGER_PROFILE";

// What the command line said. AddClientFlags() registers all but
// `address`, which each tool registers under its own name (ledgerctl
// --server, ledger-bench --connect).
struct ClientFlags {
  std::optional<std::string> address;
  std::string profile;              // --profile
  std::string ca;                   // --ca
  std::string cert;                 // --cert
  std::string key;                  // --key
  bool insecure_plaintext = false;  // --insecure-plaintext
};

// Registers --profile, --ca, --cert, --key and --insecure-plaintext on
// `app` (and, with fallthrough, on its subcommands) writing into `flags`,
// which must outlive parsing.
void AddClientFlags(CLI::App* app, ClientFlags* flags);

// A parsed profile file; paths resolved against its directory, empty when
// absent.
struct ClientProfile {
  std::string path;  // the file, for messages
  std::string address;
  std::string ca;
  std::string cert;
  std::string key;
  bool insecure_plaintext = false;
};

// Parses profile text; `path` names it in messages and anchors relative
// paths. InvalidArgument ("PATH:LINE: key: what is wrong") for bad TOML,
// unknown keys, wrong types, and insecure_plaintext = true together with
// ca, cert or key.
absl::StatusOr<ClientProfile> ParseClientProfile(std::string_view text,
                                                 const std::string& path);
// Reads and parses a profile file; NotFound if it does not exist.
absl::StatusOr<ClientProfile> LoadClientProfile(const std::string& path);

// Profile and flags merged; what a connection is made from.
struct ClientSettings {
  std::string address;
  bool insecure_plaintext = false;
  std::string ca, cert, key;  // files; all set unless insecure_plaintext
  std::string profile;        // the profile used, "" if none
};

// Merges the profile (flags.profile, else `env_profile` when not null or
// empty) with the flags: each flag given wins; the address falls back to
// `default_address`. InvalidArgument when --insecure-plaintext is combined
// with --ca/--cert/--key, or when TLS lacks one of the three files (the
// message names what is missing and how to provide it); the profile's
// errors as LoadClientProfile (the message says where the name came from).
absl::StatusOr<ClientSettings> ResolveClientSettings(
    const ClientFlags& flags, std::string_view default_address,
    const char* env_profile);

// A node address with the credentials to reach it.
struct Endpoint {
  std::string address;
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // never null
  bool tls = false;
  // The client certificate's identity as the node's access policy matches
  // it: its first SAN URI, else "cn:<common name>"; "" for plaintext.
  std::string identity;
};

// Builds the endpoint: for TLS reads the CA bundle, the certificate chain
// and the private key, and checks them before any connection is tried:
// each file exists and parses as PEM, the key is not readable by group or
// others (FailedPrecondition, with the chmod that fixes it), the key
// belongs to the certificate, and the certificate is within its validity
// period (FailedPrecondition naming the dates).
absl::StatusOr<Endpoint> MakeEndpoint(const ClientSettings& settings);

// ResolveClientSettings with the LEDGER_PROFILE environment variable, then
// MakeEndpoint.
absl::StatusOr<Endpoint> ResolveEndpoint(const ClientFlags& flags,
                                         std::string_view default_address);

// A channel to the endpoint with `args` (gRPC copies them).
std::shared_ptr<grpc::Channel> CreateChannel(
    const Endpoint& endpoint,
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

}  // namespace ledger::client_tls
