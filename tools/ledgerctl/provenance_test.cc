#include "tools/ledgerctl/provenance.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace ledger::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ProvenanceCtlTest, SubjectKeysAndNodesParse) {
  absl::StatusOr<v1::SubjectKey> key = ParseSubjectKey("item:a:b", "--subject");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->kind(), "item");
  EXPECT_EQ(key->id(), "a:b");
  for (const char* bad : {"item", ":x", "item:", ""}) {
    absl::StatusOr<v1::SubjectKey> k = ParseSubjectKey(bad, "--subject");
    EXPECT_FALSE(k.ok()) << bad;
    EXPECT_THAT(k.status().message(), HasSubstr("--subject")) << bad;
  }

  absl::StatusOr<v1::LineageNode> node =
      ParseLineageNode("dataset:d/x@v2", "--node");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->kind(), v1::SUBJECT_KIND_DATASET);
  EXPECT_EQ(node->id(), "d/x");
  EXPECT_EQ(node->version(), "v2");
  node = ParseLineageNode("item:i-1", "--node");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->id(), "i-1");
  EXPECT_EQ(node->version(), "");
  // An id with '@': a trailing '@' means no version.
  node = ParseLineageNode("annotation:a@b@", "--node");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->id(), "a@b");
  EXPECT_EQ(node->version(), "");
  EXPECT_FALSE(ParseLineageNode("actor:x", "--node").ok());
  EXPECT_FALSE(ParseLineageNode("dataset:@v1", "--node").ok());
}

TEST(ProvenanceCtlTest, DotQuotesAndEscapesIdsAndHighlightsTheAskedNode) {
  v1::LineageResponse response;
  response.set_as_of(10);
  v1::LineageNode asked;
  asked.set_kind(v1::SUBJECT_KIND_DATASET);
  asked.set_id("out \"q\" \\ x");
  asked.set_version("v1");
  v1::LineageNode input;
  input.set_kind(v1::SUBJECT_KIND_ITEM);
  input.set_id("in");
  v1::LineageNodeRow* row = response.add_nodes();
  *row->mutable_node() = asked;
  row = response.add_nodes();
  *row->mutable_node() = input;
  row->set_depth(1);
  v1::LineageEdge* edge = response.add_edges();
  *edge->mutable_from() = input;
  *edge->mutable_to() = asked;
  edge->set_type("data.filtered");
  edge->set_index(7);

  const std::string dot = LineageDot(response, asked);
  EXPECT_THAT(dot, HasSubstr("digraph lineage {"));
  // Written by hand: the id's quotes and backslash escaped.
  const std::string quoted = R"("dataset:out \"q\" \\ x@v1")";
  EXPECT_THAT(dot, HasSubstr(quoted + " [label=" + quoted +
                             R"(, fillcolor="#ffffff", penwidth=3)"));
  EXPECT_THAT(
      dot, HasSubstr(R"("item:in" [label="item:in", fillcolor="#ffffff"];)"));
  EXPECT_THAT(dot, HasSubstr(R"("item:in" -> )" + quoted +
                             R"( [label="data.filtered #7"];)"));
  EXPECT_THAT(dot, Not(HasSubstr("out \"q\"")));  // never unescaped
  EXPECT_EQ(dot.back(), '\n');
  EXPECT_THAT(dot, HasSubstr("}\n"));

  Json json = LineageJson(response);
  EXPECT_EQ(json["as_of"], 10);
  ASSERT_EQ(json["nodes"].size(), 2u);
  EXPECT_EQ(json["nodes"][1]["kind"], "item");
  EXPECT_TRUE(json["nodes"][1]["grade"].is_null());
  ASSERT_EQ(json["edges"].size(), 1u);
  EXPECT_EQ(json["edges"][0]["from"], "item:in");
  EXPECT_EQ(json["edges"][0]["to"], "dataset:out \"q\" \\ x@v1");
  EXPECT_EQ(json["edges"][0]["index"], 7);
}

TEST(ProvenanceCtlTest, AnswerOutAndWithProofsGoTogether) {
  ConnectionOptions conn;
  ProvenanceOptions o;
  o.with_proofs = true;
  std::ostringstream out, err;
  absl::Status s = RunProvenance(conn, o, out, err);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("--answer-out"));
  o.with_proofs = false;
  o.answer_out = "f";
  s = RunProvenance(conn, o, out, err);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("--with-proofs"));
}

}  // namespace
}  // namespace ledger::ctl
