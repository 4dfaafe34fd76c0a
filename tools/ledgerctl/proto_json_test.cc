#include "tools/ledgerctl/proto_json.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <sstream>

#include "base/strings.h"
#include "ledger/v1/event.pb.h"
#include "ledger/v1/query.pb.h"
#include "nlohmann/json.hpp"
#include "tools/ledgerctl/gen_events.h"

namespace ledger::ctl {
namespace {

using google::protobuf::util::MessageDifferencer;

// What protobuf's own parser makes of `json`, or nullopt if it rejects it.
template <typename M>
std::optional<M> Reference(const std::string& json) {
  M m;
  if (!google::protobuf::util::JsonStringToMessage(json, &m).ok()) {
    return std::nullopt;
  }
  return m;
}

template <typename M>
void ExpectSameAsProtobuf(const std::string& json) {
  std::optional<M> want = Reference<M>(json);
  ASSERT_TRUE(want.has_value()) << json;
  M got;
  absl::Status s = ParseProtoJson(json, &got);
  ASSERT_TRUE(s.ok()) << s << "\n" << json;
  EXPECT_TRUE(MessageDifferencer::Equals(got, *want))
      << json << "\ngot:  " << got.ShortDebugString()
      << "\nwant: " << want->ShortDebugString();
}

TEST(ProtoJsonTest, GeneratedEventsParseAsProtobufParsesThem) {
  std::ostringstream out;
  ASSERT_TRUE(GenerateEvents(
                  {.count = 300, .tenant = "acme", .seed = 5, .size = 900}, out)
                  .ok());
  std::istringstream in(out.str());
  std::string line;
  while (std::getline(in, line)) {
    // The padding is personal data for `ledgerctl append` to encrypt
    // (gen_events.h), beside the Event.
    nlohmann::json j = nlohmann::json::parse(line);
    j.erase("data_subject");
    j.erase("payload_plaintext");
    ExpectSameAsProtobuf<v1::Event>(j.dump());
  }
}

TEST(ProtoJsonTest, AcceptsTheMappingsVariants) {
  for (
      const char* json : {
          R"({"eventId":"x","schemaVersion":"7","occurredAt":"2025-01-02T03:04:05.5+01:00"})",
          R"({"event_id":"x","schema_version":7.0,"on_behalf_of":null})",
          R"({"actor":{"kind":2,"id":"svc"},"outcome":{"status":"OUTCOME_STATUS_FAILURE"}})",
          R"({"subjects":[{"kind":"SUBJECT_KIND_ITEM","itemCount":"18446744073709551615"}],"inputs":null})",
          R"({"payload":"aGVsbG8-_w","attributes":{"b":"2","a":"1"}})",
          R"({"payload":"aGVsbG8+/w=="})",
          R"({"subjects":[],"attributes":{}})",
      }) {
    ExpectSameAsProtobuf<v1::Event>(json);
  }
  ExpectSameAsProtobuf<v1::BackLink>(R"({"kind":"item","previous":"12"})");
  ExpectSameAsProtobuf<v1::Entry>(
      R"({"index":3,"risk":"RISK_GRADE_HIGH","riskReasons":["R1","R2"],"backLinks":[{"id":"a"}]})");
}

TEST(ProtoJsonTest, ErrorsNameTheFieldPath) {
  struct Case {
    const char* json;
    const char* message_prefix;
    // protobuf 3.21 is laxer here; we reject what the mapping forbids.
    bool protobuf_accepts = false;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"evnt_id":"x"})", "evnt_id: no such field"},
           {R"({"actor":{"kind":"ACTOR_KIND_ALIEN"}})", "actor.kind: unknown"},
           {R"({"subjects":[{},{"kind":true}]})", "subjects[1].kind: "},
           {R"({"subjects":[null]})", "subjects[0]: is null", true},
           {R"({"subjects":{}})", "subjects: must be an array", true},
           {R"({"occurred_at":"yesterday"})", "occurred_at: not an RFC 3339"},
           {R"({"schema_version":-1})", "schema_version: not a valid integer"},
           {R"({"schema_version":1.5})", "schema_version: not a valid integer"},
           {R"({"schema_version":"4294967296"})", "schema_version: not a"},
           {R"({"tenant":5})", "tenant: must be a string"},
           {R"({"payload":"!!"})", "payload: not valid base64"},
           {R"({"attributes":{"k":1}})", "attributes[\"k\"]: must be a string"},
           {R"({"actor":"bob"})", "actor: must be a JSON object"},
           {R"([1,2])", "not a JSON object"},
           {R"({"type": oops})", "invalid JSON: parse error at line 1"},
       }) {
    v1::Event e;
    absl::Status s = ParseProtoJson(c.json, &e);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(ToStd(s.message()).rfind(c.message_prefix, 0), 0u)
        << c.json << " -> " << s.message();
    EXPECT_EQ(Reference<v1::Event>(c.json).has_value(), c.protobuf_accepts)
        << c.json;
  }
}

TEST(ProtoJsonTest, DuplicateKeysAreErrorsNamingTheKey) {
  for (const auto& [json, message] :
       std::vector<std::pair<const char*, const char*>>{
           {R"({"tenant":"a","tenant":"b"})", R"(duplicate key "tenant")"},
           {R"({"run_id":"a","runId":"b"})",
            R"(duplicate key "runId" (the same field as "run_id"))"},
           {R"({"subjects":[{"id":"a"}],"subjects":[{"id":"b"}]})",
            R"(duplicate key "subjects")"},
           {R"({"outcome":{"status":1,"error_code":"x","errorCode":"y"}})",
            R"(outcome: duplicate key "errorCode" (the same field as )"
            R"("error_code"))"},
           {R"({"attributes":{"a":"1","b":"2","a":"3"}})",
            R"(attributes: duplicate key "a")"},
       }) {
    v1::Event e;
    absl::Status s = ParseProtoJson(json, &e);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_EQ(ToStd(s.message()), message) << json;
  }
  // The same key in different objects is no duplicate.
  v1::Event e;
  EXPECT_TRUE(
      ParseProtoJson(R"({"subjects":[{"id":"a"},{"id":"b"}],)"
                     R"("inputs":[{"id":"a"}],"attributes":{"id":"a"}})",
                     &e)
          .ok());
}

TEST(ProtoJsonTest, ClearsTheMessageFirst) {
  v1::Event e;
  e.set_tenant("old");
  ASSERT_TRUE(ParseProtoJson(R"({"type":"x"})", &e).ok());
  EXPECT_EQ(e.tenant(), "");
  EXPECT_EQ(e.type(), "x");
}

}  // namespace
}  // namespace ledger::ctl
