#include "ledger/risk_engine.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/sha256.h"

namespace ledger::risk {
namespace {

constexpr int64_t kNsPerDay = int64_t{86'400} * 1'000'000'000;
constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr size_t kMaxEvidence = 8;
constexpr size_t kPolicyChunkBytes = 4096;
// grade.propagated attributes: at most this many input names and edge
// entries (the counts are always given); ledger/FORMAT.md section 15.
constexpr size_t kMaxPropagatedFromNames = 100;
constexpr size_t kMaxPropagatedEntries = 256;
constexpr std::string_view kPropagatedIdLabel =
    "annotation-ledger grade.propagated event id";
constexpr std::string_view kPropagatedProducer = "annotation-ledger";
constexpr std::string_view kPropagatedActor = "ledger";

// The key of the state's maps for (tenant, a, b): the three joined by NUL
// bytes, written into `out` whose capacity is reused, so that the lookups
// Apply makes for every entry allocate nothing once its buffers have grown.
const std::string& BuildKey(std::string* out, std::string_view tenant,
                            std::string_view a, std::string_view b = {}) {
  out->clear();
  out->append(tenant);
  out->push_back('\0');
  out->append(a);
  out->push_back('\0');
  out->append(b);
  return *out;
}

std::string Key(std::string_view tenant, std::string_view a,
                std::string_view b = {}) {
  std::string out;
  BuildKey(&out, tenant, a, b);
  return out;
}

std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xFF);
  return out;
}

std::string Display(std::string_view id, std::string_view version) {
  return version.empty() ? std::string(id) : StrCat(id, "@", version);
}

const std::string* Attr(const Event& e, std::string_view key) {
  return FindAttribute(e, key);
}

bool ParseInt(std::string_view text, int64_t* out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && p == end;
}

bool ParseShare(std::string_view text, double* out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && p == end && std::isfinite(*out) && *out >= 0;
}

// "policy.text.NNN": the key of the n-th piece of a policy's text.
std::string PolicyTextKey(size_t n) {
  std::string num = StrCat(n);
  num.insert(0, 3 - std::min<size_t>(3, num.size()), '0');
  return StrCat(kPolicyTextAttribute, num);
}

// The shortest decimal text that reads back as `v` (deterministic).
std::string ShareText(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

// RFC 3339 time as Unix nanoseconds.
bool ParseTimeNs(std::string_view text, int64_t* out) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) {
    return false;
  }
  *out = absl::ToUnixNanos(t);
  return true;
}

int64_t YearOf(int64_t t_ns) {
  return absl::ToCivilYear(absl::FromUnixNanos(t_ns), absl::UTCTimeZone())
      .year();
}

