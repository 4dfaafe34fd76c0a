#include "tools/ledgerctl/proto_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/time_util.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "crypto/bytes.h"
#include "nlohmann/json.hpp"

namespace ledger::ctl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Json = nlohmann::json;

constexpr size_t kMaxDepth = 32;

// Errors below carry only what is wrong; the parser prefixes the path.
absl::Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(std::string(what));
}

// Integers: a JSON integer, an integral JSON float, or a decimal string.
template <typename T>
absl::StatusOr<T> ToInteger(const Json& v) {
  using Limits = std::numeric_limits<T>;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(Limits::max())) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (Limits::is_signed ? (i >= static_cast<int64_t>(Limits::min()) &&
                             i <= static_cast<int64_t>(Limits::max()))
                          : i >= 0) {
      return static_cast<T>(i);
    }
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::trunc(d) == d && d >= static_cast<double>(Limits::min()) &&
        d <= static_cast<double>(Limits::max())) {
      return static_cast<T>(d);
    }
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    T out{};
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    if (!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size()) {
      return out;
    }
  }
  return Bad(StrCat("not a valid integer: ", v.dump()));
}

absl::StatusOr<double> ToDouble(const Json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    double d = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), d);
    if (!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size()) {
      return d;
    }
  }
  return Bad(StrCat("not a valid number: ", v.dump()));
}

// Standard or URL-safe base64, padding optional.
absl::StatusOr<std::string> ToBytes(const Json& v) {
  if (!v.is_string()) return Bad("bytes must be a base64 string");
  std::string s = v.get<std::string>();
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (s.size() % 4 != 0) s.push_back('=');
  absl::StatusOr<std::string> bytes = crypto::Base64Decode(s);
  if (!bytes.ok()) return Bad("not valid base64");
  return bytes;
}

bool IsTimestamp(const Descriptor* d) {
  return d->full_name() == "google.protobuf.Timestamp";
}

// Sets one scalar value of `f` (appended when repeated). Message-typed
// fields take only a Timestamp string here; objects go through the parser.
absl::Status SetScalar(Json v, Message* m, const FieldDescriptor* f) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
#define LEDGER_INTEGER_CASE(CPPTYPE, T, Name)              \
  case FieldDescriptor::CPPTYPE: {                         \
    absl::StatusOr<T> x = ToInteger<T>(v);                 \
    if (!x.ok()) return x.status();                        \
    rep ? r->Add##Name(m, f, *x) : r->Set##Name(m, f, *x); \
    return absl::OkStatus();                               \
  }
    LEDGER_INTEGER_CASE(CPPTYPE_INT32, int32_t, Int32)
    LEDGER_INTEGER_CASE(CPPTYPE_INT64, int64_t, Int64)
    LEDGER_INTEGER_CASE(CPPTYPE_UINT32, uint32_t, UInt32)
    LEDGER_INTEGER_CASE(CPPTYPE_UINT64, uint64_t, UInt64)
#undef LEDGER_INTEGER_CASE
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      absl::StatusOr<double> x = ToDouble(v);
      if (!x.ok()) return x.status();
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        const auto fx = static_cast<float>(*x);
        rep ? r->AddFloat(m, f, fx) : r->SetFloat(m, f, fx);
      } else {
        rep ? r->AddDouble(m, f, *x) : r->SetDouble(m, f, *x);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      if (!v.is_boolean()) return Bad("must be true or false");
      rep ? r->AddBool(m, f, v.get<bool>()) : r->SetBool(m, f, v.get<bool>());
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_ENUM: {
      int number = 0;
      if (v.is_string()) {
        const auto* value =
            f->enum_type()->FindValueByName(v.get_ref<const std::string&>());
        if (value == nullptr) {
          return Bad(
              StrCat("unknown ", f->enum_type()->name(), " value ", v.dump()));
        }
        number = value->number();
      } else {
        absl::StatusOr<int32_t> x = ToInteger<int32_t>(v);
        if (!x.ok()) return x.status();
        number = *x;
      }
      rep ? r->AddEnumValue(m, f, number) : r->SetEnumValue(m, f, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s;
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        absl::StatusOr<std::string> b = ToBytes(v);
        if (!b.ok()) return b.status();
        s = *std::move(b);
      } else if (v.is_string()) {
        s = std::move(v.get_ref<std::string&>());
      } else {
        return Bad("must be a string");
      }
      rep ? r->AddString(m, f, std::move(s)) : r->SetString(m, f, std::move(s));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      if (!IsTimestamp(f->message_type())) return Bad("must be a JSON object");
      google::protobuf::Timestamp ts;
      if (!v.is_string() || !google::protobuf::util::TimeUtil::FromString(
                                v.get_ref<const std::string&>(), &ts)) {
        return Bad(StrCat("not an RFC 3339 timestamp: ", v.dump()));
      }
      (rep ? r->AddMessage(m, f) : r->MutableMessage(m, f))->CopyFrom(ts);
      return absl::OkStatus();
    }
  }
  return Bad("unsupported field type");
}

