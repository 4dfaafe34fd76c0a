// Entry canonical bytes, version 1 (ledger/FORMAT.md, "Entry"), and the
// hashes and signature checks built on them.

#include "ledger/entry.h"

#include <algorithm>
#include <bit>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "crypto/sha256.h"
#include "ledger/codec.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

constexpr std::string_view kEntryMagic = "EN";
constexpr uint8_t kEntryVersion = 1;
constexpr std::string_view kBatchMessagePrefix = "annotation-ledger batch v1\n";
constexpr size_t kMinBackLinkBytes = 1 + 4 + 8;

std::string HexPrefix(const Hash& h) {
  return StrCat(crypto::HexEncode(crypto::AsView(h).substr(0, 8)), "...");
}

template <typename Sink>
void WriteEntry(Sink& s, const Entry& e) {
  s.PutRaw(kEntryMagic);
  s.PutU8(kEntryVersion);
  s.PutU64(e.index);
  s.PutI64(e.received_at_ns);
  s.PutBytes(e.event_bytes);
  const EmitterSignature& sig = e.emitter;
  s.PutU8(sig.algorithm);
  s.PutHash(sig.key_id);
  s.PutU32(sig.batch_size);
  s.PutU32(sig.batch_index);
  s.PutHash(sig.batch_root);
  s.PutU32(static_cast<uint32_t>(sig.audit_path.size()));
  for (const Hash& h : sig.audit_path) s.PutHash(h);
  s.PutRaw(crypto::AsView(sig.signature));
  s.PutU8(static_cast<uint8_t>(e.risk.grade));
  s.PutU32(static_cast<uint32_t>(e.risk.reasons.size()));
  for (const std::string& r : e.risk.reasons) s.PutBytes(r);
  s.PutU32(e.policy_version);
  s.PutHash(e.prev_chain_hash);
  s.PutU32(static_cast<uint32_t>(e.back_links.size()));
  for (const BackLink& b : e.back_links) {
    s.PutU8(static_cast<uint8_t>(b.kind));
    s.PutBytes(b.id);
    s.PutU64(b.previous);
  }
}

absl::Status ReadEmitter(Decoder& d, EmitterSignature* sig) {
  LEDGER_ASSIGN_OR_RETURN(sig->algorithm, d.GetU8("emitter.algorithm"));
  if (sig->algorithm != kSigAlgEd25519) {
    return absl::InvalidArgumentError(
        StrCat("emitter.algorithm: unknown value ", int{sig->algorithm}));
  }
  LEDGER_ASSIGN_OR_RETURN(sig->key_id, d.GetHash("emitter.key_id"));
  LEDGER_ASSIGN_OR_RETURN(sig->batch_size, d.GetU32("emitter.batch_size"));
  LEDGER_ASSIGN_OR_RETURN(sig->batch_index, d.GetU32("emitter.batch_index"));
  if (sig->batch_index >= sig->batch_size) {
    return absl::InvalidArgumentError(
        StrCat("emitter.batch_index: ", sig->batch_index,
               " is not below batch_size ", sig->batch_size));
  }
  LEDGER_ASSIGN_OR_RETURN(sig->batch_root, d.GetHash("emitter.batch_root"));
  uint32_t count = 0;
  LEDGER_ASSIGN_OR_RETURN(count, d.GetU32("emitter.audit_path"));
  const size_t want = InclusionProofLength(sig->batch_index, sig->batch_size);
  if (count != want) {
    return absl::InvalidArgumentError(StrCat(
        "emitter.audit_path: ", count, " hashes, expected ", want,
        " for index ", sig->batch_index, " in a batch of ", sig->batch_size));
  }
  sig->audit_path.resize(count);
  for (Hash& h : sig->audit_path) {
    LEDGER_ASSIGN_OR_RETURN(h, d.GetHash("emitter.audit_path"));
  }
  std::string_view signature;
  LEDGER_ASSIGN_OR_RETURN(signature,
                          d.GetRaw("emitter.signature", sig->signature.size()));
  std::copy(signature.begin(), signature.end(), sig->signature.begin());
  return absl::OkStatus();
}