std::vector<std::string> SplitComma(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    if (end > start) out.emplace_back(text.substr(start, end - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string EvidenceText(std::vector<uint64_t> evidence) {
  std::sort(evidence.begin(), evidence.end());
  evidence.erase(std::unique(evidence.begin(), evidence.end()), evidence.end());
  if (evidence.size() > kMaxEvidence) evidence.resize(kMaxEvidence);
  if (evidence.empty()) return "";
  std::string out = " [evidence ";
  for (size_t i = 0; i < evidence.size(); ++i) {
    if (i > 0) out += ',';
    StrAppend(&out, evidence[i]);
  }
  out += ']';
  return out;
}

// RulesOfType's bit for the annotating types of R5 (rules are 1..15).
constexpr int kAnnotatesBit = 0;
static_assert(kRuleCount < 32);

// Per event type, the rules whose `types` list it (bit r for rule r), and
// kAnnotatesBit for the annotating types: Apply looks its type up once
// instead of searching each rule's list.
absl::flat_hash_map<std::string, uint32_t> RulesOfType(const RulesConfig& r) {
  absl::flat_hash_map<std::string, uint32_t> out;
  for (int rule = 1; rule <= kRuleCount; ++rule) {
    for (const std::string& type : r.types[rule]) out[type] |= 1u << rule;
  }
  for (const std::string& type : r.annotate_types) {
    out[type] |= 1u << kAnnotatesBit;
  }
  return out;
}

struct Grade {
  Level level = Level::kGeneral;
  uint8_t flags = 0;
};

struct Edge {
  std::string parent;  // dataset key
  uint64_t index = 0;  // the entry that recorded the edge
  uint8_t blocks = 0;  // flags the edge does not carry
  bool raise = false;  // an aggregation past the threshold
};

struct Dataset {
  std::string tenant;
  std::string id;
  std::string version;
  std::optional<Grade> base;  // assigned, changed or classified
  std::string base_basis;
  uint64_t base_index = 0;
  std::vector<Edge> parents;
  std::vector<std::string> children;  // dataset keys, first-seen order
  std::vector<GradeRecord> history;
};

struct Qualification {
  int64_t valid_until = std::numeric_limits<int64_t>::min();
  bool revoked = false;
  uint64_t revoked_index = 0;
  uint64_t granted_index = 0;
};

struct Reference {
  std::string type;
  uint64_t index = 0;
  int64_t received_at_ns = 0;
  std::string kind;  // export_assessment.filed: assessment.kind
};

struct Lock {
  uint64_t index = 0;
};

struct DayVolume {
  int64_t day = 0;
  int64_t volume = 0;
};

// Graded data an entry touches. `dataset` points into the state's
// datasets: Apply's rules use it before any dataset is added.
struct Touched {
  const Dataset* dataset = nullptr;
  Grade grade;
  uint64_t grade_index = 0;
  std::string name() const { return Display(dataset->id, dataset->version); }
};

}  // namespace

struct Engine::State {
  std::optional<Policy> policy;
  uint32_t policy_version = 0;
  std::optional<uint64_t> policy_index;
  std::vector<uint64_t> policy_entries;  // every policy.changed, in order

  absl::flat_hash_map<std::string, Dataset> datasets;
  // (tenant, item) -> dataset key of its dataset.
  absl::flat_hash_map<std::string, std::string> item_dataset;
  // (tenant, person) -> qualification.
  absl::flat_hash_map<std::string, Qualification> qualifications;
  // (tenant, event_id) -> approval / assessment entries.
  absl::flat_hash_map<std::string, Reference> references;
  // (tenant, dataset id) -> pia.recorded entry.
  absl::flat_hash_map<std::string, uint64_t> pia;
  // (tenant, dataset id) -> recorded illegal-content share and its entry.
  absl::flat_hash_map<std::string, std::pair<double, uint64_t>> illegal_share;
  // (tenant, item, task) -> annotator actor ids and their entries.
  absl::flat_hash_map<std::string,
                      std::vector<std::pair<std::string, uint64_t>>>
      annotators;
  // (tenant, item) -> lock by review.accepted or batch.released.
  absl::flat_hash_map<std::string, Lock> locks;
  // dataset key -> latest export entry.
  absl::flat_hash_map<std::string, uint64_t> exports;
  // (tenant, actor) -> read volume per day, oldest first.
  absl::flat_hash_map<std::string, std::deque<DayVolume>> volumes;
  // (tenant, actor) -> failed attempts (received_at, index), oldest first.
  absl::flat_hash_map<std::string, std::deque<std::pair<int64_t, uint64_t>>>
      failures;
  // (tenant, year) -> persons and sensitive persons sent abroad, and the
  // first transfers counted.
  struct Abroad {
    int64_t persons = 0;
    int64_t sensitive = 0;
    std::vector<uint64_t> entries;
  };
  absl::flat_hash_map<std::string, Abroad> abroad;
  // (tenant, batch) -> qa sample drawn / result recorded / harmful review.
  absl::flat_hash_map<std::string, uint64_t> sampled;
  absl::flat_hash_map<std::string, uint64_t> sample_result;
  absl::flat_hash_map<std::string, uint64_t> harmful;

  std::optional<uint64_t> next_index;

  // Per event type, the rules of the policy in force whose `types` list it
  // (bit r for rule r; kAnnotatesBit for its annotate_types).
  absl::flat_hash_map<std::string, uint32_t> rules_of_type;

  // Apply's key buffers (BuildKey): the entry's actor, and one key looked
  // up or inserted at a time.
  std::string actor_key;
  std::string key;
  // What the entry being applied touches (FindTouched).
  std::vector<Touched> touched;

  // Propagations awaiting their grade.propagated entry, oldest first, and
  // the dataset keys whose grade the entry being applied changed.
  std::deque<Propagation> unrecorded;
  std::vector<std::string> changed;

  // The current grade of a dataset key; nullopt if ungraded.
  const GradeRecord* Current(const std::string& key) const {
    auto it = datasets.find(key);
    if (it == datasets.end() || it->second.history.empty()) return nullptr;
    return &it->second.history.back();
  }

  Dataset& Get(std::string_view tenant, const SubjectRef& ref) {
    const std::string key = Key(tenant, ref.id, ref.version);
    auto [it, inserted] = datasets.try_emplace(key);
    if (inserted) {
      it->second.tenant = tenant;
      it->second.id = ref.id;
      it->second.version = ref.version;
    }
    return it->second;
  }

  // The graded dataset whose grade applies to `ref` (its own version, or
  // the version-less grade); nullptr if none is graded. Builds the keys it
  // looks up in `key`.
  const Dataset* GradedDataset(std::string_view tenant, const SubjectRef& ref,
                               std::string* key) const {
    const auto graded = [&](const std::string& k) -> const Dataset* {
      auto it = datasets.find(k);
      return it == datasets.end() || it->second.history.empty() ? nullptr
                                                                : &it->second;
    };
    if (ref.kind == SubjectKind::kDataset) {
      const Dataset* d = graded(BuildKey(key, tenant, ref.id, ref.version));
      if (d == nullptr && !ref.version.empty()) {
        d = graded(BuildKey(key, tenant, ref.id, ""));
      }
      return d;
    }
    if (ref.kind == SubjectKind::kItem) {
      auto it = item_dataset.find(BuildKey(key, tenant, ref.id));
      if (it != item_dataset.end()) return graded(it->second);
    }
    return nullptr;
  }

  // The graded data the event reads or acts on (subjects and inputs; the
  // outputs are what it produces), into `out`.
  void FindTouched(const Event& e, std::vector<Touched>* out) {
    out->clear();
    for (const std::vector<SubjectRef>* refs : {&e.subjects, &e.inputs}) {
      for (const SubjectRef& ref : *refs) {
        const Dataset* d = GradedDataset(e.tenant, ref, &key);
        if (d == nullptr ||
            std::any_of(out->begin(), out->end(),
                        [&](const Touched& t) { return t.dataset == d; })) {
          continue;
        }
        const GradeRecord& g = d->history.back();
        out->push_back(Touched{d, Grade{g.level, g.flags}, g.index});
      }
    }
  }

  // The grade a dataset has from its base and its parents.
  std::optional<GradeRecord> Combine(const Dataset& d, uint64_t index) const {
    std::optional<Grade> g = d.base;
    GradeRecord record;
    record.index = index;
    bool propagated = false;
    bool raised = false;
    for (const Edge& edge : d.parents) {
      const GradeRecord* p = Current(edge.parent);
      if (p == nullptr) continue;
      const uint8_t flags = p->flags & static_cast<uint8_t>(~edge.blocks);
      if (!g.has_value()) {
        g = Grade{p->level, flags};
        propagated = true;
      } else {
        if (p->level > g->level) propagated = true;
        if ((flags & ~g->flags) != 0) propagated = true;
        g->level = std::max(g->level, p->level);
        g->flags |= flags;
      }
      const Dataset& parent = datasets.at(edge.parent);
      const std::string name = Display(parent.id, parent.version);
      if (std::find(record.propagated_from.begin(),
                    record.propagated_from.end(),
                    name) == record.propagated_from.end()) {
        record.propagated_from.push_back(name);
      }
      record.evidence.push_back(edge.index);
      if (edge.raise) raised = true;
    }
    if (!g.has_value()) return std::nullopt;
    if (raised && g->level == Level::kGeneral) {
      g->level = Level::kImportant;
      record.basis = "aggregated";
    } else if (propagated || !d.base.has_value()) {
      record.basis = "propagated";
    } else {
      record.basis = d.base_basis;
      record.propagated_from.clear();
      record.evidence = {d.base_index};
    }
    if (record.basis != "propagated" && record.basis != "aggregated") {
      record.propagated_from.clear();
    }
    record.level = g->level;
    record.flags = g->flags;
    std::sort(record.evidence.begin(), record.evidence.end());
    record.evidence.erase(
        std::unique(record.evidence.begin(), record.evidence.end()),
        record.evidence.end());
    return record;
  }

  // Recomputes `key` and everything downstream of it at `index`; a dataset
  // whose grade changes gets a new history record.
  void Regrade(const std::string& key, uint64_t index) {
    std::deque<std::string> work{key};
    absl::flat_hash_map<std::string, int> visits;
    while (!work.empty()) {
      const std::string k = std::move(work.front());
      work.pop_front();
      // A cycle of lineage cannot loop for ever: levels and flags only
      // take a few values.
      if (++visits[k] > 8) continue;
      Dataset& d = datasets.at(k);
      std::optional<GradeRecord> g = Combine(d, index);
      if (!g.has_value()) continue;
      const GradeRecord* now = d.history.empty() ? nullptr : &d.history.back();
      if (now != nullptr && now->level == g->level && now->flags == g->flags &&
          now->basis == g->basis) {
        if (k != key) continue;  // nothing changed downstream of here
      } else {
        if (now != nullptr && now->index == index) {
          d.history.back() = std::move(*g);
        } else {
          d.history.push_back(std::move(*g));
        }
        if (std::find(changed.begin(), changed.end(), k) == changed.end()) {
          changed.push_back(k);
        }
      }
      for (const std::string& child : d.children) work.push_back(child);
    }
  }
};

std::string_view RiskName(Risk risk) {
  switch (risk) {
    case Risk::kUnassessed:
      return "unassessed";
    case Risk::kLow:
      return "low";
    case Risk::kMedium:
      return "medium";
    case Risk::kHigh:
      return "high";
    case Risk::kCritical:
      return "critical";
  }
  return "unknown";
}

absl::StatusOr<Policy> PolicyOfEvent(const Event& event, std::string* text) {
  std::string joined;
  const std::string* sha = nullptr;
  size_t expected = 0;
  for (const auto& [key, value] : event.attributes) {
    if (key == kPolicySha256Attribute) {
      sha = &value;
      continue;
    }
    if (key.rfind(kPolicyTextAttribute, 0) != 0) continue;
    const std::string want = PolicyTextKey(expected);
    if (key != want) {
      return absl::InvalidArgumentError(StrCat("policy.changed: attribute ",
                                               key, " out of order (expected ",
                                               want, ")"));
    }
    joined += value;
    ++expected;
  }
  if (expected == 0) {
    return absl::InvalidArgumentError(
        "policy.changed: no policy.text.000 attribute");
  }
  const std::string digest = crypto::HexEncode(crypto::Sha256Digest(joined));
  if (sha == nullptr || *sha != digest) {
    return absl::InvalidArgumentError(StrCat(
        "policy.changed: policy.sha256 ",
        sha == nullptr ? std::string("is missing") : QuoteForMessage(*sha),
        " does not match the text's SHA-256 ", digest));
  }
  absl::StatusOr<Policy> policy = ParsePolicy(joined);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        StrCat("policy: ", policy.status().message()));
  }
  if (text != nullptr) *text = std::move(joined);
  return policy;
}

