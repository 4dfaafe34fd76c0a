// The simulated annotation workflow behind `ledgerctl gen-events`: which
// events follow which, with what subjects, lineage, runs and attributes.
//
// Every random draw is a statement or a single call in its expression: the
// order in which C++ evaluates function arguments is unspecified, and two
// draws in one argument list would give different events with GCC and
// Clang.

#include <array>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "tools/ledgerctl/gen_events.h"
#include "tools/ledgerctl/gen_events_internal.h"

namespace ledger::ctl {
using gen_internal::AnnotationId;
using gen_internal::Annotator;
using gen_internal::ItemId;
using gen_internal::kAnnotators;
using gen_internal::kContractOnlyTransferPercent;
using gen_internal::kDpo;
using gen_internal::kDso;
using gen_internal::kEditAfterAcceptPerMille;
using gen_internal::kItemsPerChunk;
using gen_internal::kLabelStudio;
using gen_internal::kMlEngineer;
using gen_internal::kPipeline;
using gen_internal::kPlatform;
using gen_internal::kReviewers;
using gen_internal::kSelfReviewPerMille;
using gen_internal::kTempAnnotator;
using gen_internal::kUnapprovedExportPercent;
using gen_internal::kUnsampledReleasePercent;
using gen_internal::kUntrainedPerMille;
using gen_internal::Numbered;
using gen_internal::Reviewer;
using gen_internal::SetAttr;

namespace {

using Refs = google::protobuf::RepeatedPtrField<v1::SubjectRef>;

v1::SubjectRef* AddRef(Refs* refs, v1::SubjectKind kind, std::string_view id,
                       std::string_view version, std::string_view hash,
                       uint64_t item_count = 0) {
  v1::SubjectRef* ref = refs->Add();
  ref->set_kind(kind);
  ref->set_id(std::string(id));
  ref->set_version(std::string(version));
  ref->set_content_sha256(std::string(hash));
  ref->set_item_count(item_count);
  return ref;
}

// Where the partner sources come from (attribute "source" of their
// registration), in turn.
constexpr std::array<std::string_view, 4> kPartnerSources = {
    "partner:municipal-open-data", "vendor:crowd-capture-ltd",
    "partner:university-vision-lab", "vendor:synthetic-scenes-inc"};

// The steps of the chain after a release's aggregation, in turn.
struct ChainStep {
  std::string_view type;
  std::string_view method;
};
constexpr std::array<ChainStep, 5> kChainSteps = {{
    {"data.filtered", "drop-low-confidence-labels"},
    {"data.cleaned", "fix-out-of-frame-boxes"},
    {"data.deidentified", "redact-licence-plates"},
    {"data.cleaned", "normalise-class-names"},
    {"data.filtered", "balance-classes"},
}};

// Where cross-border transfers go: the destination region and recipient.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3>
    kDestinations = {{{"ap-southeast-1", "partner-lab-singapore"},
                      {"eu-central-1", "partner-lab-frankfurt"},
                      {"us-west-2", "model-vendor-oregon"}}};

// What each project's raw data is: declared at its registration
// (attributes data.domain, data.personal, data.precision_cm) and so
// classified by the default policy (deploy/risk-policy.toml), and graded
// alike by the data protection officer (grade.assigned).
struct ProjectFacts {
  std::string_view project;
  std::string_view domain;
  // data.precision_cm, "" if the data has no positions.
  std::string_view precision_cm;
  std::string_view level;
  std::string_view flags;
  // Persons in data sent abroad: one per this many items.
  uint64_t items_per_person;
};
constexpr std::array<ProjectFacts, 4> kProjectFacts = {{
    // The survey vehicles log every frame with RTK-GNSS positions to
    // 10 cm for HD maps: high-precision geographic data, which GB/T 43697
    // and the default policy grade core. Its exports need an approval
    // (R1), and it never leaves the country: this project has no
    // cross-border transfers. Faces and plates in the frames are PI.
    {"street-scenes", "geographic", "10", "core", "pi", 2},
    // Shoppers in the frames.
    {"retail-shelves", "retail", "", "general", "pi", 4},
    // Patients' health records: sensitive PI, important data; transfers
    // need a CAC security assessment (R2) and the project a PIA (R8).
    {"clinical-notes", "health", "", "important", "pi,sensitive_pi", 1},
    // Speakers' voices.
    {"speech-commands", "speech", "", "general", "pi", 10},
}};

const ProjectFacts& FactsOf(std::string_view project) {
  for (const ProjectFacts& f : kProjectFacts) {
    if (f.project == project) return f;
  }
  return kProjectFacts[1];  // not reached: every kProjects entry is above
}

// Attribute "run.state" of run events: "started" while a run works, and
// its end is an event with "completed", "failed" or "aborted". A run with
// no such event never ended (a provenance query lists it as an orphan).
constexpr std::string_view kRunState = "run.state";

}  // namespace

std::string EventGenerator::DatasetHash(std::string_view id,
                                        std::string_view version) {
  return ContentHash(StrCat(id, "@", version));
}

// An event of a pipeline step run by a service: its own run (`run`), part
// of the orchestrating run `parent_run` if not empty, in `state` if not
// empty.
v1::Event EventGenerator::Step(std::string_view type, std::string_view actor,
                               std::string_view run,
                               std::string_view parent_run,
                               std::string_view state) {
  v1::Event e =
      Base(type, kPipeline, v1::ACTOR_KIND_SERVICE, actor, "pipeline");
  e.set_run_id(std::string(run));
  e.set_parent_run_id(std::string(parent_run));
  if (!state.empty()) SetAttr(e, kRunState, state);
  e.set_purpose("data-processing");
  return e;
}

void EventGenerator::Setup() {
  const ProjectFacts& facts = FactsOf(project_);
  const std::string v1 = "v1";
  const std::string raw_hash = DatasetHash(raw_dataset_, v1);
  v1::Event reg = Base("dataset.registered", kPipeline, v1::ACTOR_KIND_SERVICE,
                       "svc-ingest", "pipeline");
  AddRef(reg.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_, v1,
         raw_hash, 0);
  SetAttr(reg, "collection_method", "field-capture");
  SetAttr(reg, "data.domain", facts.domain);
  SetAttr(reg, "data.personal", "true");
  if (!facts.precision_cm.empty()) {
    SetAttr(reg, "data.precision_cm", facts.precision_cm);
  }
  SetAttr(reg, "legal_basis", "contract");
  SetAttr(reg, "source", "vendor:acme-data-services");
  // The vendor's content scan (R15 reads it).
  SetAttr(reg, "source.illegal_share", "0.002");
  reg.set_purpose("dataset-onboarding");
  pending_.push_back(std::move(reg));

  // The partner sources that each release's aggregation merges in.
  for (uint64_t k = 1; k + 2 <= options_.fan_in; ++k) {
    const std::string partner = Partner(k);
    v1::Event p = Base("dataset.registered", kPipeline, v1::ACTOR_KIND_SERVICE,
                       "svc-ingest", "pipeline");
    AddRef(p.mutable_subjects(), v1::SUBJECT_KIND_DATASET, partner, v1,
           DatasetHash(partner, v1), PartnerItems(k));
    SetAttr(p, "collection_method", "licensed-dataset");
    SetAttr(p, "legal_basis", "data-licence-agreement");
    SetAttr(p, "source", kPartnerSources[(k - 1) % kPartnerSources.size()]);
    p.set_purpose("dataset-onboarding");
    pending_.push_back(std::move(p));
  }

  // Everybody who touches the data is trained before they do (R4),
  // including the officer who grades it next.
  Staff();

  v1::Event grade = Base("grade.assigned", kPlatform, v1::ACTOR_KIND_HUMAN,
                         kDpo, "data-protection-officer");
  AddRef(grade.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_, v1,
         raw_hash);
  SetAttr(grade, "basis", "GB/T 43697-2024 4.2: scale and precision");
  SetAttr(grade, "grade.flags", facts.flags);
  SetAttr(grade, "grade.level", facts.level);
  grade.set_purpose("classification");
  pending_.push_back(std::move(grade));

  FileInstruments();
  RecordPia();
}

void EventGenerator::Staff() {
  struct Person {
    std::string id;
    std::string_view role;
    std::string_view course;
  };
  std::vector<Person> people = {
      {std::string(kDpo), "data-protection-officer",
       "data-classification-gbt-43697"},
      {std::string(kDso), "data-security-officer", "data-export-controls"},
      {std::string(kMlEngineer), "ml-engineer", "data-export-controls"},
  };
  for (uint64_t i = 1; i <= kAnnotators; ++i) {
    people.push_back(
        {Annotator(i), "annotator", "annotation-data-security-101"});
  }
  for (uint64_t i = 1; i <= kReviewers; ++i) {
    people.push_back({Reviewer(i), "reviewer", "annotation-data-security-101"});
  }
  for (const Person& person : people) {
    v1::Event t = Base("training.completed", kPlatform, v1::ACTOR_KIND_HUMAN,
                       person.id, person.role);
    SetAttr(t, "course", person.course);
    SetAttr(t, "expires_at", InOneYear());
    SetAttr(t, "score", StrCat(80 + Uniform(21)));
    t.set_purpose("qualification");
    pending_.push_back(std::move(t));
  }
  // The reviewers passed the reviewers' assessment too, as the learning
  // system records.
  for (uint64_t i = 1; i <= kReviewers; ++i) {
    v1::Event q = Base("qualification.granted", kPlatform,
                       v1::ACTOR_KIND_SERVICE, "svc-lms", "learning-system");
    SetAttr(q, "expires_at", InOneYear());
    SetAttr(q, "person", Reviewer(i));
    SetAttr(q, "qualification", "annotation-reviewer");
    q.set_purpose("qualification");
    pending_.push_back(std::move(q));
  }
}

// The legal instruments for cross-border transfers, filed once: a PIPL
// standard contract for personal information, and for important data the
// CAC security assessment (valid three years). Core data is not sent
// abroad, so a core project files none.
void EventGenerator::FileInstruments() {
  if (core_) return;
  auto file = [&](std::string_view kind, std::string_view id) {
    v1::Event f = Base("export_assessment.filed", kPlatform,
                       v1::ACTOR_KIND_HUMAN, kDpo, "data-protection-officer");
    SetAttr(f, "assessment.id", id);
    SetAttr(f, "assessment.kind", kind);
    SetAttr(f, "scope", StrCat(curated_dataset_, "/export to partner labs"));
    f.set_purpose("compliance");
    std::string event_id = f.event_id();
    pending_.push_back(std::move(f));
    return event_id;
  };
  const uint64_t number = 1 + Uniform(40);
  standard_contract_ =
      file("standard_contract", Numbered("SCC-2025-", number, 4));
  if (FactsOf(project_).level == "important") {
    cac_assessment_ = file("cac_security_assessment",
                           Numbered("CAC-ASSESS-2025-", number, 4));
  }
}

// The personal information protection impact assessment for sensitive
// data (R8): it names every dataset the project's processing reads or
// writes, in events of at most 500 subjects.
void EventGenerator::RecordPia() {
  if (!sensitive_) return;
  const std::string base = StrCat(options_.tenant, "/", project_);
  std::vector<std::string> ids = {
      raw_dataset_, StrCat(base, "/filtered"), StrCat(base, "/cleaned"),
      StrCat(base, "/deidentified"), StrCat(base, "/merged")};
  for (uint32_t i = 1; i <= options_.workflow_depth; ++i) {
    ids.push_back(StrCat(base, "/stage-", Numbered("", i, 2)));
  }
  const std::string artifact = StrCat(curated_dataset_, "/export");
  ids.push_back(curated_dataset_);
  ids.push_back(artifact);
  for (const auto& [region, recipient] : kDestinations) {
    ids.push_back(StrCat(artifact, "-", region));
  }
  constexpr size_t kPerEvent = 500;
  const size_t parts = (ids.size() + kPerEvent - 1) / kPerEvent;
  for (size_t part = 0; part < parts; ++part) {
    v1::Event pia = Base("pia.recorded", kPlatform, v1::ACTOR_KIND_HUMAN, kDpo,
                         "data-protection-officer");
    for (size_t i = part * kPerEvent;
         i < ids.size() && i < (part + 1) * kPerEvent; ++i) {
      // The datasets by id: the assessment covers every version.
      AddRef(pia.mutable_subjects(), v1::SUBJECT_KIND_DATASET, ids[i], "", "");
    }
    SetAttr(pia, "part", StrCat(part + 1, "/", parts));
    SetAttr(pia, "pia.id", "PIA-2025-0001");
    SetAttr(pia, "scope", "annotation and model-training pipeline");
    pia.set_purpose("compliance");
    pending_.push_back(std::move(pia));
  }
}

std::string EventGenerator::Partner(uint64_t k) const {
  return StrCat(options_.tenant, "/", project_, "/partner-",
                Numbered("", k, 2));
}

void EventGenerator::ImportChunk() {
  chunk_begin_ = next_item_;
  chunk_end_ = next_item_ + kItemsPerChunk;
  next_item_ = chunk_end_;
  cursor_ = chunk_begin_;
  v1::Event imp = Base("item.imported", kPipeline, v1::ACTOR_KIND_SERVICE,
                       "svc-ingest", "pipeline");
  AddRef(imp.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_, "v1",
         DatasetHash(raw_dataset_, "v1"), chunk_end_ - 1);
  for (uint64_t i = chunk_begin_; i < chunk_end_; ++i) {
    AddRef(imp.mutable_outputs(), v1::SUBJECT_KIND_ITEM, ItemId(i), "v1",
           ContentHash(ItemId(i)));
  }
  SetAttr(imp, "batch", Numbered("import-", chunks_ + 1, 4));
  // An import is a run of one event, which ends it.
  imp.set_run_id(imp.event_id());
  SetAttr(imp, kRunState, "completed");
  pending_.push_back(std::move(imp));
}

void EventGenerator::AnnotateItem(uint64_t item) {
  const std::string item_id = ItemId(item);
  const std::string item_hash = ContentHash(item_id);
  const uint64_t annotator_number = 1 + Uniform(kAnnotators);
  std::string annotator = Annotator(annotator_number);
  const std::string reviewer = Reviewer(1 + Uniform(kReviewers));
  const std::string task = Numbered("task-", item, 6);
  // The QA batch the item is released in (CloseChunk).
  const std::string batch = Numbered("batch-", chunks_ + 1, 4);
  // Now and then a vendor's untrained contractor takes the task (R4).
  if (Uniform(1000) < kUntrainedPerMille) {
    annotator = std::string(kTempAnnotator);
  }

  auto assign = [&] {
    v1::Event a = Base("task.assigned", kLabelStudio, v1::ACTOR_KIND_SERVICE,
                       "svc-scheduler", "scheduler");
    AddRef(a.mutable_subjects(), v1::SUBJECT_KIND_ITEM, item_id, "v1",
           item_hash);
    SetAttr(a, "assignee", annotator);
    SetAttr(a, "task.id", task);
    pending_.push_back(std::move(a));
  };
  assign();

  // The revision being worked on, and the one it starts from (0: the
  // model's draft; -1: none).
  uint64_t revision = 1;
  int64_t based_on = -1;
  auto annotation_event = [&](std::string_view type, bool with_content) {
    const std::string anno = AnnotationId(item, revision);
    v1::Event e =
        Base(type, kLabelStudio, v1::ACTOR_KIND_HUMAN, annotator, "annotator");
    AddRef(e.mutable_subjects(), v1::SUBJECT_KIND_ITEM, item_id, "v1",
           item_hash);
    AddRef(e.mutable_subjects(), v1::SUBJECT_KIND_ANNOTATION, anno,
           StrCat("r", revision), with_content ? ContentHash(anno) : "");
    if (with_content) {
      AddRef(e.mutable_inputs(), v1::SUBJECT_KIND_ITEM, item_id, "v1",
             item_hash);
      if (based_on >= 0) {
        const std::string previous =
            AnnotationId(item, static_cast<uint64_t>(based_on));
        AddRef(e.mutable_inputs(), v1::SUBJECT_KIND_ANNOTATION, previous,
               StrCat("r", based_on), ContentHash(previous));
      }
      AddRef(e.mutable_outputs(), v1::SUBJECT_KIND_ANNOTATION, anno,
             StrCat("r", revision), ContentHash(anno));
      SetAttr(e, "label_count", StrCat(1 + Uniform(12)));
      SetAttr(e, "lead_time_ms", StrCat(5000 + Uniform(120000)));
      based_on = static_cast<int64_t>(revision);
    }
    SetAttr(e, "task.id", task);
    pending_.push_back(std::move(e));
  };

  if (Uniform(100) < 60) {
    v1::Event pre = Base("prelabel.applied", kLabelStudio, v1::ACTOR_KIND_MODEL,
                         "prelabel-yolo-v8", "prelabeler");
    AddRef(pre.mutable_subjects(), v1::SUBJECT_KIND_ITEM, item_id, "v1",
           item_hash);
    // The model read the item and wrote a draft annotation ("r0"), which
    // the annotator's revisions then replace.
    AddRef(pre.mutable_inputs(), v1::SUBJECT_KIND_ITEM, item_id, "v1",
           item_hash);
    const std::string draft = AnnotationId(item, 0);
    AddRef(pre.mutable_outputs(), v1::SUBJECT_KIND_ANNOTATION, draft, "r0",
           ContentHash(draft));
    SetAttr(pre, "confidence", StrCat("0.", 50 + Uniform(50)));
    SetAttr(pre, "model_id", "prelabel-yolo-v8@sha256:3f9a");
    pending_.push_back(std::move(pre));
    based_on = 0;
  }
  annotation_event("annotation.created", true);
  if (Uniform(100) < 20) {
    // The annotator corrects their own work before submitting it.
    ++revision;
    annotation_event("annotation.updated", true);
  }
  annotation_event("annotation.submitted", false);

  auto review = [&](std::string_view type, std::string_view who,
                    std::string_view role) {
    v1::Event r = Base(type, kLabelStudio, v1::ACTOR_KIND_HUMAN, who, role);
    AddRef(r.mutable_subjects(), v1::SUBJECT_KIND_ITEM, item_id, "v1",
           item_hash);
    const std::string anno = AnnotationId(item, revision);
    AddRef(r.mutable_subjects(), v1::SUBJECT_KIND_ANNOTATION, anno,
           StrCat("r", revision), ContentHash(anno));
    SetAttr(r, "batch.id", batch);
    SetAttr(r, "task.id", task);
    r.set_purpose("quality-inspection");
    return r;
  };
  if (Uniform(100) < 10) {
    v1::Event view = Base("item.viewed", kLabelStudio, v1::ACTOR_KIND_HUMAN,
                          reviewer, "reviewer");
    AddRef(view.mutable_subjects(), v1::SUBJECT_KIND_ITEM, item_id, "v1",
           item_hash);
    view.set_purpose("quality-inspection");
    pending_.push_back(std::move(view));
  }
  if (Uniform(100) < 15) {
    v1::Event rejected = review("review.rejected", reviewer, "reviewer");
    SetAttr(rejected, "review.issue_tags", "missed-object,loose-bbox");
    pending_.push_back(std::move(rejected));
    ++revision;
    annotation_event("annotation.updated", true);
    annotation_event("annotation.submitted", false);
  }
  // Now and then the annotator accepts their own work in place of the
  // busy reviewer (R5).
  if (Uniform(1000) < kSelfReviewPerMille) {
    pending_.push_back(review("review.accepted", annotator, "reviewer"));
  } else {
    pending_.push_back(review("review.accepted", reviewer, "reviewer"));
  }
  if (Uniform(100) < 4) {
    // The QA lead reopens an accepted annotation (a sample disagreed); the
    // task goes to another annotator, whose rework is reviewed again.
    v1::Event reopened = review("review.reopened", Reviewer(1), "qa-lead");
    SetAttr(reopened, "reason", "qa-sample-disagreement");
    pending_.push_back(std::move(reopened));
    const uint64_t other =
        (annotator_number + Uniform(kAnnotators - 1)) % kAnnotators;
    annotator = Annotator(1 + other);
    assign();
    ++revision;
    annotation_event("annotation.updated", true);
    annotation_event("annotation.submitted", false);
    pending_.push_back(review("review.accepted", reviewer, "reviewer"));
  }
  // Now and then the annotator fixes the accepted item without having it
  // reopened: the change goes unreviewed (R6).
  if (Uniform(1000) < kEditAfterAcceptPerMille) {
    ++revision;
    annotation_event("annotation.updated", true);
  }
}

void EventGenerator::CloseChunk() {
  ++chunks_;
  const std::string batch = Numbered("batch-", chunks_, 4);
  const std::string raw_hash = DatasetHash(raw_dataset_, "v1");
  // The QA lead's spot-check of the batch before its release (R13), which
  // a batch under deadline pressure now and then skips.
  const bool spot_check =
      chunks_ == 1 || Uniform(100) >= kUnsampledReleasePercent;
  if (spot_check) {
    v1::Event sample = Base("qa.sample_drawn", kPlatform, v1::ACTOR_KIND_HUMAN,
                            Reviewer(1), "qa-lead");
    AddRef(sample.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_,
           "v1", raw_hash, kItemsPerChunk);
    SetAttr(sample, "batch.id", batch);
    SetAttr(sample, "plan", "ISO-2859-1 level II, AQL 2.5");
    SetAttr(sample, "seed", StrCat(Random() % 1'000'000));
    sample.set_purpose("quality-inspection");
    pending_.push_back(std::move(sample));

    v1::Event metrics = Base("qa.metrics_recorded", kPlatform,
                             v1::ACTOR_KIND_HUMAN, Reviewer(1), "qa-lead");
    AddRef(metrics.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_,
           "v1", raw_hash, kItemsPerChunk);
    SetAttr(metrics, "accuracy", StrCat("0.9", Uniform(10)));
    SetAttr(metrics, "agreement_kappa", StrCat("0.8", Uniform(10)));
    SetAttr(metrics, "batch.id", batch);
    metrics.set_purpose("quality-inspection");
    pending_.push_back(std::move(metrics));
  }

  v1::Event release = Base("batch.released", kPlatform, v1::ACTOR_KIND_HUMAN,
                           Reviewer(1), "qa-lead");
  AddRef(release.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_,
         "v1", raw_hash, kItemsPerChunk);
  SetAttr(release, "batch.id", batch);
  release.set_purpose("quality-inspection");
  pending_.push_back(std::move(release));
  // A pilot release after the first batch, then one every five batches.
  if (chunks_ == 1 || chunks_ % 5 == 0) Release();
}

void EventGenerator::Release() {
  const uint64_t release = ++releases_;
  // The pilot release meets every teething problem once (a stalled worker,
  // a failed step, an export without approval, an aborted transfer, an
  // analyst's orphan dataset), so a short run of the generator shows each;
  // later releases meet them by chance.
  const bool pilot = release == 1;
  const std::string old_version = StrCat("v", dataset_version_);
  const std::string new_version = StrCat("v", ++dataset_version_);
  // The intermediate datasets of this release.
  const std::string step_version = StrCat("v", release);
  const std::string base = StrCat(options_.tenant, "/", project_);
  const uint64_t items = next_item_ - 1;
  const uint64_t partners = options_.fan_in - 2;
  auto dataset = [&](Refs* refs, std::string_view id, std::string_view version,
                     uint64_t count) {
    AddRef(refs, v1::SUBJECT_KIND_DATASET, id, version,
           DatasetHash(id, version), count);
  };

  // The orchestrating run snapshots its sources; the new dataset version
  // ends it.
  const std::string pipeline_run = NewUuid();
  v1::Event start =
      Step("dataset.queried", "svc-pipeline", pipeline_run, "", "started");
  dataset(start.mutable_subjects(), raw_dataset_, "v1", items);
  for (uint64_t k = 1; k <= partners; ++k) {
    dataset(start.mutable_subjects(), Partner(k), "v1", PartnerItems(k));
  }
  SetAttr(start, "release", Numbered("release-", release, 3));
  pending_.push_back(std::move(start));

  if (pilot || Uniform(100) < 15) {
    // A worker that took a shard and died: its run never ends.
    const std::string shard = StrCat(Uniform(16), "/16");
    v1::Event stalled = Step("dataset.queried", "svc-worker", NewUuid(),
                             pipeline_run, "started");
    dataset(stalled.mutable_subjects(), raw_dataset_, "v1", items);
    SetAttr(stalled, "shard", shard);
    pending_.push_back(std::move(stalled));
  }

  const std::string filtered = StrCat(base, "/filtered");
  const uint64_t kept = items - items / (10 + Uniform(10));
  v1::Event filter = Step("data.filtered", "svc-pipeline", NewUuid(),
                          pipeline_run, "completed");
  dataset(filter.mutable_inputs(), raw_dataset_, "v1", items);
  dataset(filter.mutable_outputs(), filtered, step_version, kept);
  SetAttr(filter, "method", "drop-blurred,min-resolution-640");
  pending_.push_back(std::move(filter));

  // Two branches of the filtered data (a diamond, merged below): the
  // images are cleaned, their metadata de-identified.
  if (pilot || Uniform(100) < 10) {
    v1::Event failed =
        Step("data.cleaned", "svc-pipeline", NewUuid(), pipeline_run, "failed");
    dataset(failed.mutable_inputs(), filtered, step_version, kept);
    failed.mutable_outcome()->set_status(v1::OUTCOME_STATUS_FAILURE);
    failed.mutable_outcome()->set_error_code("OOM_KILLED");
    SetAttr(failed, "attempt", "1");
    SetAttr(failed, "part", "images");
    pending_.push_back(std::move(failed));
  }
  const std::string cleaned = StrCat(base, "/cleaned");
  v1::Event clean = Step("data.cleaned", "svc-pipeline", NewUuid(),
                         pipeline_run, "completed");
  dataset(clean.mutable_inputs(), filtered, step_version, kept);
  dataset(clean.mutable_outputs(), cleaned, step_version, kept);
  SetAttr(clean, "method", "dedupe+fix-exif-rotation");
  SetAttr(clean, "part", "images");
  pending_.push_back(std::move(clean));

  const std::string deidentified = StrCat(base, "/deidentified");
  v1::Event deid = Step("data.deidentified", "svc-deid", NewUuid(),
                        pipeline_run, "completed");
  dataset(deid.mutable_inputs(), filtered, step_version, kept);
  dataset(deid.mutable_outputs(), deidentified, step_version, kept);
  // Approved by the data protection officer, so the de-identified branch
  // no longer carries the PI flags (docs/risk-rules.md, propagation).
  SetAttr(deid, "approver", kDpo);
  SetAttr(deid, "deid.method", "blur-faces+drop-gps+k-anonymity-5");
  SetAttr(deid, "method", "blur-faces+drop-gps+k-anonymity-5");
  SetAttr(deid, "part", "metadata");
  pending_.push_back(std::move(deid));

  uint64_t merged_items = kept;
  for (uint64_t k = 1; k <= partners; ++k) {
    v1::Event p = Step("data.cleaned", "svc-pipeline", NewUuid(), pipeline_run,
                       "completed");
    dataset(p.mutable_inputs(), Partner(k), "v1", PartnerItems(k));
    dataset(p.mutable_outputs(), StrCat(Partner(k), "/cleaned"), step_version,
            PartnerItems(k));
    SetAttr(p, "method", "convert-to-house-schema");
    pending_.push_back(std::move(p));
    merged_items += PartnerItems(k);
  }

  // The merge: both branches and every partner source (fan-in fan_in).
  const std::string merged = StrCat(base, "/merged");
  v1::Event merge = Step("data.aggregated", "svc-pipeline", NewUuid(),
                         pipeline_run, "completed");
  dataset(merge.mutable_inputs(), cleaned, step_version, kept);
  dataset(merge.mutable_inputs(), deidentified, step_version, kept);
  for (uint64_t k = 1; k <= partners; ++k) {
    dataset(merge.mutable_inputs(), StrCat(Partner(k), "/cleaned"),
            step_version, PartnerItems(k));
  }
  dataset(merge.mutable_outputs(), merged, step_version, merged_items);
  SetAttr(merge, "method", "join-images-metadata+union-sources");
  pending_.push_back(std::move(merge));

  // The chain: workflow_depth steps of one input and one output each.
  std::string previous = merged;
  uint64_t count = merged_items;
  for (uint32_t i = 1; i <= options_.workflow_depth; ++i) {
    const ChainStep& s = kChainSteps[(i - 1) % kChainSteps.size()];
    const std::string stage = StrCat(base, "/stage-", Numbered("", i, 2));
    v1::Event e =
        Step(s.type, "svc-pipeline", NewUuid(), pipeline_run, "completed");
    dataset(e.mutable_inputs(), previous, step_version, count);
    if (s.type == "data.filtered") count -= count / 50;
    dataset(e.mutable_outputs(), stage, step_version, count);
    if (s.type == "data.deidentified") {
      SetAttr(e, "approver", kDpo);
      SetAttr(e, "deid.method", s.method);
    }
    SetAttr(e, "method", s.method);
    SetAttr(e, "step", StrCat(i, "/", options_.workflow_depth));
    pending_.push_back(std::move(e));
    previous = stage;
  }

  const std::string curated_hash = DatasetHash(curated_dataset_, new_version);
  v1::Event version = Step("dataset.version_created", "svc-pipeline",
                           pipeline_run, "", "completed");
  AddRef(version.mutable_subjects(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
         new_version, curated_hash, count);
  // Lineage: the chain's last dataset and the previous curated version
  // (the first release, v2, has none).
  dataset(version.mutable_inputs(), previous, step_version, count);
  if (!pilot) {
    dataset(version.mutable_inputs(), curated_dataset_, old_version, items);
    SetAttr(version, "previous_version", old_version);
  }
  AddRef(version.mutable_outputs(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
         new_version, curated_hash, count);
  pending_.push_back(std::move(version));

  // Every export is approved by the data security officer first (R1 asks
  // it for core data) - except the pilot's, which went out before the
  // approval step existed, and now and then a later one.
  const bool approved = !pilot && Uniform(100) >= kUnapprovedExportPercent;
  std::string approval;
  if (approved) {
    v1::Event a = Base("approval.granted", kPlatform, v1::ACTOR_KIND_HUMAN,
                       kDso, "data-security-officer");
    AddRef(a.mutable_subjects(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
           new_version, curated_hash, count);
    SetAttr(a, "approval.scope", "dataset.exported");
    SetAttr(a, "destination", "s3://training-bucket/curated");
    SetAttr(a, "ticket", Numbered("APR-2025-", dataset_version_, 4));
    a.set_purpose("compliance");
    approval = a.event_id();
    pending_.push_back(std::move(a));
  }
  v1::Event exp = Base("dataset.exported", kPlatform, v1::ACTOR_KIND_HUMAN,
                       kMlEngineer, "ml-engineer");
  AddRef(exp.mutable_subjects(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
         new_version, curated_hash, count);
  AddRef(exp.mutable_inputs(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
         new_version, curated_hash, count);
  // The export artifact, a dataset of its own.
  const std::string artifact = StrCat(curated_dataset_, "/export");
  dataset(exp.mutable_outputs(), artifact, new_version, count);
  if (approved) SetAttr(exp, "approval.ref", approval);
  SetAttr(exp, "destination", "s3://training-bucket/curated");
  SetAttr(exp, "format", "coco-json");
  exp.set_run_id(NewUuid());
  SetAttr(exp, kRunState, "completed");
  exp.set_purpose("model-training");
  pending_.push_back(std::move(exp));

  // Core data stays in the country.
  if (!core_ && (pilot || Uniform(100) < 40)) {
    const bool abort_first = pilot || Uniform(100) < 10;
    Transfer(artifact, new_version, count, abort_first);
  }
  if (pilot || Uniform(100) < 10) Orphan();
}

void EventGenerator::Transfer(std::string_view artifact,
                              std::string_view version, uint64_t items,
                              bool abort_first) {
  // Named variables, not a structured binding: lambdas capture these.
  const auto& destination = kDestinations[Uniform(kDestinations.size())];
  const std::string_view region = destination.first;
  const std::string_view recipient = destination.second;
  // Important data needs the CAC security assessment (R2); now and then
  // the transfer agent names the standard contract instead. Other
  // personal information goes under the standard contract (R3).
  const bool important = !cac_assessment_.empty();
  const bool contract_only =
      important && Uniform(100) < kContractOnlyTransferPercent;
  const std::string& assessment =
      important && !contract_only ? cac_assessment_ : standard_contract_;
  // The persons whose information the data holds (R3 counts them per
  // year); all of them sensitive in sensitive data.
  const uint64_t persons = items / FactsOf(project_).items_per_person;
  auto transfer = [&](bool aborted) {
    // The event's region is where the data left from.
    v1::Event t =
        Base("data.transferred_cross_border", kPipeline, v1::ACTOR_KIND_SERVICE,
             "svc-transfer", "transfer-agent");
    t.set_run_id(NewUuid());
    SetAttr(t, kRunState, aborted ? "aborted" : "completed");
    AddRef(t.mutable_inputs(), v1::SUBJECT_KIND_DATASET, artifact, version,
           DatasetHash(artifact, version), items);
    if (aborted) {
      // Stopped before any byte left: nothing was produced.
      t.mutable_outcome()->set_status(v1::OUTCOME_STATUS_FAILURE);
      t.mutable_outcome()->set_error_code("APPROVAL_WITHDRAWN");
    } else {
      const std::string copy = StrCat(artifact, "-", region);
      AddRef(t.mutable_outputs(), v1::SUBJECT_KIND_DATASET, copy, version,
             DatasetHash(copy, version), items);
    }
    SetAttr(t, "assessment.ref", assessment);
    SetAttr(t, "destination_region", region);
    SetAttr(t, "legal_basis",
            assessment == cac_assessment_ ? "cac-security-assessment"
                                          : "standard-contract");
    // Nothing left in an aborted transfer.
    const uint64_t sent = aborted ? 0 : persons;
    SetAttr(t, "transfer.pi_persons", StrCat(sent));
    SetAttr(t, "transfer.sensitive_pi_persons", StrCat(sensitive_ ? sent : 0));
    SetAttr(t, "recipient", recipient);
    t.set_purpose("model-training");
    pending_.push_back(std::move(t));
  };
  if (abort_first) transfer(true);
  transfer(false);
}

// An analyst's dataset whose source nobody recorded: either never
// registered or registered without a "source"; a sample is drawn from it.
// Neither reaches a registered source upstream (provenance orphans).
void EventGenerator::Orphan() {
  const uint64_t n = ++orphans_;
  const std::string scratch =
      StrCat(options_.tenant, "/", project_, "/scratch-", Numbered("", n, 3));
  const uint64_t items = 200 + Uniform(5000);
  if (n % 2 == 0) {
    v1::Event reg = Base("dataset.registered", kPlatform, v1::ACTOR_KIND_HUMAN,
                         "data-scientist-01", "data-scientist");
    AddRef(reg.mutable_subjects(), v1::SUBJECT_KIND_DATASET, scratch, "v1",
           DatasetHash(scratch, "v1"), items);
    SetAttr(reg, "collection_method", "unknown");
    SetAttr(reg, "note", "copied from a shared drive; origin not recorded");
    reg.set_purpose("exploration");
    pending_.push_back(std::move(reg));
  }
  const std::string sample = StrCat(scratch, "/sample");
  v1::Event e = Base("data.filtered", kPlatform, v1::ACTOR_KIND_HUMAN,
                     "data-scientist-01", "data-scientist");
  AddRef(e.mutable_inputs(), v1::SUBJECT_KIND_DATASET, scratch, "v1",
         DatasetHash(scratch, "v1"), items);
  AddRef(e.mutable_outputs(), v1::SUBJECT_KIND_DATASET, sample, "v1",
         DatasetHash(sample, "v1"), items / 10);
  SetAttr(e, "method", "random-sample-10pct");
  e.set_run_id(NewUuid());
  SetAttr(e, kRunState, "completed");
  e.set_purpose("exploration");
  pending_.push_back(std::move(e));
}

}  // namespace ledger::ctl
