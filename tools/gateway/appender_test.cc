// The appender's group commit, its per-group retry after a refusal and its
// pushback handling, and the request handler's authentication, error
// answers and repeated deliveries, against a fake ledger that checks every
// batch signature and keeps events by id as the node does.

#include "tools/gateway/appender.h"

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "base/strings.h"
#include "crypto/aead.h"
#include "crypto/bytes.h"
#include "gtest/gtest.h"
#include "ledger/batch.h"
#include "ledger/entry.h"
#include "nlohmann/json.hpp"
#include "node/convert.h"
#include "tools/gateway/gateway.h"

namespace ledger::gateway {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);  // test deadline

// A ledger in memory: verifies each batch's signature over the events'
// canonical bytes, stores events by id, acknowledges a repeat with the same
// bytes as a duplicate and refuses the batch for a repeat with other
// bytes. Can hold calls until released, refuse batches holding a chosen
// event id, and push back a number of times.
class FakeLedger : public LedgerClient {
 public:
  explicit FakeLedger(crypto::Ed25519PublicKey key) : key_(key) {}

  absl::StatusOr<std::vector<v1::EntryRef>> AppendBatch(
      const v1::AppendBatchRequest& request,
      absl::Duration* retry_after) override {
    MutexLock lock(&mu_);
    ++started_;
    mu_.Await([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !hold_; });
    std::vector<std::string> ids;
    std::vector<Event> events;
    for (const v1::Event& p : request.events()) {
      ids.push_back(p.event_id());
      absl::StatusOr<Event> e = node::EventFromProto(p);
      if (!e.ok()) return e.status();
      events.push_back(*std::move(e));
    }
    calls_.push_back(ids);
    if (pushbacks_ > 0) {
      --pushbacks_;
      *retry_after = absl::Milliseconds(1);
      return absl::ResourceExhaustedError("queue full");
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == refuse_id_) {
        return absl::InvalidArgumentError(StrCat("events[", i, "]: refused"));
      }
    }
    absl::StatusOr<crypto::Ed25519Signature> sig =
        crypto::ToArray<64>(request.signature().signature(), "signature");
    if (!sig.ok()) return sig.status();
    absl::StatusOr<VerifiedBatch> batch =
        VerifyBatch(events, KeyIdOf(key_), key_, *sig, EventLimits());
    if (!batch.ok()) return batch.status();
    std::vector<v1::EntryRef> refs;
    std::map<std::string, std::pair<std::string, uint64_t>> added;
    for (size_t i = 0; i < events.size(); ++i) {
      const std::string& bytes = batch->event_bytes()[i];
      v1::EntryRef ref;
      ref.set_event_id(ids[i]);
      const std::pair<std::string, uint64_t>* prior = nullptr;
      if (auto it = stored_.find(ids[i]); it != stored_.end()) {
        prior = &it->second;
      } else if (auto at = added.find(ids[i]); at != added.end()) {
        prior = &at->second;
      }
      if (prior != nullptr) {
        if (prior->first != bytes) {
          return absl::AlreadyExistsError(
              StrCat("events[", i, "]: event_id ", ids[i],
                     " is already in the ledger with different content"));
        }
        ref.set_index(prior->second);
        ref.set_duplicate(true);
      } else {
        const uint64_t index = next_index_ + added.size();
        added[ids[i]] = {bytes, index};
        ref.set_index(index);
      }
      ref.set_leaf_hash(std::string(32, 'h'));
      refs.push_back(ref);
    }
    next_index_ += added.size();
    stored_.merge(added);
    return refs;
  }

  void Hold() {
    MutexLock lock(&mu_);
    hold_ = true;
  }
  void Release() {
    MutexLock lock(&mu_);
    hold_ = false;
  }
  bool AwaitStarted(int n) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_ >= n; },
        kWait);
  }
  std::vector<std::vector<std::string>> calls() {
    MutexLock lock(&mu_);
    return calls_;
  }
  size_t stored() {
    MutexLock lock(&mu_);
    return stored_.size();
  }
  void RefuseBatchesWith(std::string id) {
    MutexLock lock(&mu_);
    refuse_id_ = std::move(id);
  }
  void PushBack(int times) {
    MutexLock lock(&mu_);
    pushbacks_ = times;
  }
  // Forgets nothing but changes a stored event's bytes, as if an earlier
  // delivery had been appended with another clock reading.
  void Taint(const std::string& id) {
    MutexLock lock(&mu_);
    stored_[id] = {"other bytes", next_index_++};
  }

 private:
  const crypto::Ed25519PublicKey key_;
  Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int pushbacks_ ABSL_GUARDED_BY(mu_) = 0;
  std::string refuse_id_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<std::string>> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::pair<std::string, uint64_t>> stored_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_index_ ABSL_GUARDED_BY(mu_) = 1;
};

