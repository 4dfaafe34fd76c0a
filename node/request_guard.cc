#include "node/request_guard.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "base/strings.h"
#include "node/log_limit.h"

namespace ledger::node {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Client-supplied text (a method name) for a message or a log line:
// printable ASCII as is, other bytes as \xNN, at most 200 bytes.
std::string Sanitize(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size() && i < 200; ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out.append({'\\', 'x', kHex[c >> 4], kHex[c & 0xF]});
    }
  }
  if (s.size() > 200) out.append("...");
  return out;
}

// "ledger.v1.AppendRequest" for "/ledger.v1.Ingest/Append", or "" if the
// method is not in the generated descriptor pool.
std::string RequestTypeOf(std::string_view method) {
  if (method.starts_with('/')) method.remove_prefix(1);
  std::string name(method);
  const size_t slash = name.rfind('/');
  if (slash == std::string::npos) return "";
  name[slash] = '.';
  const google::protobuf::MethodDescriptor* m =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          name);
  return m == nullptr ? "" : m->input_type()->full_name();
}

LogLimiter& UnparsableLog() {
  static LogLimiter* limiter =
      new LogLimiter(kLogLinesPerMinute, absl::Minutes(1));
  return *limiter;
}

LogLimiter& UnknownMethodLog() {
  static LogLimiter* limiter =
      new LogLimiter(kLogLinesPerMinute, absl::Minutes(1));
  return *limiter;
}

LogLimiter& ProtobufLog() {
  static LogLimiter* limiter =
      new LogLimiter(kLogLinesPerMinute, absl::Minutes(1));
  return *limiter;
}

std::string LeftOut(uint64_t suppressed) {
  if (suppressed == 0) return "";
  return StrCat(" (", suppressed, " similar lines left out)");
}

thread_local std::string t_parse_error;

// protobuf's line for a proto3 string that is not UTF-8 (3.21):
// "String field 'ledger.v1.Event.tenant' contains invalid UTF-8 data when
// parsing a protocol buffer. Use the 'bytes' type if ..."
std::string ParseErrorOf(const std::string& line) {
  if (line.find("when parsing") == std::string::npos) return "";
  constexpr std::string_view kField = "String field '";
  const size_t start = line.find(kField);
  if (start != std::string::npos) {
    const size_t name = start + kField.size();
    const size_t end = line.find('\'', name);
    if (end != std::string::npos) {
      return StrCat("string field ",
                    Sanitize(std::string_view(line).substr(name, end - name)),
                    " holds invalid UTF-8");
    }
  }
  return Sanitize(line);
}

void ProtobufLogHandler(google::protobuf::LogLevel level, const char* filename,
                        int line, const std::string& message) {
  if (level != google::protobuf::LOGLEVEL_FATAL) {
    std::string parse_error = ParseErrorOf(message);
    if (!parse_error.empty()) t_parse_error = std::move(parse_error);
  }
  uint64_t suppressed = 0;
  if (level != google::protobuf::LOGLEVEL_FATAL &&
      !ProtobufLog().Allow(&suppressed)) {
    return;
  }
  spdlog::level::level_enum spd = spdlog::level::info;
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      spd = spdlog::level::info;
      break;
    case google::protobuf::LOGLEVEL_WARNING:
      spd = spdlog::level::warn;
      break;
    case google::protobuf::LOGLEVEL_ERROR:
      spd = spdlog::level::err;
      break;
    case google::protobuf::LOGLEVEL_FATAL:
      spd = spdlog::level::critical;
      break;
  }
  spdlog::log(spd, "protobuf ({}:{}): {}{}", filename, line, message,
              LeftOut(suppressed));
}

// Whether gRPC answered a request it could not parse: code INTERNAL or
// UNIMPLEMENTED and no message (see the header).
bool IsUnparsedAnswer(const grpc::Status& s) {
  return (s.error_code() == grpc::StatusCode::INTERNAL ||
          s.error_code() == grpc::StatusCode::UNIMPLEMENTED) &&
         s.error_message().empty();
}

