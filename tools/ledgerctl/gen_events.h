#pragma once

// `ledgerctl gen-events`: deterministic, realistic sample events for one
// tenant (ledger/FORMAT.md section 3) as JSON lines that `ledgerctl append`
// reads. A simulated annotation project with its lineage: source datasets
// are registered (attribute "source") and graded, annotators and reviewers
// complete training, items are imported, pre-labelled by a model,
// annotated, submitted and reviewed (some rejected or reopened and
// reworked), QA samples and metrics are recorded and batches released.
// Each release runs a pipeline (run_id, parent_run_id, attribute
// "run.state"): the raw data is filtered, then cleaned and de-identified
// in two branches that an aggregation merges with the partner sources (a
// diamond with fan-in `fan_in`), a chain of `workflow_depth` further steps
// leads to a new curated dataset version, which is exported and sometimes
// transferred across the border. Some steps fail and are retried, some
// runs never end, some transfers are aborted, and now and then an analyst
// works on a dataset of unknown source (an orphan). Every event passes
// ValidateEvent and CheckLineage (ledger/lineage_rules.h).
//
// The events carry the attributes the risk engine reads
// (docs/risk-rules.md): grades (grade.level, grade.flags), the datasets'
// declared domain for the policy's classification, trainings with
// expires_at, task.id and batch.id, QA samples before releases,
// de-identification with deid.method and approver, exports naming an
// approval.granted (approval.ref), transfers naming an
// export_assessment.filed (assessment.ref) with their person counts, and
// a PIA for sensitive data. Under the default policy
// (deploy/risk-policy.toml) most entries are low; gen_events_internal.h
// lists the violations injected and their rates.

#include <cstdint>
#include <deque>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "ledger/v1/event.pb.h"
#include "tools/ledgerctl/event_lines.h"

namespace ledger::ctl {

struct GenEventsOptions {
  uint64_t count = 0;
  std::string tenant;
  uint64_t seed = 1;
  // If non-zero, each event's canonical encoding, once `ledgerctl append`
  // has encrypted its payload, is this many bytes: the line carries random
  // personal data ("payload_plaintext", with the actor as "data_subject")
  // of the length that pads it so (ledger/FORMAT.md section 3.4: an
  // envelope adds 57 bytes). At most kMaxGenEventSize; events already
  // larger, or within 57 bytes of it, are left as they are.
  uint32_t size = 0;
  // If non-empty, the producer of every event (one emitter key signs only
  // its own producer's events); otherwise each event names the simulated
  // system that emits it (label-studio, airflow, annotation-platform).
  std::string producer{};
  // The simulated clock starts here (Unix seconds); events are 1 to 21 s
  // apart (about 11 s on average). 0: DefaultGenStartSeconds(now).
  int64_t start_seconds = 0;
  // Processing steps in the chain that follows each release's aggregation
  // (1 to kMaxGenWorkflowDepth): the lineage from a release's merged
  // dataset to its curated version is this many steps long.
  uint32_t workflow_depth = 4;
  // Inputs of each release's aggregation (2 to kMaxGenFanIn): the two
  // branches of the diamond and fan_in - 2 partner sources.
  uint32_t fan_in = 3;
};

// 300 days before the start of the current UTC day (`now_seconds`): a
// node's default occurred_at window (400 days back, nothing ahead) takes
// the events of a run of up to about two million events, for 100 days
// after the day they were generated. The same on every call of one day.
int64_t DefaultGenStartSeconds(int64_t now_seconds);

inline constexpr uint32_t kMaxGenEventSize = 32 * 1024;
// Bounds of the workflow's shape: a release's events are generated
// together, so their number (about workflow_depth + fan_in + 15) bounds
// the generator's memory.
inline constexpr uint32_t kMaxGenWorkflowDepth = 1000;
inline constexpr uint32_t kMaxGenFanIn = 100;

// Produces the events one at a time; the same options (and, with the
// default start, the same day) give the same events.
class EventGenerator {
 public:
  explicit EventGenerator(GenEventsOptions options);

  struct Generated {
    v1::Event event;
    PlaintextPayload plain;  // padding to encrypt (options.size)
    bool has_plain = false;
  };
  // The next event, padded to options.size.
  absl::StatusOr<Generated> Next();

 private:
  uint64_t Random();
  uint64_t Uniform(uint64_t n) { return Random() % n; }
  std::string NewUuid();
  std::string ContentHash(std::string_view what);
  v1::Event Base(std::string_view type, std::string_view producer,
                 v1::ActorKind kind, std::string_view actor,
                 std::string_view role);
  void Refill();
  void Setup();
  void Staff();
  void FileInstruments();
  void RecordPia();
  // RFC 3339, one year after the simulated clock (a training's validity).
  std::string InOneYear() const;
  void ImportChunk();
  void AnnotateItem(uint64_t item);
  void CloseChunk();
  void Release();
  void Transfer(std::string_view artifact, std::string_view version,
                uint64_t items, bool abort_first);
  void Orphan();
  // Partner source k (1 to fan_in - 2) and its item count.
  std::string Partner(uint64_t k) const;
  static uint64_t PartnerItems(uint64_t k) { return 4000 + 1500 * k; }
  std::string DatasetHash(std::string_view id, std::string_view version);
  v1::Event Step(std::string_view type, std::string_view actor,
                 std::string_view run, std::string_view parent_run,
                 std::string_view state);
  absl::Status Pad(Generated& generated);

  GenEventsOptions options_;
  uint64_t state_;
  int64_t clock_ns_;
  std::string project_;
  std::string raw_dataset_;
  std::string curated_dataset_;
  // What the project's raw data is (the default policy grades it so).
  bool core_ = false;       // street-scenes: high-precision positions
  bool sensitive_ = false;  // clinical-notes: health data
  // The event_ids of the transfer instruments filed at setup ("" if none).
  std::string cac_assessment_;
  std::string standard_contract_;
  uint64_t dataset_version_ = 1;
  uint64_t releases_ = 0;
  uint64_t orphans_ = 0;
  uint64_t next_item_ = 1;
  uint64_t chunk_begin_ = 0;
  uint64_t chunk_end_ = 0;
  uint64_t cursor_ = 0;
  uint64_t chunks_ = 0;
  bool setup_done_ = false;
  std::deque<v1::Event> pending_;
};

// Writes options.count events, one JSON object per line (snake_case field
// names). InvalidArgument for a bad tenant, size, workflow_depth or fan_in.
absl::Status GenerateEvents(const GenEventsOptions& options, std::ostream& out);

}  // namespace ledger::ctl
