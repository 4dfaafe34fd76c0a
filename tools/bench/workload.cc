#include "tools/bench/workload.h"

#include <algorithm>
#include <array>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "crypto/sha256.h"
#include "ledger/batch.h"
#include "ledger/entry.h"
#include "ledger/v1/ingest.pb.h"
#include "node/convert.h"

namespace ledger::bench {
namespace {

// When the workload's events start: midnight UTC 30 days before the day
// the process first asks, so that they lie inside a node's occurred_at
// window (max_event_age, 400 days by default) whenever the benchmark runs,
// and are the same for the whole run. Event n occurs about n * 50 ms later.
int64_t WorkloadEpochNs() {
  static const int64_t epoch = [] {
    constexpr int64_t kDay = 24 * 3600;
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    return (now - now % kDay - 30 * kDay) * 1'000'000'000;
  }();
  return epoch;
}

// SplitMix64: a bijective, well-mixed function of its input.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

// Deterministic random stream for one event.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t n) : state_(Mix(seed * 0x100000001b3 ^ n)) {}
  uint64_t Next() { return state_ = Mix(state_); }
  uint64_t Below(uint64_t bound) { return Next() % bound; }
  std::string Hex(size_t digits) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    while (s.size() < digits) {
      uint64_t r = Next();
      for (int i = 0; i < 16 && s.size() < digits; ++i, r >>= 4) {
        s.push_back(kDigits[r & 15]);
      }
    }
    return s;
  }

 private:
  uint64_t state_;
};

// UUIDv4 layout: 8 random bytes, then the event number under the variant
// bits, so IDs are unique per (seed, n) for n < 2^62 yet spread in key order.
Uuid EventId(uint64_t seed, uint64_t n) {
  Uuid id;
  uint64_t hi = Mix(Mix(seed) ^ n);
  for (int i = 0; i < 8; ++i) id[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
  for (int i = 0; i < 8; ++i) {
    id[8 + i] = static_cast<uint8_t>(n >> (56 - 8 * i));
  }
  id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x40);
  id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);
  return id;
}

SubjectRef Ref(SubjectKind kind, std::string id, std::string version,
               bool hashed, uint64_t item_count = 0) {
  SubjectRef r;
  r.kind = kind;
  r.content_sha256 = hashed ? std::optional<crypto::Hash>(crypto::Sha256Digest(
                                  StrCat(id, "@", version)))
                            : std::nullopt;
  r.id = std::move(id);
  r.version = std::move(version);
  r.item_count = item_count;
  return r;
}

// Cardinalities of a mid-size annotation programme: 8 projects, 400
// annotators, 60 reviewers, 200k items, 12 datasets.
void FillAnnotation(Rng& rng, Event& e, uint64_t item) {
  static constexpr std::array<const char*, 3> kTypes = {
      "annotation.created", "annotation.updated", "annotation.submitted"};
  static constexpr std::array<const char*, 6> kLabels = {
      "car", "pedestrian", "cyclist", "traffic_light", "truck", "bus"};
  e.type = kTypes[rng.Below(kTypes.size())];
  e.actor = {ActorKind::kHuman, StrCat("user:", 1000 + rng.Below(400)),
             "annotator"};
  uint64_t revision = 1 + rng.Below(4);
  e.subjects = {
      Ref(SubjectKind::kItem, StrCat("item:scenes/", item), "v1", true, 1),
      Ref(SubjectKind::kAnnotation, StrCat("annotation:", item, "-", 1),
          StrCat("r", revision), true)};
  e.inputs = {Ref(SubjectKind::kDataset, StrCat("dataset:raw-", item % 12),
                  "2025-12", true, 200000)};
  uint64_t x = rng.Below(1800), y = rng.Below(1000);
  e.attributes = {
      {"annotation.bbox", StrCat("[", x, ",", y, ",", x + 20 + rng.Below(300),
                                 ",", y + 20 + rng.Below(200), "]")},
      {"annotation.label", kLabels[rng.Below(kLabels.size())]},
      {"annotation.tool", "polygon-v2"},
      {"duration_ms", StrCat(500 + rng.Below(60000))},
      {"guideline.version", "street-scenes-2025.4"},
      {"label_schema", "schema:street-scenes/7"}};
}

