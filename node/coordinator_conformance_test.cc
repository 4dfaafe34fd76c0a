// The Coordinator contract (node/coordinator.h), run against every
// implementation: LocalCoordinator, and EtcdCoordinator (leading, on the
// in-memory etcd). What the sequencer relies on holds for both.

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "node/coordinator.h"
#include "node/etcd_coordinator.h"
#include "node/fake_etcd_testing.h"

namespace ledger::node {
namespace {

ledger::Head HeadOfSize(uint64_t size) {
  ledger::Head h;
  h.size = size;
  h.root.fill(static_cast<uint8_t>(size * 3));
  h.chain_hash.fill(static_cast<uint8_t>(size * 5));
  return h;
}

// A coordinator ready to commit, and whatever it needs kept alive.
struct Subject {
  std::shared_ptr<void> keep;
  Coordinator* coordinator = nullptr;
};

struct Implementation {
  const char* name;
  std::function<Subject()> make;
};

Subject MakeLocal() {
  auto c = std::make_shared<LocalCoordinator>(ledger::Head{});
  return {c, c.get()};
}

Subject MakeEtcd() {
  struct Both {
    FakeEtcd etcd;
    std::unique_ptr<EtcdCoordinator> coordinator;
  };
  auto both = std::make_shared<Both>();
  EtcdCoordinatorOptions options;
  options.origin = "ledger.test/conformance";
  options.node_name = "n1";
  absl::StatusOr<std::unique_ptr<EtcdCoordinator>> c =
      EtcdCoordinator::Start(&both->etcd, options);
  if (!c.ok()) return {};
  both->coordinator = std::move(*c);
  if (!both->coordinator->Campaign().value_or(false)) return {};
  return {both, both->coordinator.get()};
}

class CoordinatorConformanceTest
    : public ::testing::TestWithParam<Implementation> {
 protected:
  void SetUp() override {
    subject_ = GetParam().make();
    ASSERT_NE(subject_.coordinator, nullptr);
  }
  Subject subject_;
};

TEST_P(CoordinatorConformanceTest, StartsEmpty) {
  EXPECT_EQ(subject_.coordinator->Committed(), ledger::Head{});
}

TEST_P(CoordinatorConformanceTest, CommittedReturnsTheLastCommit) {
  Coordinator* c = subject_.coordinator;
  for (uint64_t size : {1, 2, 2, 10, 11}) {
    ASSERT_TRUE(c->Commit(HeadOfSize(size)).ok()) << size;
    EXPECT_EQ(c->Committed(), HeadOfSize(size));
  }
}

// Readers call Committed() on every read while the publisher commits:
// they only ever see committed heads, in order (run under TSan too).
TEST_P(CoordinatorConformanceTest, ReadersSeeOnlyCommittedHeadsInOrder) {
  Coordinator* c = subject_.coordinator;
  constexpr uint64_t kCommits = 200;
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      uint64_t last = 0;
      while (!done.load()) {
        const ledger::Head h = c->Committed();
        if (h.size < last || (h.size > 0 && h != HeadOfSize(h.size))) ++bad;
        last = h.size;
      }
    });
  }
  for (uint64_t size = 1; size <= kCommits; ++size) {
    ASSERT_TRUE(c->Commit(HeadOfSize(size)).ok());
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(c->Committed(), HeadOfSize(kCommits));
}

INSTANTIATE_TEST_SUITE_P(
    All, CoordinatorConformanceTest,
    ::testing::Values(Implementation{"Local", MakeLocal},
                      Implementation{"Etcd", MakeEtcd}),
    [](const ::testing::TestParamInfo<Implementation>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace ledger::node
