// The mappings on fixtures written from the platforms' published payload
// descriptions (testdata/), plus malformed and forged requests. Expected
// ids, hashes, times and signatures were computed outside this code (a
// separate script with Python's hashlib, hmac, uuid and datetime), so
// they check the documented constructions, not this implementation
// against itself.

#include "tools/gateway/mapping.h"

#include <fstream>
#include <sstream>

#include "crypto/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ledger::gateway {
namespace {

constexpr int64_t kNow = 1795190400000000000;  // 2026-11-20T16:00:00Z

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(LEDGER_GATEWAY_TESTDATA) + "/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

MappingOptions Options() {
  MappingOptions o;
  o.tenant = "demo";
  return o;
}

std::string Attr(const Event& e, std::string_view key) {
  const std::string* v = FindAttribute(e, key);
  return v == nullptr ? "<none>" : *v;
}

std::string Hex(const std::optional<crypto::Hash>& h) {
  return h.has_value() ? crypto::HexEncode(*h) : "<none>";
}

// --- OpenLineage -----------------------------------------------------------

TEST(OpenLineageMappingTest, StartIsAQueryOfItsInputsInItsRunAndParentRun) {
  absl::StatusOr<Mapped> m =
      MapOpenLineage(Fixture("openlineage_start.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->events.size(), 1u);
  const Event& e = m->events[0];
  EXPECT_EQ(e.type, "dataset.queried");
  EXPECT_EQ(e.tenant, "demo");
  EXPECT_EQ(e.producer, "ledger-gateway/openlineage");
  EXPECT_EQ(e.project, "airflow://prod");
  EXPECT_EQ(e.actor.kind, ActorKind::kService);
  EXPECT_EQ(e.actor.id, "airflow://prod/street_scenes_release.deidentify");
  EXPECT_EQ(e.run_id, "0193f5d2-7a41-7c3e-9d55-2b8f0e6a1c01");
  EXPECT_EQ(e.parent_run_id, "0193f5d2-7a41-7c3e-9d55-2b8f0e6a1c00");
  ASSERT_EQ(e.subjects.size(), 1u);
  EXPECT_EQ(e.subjects[0].kind, SubjectKind::kDataset);
  EXPECT_EQ(e.subjects[0].id, "s3://annotations/street-scenes/raw");
  EXPECT_TRUE(e.inputs.empty());
  EXPECT_TRUE(e.outputs.empty());
  EXPECT_EQ(Attr(e, "run.state"), "started");
  EXPECT_EQ(Attr(e, "openlineage.event_type"), "START");
  EXPECT_EQ(Attr(e, "openlineage.parent_job"),
            "airflow://prod/street_scenes_release");
  EXPECT_EQ(e.occurred_at_ns, 1795161600000000000);  // 08:00:00Z
  EXPECT_FALSE(m->clock_time);
}

TEST(OpenLineageMappingTest, CompleteWithLineageTakesTheJobFacetsType) {
  absl::StatusOr<Mapped> m =
      MapOpenLineage(Fixture("openlineage_complete.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->events.size(), 1u);
  const Event& e = m->events[0];
  EXPECT_EQ(FormatUuid(e.event_id), "b1e9281c-e598-8083-8622-12cf739c5530");
  EXPECT_EQ(e.type, "data.deidentified");
  EXPECT_EQ(e.occurred_at_ns, 1795158330250000000);  // +01:00 taken off
  EXPECT_EQ(e.outcome.status, OutcomeStatus::kSuccess);
  ASSERT_EQ(e.inputs.size(), 1u);
  EXPECT_EQ(e.inputs[0].id, "s3://annotations/street-scenes/raw");
  EXPECT_EQ(e.inputs[0].version, "v1");
  EXPECT_EQ(e.inputs[0].item_count, 1200u);
  ASSERT_EQ(e.outputs.size(), 1u);
  EXPECT_EQ(e.outputs[0].id, "s3://annotations/street-scenes/deidentified");
  EXPECT_EQ(e.outputs[0].version, "v2");
  EXPECT_EQ(e.outputs[0].item_count, 1180u);
  EXPECT_TRUE(e.subjects.empty());
  EXPECT_EQ(Attr(e, "run.state"), "completed");
}

TEST(OpenLineageMappingTest, CompleteWithoutTheFacetTakesTheConfiguredType) {
  nlohmann::json j =
      nlohmann::json::parse(Fixture("openlineage_complete.json"));
  j["job"].erase("facets");
  MappingOptions o = Options();
  o.openlineage_type = "data.cleaned";
  absl::StatusOr<Mapped> m = MapOpenLineage(j.dump(), o, kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->events[0].type, "data.cleaned");
}

TEST(OpenLineageMappingTest, FailIsAFailedProcessingEventWithItsError) {
  absl::StatusOr<Mapped> m =
      MapOpenLineage(Fixture("openlineage_fail.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  const Event& e = m->events[0];
  EXPECT_EQ(e.type, "dataset.version_created");
  EXPECT_EQ(e.outcome.status, OutcomeStatus::kFailure);
  EXPECT_EQ(e.outcome.error_code, "FAIL");
  EXPECT_EQ(Attr(e, "run.state"), "failed");
  EXPECT_EQ(Attr(e, "error.message"),
            "java.lang.OutOfMemoryError: Java heap space");
  ASSERT_EQ(e.inputs.size(), 1u);
  EXPECT_TRUE(e.outputs.empty());
  EXPECT_EQ(e.parent_run_id, "");
}

TEST(OpenLineageMappingTest, EndWithoutInputsClaimsNoLineage) {
  absl::StatusOr<Mapped> m = MapOpenLineage(
      Fixture("openlineage_complete_no_inputs.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  const Event& e = m->events[0];
  EXPECT_EQ(e.type, "dataset.queried");
  EXPECT_TRUE(e.inputs.empty());
  EXPECT_TRUE(e.outputs.empty());
  ASSERT_EQ(e.subjects.size(), 1u);
  EXPECT_EQ(e.subjects[0].id, "s3://landing/vendor/2026-11-20");
  EXPECT_EQ(Attr(e, "run.state"), "completed");
}

TEST(OpenLineageMappingTest, TheSameBodyGivesTheSameEventAnotherBodyAnother) {
  const std::string body = Fixture("openlineage_complete.json");
  absl::StatusOr<Mapped> a = MapOpenLineage(body, Options(), kNow);
  absl::StatusOr<Mapped> b = MapOpenLineage(body, Options(), kNow + 5);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->events, b->events);
  absl::StatusOr<Mapped> c = MapOpenLineage(body + "\n", Options(), kNow);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->events[0].event_id, a->events[0].event_id);
}

TEST(OpenLineageMappingTest, MalformedRunEventsNameTheField) {
  struct Case {
    std::string body;
    absl::StatusCode code;
    std::string field;
  };
  nlohmann::json bad_type =
      nlohmann::json::parse(Fixture("openlineage_start.json"));
  bad_type["eventType"] = "FINISHED";
  nlohmann::json bad_time = bad_type;
  bad_time["eventType"] = "START";
  bad_time["eventTime"] = "20 Nov 2026";
  nlohmann::json no_job = bad_time;
  no_job["eventTime"] = "2026-11-20T08:00:00Z";
  no_job.erase("job");
  nlohmann::json bad_input = no_job;
  bad_input["job"] = {{"namespace", "a"}, {"name", "b"}};
  bad_input["inputs"] = {{{"namespace", "s3://x"}}};
  nlohmann::json facet_type =
      nlohmann::json::parse(Fixture("openlineage_complete.json"));
  facet_type["job"]["facets"]["ledger"]["type"] = "annotation.created";
  const Case cases[] = {
      {Fixture("openlineage_missing_run_id.json"),
       absl::StatusCode::kInvalidArgument, "run.runId"},
      {bad_type.dump(), absl::StatusCode::kInvalidArgument, "eventType"},
      {bad_time.dump(), absl::StatusCode::kInvalidArgument, "eventTime"},
      {no_job.dump(), absl::StatusCode::kInvalidArgument, "job"},
      {bad_input.dump(), absl::StatusCode::kInvalidArgument, "inputs[0].name"},
      {facet_type.dump(), absl::StatusCode::kInvalidArgument,
       "job.facets.ledger.type"},
      {Fixture("openlineage_dataset_event.json"),
       absl::StatusCode::kUnimplemented, "run"},
      {"{\"eventType\": ", absl::StatusCode::kInvalidArgument, "body"},
      {"[1, 2]", absl::StatusCode::kInvalidArgument, "body"},
      {std::string(100, '[') + std::string(100, ']'),
       absl::StatusCode::kInvalidArgument, "nested deeper"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Mapped> m = MapOpenLineage(c.body, Options(), kNow);
    ASSERT_FALSE(m.ok()) << c.field;
    EXPECT_EQ(m.status().code(), c.code) << m.status();
    EXPECT_NE(m.status().message().find(c.field), absl::string_view::npos)
        << m.status();
  }
}

TEST(OpenLineageMappingTest, AnOutputThatIsAlsoAnInputBreaksTheLineageRules) {
  nlohmann::json j =
      nlohmann::json::parse(Fixture("openlineage_complete.json"));
  j["outputs"][0]["name"] = "street-scenes/raw";
  j["outputs"][0]["facets"]["version"]["datasetVersion"] = "v1";
  absl::StatusOr<Mapped> m = MapOpenLineage(j.dump(), Options(), kNow);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(m.status().message().find("events[0].outputs[0]"),
            absl::string_view::npos)
      << m.status();
}

// --- Label Studio ----------------------------------------------------------

TEST(LabelStudioMappingTest, AnnotationCreatedNamesAnnotationTaskAndAuthor) {
  absl::StatusOr<Mapped> m = MapLabelStudio(
      Fixture("label_studio_annotation_created.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->events.size(), 1u);
  const Event& e = m->events[0];
  EXPECT_EQ(e.type, "annotation.created");
  EXPECT_EQ(e.producer, "ledger-gateway/label-studio");
  EXPECT_EQ(e.project, "label-studio/project/12");
  EXPECT_EQ(e.actor.kind, ActorKind::kHuman);
  EXPECT_EQ(e.actor.id, "label-studio/user/7");
  // 2026-11-20T11:15:02.123456Z
  EXPECT_EQ(e.occurred_at_ns, 1795173302123456000);
  ASSERT_EQ(e.subjects.size(), 2u);
  EXPECT_EQ(e.subjects[0].kind, SubjectKind::kAnnotation);
  EXPECT_EQ(e.subjects[0].id, "label-studio/annotation/1001");
  EXPECT_EQ(Hex(e.subjects[0].content_sha256),
            "bceb802d2e1f2fc8247f83b362365d5be1f76abeb88b7a174dd3a35f238f90c4");
  EXPECT_EQ(e.subjects[1].kind, SubjectKind::kItem);
  EXPECT_EQ(e.subjects[1].id, "label-studio/task/57");
  EXPECT_EQ(Attr(e, "label_studio.action"), "ANNOTATION_CREATED");
  EXPECT_EQ(Attr(e, "lead_time_seconds"), "42.5");
  EXPECT_EQ(Attr(e, "ground_truth"), "<none>");
}

TEST(LabelStudioMappingTest, UpdateTakesUpdatedAtAndTheUserObject) {
  absl::StatusOr<Mapped> m = MapLabelStudio(
      Fixture("label_studio_annotation_updated.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  const Event& e = m->events[0];
  EXPECT_EQ(e.type, "annotation.updated");
  EXPECT_EQ(e.actor.id, "label-studio/user/8");
  EXPECT_EQ(e.occurred_at_ns, 1795173645000001000);  // 11:20:45.000001Z
  EXPECT_EQ(Attr(e, "ground_truth"), "true");
  EXPECT_EQ(e.subjects[1].id, "label-studio/task/57");
}

TEST(LabelStudioMappingTest, ACancelledAnnotationIsASkip) {
  absl::StatusOr<Mapped> m = MapLabelStudio(
      Fixture("label_studio_annotation_skipped.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->events[0].type, "annotation.skipped");
}

TEST(LabelStudioMappingTest, TasksCreatedIsOneImportPerTaskWithDerivedIds) {
  absl::StatusOr<Mapped> m = MapLabelStudio(
      Fixture("label_studio_tasks_created.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->events.size(), 2u);
  EXPECT_EQ(FormatUuid(m->events[0].event_id),
            "696a9557-28cf-8833-a8b1-0999fd71156a");
  EXPECT_EQ(FormatUuid(m->events[1].event_id),
            "fcd8f1d4-a54a-8a43-8d60-41a0dd976c5a");
  for (const Event& e : m->events) {
    EXPECT_EQ(e.type, "item.imported");
    EXPECT_EQ(e.actor.kind, ActorKind::kService);
    ASSERT_EQ(e.subjects.size(), 1u);
    EXPECT_EQ(e.subjects[0].kind, SubjectKind::kItem);
  }
  EXPECT_EQ(m->events[0].subjects[0].id, "label-studio/task/58");
  EXPECT_EQ(m->events[1].subjects[0].id, "label-studio/task/59");
  EXPECT_FALSE(m->clock_time);
}

TEST(LabelStudioMappingTest, DeletionsCarryNoTimeAndTakeTheClock) {
  absl::StatusOr<Mapped> m = MapLabelStudio(
      Fixture("label_studio_annotations_deleted.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->events.size(), 2u);
  EXPECT_TRUE(m->clock_time);
  EXPECT_EQ(m->events[0].type, "annotation.deleted");
  EXPECT_EQ(m->events[0].occurred_at_ns, kNow);
  EXPECT_EQ(m->events[1].subjects[0].id, "label-studio/annotation/1003");

  absl::StatusOr<Mapped> t = MapLabelStudio(
      Fixture("label_studio_tasks_deleted.json"), Options(), kNow);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->events[0].type, "item.deleted");
  EXPECT_EQ(t->events[0].subjects[0].id, "label-studio/task/59");
  EXPECT_TRUE(t->clock_time);
}

TEST(LabelStudioMappingTest, ProjectCreatedIsAConfigurationEventByItsOwner) {
  absl::StatusOr<Mapped> m = MapLabelStudio(
      Fixture("label_studio_project_created.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  const Event& e = m->events[0];
  EXPECT_EQ(e.type, "project.updated");
  EXPECT_EQ(e.project, "label-studio/project/13");
  EXPECT_EQ(e.actor.id, "label-studio/user/3");
  EXPECT_EQ(Attr(e, "label_studio.action"), "PROJECT_CREATED");
}

TEST(LabelStudioMappingTest, MalformedOrUnknownWebhooksAreRefused) {
  struct Case {
    std::string file;
    absl::StatusCode code;
    std::string field;
  };
  const Case cases[] = {
      {"label_studio_unknown_action.json", absl::StatusCode::kUnimplemented,
       "LABEL_LINK_CREATED"},
      {"label_studio_bad_time.json", absl::StatusCode::kInvalidArgument,
       "annotation[0].created_at"},
      {"label_studio_truncated.json", absl::StatusCode::kInvalidArgument,
       "body"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Mapped> m = MapLabelStudio(Fixture(c.file), Options(), kNow);
    ASSERT_FALSE(m.ok()) << c.file;
    EXPECT_EQ(m.status().code(), c.code) << m.status();
    EXPECT_NE(m.status().message().find(c.field), absl::string_view::npos)
        << m.status();
  }
  MappingOptions one = Options();
  one.max_events = 1;
  absl::StatusOr<Mapped> m =
      MapLabelStudio(Fixture("label_studio_tasks_created.json"), one, kNow);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kOutOfRange) << m.status();
}

// --- CVAT ------------------------------------------------------------------

constexpr std::string_view kSecret = "cvat-webhook-secret";
constexpr std::string_view kTaskSignature =
    "sha256=c8b85dcbf9f2fa27e7dc5d491aa19afccf6b416fa40f7453710d54390f08b8be";

TEST(CvatSignatureTest, TheBodysHmacUnderTheSecretIsAccepted) {
  const std::string body = Fixture("cvat_create_task.json");
  EXPECT_TRUE(VerifyCvatSignature(body, kTaskSignature, kSecret).ok());
  std::string upper(kTaskSignature);
  for (size_t i = 7; i < upper.size(); ++i) upper[i] = std::toupper(upper[i]);
  EXPECT_TRUE(VerifyCvatSignature(body, upper, kSecret).ok());
}

TEST(CvatSignatureTest, ForgedMissingOrMalformedSignaturesAreRefused) {
  const std::string body = Fixture("cvat_create_task.json");
  std::string tampered = body;
  tampered[tampered.find("300")] = '9';  // "size": 900
  EXPECT_EQ(VerifyCvatSignature(tampered, kTaskSignature, kSecret).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyCvatSignature(body, kTaskSignature, "other-secret").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyCvatSignature(body, "sha256=" + std::string(64, '0'), kSecret)
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyCvatSignature(body, "", kSecret).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyCvatSignature(body, kTaskSignature.substr(7), kSecret).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyCvatSignature(body, "sha256=abc", kSecret).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(CvatMappingTest, CreateTaskIsAnImportOfTheTasksFrames) {
  absl::StatusOr<Mapped> m =
      MapCvat(Fixture("cvat_create_task.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->events.size(), 1u);
  const Event& e = m->events[0];
  EXPECT_EQ(e.type, "item.imported");
  EXPECT_EQ(e.producer, "ledger-gateway/cvat");
  EXPECT_EQ(e.project, "cvat/project/7");
  EXPECT_EQ(e.actor.id, "cvat/user/1");
  EXPECT_EQ(e.occurred_at_ns, 1795161950419259000);  // 08:05:50.419259Z
  ASSERT_EQ(e.subjects.size(), 1u);
  EXPECT_EQ(e.subjects[0].kind, SubjectKind::kDataset);
  EXPECT_EQ(e.subjects[0].id, "cvat/task/15");
  EXPECT_EQ(e.subjects[0].item_count, 300u);
  EXPECT_EQ(Attr(e, "cvat.event"), "create:task");
  EXPECT_EQ(Attr(e, "cvat.webhook_id"), "4");
}

TEST(CvatMappingTest, JobUpdatesMapByWhatChanged) {
  const nlohmann::json base =
      nlohmann::json::parse(Fixture("cvat_update_job_accepted.json"));
  struct Case {
    nlohmann::json before;
    std::string stage, state;
    std::string type;
  };
  const Case cases[] = {
      {{{"state", "in progress"}},
       "acceptance",
       "completed",
       "review.accepted"},
      {{{"state", "in progress"}}, "validation", "rejected", "review.rejected"},
      {{{"state", "in progress"}},
       "annotation",
       "completed",
       "annotation.submitted"},
      {{{"state", "completed"}},
       "annotation",
       "in progress",
       "review.reopened"},
      {{{"assignee", nullptr}}, "annotation", "new", "task.assigned"},
      {nlohmann::json::object(), "annotation", "in progress",
       "annotation.updated"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = base;
    j["before_update"] = c.before;
    j["job"]["stage"] = c.stage;
    j["job"]["state"] = c.state;
    absl::StatusOr<Mapped> m = MapCvat(j.dump(), Options(), kNow);
    ASSERT_TRUE(m.ok()) << m.status();
    const Event& e = m->events[0];
    EXPECT_EQ(e.type, c.type) << c.before.dump() << " " << c.state;
    EXPECT_EQ(e.subjects[0].id, "cvat/job/31");
    EXPECT_EQ(Attr(e, "cvat.task"), "cvat/task/15");
    EXPECT_EQ(Attr(e, "cvat.state"), c.state);
    EXPECT_EQ(Attr(e, "assignee"), "cvat/user/5");
  }
}

TEST(CvatMappingTest, AnIssueIsOpenedOnItsJobAndFrame) {
  absl::StatusOr<Mapped> m =
      MapCvat(Fixture("cvat_create_issue.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  const Event& e = m->events[0];
  EXPECT_EQ(e.type, "issue.opened");
  ASSERT_EQ(e.subjects.size(), 1u);
  EXPECT_EQ(e.subjects[0].id, "cvat/job/31");
  EXPECT_EQ(Attr(e, "cvat.issue"), "cvat/issue/9");
  EXPECT_EQ(Attr(e, "cvat.frame"), "42");
  EXPECT_EQ(e.actor.id, "cvat/user/5");
}

TEST(CvatMappingTest, DeletionsTakeTheClockPingsRecordNothing) {
  absl::StatusOr<Mapped> m =
      MapCvat(Fixture("cvat_delete_project.json"), Options(), kNow);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->events[0].type, "project.updated");
  EXPECT_EQ(m->events[0].project, "cvat/project/7");
  EXPECT_EQ(m->events[0].occurred_at_ns, kNow);
  EXPECT_TRUE(m->clock_time);

  absl::StatusOr<Mapped> ping =
      MapCvat(Fixture("cvat_ping.json"), Options(), kNow);
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_TRUE(ping->events.empty());

  absl::StatusOr<Mapped> comment =
      MapCvat(Fixture("cvat_create_comment.json"), Options(), kNow);
  EXPECT_EQ(comment.status().code(), absl::StatusCode::kUnimplemented);
  absl::StatusOr<Mapped> no_task = MapCvat(
      "{\"event\": \"create:task\", \"webhook_id\": 4}", Options(), kNow);
  EXPECT_EQ(no_task.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NameBasedUuidTest, IsVersion8WithTheRfcVariant) {
  const Uuid id = NameBasedUuid("x");
  EXPECT_EQ(id[6] >> 4, 8);
  EXPECT_EQ(id[8] >> 6, 2);
  EXPECT_NE(NameBasedUuid("x"), NameBasedUuid("y"));
}

}  // namespace
}  // namespace ledger::gateway