std::vector<std::pair<std::string, std::string>> PolicyAttributes(
    std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back(std::string(kPolicySha256Attribute),
                   crypto::HexEncode(crypto::Sha256Digest(text)));
  size_t pos = 0;
  for (int n = 0; pos < text.size() || n == 0; ++n) {
    size_t len = std::min(kPolicyChunkBytes, text.size() - pos);
    // Never split a UTF-8 sequence: back off continuation bytes.
    while (len > 0 && pos + len < text.size() &&
           (static_cast<uint8_t>(text[pos + len]) & 0xC0) == 0x80) {
      --len;
    }
    out.emplace_back(PolicyTextKey(n), std::string(text.substr(pos, len)));
    pos += len;
  }
  std::sort(out.begin(), out.end());
  return out;
}

Event PropagationEvent(const Propagation& p) {
  Event e;
  // The event id: the first 16 bytes of SHA-256 over a label, the cause's
  // index and the dataset key, as an RFC 9562 version 8 UUID. Unique per
  // (cause, dataset), and the same for whoever builds it.
  const crypto::Hash h = crypto::Sha256Digest(
      StrCat(kPropagatedIdLabel, BigEndian64(p.record.index),
             Key(p.tenant, p.id, p.version)));
  std::copy_n(h.begin(), e.event_id.size(), e.event_id.begin());
  e.event_id[6] = static_cast<uint8_t>((e.event_id[6] & 0x0F) | 0x80);
  e.event_id[8] = static_cast<uint8_t>((e.event_id[8] & 0x3F) | 0x80);
  e.type = std::string(kPropagatedType);
  e.occurred_at_ns = p.cause_received_at_ns;
  e.producer = std::string(kPropagatedProducer);
  e.tenant = p.tenant;
  e.actor =
      Actor{ActorKind::kService, std::string(kPropagatedActor), "sequencer"};
  e.subjects.push_back(
      SubjectRef{SubjectKind::kDataset, p.id, p.version, std::nullopt, 0});
  const GradeRecord& r = p.record;
  auto& a = e.attributes;
  a.emplace_back("cause.index", StrCat(r.index));
  a.emplace_back("grade.basis", r.basis);
  a.emplace_back("grade.flags", FlagsText(r.flags));
  a.emplace_back("grade.level", std::string(LevelName(r.level)));
  const size_t names =
      std::min(r.propagated_from.size(), kMaxPropagatedFromNames);
  for (size_t i = 0; i < names; ++i) {
    std::string num = StrCat(i);
    num.insert(0, 3 - std::min<size_t>(3, num.size()), '0');
    a.emplace_back(StrCat("propagated_from.", num), r.propagated_from[i]);
  }
  a.emplace_back("propagated_from.count", StrCat(r.propagated_from.size()));
  std::string entries;
  for (size_t i = 0; i < std::min(r.evidence.size(), kMaxPropagatedEntries);
       ++i) {
    if (i > 0) entries += ',';
    StrAppend(&entries, r.evidence[i]);
  }
  a.emplace_back("propagated_from.entries", std::move(entries));
  a.emplace_back("propagated_from.entries.count", StrCat(r.evidence.size()));
  std::sort(a.begin(), a.end());
  return e;
}

Engine::Engine() : state_(std::make_unique<State>()) {}
Engine::~Engine() = default;

uint32_t Engine::policy_version() const { return state_->policy_version; }
std::optional<uint64_t> Engine::policy_index() const {
  return state_->policy_index;
}

uint32_t Engine::PoliciesUpTo(uint64_t index) const {
  const std::vector<uint64_t>& p = state_->policy_entries;
  return static_cast<uint32_t>(std::upper_bound(p.begin(), p.end(), index) -
                               p.begin());
}

