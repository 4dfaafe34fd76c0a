#include "ledger/codec.h"

#include "base/strings.h"

namespace ledger {

absl::Status Decoder::Truncated(std::string_view field, size_t n) const {
  return absl::InvalidArgumentError(StrCat(field, ": truncated (needs ", n,
                                           " bytes, ", remaining(), " left)"));
}

absl::Status Decoder::TooLong(std::string_view field, uint32_t len,
                              uint32_t max_len) {
  return absl::InvalidArgumentError(StrCat(
      field, ": length ", len, " exceeds the limit of ", max_len, " bytes"));
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
