#include "tools/ledgerctl/client.h"

#include <google/protobuf/util/time_util.h>

#include <cstdlib>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "ledger/v1/admin.grpc.pb.h"
#include "tools/verify/format.h"

namespace ledger::ctl {

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const ConnectionOptions& options) {
  if (options.client.address.has_value() && options.client.address->empty()) {
    return absl::InvalidArgumentError("--server must not be empty");
  }
  absl::StatusOr<client_tls::Endpoint> endpoint =
      client_tls::ResolveEndpoint(options.client, kDefaultServer);
  if (!endpoint.ok()) return endpoint.status();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return client_tls::CreateChannel(*endpoint, args);
}

ConnectionOptions ToLeader(const ConnectionOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(options);
  if (!channel.ok()) return options;
  std::unique_ptr<v1::Admin::Stub> admin = v1::Admin::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options));
  v1::NodeInfo info;
  if (!admin->GetNodeInfo(&ctx, v1::GetNodeInfoRequest(), &info).ok()) {
    return options;
  }
  // A cluster follower's refusal: "node N follows; the leader is L at
  // ADDRESS: send appends there" (node/node_cluster.cc).
  const std::string& why = info.write_error();
  const size_t is = why.find("; the leader is ");
  const size_t at = is == std::string::npos ? is : why.find(" at ", is);
  const size_t end = why.find(": send appends there");
  if (at == std::string::npos || end == std::string::npos || end <= at + 4) {
    return options;
  }
  ConnectionOptions leader = options;
  leader.client.address = why.substr(at + 4, end - at - 4);
  return leader;
}

std::string ConnectionHint(const absl::Status& status,
                           const ConnectionOptions& options) {
  if (!absl::IsUnavailable(status)) return "";
  const std::string_view message = ToStd(status.message());
  if (message.find("Socket closed") == std::string_view::npos &&
      message.find("andshake") == std::string_view::npos) {
    return "";
  }
  absl::StatusOr<client_tls::ClientSettings> settings =
      client_tls::ResolveClientSettings(options.client, kDefaultServer,
                                        std::getenv(client_tls::kProfileEnv));
  if (!settings.ok()) return "";
  if (settings->insecure_plaintext) {
    return " (this client spoke plaintext, --insecure-plaintext: a node "
           "serving mutual TLS closes such connections)";
  }
  absl::StatusOr<client_tls::Endpoint> endpoint =
      client_tls::MakeEndpoint(*settings);
  return StrCat(" (mutual TLS as ",
                endpoint.ok() && !endpoint->identity.empty()
                    ? endpoint->identity
                    : settings->cert,
                ", trusting ", settings->ca,
                ": the node refuses a certificate its CA did not sign, and "
                "this client refuses a node whose certificate that CA did "
                "not sign or that does not name the address)");
}

std::chrono::system_clock::time_point Deadline(
    const ConnectionOptions& options) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::duration<double>(options.timeout_seconds));
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string ErrorLine(const absl::Status& status) {
  return StrCat("error: ", absl::StatusCodeToString(status.code()), ": ",
                ToStd(status.message()), "\n");
}

Json TimestampJson(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return nullptr;
  return verify::FormatRfc3339(ts.seconds() * 1'000'000'000 + ts.nanos());
}

absl::StatusOr<google::protobuf::Timestamp> ParseTimestamp(
    std::string_view text, std::string_view flag) {
  google::protobuf::Timestamp ts;
  if (!google::protobuf::util::TimeUtil::FromString(std::string(text), &ts)) {
    return absl::InvalidArgumentError(
        StrCat(flag, ": \"", text,
               "\" is not an RFC 3339 time such as 2026-01-01T00:00:00Z"));
  }
  return ts;
}

std::string Hex(std::string_view bytes) { return crypto::HexEncode(bytes); }

Json EntryRefJson(const v1::EntryRef& ref) {
  Json j;
  j["index"] = ref.index();
  j["leaf_hash"] = Hex(ref.leaf_hash());
  j["received_at"] = TimestampJson(ref.received_at());
  j["duplicate"] = ref.duplicate();
  j["event_id"] = ref.event_id();
  return j;
}

void PrintJson(std::ostream& out, const Json& json) {
  out << json.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
}

}  // namespace ledger::ctl
