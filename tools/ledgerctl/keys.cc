#include "tools/ledgerctl/keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/ed25519.h"
#include "crypto/key_file.h"
#include "crypto/sha256.h"
#include "ledger/entry.h"
#include "ledger/risk_policy.h"
#include "ledger/v1/admin.grpc.pb.h"

namespace ledger::ctl {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

absl::Status EnsureDirectory(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          StrCat(dir, " exists and is not a directory"));
    }
    return absl::OkStatus();
  }
  if (::mkdir(dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(
        StrCat("cannot create directory ", dir, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

Json KeyInfoJson(const v1::KeyInfo& key) {
  Json j;
  j["key_id"] = Hex(key.key_id());
  j["name"] = key.name();
  j["tenant"] = key.tenant();
  j["role"] = key.role();
  j["public_key"] = Hex(key.public_key());
  j["valid_from"] = TimestampJson(key.valid_from());
  j["valid_until"] = TimestampJson(key.valid_until());
  j["revoked_at"] = TimestampJson(key.revoked_at());
  j["registered_at"] = key.registered_at();
  if (!key.producer().empty()) j["producer"] = key.producer();
  if (key.revoked_index() != 0) {
    j["revoked_index"] = key.revoked_index();
    if (!key.revoke_reason().empty()) j["revoke_reason"] = key.revoke_reason();
  }
  if (key.rotated_at() != 0) {
    j["rotated_at"] = key.rotated_at();
    j["rotated_to"] = Hex(key.rotated_to());
  }
  if (!key.rotated_from().empty()) j["rotated_from"] = Hex(key.rotated_from());
  return j;
}

absl::StatusOr<std::string> ParseKeyId(std::string_view key_id_hex) {
  absl::StatusOr<std::string> key_id = crypto::HexDecode(key_id_hex);
  if (!key_id.ok() || key_id->size() != crypto::kHashSize) {
    return absl::InvalidArgumentError(
        StrCat("--key-id: \"", key_id_hex,
               "\" is not a key ID (64 hex digits, as keygen and list-keys "
               "print)"));
  }
  return *key_id;
}

// `write`: the call appends an entry, so it goes to the cluster's leader
// (ToLeader); reads stay on the node asked.
absl::StatusOr<std::unique_ptr<v1::Admin::Stub>> AdminStub(
    const ConnectionOptions& conn, bool write) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      Connect(write ? ToLeader(conn) : conn);
  if (!channel.ok()) return channel.status();
  return v1::Admin::NewStub(*channel);
}

}  // namespace

Json KeygenResult::ToJson() const {
  Json j;
  j["name"] = name;
  j["key_id"] = crypto::HexEncode(key_id);
  j["verifier_key"] = verifier_key;
  j["private_key_file"] = private_key_file;
  j["public_key_file"] = public_key_file;
  return j;
}

absl::StatusOr<KeygenResult> ClusterLogKey(std::string_view origin,
                                           const std::string& path) {
  if (!crypto::IsValidKeyName(origin)) {
    return absl::InvalidArgumentError(
        StrCat("--origin: \"", origin, "\" is not a valid key name"));
  }
  KeygenResult result;
  result.name = std::string(origin);
  result.private_key_file = path;
  result.public_key_file = StrCat(path, ".pub");
  for (const std::string* p :
       {&result.private_key_file, &result.public_key_file}) {
    if (Exists(*p)) {
      return absl::AlreadyExistsError(
          StrCat(*p, " already exists; refusing to overwrite a key"));
    }
  }
  crypto::NoteSigner signer(result.name, crypto::NoteSigType::kEd25519,
                            crypto::Ed25519PrivateKey::Generate());
  result.key_id = KeyIdOf(signer.key().public_key());
  result.verifier_key = crypto::FormatVerifierKey(signer.verifier());
  LEDGER_RETURN_IF_ERROR(crypto::WriteKeyFile(
      path, StrCat(crypto::FormatSignerKey(signer), "\n"), true));
  LEDGER_RETURN_IF_ERROR(crypto::WriteKeyFile(
      result.public_key_file, StrCat(result.verifier_key, "\n"), false));
  return result;
}

absl::StatusOr<KeygenResult> Keygen(std::string_view name,
                                    const std::string& dir) {
  if (!crypto::IsValidKeyName(name)) {
    return absl::InvalidArgumentError(
        StrCat("--name: \"", name,
               "\" is not a valid key name (non-empty UTF-8, no spaces, no "
               "'+', no control characters)"));
  }
  if (name.find('/') != std::string_view::npos || name == "." || name == "..") {
    return absl::InvalidArgumentError(
        StrCat("--name: \"", name, "\" cannot be used as a file name"));
  }
  if (absl::Status s = EnsureDirectory(dir); !s.ok()) return s;
  KeygenResult result;
  result.name = std::string(name);
  result.private_key_file = StrCat(dir, "/", name, ".key");
  result.public_key_file = StrCat(dir, "/", name, ".pub");
  for (const std::string* path :
       {&result.private_key_file, &result.public_key_file}) {
    if (Exists(*path)) {
      return absl::AlreadyExistsError(
          StrCat(*path, " already exists; refusing to overwrite a key"));
    }
  }
  crypto::NoteSigner signer(result.name, crypto::NoteSigType::kEd25519,
                            crypto::Ed25519PrivateKey::Generate());
  result.key_id = KeyIdOf(signer.key().public_key());
  result.verifier_key = crypto::FormatVerifierKey(signer.verifier());
  absl::Status s = crypto::WriteKeyFile(
      result.private_key_file, StrCat(crypto::FormatSignerKey(signer), "\n"),
      /*is_private=*/true);
  if (!s.ok()) return s;
  s = crypto::WriteKeyFile(result.public_key_file,
                           StrCat(result.verifier_key, "\n"),
                           /*is_private=*/false);
  if (!s.ok()) {
    ::unlink(result.private_key_file.c_str());
    return s;
  }
  return result;
}

absl::StatusOr<crypto::NoteVerifier> ReadSingleVerifierKey(
    const std::string& path) {
  absl::StatusOr<std::vector<crypto::NoteVerifier>> keys =
      crypto::ReadVerifierKeyFile(path);
  if (!keys.ok()) return keys.status();
  if (keys->size() != 1) {
    return absl::InvalidArgumentError(StrCat(
        path, ": holds ", keys->size(), " verifier keys; expected exactly 1"));
  }
  return keys->front();
}

absl::Status RunRegisterKey(const ConnectionOptions& conn,
                            const RegisterKeyOptions& options,
                            std::ostream& out) {
  absl::StatusOr<crypto::NoteVerifier> key =
      ReadSingleVerifierKey(options.pub_file);
  if (!key.ok()) return key.status();
  v1::RegisterEmitterKeyRequest request;
  request.set_verifier_key(crypto::FormatVerifierKey(*key));
  request.set_tenant(options.tenant);
  request.set_producer(options.producer);
  if (!options.valid_from.empty()) {
    auto ts = ParseTimestamp(options.valid_from, "--valid-from");
    if (!ts.ok()) return ts.status();
    *request.mutable_valid_from() = *ts;
  }
  if (!options.valid_until.empty()) {
    auto ts = ParseTimestamp(options.valid_until, "--valid-until");
    if (!ts.ok()) return ts.status();
    *request.mutable_valid_until() = *ts;
  }
  absl::StatusOr<std::unique_ptr<v1::Admin::Stub>> stub =
      AdminStub(conn, /*write=*/true);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::EntryRef ref;
  absl::Status s = FromGrpc((*stub)->RegisterEmitterKey(&ctx, request, &ref));
  if (!s.ok()) return s;
  PrintJson(out, EntryRefJson(ref));
  return absl::OkStatus();
}

absl::Status RunRevokeKey(const ConnectionOptions& conn,
                          std::string_view key_id_hex, std::string_view reason,
                          std::ostream& out) {
  absl::StatusOr<std::string> key_id = ParseKeyId(key_id_hex);
  if (!key_id.ok()) return key_id.status();
  v1::RevokeEmitterKeyRequest request;
  request.set_key_id(*key_id);
  request.set_reason(std::string(reason));
  absl::StatusOr<std::unique_ptr<v1::Admin::Stub>> stub =
      AdminStub(conn, /*write=*/true);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::EntryRef ref;
  absl::Status s = FromGrpc((*stub)->RevokeEmitterKey(&ctx, request, &ref));
  if (!s.ok()) return s;
  PrintJson(out, EntryRefJson(ref));
  return absl::OkStatus();
}

absl::Status RunRotateKey(const ConnectionOptions& conn,
                          const RotateKeyOptions& options, std::ostream& out) {
  absl::StatusOr<std::string> key_id = ParseKeyId(options.key_id);
  if (!key_id.ok()) return key_id.status();
  absl::StatusOr<crypto::NoteVerifier> key =
      ReadSingleVerifierKey(options.pub_file);
  if (!key.ok()) return key.status();
  v1::RotateEmitterKeyRequest request;
  request.set_key_id(*key_id);
  request.set_new_verifier_key(crypto::FormatVerifierKey(*key));
  request.set_reason(options.reason);
  if (!options.valid_until.empty()) {
    auto ts = ParseTimestamp(options.valid_until, "--valid-until");
    if (!ts.ok()) return ts.status();
    *request.mutable_new_valid_until() = *ts;
  }
  absl::StatusOr<std::unique_ptr<v1::Admin::Stub>> stub =
      AdminStub(conn, /*write=*/true);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::EntryRef ref;
  absl::Status s = FromGrpc((*stub)->RotateEmitterKey(&ctx, request, &ref));
  if (!s.ok()) return s;
  PrintJson(out, EntryRefJson(ref));
  return absl::OkStatus();
}

absl::Status RunListKeys(const ConnectionOptions& conn, std::ostream& out) {
  absl::StatusOr<std::unique_ptr<v1::Admin::Stub>> stub =
      AdminStub(conn, /*write=*/false);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::ListKeysResponse response;
  absl::Status s =
      FromGrpc((*stub)->ListKeys(&ctx, v1::ListKeysRequest(), &response));
  if (!s.ok()) return s;
  Json keys = Json::array();
  for (const v1::KeyInfo& key : response.keys()) {
    keys.push_back(KeyInfoJson(key));
  }
  Json j;
  j["keys"] = std::move(keys);
  PrintJson(out, j);
  return absl::OkStatus();
}

absl::Status RunNodeKeys(const ConnectionOptions& conn, bool note_only,
                         std::ostream& out) {
  absl::StatusOr<std::unique_ptr<v1::Admin::Stub>> stub =
      AdminStub(conn, /*write=*/false);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::NodeInfo info;
  absl::Status s =
      FromGrpc((*stub)->GetNodeInfo(&ctx, v1::GetNodeInfoRequest(), &info));
  if (!s.ok()) return s;
  if (note_only) {
    std::string text;
    for (const std::string& vkey : info.note_verifier_keys()) {
      text += StrCat(vkey, "\n");
    }
    out << text;
    return absl::OkStatus();
  }
  Json j;
  j["origin"] = info.origin();
  j["note_verifier_keys"] = Json::array();
  for (const std::string& vkey : info.note_verifier_keys()) {
    j["note_verifier_keys"].push_back(vkey);
  }
  j["size"] = info.size();
  j["version"] = info.version();
  j["node_key_id"] = Hex(info.node_key_id());
  j["write_state"] = info.write_state();
  if (!info.write_error().empty()) j["write_error"] = info.write_error();
  PrintJson(out, j);
  return absl::OkStatus();
}

absl::Status RunPolicyCheck(const std::string& file, std::ostream& out) {
  absl::StatusOr<std::string> text = crypto::ReadFileToString(file);
  if (!text.ok()) return text.status();
  absl::StatusOr<risk::Policy> policy = risk::ParsePolicy(*text);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        StrCat(file, ": ", policy.status().message()));
  }
  Json j;
  j["file"] = file;
  j["name"] = policy->name;
  j["sha256"] = crypto::HexEncode(crypto::Sha256Digest(*text));
  j["valid"] = true;
  PrintJson(out, j);
  return absl::OkStatus();
}

absl::Status RunPolicySet(const ConnectionOptions& conn,
                          const std::string& file, std::ostream& out) {
  absl::StatusOr<std::string> text = crypto::ReadFileToString(file);
  if (!text.ok()) return text.status();
  v1::SetRiskPolicyRequest request;
  request.set_text(*text);
  absl::StatusOr<std::unique_ptr<v1::Admin::Stub>> stub =
      AdminStub(conn, /*write=*/true);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(conn));
  v1::SetRiskPolicyResponse response;
  absl::Status s = FromGrpc((*stub)->SetRiskPolicy(&ctx, request, &response));
  if (!s.ok()) return Annotate(s, file);
  Json j = EntryRefJson(response.entry());
  j["policy_version"] = response.policy_version();
  j["sha256"] = response.sha256();
  PrintJson(out, j);
  return absl::OkStatus();
}

}  // namespace ledger::ctl