absl::Status ReadRiskAndLinks(Decoder& d, Entry* e) {
  uint8_t grade = 0;
  LEDGER_ASSIGN_OR_RETURN(grade, d.GetU8("risk.grade"));
  if (grade > static_cast<uint8_t>(RiskGrade::kCritical)) {
    return absl::InvalidArgumentError(
        StrCat("risk.grade: unknown value ", int{grade}));
  }
  e->risk.grade = static_cast<RiskGrade>(grade);
  uint32_t count = 0;
  LEDGER_ASSIGN_OR_RETURN(count, d.GetCount("risk.reasons", UINT32_MAX, 4));
  e->risk.reasons.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    absl::StatusOr<std::string_view> r = d.GetBytes("", UINT32_MAX);
    if (!r.ok())
      return PrefixField(r.status(), StrCat("risk.reasons[", i, "]"));
    e->risk.reasons[i] = *r;
  }
  LEDGER_ASSIGN_OR_RETURN(e->policy_version, d.GetU32("policy_version"));
  LEDGER_ASSIGN_OR_RETURN(e->prev_chain_hash, d.GetHash("prev_chain_hash"));
  LEDGER_ASSIGN_OR_RETURN(
      count, d.GetCount("back_links", UINT32_MAX, kMinBackLinkBytes));
  e->back_links.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    BackLink& b = e->back_links[i];
    absl::Status s = [&]() -> absl::Status {
      uint8_t kind = 0;
      LEDGER_ASSIGN_OR_RETURN(kind, d.GetU8("kind"));
      if (kind < 1 || kind > static_cast<uint8_t>(LinkKind::kActor)) {
        return absl::InvalidArgumentError(
            StrCat("kind: unknown value ", int{kind}));
      }
      b.kind = static_cast<LinkKind>(kind);
      LEDGER_ASSIGN_OR_RETURN(b.id, d.GetBytes("id", UINT32_MAX));
      LEDGER_ASSIGN_OR_RETURN(b.previous, d.GetU64("previous"));
      return absl::OkStatus();
    }();
    if (!s.ok()) return PrefixField(s, StrCat("back_links[", i, "]."));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeEntry(const Entry& entry) {
  SizeCounter counter;
  WriteEntry(counter, entry);
  Encoder enc(counter.size());
  WriteEntry(enc, entry);
  return enc.Take();
}

namespace {

// magic, version, index, received_at_ns and the event bytes of `d`'s entry.
absl::Status ReadEntryHead(Decoder& d, EntryHead* head) {
  std::string_view magic;
  LEDGER_ASSIGN_OR_RETURN(magic, d.GetRaw("magic", kEntryMagic.size()));
  if (magic != kEntryMagic) {
    return absl::InvalidArgumentError(
        StrCat("magic: expected hex 454e (\"EN\"), got hex ",
               crypto::HexEncode(magic)));
  }
  uint8_t version = 0;
  LEDGER_ASSIGN_OR_RETURN(version, d.GetU8("version"));
  if (version != kEntryVersion) {
    return absl::InvalidArgumentError(
        StrCat("version: unsupported entry format version ", int{version},
               " (this build reads ", int{kEntryVersion}, ")"));
  }
  LEDGER_ASSIGN_OR_RETURN(head->index, d.GetU64("index"));
  LEDGER_ASSIGN_OR_RETURN(head->received_at_ns, d.GetI64("received_at_ns"));
  LEDGER_ASSIGN_OR_RETURN(head->event_bytes,
                          d.GetBytes("event_bytes", UINT32_MAX));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EntryHead> DecodeEntryHead(std::string_view bytes) {
  Decoder d(bytes);
  EntryHead head;
  LEDGER_RETURN_IF_ERROR(ReadEntryHead(d, &head));
  return head;
}

absl::StatusOr<Entry> DecodeEntry(std::string_view bytes) {
  Entry e;
  LEDGER_RETURN_IF_ERROR(DecodeEntryInto(bytes, &e));
  return e;
}

absl::Status DecodeEntryInto(std::string_view bytes, Entry* out) {
  Decoder d(bytes);
  EntryHead head;
  LEDGER_RETURN_IF_ERROR(ReadEntryHead(d, &head));
  // Every field of *out is assigned (strings and lists keep their capacity).
  out->index = head.index;
  out->received_at_ns = head.received_at_ns;
  out->event_bytes = head.event_bytes;
  LEDGER_RETURN_IF_ERROR(ReadEmitter(d, &out->emitter));
  LEDGER_RETURN_IF_ERROR(ReadRiskAndLinks(d, out));
  return d.Finish("entry");
}

Hash ChainHash(const Hash& prev, const Hash& leaf_hash) {
  return crypto::Sha256().Update(prev).Update(leaf_hash).Finish();
}

Hash KeyIdOf(const crypto::Ed25519PublicKey& key) {
  return crypto::Sha256()
      .Update(kSigAlgEd25519)
      .Update(crypto::AsView(key))
      .Finish();
}

std::string BatchSignatureMessage(uint32_t batch_size, const Hash& batch_root) {
  Encoder enc(kBatchMessagePrefix.size() + 4 + crypto::kHashSize);
  enc.PutRaw(kBatchMessagePrefix);
  enc.PutU32(batch_size);
  enc.PutHash(batch_root);
  return enc.Take();
}

std::string_view LinkKindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::kDataset:
      return "dataset";
    case LinkKind::kItem:
      return "item";
    case LinkKind::kAnnotation:
      return "annotation";
    case LinkKind::kActor:
      return "actor";
  }
  return "unknown";
}

