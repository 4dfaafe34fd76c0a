#include "tools/ledgerctl/event_lines.h"

#include <gtest/gtest.h>

#include <mutex>

#include "base/strings.h"
#include "ledger/batch.h"
#include "ledger/payload.h"
#include "node/convert.h"
#include "tools/ledgerctl/append.h"
#include "tools/ledgerctl/payloads.h"

namespace ledger::ctl {
namespace {

constexpr char kSnake[] =
    R"({"event_id":"0b4c2a8e-6f1d-4c3b-9a77-1e2f3a4b5c6d","type":"annotation.created",)"
    R"("schema_version":1,"occurred_at":"2025-03-03T08:00:01Z","producer":"label-studio/1.12.1",)"
    R"("tenant":"acme","project":"street-scenes",)"
    R"("actor":{"kind":"ACTOR_KIND_HUMAN","id":"annotator-01","role":"annotator"},)"
    R"("subjects":[{"kind":"SUBJECT_KIND_ITEM","id":"item-000001","version":"v1",)"
    R"("content_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}],)"
    R"("outcome":{"status":"OUTCOME_STATUS_SUCCESS"},"region":"cn-north-1",)"
    R"("attributes":{"task_id":"task-1","label_count":"3"}})";

constexpr char kCamel[] =
    R"({"eventId":"0b4c2a8e-6f1d-4c3b-9a77-1e2f3a4b5c6d","type":"annotation.created",)"
    R"("schemaVersion":1,"occurredAt":"2025-03-03T08:00:01Z","producer":"label-studio/1.12.1",)"
    R"("tenant":"acme","project":"street-scenes",)"
    R"("actor":{"kind":"ACTOR_KIND_HUMAN","id":"annotator-01","role":"annotator"},)"
    R"("subjects":[{"kind":"SUBJECT_KIND_ITEM","id":"item-000001","version":"v1",)"
    R"("contentSha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}],)"
    R"("outcome":{"status":"OUTCOME_STATUS_SUCCESS"},"region":"cn-north-1",)"
    R"("attributes":{"label_count":"3","task_id":"task-1"}})";

TEST(SplitLinesTest, SkipsBlankLinesButCountsThem) {
  std::vector<NumberedLine> lines = SplitLines("a\n\n  \nb\r\nc");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].number, 1u);
  EXPECT_EQ(lines[0].text, "a");
  EXPECT_EQ(lines[1].number, 4u);
  EXPECT_EQ(lines[1].text, "b\r");
  EXPECT_EQ(lines[2].number, 5u);
  EXPECT_TRUE(SplitLines("").empty());
  EXPECT_TRUE(SplitLines("\n\n").empty());
}

TEST(EventLinesTest, SnakeCaseAndLowerCamelCaseGiveTheSameEvent) {
  absl::StatusOr<std::vector<EventLine>> events =
      ParseEventLines(StrCat(kSnake, "\n\n", kCamel, "\n"));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].line, 1u);
  EXPECT_EQ((*events)[1].line, 3u);
  EXPECT_EQ((*events)[0].event, (*events)[1].event);
  EXPECT_EQ((*events)[0].event.tenant, "acme");
  EXPECT_EQ((*events)[0].event.attributes.front().first, "label_count");
  EXPECT_TRUE(ValidateEvent((*events)[0].event, EventLimits{}).ok());
}

TEST(EventLinesTest, JsonSyntaxErrorNamesTheLine) {
  absl::Status s =
      ParseEventLines(StrCat(kSnake, "\n", kSnake, "\n{\"type\": oops}\n"))
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStd(s.message()).rfind("line 3: ", 0), 0u) << s.message();
}

TEST(EventLinesTest, UnknownFieldNamesTheLine) {
  absl::Status s =
      ParseEventLines(StrCat("\n", R"({"evnt_id":"x"})", "\n")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStd(s.message()).rfind("line 2: ", 0), 0u) << s.message();
}

