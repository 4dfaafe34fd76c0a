#pragma once

// ledger.v1.Query: entries by index or event key, and ranges; the
// provenance queries (node/provenance_service.cc, docs/queries.md). Reads
// never go past the committed head.

#include "ledger/provenance.h"
#include "ledger/risk_queries.h"
#include "ledger/v1/query.grpc.pb.h"
#include "node/service_context.h"

namespace ledger::node {

class QueryService final : public v1::Query::Service {
 public:
  explicit QueryService(const ServiceContext& ctx)
      : ctx_(ctx),
        provenance_(*ctx.ledger, ctx.provenance),
        risk_(*ctx.ledger, ctx.provenance) {}

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

  // The provenance queries (ledger/provenance.h). Each checks the caller
  // against the request's tenant like GetEntry (an officer of another
  // tenant: PermissionDenied, recorded as access.denied), validates the
  // request (InvalidArgument naming the field), answers as of `as_of`
  // (default: the committed size; beyond it: InvalidArgument) and, with
  // with_proofs, adds the answer file for the page's rows (as_of defaults
  // to the latest checkpoint's size then; Unavailable before the first
  // checkpoint).
  grpc::Status History(grpc::ServerContext* context,
                       const v1::HistoryRequest* request,
                       v1::HistoryResponse* response) override;
  grpc::Status LabelHistory(grpc::ServerContext* context,
                            const v1::LabelHistoryRequest* request,
                            v1::LabelHistoryResponse* response) override;
  grpc::Status WhoTouched(grpc::ServerContext* context,
                          const v1::WhoTouchedRequest* request,
                          v1::TouchResponse* response) override;
  grpc::Status ActorActivity(grpc::ServerContext* context,
                             const v1::ActorActivityRequest* request,
                             v1::TouchResponse* response) override;
  grpc::Status Lineage(grpc::ServerContext* context,
                       const v1::LineageRequest* request,
                       v1::LineageResponse* response) override;
  grpc::Status CrossBorder(grpc::ServerContext* context,
                           const v1::CrossBorderRequest* request,
                           v1::CrossBorderResponse* response) override;
  grpc::Status Orphans(grpc::ServerContext* context,
                       const v1::OrphansRequest* request,
                       v1::OrphansResponse* response) override;

  // The risk queries (ledger/risk_queries.h), checked like the provenance
  // queries (no answer files: they are the node's reading of the grades,
  // which ledger-verify grades recomputes from an entry export).
  grpc::Status RiskFindings(grpc::ServerContext* context,
                            const v1::RiskFindingsRequest* request,
                            v1::RiskFindingsResponse* response) override;
  grpc::Status GradeExplain(grpc::ServerContext* context,
                            const v1::GradeExplainRequest* request,
                            v1::GradeExplainResponse* response) override;
  grpc::Status RiskSummary(grpc::ServerContext* context,
                           const v1::RiskSummaryRequest* request,
                           v1::RiskSummaryResponse* response) override;

  static constexpr uint64_t kMaxEntriesPerCall = 10'000;
  // Entries read from the ledger at a time while streaming.
  static constexpr size_t kReadChunk = 256;

 private:
  ServiceContext ctx_;
  // Built once, with the node's limits; stateless between calls.
  ledger::Provenance provenance_;
  ledger::RiskQueries risk_;
};

}  // namespace ledger::node
