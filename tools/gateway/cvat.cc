// CVAT webhooks as ledger events; docs/gateway.md, "CVAT". The signature
// (X-Signature-256) is checked by the caller before anything is parsed.

#include "base/strings.h"
#include "tools/gateway/json_fields.h"
#include "tools/gateway/mapping.h"

namespace ledger::gateway {
namespace {

constexpr std::string_view kPrefix = "cvat";

std::string Named(std::string_view kind, std::string_view id) {
  return StrCat(kPrefix, "/", kind, "/", id);
}

bool Has(const Json* j, std::string_view key) {
  return j != nullptr && j->is_object() && j->contains(key);
}

std::string StringOr(const Json& j, std::string_view key) {
  const Json* v = Member(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

// update:job by what changed (before_update names the old values): the
// assignee -> task.assigned; the state -> review outcome or submission;
// the stage back to annotation -> review.reopened; anything else (the job
// saved) -> annotation.updated.
std::string JobUpdateType(const Json& job, const Json* before) {
  if (Has(before, "assignee")) return "task.assigned";
  const std::string state = StringOr(job, "state");
  const std::string stage = StringOr(job, "stage");
  if (Has(before, "state")) {
    if (state == "rejected") return "review.rejected";
    if (state == "completed") {
      return stage == "annotation" ? "annotation.submitted" : "review.accepted";
    }
    const std::string old = StringOr(*before, "state");
    if (old == "completed" || old == "rejected") return "review.reopened";
  }
  if (Has(before, "stage")) {
    return stage == "annotation" ? "review.reopened" : "annotation.submitted";
  }
  return "annotation.updated";
}

// The event type of CVAT's "<action>:<resource>", or "" if not recorded.
std::string TypeOf(std::string_view action, std::string_view resource,
                   const Json& object, const Json* before) {
  if (resource == "project") {
    if (action == "update" && Has(before, "labels")) {
      return "label_schema.changed";
    }
    return "project.updated";
  }
  if (resource == "task") {
    if (action == "create") return "item.imported";
    if (action == "delete") return "item.deleted";
    if (Has(before, "labels")) return "label_schema.changed";
    return Has(before, "assignee") ? "task.assigned" : "project.updated";
  }
  if (resource == "job") {
    if (action == "create") return "task.assigned";
    if (action == "delete") return "item.deleted";
    return JobUpdateType(object, before);
  }
  if (resource == "issue") {
    if (action == "create") return "issue.opened";
    if (action == "delete") return "issue.resolved";
    const Json* resolved = Member(object, "resolved");
    return resolved != nullptr && resolved->is_boolean() &&
                   resolved->get<bool>()
               ? "issue.resolved"
               : "issue.opened";
  }
  return "";
}

}  // namespace

absl::StatusOr<Mapped> MapCvat(std::string_view body,
                               const MappingOptions& options, int64_t now_ns) {
  absl::StatusOr<Json> parsed = ParseObject(body);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  absl::StatusOr<std::string> name = RequiredString(j, "event", "event");
  if (!name.ok()) return name.status();
  Mapped mapped;
  absl::StatusOr<std::optional<std::string>> webhook =
      OptionalId(j, "webhook_id", "webhook_id");
  if (!webhook.ok()) return webhook.status();
  const std::string identity =
      StrCat(*name, " webhook ", webhook->value_or("-"));
  mapped.delivery = StrCat("cvat ", identity);
  if (*name == "ping")
    return mapped;  // CVAT's test delivery: nothing to record

  const size_t colon = name->find(':');
  const std::string action = name->substr(0, colon);
  const std::string resource =
      colon == std::string::npos ? "" : name->substr(colon + 1);
  const Json* object = Member(j, resource);
  const Json* before = Member(j, "before_update");
  const bool known_action =
      action == "create" || action == "update" || action == "delete";
  const std::string type =
      known_action && object != nullptr && object->is_object()
          ? TypeOf(action, resource, *object, before)
          : "";
  if (type.empty()) {
    if (known_action && !resource.empty() && object == nullptr &&
        (resource == "project" || resource == "task" || resource == "job" ||
         resource == "issue")) {
      return absl::InvalidArgumentError(StrCat(resource, ": is missing"));
    }
    return absl::UnimplementedError(
        StrCat("event: ", QuoteForMessage(*name),
               " is not recorded (the gateway records create, update and "
               "delete of project, task, job and issue)"));
  }
  absl::StatusOr<std::string> id =
      RequiredId(*object, "id", StrCat(resource, ".id"));
  if (!id.ok()) return id.status();

  Event e;
  e.type = type;
  e.producer = StrCat(options.producer, "/", kPrefix);
  e.tenant = options.tenant;
  if (action == "delete") {
    // A deleted object carries its last change, not the deletion's time.
    e.occurred_at_ns = now_ns;
    mapped.clock_time = true;
  } else {
    const char* key = action == "create" ? "created_date" : "updated_date";
    absl::StatusOr<std::optional<int64_t>> at =
        OptionalTime(*object, key, StrCat(resource, ".", key));
    if (!at.ok()) return at.status();
    e.occurred_at_ns = at->value_or(now_ns);
    mapped.clock_time = !at->has_value();
  }
  e.actor = Actor{ActorKind::kService, std::string(kPrefix), ""};
  if (const Json* sender = Member(j, "sender")) {
    absl::StatusOr<std::string> user = RequiredId(*sender, "id", "sender.id");
    if (!user.ok()) return user.status();
    e.actor = Actor{ActorKind::kHuman, Named("user", *user), ""};
  }
  e.attributes = {{"cvat.event", *name}};
  if (webhook->has_value())
    e.attributes.emplace_back("cvat.webhook_id", **webhook);

  // Project, subjects and the resource's own attributes.
  absl::StatusOr<std::optional<std::string>> project =
      resource == "project"
          ? absl::StatusOr<std::optional<std::string>>(
                std::optional<std::string>(*id))
          : OptionalId(*object, "project_id", StrCat(resource, ".project_id"));
  if (!project.ok()) return project.status();
  if (project->has_value()) e.project = Named("project", **project);
  if (resource == "task" || resource == "job") {
    SubjectRef ref = Ref(SubjectKind::kDataset, Named(resource, *id));
    if (const Json* size = Member(*object, "size");
        size != nullptr && size->is_number_unsigned()) {
      ref.item_count = size->get<uint64_t>();
    }
    e.subjects.push_back(std::move(ref));
  }
  if (resource == "job") {
    absl::StatusOr<std::optional<std::string>> task =
        OptionalId(*object, "task_id", "job.task_id");
    if (!task.ok()) return task.status();
    if (task->has_value())
      e.attributes.emplace_back("cvat.task", Named("task", **task));
    for (const char* key : {"stage", "state"}) {
      const std::string v = StringOr(*object, key);
      if (!v.empty()) e.attributes.emplace_back(StrCat("cvat.", key), v);
    }
  }
  if (resource == "issue") {
    e.attributes.emplace_back("cvat.issue", Named("issue", *id));
    absl::StatusOr<std::optional<std::string>> job =
        OptionalId(*object, "job", "issue.job");
    if (!job.ok()) return job.status();
    if (job->has_value()) {
      e.subjects.push_back(Ref(SubjectKind::kDataset, Named("job", **job)));
    }
    absl::StatusOr<std::optional<std::string>> frame =
        OptionalId(*object, "frame", "issue.frame");
    if (!frame.ok()) return frame.status();
    if (frame->has_value()) e.attributes.emplace_back("cvat.frame", **frame);
  }
  if (const Json* assignee = Member(*object, "assignee");
      assignee != nullptr && assignee->is_object()) {
    absl::StatusOr<std::string> who =
        RequiredId(*assignee, "id", StrCat(resource, ".assignee.id"));
    if (!who.ok()) return who.status();
    e.attributes.emplace_back("assignee", Named("user", *who));
  }
  SortAttributes(e);
  e.event_id = DeliveryEventId(Source::kCvat, identity, body, 0);
  mapped.events.push_back(std::move(e));
  if (absl::Status s = CheckMapped(mapped.events, options.limits); !s.ok()) {
    return s;
  }
  return mapped;
}

}  // namespace ledger::gateway