// A duplicate key would merge into one event that differs from what the
// line says (the last value wins, or lists and objects merge): refused,
// naming the line and the key.
TEST(EventLinesTest, DuplicateKeyIsRefusedNamingTheLineAndTheKey) {
  struct Case {
    std::string line;
    std::string message;
  };
  const std::string body = std::string(kSnake).substr(1);  // after '{'
  for (const Case& c : std::vector<Case>{
           {StrCat(R"({"tenant":"evil",)", body),
            R"(line 2: duplicate key "tenant")"},
           {StrCat(R"({"occurredAt":"2200-01-01T00:00:00Z",)", body),
            R"(line 2: duplicate key "occurred_at" (the same field as )"
            R"("occurredAt"))"},
           {R"({"actor":{"id":"a","id":"b"},"type":"x"})",
            R"(line 2: actor: duplicate key "id")"},
           {R"({"subjects":[{"id":"a"},{"kind":1,"kind":2}]})",
            R"(line 2: subjects[1]: duplicate key "kind")"},
           {R"({"attributes":{"label":"car","label":"person"}})",
            R"(line 2: attributes: duplicate key "label")"},
           {R"({"actor":{"id":"a"},"actor":{"role":"r"}})",
            R"(line 2: duplicate key "actor")"},
       }) {
    absl::Status s = ParseEventLines(StrCat(kSnake, "\n", c.line)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.line;
    EXPECT_EQ(ToStd(s.message()), c.message) << c.line;
  }
}

TEST(EventLinesTest, ConversionErrorNamesTheLineAndTheField) {
  std::string bad = kSnake;
  bad.replace(bad.find("9f86d081"), 8, "zz86d081");
  absl::Status s = ParseEventLines(StrCat(kSnake, "\n", bad)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStd(s.message()).rfind("line 2: ", 0), 0u) << s.message();
  EXPECT_NE(ToStd(s.message()).find("content_sha256"), std::string::npos)
      << s.message();
}

class PrepareRequestsTest : public ::testing::Test {
 protected:
  PrepareRequestsTest() : key_(crypto::Ed25519PrivateKey::Generate()) {}

  std::string Lines(size_t n) {
    std::string text;
    for (size_t i = 0; i < n; ++i) {
      std::string line = kSnake;
      const std::string suffix = StrCat(100000 + i);
      line.replace(line.find("1e2f3a4b5c6d") + 6, 6, suffix);
      text += line + "\n";
    }
    return text;
  }

  crypto::Ed25519PrivateKey key_;
};

TEST_F(PrepareRequestsTest, BatchesAreSignedOverTheNodesCanonicalBytes) {
  absl::StatusOr<std::vector<PreparedRequest>> requests =
      PrepareRequests(Lines(25), key_, 10, /*single=*/false, /*threads=*/3);
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 3u);
  EXPECT_EQ((*requests)[2].lines, (std::vector<uint64_t>{21, 22, 23, 24, 25}));
  for (const PreparedRequest& r : *requests) {
    v1::AppendBatchRequest request;
    ASSERT_TRUE(request.ParseFromString(r.serialized));
    ASSERT_EQ(static_cast<size_t>(request.events_size()), r.lines.size());
    std::vector<Event> events;
    for (const v1::Event& e : request.events()) {
      events.push_back(*node::EventFromProto(e));
    }
    auto key_id = crypto::ToArray<32>(request.signature().key_id(), "key");
    auto sig = crypto::ToArray<64>(request.signature().signature(), "sig");
    ASSERT_TRUE(key_id.ok() && sig.ok());
    EXPECT_EQ(*key_id, KeyIdOf(key_.public_key()));
    absl::StatusOr<VerifiedBatch> batch = VerifyBatch(
        std::move(events), *key_id, key_.public_key(), *sig, EventLimits{});
    EXPECT_TRUE(batch.ok()) << batch.status();
    EXPECT_EQ(r.event_ids.front(), request.events(0).event_id());
  }
}

