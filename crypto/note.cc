#include "crypto/note.h"

#include <cstring>

#include "base/strings.h"
#include "crypto/sha256.h"

namespace ledger::crypto {
namespace {

constexpr std::string_view kSigPrefix = "\xE2\x80\x94 ";  // em dash, space
constexpr std::string_view kSignerPrefix = "PRIVATE+KEY+";

std::string CosignedMessage(std::string_view text, uint64_t timestamp) {
  return StrCat("cosignature/v1\ntime ", timestamp, "\n", text);
}

// Decodes a UTF-8 sequence at `s[i]`; returns its length or 0 if invalid.
size_t Utf8Length(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  uint8_t c = b(0);
  size_t n;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2, v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, v = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

bool IsUnicodeSpace(uint32_t cp) {
  switch (cp) {
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x2000 && cp <= 0x200A);
  }
}

// Valid UTF-8 with no control characters other than newline.
absl::Status CheckNoteChars(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t n = Utf8Length(s, i, &cp);
    if (n == 0) {
      return absl::InvalidArgumentError(
          StrCat("note is not valid UTF-8 at byte ", i));
    }
    if ((cp < 0x20 && cp != '\n') || cp == 0x7F) {
      return absl::InvalidArgumentError(
          StrCat("note contains control character at byte ", i));
    }
    i += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<NoteSigType> SigTypeFromByte(uint8_t b) {
  switch (b) {
    case 0x01:
      return NoteSigType::kEd25519;
    case 0x04:
      return NoteSigType::kCosignatureV1;
    default:
      return absl::InvalidArgumentError(
          StrCat("unsupported note signature type 0x",
                 HexEncode(std::string(1, static_cast<char>(b)))));
  }
}

absl::StatusOr<uint32_t> ParseKeyIdHex(std::string_view hex) {
  if (hex.size() != 8) {
    return absl::InvalidArgumentError("key ID must be 8 hex digits");
  }
  absl::StatusOr<std::string> raw = HexDecode(hex);
  if (!raw.ok()) return raw.status();
  uint32_t id = 0;
  for (char c : *raw) id = (id << 8) | static_cast<uint8_t>(c);
  return id;
}

// Splits "name+id+material" at the first two '+': names contain none, but
// base64 key material may.
std::vector<std::string_view> SplitKeyText(std::string_view s) {
  size_t a = s.find('+');
  if (a == std::string_view::npos) return {s};
  size_t b = s.find('+', a + 1);
  if (b == std::string_view::npos) return {s.substr(0, a), s.substr(a + 1)};
  return {s.substr(0, a), s.substr(a + 1, b - a - 1), s.substr(b + 1)};
}

std::string KeyIdHex(uint32_t id) {
  char buf[4] = {static_cast<char>(id >> 24), static_cast<char>(id >> 16),
                 static_cast<char>(id >> 8), static_cast<char>(id)};
  return HexEncode(std::string_view(buf, 4));
}

}  // namespace

uint32_t NoteKeyId(std::string_view name, NoteSigType type,
                   const Ed25519PublicKey& key) {
  Hash h = Sha256()
               .Update(name)
               .Update(uint8_t{'\n'})
               .Update(static_cast<uint8_t>(type))
               .Update(AsView(key))
               .Finish();
  return (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) |
         (uint32_t{h[2]} << 8) | uint32_t{h[3]};
}

bool IsValidKeyName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp;
    size_t n = Utf8Length(name, i, &cp);
    if (n == 0 || cp == '+' || cp < 0x20 || cp == 0x7F || IsUnicodeSpace(cp)) {
      return false;
    }
    i += n;
  }
  return true;
}

absl::StatusOr<NoteVerifier> ParseVerifierKey(std::string_view vkey) {
  std::vector<std::string_view> parts = SplitKeyText(vkey);
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        "verifier key must have the form name+keyid+base64key");
  }
  NoteVerifier v;
  v.name = std::string(parts[0]);
  if (!IsValidKeyName(v.name)) {
    return absl::InvalidArgumentError(
        StrCat("invalid key name in verifier key: '", parts[0], "'"));
  }
  absl::StatusOr<uint32_t> id = ParseKeyIdHex(parts[1]);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> raw = Base64Decode(parts[2]);
  if (!raw.ok() || raw->size() != 1 + kEd25519PublicKeySize) {
    return absl::InvalidArgumentError(
        "verifier key material must be base64 of a type byte and a 32-byte "
        "Ed25519 key");
  }
  absl::StatusOr<NoteSigType> type = SigTypeFromByte((*raw)[0]);
  if (!type.ok()) return type.status();
  v.type = *type;
  std::memcpy(v.key.data(), raw->data() + 1, kEd25519PublicKeySize);
  v.key_id = NoteKeyId(v.name, v.type, v.key);
  if (v.key_id != *id) {
    return absl::InvalidArgumentError(
        StrCat("verifier key ID ", parts[1],
               " does not match its name and key (", KeyIdHex(v.key_id), ")"));
  }
  return v;
}

