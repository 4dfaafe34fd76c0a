// The simulated annotation workflow behind `ledgerctl gen-events`: which
// events follow which, with what subjects and attributes.

#include "base/strings.h"
#include "tools/ledgerctl/gen_events.h"
#include "tools/ledgerctl/gen_events_internal.h"

namespace ledger::ctl {
using gen_internal::AnnotationId;
using gen_internal::Annotator;
using gen_internal::ItemId;
using gen_internal::kAnnotators;
using gen_internal::kItemsPerChunk;
using gen_internal::kLabelStudio;
using gen_internal::kPipeline;
using gen_internal::kPlatform;
using gen_internal::kReviewers;
using gen_internal::Numbered;
using gen_internal::Reviewer;
using gen_internal::SetAttr;

namespace {

v1::SubjectRef* AddRef(google::protobuf::RepeatedPtrField<v1::SubjectRef>* refs,
                       v1::SubjectKind kind, std::string_view id,
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

}  // namespace

void EventGenerator::Setup() {
  const std::string v1 = "v1";
  v1::Event reg = Base("dataset.registered", kPipeline, v1::ACTOR_KIND_SERVICE,
                       "svc-ingest", "pipeline");
  AddRef(reg.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_, v1,
         ContentHash(raw_dataset_), 0);
  SetAttr(reg, "collection_method", "field-capture");
  SetAttr(reg, "legal_basis", "contract");
  SetAttr(reg, "source", "vendor:acme-data-services");
  reg.set_purpose("dataset-onboarding");
  pending_.push_back(std::move(reg));

  v1::Event grade = Base("grade.assigned", kPlatform, v1::ACTOR_KIND_HUMAN,
                         "dpo-01", "data-protection-officer");
  AddRef(grade.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_, v1,
         ContentHash(raw_dataset_));
  SetAttr(grade, "basis", "GB/T 43697-2024 4.2: scale and precision");
  SetAttr(grade, "flags",
          project_ == "clinical-notes" ? "pi,sensitive_pi" : "pi");
  SetAttr(grade, "level",
          project_ == "clinical-notes" ? "important" : "general");
  grade.set_purpose("classification");
  pending_.push_back(std::move(grade));

  for (uint64_t i = 1; i <= kAnnotators + kReviewers; ++i) {
    const bool reviewer = i > kAnnotators;
    const std::string who = reviewer ? Reviewer(i - kAnnotators) : Annotator(i);
    v1::Event t = Base("training.completed", kPlatform, v1::ACTOR_KIND_HUMAN,
                       who, reviewer ? "reviewer" : "annotator");
    SetAttr(t, "course", "annotation-data-security-101");
    SetAttr(t, "expires", "2026-03-01");
    SetAttr(t, "score", StrCat(80 + Uniform(21)));
    t.set_purpose("qualification");
    pending_.push_back(std::move(t));
  }
}

void EventGenerator::ImportChunk() {
  chunk_begin_ = next_item_;
  chunk_end_ = next_item_ + kItemsPerChunk;
  next_item_ = chunk_end_;
  cursor_ = chunk_begin_;
  v1::Event imp = Base("item.imported", kPipeline, v1::ACTOR_KIND_SERVICE,
                       "svc-ingest", "pipeline");
  AddRef(imp.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_, "v1",
         ContentHash(raw_dataset_), chunk_end_ - 1);
  for (uint64_t i = chunk_begin_; i < chunk_end_; ++i) {
    AddRef(imp.mutable_outputs(), v1::SUBJECT_KIND_ITEM, ItemId(i), "v1",
           ContentHash(ItemId(i)));
  }
  SetAttr(imp, "batch", Numbered("import-", chunks_ + 1, 4));
  imp.set_run_id(imp.event_id());
  pending_.push_back(std::move(imp));
}

void EventGenerator::AnnotateItem(uint64_t item) {
  const std::string item_id = ItemId(item);
  const std::string item_hash = ContentHash(item_id);
  const std::string annotator = Annotator(1 + Uniform(kAnnotators));
  const std::string reviewer = Reviewer(1 + Uniform(kReviewers));
  const std::string task = Numbered("task-", item, 6);

  v1::Event assign = Base("task.assigned", kLabelStudio, v1::ACTOR_KIND_SERVICE,
                          "svc-scheduler", "scheduler");
  AddRef(assign.mutable_subjects(), v1::SUBJECT_KIND_ITEM, item_id, "v1",
         item_hash);
  SetAttr(assign, "assignee", annotator);
  SetAttr(assign, "task_id", task);
  pending_.push_back(std::move(assign));

  uint64_t revision = 1;
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
      AddRef(e.mutable_outputs(), v1::SUBJECT_KIND_ANNOTATION, anno,
             StrCat("r", revision), ContentHash(anno));
      SetAttr(e, "label_count", StrCat(1 + Uniform(12)));
      SetAttr(e, "lead_time_ms", StrCat(5000 + Uniform(120000)));
    }
    SetAttr(e, "task_id", task);
    return e;
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
  }
  pending_.push_back(annotation_event("annotation.created", true));
  pending_.push_back(annotation_event("annotation.submitted", false));

