#pragma once

// ledger.v1.Query: entries by index or event key, and ranges. Reads never
// go past the committed head.

#include "ledger/v1/query.grpc.pb.h"
#include "node/service_context.h"

namespace ledger::node {

class QueryService final : public v1::Query::Service {
 public:
  explicit QueryService(const ServiceContext& ctx) : ctx_(ctx) {}

  // Refuses an entry of a tenant that is not the caller's (PermissionDenied,
  // recorded as access.denied).
  grpc::Status GetEntry(grpc::ServerContext* context,
                        const v1::GetEntryRequest* request,
                        v1::Entry* response) override;
  // [start, end) with end 0 or past the ledger meaning its size; at most
  // kMaxEntriesPerCall indexes (the client continues from the last index
  // + 1). A caller limited to its tenants (an officer) receives only its
  // tenants' entries of the range; the others are skipped, so it
  // continues from start + kMaxEntriesPerCall instead.
  grpc::Status GetEntries(grpc::ServerContext* context,
                          const v1::GetEntriesRequest* request,
                          grpc::ServerWriter<v1::Entry>* writer) override;

  static constexpr uint64_t kMaxEntriesPerCall = 10'000;
  // Entries read from the ledger at a time while streaming.
  static constexpr size_t kReadChunk = 256;

 private:
  ServiceContext ctx_;
};

}  // namespace ledger::node