std::string FormatVerifierKey(const NoteVerifier& v) {
  std::string material(1, static_cast<char>(v.type));
  material.append(AsView(v.key));
  return StrCat(v.name, "+", KeyIdHex(v.key_id), "+", Base64Encode(material));
}

absl::StatusOr<std::vector<NoteVerifier>> ParseVerifierKeys(
    std::string_view text) {
  std::vector<NoteVerifier> out;
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<NoteVerifier> v = ParseVerifierKey(line);
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          StrCat("line ", line_no, ": ", v.status().message()));
    }
    out.push_back(*std::move(v));
  }
  return out;
}

NoteSigner::NoteSigner(std::string name, NoteSigType type,
                       Ed25519PrivateKey key)
    : name_(std::move(name)),
      type_(type),
      key_(std::move(key)),
      key_id_(NoteKeyId(name_, type_, key_.public_key())) {}

NoteVerifier NoteSigner::verifier() const {
  return NoteVerifier{name_, key_id_, type_, key_.public_key()};
}

std::string NoteSigner::SignatureLine(std::string_view text,
                                      uint64_t timestamp) const {
  std::string sig;
  sig.push_back(static_cast<char>(key_id_ >> 24));
  sig.push_back(static_cast<char>(key_id_ >> 16));
  sig.push_back(static_cast<char>(key_id_ >> 8));
  sig.push_back(static_cast<char>(key_id_));
  Ed25519Signature s;
  if (type_ == NoteSigType::kCosignatureV1) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      sig.push_back(static_cast<char>(timestamp >> shift));
    }
    s = key_.Sign(CosignedMessage(text, timestamp));
  } else {
    s = key_.Sign(text);
  }
  sig.append(AsView(s));
  return StrCat(kSigPrefix, name_, " ", Base64Encode(sig), "\n");
}

absl::StatusOr<NoteSigner> ParseSignerKey(std::string_view skey) {
  if (skey.substr(0, kSignerPrefix.size()) != kSignerPrefix) {
    return absl::InvalidArgumentError(
        "signer key must start with PRIVATE+KEY+");
  }
  std::vector<std::string_view> parts =
      SplitKeyText(skey.substr(kSignerPrefix.size()));
  if (parts.size() != 3 || !IsValidKeyName(parts[0])) {
    return absl::InvalidArgumentError(
        "signer key must have the form PRIVATE+KEY+name+keyid+base64key");
  }
  absl::StatusOr<uint32_t> id = ParseKeyIdHex(parts[1]);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> raw = Base64Decode(parts[2]);
  if (!raw.ok() || raw->size() != 1 + kEd25519SeedSize) {
    return absl::InvalidArgumentError(
        "signer key material must be base64 of a type byte and a 32-byte "
        "seed");
  }
  absl::StatusOr<NoteSigType> type = SigTypeFromByte((*raw)[0]);
  if (!type.ok()) return type.status();
  Ed25519Seed seed;
  std::memcpy(seed.data(), raw->data() + 1, seed.size());
  NoteSigner signer(std::string(parts[0]), *type,
                    Ed25519PrivateKey::FromSeed(seed));
  std::fill(raw->begin(), raw->end(), '\0');
  if (signer.key_id() != *id) {
    return absl::InvalidArgumentError(
        "signer key ID does not match its name and key");
  }
  return signer;
}

std::string FormatSignerKey(const NoteSigner& signer) {
  std::string material(1, static_cast<char>(signer.type()));
  Ed25519Seed seed = signer.key().seed();
  material.append(AsView(seed));
  std::string out =
      StrCat(kSignerPrefix, signer.name(), "+", KeyIdHex(signer.key_id()), "+",
             Base64EncodeSecret(material));
  std::fill(material.begin(), material.end(), '\0');
  return out;
}

