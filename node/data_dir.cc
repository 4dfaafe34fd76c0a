#include "node/data_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/key_file.h"
#include "crypto/rfc6962.h"
#include "ledger/checkpoint.h"
#include "node/random.h"
#include "node/rollback_guard.h"

namespace ledger::node {
namespace {

namespace fs = std::filesystem;

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      StrCat("cannot create directory ", path, ": ", std::strerror(errno)));
}

// Makes newly created names in `dir` durable.
absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    return absl::InternalError(
        StrCat("cannot sync directory ", dir, ": ", std::strerror(err)));
  }
  ::close(fd);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> ReadOrigin(
    const DataDirLayout& layout) {
  absl::StatusOr<std::string> text =
      crypto::ReadFileToString(layout.origin_file);
  if (absl::IsNotFound(text.status())) return std::nullopt;
  if (!text.ok()) return text.status();
  std::string origin(Trim(*text));
  if (!crypto::IsValidKeyName(origin)) {
    return absl::DataLossError(StrCat(layout.origin_file,
                                      ": does not hold a valid origin: \"",
                                      origin, "\""));
  }
  return origin;
}

absl::StatusOr<std::string> EnsureOrigin(const DataDirLayout& layout,
                                         std::string_view configured) {
  absl::StatusOr<std::optional<std::string>> stored = ReadOrigin(layout);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    if (!configured.empty() && configured != **stored) {
      return absl::FailedPreconditionError(StrCat(
          "data directory ", layout.root, " holds the ledger of origin \"",
          **stored, "\" but the configuration asks for \"", configured,
          "\"; an origin never changes: drop the origin setting or use "
          "another data directory"));
    }
    return **stored;
  }
  if (Exists(layout.db)) {
    return absl::FailedPreconditionError(
        StrCat(layout.origin_file, " is missing but ", layout.db,
               " exists; restore the origin file from a backup"));
  }
  std::string origin(configured);
  if (origin.empty()) {
    origin =
        StrCat("annotation-ledger.local/", crypto::HexEncode(RandomBytes(4)));
  }
  absl::Status s =
      crypto::WriteKeyFile(layout.origin_file, StrCat(origin, "\n"), false);
  if (!s.ok()) return s;
  return origin;
}

// Creates keys/ whole: both private keys, node.pub and the rollback guard
// (a signed checkpoint of the empty tree) are written into keys.new/ and the
// directory is renamed into place. Only before the ledger exists.
absl::Status CreateKeys(const DataDirLayout& layout, const std::string& origin,
                        std::string_view node_name,
                        const std::optional<crypto::NoteSigner>& shared_log) {
  if (Exists(layout.db)) {
    return absl::FailedPreconditionError(
        StrCat(layout.keys, " is missing but the ledger in ", layout.db,
               " exists; restore the keys from a backup (new keys could not "
               "verify the existing checkpoints)"));
  }
  std::error_code ec;
  fs::remove_all(layout.keys_staging, ec);  // a crash's leftovers
  if (absl::Status s = MakeDir(layout.keys_staging, 0700); !s.ok()) return s;
  const std::string dir = layout.keys_staging;
  crypto::NoteSigner log_signer =
      shared_log.has_value()
          ? *shared_log
          : crypto::NoteSigner(origin, crypto::NoteSigType::kEd25519,
                               crypto::Ed25519PrivateKey::Generate());
  crypto::NoteSigner cosigner(StrCat(origin, "/", node_name),
                              crypto::NoteSigType::kCosignatureV1,
                              crypto::Ed25519PrivateKey::Generate());
  const crypto::NoteSigner* signers[] = {&log_signer, &cosigner};
  const std::string empty_checkpoint =
      crypto::SignNote(ledger::FormatCheckpointBody(ledger::Checkpoint{
                           origin, 0, crypto::EmptyRoot(), {}}),
                       signers, 0);
  const std::pair<std::string, std::string> files[] = {
      {dir + "/node.key", StrCat(crypto::FormatSignerKey(log_signer), "\n")},
      {dir + "/cosigner.key", StrCat(crypto::FormatSignerKey(cosigner), "\n")},
      {dir + "/node.pub",
       StrCat(crypto::FormatVerifierKey(log_signer.verifier()), "\n",
              crypto::FormatVerifierKey(cosigner.verifier()), "\n")},
  };
  for (const auto& [path, text] : files) {
    const bool secret = path.ends_with(".key");
    if (absl::Status s = crypto::WriteKeyFile(path, text, secret); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = WriteFileDurably(dir + "/last-checkpoint.note",
                                        empty_checkpoint, 0600);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = SyncDir(dir); !s.ok()) return s;
  if (::rename(dir.c_str(), layout.keys.c_str()) != 0) {
    return absl::InternalError(StrCat("cannot rename ", dir, " to ",
                                      layout.keys, ": ", std::strerror(errno)));
  }
  return SyncDir(layout.root);
}

absl::StatusOr<crypto::NoteSigner> LoadKey(const std::string& path,
                                           const std::string& name,
                                           crypto::NoteSigType type) {
  absl::StatusOr<crypto::NoteSigner> signer = crypto::ReadSignerKeyFile(path);
  if (absl::IsNotFound(signer.status())) {
    return absl::FailedPreconditionError(
        StrCat(path,
               " is missing from an initialised data directory; "
               "restore the key from a backup (a new key could not "
               "verify the existing checkpoints)"));
  }
  if (!signer.ok()) return signer.status();
  if (signer->type() != type || signer->name() != name) {
    return absl::FailedPreconditionError(
        StrCat(path, " holds key \"", signer->name(), "\" of type ",
               static_cast<int>(signer->type()), " but this node needs \"",
               name, "\" of type ", static_cast<int>(type),
               " (did origin or node_name change since the data directory was "
               "created?)"));
  }
  return signer;
}

absl::Status EnsurePublicKeys(const DataDirLayout& layout,
                              const NodeIdentity& id) {
  std::string text;
  for (const crypto::NoteVerifier& v : id.verifiers()) {
    text += StrCat(crypto::FormatVerifierKey(v), "\n");
  }
  absl::StatusOr<std::string> stored =
      crypto::ReadFileToString(layout.node_pub);
  if (absl::IsNotFound(stored.status())) {
    return crypto::WriteKeyFile(layout.node_pub, text, false);
  }
  if (!stored.ok()) return stored.status();
  if (*stored != text) {
    return absl::FailedPreconditionError(
        StrCat(layout.node_pub,
               " does not match node.key and cosigner.key; delete "
               "it and restart to rewrite it from the private keys"));
  }
  return absl::OkStatus();
}

absl::StatusOr<NodeIdentity> LoadIdentity(const DataDirLayout& layout,
                                          const std::string& origin,
                                          std::string_view node_name) {
  absl::StatusOr<crypto::NoteSigner> log_signer =
      LoadKey(layout.node_key, origin, crypto::NoteSigType::kEd25519);
  if (!log_signer.ok()) return log_signer.status();
  std::string cosigner_name = StrCat(origin, "/", node_name);
  if (node_name.empty()) {
    // Loading without a configured name: take the name from the file.
    absl::StatusOr<crypto::NoteSigner> any =
        crypto::ReadSignerKeyFile(layout.cosigner_key);
    if (!any.ok()) return any.status();
    cosigner_name = any->name();
  }
  absl::StatusOr<crypto::NoteSigner> cosigner = LoadKey(
      layout.cosigner_key, cosigner_name, crypto::NoteSigType::kCosignatureV1);
  if (!cosigner.ok()) return cosigner.status();
  return NodeIdentity(origin, *std::move(log_signer), *std::move(cosigner));
}

}  // namespace

