// OpenLineage RunEvents (the JSON its HTTP transport posts) as ledger
// events; docs/gateway.md, "OpenLineage".

#include <algorithm>

#include "base/strings.h"
#include "ledger/lineage_rules.h"
#include "tools/gateway/json_fields.h"
#include "tools/gateway/mapping.h"

namespace ledger::gateway {
namespace {

// An OpenLineage dataset or job is named by a namespace and a name; the
// ledger's id joins them with one '/', as in "s3://bucket/raw/images".
std::string JoinName(std::string_view ns, std::string_view name) {
  while (!ns.empty() && ns.back() == '/') ns.remove_suffix(1);
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (ns.empty()) return std::string(name);
  return StrCat(ns, "/", name);
}

// A non-negative integer member, or 0 when absent or of another type
// (statistics are informative; a producer's odd value loses only them).
uint64_t CountOrZero(const Json* facets, std::string_view facet,
                     std::string_view key) {
  if (facets == nullptr) return 0;
  const Json* f = Member(*facets, facet);
  if (f == nullptr) return 0;
  const Json* v = Member(*f, key);
  if (v == nullptr || !v->is_number_integer()) return 0;
  return v->is_number_unsigned() || v->get<int64_t>() >= 0 ? v->get<uint64_t>()
                                                           : 0;
}

// The datasets of "inputs" or "outputs" as dataset refs: id from namespace
// and name, version from the "version" facet's datasetVersion, item count
// from the statistics facet (inputStatistics / outputStatistics rowCount).
absl::StatusOr<std::vector<SubjectRef>> Datasets(const Json& event,
                                                 std::string_view list,
                                                 std::string_view stats_facets,
                                                 std::string_view stats) {
  std::vector<SubjectRef> refs;
  const Json* datasets = Member(event, list);
  if (datasets == nullptr) return refs;
  if (!datasets->is_array()) {
    return absl::InvalidArgumentError(StrCat(list, ": must be an array"));
  }
  for (size_t i = 0; i < datasets->size(); ++i) {
    const Json& d = (*datasets)[i];
    const std::string path = StrCat(list, "[", i, "]");
    if (!d.is_object()) {
      return absl::InvalidArgumentError(StrCat(path, ": must be an object"));
    }
    absl::StatusOr<std::string> ns =
        RequiredString(d, "namespace", StrCat(path, ".namespace"));
    if (!ns.ok()) return ns.status();
    absl::StatusOr<std::string> name =
        RequiredString(d, "name", StrCat(path, ".name"));
    if (!name.ok()) return name.status();
    SubjectRef ref;
    ref.kind = SubjectKind::kDataset;
    ref.id = JoinName(*ns, *name);
    if (const Json* facets = Member(d, "facets")) {
      if (const Json* version = Member(*facets, "version")) {
        absl::StatusOr<std::optional<std::string>> v =
            OptionalString(*version, "datasetVersion",
                           StrCat(path, ".facets.version.datasetVersion"));
        if (!v.ok()) return v.status();
        if (v->has_value()) ref.version = **v;
      }
    }
    ref.item_count = CountOrZero(Member(d, stats_facets), stats, "rowCount");
    refs.push_back(std::move(ref));
  }
  return refs;
}

struct RunState {
  std::string_view event_type;  // a literal: START, ..., OTHER
  std::string_view state;       // attribute run.state
  bool ends = false;            // COMPLETE, FAIL, ABORT
  bool failed = false;          // FAIL, ABORT
};

absl::StatusOr<RunState> StateOf(std::string_view event_type) {
  if (event_type == "START") return RunState{"START", "started"};
  if (event_type == "RUNNING") return RunState{"RUNNING", "running"};
  if (event_type == "COMPLETE") {
    return RunState{"COMPLETE", "completed", true, false};
  }
  if (event_type == "FAIL") return RunState{"FAIL", "failed", true, true};
  if (event_type == "ABORT") return RunState{"ABORT", "aborted", true, true};
  if (event_type == "OTHER") return RunState{"OTHER", "other"};
  return absl::InvalidArgumentError(
      StrCat("eventType: ", QuoteForMessage(event_type),
             " is not one of START, RUNNING, COMPLETE, FAIL, ABORT, OTHER"));
}

// The job's "ledger" facet may name the event type of the run's end:
// {"ledger": {"type": "data.deidentified"}}. One of LineageTypes().
absl::StatusOr<std::string> EndType(const Json& job,
                                    const MappingOptions& options) {
  const Json* facets = Member(job, "facets");
  const Json* ledger = facets ? Member(*facets, "ledger") : nullptr;
  if (ledger == nullptr) return options.openlineage_type;
  absl::StatusOr<std::string> type =
      RequiredString(*ledger, "type", "job.facets.ledger.type");
  if (!type.ok()) return type.status();
  if (!RequiresLineage(*type)) {
    return absl::InvalidArgumentError(
        StrCat("job.facets.ledger.type: ", QuoteForMessage(*type),
               " is not a processing type with lineage (data.filtered, "
               "data.cleaned, data.deidentified, data.aggregated, "
               "dataset.version_created, ...)"));
  }
  return *type;
}

}  // namespace

absl::StatusOr<Mapped> MapOpenLineage(std::string_view body,
                                      const MappingOptions& options,
                                      int64_t now_ns) {
  (void)now_ns;  // every RunEvent carries its eventTime
  absl::StatusOr<Json> parsed = ParseObject(body);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  if (Member(j, "run") == nullptr) {
    return absl::UnimplementedError(
        "run: is missing; only RunEvents are recorded (DatasetEvents and "
        "JobEvents describe no run and carry nothing to audit)");
  }
  const Json& run = *Member(j, "run");
  absl::StatusOr<std::optional<std::string>> event_type =
      OptionalString(j, "eventType", "eventType");
  if (!event_type.ok()) return event_type.status();
  absl::StatusOr<RunState> state =
      StateOf(event_type->value_or(std::string("OTHER")));
  if (!state.ok()) return state.status();
  absl::StatusOr<std::string> time =
      RequiredString(j, "eventTime", "eventTime");
  if (!time.ok()) return time.status();
  absl::StatusOr<int64_t> occurred = ParseTimeNs(*time, "eventTime");
  if (!occurred.ok()) return occurred.status();
  absl::StatusOr<std::string> producer =
      RequiredString(j, "producer", "producer");
  if (!producer.ok()) return producer.status();
  absl::StatusOr<std::string> run_id =
      RequiredString(run, "runId", "run.runId");
  if (!run_id.ok()) return run_id.status();
  if (run_id->empty()) return absl::InvalidArgumentError("run.runId: is empty");
  const Json* job = Member(j, "job");
  if (job == nullptr) return absl::InvalidArgumentError("job: is missing");
  absl::StatusOr<std::string> job_ns =
      RequiredString(*job, "namespace", "job.namespace");
  if (!job_ns.ok()) return job_ns.status();
  absl::StatusOr<std::string> job_name =
      RequiredString(*job, "name", "job.name");
  if (!job_name.ok()) return job_name.status();

  Event e;
  e.occurred_at_ns = *occurred;
  e.producer = StrCat(options.producer, "/", SourceName(Source::kOpenLineage));
  e.tenant = options.tenant;
  e.project = *job_ns;
  e.actor =
      Actor{ActorKind::kService, JoinName(*job_ns, *job_name), "pipeline"};
  e.run_id = *run_id;
  e.attributes = {{"openlineage.event_type", std::string(state->event_type)},
                  {"openlineage.job", JoinName(*job_ns, *job_name)},
                  {"openlineage.producer", TruncateUtf8(*producer, 4096)},
                  {"run.state", std::string(state->state)}};
  const Json* run_facets = Member(run, "facets");
  if (const Json* parent =
          run_facets ? Member(*run_facets, "parent") : nullptr) {
    const Json* parent_run = Member(*parent, "run");
    if (parent_run == nullptr) {
      return absl::InvalidArgumentError("run.facets.parent.run: is missing");
    }
    absl::StatusOr<std::string> id =
        RequiredString(*parent_run, "runId", "run.facets.parent.run.runId");
    if (!id.ok()) return id.status();
    e.parent_run_id = *id;
    if (const Json* parent_job = Member(*parent, "job")) {
      absl::StatusOr<std::string> ns = RequiredString(
          *parent_job, "namespace", "run.facets.parent.job.namespace");
      if (!ns.ok()) return ns.status();
      absl::StatusOr<std::string> name =
          RequiredString(*parent_job, "name", "run.facets.parent.job.name");
      if (!name.ok()) return name.status();
      e.attributes.emplace_back("openlineage.parent_job", JoinName(*ns, *name));
    }
  }
  if (const Json* error =
          run_facets ? Member(*run_facets, "errorMessage") : nullptr) {
    absl::StatusOr<std::optional<std::string>> message =
        OptionalString(*error, "message", "run.facets.errorMessage.message");
    if (!message.ok()) return message.status();
    if (message->has_value()) {
      e.attributes.emplace_back("error.message", TruncateUtf8(**message, 4096));
    }
  }

  absl::StatusOr<std::vector<SubjectRef>> inputs =
      Datasets(j, "inputs", "inputFacets", "inputStatistics");
  if (!inputs.ok()) return inputs.status();
  absl::StatusOr<std::vector<SubjectRef>> outputs =
      Datasets(j, "outputs", "outputFacets", "outputStatistics");
  if (!outputs.ok()) return outputs.status();
  if (state->failed) {
    e.outcome =
        Outcome{OutcomeStatus::kFailure, std::string(state->event_type)};
  }
  // The run's end with its lineage is a processing event; everything else
  // (the start, progress, an end that names no inputs, or a successful end
  // without outputs) is a dataset.queried naming the datasets as subjects,
  // which claims no lineage edge the run did not report.
  const bool lineage =
      state->ends && !inputs->empty() && (state->failed || !outputs->empty());
  if (lineage) {
    absl::StatusOr<std::string> type = EndType(*job, options);
    if (!type.ok()) return type.status();
    e.type = *type;
    e.inputs = std::move(*inputs);
    e.outputs = std::move(*outputs);
  } else {
    e.type = "dataset.queried";
    e.subjects = std::move(*inputs);
    e.subjects.insert(e.subjects.end(),
                      std::make_move_iterator(outputs->begin()),
                      std::make_move_iterator(outputs->end()));
  }
  SortAttributes(e);

  Mapped mapped;
  const std::string identity =
      StrCat(*run_id, " ", state->event_type, " ", *time);
  e.event_id = DeliveryEventId(Source::kOpenLineage, identity, body, 0);
  mapped.delivery = StrCat("openlineage run ", identity);
  mapped.events.push_back(std::move(e));
  if (absl::Status s = CheckMapped(mapped.events, options.limits); !s.ok()) {
    return s;
  }
  return mapped;
}

}  // namespace ledger::gateway
