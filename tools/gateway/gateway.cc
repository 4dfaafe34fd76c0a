#include "tools/gateway/gateway.h"

#include "base/strings.h"
#include "crypto/bytes.h"
#include "nlohmann/json.hpp"

namespace ledger::gateway {
namespace {

using OrderedJson = nlohmann::ordered_json;

// Clock times remembered for repeated deliveries (Gateway::ClockFor).
constexpr size_t kRememberedClockTimes = 65536;

HttpReply ErrorReply(const absl::Status& status, int http_status = 0) {
  HttpReply r;
  r.status = http_status != 0 ? http_status : HttpStatusFor(status);
  if (r.status == 429 || r.status == 503) r.retry_after_seconds = 1;
  r.body = OrderedJson{{"error", std::string(status.message())},
                       {"code", absl::StatusCodeToString(status.code())}}
               .dump();
  return r;
}

// "Token X" or "Bearer X" -> X; "" otherwise.
std::string_view TokenOf(std::string_view authorization) {
  for (std::string_view scheme : {"Token ", "Bearer "}) {
    if (authorization.substr(0, scheme.size()) == scheme) {
      return Trim(authorization.substr(scheme.size()));
    }
  }
  return "";
}

}  // namespace

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      // A mapping's InvalidArgument is a malformed body; the ledger's (an
      // event it refuses) is the request's content: both the sender's to fix.
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kOutOfRange:
      return 413;
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return 422;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 502;
  }
}

Gateway::Gateway(GatewayOptions options, Appender* appender,
                 std::function<int64_t()> clock)
    : options_(std::move(options)),
      appender_(appender),
      clock_(std::move(clock)) {}

absl::Status Gateway::Authenticate(Source source, std::string_view body,
                                   const RequestHeaders& headers) const {
  if (source == Source::kCvat) {
    if (options_.cvat_secret.empty()) {
      return absl::PermissionDeniedError(
          "the gateway has no CVAT secret (cvat_secret_file): unsigned CVAT "
          "deliveries are refused");
    }
    return VerifyCvatSignature(body, headers.signature, options_.cvat_secret);
  }
  if (source == Source::kLabelStudio && !options_.label_studio_token.empty()) {
    const std::string_view token = TokenOf(headers.authorization);
    if (token.empty()) {
      return absl::UnauthenticatedError(
          "Authorization: missing; set the header \"Authorization: Token "
          "<token>\" on the Label Studio webhook");
    }
    if (!crypto::ConstantTimeEqual(token, options_.label_studio_token)) {
      return absl::PermissionDeniedError(
          "Authorization: the token does not match the configured Label "
          "Studio token");
    }
  }
  return absl::OkStatus();
}

int64_t Gateway::ClockFor(const std::string& first_event_id, int64_t now) {
  MutexLock lock(&mu_);
  auto [it, inserted] = clock_times_.emplace(first_event_id, now);
  if (!inserted) return it->second;
  clock_order_.push_back(first_event_id);
  if (clock_order_.size() > kRememberedClockTimes) {
    clock_times_.erase(clock_order_.front());
    clock_order_.pop_front();
  }
  return now;
}

HttpReply Gateway::Handle(Source source, std::string_view body,
                          const RequestHeaders& headers) {
  if (absl::Status s = Authenticate(source, body, headers); !s.ok()) {
    return ErrorReply(s);
  }
  const int64_t now = clock_();
  absl::StatusOr<Mapped> mapped = Map(source, body, options_.mapping, now);
  if (mapped.ok() && mapped->clock_time && !mapped->events.empty()) {
    const int64_t first =
        ClockFor(FormatUuid(mapped->events.front().event_id), now);
    if (first != now) mapped = Map(source, body, options_.mapping, first);
  }
  if (!mapped.ok()) return ErrorReply(mapped.status());

  std::vector<std::string> types;
  std::vector<std::string> ids;
  for (const Event& e : mapped->events) {
    types.push_back(e.type);
    ids.push_back(FormatUuid(e.event_id));
  }
  const bool clock_time = mapped->clock_time;
  absl::StatusOr<std::vector<v1::EntryRef>> refs =
      appender_->Append(std::move(mapped->events));
  OrderedJson entries = OrderedJson::array();
  if (refs.ok()) {
    for (size_t i = 0; i < refs->size(); ++i) {
      const v1::EntryRef& ref = (*refs)[i];
      entries.push_back({{"event_id", ids[i]},
                         {"type", types[i]},
                         {"index", ref.index()},
                         {"leaf_hash", crypto::HexEncode(ref.leaf_hash())},
                         {"duplicate", ref.duplicate()}});
    }
  } else if (clock_time && absl::IsAlreadyExists(refs.status())) {
    // The same delivery was appended before with another clock reading
    // (before a restart of the gateway): its events' ids are taken by
    // them, which is the one entry per delivery the platform needs.
    for (size_t i = 0; i < ids.size(); ++i) {
      entries.push_back({{"event_id", ids[i]},
                         {"type", types[i]},
                         {"index", nullptr},
                         {"leaf_hash", nullptr},
                         {"duplicate", true}});
    }
  } else {
    // The node refusing the gateway itself (its key or certificate) is
    // not the sender's doing: 502, not 401/403.
    const absl::Status& s = refs.status();
    return ErrorReply(
        Annotate(s, "the ledger refused the events"),
        absl::IsPermissionDenied(s) || absl::IsUnauthenticated(s) ? 502 : 0);
  }
  HttpReply reply;
  reply.body =
      OrderedJson{{"delivery", mapped->delivery}, {"entries", entries}}.dump();
  return reply;
}

}  // namespace ledger::gateway