absl::StatusOr<NodeIdentity> OpenDataDir(const std::string& dir,
                                         std::string_view origin,
                                         std::string_view node_name,
                                         const std::string& log_key_file) {
  DataDirLayout layout(dir);
  std::optional<crypto::NoteSigner> shared_log;
  if (!log_key_file.empty()) {
    absl::StatusOr<crypto::NoteSigner> key =
        crypto::ReadSignerKeyFile(log_key_file);
    if (!key.ok()) {
      return absl::FailedPreconditionError(StrCat(
          "cluster log key ", log_key_file, ": ", key.status().message()));
    }
    if (key->type() != crypto::NoteSigType::kEd25519 ||
        (!origin.empty() && key->name() != origin)) {
      return absl::FailedPreconditionError(
          StrCat("cluster log key ", log_key_file, " holds key \"", key->name(),
                 "\" of type ", static_cast<int>(key->type()),
                 "; the cluster needs an Ed25519 key named after the origin \"",
                 origin, "\""));
    }
    shared_log = *std::move(key);
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        StrCat("cannot create data directory ", dir, ": ", ec.message()));
  }
  absl::StatusOr<std::string> real_origin = EnsureOrigin(layout, origin);
  if (!real_origin.ok()) return real_origin.status();
  if (!Exists(layout.keys)) {
    if (absl::Status s =
            CreateKeys(layout, *real_origin, node_name, shared_log);
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<NodeIdentity> id =
      LoadIdentity(layout, *real_origin, node_name);
  if (!id.ok()) return id.status();
  if (shared_log.has_value() &&
      crypto::FormatVerifierKey(shared_log->verifier()) !=
          crypto::FormatVerifierKey(id->log_signer.verifier())) {
    return absl::FailedPreconditionError(
        StrCat(layout.node_key, " is not the cluster's log key ", log_key_file,
               "; every node of a cluster signs with the same log key (this "
               "data directory belongs to another ledger)"));
  }
  if (absl::Status s = EnsurePublicKeys(layout, *id); !s.ok()) return s;
  for (const std::string& d : {layout.keys, layout.root}) {
    if (absl::Status s = SyncDir(d); !s.ok()) return s;
  }
  return id;
}

absl::StatusOr<NodeIdentity> LoadDataDir(const std::string& dir) {
  DataDirLayout layout(dir);
  absl::StatusOr<std::optional<std::string>> origin = ReadOrigin(layout);
  if (!origin.ok()) return origin.status();
  if (!origin->has_value()) {
    return absl::NotFoundError(
        StrCat(dir,
               " is not an initialised data directory (no origin "
               "file); start ledger-node once with --data ",
               dir, " to create it"));
  }
  return LoadIdentity(layout, **origin, "");
}

}  // namespace ledger::node
