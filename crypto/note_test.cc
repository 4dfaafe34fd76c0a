#include "crypto/note.h"

#include <gtest/gtest.h>

namespace ledger::crypto {
namespace {

// From c2sp.org/signed-note, "Verifier keys / Example".
constexpr char kSpecVkey[] =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
constexpr char kSpecNote[] =
    "This is an example message.\n"
    "\n"
    "\xE2\x80\x94 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmR"
    "KuwHjG1Yu72IneyaQM=\n";

// From the documentation of the Go reference implementation
// (golang.org/x/mod/sumdb/note): a signer key, its verifier key and the note
// it produces. Ed25519 is deterministic, so signing must reproduce it.
constexpr char kGoSkey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+"
    "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kGoVkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kGoText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr char kGoNote[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngot"
    "pRZb6KE6RyyBwJnAM=\n";

TEST(NoteTest, VerifiesTheSpecExample) {
  absl::StatusOr<NoteVerifier> v = ParseVerifierKey(kSpecVkey);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->name, "example.com/foo");
  EXPECT_EQ(v->key_id, 0x530d903au);
  EXPECT_EQ(FormatVerifierKey(*v), kSpecVkey);
  absl::StatusOr<Note> note = ParseNote(kSpecNote);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(note->text, "This is an example message.\n");
  auto verified = VerifyNote(*note, {*v});
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->size(), 1u);
  EXPECT_EQ(FormatNote(*note), kSpecNote);
}

TEST(NoteTest, ReproducesTheGoReferenceNote) {
  absl::StatusOr<NoteSigner> signer = ParseSignerKey(kGoSkey);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(signer->key_id(), 0xc74f20a3u);
  EXPECT_EQ(FormatSignerKey(*signer), kGoSkey);
  EXPECT_EQ(FormatVerifierKey(signer->verifier()), kGoVkey);
  const NoteSigner* signers[] = {&*signer};
  EXPECT_EQ(SignNote(kGoText, signers, 0), kGoNote);
}

TEST(NoteTest, RejectsAKnownSignatureThatDoesNotVerify) {
  std::string tampered = kGoNote;
  tampered[3] = 'X';  // changes the text
  absl::StatusOr<Note> note = ParseNote(tampered);
  ASSERT_TRUE(note.ok());
  auto verified = VerifyNote(*note, {*ParseVerifierKey(kGoVkey)});
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kDataLoss);
}

TEST(NoteTest, IgnoresUnknownKeysAndFailsWhenNoneIsKnown) {
  absl::StatusOr<Note> note = ParseNote(kGoNote);
  ASSERT_TRUE(note.ok());
  auto verified = VerifyNote(*note, {*ParseVerifierKey(kSpecVkey)});
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kNotFound);
  // Same name, other key ID: still unknown.
  NoteVerifier other = *ParseVerifierKey(kGoVkey);
  other.key_id ^= 1;
  EXPECT_EQ(VerifyNote(*note, {other}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(NoteTest, CosignatureCarriesAVerifiedTimestamp) {
  NoteSigner log("log.example/a", NoteSigType::kEd25519,
                 Ed25519PrivateKey::Generate());
  NoteSigner witness("witness.example/w", NoteSigType::kCosignatureV1,
                     Ed25519PrivateKey::Generate());
  const std::string text = "log.example/a\n5\nAAAA\n";
  const NoteSigner* signers[] = {&log, &witness};
  std::string signed_note = SignNote(text, signers, 1679315147);
  absl::StatusOr<Note> note = ParseNote(signed_note);
  ASSERT_TRUE(note.ok()) << note.status();
  ASSERT_EQ(note->signatures.size(), 2u);
  // The cosignature is timestamp || Ed25519 over the c2sp message.
  const std::string& raw = note->signatures[1].signature;
  ASSERT_EQ(raw.size(), 72u);
  Ed25519Signature sig = *ToArray<64>(std::string_view(raw).substr(8), "sig");
  EXPECT_TRUE(Ed25519Verify(witness.key().public_key(),
                            "cosignature/v1\ntime 1679315147\n" + text, sig));
  auto verified = VerifyNote(*note, {log.verifier(), witness.verifier()});
  ASSERT_TRUE(verified.ok()) << verified.status();
  ASSERT_EQ(verified->size(), 2u);
  EXPECT_FALSE((*verified)[0].timestamp.has_value());
  EXPECT_EQ((*verified)[1].timestamp, 1679315147u);
  // A vkey of type 0x04 round-trips.
  std::string vkey = FormatVerifierKey(witness.verifier());
  absl::StatusOr<NoteVerifier> parsed = ParseVerifierKey(vkey);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->type, NoteSigType::kCosignatureV1);
  EXPECT_NE(parsed->key_id, NoteKeyId(witness.name(), NoteSigType::kEd25519,
                                      witness.key().public_key()));
}

TEST(NoteTest, ChangedTimestampBreaksCosignature) {
  NoteSigner witness("w.example", NoteSigType::kCosignatureV1,
                     Ed25519PrivateKey::Generate());
  const NoteSigner* signers[] = {&witness};
  absl::StatusOr<Note> note = ParseNote(SignNote("a\n", signers, 100));
  ASSERT_TRUE(note.ok());
  note->signatures[0].signature[7] ^= 1;
  EXPECT_EQ(VerifyNote(*note, {witness.verifier()}).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(NoteTest, ParseRejectsMalformedNotes) {
  EXPECT_FALSE(ParseNote("text\n\xE2\x80\x94 a AAAAAAA=\n").ok());  // no blank
  EXPECT_FALSE(ParseNote("text\n\n\xE2\x80\x94 a AAAAAAA=").ok());  // no \n
  EXPECT_FALSE(ParseNote("text\n\n- a AAAAAAA=\n").ok());  // not an em dash
  EXPECT_FALSE(ParseNote("te\x01xt\n\n\xE2\x80\x94 a AAAAAAA=\n").ok());
  EXPECT_FALSE(ParseNote("text\n\n\xE2\x80\x94 a+b AAAAAAA=\n").ok());
  EXPECT_FALSE(ParseNote("text\n\n\xE2\x80\x94 a AAA=\n").ok());  // < 5 bytes
  EXPECT_FALSE(ParseNote("t\xC3\n\n\xE2\x80\x94 a AAAAAAA=\n").ok());  // utf-8
  EXPECT_TRUE(ParseNote("text\n\n\xE2\x80\x94 a AAAAAAA=\n").ok());
}

TEST(NoteTest, VerifierKeyParsingRejectsMismatchedIdsAndNames) {
  std::string wrong_id = kSpecVkey;
  wrong_id[16] = wrong_id[16] == '0' ? '1' : '0';
  EXPECT_FALSE(ParseVerifierKey(wrong_id).ok());
  EXPECT_FALSE(ParseVerifierKey("a b+530d903a+AekyeRrm").ok());
  EXPECT_FALSE(ParseVerifierKey("nokeyid").ok());
  EXPECT_FALSE(IsValidKeyName(""));
  EXPECT_FALSE(IsValidKeyName("a\xE3\x80\x80z"));  // ideographic space
  EXPECT_TRUE(IsValidKeyName("example.com/\xE2\x9C\x93"));
}

TEST(NoteTest, ParseVerifierKeysNamesTheBadLine) {
  auto keys = ParseVerifierKeys(std::string("# comment\n") + kSpecVkey +
                                "\n\nbroken\n");
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find("line 4"), std::string::npos)
      << keys.status();
  auto good = ParseVerifierKeys(std::string(kSpecVkey) + "\n" + kGoVkey);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->size(), 2u);
}

}  // namespace
}  // namespace ledger::crypto