TEST_F(PrepareRequestsTest, SingleModeSignsEachEventAlone) {
  absl::StatusOr<std::vector<PreparedRequest>> requests =
      PrepareRequests(Lines(300), key_, 1000, /*single=*/true, /*threads=*/2);
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 300u);
  for (size_t i = 0; i < requests->size(); i += 37) {
    const PreparedRequest& r = (*requests)[i];
    EXPECT_EQ(r.lines, std::vector<uint64_t>{i + 1});
    v1::AppendRequest request;
    ASSERT_TRUE(request.ParseFromString(r.serialized));
    std::vector<Event> events = {*node::EventFromProto(request.event())};
    auto sig = crypto::ToArray<64>(request.signature().signature(), "sig");
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(VerifyBatch(std::move(events), KeyIdOf(key_.public_key()),
                            key_.public_key(), *sig, EventLimits{})
                    .ok());
  }
}

TEST_F(PrepareRequestsTest, TheLowestBadLineIsReportedWhateverTheThreads) {
  std::string text = Lines(3000);
  std::vector<NumberedLine> lines = SplitLines(text);
  // Break lines 2500 and 1500 (1-based), in that order in memory.
  std::string broken;
  for (const NumberedLine& l : lines) {
    if (l.number == 1500 || l.number == 2500) {
      broken += "{not json\n";
    } else {
      broken += StrCat(l.text, "\n");
    }
  }
  for (unsigned threads : {1u, 2u, 4u}) {
    absl::Status s =
        PrepareRequests(broken, key_, 100, /*single=*/false, threads).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ToStd(s.message()).rfind("line 1500: ", 0), 0u) << s.message();
  }
}

TEST_F(PrepareRequestsTest, EventWithoutIdIsSentAsItIs) {
  // No invented IDs: either conversion rejects the line, or the event goes
  // out with an empty event_id for the node to reject.
  std::string line = kSnake;
  line.replace(line.find(R"("event_id")"), 50, "");
  absl::StatusOr<std::vector<PreparedRequest>> requests =
      PrepareRequests(line, key_, 10, false, 1);
  if (requests.ok()) {
    v1::AppendBatchRequest request;
    ASSERT_TRUE(request.ParseFromString(requests->front().serialized));
    EXPECT_EQ(request.events(0).event_id(), "");
  } else {
    EXPECT_EQ(ToStd(requests.status().message()).rfind("line 1: ", 0), 0u);
  }
}

TEST_F(PrepareRequestsTest, BatchSizeIsChecked) {
  EXPECT_EQ(PrepareRequests(Lines(1), key_, 0, false, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PrepareRequests(Lines(1), key_, kMaxBatchSize + 1, false, 1)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// A line with personal data for encryption: kSnake with two more members.
std::string PlaintextLine(std::string_view subject = "annotator-01",
                          std::string_view extra = "") {
  std::string line = kSnake;
  line.pop_back();  // the closing brace
  return StrCat(line, R"(,"data_subject":")", subject,
                R"(","payload_plaintext":"Jane Doe <jane@example.org>")", extra,
                "}");
}

TEST(EventLinesTest, PlaintextMembersAreTakenOutOfTheEvent) {
  v1::Event proto;
  Event event;
  PlaintextPayload plain;
  bool has_plain = false;
  absl::Status s =
      ParseEventLine({3, PlaintextLine()}, &proto, &event, &plain, &has_plain);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(has_plain);
  EXPECT_EQ(plain.plaintext, "Jane Doe <jane@example.org>");
  EXPECT_EQ(plain.data_subject, "annotator-01");
  EXPECT_TRUE(event.payload.empty());
  // The rest is the event as without them.
  v1::Event plain_proto;
  Event plain_event;
  ASSERT_TRUE(ParseEventLine({1, kSnake}, &plain_proto, &plain_event).ok());
  EXPECT_EQ(event, plain_event);
  // A line without them says so.
  ASSERT_TRUE(
      ParseEventLine({1, kSnake}, &proto, &event, &plain, &has_plain).ok());
  EXPECT_FALSE(has_plain);
}

TEST(EventLinesTest, PlaintextMembersAreCheckedAndNeedAppend) {
  v1::Event proto;
  Event event;
  PlaintextPayload plain;
  // Only `ledgerctl append` encrypts.
  absl::Status s = ParseEventLine({4, PlaintextLine()}, &proto, &event);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStd(s.message()).rfind("line 4: payload_plaintext", 0), 0u) << s;
  // Together or not at all.
  std::string only_subject = kSnake;
  only_subject.pop_back();
  only_subject += R"(,"data_subject":"x"})";
  s = ParseEventLine({5, only_subject}, &proto, &event, &plain);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("go together"), std::string::npos) << s;
  // Not both a payload and a plaintext.
  s = ParseEventLine({6, PlaintextLine("x", R"(,"payload":"AAEC")")}, &proto,
                     &event, &plain);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("exclude each other"), std::string::npos) << s;
  // Strings only.
  std::string number = kSnake;
  number.pop_back();
  number += R"(,"data_subject":"x","payload_plaintext":7})";
  s = ParseEventLine({7, number}, &proto, &event, &plain);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("must be strings"), std::string::npos) << s;
}