std::optional<GradeRecord> Engine::GradeAt(std::string_view tenant,
                                           std::string_view id,
                                           std::string_view version,
                                           uint64_t as_of) const {
  for (std::string_view v : {version, std::string_view()}) {
    auto it = state_->datasets.find(Key(tenant, id, v));
    if (it != state_->datasets.end()) {
      const std::vector<GradeRecord>& h = it->second.history;
      auto pos = std::upper_bound(
          h.begin(), h.end(), as_of,
          [](uint64_t a, const GradeRecord& r) { return a < r.index; });
      if (pos != h.begin()) return *std::prev(pos);
    }
    if (version.empty()) break;
  }
  return std::nullopt;
}

std::vector<GradeRecord> Engine::GradeHistory(std::string_view tenant,
                                              std::string_view id,
                                              std::string_view version) const {
  auto it = state_->datasets.find(Key(tenant, id, version));
  if (it == state_->datasets.end()) return {};
  return it->second.history;
}

std::vector<GradeInput> Engine::GradeInputs(std::string_view tenant,
                                            std::string_view id,
                                            std::string_view version,
                                            uint64_t as_of) const {
  std::vector<GradeInput> out;
  for (std::string_view v : {version, std::string_view()}) {
    auto it = state_->datasets.find(Key(tenant, id, v));
    const bool graded = it != state_->datasets.end() &&
                        !it->second.history.empty() &&
                        it->second.history.front().index <= as_of;
    if (graded) {
      for (const Edge& edge : it->second.parents) {
        if (edge.index > as_of) continue;
        const Dataset& parent = state_->datasets.at(edge.parent);
        out.push_back(GradeInput{parent.id, parent.version, edge.index,
                                 edge.blocks, edge.raise});
      }
      return out;
    }
    if (version.empty()) break;
  }
  return out;
}

namespace {

// One entry's evaluation: the reasons found so far.
class Findings {
 public:
  void Add(int rule, Risk risk, std::string_view text,
           std::vector<uint64_t> evidence = {}) {
    risk_ = std::max(risk_, risk);
    reasons_.push_back(StrCat("R", rule, " ", RiskName(risk), ": ", text,
                              EvidenceText(std::move(evidence))));
  }
  void NotEvaluable(int rule, std::string_view text) {
    reasons_.push_back(StrCat("R", rule, " not evaluable: ", text));
  }
  Assessment Done(uint32_t version) && {
    return Assessment{risk_, std::move(reasons_), version};
  }

 private:
  Risk risk_ = Risk::kLow;
  std::vector<std::string> reasons_;
};

bool IsType(const std::vector<std::string>& types, std::string_view t) {
  return std::find(types.begin(), types.end(), t) != types.end();
}

}  // namespace