// n valid events; ids "000000NN-..." from `first`.
std::vector<Event> Events(int first, int n) {
  std::vector<Event> out;
  for (int i = first; i < first + n; ++i) {
    Event e;
    e.event_id = NameBasedUuid(StrCat("event ", i));
    e.type = "item.imported";
    e.occurred_at_ns = 1795190400000000000;
    e.producer = "ledger-gateway/test";
    e.tenant = "demo";
    e.actor = Actor{ActorKind::kService, "test", ""};
    out.push_back(std::move(e));
  }
  return out;
}

std::string IdOf(int i) {
  return FormatUuid(NameBasedUuid(StrCat("event ", i)));
}

class AppenderTest : public ::testing::Test {
 protected:
  AppenderTest() : key_(crypto::Ed25519PrivateKey::Generate()) {
    auto fake = std::make_unique<FakeLedger>(key_.public_key());
    fake_ = fake.get();
    AppenderOptions o;
    o.senders = 1;
    o.retry_for = absl::Seconds(10);
    appender_ = std::make_unique<Appender>(std::move(fake), key_, o);
  }

  // Starts Append(events) on a thread of its own.
  void Start(std::vector<Event> events,
             absl::StatusOr<std::vector<v1::EntryRef>>* out) {
    threads_.emplace_back([this, events = std::move(events), out]() mutable {
      *out = appender_->Append(std::move(events));
    });
  }
  bool AwaitQueued(size_t n) {
    const absl::Time deadline = absl::Now() + kWait;
    while (appender_->queued() < n) {
      if (absl::Now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }
  void JoinAll() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  crypto::Ed25519PrivateKey key_;
  FakeLedger* fake_ = nullptr;
  std::unique_ptr<Appender> appender_;
  std::vector<std::thread> threads_;
};

TEST_F(AppenderTest, RequestsWaitingForABatchShareTheNextOne) {
  fake_->Hold();
  absl::StatusOr<std::vector<v1::EntryRef>> a, b, c, d;
  Start(Events(0, 1), &a);
  ASSERT_TRUE(fake_->AwaitStarted(1));
  Start(Events(10, 2), &b);
  Start(Events(20, 1), &c);
  Start(Events(30, 3), &d);
  ASSERT_TRUE(AwaitQueued(3));
  fake_->Release();
  JoinAll();
  for (auto* r : {&a, &b, &c, &d}) ASSERT_TRUE(r->ok()) << r->status();
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].size(), 1u);
  EXPECT_EQ(calls[1].size(), 6u);  // three requests, one signature
  ASSERT_EQ(b->size(), 2u);
  EXPECT_EQ((*b)[0].event_id(), IdOf(10));
  EXPECT_EQ((*b)[1].event_id(), IdOf(11));
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ((*d)[2].event_id(), IdOf(32));
  EXPECT_EQ(fake_->stored(), 7u);
  EXPECT_EQ(appender_->batches(), 2u);
}

