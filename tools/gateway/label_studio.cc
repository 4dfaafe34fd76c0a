// Label Studio webhooks as ledger events; docs/gateway.md, "Label Studio".

#include "base/strings.h"
#include "crypto/sha256.h"
#include "tools/gateway/json_fields.h"
#include "tools/gateway/mapping.h"

namespace ledger::gateway {
namespace {

constexpr std::string_view kPrefix = "label-studio";

std::string TaskId(std::string_view id) {
  return StrCat(kPrefix, "/task/", id);
}
std::string AnnotationId(std::string_view id) {
  return StrCat(kPrefix, "/annotation/", id);
}

// What every event of one webhook shares.
struct Common {
  std::string action;
  std::string project;  // "label-studio/project/<id>", or "" if unknown
  const MappingOptions* options = nullptr;
  int64_t now_ns = 0;
  bool clock_time = false;
};

Event Base(Common& c, std::string type, std::optional<int64_t> at) {
  Event e;
  e.type = std::move(type);
  e.occurred_at_ns = at.value_or(c.now_ns);
  if (!at.has_value()) c.clock_time = true;
  e.producer = StrCat(c.options->producer, "/", kPrefix);
  e.tenant = c.options->tenant;
  e.project = c.project;
  e.actor = Actor{ActorKind::kService, std::string(kPrefix), ""};
  e.attributes = {{"label_studio.action", c.action}};
  return e;
}

// The project's id: the "project" object's id, else `fallback` (an
// annotation's or task's "project" number).
absl::StatusOr<std::string> ProjectOf(const Json& j, const Json* fallback,
                                      std::string_view fallback_path) {
  if (const Json* p = Member(j, "project"); p != nullptr && p->is_object()) {
    absl::StatusOr<std::string> id = RequiredId(*p, "id", "project.id");
    if (!id.ok()) return id.status();
    return StrCat(kPrefix, "/project/", *id);
  }
  if (fallback != nullptr) {
    absl::StatusOr<std::optional<std::string>> id =
        OptionalId(*fallback, "project", fallback_path);
    if (!id.ok()) return id.status();
    if (id->has_value()) return StrCat(kPrefix, "/project/", **id);
  }
  return std::string();
}

// The annotation's author: completed_by as a number or as a user object.
absl::StatusOr<Actor> Annotator(const Json& a, std::string_view path) {
  const Json* by = Member(a, "completed_by");
  if (by == nullptr)
    return Actor{ActorKind::kService, std::string(kPrefix), ""};
  absl::StatusOr<std::string> id =
      by->is_object()
          ? RequiredId(*by, "id", StrCat(path, ".completed_by.id"))
          : RequiredId(a, "completed_by", StrCat(path, ".completed_by"));
  if (!id.ok()) return id.status();
  return Actor{ActorKind::kHuman, StrCat(kPrefix, "/user/", *id), "annotator"};
}

// The objects of `key` in `j`: an array of objects, or one object.
absl::StatusOr<std::vector<const Json*>> Objects(const Json& j,
                                                 std::string_view key) {
  const Json* v = Member(j, key);
  if (v == nullptr) {
    return absl::InvalidArgumentError(StrCat(key, ": is missing"));
  }
  std::vector<const Json*> out;
  if (v->is_object()) {
    out.push_back(v);
    return out;
  }
  if (!v->is_array()) {
    return absl::InvalidArgumentError(
        StrCat(key, ": must be an array of objects"));
  }
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_object()) {
      return absl::InvalidArgumentError(
          StrCat(key, "[", i, "]: must be an object"));
    }
    out.push_back(&(*v)[i]);
  }
  return out;
}