Assessment Engine::Apply(const Event& e, uint64_t index, int64_t t) {
  State& s = *state_;
  s.next_index = index + 1;
  const Policy* policy = s.policy.has_value() ? &*s.policy : nullptr;
  const uint32_t version = s.policy_version;
  // The type as a view: comparing it with the many type names below is a
  // length check first (a std::string compared with a C string measures
  // the C string and compares bytes each time).
  const std::string_view type = e.type;
  if (type == kPropagatedType) {
    // The record of a grade the engine already holds: it changes nothing
    // and is judged by no rule.
    if (!s.unrecorded.empty()) s.unrecorded.pop_front();
    if (policy == nullptr) return Assessment{};
    return Assessment{Risk::kLow, {}, version};
  }
  Findings f;
  // Which rules' `types` list this type (RulesConfig::Has), in one lookup.
  uint32_t type_rules = 0;
  if (policy != nullptr) {
    auto it = s.rules_of_type.find(e.type);
    if (it != s.rules_of_type.end()) type_rules = it->second;
  }
  const auto has = [&](int rule) { return (type_rules >> rule & 1) != 0; };
  const auto on = [&](int rule) {
    return policy != nullptr && policy->rules.enabled[rule];
  };
  const auto typed = [&](int rule) { return on(rule) && has(rule); };
  s.FindTouched(e, &s.touched);
  const std::vector<Touched>& touched = s.touched;
  Level top = Level::kGeneral;
  uint8_t flags = 0;
  std::vector<uint64_t> grade_evidence;
  for (const Touched& x : touched) {
    top = std::max(top, x.grade.level);
    flags |= x.grade.flags;
  }
  const auto evidence_at_least = [&](Level level) {
    std::vector<uint64_t> ev;
    for (const Touched& x : touched) {
      if (x.grade.level >= level) ev.push_back(x.grade_index);
    }
    return ev;
  };
  const auto names_at_least = [&](Level level) {
    std::string out;
    for (const Touched& x : touched) {
      if (x.grade.level < level) continue;
      if (!out.empty()) out += ", ";
      out += x.name();
    }
    return out;
  };
  const std::string& actor_key = BuildKey(&s.actor_key, e.tenant, e.actor.id);
  // A reference attribute naming an earlier event of the tenant.
  const auto reference = [&](std::string_view attr) -> const Reference* {
    const std::string* ref = Attr(e, attr);
    if (ref == nullptr) return nullptr;
    absl::StatusOr<Uuid> id = ParseUuid(*ref);
    if (!id.ok()) return nullptr;
    auto it = s.references.find(Key(e.tenant, FormatUuid(*id)));
    return it == s.references.end() ? nullptr : &it->second;
  };
  const bool important = !touched.empty() && top >= Level::kImportant;

  // R1: exports and shares of core data need an approval.
  if (typed(1) && !touched.empty() && top == Level::kCore) {
    const Reference* a = reference("approval.ref");
    if (a == nullptr || a->type != "approval.granted") {
      f.Add(1, Risk::kCritical,
            StrCat(e.type, " of core data ", names_at_least(Level::kCore),
                   " without an approval.ref naming an approval.granted"),
            evidence_at_least(Level::kCore));
    }
  }
  // R2 and R3: cross-border transfers.
  const Reference* assessment = reference("assessment.ref");
  if (assessment != nullptr && assessment->type != "export_assessment.filed") {
    assessment = nullptr;
  }
  const auto valid_cac = [&] {
    return assessment != nullptr &&
           assessment->kind == "cac_security_assessment" &&
           t - assessment->received_at_ns <
               policy->rules.assessment_valid_days * kNsPerDay;
  };
  if (typed(2) && important && !valid_cac()) {
    f.Add(2, Risk::kCritical,
          StrCat("important data ", names_at_least(Level::kImportant),
                 " sent abroad without a valid CAC security assessment "
                 "(assessment.ref)"),
          evidence_at_least(Level::kImportant));
  }
  if (has(3)) {
    const std::string* persons_text = Attr(e, "transfer.pi_persons");
    const std::string* sensitive_text =
        Attr(e, "transfer.sensitive_pi_persons");
    int64_t persons = 0;
    int64_t sensitive = 0;
    const bool has_pi = (flags & (kPi | kSensitivePi)) != 0;
    const bool ok_persons = persons_text == nullptr ||
                            (ParseInt(*persons_text, &persons) && persons >= 0);
    const bool ok_sensitive =
        sensitive_text == nullptr ||
        (ParseInt(*sensitive_text, &sensitive) && sensitive >= 0);
    if (!ok_persons || !ok_sensitive) {
      if (on(3)) {
        f.NotEvaluable(3,
                       "transfer.pi_persons and "
                       "transfer.sensitive_pi_persons must be decimal "
                       "counts");
      }
    } else if (has_pi && persons_text == nullptr && sensitive_text == nullptr) {
      if (on(3)) {
        f.NotEvaluable(3,
                       "personal information sent abroad without "
                       "transfer.pi_persons");
      }
    } else {
      State::Abroad& a = s.abroad[Key(e.tenant, StrCat(YearOf(t)))];
      a.persons += persons;
      a.sensitive += sensitive;
      if ((persons > 0 || sensitive > 0) && a.entries.size() < kMaxEvidence) {
        a.entries.push_back(index);
      }
      if (on(3) && (persons > 0 || sensitive > 0)) {
        const RulesConfig& r = policy->rules;
        const std::string counts = StrCat(a.persons, " persons (", a.sensitive,
                                          " sensitive) sent "
                                          "abroad by tenant ",
                                          e.tenant, " in ", YearOf(t));
        const bool instrument =
            assessment != nullptr &&
            (valid_cac() || assessment->kind == "standard_contract" ||
             assessment->kind == "certification");
        if ((a.persons >= r.pi_persons_critical ||
             a.sensitive >= r.sensitive_pi_persons_critical) &&
            !valid_cac()) {
          f.Add(3, Risk::kCritical,
                StrCat(counts, " without a valid CAC security assessment"),
                a.entries);
        } else if ((a.persons >= r.pi_persons_high || a.sensitive > 0) &&
                   !instrument) {
          f.Add(3, Risk::kHigh,
                StrCat(counts,
                       " without a standard contract, certification or "
                       "assessment (assessment.ref)"),
                a.entries);
        }
      }
    }
  }
  // R4: qualification of the people who annotate or touch important data.
  if (on(4) && e.actor.kind == ActorKind::kHuman && (has(4) || important)) {
    auto it = s.qualifications.find(actor_key);
    const bool valid = it != s.qualifications.end() && !it->second.revoked &&
                       e.occurred_at_ns < it->second.valid_until;
    if (!valid) {
      std::vector<uint64_t> ev;
      if (it != s.qualifications.end()) {
        ev.push_back(it->second.revoked ? it->second.revoked_index
                                        : it->second.granted_index);
      }
      f.Add(4, Risk::kHigh,
            StrCat("actor ", e.actor.id,
                   " has no valid training.completed or qualification at "
                   "occurred_at"),
            std::move(ev));
    }
  }
  // R5 and R6: per item.
  const std::string* task_attr = Attr(e, "task.id");
  const std::string task = task_attr != nullptr ? *task_attr : e.project;
  if (has(5)) {
    for (const SubjectRef& ref : e.subjects) {
      if (ref.kind != SubjectKind::kItem) continue;
      auto it = s.annotators.find(BuildKey(&s.key, e.tenant, ref.id, task));
      if (it == s.annotators.end()) continue;
      for (const auto& [who, at] : it->second) {
        if (who != e.actor.id || !on(5)) continue;
        f.Add(5, Risk::kHigh,
              StrCat("actor ", e.actor.id, " reviews item ", ref.id,
                     " that they annotated in task ", task),
              {at});
      }
    }
  }
  if (on(6) && has(6)) {
    for (const SubjectRef& ref : e.subjects) {
      if (ref.kind != SubjectKind::kItem) continue;
      auto it = s.locks.find(BuildKey(&s.key, e.tenant, ref.id));
      if (it == s.locks.end()) continue;
      std::vector<uint64_t> ev{it->second.index};
      bool exported = false;
      if (auto d = s.item_dataset.find(BuildKey(&s.key, e.tenant, ref.id));
          d != s.item_dataset.end()) {
        if (auto x = s.exports.find(d->second);
            x != s.exports.end() && x->second > it->second.index) {
          exported = true;
          ev.push_back(x->second);
        }
      }
      f.Add(6, exported ? Risk::kCritical : Risk::kHigh,
            StrCat(e.type, " of item ", ref.id,
                   " after its review or release without review.reopened",
                   exported ? ", and its data was exported since" : ""),
            std::move(ev));
    }
  }
  // R7: volume against the actor's baseline.
  if (has(7)) {
    const RulesConfig& r = policy->rules;
    int64_t volume = 0;
    for (const std::vector<SubjectRef>* refs : {&e.subjects, &e.inputs}) {
      for (const SubjectRef& ref : *refs) {
        volume +=
            ref.kind == SubjectKind::kDataset
                ? std::max<int64_t>(1, static_cast<int64_t>(std::min<uint64_t>(
                                           ref.item_count, INT64_MAX / 4)))
                : 1;
      }
    }
    volume = std::max<int64_t>(volume, 1);
    const int64_t today = t / kNsPerDay;
    std::deque<DayVolume>& days = s.volumes[actor_key];
    while (!days.empty() && days.front().day < today - r.baseline_days) {
      days.pop_front();
    }
    if (days.empty() || days.back().day != today) days.push_back({today, 0});
    days.back().volume += volume;
    int64_t previous = 0;
    for (size_t i = 0; i + 1 < days.size(); ++i) previous += days[i].volume;
    const int64_t now = days.back().volume;
    if (on(7) && previous > 0 && now >= r.baseline_min_volume &&
        static_cast<double>(now) * static_cast<double>(r.baseline_days) >
            static_cast<double>(r.baseline_factor) *
                static_cast<double>(previous)) {
      f.Add(7, important ? Risk::kHigh : Risk::kMedium,
            StrCat("actor ", e.actor.id, " read ", now,
                   " items today (ledger time), over ", r.baseline_factor,
                   "x the mean of ", previous, " over the previous ",
                   r.baseline_days, " days"));
    }
  }
  // R8: sensitive PI needs a PIA.
  if (typed(8) && (flags & kSensitivePi) != 0) {
    std::vector<uint64_t> ev;
    std::string names;
    for (const Touched& x : touched) {
      if ((x.grade.flags & kSensitivePi) == 0) continue;
      if (s.pia.contains(BuildKey(&s.key, e.tenant, x.dataset->id))) continue;
      ev.push_back(x.grade_index);
      if (!names.empty()) names += ", ";
      names += x.name();
    }
    if (!ev.empty()) {
      f.Add(8, Risk::kHigh,
            StrCat(e.type, " of sensitive personal information ", names,
                   " without a pia.recorded"),
            std::move(ev));
    }
  }
  // R9: logging stopped.
  if (on(9) && type == "logging.stopped") {
    f.Add(9, Risk::kCritical, "logging.stopped: the audit trail has a gap");
  }
  // R10, part 2: de-identification without a method.
  const bool deid = type == "data.deidentified";
  const std::string* method = Attr(e, "deid.method");
  if (on(10) && deid && (method == nullptr || method->empty())) {
    f.Add(10, Risk::kHigh, "data.deidentified without deid.method");
  }
  // R11: repeated failures.
  if (e.outcome.status == OutcomeStatus::kFailure) {
    std::deque<std::pair<int64_t, uint64_t>>& q = s.failures[actor_key];
    q.emplace_back(t, index);
    const int64_t window = policy != nullptr
                               ? policy->rules.failure_window_seconds
                               : int64_t{3600};
    while (!q.empty() && q.front().first <= t - window * kNsPerSecond) {
      q.pop_front();
    }
    while (q.size() > 64) q.pop_front();
    if (on(11) &&
        static_cast<int64_t>(q.size()) >= policy->rules.failure_threshold) {
      std::vector<uint64_t> ev;
      for (const auto& [when, at] : q) ev.push_back(at);
      f.Add(11, Risk::kMedium,
            StrCat(q.size(), " failed attempts by actor ", e.actor.id,
                   " within ", window, " s"),
            std::move(ev));
    }
  }
  // R12: important data from outside the secure environment.
  if (on(12) && important && !policy->rules.secure_networks.empty()) {
    if (e.source.ip.empty()) {
      f.NotEvaluable(12, "source.ip is empty");
    } else if (!InNetworks(policy->rules.secure_networks, e.source.ip)) {
      f.Add(12, Risk::kHigh,
            StrCat("important data ", names_at_least(Level::kImportant),
                   " touched from ", e.source.ip,
                   ", outside the declared secure networks"),
            evidence_at_least(Level::kImportant));
    }
  }
  // R13 and R14: releases.
  const std::string* batch = Attr(e, "batch.id");
  if (type == "batch.released") {
    if (batch == nullptr || batch->empty()) {
      if (on(13)) f.NotEvaluable(13, "batch.released without batch.id");
    } else {
      const std::string& bk = BuildKey(&s.key, e.tenant, *batch);
      auto sample = s.sampled.find(bk);
      auto result = s.sample_result.find(bk);
      if (on(13) &&
          (sample == s.sampled.end() || result == s.sample_result.end() ||
           result->second < sample->second)) {
        std::vector<uint64_t> ev;
        if (sample != s.sampled.end()) ev.push_back(sample->second);
        f.Add(13, Risk::kHigh,
              StrCat("batch ", *batch,
                     sample == s.sampled.end()
                         ? " released without a qa.sample_drawn"
                         : " released before its sample's result "
                           "(qa.metrics_recorded)"),
              std::move(ev));
      }
      if (auto h = s.harmful.find(bk); on(14) && h != s.harmful.end()) {
        f.Add(14, Risk::kCritical,
              StrCat("batch ", *batch,
                     " released although a review found illegal or harmful "
                     "content"),
              {h->second});
      }
    }
  }
  // R15: sources with too much illegal content.
  // (Nothing to look up while no source recorded a share.)
  if (typed(15) && !s.illegal_share.empty()) {
    for (const std::vector<SubjectRef>* refs : {&e.inputs, &e.subjects}) {
      for (const SubjectRef& ref : *refs) {
        std::string_view id = ref.id;
        if (ref.kind == SubjectKind::kItem) {
          auto d = s.item_dataset.find(BuildKey(&s.key, e.tenant, ref.id));
          if (d == s.item_dataset.end()) continue;
          id = s.datasets.at(d->second).id;
        } else if (ref.kind != SubjectKind::kDataset) {
          continue;
        }
        auto it = s.illegal_share.find(BuildKey(&s.key, e.tenant, id));
        if (it == s.illegal_share.end() ||
            it->second.first <= policy->rules.max_illegal_share) {
          continue;
        }
        f.Add(15, Risk::kHigh,
              StrCat("uses source ", id,
                     " whose recorded illegal-content "
                     "share exceeds ",
                     ShareText(policy->rules.max_illegal_share)),
              {it->second.second});
        goto r15_done;
      }
    }
  r15_done:;
  }

  // State updates, after the rules: an entry is judged by what came before.
  const std::string* level_text = Attr(e, "grade.level");
  if (type == "grade.assigned" || type == "grade.changed") {
    Level level;
    uint8_t new_flags = 0;
    const std::string* flags_text = Attr(e, "grade.flags");
    if (level_text == nullptr || !ParseLevel(*level_text, &level) ||
        (flags_text != nullptr && !ParseFlags(*flags_text, &new_flags))) {
      if (on(10)) {
        f.NotEvaluable(10,
                       "grade.level must be general, important or core "
                       "and grade.flags a list of pi, sensitive_pi, "
                       "minor");
      }
    } else {
      const std::string* approver = Attr(e, "approver");
      for (const SubjectRef& ref : e.subjects) {
        if (ref.kind != SubjectKind::kDataset) continue;
        Dataset& d = s.Get(e.tenant, ref);
        const std::string key = Key(e.tenant, ref.id, ref.version);
        const GradeRecord* now = s.Current(key);
        const bool lowers = now != nullptr && (level < now->level ||
                                               (now->flags & ~new_flags) != 0);
        if (lowers && (approver == nullptr || approver->empty())) {
          if (on(10)) {
            f.Add(10, Risk::kHigh,
                  StrCat("grade of ", Display(ref.id, ref.version),
                         " lowered without an approver; it stays ",
                         LevelName(now->level)),
                  {now->index});
          }
          continue;
        }
        d.base = Grade{level, new_flags};
        d.base_basis = type == "grade.assigned" ? "assigned" : "changed";
        d.base_index = index;
        s.Regrade(key, index);
      }
    }
  }
  if (type == "dataset.registered" || type == "dataset.version_created") {
    for (const std::vector<SubjectRef>* refs : {&e.subjects, &e.outputs}) {
      for (const SubjectRef& ref : *refs) {
        if (ref.kind != SubjectKind::kDataset) continue;
        Dataset& d = s.Get(e.tenant, ref);
        if (d.base.has_value()) continue;
        Grade g;
        std::string basis = "unclassified";
        if (policy != nullptr) {
          for (const ClassifyRule& rule : policy->classify) {
            bool all = true;
            for (const Condition& c : rule.all) {
              const std::string* v = Attr(e, c.attribute);
              if (v == nullptr) {
                all = false;
              } else if (!c.in.empty()) {
                all = all && IsType(c.in, *v);
              } else {
                int64_t n = 0;
                all = all && ParseInt(*v, &n) &&
                      (!c.has_at_least || n >= c.at_least) &&
                      (!c.has_at_most || n <= c.at_most);
              }
              if (!all) break;
            }
            if (!all) continue;
            if (basis == "unclassified" || rule.level > g.level) {
              basis = StrCat("classified: ", rule.name);
            }
            g.level = std::max(g.level, rule.level);
            g.flags |= rule.flags;
          }
        }
        d.base = g;
        d.base_basis = basis;
        d.base_index = index;
      }
    }
  }
  // Lineage edges: every dataset input to every dataset output.
  std::vector<std::string> graded_outputs;
  if (!e.inputs.empty() && !e.outputs.empty()) {
    uint8_t blocks = 0;
    const std::string* approver = Attr(e, "approver");
    if (deid && method != nullptr && !method->empty() && approver != nullptr &&
        !approver->empty()) {
      blocks = policy != nullptr ? policy->deidentification_blocks
                                 : static_cast<uint8_t>(kPi | kSensitivePi);
    }
    bool raise = false;
    if (type == "data.aggregated" && policy != nullptr &&
        policy->aggregation_subjects_threshold > 0) {
      int64_t n = 0;
      const std::string* subjects = Attr(e, "data.subjects");
      raise = subjects != nullptr && ParseInt(*subjects, &n) &&
              n >= policy->aggregation_subjects_threshold;
    }
    for (const SubjectRef& out : e.outputs) {
      if (out.kind != SubjectKind::kDataset) continue;
      const std::string out_key = Key(e.tenant, out.id, out.version);
      s.Get(e.tenant, out);
      for (const SubjectRef& in : e.inputs) {
        if (in.kind != SubjectKind::kDataset) continue;
        // An input version never graded on its own takes its dataset's
        // version-less grade, and follows that grade's changes.
        std::string in_key = Key(e.tenant, in.id, in.version);
        if (s.Current(in_key) == nullptr && !in.version.empty() &&
            s.Current(Key(e.tenant, in.id, "")) != nullptr) {
          in_key = Key(e.tenant, in.id, "");
        } else {
          s.Get(e.tenant, in);
        }
        if (in_key == out_key) continue;
        std::vector<std::string>& children = s.datasets.at(in_key).children;
        if (std::find(children.begin(), children.end(), out_key) ==
            children.end()) {
          children.push_back(out_key);
        }
        s.datasets.at(out_key).parents.push_back(
            Edge{in_key, index, blocks, raise});
      }
      graded_outputs.push_back(out_key);
    }
  } else {
    for (const SubjectRef& out : e.outputs) {
      if (out.kind == SubjectKind::kDataset &&
          (type == "dataset.registered" || type == "dataset.version_created")) {
        graded_outputs.push_back(Key(e.tenant, out.id, out.version));
      }
    }
  }
  if (type == "dataset.registered" || type == "dataset.version_created") {
    for (const SubjectRef& ref : e.subjects) {
      if (ref.kind == SubjectKind::kDataset) {
        graded_outputs.push_back(Key(e.tenant, ref.id, ref.version));
      }
    }
  }
  for (const std::string& key : graded_outputs) s.Regrade(key, index);

  // Items of datasets.
  if (type == "item.imported") {
    std::string dataset_key;
    for (const std::vector<SubjectRef>* refs : {&e.subjects, &e.outputs}) {
      for (const SubjectRef& ref : *refs) {
        if (ref.kind == SubjectKind::kDataset && dataset_key.empty()) {
          dataset_key = Key(e.tenant, ref.id, ref.version);
          s.Get(e.tenant, ref);
        }
      }
    }
    if (!dataset_key.empty()) {
      // The imported items: subjects, or outputs (what the import made).
      for (const std::vector<SubjectRef>* refs : {&e.subjects, &e.outputs}) {
        for (const SubjectRef& ref : *refs) {
          if (ref.kind == SubjectKind::kItem) {
            s.item_dataset[BuildKey(&s.key, e.tenant, ref.id)] = dataset_key;
          }
        }
      }
    }
  }
  // References other entries may name.
  if (type == "approval.granted" || type == "export_assessment.filed") {
    const std::string* kind = Attr(e, "assessment.kind");
    s.references[Key(e.tenant, FormatUuid(e.event_id))] =
        Reference{e.type, index, t, kind != nullptr ? *kind : ""};
  }
  if (type == "pia.recorded") {
    for (const std::vector<SubjectRef>* refs : {&e.subjects, &e.inputs}) {
      for (const SubjectRef& ref : *refs) {
        if (ref.kind == SubjectKind::kDataset) {
          s.pia.try_emplace(BuildKey(&s.key, e.tenant, ref.id), index);
        }
      }
    }
  }
  if (const std::string* share = Attr(e, "source.illegal_share")) {
    double v = 0;
    if (ParseShare(*share, &v)) {
      for (const SubjectRef& ref : e.subjects) {
        if (ref.kind == SubjectKind::kDataset) {
          s.illegal_share[BuildKey(&s.key, e.tenant, ref.id)] = {v, index};
        }
      }
    } else if (on(15)) {
      f.NotEvaluable(15, "source.illegal_share must be a decimal share");
    }
  }
  // Personnel.
  if (type == "training.completed" || type == "qualification.granted" ||
      type == "qualification.revoked") {
    const std::string* person = Attr(e, "person");
    Qualification& q = s.qualifications[Key(
        e.tenant, person != nullptr ? *person : e.actor.id)];
    if (type == "qualification.revoked") {
      q.revoked = true;
      q.revoked_index = index;
    } else {
      const std::string* expires = Attr(e, "expires_at");
      int64_t until = std::numeric_limits<int64_t>::max();
      if (expires != nullptr && !ParseTimeNs(*expires, &until)) {
        if (on(4)) f.NotEvaluable(4, "expires_at is not an RFC 3339 time");
        until = std::numeric_limits<int64_t>::min();
      }
      if (e.outcome.status == OutcomeStatus::kSuccess) {
        q.valid_until = std::max(q.valid_until, until);
        q.revoked = false;
        q.granted_index = index;
      }
    }
  }
  // Annotation and review state.
  // (Before any policy, the default policy's annotating types count.)
  const bool annotates = policy != nullptr ? has(kAnnotatesBit)
                                           : type == "annotation.created" ||
                                                 type == "annotation.updated" ||
                                                 type == "annotation.submitted";
  if (annotates) {
    for (const SubjectRef& ref : e.subjects) {
      if (ref.kind != SubjectKind::kItem) continue;
      auto& list = s.annotators[BuildKey(&s.key, e.tenant, ref.id, task)];
      if (std::none_of(list.begin(), list.end(),
                       [&](const auto& p) { return p.first == e.actor.id; }) &&
          list.size() < 64) {
        list.emplace_back(e.actor.id, index);
      }
    }
  }
  if (type == "review.accepted" || type == "batch.released") {
    for (const SubjectRef& ref : e.subjects) {
      if (ref.kind == SubjectKind::kItem) {
        s.locks[BuildKey(&s.key, e.tenant, ref.id)] = Lock{index};
      }
    }
  }
  if (type == "review.reopened") {
    for (const SubjectRef& ref : e.subjects) {
      if (ref.kind == SubjectKind::kItem) {
        s.locks.erase(BuildKey(&s.key, e.tenant, ref.id));
      }
    }
  }
  if (type == "dataset.exported" || type == "data.shared" ||
      type == "data.transferred_cross_border") {
    for (const std::vector<SubjectRef>* refs : {&e.subjects, &e.inputs}) {
      for (const SubjectRef& ref : *refs) {
        if (ref.kind == SubjectKind::kDataset) {
          s.exports[BuildKey(&s.key, e.tenant, ref.id, ref.version)] = index;
        }
      }
    }
  }
  if (batch != nullptr && !batch->empty()) {
    const std::string& bk = BuildKey(&s.key, e.tenant, *batch);
    if (type == "qa.sample_drawn") s.sampled[bk] = index;
    if (type == "qa.metrics_recorded") s.sample_result[bk] = index;
    if (type == "review.rejected") {
      const std::string* tags = Attr(e, "review.issue_tags");
      if (tags != nullptr && policy != nullptr) {
        for (const std::string& tag : SplitComma(*tags)) {
          if (IsType(policy->rules.harmful_tags, tag)) {
            s.harmful.try_emplace(bk, index);
          }
        }
      }
    }
  }
  // A new policy governs the entries after this one.
  if (type == "policy.changed") {
    absl::StatusOr<Policy> next = PolicyOfEvent(e);
    if (next.ok()) {
      s.policy = std::move(*next);
      s.rules_of_type = RulesOfType(s.policy->rules);
      ++s.policy_version;
      s.policy_index = index;
      s.policy_entries.push_back(index);
    }
  }
  // Grades that lineage changed here, for grade.propagated entries (under
  // a policy only: before one, nothing is graded for anyone).
  if (policy != nullptr) {
    for (const std::string& key : s.changed) {
      const Dataset& d = s.datasets.at(key);
      const GradeRecord& r = d.history.back();
      if (r.index != index ||
          (r.basis != "propagated" && r.basis != "aggregated")) {
        continue;
      }
      s.unrecorded.push_back(Propagation{d.tenant, d.id, d.version, r, t});
    }
  }
  s.changed.clear();
  if (policy == nullptr) return Assessment{};
  return std::move(f).Done(version);
}

