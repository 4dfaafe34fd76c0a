#pragma once

// The primitive encoding of canonical bytes (ledger/FORMAT.md, "Primitive
// encoding"): big-endian fixed-width integers, u32-length-prefixed byte
// strings, u32-count-prefixed lists. Decoding is strict: a decoder accepts
// exactly the bytes the encoder would produce.

#include <cassert>
#include <cstdint>
#include <cstring>
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

  // The getters are inline: replays decode millions of entries, and the
  // error paths (Truncated and the range errors) stay out of line.
  absl::StatusOr<uint8_t> GetU8(std::string_view field) {
    if (remaining() < 1) [[unlikely]] {
      return Truncated(field, 1);
    }
    return static_cast<uint8_t>(in_[pos_++]);
  }
  absl::StatusOr<uint32_t> GetU32(std::string_view field) {
    if (remaining() < 4) [[unlikely]] {
      return Truncated(field, 4);
    }
    return ReadU32();
  }
  absl::StatusOr<uint64_t> GetU64(std::string_view field) {
    if (remaining() < 8) [[unlikely]] {
      return Truncated(field, 8);
    }
    const uint64_t high = ReadU32();
    return high << 32 | ReadU32();
  }
  absl::StatusOr<int64_t> GetI64(std::string_view field) {
    if (remaining() < 8) [[unlikely]] {
      return Truncated(field, 8);
    }
    const uint64_t high = ReadU32();
    return static_cast<int64_t>(high << 32 | ReadU32());
  }
  // A u32-length-prefixed string of at most `max_len` bytes.
  absl::StatusOr<std::string_view> GetBytes(std::string_view field,
                                            uint32_t max_len) {
    if (remaining() < 4) [[unlikely]] {
      return Truncated(field, 4);
    }
    const uint32_t len = ReadU32();
    if (len > max_len) [[unlikely]] {
      return TooLong(field, len, max_len);
    }
    return GetRaw(field, len);
  }
  absl::StatusOr<std::string_view> GetRaw(std::string_view field, size_t len) {
    if (remaining() < len) [[unlikely]] {
      return Truncated(field, len);
    }
    const std::string_view out = in_.substr(pos_, len);
    pos_ += len;
    return out;
  }
  absl::StatusOr<crypto::Hash> GetHash(std::string_view field) {
    if (remaining() < crypto::kHashSize) [[unlikely]] {
      return Truncated(field, crypto::kHashSize);
    }
    crypto::Hash h;
    std::memcpy(h.data(), in_.data() + pos_, crypto::kHashSize);
    pos_ += crypto::kHashSize;
    return h;
  }
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
  // A big-endian u32 at the position, which the caller checked.
  uint32_t ReadU32() {
    const auto* p = reinterpret_cast<const uint8_t*>(in_.data() + pos_);
    pos_ += 4;
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
           (uint32_t{p[2]} << 8) | uint32_t{p[3]};
  }
  // The errors: `n` more bytes were needed; a length over its limit.
  absl::Status Truncated(std::string_view field, size_t n) const;
  static absl::Status TooLong(std::string_view field, uint32_t len,
                              uint32_t max_len);

  std::string_view in_;
  size_t pos_ = 0;
};

// `status` with `prefix` prepended to its message directly (no separator),
// e.g. PrefixField(s, "subjects[2].") turns "id: ..." into
// "subjects[2].id: ...". OK stays OK.
absl::Status PrefixField(const absl::Status& status, std::string_view prefix);

}  // namespace ledger