class RequestGuard : public grpc::experimental::Interceptor {
 public:
  explicit RequestGuard(grpc::experimental::ServerRpcInfo* info)
      : info_(info) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    if (m->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        ParsedBeforeTheHandler()) {
      // gRPC parsed the request on this thread just before this hook, so
      // what protobuf logged meanwhile is about this request. Taken
      // either way, so nothing stale is left for the next request.
      std::string detail = TakeProtobufParseError();
      if (m->GetRecvMessage() == nullptr) {
        unparsed_ = true;
        detail_ = std::move(detail);
      }
    }
    if (unparsed_ && m->QueryInterceptionHookPoint(
                         InterceptionHookPoints::PRE_SEND_STATUS)) {
      if (IsUnparsedAnswer(m->GetSendStatus())) {
        const std::string method = info_->method() != nullptr
                                       ? std::string(info_->method())
                                       : std::string();
        const std::string message = UnparsableRequestMessage(method, detail_);
        m->ModifySendStatus(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message));
        uint64_t suppressed = 0;
        if (UnparsableLog().Allow(&suppressed)) {
          spdlog::warn("refused a request from {}: {}{}",
                       Sanitize(info_->server_context()->peer()), message,
                       LeftOut(suppressed));
        }
      }
    }
    m->Proceed();
  }

 private:
  // Unary and server-streaming requests are parsed before the handler
  // runs; streamed requests are read by the handler.
  bool ParsedBeforeTheHandler() const {
    using Type = grpc::experimental::ServerRpcInfo::Type;
    return info_->type() == Type::UNARY ||
           info_->type() == Type::SERVER_STREAMING;
  }

  grpc::experimental::ServerRpcInfo* const info_;
  bool unparsed_ = false;
  std::string detail_;
};

class RequestGuardFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RequestGuard(info);
  }
};

class LeaderHint : public grpc::experimental::Interceptor {
 public:
  LeaderHint(grpc::experimental::ServerRpcInfo* info,
             const std::function<std::string()>* leader_address)
      : info_(info), leader_address_(leader_address) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    if (m->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        m->GetSendStatus().error_code() == grpc::StatusCode::UNAVAILABLE &&
        IsWrite()) {
      std::string address = (*leader_address_)();
      if (!address.empty()) {
        m->GetSendTrailingMetadata()->emplace(kLeaderHeader,
                                              std::move(address));
      }
    }
    m->Proceed();
  }

 private:
  bool IsWrite() const {
    const char* method = info_->method();
    if (method == nullptr) return false;
    const std::string_view m(method);
    return m.starts_with("/ledger.v1.Ingest/") ||
           m.starts_with("/ledger.v1.Admin/");
  }

  grpc::experimental::ServerRpcInfo* const info_;
  const std::function<std::string()>* const leader_address_;
};

class LeaderHintFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit LeaderHintFactory(std::function<std::string()> leader_address)
      : leader_address_(std::move(leader_address)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new LeaderHint(info, &leader_address_);
  }

 private:
  const std::function<std::string()> leader_address_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewLeaderHintFactory(std::function<std::string()> leader_address) {
  return std::make_unique<LeaderHintFactory>(std::move(leader_address));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRequestGuardFactory() {
  return std::make_unique<RequestGuardFactory>();
}

grpc::ServerGenericBidiReactor* UnknownMethodService::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  class Reactor : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(const grpc::Status& status) { Finish(status); }
    void OnDone() override { delete this; }
  };
  const std::string method = Sanitize(context->method());
  const std::string message = StrCat(
      "unknown method \"", method,
      "\": this node serves ledger.v1.Ingest, ledger.v1.Proof, "
      "ledger.v1.Query, ledger.v1.Admin and grpc.health.v1.Health (check "
      "the client's proto files and the address it calls)");
  uint64_t suppressed = 0;
  if (UnknownMethodLog().Allow(&suppressed)) {
    spdlog::warn("refused a call from {}: {}{}", Sanitize(context->peer()),
                 message, LeftOut(suppressed));
  }
  return new Reactor(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, message));
}

void InstallProtobufLogHandler() {
  static std::once_flag once;
  std::call_once(once,
                 [] { google::protobuf::SetLogHandler(&ProtobufLogHandler); });
}

void ResetLogLimitsForTesting() {
  UnparsableLog().ResetForTesting();
  UnknownMethodLog().ResetForTesting();
  ProtobufLog().ResetForTesting();
}

std::string TakeProtobufParseError() {
  std::string out;
  out.swap(t_parse_error);
  return out;
}

std::string UnparsableRequestMessage(std::string_view method,
                                     std::string_view detail) {
  const std::string type = RequestTypeOf(method);
  return StrCat(
      "the request to ", method.empty() ? "this method" : Sanitize(method),
      " does not parse as ", type.empty() ? "its request message" : type, ": ",
      detail.empty() ? "it is not that message's protobuf encoding, or a "
                       "string field holds invalid UTF-8"
                     : detail,
      " (proto3 string fields must be valid UTF-8; send binary data in "
      "bytes fields)");
}

}  // namespace ledger::node