absl::StatusOr<Note> ParseNote(std::string_view note) {
  if (absl::Status s = CheckNoteChars(note); !s.ok()) return s;
  // The text ends at the last blank line ("\n\n").
  size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return absl::InvalidArgumentError(
        "note has no blank line before its signatures");
  }
  Note out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty() || sigs.back() != '\n') {
    return absl::InvalidArgumentError(
        "note signatures must be followed by a newline");
  }
  sigs.remove_suffix(1);
  for (std::string_view line : Split(sigs, '\n')) {
    if (out.signatures.size() >= kMaxNoteSignatures) {
      return absl::InvalidArgumentError(
          StrCat("note has more than ", kMaxNoteSignatures, " signatures"));
    }
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix) {
      return absl::InvalidArgumentError(
          "note signature line must start with an em dash and a space");
    }
    line.remove_prefix(kSigPrefix.size());
    size_t space = line.find(' ');
    if (space == std::string_view::npos) {
      return absl::InvalidArgumentError(
          "note signature line must be '— name signature'");
    }
    std::string_view name = line.substr(0, space);
    if (!IsValidKeyName(name)) {
      return absl::InvalidArgumentError(
          StrCat("invalid key name in signature line: '", name, "'"));
    }
    absl::StatusOr<std::string> raw = Base64Decode(line.substr(space + 1));
    if (!raw.ok() || raw->size() < 5) {
      return absl::InvalidArgumentError(StrCat(
          "signature by '", name, "' is not base64 of a key ID and bytes"));
    }
    NoteSignature sig;
    sig.name = std::string(name);
    for (int i = 0; i < 4; ++i) {
      sig.key_id = (sig.key_id << 8) | static_cast<uint8_t>((*raw)[i]);
    }
    sig.signature = raw->substr(4);
    out.signatures.push_back(std::move(sig));
  }
  return out;
}

std::string FormatNote(const Note& note) {
  std::string out = note.text;
  out.push_back('\n');
  for (const NoteSignature& sig : note.signatures) {
    std::string raw;
    for (int shift = 24; shift >= 0; shift -= 8) {
      raw.push_back(static_cast<char>(sig.key_id >> shift));
    }
    raw.append(sig.signature);
    out.append(StrCat(kSigPrefix, sig.name, " ", Base64Encode(raw), "\n"));
  }
  return out;
}

std::string SignNote(std::string_view text,
                     absl::Span<const NoteSigner* const> signers,
                     uint64_t timestamp) {
  std::string out(text);
  out.push_back('\n');
  for (const NoteSigner* signer : signers) {
    out.append(signer->SignatureLine(text, timestamp));
  }
  return out;
}

absl::StatusOr<std::vector<VerifiedSignature>> VerifyNote(
    const Note& note, absl::Span<const NoteVerifier> verifiers) {
  std::vector<VerifiedSignature> verified;
  for (const NoteSignature& sig : note.signatures) {
    for (const NoteVerifier& v : verifiers) {
      if (v.name != sig.name || v.key_id != sig.key_id) continue;
      bool ok = false;
      std::optional<uint64_t> timestamp;
      if (v.type == NoteSigType::kEd25519 &&
          sig.signature.size() == kEd25519SignatureSize) {
        absl::StatusOr<Ed25519Signature> s =
            ToArray<kEd25519SignatureSize>(sig.signature, "signature");
        ok = Ed25519Verify(v.key, note.text, *s);
      } else if (v.type == NoteSigType::kCosignatureV1 &&
                 sig.signature.size() == 8 + kEd25519SignatureSize) {
        uint64_t ts = 0;
        for (int i = 0; i < 8; ++i) {
          ts = (ts << 8) | static_cast<uint8_t>(sig.signature[i]);
        }
        absl::StatusOr<Ed25519Signature> s = ToArray<kEd25519SignatureSize>(
            std::string_view(sig.signature).substr(8), "signature");
        ok = ts < (uint64_t{1} << 63) &&
             Ed25519Verify(v.key, CosignedMessage(note.text, ts), *s);
        timestamp = ts;
      }
      if (!ok) {
        return absl::DataLossError(StrCat("note signature by ", sig.name, "+",
                                          KeyIdHex(sig.key_id),
                                          " does not verify"));
      }
      verified.push_back(VerifiedSignature{v, timestamp});
    }
  }
  if (verified.empty()) {
    return absl::NotFoundError("note carries no signature from a trusted key");
  }
  return verified;
}

}  // namespace ledger::crypto
