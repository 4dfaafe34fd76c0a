#include "ledger/tlog_proof.h"

#include <string>

#include "crypto/rfc6962.h"
#include "gtest/gtest.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

using crypto::NoteSigner;
using crypto::NoteSigType;

// The example of c2sp.org/tlog-proof, verbatim (its signatures are elided
// with "[...]", so only its layout can be parsed).
constexpr std::string_view kSpecExample =
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    "— example.com/fancylog hI2DJw[...]1roloI=\n"
    "— witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    "— witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    "— witness3.example S4X82uH5[...]3oEcROGLFQ==\n";

TEST(TlogProofFormatTest, ParsesTheSpecExampleAndFormatsItBack) {
  absl::StatusOr<TlogProof> p = ParseTlogProof(kSpecExample);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->extra,
            *crypto::Base64Decode(
                "YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ"));
  EXPECT_TRUE(p->extra->starts_with("age-v1.2.1-darwin-arm64.tar.gz"));
  EXPECT_EQ(p->index, 73894u);
  ASSERT_EQ(p->proof.size(), 5u);
  EXPECT_EQ(crypto::Base64Encode(p->proof[4]),
            "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=");
  EXPECT_TRUE(p->checkpoint.starts_with("example.com/fancylog\n109482\n"));
  EXPECT_TRUE(p->checkpoint.ends_with("3oEcROGLFQ==\n"));
  EXPECT_EQ(FormatTlogProof(*p), kSpecExample);
}

TEST(TlogProofFormatTest, RoundTripsWithAndWithoutExtra) {
  const std::string checkpoint = "o\n1\nx\n\n— o sig\n";
  for (std::optional<std::string> extra :
       {std::optional<std::string>(), std::optional<std::string>(""),
        std::optional<std::string>(std::string("\0\xff entry", 8))}) {
    TlogProof p{
        extra, 7, {crypto::HashLeaf("a"), crypto::HashLeaf("b")}, checkpoint};
    const std::string text = FormatTlogProof(p);
    absl::StatusOr<TlogProof> q = ParseTlogProof(text);
    ASSERT_TRUE(q.ok()) << q.status() << "\n" << text;
    EXPECT_EQ(q->extra, p.extra);
    EXPECT_EQ(q->index, 7u);
    EXPECT_EQ(q->proof, p.proof);
    EXPECT_EQ(q->checkpoint, checkpoint);
  }
  TlogProof empty{std::nullopt, 0, {}, checkpoint};
  EXPECT_EQ(FormatTlogProof(empty),
            StrCat("c2sp.org/tlog-proof@v1\nindex 0\n\n", checkpoint));
}

TEST(TlogProofFormatTest, RejectsMalformedProofs) {
  const std::string h = crypto::Base64Encode(crypto::HashLeaf("a"));
  const std::string cp = "o\n1\nx\n\n— o sig\n";
  ASSERT_TRUE(
      ParseTlogProof(StrCat("c2sp.org/tlog-proof@v1\nindex 3\n", h, "\n\n", cp))
          .ok());
  std::string many;
  for (int i = 0; i < 65; ++i) many += h + "\n";
  const std::string cases[] = {
      "",
      StrCat("c2sp.org/tlog-proof@v2\nindex 3\n\n", cp),
      StrCat("C2SP.org/tlog-proof@v1\nindex 3\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1", "\nindex 3\n"),  // no empty line
      StrCat("c2sp.org/tlog-proof@v1\nindex 3\n", h, "\n"),
      StrCat("c2sp.org/tlog-proof@v1\nindex 3\n\n"),  // no checkpoint
      StrCat("c2sp.org/tlog-proof@v1\n\n", cp),       // no index
      StrCat("c2sp.org/tlog-proof@v1\nindex 03\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nindex +3\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nindex  3\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nindex\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nextra !!\nindex 3\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nindex 3\nextra AA==\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nextra AA==\nextra AA==\nindex 3\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nindex 3\n", h.substr(0, 43), "\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nindex 3\n", h, " \n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nindex 3\n",
             crypto::Base64Encode(std::string(31, 'x')), "\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\r\nindex 3\n\n", cp),
      StrCat("c2sp.org/tlog-proof@v1\nindex 3\n", many, "\n", cp),
  };
  for (const std::string& text : cases) {
    EXPECT_EQ(ParseTlogProof(text).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "accepted: " << text;
  }
  absl::Status s =
      ParseTlogProof(StrCat("c2sp.org/tlog-proof@v1\nindex 03\n\n", cp))
          .status();
  EXPECT_NE(s.message().find("line 2"), s.message().npos) << s;
}

// ---- verification of a real proof ----

class VerifyTlogProofTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSize = 11;
  static constexpr uint64_t kIndex = 6;

  VerifyTlogProofTest()
      : log_("ledger.example/log", NoteSigType::kEd25519,
             crypto::Ed25519PrivateKey::Generate()),
        witness_("witness.example", NoteSigType::kCosignatureV1,
                 crypto::Ed25519PrivateKey::Generate()) {
    for (uint64_t i = 0; i < kSize; ++i) {
      entries_.push_back(StrCat("entry bytes ", i));
      tree_.Append(crypto::HashLeaf(entries_.back()));
    }
    Checkpoint c{log_.name(), kSize, tree_.Root(), {}};
    proof_.extra = entries_[kIndex];
    proof_.index = kIndex;
    proof_.proof = *InclusionProof(tree_, kIndex, kSize);
    proof_.checkpoint =
        crypto::SignNote(FormatCheckpointBody(c), {&log_, &witness_}, 1234);
    verifiers_ = {log_.verifier(), witness_.verifier()};
  }

  absl::StatusCode Code(const TlogProof& p,
                        std::optional<crypto::Hash> leaf = std::nullopt) {
    return VerifyTlogProof(p, verifiers_, leaf, log_.name()).status().code();
  }

  NoteSigner log_;
  NoteSigner witness_;
  std::vector<std::string> entries_;
  InMemoryTree tree_;
  TlogProof proof_;
  std::vector<crypto::NoteVerifier> verifiers_;
};

