// The ledger's risk engine: rebuilt from the entries when the ledger opens
// (and after a group failed to write), and read for grades.

#include <algorithm>

#include "base/status_macros.h"
#include "base/strings.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/schema.h"
#include "ledger/store.h"

namespace ledger {

absl::Status Ledger::LoadRisk(uint64_t size, bool check) {
  RiskFindingsIndex findings;
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<risk::Engine> engine,
                          ReplayRisk(size, check, nullptr, &findings));
  MutexLock lock(&impl_->risk_mu);
  impl_->risk = std::move(engine);
  impl_->findings = std::move(findings);
  impl_->risk_stale = false;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<risk::Engine>> Ledger::ReplayRisk(
    uint64_t size, bool check, const EntryVisitor* visit,
    RiskFindingsIndex* findings) const {
  auto engine = std::make_unique<risk::Engine>();
  if (options_.risk_evaluation || visit != nullptr) {
    std::unique_ptr<rocksdb::Iterator> it =
        store_->NewIterator(Cf::kEntries, nullptr, /*fill_cache=*/false);
    uint64_t index = 0;
    const EventLimits limits = UnboundedEventLimits();
    // One entry and its event at a time, reused from entry to entry.
    Entry entry;
    Event event;
    for (it->SeekToFirst(); it->Valid() && index < size; it->Next(), ++index) {
      const std::string_view key = it->key().ToStringView();
      if (key != EntryKey(index)) {
        return absl::DataLossError(
            StrCat("entry ", index, " is missing (rebuilding risk grades)"));
      }
      absl::Status decoded =
          DecodeEntryInto(it->value().ToStringView(), &entry);
      if (decoded.ok()) {
        decoded = DecodeEventInto(entry.event_bytes, limits, &event);
      }
      if (!decoded.ok()) {
        return absl::DataLossError(StrCat(
            "entry ", index,
            " does not decode (rebuilding risk grades): ", decoded.message()));
      }
      if (entry.index != index) {
        return absl::DataLossError(StrCat("entry ", index, " says it is entry ",
                                          entry.index,
                                          " (rebuilding risk grades)"));
      }
      if (visit != nullptr) {
        LEDGER_RETURN_IF_ERROR((*visit)(index, entry, event));
      }
      if (!options_.risk_evaluation) continue;
      if (check) {
        LEDGER_RETURN_IF_ERROR(risk::ReplayEntry(*engine, entry, event));
      } else {
        engine->Apply(event, index, entry.received_at_ns);
      }
      if (findings != nullptr) {
        findings->Add(index, event.tenant, event.actor.id,
                      static_cast<risk::Risk>(entry.risk.grade),
                      entry.risk.reasons);
      }
      if (options_.progress && index > 0 && index % 1'000'000 == 0) {
        options_.progress(StrCat("risk grades recomputed for ", index, " of ",
                                 size, " entries"));
      }
    }
    LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading entries"));
    if (index < size) {
      return absl::DataLossError(
          StrCat("entry ", index, " is missing (rebuilding risk grades)"));
    }
    if (check && options_.risk_evaluation) {
      LEDGER_RETURN_IF_ERROR(engine->CheckComplete());
    }
  }
  return engine;
}

std::optional<risk::GradeRecord> Ledger::GradeAt(std::string_view tenant,
                                                 std::string_view id,
                                                 std::string_view version,
                                                 uint64_t as_of) const {
  MutexLock lock(&impl_->risk_mu);
  return impl_->risk->GradeAt(tenant, id, version, as_of);
}

std::vector<risk::GradeRecord> Ledger::GradeHistory(
    std::string_view tenant, std::string_view id,
    std::string_view version) const {
  MutexLock lock(&impl_->risk_mu);
  return impl_->risk->GradeHistory(tenant, id, version);
}

std::vector<risk::GradeInput> Ledger::GradeInputs(std::string_view tenant,
                                                  std::string_view id,
                                                  std::string_view version,
                                                  uint64_t as_of) const {
  MutexLock lock(&impl_->risk_mu);
  return impl_->risk->GradeInputs(tenant, id, version, as_of);
}

std::vector<RiskFinding> Ledger::FindRiskFindings(
    std::string_view tenant, const RiskFindingsFilter& filter, uint64_t from,
    uint64_t below, size_t max_count, size_t max_scanned,
    std::optional<uint64_t>* resume) const {
  below = std::min(below, head().size);
  MutexLock lock(&impl_->risk_mu);
  return impl_->findings.Find(tenant, filter, from, below, max_count,
                              max_scanned, resume);
}

RiskCounts Ledger::CountRisk(std::string_view tenant, uint64_t from,
                             uint64_t below) const {
  below = std::min(below, head().size);
  MutexLock lock(&impl_->risk_mu);
  return impl_->findings.Count(tenant, from, below);
}

uint32_t Ledger::policy_version() const {
  MutexLock lock(&impl_->risk_mu);
  return impl_->risk->policy_version();
}

uint32_t Ledger::PolicyVersionOf(uint64_t index) const {
  MutexLock lock(&impl_->risk_mu);
  return impl_->risk->PoliciesUpTo(index);
}

}  // namespace ledger
