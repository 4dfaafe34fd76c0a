#include "tools/gateway/config.h"

#include <toml++/toml.h>

#include <filesystem>

#include "base/strings.h"
#include "crypto/key_file.h"

namespace ledger::gateway {
namespace {

absl::Status KeyError(const std::string& path, const toml::node& node,
                      std::string_view key, std::string_view what) {
  return absl::InvalidArgumentError(
      StrCat(path, ":", static_cast<uint64_t>(node.source().begin.line), ": ",
             key, ": ", what));
}

}  // namespace

absl::StatusOr<GatewayConfig> ParseGatewayConfig(std::string_view text,
                                                 const std::string& path) {
  toml::table table;
  // toml++ reports syntax errors by exception; they stop here.
  try {
    table = toml::parse(text, std::string_view(path));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        StrCat(path, ":", static_cast<uint64_t>(e.source().begin.line), ": ",
               e.description()));
  }
  GatewayConfig c;
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  struct StringKey {
    std::string_view key;
    std::string* out;
    bool file;
  };
  const StringKey strings[] = {
      {"listen", &c.listen, false},
      {"tenant", &c.tenant, false},
      {"producer", &c.producer, false},
      {"emitter_key", &c.emitter_key, true},
      {"node_profile", &c.node_profile, true},
      {"node_address", &c.node_address, false},
      {"cvat_secret_file", &c.cvat_secret_file, true},
      {"label_studio_token_file", &c.label_studio_token_file, true},
      {"openlineage_type", &c.openlineage_type, false},
  };
  struct IntKey {
    std::string_view key;
    int64_t* out;
    int64_t min, max;
  };
  const IntKey ints[] = {
      {"threads", &c.threads, 1, 1024},
      {"senders", &c.senders, 1, 64},
      {"max_batch_events", &c.max_batch_events, 1, 100000},
      {"max_body_bytes", &c.max_body_bytes, 1024, int64_t{64} << 20},
  };
  for (auto&& [key, node] : table) {
    const std::string_view k = key.str();
    bool known = false;
    for (const StringKey& s : strings) {
      if (s.key != k) continue;
      known = true;
      const toml::value<std::string>* v = node.as_string();
      if (v == nullptr || v->get().empty()) {
        return KeyError(path, node, k, "must be a non-empty string");
      }
      const std::filesystem::path value(v->get());
      *s.out = s.file && value.is_relative() && !dir.empty()
                   ? (dir / value).string()
                   : v->get();
    }
    for (const IntKey& i : ints) {
      if (i.key != k) continue;
      known = true;
      const toml::value<int64_t>* v = node.as_integer();
      if (v == nullptr || v->get() < i.min || v->get() > i.max) {
        return KeyError(
            path, node, k,
            StrCat("must be an integer from ", i.min, " to ", i.max));
      }
      *i.out = v->get();
    }
    if (k == "timeout_seconds") {
      known = true;
      std::optional<double> v = node.value<double>();
      if (!v.has_value() || !(*v > 0 && *v <= 3600)) {
        return KeyError(path, node, k,
                        "must be a number of seconds in (0, 3600]");
      }
      c.timeout_seconds = *v;
    }
    if (!known) {
      return KeyError(path, node, k,
                      "unknown key (docs/gateway.md lists the keys)");
    }
  }
  return c;
}

absl::StatusOr<GatewayConfig> LoadGatewayConfig(const std::string& path) {
  absl::StatusOr<std::string> text = crypto::ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseGatewayConfig(*text, path);
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(
    std::string_view address, std::string_view what) {
  const size_t colon = address.rfind(':');
  std::optional<uint64_t> port;
  if (colon != std::string_view::npos && colon > 0) {
    port = ParseCanonicalUint64(address.substr(colon + 1));
  }
  if (!port.has_value() || *port > 65535) {
    return absl::InvalidArgumentError(StrCat(
        what, ": '", address, "'", " must be HOST:PORT, e.g. 127.0.0.1:8480"));
  }
  std::string host(address.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, static_cast<int>(*port));
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  absl::StatusOr<std::string> text = crypto::ReadFileToString(path);
  if (!text.ok()) return text.status();
  std::string_view line = *text;
  line = line.substr(0, line.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    return absl::InvalidArgumentError(StrCat(path, ": the secret is empty"));
  }
  return std::string(line);
}

}  // namespace ledger::gateway
