#include "tools/ledgerctl/gen_events.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/sha256.h"
#include "ledger/event.h"
#include "ledger/payload.h"
#include "node/convert.h"
#include "tools/ledgerctl/gen_events_internal.h"
#include "tools/verify/report.h"

namespace ledger::ctl {
using gen_internal::kProjects;
using gen_internal::Numbered;

namespace {

// The proto3 JSON form of `event` on one line, with attributes in key order
// (protobuf prints map entries in hash order, which differs between runs).
absl::StatusOr<std::string> EventJsonLine(v1::Event event) {
  std::vector<std::pair<std::string, std::string>> attributes(
      event.attributes().begin(), event.attributes().end());
  std::sort(attributes.begin(), attributes.end());
  event.clear_attributes();
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  std::string json;
  auto s = google::protobuf::util::MessageToJsonString(event, &json, print);
  if (!s.ok() || json.size() < 2 || json.back() != '}') {
    return absl::InternalError(
        StrCat("cannot print event as JSON: ", s.message().ToString()));
  }
  if (!attributes.empty()) {
    std::string object =
        json.size() > 2 ? ",\"attributes\":{" : "\"attributes\":{";
    for (size_t i = 0; i < attributes.size(); ++i) {
      if (i > 0) object.push_back(',');
      object += StrCat(verify::JsonQuote(attributes[i].first), ":",
                       verify::JsonQuote(attributes[i].second));
    }
    object.push_back('}');
    json.insert(json.size() - 1, object);
  }
  json.push_back('\n');
  return json;
}

// SplitMix64's state advances by a constant, so seeds used directly would
// give overlapping streams (seed 99 = seed 42 shifted by 57 draws, with the
// same event IDs). Hashing tenant and seed gives unrelated streams.
uint64_t InitialState(std::string_view tenant, uint64_t seed) {
  const crypto::Hash h = crypto::Sha256Digest(
      StrCat("ledgerctl gen-events\n", tenant, "\n", seed));
  uint64_t state = 0;
  for (int i = 0; i < 8; ++i) state = (state << 8) | h[i];
  return state;
}

}  // namespace

int64_t DefaultGenStartSeconds(int64_t now_seconds) {
  constexpr int64_t kDay = 24 * 3600;
  const int64_t midnight = now_seconds - ((now_seconds % kDay) + kDay) % kDay;
  return midnight - 300 * kDay;
}

EventGenerator::EventGenerator(GenEventsOptions options)
    : options_(std::move(options)),
      state_(InitialState(options_.tenant, options_.seed)),
      clock_ns_(
          (options_.start_seconds != 0
               ? options_.start_seconds
               : DefaultGenStartSeconds(absl::ToUnixSeconds(absl::Now()))) *
          1'000'000'000) {
  project_ = std::string(kProjects[Uniform(kProjects.size())]);
  raw_dataset_ = StrCat(options_.tenant, "/", project_, "/raw");
  curated_dataset_ = StrCat(options_.tenant, "/", project_, "/curated");
  core_ = project_ == "street-scenes";
  sensitive_ = project_ == "clinical-notes";
}

// SplitMix64: small, fast and the same on every platform.
uint64_t EventGenerator::Random() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string EventGenerator::NewUuid() {
  Uuid id;
  for (size_t i = 0; i < id.size(); i += 8) {
    const uint64_t r = Random();
    for (size_t k = 0; k < 8; ++k)
      id[i + k] = static_cast<uint8_t>(r >> (8 * k));
  }
  id[6] = (id[6] & 0x0F) | 0x40;  // version 4
  id[8] = (id[8] & 0x3F) | 0x80;  // RFC 4122 variant
  return FormatUuid(id);
}

std::string EventGenerator::InOneYear() const {
  return absl::FormatTime(
      absl::RFC3339_sec, absl::FromUnixNanos(clock_ns_) + absl::Hours(24 * 365),
      absl::UTCTimeZone());
}

std::string EventGenerator::ContentHash(std::string_view what) {
  return crypto::HexEncode(crypto::Sha256Digest(
      StrCat(options_.tenant, "|", what, "|", options_.seed)));
}

v1::Event EventGenerator::Base(std::string_view type, std::string_view producer,
                               v1::ActorKind kind, std::string_view actor,
                               std::string_view role) {
  v1::Event e;
  e.set_event_id(NewUuid());
  e.set_type(std::string(type));
  e.set_schema_version(1);
  // One draw per statement: the operands of + and the arguments of a call
  // are evaluated in an unspecified order, which differs between compilers.
  clock_ns_ += static_cast<int64_t>(1 + Uniform(20)) * 1'000'000'000;
  clock_ns_ += static_cast<int64_t>(Uniform(1000)) * 1'000'000;
  e.mutable_occurred_at()->set_seconds(clock_ns_ / 1'000'000'000);
  e.mutable_occurred_at()->set_nanos(
      static_cast<int32_t>(clock_ns_ % 1'000'000'000));
  e.set_producer(options_.producer.empty() ? std::string(producer)
                                           : options_.producer);
  e.set_tenant(options_.tenant);
  e.set_project(project_);
  e.mutable_actor()->set_kind(kind);
  e.mutable_actor()->set_id(std::string(actor));
  e.mutable_actor()->set_role(std::string(role));
  if (kind == v1::ACTOR_KIND_HUMAN) {
    const uint64_t subnet = Uniform(4);
    const uint64_t host = 10 + Uniform(200);
    e.mutable_source()->set_ip(StrCat("10.20.", subnet, ".", host));
    e.mutable_source()->set_session(
        StrCat("sess-", ContentHash(actor).substr(0, 12)));
  } else {
    // Services and models run on the cluster's hosts, one each (no draw:
    // the address follows from the name), so that a policy's
    // secure_networks (R12) can judge every event.
    const crypto::Hash h = crypto::Sha256Digest(actor);
    e.mutable_source()->set_ip(StrCat("10.30.0.", 10 + h[0] % 200));
  }
  e.mutable_source()->set_request_id(
      StrCat("req-", Numbered("", Random() % 100'000'000, 8)));
  e.mutable_outcome()->set_status(v1::OUTCOME_STATUS_SUCCESS);
  e.set_region("cn-north-1");
  e.set_purpose("annotation");
  return e;
}

void EventGenerator::Refill() {
  if (!setup_done_) {
    setup_done_ = true;
    Setup();
    ImportChunk();
    return;
  }
  if (cursor_ < chunk_end_) {
    AnnotateItem(cursor_++);
    return;
  }
  CloseChunk();
  ImportChunk();
}

absl::Status EventGenerator::Pad(Generated& generated) {
  if (options_.size == 0) return absl::OkStatus();
  absl::StatusOr<Event> converted = node::EventFromProto(generated.event);
  if (!converted.ok()) return converted.status();
  const size_t size = EncodeEvent(*converted).size();
  if (size + kEnvelopeMinSize > options_.size) return absl::OkStatus();
  // Personal data of the actor, in lowercase letters (one byte each, in
  // JSON too), encrypted by `ledgerctl append`.
  std::string text(options_.size - size - kEnvelopeMinSize, 'a');
  for (char& c : text) c = static_cast<char>('a' + Uniform(26));
  generated.plain.plaintext = std::move(text);
  generated.plain.data_subject = generated.event.actor().id();
  generated.has_plain = true;
  return absl::OkStatus();
}

absl::StatusOr<EventGenerator::Generated> EventGenerator::Next() {
  while (pending_.empty()) Refill();
  Generated g;
  g.event = std::move(pending_.front());
  pending_.pop_front();
  if (absl::Status s = Pad(g); !s.ok()) return s;
  return g;
}

absl::Status GenerateEvents(const GenEventsOptions& options,
                            std::ostream& out) {
  if (options.tenant.empty()) {
    return absl::InvalidArgumentError("--tenant must not be empty");
  }
  if (options.size > kMaxGenEventSize) {
    return absl::InvalidArgumentError(
        StrCat("--size must be at most ", kMaxGenEventSize, " bytes"));
  }
  if (options.workflow_depth < 1 ||
      options.workflow_depth > kMaxGenWorkflowDepth) {
    return absl::InvalidArgumentError(
        StrCat("--workflow-depth must be between 1 and ", kMaxGenWorkflowDepth,
               " steps, not ", options.workflow_depth));
  }
  if (options.fan_in < 2 || options.fan_in > kMaxGenFanIn) {
    return absl::InvalidArgumentError(StrCat("--fan-in must be between 2 and ",
                                             kMaxGenFanIn, " inputs, not ",
                                             options.fan_in));
  }
  EventGenerator generator(options);
  std::string text;
  for (uint64_t i = 0; i < options.count; ++i) {
    absl::StatusOr<EventGenerator::Generated> g = generator.Next();
    if (!g.ok()) return g.status();
    absl::StatusOr<std::string> line = EventJsonLine(std::move(g->event));
    if (!line.ok()) return line.status();
    if (g->has_plain) {
      // Before the closing brace and the newline.
      line->insert(
          line->size() - 2,
          StrCat(",\"data_subject\":", verify::JsonQuote(g->plain.data_subject),
                 ",\"payload_plaintext\":",
                 verify::JsonQuote(g->plain.plaintext)));
    }
    text += *line;
    if (text.size() >= (1 << 20)) {
      out.write(text.data(), text.size());
      text.clear();
    }
  }
  out.write(text.data(), text.size()).flush();
  if (!out) return absl::UnavailableError("cannot write the events");
  return absl::OkStatus();
}

}  // namespace ledger::ctl