void FillReview(Rng& rng, Event& e, uint64_t item) {
  bool accepted = rng.Below(10) < 8;
  e.type = accepted ? "review.accepted" : "review.rejected";
  e.actor = {ActorKind::kHuman, StrCat("user:", 5000 + rng.Below(60)),
             "reviewer"};
  e.subjects = {
      Ref(SubjectKind::kAnnotation, StrCat("annotation:", item, "-1"),
          StrCat("r", 1 + rng.Below(4)), true),
      Ref(SubjectKind::kItem, StrCat("item:scenes/", item), "v1", true, 1)};
  e.attributes = {{"qa.plan", "plan:aql-2.5"},
                  {"review.comment", accepted ? "boxes tight, labels correct"
                                              : "occluded object missed"}};
  if (!accepted) e.attributes.push_back({"review.issue_tags", "missing,bbox"});
}

void FillOther(Rng& rng, Event& e, uint64_t item, uint64_t pick) {
  if (pick < 20) {
    e.type = "item.viewed";
    e.actor = {ActorKind::kHuman, StrCat("user:", 1000 + rng.Below(400)),
               "annotator"};
    e.subjects = {
        Ref(SubjectKind::kItem, StrCat("item:scenes/", item), "v1", true, 1)};
    e.attributes = {{"client", "label-studio-web"},
                    {"view.ms", StrCat(rng.Below(30000))}};
  } else if (pick < 28) {
    e.type = "prelabel.applied";
    e.actor = {ActorKind::kModel, "model:detr-r50/2025-11", "prelabeler"};
    e.subjects = {
        Ref(SubjectKind::kItem, StrCat("item:scenes/", item), "v1", true, 1),
        Ref(SubjectKind::kAnnotation, StrCat("annotation:", item, "-0"), "r1",
            true)};
    e.inputs = {e.subjects[0]};   // the item it read
    e.outputs = {e.subjects[1]};  // the draft annotation it wrote
    e.attributes = {{"model.id", "detr-r50"},
                    {"model.score", StrCat("0.", 50 + rng.Below(50))}};
  } else if (pick < 33) {
    e.type = "data.cleaned";
    e.actor = {ActorKind::kService, "svc:dedup", "pipeline"};
    uint64_t ds = item % 12;
    e.inputs = {Ref(SubjectKind::kDataset, StrCat("dataset:raw-", ds),
                    "2025-12", true, 200000)};
    e.outputs = {Ref(SubjectKind::kDataset, StrCat("dataset:clean-", ds),
                     "2026-01", true, 190000)};
    e.subjects = e.outputs;
    e.attributes = {{"cleaning.method", "near-duplicate removal, phash<6"},
                    {"removed", StrCat(rng.Below(10000))}};
  } else if (pick < 38) {
    e.type = "qa.metrics_recorded";
    e.actor = {ActorKind::kService, "svc:qa", "qa"};
    e.subjects = {Ref(SubjectKind::kDataset,
                      StrCat("dataset:clean-", item % 12), "2026-01", true,
                      190000)};
    e.attributes = {{"qa.accuracy", StrCat("0.9", rng.Below(100))},
                    {"qa.agreement", StrCat("0.8", rng.Below(100))},
                    {"qa.sample", StrCat(200 + rng.Below(800))}};
  } else {
    e.type = "dataset.exported";
    e.actor = {ActorKind::kHuman, StrCat("user:", 9000 + rng.Below(10)),
               "data_manager"};
    e.subjects = {Ref(SubjectKind::kDataset,
                      StrCat("dataset:clean-", item % 12), "2026-01", true,
                      190000)};
    e.outputs = {Ref(SubjectKind::kDataset,
                     StrCat("dataset:export-", rng.Hex(8)), "1", true, 190000)};
    e.inputs = e.subjects;  // what was exported
    e.attributes = {{"approval.ref", StrCat("approval:", rng.Hex(12))},
                    {"export.format", "coco-json"}};
  }
}

}  // namespace

