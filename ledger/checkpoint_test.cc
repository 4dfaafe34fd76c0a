#include "ledger/checkpoint.h"

#include <string>

#include "crypto/rfc6962.h"
#include "gtest/gtest.h"

namespace ledger {
namespace {

using crypto::NoteSigner;
using crypto::NoteSigType;
using crypto::NoteVerifier;

constexpr std::string_view kOrigin = "example.com/annotation-ledger";

crypto::Ed25519PrivateKey KeyFromByte(uint8_t b) {
  crypto::Ed25519Seed seed;
  seed.fill(b);
  return crypto::Ed25519PrivateKey::FromSeed(seed);
}

Checkpoint Sample(uint64_t size = 5) {
  return Checkpoint{
      std::string(kOrigin), size, crypto::HashLeaf(StrCat("size ", size)), {}};
}

TEST(CheckpointBodyTest, FormatsTheSpecExampleByteForByte) {
  // The example of c2sp.org/tlog-checkpoint.
  const std::string text =
      "example.com/behind-the-sofa\n"
      "20852163\n"
      "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  Checkpoint c{
      "example.com/behind-the-sofa",
      20852163,
      *crypto::HashFromBase64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
      {}};
  EXPECT_EQ(FormatCheckpointBody(c), text);
  absl::StatusOr<Checkpoint> parsed = ParseCheckpointBody(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, c);
}

TEST(CheckpointBodyTest, RoundTripsSizesAndExtensions) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{10},
                        uint64_t{18446744073709551615u}}) {
    Checkpoint c = Sample(size);
    absl::StatusOr<Checkpoint> parsed =
        ParseCheckpointBody(FormatCheckpointBody(c));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, c);
  }
  Checkpoint c = Sample();
  c.extensions = {"chain abc", "— another line"};
  const std::string text = FormatCheckpointBody(c);
  EXPECT_TRUE(text.ends_with("\nchain abc\n— another line\n")) << text;
  EXPECT_EQ(*ParseCheckpointBody(text), c);
}

TEST(CheckpointBodyTest, RejectsEveryMalformedText) {
  const std::string root = crypto::Base64Encode(Sample().root);
  const std::string root31 = crypto::Base64Encode(std::string(31, 'x'));
  const std::string root33 = crypto::Base64Encode(std::string(33, 'x'));
  const std::string good = StrCat("o\n5\n", root, "\n");
  ASSERT_TRUE(ParseCheckpointBody(good).ok());
  const std::string cases[] = {
      "",
      StrCat("o\n5\n", root),                           // no final newline
      "o\n5\n",                                         // no root line
      StrCat("\n5\n", root, "\n"),                      // empty origin
      StrCat("o\n05\n", root, "\n"),                    // leading zero
      StrCat("o\n00\n", root, "\n"),                    // leading zero
      StrCat("o\n+5\n", root, "\n"),                    // sign
      StrCat("o\n-5\n", root, "\n"),                    // sign
      StrCat("o\n 5\n", root, "\n"),                    // space
      StrCat("o\n5 \n", root, "\n"),                    // space
      StrCat("o\n\n", root, "\n"),                      // empty size
      StrCat("o\n0x5\n", root, "\n"),                   // not decimal
      StrCat("o\n18446744073709551616\n", root, "\n"),  // overflows
      "o\n5\nnot base64!\n",                            // bad base64
      StrCat("o\n5\n", root.substr(0, 43), "\n"),       // missing padding
      StrCat("o\n5\n", root31, "\n"),                   // 31-byte root
      StrCat("o\n5\n", root33, "\n"),                   // 33-byte root
      StrCat("o\n5\n", root, "\n\n"),                   // empty extension line
      StrCat("o\n5\n", root, "\n\next\n"),              // empty extension line
      StrCat("o\r\n5\n", root, "\n"),                   // CR
      StrCat("o\n5\n", root, "\r\n"),                   // CR
  };
  for (const std::string& text : cases) {
    absl::StatusOr<Checkpoint> c = ParseCheckpointBody(text);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument)
        << "accepted: " << text;
  }
  absl::Status s = ParseCheckpointBody(StrCat("o\n05\n", root, "\n")).status();
  EXPECT_NE(s.message().find("'05'"), s.message().npos) << s;
}

// ---- signed checkpoints ----

class OpenCheckpointTest : public ::testing::Test {
 protected:
  OpenCheckpointTest()
      : log_(std::string(kOrigin), NoteSigType::kEd25519, KeyFromByte(1)),
        witness_("witness.example", NoteSigType::kCosignatureV1,
                 KeyFromByte(2)),
        stranger_("stranger.example", NoteSigType::kEd25519, KeyFromByte(3)) {}

