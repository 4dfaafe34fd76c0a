#pragma once

// The primitive encoding of canonical bytes (ledger/FORMAT.md, "Primitive
// encoding"): big-endian fixed-width integers, u32-length-prefixed byte
// strings, u32-count-prefixed lists. Decoding is strict: a decoder accepts
// exactly the bytes the encoder would produce.

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/check.h"
#include "crypto/bytes.h"

namespace ledger {

// Appends fields to a growing string. Call Reserve() with the exact size
// (see SizeCounter) to encode with a single allocation.
class Encoder {
 public:
  Encoder() = default;
  explicit Encoder(size_t reserve) { out_.reserve(reserve); }

  void Reserve(size_t n) { out_.reserve(n); }
  void PutU8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void PutU32(uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out_.append(b, 4);
  }
  void PutU64(uint64_t v) {
    PutU32(static_cast<uint32_t>(v >> 32));
    PutU32(static_cast<uint32_t>(v));
  }
  // Two's complement.
  void PutI64(int64_t v) { PutU64(static_cast<uint64_t>(v)); }
  // u32 length || bytes. The length must fit in a u32 (callers enforce
  // limits far below that).
  void PutBytes(std::string_view v) {
    LEDGER_CHECK(v.size() <= UINT32_MAX, "a field of ", v.size(), " bytes");
    PutU32(static_cast<uint32_t>(v.size()));
    out_.append(v);
  }
  // Raw bytes with no length (fixed-size fields such as hashes).
  void PutRaw(std::string_view v) { out_.append(v); }
  void PutHash(const crypto::Hash& h) { PutRaw(crypto::AsView(h)); }
  // u8 0, or u8 1 || hash.
  void PutOptionalHash(const std::optional<crypto::Hash>& h) {
    PutU8(h.has_value() ? 1 : 0);
    if (h.has_value()) PutHash(*h);
  }

  const std::string& bytes() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Has the Put* methods of Encoder but only counts the bytes they would
// write, so an encoding written once as a template over its sink gives both
// its exact size and its bytes.
class SizeCounter {
 public:
  void PutU8(uint8_t) { size_ += 1; }
  void PutU32(uint32_t) { size_ += 4; }
  void PutU64(uint64_t) { size_ += 8; }
  void PutI64(int64_t) { size_ += 8; }
  void PutBytes(std::string_view v) { size_ += 4 + v.size(); }
  void PutRaw(std::string_view v) { size_ += v.size(); }
  void PutHash(const crypto::Hash&) { size_ += crypto::kHashSize; }
  void PutOptionalHash(const std::optional<crypto::Hash>& h) {
    size_ += h.has_value() ? 1 + crypto::kHashSize : 1;
  }

  size_t size() const { return size_; }

 private:
  size_t size_ = 0;
};

// Reads fields in order. Every getter returns InvalidArgument whose message
// starts with "<field>: " when the input is too short or the value is out
// of range. Returned views point into the input.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}

  absl::StatusOr<uint8_t> GetU8(std::string_view field);
  absl::StatusOr<uint32_t> GetU32(std::string_view field);
  absl::StatusOr<uint64_t> GetU64(std::string_view field);
  absl::StatusOr<int64_t> GetI64(std::string_view field);
  // A u32-length-prefixed string of at most `max_len` bytes.
  absl::StatusOr<std::string_view> GetBytes(std::string_view field,
                                            uint32_t max_len);
  absl::StatusOr<std::string_view> GetRaw(std::string_view field, size_t len);
  absl::StatusOr<crypto::Hash> GetHash(std::string_view field);
  // u8 0 (none) or u8 1 || hash; any other flag is an error.
  absl::StatusOr<std::optional<crypto::Hash>> GetOptionalHash(
      std::string_view field);
  // A list's u32 count: at most `max_count`, and small enough that
  // `count * min_item_bytes` fits in the remaining input, so a caller may
  // reserve `count` items without trusting the input.
  absl::StatusOr<uint32_t> GetCount(std::string_view field, uint32_t max_count,
                                    size_t min_item_bytes);

  // InvalidArgument unless every byte was consumed.
  absl::Status Finish(std::string_view what) const;
  size_t remaining() const { return in_.size() - pos_; }

 private:
  // OK iff `n` more bytes are available.
  absl::Status Need(std::string_view field, size_t n) const;

  std::string_view in_;
  size_t pos_ = 0;
};

// `status` with `prefix` prepended to its message directly (no separator),
// e.g. PrefixField(s, "subjects[2].") turns "id: ..." into
// "subjects[2].id: ...". OK stays OK.
absl::Status PrefixField(const absl::Status& status, std::string_view prefix);

}  // namespace ledger
