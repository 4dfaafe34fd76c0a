#include "node/query_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "base/strings.h"
#include "node/convert.h"
#include "node/grpc_status.h"
#include "node/payloads.h"
#include "node/proof_service.h"
#include "node/read_floor.h"

namespace ledger::node {

namespace {

constexpr std::string_view kGetEntry = "/ledger.v1.Query/GetEntry";

}  // namespace

grpc::Status QueryService::GetEntry(grpc::ServerContext* context,
                                    const v1::GetEntryRequest* request,
                                    v1::Entry* response) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (request->has_event()) {
    if (absl::Status s = CheckTenantAccess(
            ctx_, caller, kGetEntry, request->event().tenant(), "read entries");
        !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  absl::StatusOr<uint64_t> committed =
      CommittedForRead(*context, *ctx_.coordinator);
  if (!committed.ok()) return ToGrpcStatus(committed.status());
  absl::StatusOr<uint64_t> index = ResolveEntry(
      *ctx_.ledger, *committed,
      request->entry_case() == v1::GetEntryRequest::kIndex, request->index(),
      request->has_event() ? &request->event() : nullptr);
  if (!index.ok()) return ToGrpcStatus(index.status(), *request);
  absl::StatusOr<std::string> bytes = ctx_.ledger->GetEntry(*index);
  if (!bytes.ok()) return ToGrpcStatus(bytes.status());
  absl::StatusOr<v1::Entry> entry = EntryToProto(*bytes);
  if (!entry.ok()) return ToGrpcStatus(entry.status());
  if (absl::Status s =
          CheckTenantAccess(ctx_, caller, kGetEntry, entry->event().tenant(),
                            StrCat("read entry ", *index));
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Who may read an entry may read its plaintext (an officer of its tenant,
  // a regulator: node/authorizer.cc).
  FillPayloadView(ctx_.ledger->payload_keys(), /*may_read_plaintext=*/true,
                  &*entry);
  *response = *std::move(entry);
  return grpc::Status::OK;
}

grpc::Status QueryService::GetEntries(grpc::ServerContext* context,
                                      const v1::GetEntriesRequest* request,
                                      grpc::ServerWriter<v1::Entry>* writer) {
  const Caller* caller = ctx_.authorizer->CallerOf(*context);
  if (caller == nullptr) {
    return ToGrpcStatus(absl::UnauthenticatedError(
        "the client certificate is not in this node's access policy"));
  }
  absl::StatusOr<uint64_t> committed =
      CommittedForRead(*context, *ctx_.coordinator);
  if (!committed.ok()) return ToGrpcStatus(committed.status());
  const uint64_t size = *committed;
  uint64_t start = request->start();
  if (request->end() != 0 && request->end() < start) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        StrCat("end ", request->end(), " is before start ", start)));
  }
  if (start > size) {
    return ToGrpcStatus(absl::OutOfRangeError(StrCat(
        "start ", start, " is past the end of the ledger (size ", size, ")")));
  }
  uint64_t end = request->end() == 0 ? size : std::min(request->end(), size);
  end = std::min(end, start + kMaxEntriesPerCall);
  for (uint64_t begin = start; begin < end;) {
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "client cancelled");
    }
    absl::StatusOr<std::vector<std::string>> chunk =
        ctx_.ledger->GetEntries(begin, end, kReadChunk);
    if (!chunk.ok()) return ToGrpcStatus(chunk.status());
    if (chunk->empty()) {
      return ToGrpcStatus(absl::InternalError(
          StrCat("ledger returned no entries at index ", begin)));
    }
    for (const std::string& bytes : *chunk) {
      absl::StatusOr<v1::Entry> entry = EntryToProto(bytes);
      if (!entry.ok()) return ToGrpcStatus(entry.status());
      // A caller limited to its tenants sees only their entries; the
      // others in the range are skipped, not refused.
      if (!caller->MaySee(entry->event().tenant())) continue;
      FillPayloadView(ctx_.ledger->payload_keys(),
                      /*may_read_plaintext=*/true, &*entry);
      if (!writer->Write(*entry)) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      }
    }
    begin += chunk->size();
  }
  return grpc::Status::OK;
}

}  // namespace ledger::node