std::optional<LinkKind> ParseLinkKindName(std::string_view name) {
  for (LinkKind k : {LinkKind::kDataset, LinkKind::kItem, LinkKind::kAnnotation,
                     LinkKind::kActor}) {
    if (LinkKindName(k) == name) return k;
  }
  return std::nullopt;
}

std::vector<std::pair<LinkKind, std::string>> SubjectKeys(const Event& event) {
  // Every reference in order of appearance, as (kind, id).
  std::vector<std::pair<LinkKind, std::string_view>> refs;
  refs.reserve(event.subjects.size() + event.inputs.size() +
               event.outputs.size());
  for (const auto* list : {&event.subjects, &event.inputs, &event.outputs}) {
    for (const SubjectRef& r : *list) {
      refs.emplace_back(static_cast<LinkKind>(r.kind), r.id);
    }
  }
  std::vector<bool> keep(refs.size(), true);
  if (refs.size() <= 16) {
    for (size_t i = 1; i < refs.size(); ++i) {
      keep[i] = std::find(refs.begin(), refs.begin() + i, refs[i]) ==
                refs.begin() + i;
    }
  } else {
    // O(n log n) for large events (up to 3 * max_refs references): sort
    // positions by key, stably, and keep the first position of each key.
    std::vector<uint32_t> order(refs.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return refs[a] < refs[b]; });
    for (size_t k = 1; k < order.size(); ++k) {
      if (refs[order[k]] == refs[order[k - 1]]) keep[order[k]] = false;
    }
  }
  std::vector<std::pair<LinkKind, std::string>> out;
  out.reserve(1 + refs.size());
  out.emplace_back(LinkKind::kActor, event.actor.id);
  for (size_t i = 0; i < refs.size(); ++i) {
    if (keep[i]) out.emplace_back(refs[i].first, std::string(refs[i].second));
  }
  return out;
}

absl::StatusOr<Hash> VerifyEntryAuditPath(const Entry& entry,
                                          const Hash& key_id) {
  const EmitterSignature& sig = entry.emitter;
  if (sig.algorithm != kSigAlgEd25519) {
    return absl::DataLossError(
        StrCat("emitter.algorithm: unknown value ", int{sig.algorithm}));
  }
  if (sig.key_id != key_id) {
    return absl::DataLossError(StrCat("emitter.key_id: ", HexPrefix(sig.key_id),
                                      " is not the ID of the given key (",
                                      HexPrefix(key_id), ")"));
  }
  const Hash leaf = crypto::HashLeaf(entry.event_bytes);
  absl::StatusOr<Hash> root = RootFromInclusionProof(
      leaf, sig.batch_index, sig.batch_size, sig.audit_path);
  if (!root.ok()) {
    return absl::DataLossError(
        StrCat("emitter.audit_path: ", ToStd(root.status().message())));
  }
  if (*root != sig.batch_root) {
    return absl::DataLossError(StrCat(
        "emitter.audit_path: the event's leaf hash leads to ", HexPrefix(*root),
        ", not to batch_root ", HexPrefix(sig.batch_root)));
  }
  return leaf;
}