absl::Status Engine::CheckNext(const Event& e, uint64_t index,
                               int64_t t) const {
  const State& s = *state_;
  if (e.type == kPropagatedType) {
    if (s.unrecorded.empty()) {
      return absl::DataLossError(
          StrCat("entry ", index,
                 " is a grade.propagated entry, but no grade propagation "
                 "awaits its record there"));
    }
    const Propagation& p = s.unrecorded.front();
    if (Event want = PropagationEvent(p); !(e == want)) {
      return absl::DataLossError(StrCat(
          "entry ", index,
          " records a grade propagation that differs from "
          "the one entry ",
          p.record.index, " caused (", Display(p.id, p.version), " of tenant ",
          QuoteForMessage(p.tenant), ": ", LevelName(p.record.level), " ",
          FlagsText(p.record.flags), ", ", p.record.basis, ")"));
    }
    return absl::OkStatus();
  }
  if (!s.unrecorded.empty() && s.unrecorded.front().cause_received_at_ns != t) {
    const Propagation& p = s.unrecorded.front();
    return absl::DataLossError(StrCat(
        "the grade that entry ", p.record.index, " propagated to ",
        Display(p.id, p.version), " of tenant ", QuoteForMessage(p.tenant),
        " has no grade.propagated entry before entry ", index,
        " of a later group"));
  }
  return absl::OkStatus();
}

