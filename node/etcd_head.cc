#include "node/etcd_head.h"

#include <algorithm>
#include <climits>
#include <random>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/bytes.h"

namespace ledger::node {

namespace {

constexpr std::string_view kKeyPrefix = "/annotation-ledger/";
constexpr std::string_view kMagic = "ledger-head/1";

absl::Status Malformed(size_t line, std::string_view why) {
  return absl::DataLossError(
      StrCat("etcd head record, line ", line, ": ", why));
}

// `line` is "<name> <value>": the value.
absl::StatusOr<std::string_view> Field(
    const std::vector<std::string_view>& lines, size_t i,
    std::string_view name) {
  const std::string_view line = lines[i];
  if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
      line[name.size()] != ' ') {
    return Malformed(i + 1, StrCat("expected \"", name, " <value>\", found \"",
                                   line.substr(0, 80), "\""));
  }
  return line.substr(name.size() + 1);
}

absl::StatusOr<uint64_t> Number(const std::vector<std::string_view>& lines,
                                size_t i, std::string_view name) {
  LEDGER_ASSIGN_OR_RETURN(std::string_view text, Field(lines, i, name));
  const auto n = ParseCanonicalUint64(text);
  if (!n) {
    return Malformed(i + 1, StrCat(name,
                                   " must be a decimal number without "
                                   "leading zeros, found \"",
                                   text.substr(0, 40), "\""));
  }
  return *n;
}

// Lowercase hex of exactly `size` bytes.
absl::StatusOr<std::string> Hex(const std::vector<std::string_view>& lines,
                                size_t i, std::string_view name, size_t size) {
  LEDGER_ASSIGN_OR_RETURN(std::string_view text, Field(lines, i, name));
  absl::StatusOr<std::string> bytes = crypto::HexDecode(text);
  if (!bytes.ok() || bytes->size() != size ||
      crypto::HexEncode(*bytes) != text) {
    return Malformed(i + 1, StrCat(name, " must be ", 2 * size,
                                   " lowercase hex digits, found \"",
                                   text.substr(0, 80), "\""));
  }
  return *bytes;
}

}  // namespace

std::string EtcdLeaderKey(std::string_view origin) {
  return StrCat(kKeyPrefix, origin, "/leader");
}

std::string EtcdHeadKey(std::string_view origin) {
  return StrCat(kKeyPrefix, origin, "/head");
}

std::string EncodeHeadRecord(const HeadRecord& record) {
  return StrCat(kMagic, "\nepoch ", record.epoch, "\nsize ", record.head.size,
                "\nroot ", crypto::HexEncode(record.head.root), "\nchain ",
                crypto::HexEncode(record.head.chain_hash), "\nwrite ",
                crypto::HexEncode(record.write_id), "\n");
}

absl::StatusOr<HeadRecord> DecodeHeadRecord(std::string_view value) {
  if (value.empty() || value.back() != '\n') {
    return absl::DataLossError(
        "etcd head record: empty or not ending with a newline");
  }
  std::vector<std::string_view> lines =
      Split(value.substr(0, value.size() - 1), '\n');
  if (lines.size() != 6) {
    return absl::DataLossError(
        StrCat("etcd head record: ", lines.size(), " lines, expected 6"));
  }
  if (lines[0] != kMagic) {
    return Malformed(1, StrCat("expected \"", kMagic, "\", found \"",
                               lines[0].substr(0, 80), "\""));
  }
  HeadRecord record;
  LEDGER_ASSIGN_OR_RETURN(uint64_t epoch, Number(lines, 1, "epoch"));
  if (epoch > static_cast<uint64_t>(INT64_MAX)) {
    return Malformed(2, "epoch exceeds 2^63-1");
  }
  record.epoch = static_cast<int64_t>(epoch);
  LEDGER_ASSIGN_OR_RETURN(record.head.size, Number(lines, 2, "size"));
  LEDGER_ASSIGN_OR_RETURN(std::string root,
                          Hex(lines, 3, "root", crypto::kHashSize));
  LEDGER_ASSIGN_OR_RETURN(std::string chain,
                          Hex(lines, 4, "chain", crypto::kHashSize));
  LEDGER_ASSIGN_OR_RETURN(record.write_id,
                          Hex(lines, 5, "write", kWriteIdSize));
  std::copy(root.begin(), root.end(), record.head.root.begin());
  std::copy(chain.begin(), chain.end(), record.head.chain_hash.begin());
  return record;
}

std::string NewWriteId() {
  std::random_device rd;  // the OS's RNG (getrandom)
  std::string id(kWriteIdSize, '\0');
  for (size_t i = 0; i < id.size(); i += 4) {
    const uint32_t r = rd();
    for (size_t j = 0; j < 4 && i + j < id.size(); ++j) {
      id[i + j] = static_cast<char>(r >> (8 * j));
    }
  }
  return id;
}

}  // namespace ledger::node