  std::string Sign(const Checkpoint& c,
                   std::vector<const NoteSigner*> signers) {
    return crypto::SignNote(FormatCheckpointBody(c), signers, 1700000000);
  }

  NoteSigner log_;
  NoteSigner witness_;
  NoteSigner stranger_;
};

TEST_F(OpenCheckpointTest, OpensALogSignedCheckpoint) {
  const std::string note = Sign(Sample(), {&log_});
  absl::StatusOr<VerifiedCheckpoint> v =
      OpenCheckpoint(note, {log_.verifier()}, kOrigin);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->checkpoint, Sample());
  EXPECT_EQ(v->note, note);
  ASSERT_EQ(v->signatures.size(), 1u);
  EXPECT_EQ(v->signatures[0].verifier.key_id, log_.key_id());
  EXPECT_TRUE(OpenCheckpoint(note, {log_.verifier()}).ok());  // any origin
}

TEST_F(OpenCheckpointTest, VerifiesCosignaturesAndIgnoresUnknownSignatures) {
  const std::string note = Sign(Sample(), {&log_, &stranger_, &witness_});
  absl::StatusOr<VerifiedCheckpoint> v =
      OpenCheckpoint(note, {log_.verifier(), witness_.verifier()}, kOrigin);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->signatures.size(), 2u);
  EXPECT_EQ(v->signatures[1].verifier.name, "witness.example");
  EXPECT_EQ(v->signatures[1].timestamp, 1700000000u);
}

TEST_F(OpenCheckpointTest, RejectsAWrongKey) {
  const std::string note = Sign(Sample(), {&log_});
  // Another key under the log's name has another key ID: no known signature.
  NoteSigner impostor(std::string(kOrigin), NoteSigType::kEd25519,
                      KeyFromByte(9));
  EXPECT_EQ(OpenCheckpoint(note, {impostor.verifier()}).status().code(),
            absl::StatusCode::kNotFound);
  // Same name and key ID but another key: a signature that does not verify.
  NoteVerifier forged = log_.verifier();
  forged.key = impostor.key().public_key();
  EXPECT_EQ(OpenCheckpoint(note, {forged}).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(OpenCheckpointTest, RejectsATamperedSize) {
  std::string note = Sign(Sample(5), {&log_});
  const size_t at = note.find("\n5\n");
  ASSERT_NE(at, std::string::npos);
  note[at + 1] = '6';
  absl::Status s = OpenCheckpoint(note, {log_.verifier()}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
}

TEST_F(OpenCheckpointTest, RequiresALogSignatureNamedAfterTheOrigin) {
  // A cosignature alone, even by a key named after the origin, is not a log
  // signature.
  NoteSigner cosigner(std::string(kOrigin), NoteSigType::kCosignatureV1,
                      KeyFromByte(4));
  absl::Status s = OpenCheckpoint(Sign(Sample(), {&cosigner, &witness_}),
                                  {cosigner.verifier(), witness_.verifier()})
                       .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  // An Ed25519 signature by a trusted key of another name is not either.
  s = OpenCheckpoint(Sign(Sample(), {&stranger_}), {stranger_.verifier()})
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  // No trusted signature at all.
  s = OpenCheckpoint(Sign(Sample(), {&stranger_}), {log_.verifier()}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
}

TEST_F(OpenCheckpointTest, RejectsAFailingCosignatureFromAKnownWitness) {
  std::string note = Sign(Sample(), {&log_});
  // A witness line whose signature was made over another checkpoint.
  const std::string other = Sign(Sample(6), {&witness_});
  note.append(other.substr(other.find("\n\n") + 2));
  EXPECT_EQ(OpenCheckpoint(note, {log_.verifier(), witness_.verifier()})
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(OpenCheckpoint(note, {log_.verifier()}).ok());
}

TEST_F(OpenCheckpointTest, RejectsAnotherOriginAndMalformedNotes) {
  const std::string note = Sign(Sample(), {&log_});
  absl::Status s =
      OpenCheckpoint(note, {log_.verifier()}, "example.com/other").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("example.com/other"), s.message().npos) << s;
  EXPECT_EQ(OpenCheckpoint(FormatCheckpointBody(Sample()), {log_.verifier()})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A correctly signed note whose body is not a checkpoint.
  const std::string body =
      StrCat(kOrigin, "\n05\n", crypto::Base64Encode(Sample().root), "\n");
  EXPECT_EQ(
      OpenCheckpoint(crypto::SignNote(body, {&log_}, 0), {log_.verifier()})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ledger
