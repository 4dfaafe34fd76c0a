// ValidateEvent: one case per rule, each checking that the message names
// the field; and the event-type taxonomy.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "base/strings.h"
#include "ledger/event.h"
#include "ledger/event_testing.h"

namespace ledger {
namespace {

using ::ledger::format_testing::FullEvent;
using ::ledger::format_testing::GenesisEvent;
using ::ledger::format_testing::MinimalEvent;
using ::ledger::format_testing::Ref;
using ::ledger::format_testing::ReviewEvent;

struct Rule {
  const char* name;  // test name suffix
  std::function<void(Event&)> mutate;
  const char* message;  // the exact message; "" means the event is valid
};

void PrintTo(const Rule& rule, std::ostream* os) { *os << rule.name; }

class ValidateEventTest : public ::testing::TestWithParam<Rule> {};

TEST_P(ValidateEventTest, ReportsTheRuleAndNamesTheField) {
  Event e = FullEvent();
  GetParam().mutate(e);
  absl::Status s = ValidateEvent(e, EventLimits{});
  if (std::string_view(GetParam().message).empty()) {
    EXPECT_TRUE(s.ok()) << s;
    return;
  }
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStd(s.message()), std::string_view(GetParam().message));
}

std::vector<SubjectRef> ThreeRefsThirdEmpty() {
  return {Ref(SubjectKind::kItem, "a"), Ref(SubjectKind::kItem, "b"),
          Ref(SubjectKind::kItem, "")};
}

const Rule kRules[] = {
    // Required fields.
    {"NilEventId", [](Event& e) { e.event_id = {}; },
     "event_id: must not be the nil UUID"},
    {"EmptyType", [](Event& e) { e.type.clear(); }, "type: must not be empty"},
    {"UnknownType", [](Event& e) { e.type = "foo.bar"; },
     "type: unknown event type 'foo.bar'"},
    {"UnknownTypeIsQuotedSafely", [](Event& e) { e.type = "it's.\\"; },
     "type: unknown event type 'it\\x27s.\\x5c'"},
    {"TypeIsText", [](Event& e) { e.type = "x.\xFF"; },
     "type: invalid UTF-8 at byte 2"},
    {"TypeCaseMatters", [](Event& e) { e.type = "Annotation.Created"; },
     "type: unknown event type 'Annotation.Created'"},
    {"SchemaVersionZero", [](Event& e) { e.schema_version = 0; },
     "schema_version: must be at least 1"},
    {"OccurredAtZero", [](Event& e) { e.occurred_at_ns = 0; },
     "occurred_at_ns: must be after the Unix epoch, got 0"},
    {"OccurredAtNegative", [](Event& e) { e.occurred_at_ns = -5; },
     "occurred_at_ns: must be after the Unix epoch, got -5"},
    {"OccurredAtOneIsValid", [](Event& e) { e.occurred_at_ns = 1; }, ""},
    {"EmptyProducer", [](Event& e) { e.producer.clear(); },
     "producer: must not be empty"},
    // Tenant.
    {"EmptyTenant", [](Event& e) { e.tenant.clear(); },
     "tenant: must not be empty"},
    {"TenantWithSpace", [](Event& e) { e.tenant = "acme ai"; },
     "tenant: must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, got 'acme ai'"},
    {"TenantStartingWithDash", [](Event& e) { e.tenant = "-acme"; },
     "tenant: must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, got '-acme'"},
    {"TenantStartingWithUnderscore", [](Event& e) { e.tenant = "_acme"; },
     "tenant: must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, got '_acme'"},
    {"TenantWithSlash", [](Event& e) { e.tenant = "a/b"; },
     "tenant: must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, got 'a/b'"},
    {"Tenant128IsValid", [](Event& e) { e.tenant = std::string(128, 'a'); },
     ""},
    {"Tenant129", [](Event& e) { e.tenant = std::string(129, 'a'); },
     "tenant: must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, got "
     "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'"},
    {"TenantWithAllAllowedCharacters", [](Event& e) { e.tenant = "0aZ._-9"; },
     ""},
    {"LedgerTenantIsValid", [](Event& e) { e.tenant = "_ledger"; }, ""},
    // Actor and outcome.
    {"ActorKindZero", [](Event& e) { e.actor.kind = ActorKind{0}; },
     "actor.kind: unknown value 0"},
    {"ActorKindFour", [](Event& e) { e.actor.kind = ActorKind{4}; },
     "actor.kind: unknown value 4"},
    {"EmptyActorId", [](Event& e) { e.actor.id.clear(); },
     "actor.id: must not be empty"},
    {"OutcomeStatusZero", [](Event& e) { e.outcome.status = OutcomeStatus{0}; },
     "outcome.status: unknown value 0"},
    {"OutcomeStatusThree",
     [](Event& e) { e.outcome.status = OutcomeStatus{3}; },
     "outcome.status: unknown value 3"},
    // References.
    {"SubjectWithEmptyId", [](Event& e) { e.subjects = ThreeRefsThirdEmpty(); },
     "subjects[2].id: must not be empty"},
    {"InputWithEmptyId", [](Event& e) { e.inputs[0].id.clear(); },
     "inputs[0].id: must not be empty"},
    {"OutputWithEmptyId", [](Event& e) { e.outputs[0].id.clear(); },
     "outputs[0].id: must not be empty"},
    {"SubjectKindZero", [](Event& e) { e.subjects[1].kind = SubjectKind{0}; },
     "subjects[1].kind: unknown value 0"},
    {"OutputKindFour", [](Event& e) { e.outputs[0].kind = SubjectKind{4}; },
     "outputs[0].kind: unknown value 4"},
    {"SubjectVersionIsText", [](Event& e) { e.subjects[0].version = "v\n"; },
     "subjects[0].version: control character U+000A at byte 1"},
    {"ContentHashIsOptional",
     [](Event& e) { e.subjects[0].content_sha256.reset(); }, ""},
    {"NoReferencesIsValid",
     [](Event& e) {
       e.subjects.clear();
       e.inputs.clear();
       e.outputs.clear();
     },
     ""},
    // Attributes.
    {"EmptyAttributeKey", [](Event& e) { e.attributes[0].first.clear(); },
     "attributes[0].key: must not be empty"},
    {"UnsortedAttributes",
     [](Event& e) { std::swap(e.attributes[0], e.attributes[2]); },
     "attributes[1].key: keys must be in strictly increasing byte order, "
     "got 'label.zh'"},
    {"DuplicateAttributeKey", [](Event& e) { e.attributes[1].first = "label"; },
     "attributes[1].key: duplicate key 'label'"},
    {"AttributeValueMayHoldTabAndLf",
     [](Event& e) { e.attributes[0].second = "a\tb\nc"; }, ""},
    {"AttributeValueWithCr",
     [](Event& e) { e.attributes[0].second = "a\r\nb"; },
     "attributes[0].value: control character U+000D at byte 1"},
    {"AttributeKeyWithTab", [](Event& e) { e.attributes[2].first = "n\tx"; },
     "attributes[2].key: control character U+0009 at byte 1"},
    {"NoAttributesIsValid", [](Event& e) { e.attributes.clear(); }, ""},
    // Text: UTF-8 without control characters.
    {"Nul", [](Event& e) { e.producer = std::string("ab\0", 3); },
     "producer: control character U+0000 at byte 2"},
    {"Escape", [](Event& e) { e.project = "\x1B[31m"; },
     "project: control character U+001B at byte 0"},
    {"Delete", [](Event& e) { e.region = "cn\x7F"; },
     "region: control character U+007F at byte 2"},
    {"C1Control", [](Event& e) { e.purpose = "x\xC2\x85"; },
     "purpose: control character U+0085 at byte 1"},
    {"NewlineOutsideAttributeValues", [](Event& e) { e.run_id = "a\nb"; },
     "run_id: control character U+000A at byte 1"},
    {"LoneContinuationByte", [](Event& e) { e.actor.role = "a\x80"; },
     "actor.role: invalid UTF-8 at byte 1"},
    {"OverlongEncoding", [](Event& e) { e.on_behalf_of = "\xC0\xAF"; },
     "on_behalf_of: invalid UTF-8 at byte 0"},
    {"OverlongThreeBytes", [](Event& e) { e.source.ip = "\xE0\x80\xAF"; },
     "source.ip: invalid UTF-8 at byte 0"},
    {"Surrogate", [](Event& e) { e.source.session = "\xED\xA0\x80"; },
     "source.session: invalid UTF-8 at byte 0"},
    {"AboveU10FFFF", [](Event& e) { e.source.request_id = "\xF4\x90\x80\x80"; },
     "source.request_id: invalid UTF-8 at byte 0"},
    {"TruncatedSequence", [](Event& e) { e.parent_run_id = "ok\xE6\xB1"; },
     "parent_run_id: invalid UTF-8 at byte 2"},
    {"BadContinuation", [](Event& e) { e.outcome.error_code = "\xE6\x41\xBD"; },
     "outcome.error_code: invalid UTF-8 at byte 0"},
    {"MultibyteTextIsValid",
     [](Event& e) {
       e.purpose = "\xE6\xA0\x87\xE6\xB3\xA8 \xF0\x9F\x8F\xB7 \xC3\xA9";
     },
     ""},
    {"U00A0IsNotAControl", [](Event& e) { e.purpose = "\xC2\xA0"; }, ""},
    // Text appended now: no bidirectional formatting characters, no line
    // or paragraph separators (section 2.3), in every field.
    {"RightToLeftOverrideInActorId",
     [](Event& e) { e.actor.id = "user:\xE2\x80\xAEtxt.exe"; },
     "actor.id: bidirectional formatting character U+202E at byte 5"},
    {"LeftToRightEmbeddingInProducer",
     [](Event& e) { e.producer = "\xE2\x80\xAAls"; },
     "producer: bidirectional formatting character U+202A at byte 0"},
    {"PopDirectionalFormattingInProject",
     [](Event& e) { e.project = "p\xE2\x80\xAC"; },
     "project: bidirectional formatting character U+202C at byte 1"},
    {"LeftToRightOverrideInRole",
     [](Event& e) { e.actor.role = "\xE2\x80\xAD"; },
     "actor.role: bidirectional formatting character U+202D at byte 0"},
    {"RightToLeftEmbeddingInOnBehalfOf",
     [](Event& e) { e.on_behalf_of = "\xE2\x80\xAB"; },
     "on_behalf_of: bidirectional formatting character U+202B at byte 0"},
    {"IsolateInSubjectId",
     [](Event& e) { e.subjects[1].id = "item:\xE2\x81\xA6x"; },
     "subjects[1].id: bidirectional formatting character U+2066 at byte 5"},
    {"IsolateInInputVersion",
     [](Event& e) { e.inputs[0].version = "v\xE2\x81\xA7"; },
     "inputs[0].version: bidirectional formatting character U+2067 at byte 1"},
    {"FirstStrongIsolateInOutputId",
     [](Event& e) { e.outputs[0].id = "\xE2\x81\xA8"; },
     "outputs[0].id: bidirectional formatting character U+2068 at byte 0"},
    {"PopIsolateInRunId", [](Event& e) { e.run_id = "r\xE2\x81\xA9"; },
     "run_id: bidirectional formatting character U+2069 at byte 1"},
    {"LeftToRightMarkInParentRunId",
     [](Event& e) { e.parent_run_id = "\xE2\x80\x8E"; },
     "parent_run_id: bidirectional formatting character U+200E at byte 0"},
    {"RightToLeftMarkInAttributeKey",
     [](Event& e) { e.attributes[0].first = "label\xE2\x80\x8F"; },
     "attributes[0].key: bidirectional formatting character U+200F at byte 5"},
    {"ArabicLetterMarkInAttributeValue",
     [](Event& e) { e.attributes[0].second = "a\nb\xD8\x9C"; },
     "attributes[0].value: bidirectional formatting character U+061C at byte "
     "3"},
    {"OverrideInSourceSession",
     [](Event& e) { e.source.session = "\xE2\x80\xAE"; },
     "source.session: bidirectional formatting character U+202E at byte 0"},
    {"OverrideInErrorCode",
     [](Event& e) { e.outcome.error_code = "E\xE2\x80\xAE"; },
     "outcome.error_code: bidirectional formatting character U+202E at byte "
     "1"},
    {"LineSeparatorInAttributeValue",
     [](Event& e) { e.attributes[0].second = "a\xE2\x80\xA8"; },
     "attributes[0].value: line separator U+2028 at byte 1"},
    {"ParagraphSeparatorInRegion", [](Event& e) { e.region = "\xE2\x80\xA9"; },
     "region: paragraph separator U+2029 at byte 0"},
    {"ArabicAndHebrewTextIsValid",
     [](Event& e) {
       e.actor.id = "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7";
       e.purpose = "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D";
     },
     ""},
    {"ZeroWidthJoinerIsValid",
     [](Event& e) {
       e.purpose = "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x94\xAC";
     },
     ""},
    // Limits (defaults).
    {"StringOverLimit", [](Event& e) { e.producer = std::string(1025, 'p'); },
     "producer: 1025 bytes exceed the limit of 1024"},
    {"StringAtLimitIsValid",
     [](Event& e) { e.producer = std::string(1024, 'p'); }, ""},
    {"RefIdOverLimit",
     [](Event& e) { e.inputs[0].id = std::string(1025, 'i'); },
     "inputs[0].id: 1025 bytes exceed the limit of 1024"},
    {"AttributeKeyOverLimit",
     [](Event& e) { e.attributes[2].first = "z" + std::string(1024, 'k'); },
     "attributes[2].key: 1025 bytes exceed the limit of 1024"},
    {"AttributeValueOverLimit",
     [](Event& e) { e.attributes[0].second = std::string(4097, 'v'); },
     "attributes[0].value: 4097 bytes exceed the limit of 4096"},
    {"AttributeValueAtLimitIsValid",
     [](Event& e) { e.attributes[0].second = std::string(4096, 'v'); }, ""},
    {"TooManySubjects",
     [](Event& e) { e.subjects.resize(1001, Ref(SubjectKind::kItem, "i")); },
     "subjects: 1001 items exceed the limit of 1000"},
    {"TooManyOutputs",
     [](Event& e) { e.outputs.resize(1001, Ref(SubjectKind::kItem, "i")); },
     "outputs: 1001 items exceed the limit of 1000"},
    {"TooManyAttributes",
     [](Event& e) {
       e.attributes.clear();
       for (int i = 0; i < 129; ++i) {
         e.attributes.emplace_back(StrCat("k", 1000 + i), "");
       }
     },
     "attributes: 129 items exceed the limit of 128"},
    {"PayloadOverLimit", [](Event& e) { e.payload = std::string(32769, '\0'); },
     "payload: 32769 bytes exceed the limit of 32768"},
    {"WholeEncodingOverLimit",
     [](Event& e) {
       e.attributes.clear();
       for (int i = 0; i < 17; ++i) {
         e.attributes.emplace_back(StrCat("k", 10 + i), std::string(4000, 'v'));
       }
     },
     "event: canonical encoding of 68750 bytes exceeds the limit of 65536"},
};

INSTANTIATE_TEST_SUITE_P(Rules, ValidateEventTest, ::testing::ValuesIn(kRules),
                         [](const ::testing::TestParamInfo<Rule>& info) {
                           return info.param.name;
                         });

TEST(ValidateEventExamplesTest, ExamplesAreValid) {
  for (const Event& e :
       {FullEvent(), MinimalEvent(), ReviewEvent(), GenesisEvent()}) {
    EXPECT_TRUE(ValidateEvent(e, {}).ok()) << ValidateEvent(e, {});
  }
}

TEST(ValidateEventExamplesTest, ReportsTheFirstViolationInFieldOrder) {
  Event e = FullEvent();
  e.producer.clear();
  e.actor.id.clear();
  e.payload = std::string(40000, 'x');
  EXPECT_EQ(ValidateEvent(e, {}).message(), "producer: must not be empty");
}

// Entries appended before section 2.3 existed may hold its characters;
// they stay valid as stored events, and only new events are refused.
TEST(ValidateEventExamplesTest, StoredEventsMayHoldBidiAndSeparators) {
  Event e = FullEvent();
  e.actor.id = "user:\xE2\x80\xAEtxt.exe";
  e.subjects[0].id = "item:\xE2\x81\xA6x\xE2\x81\xA9";
  e.attributes[0].second =
      "a\xE2\x80\xA8"
      "b";
  EXPECT_TRUE(ValidateEvent(e, {}, TextRules::kStored).ok())
      << ValidateEvent(e, {}, TextRules::kStored);
  EXPECT_EQ(ValidateEvent(e, {}).message(),
            "actor.id: bidirectional formatting character U+202E at byte 5");
  EXPECT_EQ(ValidateEvent(e, {}, TextRules::kAppend), ValidateEvent(e, {}));
  // Section 2.2 holds for stored events too.
  e.actor.id = "user:\x1B";
  EXPECT_EQ(ValidateEvent(e, {}, TextRules::kStored).message(),
            "actor.id: control character U+001B at byte 5");
}

TEST(ValidateEventExamplesTest, UsesTheGivenLimits) {
  EventLimits limits;
  limits.max_string_bytes = 4;
  Event e = MinimalEvent();
  EXPECT_EQ(ValidateEvent(e, limits).message(),
            "type: 11 bytes exceed the limit of 4");
}

// ledger/FORMAT.md section 3.2, a|b|c expanded.
constexpr std::string_view kAllTypes[] = {
    "dataset.registered",    "dataset.version_created",
    "item.imported",         "item.deleted",
    "grade.assigned",        "grade.changed",
    "grade.propagated",      "data.filtered",
    "data.cleaned",          "data.deidentified",
    "data.aggregated",       "item.viewed",
    "dataset.queried",       "dataset.exported",
    "data.shared",           "data.transferred_cross_border",
    "task.assigned",         "annotation.created",
    "annotation.updated",    "annotation.deleted",
    "annotation.submitted",  "annotation.skipped",
    "prelabel.applied",      "ground_truth.set",
    "qa.sample_drawn",       "review.accepted",
    "review.rejected",       "review.reopened",
    "issue.opened",          "issue.resolved",
    "qa.metrics_recorded",   "batch.released",
    "training.completed",    "qualification.granted",
    "qualification.revoked", "nda.signed",
    "role.granted",          "role.revoked",
    "project.updated",       "label_schema.changed",
    "guideline.versioned",   "policy.changed",
    "logging.stopped",       "pia.recorded",
    "consent.recorded",      "export_assessment.filed",
    "approval.granted",      "retention.disposed",
    "legal_hold.set",        "key.erased",
    "checkpoint.issued",     "key.registered",
    "key.rotated",           "key.revoked",
    "access.denied"};

TEST(EventTypeTest, KnowsEveryTypeOfTheTaxonomy) {
  EXPECT_EQ(std::size(kAllTypes), 55u);
  for (std::string_view type : kAllTypes) {
    EXPECT_TRUE(IsKnownEventType(type)) << type;
  }
}

TEST(EventTypeTest, RejectsOtherStrings) {
  for (std::string_view type :
       {"", "annotation", "annotation.", ".created", "annotation.created ",
        "annotation.created\n", "ANNOTATION.CREATED", "annotation|created",
        "annotation.created|updated", "key.rotate", "zzz.zzz", "aaa.aaa"}) {
    EXPECT_FALSE(IsKnownEventType(type)) << type;
  }
}

TEST(EventTypeTest, LedgerInternalTypes) {
  const std::set<std::string_view> internal = {
      "grade.propagated", "checkpoint.issued", "key.registered",
      "key.rotated",      "key.revoked",       "policy.changed",
      "key.erased",       "access.denied"};
  for (std::string_view type : kAllTypes) {
    EXPECT_EQ(IsLedgerInternalType(type), internal.contains(type)) << type;
  }
  EXPECT_FALSE(IsLedgerInternalType("key.unknown"));
}

}  // namespace
}  // namespace ledger
