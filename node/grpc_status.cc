#include "node/grpc_status.h"

#include <string>
#include <utility>

#include "base/strings.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace ledger::node {
namespace {

constexpr std::string_view kBadRequestType =
    "type.googleapis.com/google.rpc.BadRequest";

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

// Whether `path` ("events[3].subjects[0].id") names a field of `type`.
bool IsFieldPath(std::string_view path,
                 const google::protobuf::Descriptor& type) {
  const google::protobuf::Descriptor* message = &type;
  while (true) {
    size_t n = 0;
    while (n < path.size() && IsNameChar(path[n])) ++n;
    if (n == 0 || message == nullptr) return false;
    const google::protobuf::FieldDescriptor* field =
        message->FindFieldByName(std::string(path.substr(0, n)));
    if (field == nullptr) return false;
    path.remove_prefix(n);
    bool indexed = false;
    if (!path.empty() && path[0] == '[') {
      size_t digits = 1;
      while (digits < path.size() && path[digits] >= '0' &&
             path[digits] <= '9') {
        ++digits;
      }
      if (!field->is_repeated() || digits == 1 || digits == path.size() ||
          path[digits] != ']') {
        return false;
      }
      path.remove_prefix(digits + 1);
      indexed = true;
    }
    if (path.empty()) return true;
    // Into a message: a singular one, or one element of a repeated one.
    if (path[0] != '.' || (field->is_repeated() && !indexed)) return false;
    path.remove_prefix(1);
    message = field->message_type();  // nullptr for a scalar: refused above
  }
}

std::string DetailsOf(grpc::StatusCode code, const std::string& message,
                      const FieldViolation& violation) {
  google::rpc::BadRequest bad_request;
  google::rpc::BadRequest::FieldViolation* v =
      bad_request.add_field_violations();
  v->set_field(violation.field);
  v->set_description(violation.description);
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(code));
  details.set_message(message);
  google::protobuf::Any* any = details.add_details();
  any->set_type_url(std::string(kBadRequestType));
  any->set_value(bad_request.SerializeAsString());
  return details.SerializeAsString();
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(ToStd(status.message())));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

grpc::Status ToGrpcStatus(const absl::Status& status,
                          const google::protobuf::Descriptor& request,
                          std::string message) {
  const auto code = static_cast<grpc::StatusCode>(status.code());
  if (status.ok()) return grpc::Status::OK;
  if (!absl::IsInvalidArgument(status)) {
    return grpc::Status(code, std::move(message));
  }
  std::optional<FieldViolation> violation =
      FieldViolationOf(ToStd(status.message()), request);
  if (!violation.has_value()) return grpc::Status(code, std::move(message));
  std::string details = DetailsOf(code, message, *violation);
  return grpc::Status(code, std::move(message), std::move(details));
}

grpc::Status ToGrpcStatus(const absl::Status& status,
                          const google::protobuf::Descriptor& request) {
  return ToGrpcStatus(status, request, std::string(ToStd(status.message())));
}

grpc::Status ToGrpcStatus(const absl::Status& status,
                          const google::protobuf::Message& request) {
  return ToGrpcStatus(status, *request.GetDescriptor());
}

std::optional<FieldViolation> FieldViolationOf(
    std::string_view message, const google::protobuf::Descriptor& request) {
  constexpr std::string_view kSeparator = ": ";
  const size_t end = message.find(kSeparator);
  if (end == std::string_view::npos) return std::nullopt;
  const std::string_view path = message.substr(0, end);
  if (!IsFieldPath(path, request)) return std::nullopt;
  return FieldViolation{std::string(path),
                        std::string(message.substr(end + kSeparator.size()))};
}

}  // namespace ledger::node