absl::Status VerifyEntrySignature(const Entry& entry,
                                  const crypto::Ed25519PublicKey& key) {
  const EmitterSignature& sig = entry.emitter;
  const Hash key_id = KeyIdOf(key);
  if (absl::StatusOr<Hash> leaf = VerifyEntryAuditPath(entry, key_id);
      !leaf.ok()) {
    return leaf.status();
  }
  if (!crypto::Ed25519Verify(
          key, BatchSignatureMessage(sig.batch_size, sig.batch_root),
          sig.signature)) {
    return absl::DataLossError(
        StrCat("emitter.signature: does not verify over batch_root ",
               HexPrefix(sig.batch_root), " for key ", HexPrefix(key_id)));
  }
  return absl::OkStatus();
}

namespace {

std::string ListText(const std::vector<std::string>& list) {
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    out.append(StrCat(i == 0 ? "" : ", ", "\"", list[i], "\""));
  }
  return out + "]";
}

std::string BackLinksText(const std::vector<BackLink>& links) {
  std::vector<std::string> parts;
  for (const BackLink& l : links) {
    parts.push_back(StrCat(
        LinkKindName(l.kind), ":", l.id, "<-",
        l.previous == kNoPrevious ? std::string("none") : StrCat(l.previous)));
  }
  return ListText(parts);
}

}  // namespace

std::string DescribeEntryDifference(std::string_view here,
                                    std::string_view there) {
  absl::StatusOr<Entry> a = DecodeEntry(here);
  absl::StatusOr<Entry> b = DecodeEntry(there);
  if (!a.ok())
    return StrCat("this node's entry does not decode: ",
                  ToStd(a.status().message()));
  if (!b.ok())
    return StrCat("the given entry does not decode: ",
                  ToStd(b.status().message()));
  const auto differ = [](std::string_view field, const std::string& x,
                         const std::string& y) {
    return StrCat(field, ": ", x, " here, ", y, " there");
  };
  if (a->index != b->index) {
    return differ("index", StrCat(a->index), StrCat(b->index));
  }
  if (a->received_at_ns != b->received_at_ns) {
    return differ("received_at_ns", StrCat(a->received_at_ns),
                  StrCat(b->received_at_ns));
  }
  if (a->event_bytes != b->event_bytes) {
    return differ("event_bytes", HexPrefix(crypto::HashLeaf(a->event_bytes)),
                  HexPrefix(crypto::HashLeaf(b->event_bytes)));
  }
  const EmitterSignature& x = a->emitter;
  const EmitterSignature& y = b->emitter;
  if (x.key_id != y.key_id) {
    return differ("emitter.key_id", HexPrefix(x.key_id), HexPrefix(y.key_id)) +
           " (the ledger signs grade.propagated entries with its node key: "
           "every node of a cluster must hold the same one)";
  }
  if (!(x == y)) {
    return differ("emitter",
                  StrCat("batch ", x.batch_index, "/", x.batch_size, " root ",
                         HexPrefix(x.batch_root)),
                  StrCat("batch ", y.batch_index, "/", y.batch_size, " root ",
                         HexPrefix(y.batch_root)));
  }
  if (a->risk.grade != b->risk.grade) {
    return differ("risk.grade", StrCat(static_cast<int>(a->risk.grade)),
                  StrCat(static_cast<int>(b->risk.grade)));
  }
  if (a->risk.reasons != b->risk.reasons) {
    return differ("risk.reasons", ListText(a->risk.reasons),
                  ListText(b->risk.reasons));
  }
  if (a->policy_version != b->policy_version) {
    return differ("policy_version", StrCat(a->policy_version),
                  StrCat(b->policy_version));
  }
  if (a->prev_chain_hash != b->prev_chain_hash) {
    return differ("prev_chain_hash", HexPrefix(a->prev_chain_hash),
                  HexPrefix(b->prev_chain_hash));
  }
  if (a->back_links != b->back_links) {
    return differ("back_links", BackLinksText(a->back_links),
                  BackLinksText(b->back_links));
  }
  return "the encodings differ although every field is equal";
}

}  // namespace ledger
