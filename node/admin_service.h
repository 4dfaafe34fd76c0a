#pragma once

// ledger.v1.Admin: emitter key registration, rotation and revocation
// (entries signed by the node key, sequenced like any other batch, whose
// actor is the authenticated caller), key listing (an officer sees its own
// tenants' emitter keys) and node information.

#include "absl/status/statusor.h"
#include "ledger/v1/admin.grpc.pb.h"
#include "node/service_context.h"

namespace ledger::node {

class AdminService final : public v1::Admin::Service {
 public:
  explicit AdminService(const ServiceContext& ctx) : ctx_(ctx) {}

  // InvalidArgument for a malformed or non-Ed25519 verifier key, a bad or
  // reserved tenant or validity window; AlreadyExists if the key is
  // registered.
  grpc::Status RegisterEmitterKey(grpc::ServerContext* context,
                                  const v1::RegisterEmitterKeyRequest* request,
                                  v1::EntryRef* response) override;
  // NotFound for an unknown key, FailedPrecondition for a node key or a key
  // already revoked. The key signs nothing appended after the entry.
  grpc::Status RevokeEmitterKey(grpc::ServerContext* context,
                                const v1::RevokeEmitterKeyRequest* request,
                                v1::EntryRef* response) override;
  // One key.rotated entry: the old key signs nothing appended after it, the
  // new key (same tenant and producer) is valid from it. NotFound for an
  // unknown key; FailedPrecondition for a node key, a revoked key or one
  // already rotated out; InvalidArgument for a malformed new key or
  // validity; AlreadyExists if the new key is registered.
  grpc::Status RotateEmitterKey(grpc::ServerContext* context,
                                const v1::RotateEmitterKeyRequest* request,
                                v1::EntryRef* response) override;
  grpc::Status ListKeys(grpc::ServerContext* context,
                        const v1::ListKeysRequest* request,
                        v1::ListKeysResponse* response) override;
  grpc::Status GetNodeInfo(grpc::ServerContext* context,
                           const v1::GetNodeInfoRequest* request,
                           v1::NodeInfo* response) override;
  // Appends the key.erased entry of the data subject's payload key (which
  // destroys the key in the same write), then purges the key bytes from
  // the database's files. InvalidArgument for a bad tenant, data_subject
  // or an empty reason; NotFound if the subject has no payload key;
  // FailedPrecondition if it was erased. Authorization: admin.
  grpc::Status EraseSubject(grpc::ServerContext* context,
                            const v1::EraseSubjectRequest* request,
                            v1::EraseSubjectResponse* response) override;
  grpc::Status SetRiskPolicy(grpc::ServerContext* context,
                             const v1::SetRiskPolicyRequest* request,
                             v1::SetRiskPolicyResponse* response) override;

 private:
  absl::StatusOr<v1::EntryRef> Register(
      const Caller& caller, const v1::RegisterEmitterKeyRequest& request);
  absl::StatusOr<v1::EntryRef> Revoke(
      const Caller& caller, const v1::RevokeEmitterKeyRequest& request);
  absl::StatusOr<v1::EraseSubjectResponse> Erase(
      const Caller& caller, const v1::EraseSubjectRequest& request);
  absl::StatusOr<v1::EntryRef> Rotate(
      const Caller& caller, const v1::RotateEmitterKeyRequest& request);
  absl::StatusOr<v1::SetRiskPolicyResponse> SetPolicy(
      const Caller& caller, const v1::SetRiskPolicyRequest& request);
  // Validates, signs with the node key and sequences one ledger event
  // whose actor is `caller`.
  absl::StatusOr<v1::EntryRef> AppendLedgerEvent(Event event,
                                                 const Caller& caller);

  ServiceContext ctx_;
};

}  // namespace ledger::node