absl::Status Engine::CheckComplete() const {
  const State& s = *state_;
  if (s.unrecorded.empty()) return absl::OkStatus();
  const Propagation& p = s.unrecorded.front();
  return absl::DataLossError(
      StrCat(s.unrecorded.size(),
             " grade propagation(s) have no grade.propagated "
             "entry, the first caused by entry ",
             p.record.index, " (", Display(p.id, p.version), " of tenant ",
             QuoteForMessage(p.tenant), ")"));
}

const std::deque<Propagation>& Engine::unrecorded() const {
  return state_->unrecorded;
}

namespace {

std::string AssessmentText(Risk risk, uint32_t version,
                           const std::vector<std::string>& reasons) {
  std::string out = StrCat(RiskName(risk), " under policy ", version);
  for (const std::string& r : reasons) StrAppend(&out, "; ", r);
  return out;
}

}  // namespace

absl::Status ReplayEntry(Engine& engine, const Entry& entry,
                         const Event& event) {
  absl::Status order =
      engine.CheckNext(event, entry.index, entry.received_at_ns);
  Assessment a = engine.Apply(event, entry.index, entry.received_at_ns);
  if (!order.ok()) return order;
  const Risk stored = static_cast<Risk>(
      std::min<uint8_t>(static_cast<uint8_t>(entry.risk.grade), 4));
  if (a.risk == stored && a.reasons == entry.risk.reasons &&
      a.policy_version == entry.policy_version) {
    return absl::OkStatus();
  }
  return absl::DataLossError(
      StrCat("entry ", entry.index, " stores risk ",
             AssessmentText(stored, entry.policy_version, entry.risk.reasons),
             ", but its policy gives ",
             AssessmentText(a.risk, a.policy_version, a.reasons),
             " (docs/risk-rules.md)"));
}

}  // namespace ledger::risk