TEST_F(AppenderTest, ARefusedBatchIsSentAgainGroupByGroup) {
  fake_->Hold();
  fake_->RefuseBatchesWith(IdOf(21));
  absl::StatusOr<std::vector<v1::EntryRef>> a, b, c;
  Start(Events(0, 1), &a);
  ASSERT_TRUE(fake_->AwaitStarted(1));
  Start(Events(10, 2), &b);
  Start(Events(20, 2), &c);
  ASSERT_TRUE(AwaitQueued(2));
  fake_->Release();
  JoinAll();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();  // not failed by c's event
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 4u);  // a; b+c refused; b; c refused
  EXPECT_EQ(calls[1].size(), 4u);
  // b and c were queued by two threads, in either order.
  const std::vector<std::string> b_ids{IdOf(10), IdOf(11)};
  const std::vector<std::string> c_ids{IdOf(20), IdOf(21)};
  EXPECT_TRUE((calls[2] == b_ids && calls[3] == c_ids) ||
              (calls[2] == c_ids && calls[3] == b_ids))
      << calls[2][0] << " " << calls[3][0];
  EXPECT_EQ(fake_->stored(), 3u);
}

TEST_F(AppenderTest, PushbackIsRetriedUntilAccepted) {
  fake_->PushBack(3);
  absl::StatusOr<std::vector<v1::EntryRef>> r = appender_->Append(Events(0, 2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(fake_->calls().size(), 4u);
  EXPECT_EQ(fake_->stored(), 2u);
}

TEST(AppenderPushbackTest, PushbackPastRetryForIsReported) {
  const crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  auto fake = std::make_unique<FakeLedger>(key.public_key());
  FakeLedger* f = fake.get();
  f->PushBack(1000000);
  AppenderOptions o;
  o.retry_for = absl::Milliseconds(30);
  Appender appender(std::move(fake), key, o);
  absl::StatusOr<std::vector<v1::EntryRef>> r = appender.Append(Events(0, 1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(f->stored(), 0u);
  EXPECT_EQ(HttpStatusFor(r.status()), 429);
}

// --- The request handler ---------------------------------------------------

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(LEDGER_GATEWAY_TESTDATA) + "/" + name,
                   std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

MappingOptions DemoOptions() {
  MappingOptions o;
  o.tenant = "demo";
  return o;
}

class GatewayHandleTest : public AppenderTest {
 protected:
  GatewayHandleTest() {
    GatewayOptions o;
    o.mapping.tenant = "demo";
    o.cvat_secret = "cvat-webhook-secret";
    o.label_studio_token = "ls-token";
    gateway_ =
        std::make_unique<Gateway>(o, appender_.get(), [this] { return now_; });
  }
  nlohmann::json Body(const HttpReply& r) {
    return nlohmann::json::parse(r.body, nullptr, false);
  }

  int64_t now_ = 1795190400000000000;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayHandleTest, ForgedAndUnauthenticatedRequestsAreNeverAppended) {
  const std::string task = Fixture("cvat_create_task.json");
  const std::string good_sig =
      "sha256=c8b85dcbf9f2fa27e7dc5d491aa19afccf6b416fa40f7453710d54390f08b8be";
  struct Case {
    Source source;
    std::string body;
    RequestHeaders headers;
    int status;
  };
  const Case cases[] = {
      {Source::kCvat, task, {"", ""}, 401},
      {Source::kCvat, task, {"sha256=" + std::string(64, 'a'), ""}, 403},
      {Source::kCvat, task + " ", {good_sig, ""}, 403},
      {Source::kLabelStudio,
       Fixture("label_studio_tasks_created.json"),
       {"", ""},
       401},
      {Source::kLabelStudio,
       Fixture("label_studio_tasks_created.json"),
       {"", "Token wrong"},
       403},
      {Source::kLabelStudio,
       Fixture("label_studio_truncated.json"),
       {"", "Token ls-token"},
       400},
      {Source::kLabelStudio,
       Fixture("label_studio_unknown_action.json"),
       {"", "Token ls-token"},
       422},
      {Source::kOpenLineage,
       Fixture("openlineage_missing_run_id.json"),
       {"", ""},
       400},
  };
  for (const Case& c : cases) {
    const HttpReply r = gateway_->Handle(c.source, c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << r.body;
    const nlohmann::json j = Body(r);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_FALSE(j.value("error", "").empty()) << r.body;
  }
  EXPECT_TRUE(fake_->calls().empty());

  const HttpReply ok = gateway_->Handle(Source::kCvat, task, {good_sig, ""});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(fake_->stored(), 1u);
}

TEST_F(GatewayHandleTest, ARepeatedDeliveryIsOneEntry) {
  const std::string body = Fixture("label_studio_tasks_created.json");
  const RequestHeaders auth{"", "Bearer ls-token"};
  const HttpReply first = gateway_->Handle(Source::kLabelStudio, body, auth);
  ASSERT_EQ(first.status, 200) << first.body;
  now_ += 60'000'000'000;
  const HttpReply again = gateway_->Handle(Source::kLabelStudio, body, auth);
  ASSERT_EQ(again.status, 200) << again.body;
  const nlohmann::json a = Body(first), b = Body(again);
  ASSERT_EQ(a["entries"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_FALSE(a["entries"][i]["duplicate"].get<bool>());
    EXPECT_TRUE(b["entries"][i]["duplicate"].get<bool>());
    EXPECT_EQ(a["entries"][i]["index"], b["entries"][i]["index"]);
    EXPECT_EQ(a["entries"][i]["event_id"], b["entries"][i]["event_id"]);
  }
  EXPECT_EQ(fake_->stored(), 2u);
}

TEST_F(GatewayHandleTest, ARepeatedDeletionKeepsItsFirstClockReading) {
  const std::string body = Fixture("label_studio_annotations_deleted.json");
  const RequestHeaders auth{"", "Token ls-token"};
  const HttpReply first = gateway_->Handle(Source::kLabelStudio, body, auth);
  ASSERT_EQ(first.status, 200) << first.body;
  now_ += 60'000'000'000;  // a retry a minute later maps to the same bytes
  const HttpReply again = gateway_->Handle(Source::kLabelStudio, body, auth);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(Body(again)["entries"][0]["duplicate"].get<bool>());
  EXPECT_EQ(Body(again)["entries"][0]["index"],
            Body(first)["entries"][0]["index"]);
  EXPECT_EQ(fake_->stored(), 2u);
}

TEST_F(GatewayHandleTest, AConflictOfADeletionAfterARestartIsItsDuplicate) {
  const std::string body = Fixture("cvat_delete_project.json");
  // What a gateway before a restart appended: the same ids, another time.
  absl::StatusOr<Mapped> earlier = MapCvat(body, DemoOptions(), now_ - 1000);
  ASSERT_TRUE(earlier.ok());
  fake_->Taint(FormatUuid(earlier->events[0].event_id));
  RequestHeaders headers;
  headers.signature = StrCat("sha256=", crypto::HexEncode(crypto::HmacSha256(
                                            "cvat-webhook-secret", body)));
  const HttpReply r = gateway_->Handle(Source::kCvat, body, headers);
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json j = Body(r);
  EXPECT_TRUE(j["entries"][0]["duplicate"].get<bool>());
  EXPECT_TRUE(j["entries"][0]["index"].is_null());

  // A conflict for an event with a time of its own is the sender's error.
  const std::string task = Fixture("cvat_create_task.json");
  absl::StatusOr<Mapped> mapped = MapCvat(task, DemoOptions(), now_);
  ASSERT_TRUE(mapped.ok());
  fake_->Taint(FormatUuid(mapped->events[0].event_id));
  headers.signature = StrCat("sha256=", crypto::HexEncode(crypto::HmacSha256(
                                            "cvat-webhook-secret", task)));
  const HttpReply conflict = gateway_->Handle(Source::kCvat, task, headers);
  EXPECT_EQ(conflict.status, 422) << conflict.body;
  EXPECT_NE(Body(conflict)["error"].get<std::string>().find(
                "the ledger refused the events"),
            std::string::npos);
}

TEST(HttpStatusForTest, LedgerCodesMapToRetryableOrFinalAnswers) {
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusFor(absl::DeadlineExceededError("x")), 504);
  EXPECT_EQ(HttpStatusFor(absl::PermissionDeniedError("x")), 403);
  EXPECT_EQ(HttpStatusFor(absl::InternalError("x")), 502);
  EXPECT_EQ(HttpStatusFor(absl::OutOfRangeError("x")), 413);
}

}  // namespace
}  // namespace ledger::gateway