Event MakeEvent(const std::string& tenant, uint64_t seed, uint64_t n,
                uint32_t event_bytes, const PayloadSeal* seal) {
  Rng rng(seed, n);
  Event e;
  e.event_id = EventId(seed, n);
  e.schema_version = 1;
  e.occurred_at_ns = WorkloadEpochNs() + static_cast<int64_t>(n) * 50'000'000 +
                     static_cast<int64_t>(rng.Below(50'000'000));
  e.producer = "label-studio/1.13.1";
  e.tenant = tenant;
  e.project = StrCat("project:street-scenes-", rng.Below(8));
  e.source = {
      StrCat("10.", rng.Below(256), ".", rng.Below(256), ".", rng.Below(256)),
      StrCat("sess-", rng.Hex(16)), StrCat("req-", rng.Hex(20))};
  e.region = "cn-north-1";
  e.purpose = "model-training";
  e.run_id = StrCat("run-", rng.Hex(12));
  uint64_t item = rng.Below(200000);
  uint64_t pick = rng.Below(100);
  if (pick < 45) {
    FillAnnotation(rng, e, item);
  } else if (pick < 60) {
    FillReview(rng, e, item);
  } else {
    FillOther(rng, e, item, pick - 60);
  }
  std::sort(e.attributes.begin(), e.attributes.end());
  size_t size = EncodedEventSize(e);
  if (seal != nullptr && event_bytes >= size + kEnvelopeMinSize) {
    // Encrypted personal data stands in for the rest. (The nonce comes
    // from the event's generator, so event n of a seed stays one value; a
    // real emitter draws it from the system's RNG.)
    std::string plaintext(event_bytes - size - kEnvelopeMinSize, '\0');
    for (char& c : plaintext) c = static_cast<char>(rng.Next());
    crypto::AeadNonce nonce;
    for (uint8_t& b : nonce) b = static_cast<uint8_t>(rng.Next());
    e.payload = SealPayload(seal->key_id, seal->key, nonce, e.tenant,
                            e.event_id, plaintext);
  } else if (seal == nullptr && event_bytes > size) {
    std::string payload(event_bytes - size, '\0');
    for (char& c : payload) c = static_cast<char>(rng.Next());
    e.payload = std::move(payload);
  }
  return e;
}

namespace {

SignedBatch BuildBatch(const WorkloadOptions& options,
                       const crypto::Ed25519PrivateKey& key, const Hash& key_id,
                       uint64_t first, uint32_t count) {
  std::vector<Event> events;
  std::vector<std::string> bytes;
  events.reserve(count);
  bytes.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    events.push_back(MakeEvent(
        options.tenant, options.seed, first + i, options.event_bytes,
        options.payload_seal.has_value() ? &*options.payload_seal : nullptr));
    bytes.push_back(EncodeEvent(events.back()));
  }
  SignedBatch out;
  out.events = count;
  out.signature = SignBatch(key, bytes);
  v1::EmitterSignature sig;
  sig.set_key_id(std::string(crypto::AsView(key_id)));
  sig.set_signature(std::string(crypto::AsView(out.signature)));
  if (options.single) {
    v1::AppendRequest request;
    *request.mutable_event() = node::EventToProto(events[0]);
    *request.mutable_signature() = std::move(sig);
    out.request = request.SerializeAsString();
  } else {
    v1::AppendBatchRequest request;
    request.mutable_events()->Reserve(static_cast<int>(count));
    for (const Event& e : events) *request.add_events() = node::EventToProto(e);
    *request.mutable_signature() = std::move(sig);
    out.request = request.SerializeAsString();
  }
  if (options.keep_event_bytes) out.event_bytes = std::move(bytes);
  return out;
}

}  // namespace

absl::StatusOr<std::vector<SignedBatch>> BuildWorkload(
    const WorkloadOptions& options, const crypto::Ed25519PrivateKey& key) {
  if (options.batch_size == 0 || options.batch_size > kMaxBatchSize) {
    return absl::InvalidArgumentError(StrCat(
        "batch size must be 1..", kMaxBatchSize, ", got ", options.batch_size));
  }
  if (options.single && options.batch_size != 1) {
    return absl::InvalidArgumentError(
        "one signature per event (Append) needs batch size 1");
  }
  if (options.event_bytes > 32 * 1024) {
    return absl::InvalidArgumentError("event size must be at most 32768");
  }
  const uint64_t count =
      (options.events + options.batch_size - 1) / options.batch_size;
  std::vector<SignedBatch> batches(count);
  const Hash key_id = KeyIdOf(key.public_key());
  unsigned threads = options.threads != 0
                         ? options.threads
                         : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<uint64_t>(threads, count));
  auto work = [&](unsigned worker) {
    for (uint64_t b = worker; b < count; b += threads) {
      uint64_t first = b * options.batch_size;
      uint32_t n = static_cast<uint32_t>(
          std::min<uint64_t>(options.batch_size, options.events - first));
      batches[b] =
          BuildBatch(options, key, key_id, options.first_event + first, n);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  if (threads > 0) work(0);
  for (std::thread& t : pool) t.join();
  return batches;
}

uint64_t CountEvents(const std::vector<SignedBatch>& batches) {
  uint64_t n = 0;
  for (const SignedBatch& b : batches) n += b.events;
  return n;
}

}  // namespace ledger::bench