absl::Status AddTasks(const Json& j, Common& c, std::string_view type,
                      bool deleted, std::vector<Event>& events) {
  absl::StatusOr<std::vector<const Json*>> tasks = Objects(j, "tasks");
  if (!tasks.ok()) return tasks.status();
  for (size_t i = 0; i < tasks->size(); ++i) {
    const Json& t = *(*tasks)[i];
    const std::string path = StrCat("tasks[", i, "]");
    absl::StatusOr<std::string> id = RequiredId(t, "id", StrCat(path, ".id"));
    if (!id.ok()) return id.status();
    std::optional<int64_t> at;
    if (!deleted) {
      absl::StatusOr<std::optional<int64_t>> created =
          OptionalTime(t, "created_at", StrCat(path, ".created_at"));
      if (!created.ok()) return created.status();
      at = *created;
    }
    Event e = Base(c, std::string(type), at);
    e.subjects.push_back(Ref(SubjectKind::kItem, TaskId(*id)));
    events.push_back(std::move(e));
  }
  return absl::OkStatus();
}

absl::Status AddAnnotations(const Json& j, Common& c, std::string_view action,
                            std::vector<Event>& events) {
  const bool deleted = action == "ANNOTATIONS_DELETED";
  const bool updated = action == "ANNOTATION_UPDATED";
  absl::StatusOr<std::vector<const Json*>> annotations =
      Objects(j, Member(j, "annotations") ? "annotations" : "annotation");
  if (!annotations.ok()) return annotations.status();
  const Json* task = Member(j, "task");
  for (size_t i = 0; i < annotations->size(); ++i) {
    const Json& a = *(*annotations)[i];
    const std::string path = StrCat("annotation[", i, "]");
    absl::StatusOr<std::string> id = RequiredId(a, "id", StrCat(path, ".id"));
    if (!id.ok()) return id.status();
    // The task: the annotation's "task" number, else the webhook's task.
    absl::StatusOr<std::optional<std::string>> task_id =
        OptionalId(a, "task", StrCat(path, ".task"));
    if (!task_id.ok()) return task_id.status();
    if (!task_id->has_value() && task != nullptr && task->is_object()) {
      task_id = OptionalId(*task, "id", "task.id");
      if (!task_id.ok()) return task_id.status();
    }
    std::optional<int64_t> at;
    if (!deleted) {
      absl::StatusOr<std::optional<int64_t>> t =
          OptionalTime(a, updated ? "updated_at" : "created_at",
                       StrCat(path, updated ? ".updated_at" : ".created_at"));
      if (!t.ok()) return t.status();
      at = *t;
    }
    std::string type = deleted   ? "annotation.deleted"
                       : updated ? "annotation.updated"
                                 : "annotation.created";
    const Json* cancelled = Member(a, "was_cancelled");
    if (!deleted && cancelled != nullptr && cancelled->is_boolean() &&
        cancelled->get<bool>()) {
      type = "annotation.skipped";  // Label Studio's "skip"
    }
    Event e = Base(c, std::move(type), at);
    if (!deleted) {
      absl::StatusOr<Actor> actor = Annotator(a, path);
      if (!actor.ok()) return actor.status();
      e.actor = *actor;
    }
    SubjectRef ref = Ref(SubjectKind::kAnnotation, AnnotationId(*id));
    // The labels themselves stay in Label Studio; the ledger keeps their
    // hash (compact JSON, keys sorted), enough to prove what was labelled.
    if (const Json* result = Member(a, "result")) {
      ref.content_sha256 = crypto::Sha256Digest(result->dump());
    }
    e.subjects.push_back(std::move(ref));
    if (task_id->has_value()) {
      e.subjects.push_back(Ref(SubjectKind::kItem, TaskId(**task_id)));
    }
    const Json* ground_truth = Member(a, "ground_truth");
    if (ground_truth != nullptr && ground_truth->is_boolean() &&
        ground_truth->get<bool>()) {
      e.attributes.emplace_back("ground_truth", "true");
    }
    const Json* lead = Member(a, "lead_time");
    if (lead != nullptr && lead->is_number()) {
      e.attributes.emplace_back("lead_time_seconds", lead->dump());
    }
    SortAttributes(e);
    events.push_back(std::move(e));
  }
  return absl::OkStatus();
}