TEST_F(VerifyTlogProofTest, VerifiesARealProofAfterAFormatRoundTrip) {
  absl::StatusOr<TlogProof> parsed = ParseTlogProof(FormatTlogProof(proof_));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<VerifiedTlogProof> v =
      VerifyTlogProof(*parsed, verifiers_, std::nullopt, log_.name());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->index, kIndex);
  EXPECT_EQ(v->leaf_hash, crypto::HashLeaf(entries_[kIndex]));
  EXPECT_EQ(v->checkpoint.checkpoint.size, kSize);
  EXPECT_EQ(v->checkpoint.signatures.size(), 2u);
  // The leaf hash may come from the caller instead of the extra line.
  TlogProof bare = proof_;
  bare.extra.reset();
  EXPECT_EQ(Code(bare, crypto::HashLeaf(entries_[kIndex])),
            absl::StatusCode::kOk);
  EXPECT_EQ(Code(proof_, crypto::HashLeaf(entries_[kIndex])),
            absl::StatusCode::kOk);
}

TEST_F(VerifyTlogProofTest, TamperedExtraFails) {
  TlogProof p = proof_;
  p.extra = entries_[kIndex - 1];
  EXPECT_EQ(Code(p), absl::StatusCode::kDataLoss);
  // Extra that does not match the caller's (correct) leaf hash.
  absl::Status s =
      VerifyTlogProof(p, verifiers_, crypto::HashLeaf(entries_[kIndex]))
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("extra"), s.message().npos) << s;
  p.extra.reset();
  EXPECT_EQ(Code(p), absl::StatusCode::kInvalidArgument);  // no leaf at all
}

TEST_F(VerifyTlogProofTest, TamperedIndexFails) {
  TlogProof p = proof_;
  p.index = kIndex - 1;  // same proof length in a tree of 11
  EXPECT_EQ(Code(p), absl::StatusCode::kDataLoss);
  p.index = kSize;
  EXPECT_EQ(Code(p), absl::StatusCode::kInvalidArgument);
  p.index = kSize - 1;  // different proof length
  EXPECT_EQ(Code(p), absl::StatusCode::kInvalidArgument);
}

TEST_F(VerifyTlogProofTest, TamperedHashesFail) {
  for (size_t k = 0; k < proof_.proof.size(); ++k) {
    TlogProof p = proof_;
    p.proof[k][31] ^= 0x01;
    EXPECT_EQ(Code(p), absl::StatusCode::kDataLoss) << k;
  }
  TlogProof p = proof_;
  p.proof.pop_back();
  EXPECT_EQ(Code(p), absl::StatusCode::kInvalidArgument);
}

TEST_F(VerifyTlogProofTest, TamperedCheckpointFails) {
  TlogProof p = proof_;
  const size_t at = p.checkpoint.find("\n11\n");
  ASSERT_NE(at, std::string::npos);
  p.checkpoint.replace(at, 4, "\n12\n");
  EXPECT_EQ(Code(p), absl::StatusCode::kDataLoss);
  // A checkpoint signed by nobody we trust.
  NoteSigner other(log_.name(), NoteSigType::kEd25519,
                   crypto::Ed25519PrivateKey::Generate());
  p.checkpoint = crypto::SignNote(
      FormatCheckpointBody({log_.name(), kSize, tree_.Root(), {}}), {&other},
      0);
  EXPECT_EQ(Code(p), absl::StatusCode::kNotFound);
  // Another log's origin.
  EXPECT_EQ(VerifyTlogProof(proof_, verifiers_, std::nullopt, "other.example")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A validly signed checkpoint of the grown tree: the proof is for size 11.
  InMemoryTree grown = tree_;
  grown.Append(crypto::HashLeaf("entry bytes 11"));
  Checkpoint c12{log_.name(), kSize + 1, grown.Root(), {}};
  p.checkpoint = crypto::SignNote(FormatCheckpointBody(c12), {&log_}, 0);
  EXPECT_EQ(Code(p), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ledger
