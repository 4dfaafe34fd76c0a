#include "crypto/sha256.h"

#include <gtest/gtest.h>

#include "crypto/rfc6962.h"

namespace ledger::crypto {
namespace {

TEST(Sha256Test, MatchesFips180Vectors) {
  EXPECT_EQ(HexEncode(Sha256Digest("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256Digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256Digest(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, IncrementalEqualsOneShotAndResetsAfterFinish) {
  Sha256 h;
  EXPECT_EQ(h.Update("a").Update("bc").Finish(), Sha256Digest("abc"));
  EXPECT_EQ(h.Update("abc").Finish(), Sha256Digest("abc"));
}

TEST(Sha256Test, MillionAs) {
  Sha256 h;
  std::string block(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.Update(block);
  EXPECT_EQ(HexEncode(h.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Rfc6962Test, EmptyRootAndLeafAndNodeHashes) {
  // Known values from RFC 6962 reference implementations: the empty tree
  // root and the leaf hash of the empty leaf.
  EXPECT_EQ(HexEncode(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(HashLeaf("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  Hash l = HashLeaf("L"), r = HashLeaf("R");
  std::string concat(1, '\x01');
  concat.append(AsView(l)).append(AsView(r));
  EXPECT_EQ(HashChildren(l, r), Sha256Digest(concat));
  EXPECT_EQ(HashLeaf("x"), Sha256Digest(std::string("\x00x", 2)));
}

}  // namespace
}  // namespace ledger::crypto