// nlohmann SAX handler that fills a message as the JSON streams by, with
// no document tree in between. Each frame is an object being filled (a
// message or a map) or an array of a repeated field.
class Filler {
 public:
  explicit Filler(Message* root) {
    frames_.emplace_back(Frame::kMessage, root);
  }

  const absl::Status& status() const { return status_; }

  bool null() { return Scalar(Json(nullptr)); }
  bool boolean(bool v) { return Scalar(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return Scalar(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return Scalar(Json(v)); }
  bool number_float(Json::number_float_t v, const std::string&) {
    return Scalar(Json(v));
  }
  bool string(std::string& v) { return Scalar(Json(std::move(v))); }
  bool binary(Json::binary_t&) { return Fail(Bad("unexpected binary")); }

  bool key(std::string& k) {
    Frame& top = frames_.back();
    if (top.kind == Frame::kMap) {
      if (!top.map_keys.insert(k).second) return Duplicate(k, "");
      top.map_key = std::move(k);
      return true;
    }
    const Descriptor* d = top.message->GetDescriptor();
    const FieldDescriptor* f = d->FindFieldByName(k);
    if (f == nullptr) f = d->FindFieldByCamelcaseName(k);
    if (f == nullptr || (f->json_name() != k && f->name() != k)) {
      top.field = nullptr;
      top.unknown = std::move(k);
      return Fail(Bad(StrCat("no such field in ", d->full_name())));
    }
    // A key given twice (or under both its names) would silently merge
    // or override: refused, so that what is signed is what was written.
    for (const auto& [seen, spelling] : top.fields_seen) {
      if (seen == f) return Duplicate(k, spelling);
    }
    top.fields_seen.emplace_back(f, k);
    top.field = f;
    return true;
  }

  bool start_object(std::size_t) {
    if (frames_.size() == 1 && !started_) {  // the document itself
      started_ = true;
      return CheckPlain(frames_.back().message);
    }
    if (frames_.size() >= kMaxDepth) return Fail(Bad("nested too deeply"));
    Frame& top = frames_.back();
    const FieldDescriptor* f = top.field;
    const Reflection* r = nullptr;
    Message* child = nullptr;
    if (top.kind == Frame::kMessage) {
      if (f->is_map()) {
        frames_.emplace_back(Frame::kMap, top.message, f);
        return true;
      }
      if (f->is_repeated()) return Fail(Bad("must be an array"));
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return Fail(Bad("must not be an object"));
      }
      r = top.message->GetReflection();
      child = r->MutableMessage(top.message, f);
    } else if (top.kind == Frame::kArray) {
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return Fail(Bad("must not be an object"));
      }
      child = top.message->GetReflection()->AddMessage(top.message, f);
    } else {  // a map value that is a message
      absl::StatusOr<Message*> entry = NewMapEntry(top);
      if (!entry.ok()) return Fail(entry.status());
      const FieldDescriptor* value = f->message_type()->map_value();
      if (value->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return Fail(Bad("must not be an object"));
      }
      child = (*entry)->GetReflection()->MutableMessage(*entry, value);
    }
    if (!CheckPlain(child)) return false;
    frames_.emplace_back(Frame::kMessage, child);
    return true;
  }

  bool end_object() {
    if (frames_.size() > 1) frames_.pop_back();
    if (frames_.back().kind == Frame::kArray) ++frames_.back().index;
    return true;
  }

  bool start_array(std::size_t) {
    if (!started_) return Fail(Bad("not a JSON object"));
    Frame& top = frames_.back();
    if (top.kind != Frame::kMessage || !top.field->is_repeated() ||
        top.field->is_map()) {
      return Fail(Bad(top.kind == Frame::kMessage && top.field->is_map()
                          ? "must be a JSON object"
                          : "must not be an array"));
    }
    frames_.emplace_back(Frame::kArray, top.message, top.field);
    return true;
  }

  bool end_array() {
    frames_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 9: ..."
    std::string_view what = e.what();
    if (size_t p = what.find("] "); p != std::string_view::npos) {
      what.remove_prefix(p + 2);
    }
    status_ = absl::InvalidArgumentError(StrCat("invalid JSON: ", what));
    return false;
  }

