#include "node/denial_recorder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/strings.h"
#include "ledger/event.h"

namespace ledger::node {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(60);
constexpr int64_t kSecond = 1'000'000'000;

Caller MakeCaller(const std::string& name, Role role,
                  std::vector<std::string> tenants) {
  Caller c;
  c.identity = "spiffe://annotation-ledger/" + name;
  c.roles = Bit(role);
  c.tenants = std::move(tenants);
  return c;
}

std::string Attribute(const Event& e, const std::string& key) {
  for (const auto& [k, v] : e.attributes) {
    if (k == key) return v;
  }
  return "";
}

class DenialRecorderTest : public ::testing::Test {
 protected:
  void Start(DenialRecorderOptions options) {
    recorder_ =
        std::make_unique<DenialRecorder>(&clock_, options, [this](Event e) {
          MutexLock lock(&mu_);
          written_.push_back(std::move(e));
          return absl::OkStatus();
        });
    recorder_->Start();
  }
  std::vector<Event> Written() {
    MutexLock lock(&mu_);
    return written_;
  }

  FakeClock clock_;
  std::unique_ptr<DenialRecorder> recorder_;
  Mutex mu_;
  std::vector<Event> written_ ABSL_GUARDED_BY(mu_);
  const Caller emitter_ = MakeCaller("emitter/a", Role::kEmitter, {"acme"});
  const Caller officer_ = MakeCaller("officer/b", Role::kOfficer, {"beta"});
  const Caller admin_ = MakeCaller("admin/c", Role::kAdmin, {});
};

TEST_F(DenialRecorderTest, OneEntryPerIdentityAndIntervalCountingTheRest) {
  Start({});
  recorder_->Record(emitter_, "/m/One", "first");
  ASSERT_TRUE(recorder_->Flush(kWait));
  std::vector<Event> w = Written();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].type, "access.denied");
  EXPECT_EQ(w[0].tenant, "acme");
  EXPECT_EQ(w[0].actor.id, emitter_.identity);
  EXPECT_EQ(w[0].actor.role, "emitter");
  EXPECT_EQ(w[0].actor.kind, ActorKind::kService);
  EXPECT_EQ(Attribute(w[0], "count"), "1");
  EXPECT_EQ(Attribute(w[0], "method"), "/m/One");
  EXPECT_EQ(Attribute(w[0], "reason"), "first");
  EXPECT_EQ(w[0].outcome.status, OutcomeStatus::kFailure);
  // The event is a valid ledger-internal event.
  EXPECT_TRUE(ValidateEvent(w[0], EventLimits{}).ok());
  EXPECT_TRUE(IsLedgerInternalType(w[0].type));

  for (int i = 0; i < 100; ++i) recorder_->Record(emitter_, "/m/Two", "again");
  clock_.Advance(9 * kSecond);
  ASSERT_TRUE(recorder_->Flush(kWait));
  EXPECT_EQ(Written().size(), 1u);
  clock_.Advance(kSecond);
  ASSERT_TRUE(recorder_->Flush(kWait));
  w = Written();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(Attribute(w[1], "count"), "100");
  EXPECT_EQ(Attribute(w[1], "method"), "/m/Two");
  EXPECT_EQ(recorder_->denials(), 101u);
  EXPECT_EQ(recorder_->denials_written(), 101u);
  EXPECT_EQ(recorder_->entries_written(), 2u);
}

TEST_F(DenialRecorderTest, GlobalCapDefersIdentitiesToALaterInterval) {
  DenialRecorderOptions options;
  options.max_entries_per_interval = 2;
  Start(options);
  recorder_->Record(emitter_, "/m", "r");
  recorder_->Record(officer_, "/m", "r");
  ASSERT_TRUE(recorder_->Flush(kWait));
  EXPECT_EQ(Written().size(), 2u);
  // A third identity's first denial waits: the interval's cap is reached.
  recorder_->Record(admin_, "/m", "r");
  recorder_->Record(admin_, "/m", "r");
  ASSERT_TRUE(recorder_->Flush(kWait));
  EXPECT_EQ(Written().size(), 2u);
  clock_.Advance(10 * kSecond);
  ASSERT_TRUE(recorder_->Flush(kWait));
  std::vector<Event> w = Written();
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[2].actor.id, admin_.identity);
  EXPECT_EQ(w[2].tenant, "_ledger");
  EXPECT_EQ(Attribute(w[2], "count"), "2");
}

TEST_F(DenialRecorderTest, StopWritesWhatIsPending) {
  Start({});
  recorder_->Record(emitter_, "/m", "r");
  ASSERT_TRUE(recorder_->Flush(kWait));
  recorder_->Record(emitter_, "/m", "r");
  recorder_->Record(emitter_, "/m", "r");
  recorder_->Stop();
  std::vector<Event> w = Written();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(Attribute(w[1], "count"), "2");
  EXPECT_FALSE(recorder_->Flush(kWait));  // stopped
}

TEST_F(DenialRecorderTest, RequestTextIsMadePrintableAndBounded) {
  Start({});
  recorder_->Record(emitter_, "/m\n\x01",
                    StrCat("tenant \"\xE2\x80\xAE", std::string(2000, 'x')));
  ASSERT_TRUE(recorder_->Flush(kWait));
  std::vector<Event> w = Written();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(Attribute(w[0], "method"), "/m??");
  EXPECT_THAT(Attribute(w[0], "reason"), HasSubstr("tenant \"???xxx"));
  EXPECT_EQ(Attribute(w[0], "reason").size(), 512u);
  EXPECT_TRUE(ValidateEvent(w[0], EventLimits{}).ok());
}

}  // namespace
}  // namespace ledger::node
