#include "tools/ledgerctl/gen_events.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "ledger/event.h"
#include "ledger/lineage_rules.h"
#include "ledger/payload.h"
#include "tools/ledgerctl/event_lines.h"

namespace ledger::ctl {
namespace {

std::string Generate(GenEventsOptions options) {
  std::ostringstream out;
  absl::Status s = GenerateEvents(options, out);
  EXPECT_TRUE(s.ok()) << s;
  return out.str();
}

TEST(GenEventsTest, EveryLineParsesConvertsAndValidates) {
  const std::string text =
      Generate({.count = 600, .tenant = "acme", .seed = 7});
  absl::StatusOr<std::vector<EventLine>> events = ParseEventLines(text);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 600u);
  std::set<std::string> ids;
  std::set<std::string> types;
  int64_t last_time = 0;
  for (const EventLine& e : *events) {
    absl::Status valid = ValidateEvent(e.event, EventLimits{});
    EXPECT_TRUE(valid.ok()) << "line " << e.line << ": " << valid << "\n"
                            << e.proto.DebugString();
    // What a node admits: processing events name their lineage.
    absl::Status lineage = CheckLineage(e.event);
    EXPECT_TRUE(lineage.ok()) << "line " << e.line << ": " << lineage;
    EXPECT_TRUE(IsKnownEventType(e.event.type)) << e.event.type;
    EXPECT_FALSE(IsLedgerInternalType(e.event.type)) << e.event.type;
    EXPECT_EQ(e.event.tenant, "acme");
    EXPECT_GT(e.event.occurred_at_ns, last_time);
    last_time = e.event.occurred_at_ns;
    EXPECT_EQ(e.proto.event_id().size(), 36u);
    EXPECT_EQ(e.proto.event_id()[14], '4');  // UUID version 4
    ids.insert(e.proto.event_id());
    types.insert(e.event.type);
  }
  EXPECT_EQ(ids.size(), 600u);
  // The workflow covers provenance, classification, annotation, QA,
  // processing and access.
  for (const char* type :
       {"dataset.registered", "grade.assigned", "training.completed",
        "item.imported", "task.assigned", "annotation.created",
        "annotation.submitted", "review.accepted", "qa.sample_drawn",
        "batch.released", "data.cleaned", "dataset.exported",
        "prelabel.applied", "dataset.version_created"}) {
    EXPECT_TRUE(types.contains(type)) << type;
  }
}

// One emitter key signs one producer's events: --producer makes every
// event that producer's; without it the simulated systems differ.
TEST(GenEventsTest, ProducerOptionSetsEveryEventsProducer) {
  absl::StatusOr<std::vector<EventLine>> mixed =
      ParseEventLines(Generate({.count = 200, .tenant = "t"}));
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  std::set<std::string> producers;
  for (const EventLine& e : *mixed) producers.insert(e.event.producer);
  EXPECT_GT(producers.size(), 1u);
  absl::StatusOr<std::vector<EventLine>> one = ParseEventLines(
      Generate({.count = 200, .tenant = "t", .producer = "acme-tool/2.0"}));
  ASSERT_TRUE(one.ok()) << one.status();
  for (const EventLine& e : *one) EXPECT_EQ(e.event.producer, "acme-tool/2.0");
}

TEST(GenEventsTest, EveryDataEventNamesContentHashes) {
  absl::StatusOr<std::vector<EventLine>> events =
      ParseEventLines(Generate({.count = 300, .tenant = "t"}));
  ASSERT_TRUE(events.ok()) << events.status();
  for (const EventLine& e : *events) {
    if (e.event.type == "training.completed") continue;  // about a person
    bool hashed = false;
    for (const auto* refs :
         {&e.event.subjects, &e.event.inputs, &e.event.outputs}) {
      for (const SubjectRef& s : *refs) {
        hashed = hashed || s.content_sha256.has_value();
      }
    }
    EXPECT_TRUE(hashed) << "line " << e.line << " " << e.event.type;
  }
}

// The simulated clock starts at the given time, or by default 300 days
// before the current UTC day, so that a node's default occurred_at window
// takes the events.
TEST(GenEventsTest, EventsStartAtTheStartTime) {
  EXPECT_EQ(DefaultGenStartSeconds(1'764'633'600 + 3600),  // 2025-12-02 01:00
            1'764'633'600 - 300 * 86400);
  EXPECT_EQ(DefaultGenStartSeconds(1'764'633'600), 1'764'633'600 - 300 * 86400);
  absl::StatusOr<std::vector<EventLine>> events = ParseEventLines(Generate(
      {.count = 20, .tenant = "acme", .start_seconds = 1'700'000'000}));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_GT(events->front().event.occurred_at_ns, 1'700'000'000'000'000'000);
  EXPECT_LT(events->back().event.occurred_at_ns,
            1'700'000'000'000'000'000 + 21 * 20 * int64_t{1'000'000'000});
  const int64_t now = absl::ToUnixNanos(absl::Now());
  events = ParseEventLines(Generate({.count = 20, .tenant = "acme"}));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_GT(events->front().event.occurred_at_ns,
            now - int64_t{302} * 86400 * 1'000'000'000);
  EXPECT_LT(events->back().event.occurred_at_ns,
            now - int64_t{299} * 86400 * 1'000'000'000);
}

TEST(GenEventsTest, TheSeedDeterminesTheOutput) {
  const std::string a = Generate(
      {.count = 50, .tenant = "acme", .seed = 1, .start_seconds = 1'000});
  EXPECT_EQ(
      a,
      Generate(
          {.count = 50, .tenant = "acme", .seed = 1, .start_seconds = 1'000}));
  EXPECT_NE(
      a,
      Generate(
          {.count = 50, .tenant = "acme", .seed = 2, .start_seconds = 1'000}));
  // Other seeds and tenants share no event IDs (no overlapping streams).
  std::set<std::string> ids;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    for (const char* tenant : {"acme", "globex"}) {
      absl::StatusOr<std::vector<EventLine>> events = ParseEventLines(
          Generate({.count = 100, .tenant = tenant, .seed = seed}));
      ASSERT_TRUE(events.ok()) << events.status();
      for (const EventLine& e : *events) {
        EXPECT_TRUE(ids.insert(e.proto.event_id()).second)
            << "seed " << seed << " " << tenant << " line " << e.line;
      }
    }
  }
  // A prefix of a longer run is the shorter run.
  const std::string longer = Generate(
      {.count = 80, .tenant = "acme", .seed = 1, .start_seconds = 1'000});
  EXPECT_EQ(longer.substr(0, a.size()), a);
}

TEST(GenEventsTest, SizePadsTheCanonicalEncoding) {
  absl::StatusOr<std::vector<EventLine>> events = ParseEventLines(
      Generate({.count = 60, .tenant = "acme", .seed = 3, .size = 2048}));
  ASSERT_TRUE(events.ok()) << events.status();
  size_t padded = 0;
  for (const EventLine& e : *events) {
    // The padding is personal data that `ledgerctl append` encrypts into an
    // envelope of 57 bytes more (ledger/FORMAT.md section 3.4).
    EXPECT_TRUE(e.event.payload.empty()) << "line " << e.line;
    const size_t size = EncodeEvent(e.event).size();
    if (!e.has_plain) {
      EXPECT_GT(size + kEnvelopeMinSize, 2048u) << "line " << e.line;
    } else {
      ++padded;
      EXPECT_EQ(size + kEnvelopeMinSize + e.plain.plaintext.size(), 2048u)
          << "line " << e.line;
      EXPECT_EQ(e.plain.data_subject, e.event.actor.id) << "line " << e.line;
    }
    EXPECT_TRUE(ValidateEvent(e.event, EventLimits{}).ok()) << e.line;
  }
  EXPECT_GT(padded, 50u);
}

TEST(GenEventsTest, RejectsBadOptions) {
  std::ostringstream out;
  EXPECT_EQ(GenerateEvents({.count = 1, .tenant = ""}, out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      GenerateEvents({.count = 1, .tenant = "a", .size = 40000}, out).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.str().empty());
  EXPECT_TRUE(GenerateEvents({.count = 0, .tenant = "a"}, out).ok());
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace ledger::ctl