// A fixed key per subject, counting the requests.
class FakePayloadKeys final : public PayloadKeySource {
 public:
  absl::StatusOr<PayloadKeyMaterial> Get(std::string_view tenant,
                                         std::string_view subject) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (subject == "erased") {
      return absl::FailedPreconditionError("erased by the key.erased entry 9");
    }
    PayloadKeyMaterial m;
    m.key_id.fill(static_cast<uint8_t>(subject.size()));
    m.key.fill(static_cast<uint8_t>(tenant.size() + subject.size()));
    return m;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  int calls_ = 0;
};

TEST_F(PrepareRequestsTest, PlaintextIsEncryptedForItsEventThenSigned) {
  FakePayloadKeys keys;
  const std::string text =
      PlaintextLine("annotator-01") + "\n" + std::string(kSnake) + "\n";
  absl::StatusOr<std::vector<PreparedRequest>> requests =
      PrepareRequests(text, key_, 10, /*single=*/false, 1, &keys);
  ASSERT_TRUE(requests.ok()) << requests.status();
  v1::AppendBatchRequest request;
  ASSERT_TRUE(request.ParseFromString(requests->front().serialized));
  ASSERT_EQ(request.events_size(), 2);
  const v1::Event& sealed = request.events(0);
  EXPECT_EQ(sealed.payload().find("Jane"), std::string::npos);
  absl::StatusOr<Envelope> envelope = ParseEnvelope(sealed.payload());
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  PayloadKeyMaterial expected = *keys.Get("acme", "annotator-01");
  EXPECT_EQ(envelope->key_id, expected.key_id);
  absl::StatusOr<Event> event = node::EventFromProto(sealed);
  ASSERT_TRUE(event.ok());
  absl::StatusOr<std::string> plain =
      OpenPayload(*envelope, expected.key, event->tenant, event->event_id);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, "Jane Doe <jane@example.org>");
  EXPECT_TRUE(request.events(1).payload().empty());
  // The signature covers the encrypted payload.
  std::vector<Event> events;
  for (const v1::Event& e : request.events()) {
    events.push_back(*node::EventFromProto(e));
  }
  auto sig = crypto::ToArray<64>(request.signature().signature(), "sig");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(VerifyBatch(std::move(events), KeyIdOf(key_.public_key()),
                          key_.public_key(), *sig, EventLimits{})
                  .ok());
}

TEST_F(PrepareRequestsTest, PlaintextWithoutKeysOrWithAnErasedSubjectFails) {
  absl::Status s =
      PrepareRequests(PlaintextLine(), key_, 10, false, 1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStd(s.message()).rfind("line 1: ", 0), 0u) << s;
  FakePayloadKeys keys;
  s = PrepareRequests(std::string(kSnake) + "\n" + PlaintextLine("erased"),
                      key_, 10, false, 1, &keys)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s;
  EXPECT_NE(s.message().find("key.erased entry 9"), std::string::npos) << s;
}

}  // namespace
}  // namespace ledger::ctl
