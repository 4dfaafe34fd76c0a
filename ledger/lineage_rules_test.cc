// CheckLineage: every processing type accepted when it names its lineage
// and refused, naming the field, when it does not; failed runs without
// outputs; other types untouched; self-loops.

#include "ledger/lineage_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/strings.h"
#include "ledger/event_testing.h"

namespace ledger {
namespace {

using ::ledger::format_testing::MinimalEvent;
using ::ledger::format_testing::Ref;
using ::testing::ElementsAre;
using ::testing::StartsWith;

SubjectRef Versioned(SubjectKind kind, std::string id, std::string version) {
  SubjectRef r = Ref(kind, std::move(id));
  r.version = std::move(version);
  return r;
}

// An event of `type` that reads raw v1 and writes clean v2.
Event Complete(std::string_view type) {
  Event e = MinimalEvent();
  e.type = std::string(type);
  e.inputs = {Versioned(SubjectKind::kDataset, "raw", "v1")};
  e.outputs = {Versioned(SubjectKind::kDataset, "clean", "v2")};
  return e;
}

std::string Message(const absl::Status& s) {
  return std::string(ToStd(s.message()));
}

TEST(LineageRulesTest, TheListIsTheProcessingFamiliesSorted) {
  std::vector<std::string_view> types(LineageTypes().begin(),
                                      LineageTypes().end());
  EXPECT_THAT(
      types, ElementsAre("data.aggregated", "data.cleaned", "data.deidentified",
                         "data.filtered", "data.transferred_cross_border",
                         "dataset.exported", "dataset.version_created",
                         "prelabel.applied"));
  EXPECT_TRUE(std::is_sorted(types.begin(), types.end()));
  for (std::string_view type : types) {
    EXPECT_TRUE(IsKnownEventType(type)) << type;
    EXPECT_FALSE(IsLedgerInternalType(type)) << type;
    EXPECT_TRUE(RequiresLineage(type)) << type;
  }
  // It names a recipient, not data it produced.
  EXPECT_FALSE(RequiresLineage("data.shared"));
  EXPECT_FALSE(RequiresLineage("annotation.created"));
  EXPECT_FALSE(RequiresLineage(""));
}

TEST(LineageRulesTest, EveryListedTypeIsAcceptedWhenComplete) {
  for (std::string_view type : LineageTypes()) {
    Event e = Complete(type);
    ASSERT_TRUE(ValidateEvent(e, EventLimits{}).ok()) << type;
    EXPECT_TRUE(CheckLineage(e).ok()) << type << ": " << CheckLineage(e);
  }
}

TEST(LineageRulesTest, EveryListedTypeWithoutInputsIsRefusedNamingInputs) {
  for (std::string_view type : LineageTypes()) {
    for (OutcomeStatus outcome :
         {OutcomeStatus::kSuccess, OutcomeStatus::kFailure}) {
      Event e = Complete(type);
      e.inputs.clear();
      e.outcome.status = outcome;
      absl::Status s = CheckLineage(e);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << type;
      EXPECT_EQ(Message(s),
                StrCat("inputs: ", type,
                       " must name at least one input (what the action "
                       "read): add the dataset, item or annotation versions "
                       "it read to inputs"))
          << type;
    }
  }
}

TEST(LineageRulesTest, EveryListedTypeWithoutOutputsIsRefusedOnSuccess) {
  for (std::string_view type : LineageTypes()) {
    Event e = Complete(type);
    e.outputs.clear();
    absl::Status s = CheckLineage(e);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << type;
    EXPECT_EQ(Message(s),
              StrCat("outputs: ", type,
                     " with outcome success must name at least one output "
                     "(what the action produced): add the versions it wrote "
                     "to outputs, or record a run that produced nothing with "
                     "outcome failure"))
        << type;
  }
}

TEST(LineageRulesTest, AFailedRunMayHaveNoOutputs) {
  for (std::string_view type : LineageTypes()) {
    Event e = Complete(type);
    e.outputs.clear();
    e.outcome = {OutcomeStatus::kFailure, "E_TIMEOUT"};
    EXPECT_TRUE(CheckLineage(e).ok()) << type << ": " << CheckLineage(e);
    // And may still name what it did produce.
    EXPECT_TRUE(CheckLineage(Complete(type)).ok()) << type;
  }
}

TEST(LineageRulesTest, OtherTypesNeedNoLineage) {
  // A sample of every other family, ledger-internal ones included.
  for (std::string_view type :
       {"dataset.registered", "item.imported", "item.deleted", "grade.assigned",
        "item.viewed", "dataset.queried", "data.shared", "annotation.created",
        "annotation.updated", "review.accepted", "batch.released",
        "key.registered", "key.erased", "access.denied"}) {
    Event e = MinimalEvent();
    e.type = std::string(type);
    ASSERT_TRUE(IsKnownEventType(type)) << type;
    EXPECT_TRUE(CheckLineage(e).ok()) << type << ": " << CheckLineage(e);
    e.inputs = {Versioned(SubjectKind::kItem, "item:1", "v1")};
    EXPECT_TRUE(CheckLineage(e).ok()) << type;
  }
}

TEST(LineageRulesTest, AnOutputEqualToAnInputIsRefused) {
  Event e = Complete("data.filtered");
  e.inputs.push_back(Versioned(SubjectKind::kDataset, "clean", "v2"));
  e.outputs.insert(e.outputs.begin(),
                   Versioned(SubjectKind::kDataset, "other", "v1"));
  // outputs = [other v1, clean v2]; inputs = [raw v1, clean v2].
  absl::Status s = CheckLineage(e);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(s),
            "outputs[1]: dataset 'clean' version 'v2' is also inputs[1]: an "
            "action cannot produce the version it read (a lineage edge from "
            "a version to itself); give what it produced a new version");
}

TEST(LineageRulesTest, ASelfLoopIsByKindIdAndVersionOnly) {
  Event e = Complete("data.cleaned");
  e.outputs = {e.inputs[0]};
  e.outputs[0].version = "v2";
  EXPECT_TRUE(CheckLineage(e).ok()) << "another version";
  e.outputs = {e.inputs[0]};
  e.outputs[0].kind = SubjectKind::kItem;
  EXPECT_TRUE(CheckLineage(e).ok()) << "another kind";
  e.outputs = {e.inputs[0]};
  e.outputs[0].id = "raw2";
  EXPECT_TRUE(CheckLineage(e).ok()) << "another id";
  // The content hash and count are not part of what a ref names.
  e.outputs = {e.inputs[0]};
  e.outputs[0].content_sha256 = crypto::Hash{};
  e.outputs[0].item_count = 7;
  EXPECT_THAT(Message(CheckLineage(e)), StartsWith("outputs[0]: dataset"));
  // Two refs without a version name the same thing.
  e.inputs = {Ref(SubjectKind::kItem, "item:9")};
  e.outputs = {Ref(SubjectKind::kItem, "item:9")};
  EXPECT_THAT(Message(CheckLineage(e)),
              StartsWith("outputs[0]: item 'item:9' version '' is also "
                         "inputs[0]"));
}

TEST(LineageRulesTest, SelfLoopsAreRefusedForEveryType) {
  Event e = MinimalEvent();
  e.type = "annotation.updated";
  e.inputs = {Versioned(SubjectKind::kAnnotation, "a:1", "r1")};
  e.outputs = {Versioned(SubjectKind::kAnnotation, "a:1", "r1")};
  EXPECT_THAT(Message(CheckLineage(e)),
              StartsWith("outputs[0]: annotation 'a:1' version 'r1'"));
  e.outputs[0].version = "r2";
  EXPECT_TRUE(CheckLineage(e).ok());
}

TEST(LineageRulesTest, ManyRefsFindTheFirstSelfLoopInOutputOrder) {
  // Above the size compared pair by pair: the sorted search must report
  // the same refs the pairwise one would.
  Event e = Complete("data.aggregated");
  e.inputs.clear();
  e.outputs.clear();
  for (int i = 0; i < 40; ++i) {
    e.inputs.push_back(Versioned(SubjectKind::kItem, StrCat("in", i), "v1"));
    e.outputs.push_back(Versioned(SubjectKind::kItem, StrCat("out", i), "v1"));
  }
  EXPECT_TRUE(CheckLineage(e).ok());
  e.outputs[37] = e.inputs[30];
  e.inputs[33] = e.inputs[30];  // the first equal input is reported
  e.outputs[39] = e.inputs[2];
  EXPECT_THAT(Message(CheckLineage(e)),
              StartsWith("outputs[37]: item 'in30' version 'v1' is also "
                         "inputs[30]:"));
}

TEST(LineageRulesTest, UntrustedIdsAreQuoted) {
  Event e = Complete("data.cleaned");
  e.inputs = {Versioned(SubjectKind::kDataset, "it's", "\xE2\x80\x94")};
  e.outputs = e.inputs;
  EXPECT_THAT(Message(CheckLineage(e)),
              StartsWith("outputs[0]: dataset 'it\\x27s' version "
                         "'\\xe2\\x80\\x94' is also inputs[0]"));
}

TEST(LineageRulesTest, BatchNamesTheFirstRefusedEvent) {
  std::vector<Event> events = {Complete("data.filtered"),
                               Complete("dataset.exported"),
                               Complete("data.deidentified"), MinimalEvent()};
  EXPECT_TRUE(CheckBatchLineage(events).ok());
  events[2].inputs.clear();
  events[3].type = "prelabel.applied";  // also bad, but later
  absl::Status s = CheckBatchLineage(events);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s),
              StartsWith("events[2].inputs: data.deidentified must name"));
  events[2] = Complete("data.deidentified");
  EXPECT_THAT(Message(CheckBatchLineage(events)),
              StartsWith("events[3].inputs: prelabel.applied must name"));
  EXPECT_TRUE(CheckBatchLineage({}).ok());
}

}  // namespace
}  // namespace ledger