  auto review = [&](std::string_view type) {
    v1::Event r =
        Base(type, kLabelStudio, v1::ACTOR_KIND_HUMAN, reviewer, "reviewer");
    AddRef(r.mutable_subjects(), v1::SUBJECT_KIND_ITEM, item_id, "v1",
           item_hash);
    const std::string anno = AnnotationId(item, revision);
    AddRef(r.mutable_subjects(), v1::SUBJECT_KIND_ANNOTATION, anno,
           StrCat("r", revision), ContentHash(anno));
    SetAttr(r, "task_id", task);
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
    v1::Event rejected = review("review.rejected");
    SetAttr(rejected, "issue_tags", "missed-object,loose-bbox");
    pending_.push_back(std::move(rejected));
    ++revision;
    pending_.push_back(annotation_event("annotation.updated", true));
    pending_.push_back(annotation_event("annotation.submitted", false));
  }
  pending_.push_back(review("review.accepted"));
}

void EventGenerator::CloseChunk() {
  ++chunks_;
  const std::string batch = Numbered("batch-", chunks_, 4);
  v1::Event sample = Base("qa.sample_drawn", kPlatform, v1::ACTOR_KIND_HUMAN,
                          Reviewer(1), "qa-lead");
  AddRef(sample.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_,
         "v1", ContentHash(raw_dataset_), kItemsPerChunk);
  SetAttr(sample, "batch", batch);
  SetAttr(sample, "plan", "ISO-2859-1 level II, AQL 2.5");
  SetAttr(sample, "seed", StrCat(Random() % 1'000'000));
  sample.set_purpose("quality-inspection");
  pending_.push_back(std::move(sample));

  v1::Event metrics = Base("qa.metrics_recorded", kPlatform,
                           v1::ACTOR_KIND_HUMAN, Reviewer(1), "qa-lead");
  AddRef(metrics.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_,
         "v1", ContentHash(raw_dataset_), kItemsPerChunk);
  SetAttr(metrics, "accuracy", StrCat("0.9", Uniform(10)));
  SetAttr(metrics, "agreement_kappa", StrCat("0.8", Uniform(10)));
  SetAttr(metrics, "batch", batch);
  metrics.set_purpose("quality-inspection");
  pending_.push_back(std::move(metrics));

  v1::Event release = Base("batch.released", kPlatform, v1::ACTOR_KIND_HUMAN,
                           Reviewer(1), "qa-lead");
  AddRef(release.mutable_subjects(), v1::SUBJECT_KIND_DATASET, raw_dataset_,
         "v1", ContentHash(raw_dataset_), kItemsPerChunk);
  SetAttr(release, "batch", batch);
  release.set_purpose("quality-inspection");
  pending_.push_back(std::move(release));
  if (chunks_ % 5 == 0) Release();
}

void EventGenerator::Release() {
  const std::string old_version = StrCat("v", dataset_version_);
  const std::string new_version = StrCat("v", ++dataset_version_);
  const std::string run = NewUuid();
  const std::string curated_hash =
      ContentHash(StrCat(curated_dataset_, "@", new_version));
  const uint64_t items = next_item_ - 1;

  v1::Event clean = Base("data.cleaned", kPipeline, v1::ACTOR_KIND_SERVICE,
                         "svc-pipeline", "pipeline");
  AddRef(clean.mutable_inputs(), v1::SUBJECT_KIND_DATASET, raw_dataset_, "v1",
         ContentHash(raw_dataset_), items);
  AddRef(clean.mutable_outputs(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
         new_version, curated_hash, items);
  SetAttr(clean, "method", "dedupe+blur-faces");
  clean.set_run_id(run);
  clean.set_purpose("data-processing");
  pending_.push_back(std::move(clean));

  v1::Event version = Base("dataset.version_created", kPipeline,
                           v1::ACTOR_KIND_SERVICE, "svc-pipeline", "pipeline");
  AddRef(version.mutable_subjects(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
         new_version, curated_hash, items);
  // Lineage: the previous curated version, or for the first release the
  // raw dataset it was curated from (dataset_version_ starts at 1, and
  // the first release is v2).
  if (dataset_version_ == 2) {
    AddRef(version.mutable_inputs(), v1::SUBJECT_KIND_DATASET, raw_dataset_,
           "v1", ContentHash(raw_dataset_), items);
  } else {
    AddRef(version.mutable_inputs(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
           old_version, ContentHash(StrCat(curated_dataset_, "@", old_version)),
           items);
  }
  AddRef(version.mutable_outputs(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
         new_version, curated_hash, items);
  SetAttr(version, "previous_version", old_version);
  version.set_run_id(run);
  version.set_purpose("data-processing");
  pending_.push_back(std::move(version));

  v1::Event exp = Base("dataset.exported", kPlatform, v1::ACTOR_KIND_HUMAN,
                       "ml-engineer-01", "ml-engineer");
  AddRef(exp.mutable_subjects(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
         new_version, curated_hash, items);
  AddRef(exp.mutable_inputs(), v1::SUBJECT_KIND_DATASET, curated_dataset_,
         new_version, curated_hash, items);
  // The export artifact, a dataset of its own.
  const std::string artifact = StrCat(curated_dataset_, "/export");
  AddRef(exp.mutable_outputs(), v1::SUBJECT_KIND_DATASET, artifact, new_version,
         ContentHash(StrCat(artifact, "@", new_version)), items);
  SetAttr(exp, "approval_ref", Numbered("APR-2025-", dataset_version_, 4));
  SetAttr(exp, "destination", "s3://training-bucket/curated");
  SetAttr(exp, "format", "coco-json");
  exp.set_purpose("model-training");
  pending_.push_back(std::move(exp));
}

}  // namespace ledger::ctl
