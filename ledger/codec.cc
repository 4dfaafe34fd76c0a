#include "ledger/codec.h"

#include <cstring>

#include "base/strings.h"

namespace ledger {

absl::Status Decoder::Need(std::string_view field, size_t n) const {
  if (remaining() >= n) return absl::OkStatus();
  return absl::InvalidArgumentError(StrCat(field, ": truncated (needs ", n,
                                           " bytes, ", remaining(), " left)"));
}

absl::StatusOr<uint8_t> Decoder::GetU8(std::string_view field) {
  if (absl::Status s = Need(field, 1); !s.ok()) return s;
  return static_cast<uint8_t>(in_[pos_++]);
}

absl::StatusOr<uint32_t> Decoder::GetU32(std::string_view field) {
  if (absl::Status s = Need(field, 4); !s.ok()) return s;
  const auto* p = reinterpret_cast<const uint8_t*>(in_.data() + pos_);
  pos_ += 4;
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

absl::StatusOr<uint64_t> Decoder::GetU64(std::string_view field) {
  if (absl::Status s = Need(field, 8); !s.ok()) return s;
  const auto* p = reinterpret_cast<const uint8_t*>(in_.data() + pos_);
  pos_ += 8;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

absl::StatusOr<int64_t> Decoder::GetI64(std::string_view field) {
  absl::StatusOr<uint64_t> v = GetU64(field);
  if (!v.ok()) return v.status();
  return static_cast<int64_t>(*v);
}

absl::StatusOr<std::string_view> Decoder::GetBytes(std::string_view field,
                                                   uint32_t max_len) {
  absl::StatusOr<uint32_t> len = GetU32(field);
  if (!len.ok()) return len.status();
  if (*len > max_len) {
    return absl::InvalidArgumentError(StrCat(
        field, ": length ", *len, " exceeds the limit of ", max_len, " bytes"));
  }
  return GetRaw(field, *len);
}

absl::StatusOr<std::string_view> Decoder::GetRaw(std::string_view field,
                                                 size_t len) {
  if (absl::Status s = Need(field, len); !s.ok()) return s;
  std::string_view out = in_.substr(pos_, len);
  pos_ += len;
  return out;
}

absl::StatusOr<crypto::Hash> Decoder::GetHash(std::string_view field) {
  if (absl::Status s = Need(field, crypto::kHashSize); !s.ok()) return s;
  crypto::Hash h;
  std::memcpy(h.data(), in_.data() + pos_, crypto::kHashSize);
  pos_ += crypto::kHashSize;
  return h;
}

absl::StatusOr<std::optional<crypto::Hash>> Decoder::GetOptionalHash(
    std::string_view field) {
  absl::StatusOr<uint8_t> flag = GetU8(field);
  if (!flag.ok()) return flag.status();
  if (*flag == 0) return std::optional<crypto::Hash>();
  if (*flag != 1) {
    return absl::InvalidArgumentError(
        StrCat(field, ": presence flag must be 0 or 1, got ", int{*flag}));
  }
  absl::StatusOr<crypto::Hash> h = GetHash(field);
  if (!h.ok()) return h.status();
  return std::optional<crypto::Hash>(*h);
}

absl::StatusOr<uint32_t> Decoder::GetCount(std::string_view field,
                                           uint32_t max_count,
                                           size_t min_item_bytes) {
  absl::StatusOr<uint32_t> count = GetU32(field);
  if (!count.ok()) return count.status();
  if (*count > max_count) {
    return absl::InvalidArgumentError(
        StrCat(field, ": ", *count, " items exceed the limit of ", max_count));
  }
  // Checked before any item is read so that a forged count cannot make the
  // caller reserve more than the input could describe.
  if (min_item_bytes > 0 && *count > remaining() / min_item_bytes) {
    return absl::InvalidArgumentError(StrCat(field, ": truncated (", *count,
                                             " items cannot fit in ",
                                             remaining(), " bytes)"));
  }
  return *count;
}

absl::Status Decoder::Finish(std::string_view what) const {
  if (remaining() == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat(what, ": ", remaining(), " trailing bytes"));
}

absl::Status PrefixField(const absl::Status& status, std::string_view prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), StrCat(prefix, ToStd(status.message())));
}

}  // namespace ledger