 private:
  struct Frame {
    enum Kind { kMessage, kArray, kMap };
    Frame(Kind k, Message* m, const FieldDescriptor* f = nullptr)
        : kind(k), message(m), field(f) {}
    Kind kind;
    Message* message;
    // kMessage: the field of the last key; kArray/kMap: their field.
    const FieldDescriptor* field = nullptr;
    size_t index = 0;     // kArray: elements so far
    std::string map_key;  // kMap: the last key
    std::string unknown;  // kMessage: an unknown key, for the error path
    // Keys of this object so far: fields as first spelled (kMessage; at
    // most one per field of the message, so a short list) or map keys
    // (kMap).
    std::vector<std::pair<const FieldDescriptor*, std::string>> fields_seen;
    std::unordered_set<std::string> map_keys;
  };

  // The path of the value being read in the first `depth` frames:
  // "subjects[1].kind", "attributes[\"label\"]".
  std::string PathOf(size_t depth) const {
    std::string path;
    for (size_t i = 0; i < depth; ++i) {
      const Frame& f = frames_[i];
      switch (f.kind) {
        case Frame::kMessage:
          if (f.field != nullptr || !f.unknown.empty()) {
            if (!path.empty()) path.push_back('.');
            path += f.field != nullptr ? f.field->name() : f.unknown;
          }
          break;
        case Frame::kArray:
          path += StrCat("[", f.index, "]");
          break;
        case Frame::kMap:
          path += StrCat("[\"", f.map_key, "\"]");
          break;
      }
    }
    return path;
  }

  // Key `k` occurs twice in the innermost object; `first` is how the
  // field was spelled the first time ("" in a map).
  bool Duplicate(std::string_view k, std::string_view first) {
    std::string what = StrCat("duplicate key \"", k, "\"");
    if (!first.empty() && first != k) {
      what += StrCat(" (the same field as \"", first, "\")");
    }
    const std::string path = PathOf(frames_.size() - 1);
    status_ = absl::InvalidArgumentError(
        path.empty() ? what : StrCat(path, ": ", what));
    return false;
  }

  // Only our own messages are objects; well-known types other than
  // Timestamp (a string) are not supported.
  bool CheckPlain(const Message* m) {
    const Descriptor* d = m->GetDescriptor();
    if (d->file()->package() == "google.protobuf") {
      return Fail(Bad(IsTimestamp(d)
                          ? "a Timestamp must be an RFC 3339 string"
                          : StrCat(d->full_name(), " is not supported")));
    }
    return true;
  }

  absl::StatusOr<Message*> NewMapEntry(Frame& map) {
    Message* entry =
        map.message->GetReflection()->AddMessage(map.message, map.field);
    const FieldDescriptor* key = map.field->message_type()->map_key();
    Json key_json = map.map_key;
    if (key->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) {
      if (map.map_key != "true" && map.map_key != "false") {
        return Bad("map key must be true or false");
      }
      key_json = (map.map_key == "true");
    }
    if (absl::Status s = SetScalar(std::move(key_json), entry, key); !s.ok()) {
      return s;
    }
    return entry;
  }

  bool Scalar(Json v) {
    if (!started_) return Fail(Bad("not a JSON object"));
    Frame& top = frames_.back();
    if (top.kind == Frame::kMessage) {
      if (v.is_null()) return true;  // proto3: null is the default
      if (top.field->is_map()) return Fail(Bad("must be a JSON object"));
      if (top.field->is_repeated()) return Fail(Bad("must be an array"));
      return Check(SetScalar(std::move(v), top.message, top.field));
    }
    if (top.kind == Frame::kArray) {
      if (v.is_null()) return Fail(Bad("is null"));
      if (!Check(SetScalar(std::move(v), top.message, top.field))) {
        return false;
      }
      ++top.index;
      return true;
    }
    if (v.is_null()) return Fail(Bad("map value is null"));
    absl::StatusOr<Message*> entry = NewMapEntry(top);
    if (!entry.ok()) return Fail(entry.status());
    return Check(SetScalar(std::move(v), *entry,
                           top.field->message_type()->map_value()));
  }

  bool Check(const absl::Status& s) { return s.ok() || Fail(s); }

  // Records `s` prefixed with the path of the value being read.
  bool Fail(const absl::Status& s) {
    const std::string path = PathOf(frames_.size());
    status_ = absl::InvalidArgumentError(
        path.empty() ? std::string(ToStd(s.message()))
                     : StrCat(path, ": ", ToStd(s.message())));
    return false;
  }

  std::vector<Frame> frames_;
  bool started_ = false;
  absl::Status status_;
};

}  // namespace

absl::Status ParseProtoJson(std::string_view json, Message* message) {
  message->Clear();
  Filler filler(message);
  const bool ok = Json::sax_parse(json.begin(), json.end(), &filler);
  if (!ok && filler.status().ok()) {
    return absl::InvalidArgumentError("invalid JSON");
  }
  return filler.status();
}

}  // namespace ledger::ctl