absl::Status AddProject(const Json& j, Common& c, std::string_view action,
                        std::vector<Event>& events) {
  const Json* p = Member(j, "project");
  if (p == nullptr || !p->is_object()) {
    return absl::InvalidArgumentError("project: must be an object");
  }
  std::optional<int64_t> at;
  if (action != "PROJECT_DELETED") {
    const bool created = action == "PROJECT_CREATED";
    absl::StatusOr<std::optional<int64_t>> t =
        OptionalTime(*p, created ? "created_at" : "updated_at",
                     created ? "project.created_at" : "project.updated_at");
    if (!t.ok()) return t.status();
    at = *t;
  }
  Event e = Base(c, "project.updated", at);
  absl::StatusOr<std::optional<std::string>> owner =
      OptionalId(*p, "created_by", "project.created_by");
  if (owner.ok() && owner->has_value() && action == "PROJECT_CREATED") {
    e.actor = Actor{ActorKind::kHuman, StrCat(kPrefix, "/user/", **owner),
                    "project-owner"};
  }
  events.push_back(std::move(e));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Mapped> MapLabelStudio(std::string_view body,
                                      const MappingOptions& options,
                                      int64_t now_ns) {
  absl::StatusOr<Json> parsed = ParseObject(body);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  absl::StatusOr<std::string> action = RequiredString(j, "action", "action");
  if (!action.ok()) return action.status();
  Common c;
  c.action = *action;
  c.options = &options;
  c.now_ns = now_ns;
  const Json* annotation = Member(j, "annotation");
  absl::StatusOr<std::string> project = ProjectOf(
      j,
      annotation != nullptr && annotation->is_object() ? annotation : nullptr,
      "annotation.project");
  if (!project.ok()) return project.status();
  c.project = *project;

  std::vector<Event> events;
  absl::Status s;
  if (c.action == "TASKS_CREATED" || c.action == "TASK_CREATED") {
    s = AddTasks(j, c, "item.imported", false, events);
  } else if (c.action == "TASKS_DELETED") {
    s = AddTasks(j, c, "item.deleted", true, events);
  } else if (c.action == "ANNOTATION_CREATED" ||
             c.action == "ANNOTATIONS_CREATED" ||
             c.action == "ANNOTATION_UPDATED" ||
             c.action == "ANNOTATIONS_DELETED") {
    s = AddAnnotations(j, c, c.action, events);
  } else if (c.action == "PROJECT_CREATED" || c.action == "PROJECT_UPDATED" ||
             c.action == "PROJECT_DELETED") {
    s = AddProject(j, c, c.action, events);
  } else {
    return absl::UnimplementedError(
        StrCat("action: ", QuoteForMessage(c.action),
               " is not recorded (the gateway records TASKS_CREATED, "
               "TASKS_DELETED, ANNOTATION_CREATED, ANNOTATIONS_CREATED, "
               "ANNOTATION_UPDATED, ANNOTATIONS_DELETED and PROJECT_*)"));
  }
  if (!s.ok()) return s;
  if (events.empty()) {
    return absl::InvalidArgumentError(
        StrCat(c.action, " names no task or annotation"));
  }
  if (events.size() > options.max_events) {
    return absl::OutOfRangeError(
        StrCat(c.action, " names ", events.size(),
               " tasks or annotations; the gateway takes at most ",
               options.max_events, " per webhook (max_events_per_request)"));
  }
  Mapped mapped;
  mapped.delivery = StrCat("label-studio ", c.action);
  for (size_t i = 0; i < events.size(); ++i) {
    events[i].event_id =
        DeliveryEventId(Source::kLabelStudio, c.action, body, i);
  }
  mapped.events = std::move(events);
  mapped.clock_time = c.clock_time;
  if (absl::Status check = CheckMapped(mapped.events, options.limits);
      !check.ok()) {
    return check;
  }
  return mapped;
}

}  // namespace ledger::gateway
