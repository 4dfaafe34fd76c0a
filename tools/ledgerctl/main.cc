// ledgerctl: the annotation ledger from the shell. Network commands speak
// gRPC to a node (--server, default: the profile's address, else
// 127.0.0.1:7400) over mutual TLS with the client certificate of a profile
// (--profile FILE or $LEDGER_PROFILE) or of --ca/--cert/--key, with a
// deadline per call; plaintext only with --insecure-plaintext. Output is
// JSON (one object, or one line per event) unless a command says
// otherwise; errors go to stderr as "error: <CODE>: <message>".
//
// Exit status: 0 on success, 1 on an error (or, for verify, an INVALID
// proof), 2 on usage errors.

#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "tools/ledgerctl/append.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/export.h"
#include "tools/ledgerctl/gen_events.h"
#include "tools/ledgerctl/keys.h"
#include "tools/ledgerctl/payloads.h"
#include "tools/ledgerctl/proofs.h"
#include "tools/ledgerctl/provenance.h"
#include "tools/ledgerctl/risk.h"

namespace {

using namespace ledger::ctl;  // NOLINT(build/namespaces): main only.

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct Flags {
  ConnectionOptions conn;
  std::string name, out_dir;
  RegisterKeyOptions register_key;
  RotateKeyOptions rotate_key;
  bool key_evidence = false;
  std::string key_id, reason, policy_file;
  AppendOptions append;
  bool json = false;
  bool note = false;
  uint64_t min_size = 0;
  uint64_t index = 0;
  std::string event;
  std::string out_file;
  std::string checkpoint_out;
  uint64_t old_size = 0, new_size = 0;
  std::vector<std::string> proofs, keys, emitter_keys;
  std::string origin;
  GenEventsOptions gen;
  std::string gen_start;
  bool quiet = false;
  std::string subject, tenant;
  ProvenanceOptions prov;
  uint64_t as_of = 0;
  RiskOptions risk;
  uint64_t first_index = 0, end_index = 0;
};

// The flags every provenance command takes; `paged`: also --page-size,
// --page-token and --all.
CLI::Option* AddProvenanceFlags(CLI::App* cmd, Flags& f, bool paged) {
  cmd->add_option("--tenant", f.prov.tenant, "the tenant asked about")
      ->required();
  CLI::Option* as_of = cmd->add_option(
      "--as-of", f.as_of,
      "answer as of this ledger size (default: the committed size; with "
      "--with-proofs the latest checkpoint's size)");
  if (paged) {
    cmd->add_option("--page-size", f.prov.page_size,
                    "rows per page (default 100, at most 1000)");
    cmd->add_option("--page-token", f.prov.page_token,
                    "continue from this token (printed on stderr after a "
                    "page)");
    cmd->add_flag("--all", f.prov.all,
                  "follow the page tokens to the last page (with "
                  "--with-proofs: one answer file per page, FILE.1, "
                  "FILE.2, ...)");
  }
  cmd->add_flag("--with-proofs", f.prov.with_proofs,
                "also write the answer file that ledger-verify answer "
                "checks offline");
  cmd->add_option("--answer-out", f.prov.answer_out,
                  "the answer file (with --with-proofs)");
  return as_of;
}

// Adds --index / --event, exactly one required.
CLI::Option* AddEntrySelector(CLI::App* cmd, Flags& f) {
  CLI::Option_group* group =
      cmd->add_option_group("entry", "which entry (exactly one)");
  CLI::Option* index = group->add_option("--index", f.index, "entry index");
  group->add_option("--event", f.event, "TENANT/EVENT_ID");
  group->require_option(1);
  return index;
}

// Prints a failure; for a network command (`conn` set) with a hint when
// the connection itself failed.
int Finish(const absl::Status& status,
           const ConnectionOptions* conn = nullptr) {
  if (status.ok()) return 0;
  std::string line = ErrorLine(status);
  if (conn != nullptr) {
    line.insert(line.size() - 1, ConnectionHint(status, *conn));
  }
  std::cerr << line << std::flush;
  return kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  CLI::App app{
      "ledgerctl: append, query, prove and verify annotation-ledger "
      "entries."};
  app.name("ledgerctl");
  app.require_subcommand(1);
  app.fallthrough();
  Flags f;
  app.add_option("--server", f.conn.client.address,
                 "node address HOST:PORT (default: the profile's address, "
                 "else 127.0.0.1:7400)");
  ledger::client_tls::AddClientFlags(&app, &f.conn.client);
  app.add_option("--timeout", f.conn.timeout_seconds,
                 "deadline of each call in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  CLI::App* keygen = app.add_subcommand(
      "keygen", "create an Ed25519 emitter key: DIR/NAME.key and NAME.pub");
  keygen->add_option("--name", f.name, "key name")->required();
  keygen->add_option("--out", f.out_dir, "directory")->required();

  CLI::App* cluster_key = app.add_subcommand(
      "cluster-key",
      "create the log key every node of a cluster shares: FILE and FILE.pub");
  cluster_key->add_option("--origin", f.name, "the ledger's origin")
      ->required();
  cluster_key->add_option("--out", f.out_dir, "the key file")->required();
  CLI::App* reg = app.add_subcommand("register-key",
                                     "register an emitter key for a tenant");
  reg->add_option("--pub", f.register_key.pub_file, ".pub file")->required();
  reg->add_option("--tenant", f.register_key.tenant, "tenant")->required();
  reg->add_option("--producer", f.register_key.producer,
                  "the platform the key signs for (the events' producer, "
                  "e.g. label-studio; admits label-studio/VERSION)")
      ->required();
  reg->add_option("--valid-from", f.register_key.valid_from, "RFC 3339");
  reg->add_option("--valid-until", f.register_key.valid_until, "RFC 3339");

  CLI::App* revoke = app.add_subcommand("revoke-key", "revoke an emitter key");
  revoke->add_option("--key-id", f.key_id, "key ID (hex)")->required();
  revoke->add_option("--reason", f.reason, "why");

  CLI::App* list_keys = app.add_subcommand("list-keys", "list registered keys");

  CLI::App* policy =
      app.add_subcommand("policy", "risk policies (docs/risk-rules.md)");
  policy->require_subcommand(1);
  CLI::App* policy_check = policy->add_subcommand(
      "check", "validate a risk policy file offline (no node needed)");
  policy_check->add_option("FILE", f.policy_file, "the policy (TOML)")
      ->required();
  CLI::App* policy_set = policy->add_subcommand(
      "set",
      "load a risk policy: the node appends a policy.changed entry and grades "
      "every later entry under it (admin role)");
  policy_set->add_option("FILE", f.policy_file, "the policy (TOML)")
      ->required();

  CLI::App* keys =
      app.add_subcommand("keys", "the node's identity, keys and write state");
  keys->add_flag("--note", f.note,
                 "print only the checkpoint verifier keys, one per line");
  keys->require_subcommand(0, 1);
  CLI::App* rotate = keys->add_subcommand(
      "rotate",
      "replace an emitter key by a new one (one key.rotated entry): the old "
      "key signs nothing after it, the new one everything after it");
  rotate->add_option("--key-id", f.rotate_key.key_id, "old key ID (hex)")
      ->required();
  rotate->add_option("--pub", f.rotate_key.pub_file, "the new key's .pub file")
      ->required();
  rotate->add_option("--reason", f.rotate_key.reason, "why");
  rotate->add_option("--valid-until", f.rotate_key.valid_until,
                     "end of the new key's validity, RFC 3339");

  CLI::App* append =
      app.add_subcommand("append", "sign and append events read as JSON lines");
  append
      ->add_option("--emitter-key", f.append.key,
                   "the emitter's signing key: a .key file, or a directory "
                   "holding exactly one")
      ->required();
  append
      ->add_option("--file", f.append.events_file,
                   "events, one JSON object per line ('-': stdin); a "
                   "line's payload_plaintext is encrypted under the key of "
                   "its data_subject")
      ->required();
  append->add_option("--batch-size", f.append.batch_size, "events per batch")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100'000u));
  append
      ->add_option("--in-flight", f.append.in_flight,
                   "requests outstanding at once (more than one: the "
                   "ledger may order batches differently from the input)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  append->add_flag("--single", f.append.single, "one Append per event");
  append
      ->add_option("--threads", f.append.threads,
                   "signing threads (0: one per core)")
      ->capture_default_str();
  append->add_flag("--quiet", f.quiet, "no progress lines");

  CLI::App* checkpoint =
      app.add_subcommand("checkpoint", "print the latest signed checkpoint");
  checkpoint->add_flag("--json", f.json, "JSON with size, hashes and note");
  checkpoint->add_option("--min-size", f.min_size,
                         "first checkpoint of at least this size");

  CLI::App* prove = app.add_subcommand(
      "prove", "write an entry's receipt (c2sp tlog-proof) to a file");
  CLI::Option* prove_index = AddEntrySelector(prove, f);
  prove->add_option("--out", f.out_file, "output file")->required();
  prove->add_flag("--key-evidence", f.key_evidence,
                  "also carry the signing key's registration (and rotations, "
                  "revocation) with inclusion proofs, so that ledger-verify "
                  "needs no emitter keys");

  CLI::App* consistency =
      app.add_subcommand("consistency", "consistency proof between sizes");
  consistency->add_option("--old", f.old_size, "older tree size")->required();
  consistency->add_option("--new", f.new_size,
                          "newer tree size (0: latest checkpoint)");
  consistency->add_flag("--json", f.json, "JSON instead of base64 lines");

  CLI::App* export_entries = app.add_subcommand(
      "export-entries",
      "write the entries up to the latest checkpoint to an entry export "
      "file, and that checkpoint beside it (for `ledger-verify grades`)");
  export_entries->add_option("--out", f.out_file, "entry export file")
      ->required();
  export_entries->add_option(
      "--checkpoint-out", f.checkpoint_out,
      "where the checkpoint note goes (default: the --out file + "
      "\".checkpoint\")");
  export_entries->add_flag("--quiet", f.quiet, "no progress lines");

  CLI::App* get = app.add_subcommand("get", "one entry as JSON");
  CLI::Option* get_index = AddEntrySelector(get, f);

  CLI::App* verify = app.add_subcommand(
      "verify", "verify tlog-proof files offline (as ledger-verify proof)");
  verify->add_option("--proof", f.proofs, "tlog-proof file(s)")->required();
  verify->add_option("--keys", f.keys, "log note verifier keys")->required();
  verify->add_option("--emitter-keys", f.emitter_keys,
                     "emitter verifier keys (.pub)");
  verify->add_option("--origin", f.origin, "required log origin");

  CLI::App* admin = app.add_subcommand("admin", "administration");
  admin->require_subcommand(1);
  CLI::App* erase = admin->add_subcommand(
      "erase-subject",
      "crypto-shred a data subject: a key.erased entry destroys the key of "
      "its encrypted payloads, which stay unreadable for good");
  erase->add_option("subject", f.subject, "the data subject's id")->required();
  erase->add_option("--tenant", f.tenant, "its tenant")->required();
  erase->add_option("--reason", f.reason, "why (recorded in the entry)")
      ->required();

  CLI::App* gen = app.add_subcommand(
      "gen-events",
      "write realistic sample events as JSON lines: a seeded annotation "
      "project with its lineage (sources, pipeline runs, diamonds, chains, "
      "exports, cross-border transfers, orphans)");
  gen->add_option("--count", f.gen.count, "number of events")->required();
  gen->add_option("--tenant", f.gen.tenant, "tenant")->required();
  gen->add_option("--seed", f.gen.seed, "random seed")->capture_default_str();
  gen->add_option("--producer", f.gen.producer,
                  "producer of every event (default: the simulated systems' "
                  "own names); give the producer the signing key is "
                  "registered for");
  gen->add_option("--size", f.gen.size,
                  "pad each event's canonical bytes (once append has "
                  "encrypted the padding, personal data) to this size")
      ->check(CLI::Range(0u, kMaxGenEventSize));
  gen->add_option("--start", f.gen_start,
                  "RFC 3339 time of the simulated clock's start (default: "
                  "300 days before today, 00:00 UTC)");
  gen->add_option("--workflow-depth", f.gen.workflow_depth,
                  "processing steps in the chain from each release's merged "
                  "dataset to its curated version (a lineage chain this long)")
      ->check(CLI::Range(1u, kMaxGenWorkflowDepth))
      ->capture_default_str();
  gen->add_option("--fan-in", f.gen.fan_in,
                  "inputs of each release's aggregation: the two branches of "
                  "a diamond plus fan-in - 2 registered partner sources")
      ->check(CLI::Range(2u, kMaxGenFanIn))
      ->capture_default_str();

  const std::string time_help =
      "RFC 3339 time in UTC, e.g. 2026-01-01T00:00:00Z (ledger time: when "
      "the node received the entry)";
  CLI::App* history = app.add_subcommand(
      "history", "every entry about a subject, as JSON lines");
  CLI::Option* history_as_of = AddProvenanceFlags(history, f, true);
  history
      ->add_option("--subject", f.prov.subject,
                   "KIND:ID, KIND one of dataset, item, annotation, actor")
      ->required();
  CLI::App* label_history = app.add_subcommand(
      "label-history",
      "an item's label revisions: annotations, pre-labels, reviews, "
      "ground truth, releases, as JSON lines");
  CLI::Option* label_as_of = AddProvenanceFlags(label_history, f, true);
  label_history->add_option("--item", f.prov.item, "item id")->required();
  CLI::App* who = app.add_subcommand(
      "who-touched", "a subject's entries received in [--from, --to)");
  CLI::Option* who_as_of = AddProvenanceFlags(who, f, true);
  who->add_option("--subject", f.prov.subject,
                  "KIND:ID, KIND one of dataset, item, annotation, actor")
      ->required();
  who->add_option("--from", f.prov.from, "window start, " + time_help)
      ->required();
  who->add_option("--to", f.prov.to, "window end (excluded), " + time_help)
      ->required();
  CLI::App* activity = app.add_subcommand(
      "actor-activity", "an actor's entries received in [--from, --to)");
  CLI::Option* activity_as_of = AddProvenanceFlags(activity, f, true);
  activity->add_option("--actor", f.prov.actor, "actor id")->required();
  activity->add_option("--from", f.prov.from, "window start, " + time_help)
      ->required();
  activity->add_option("--to", f.prov.to, "window end (excluded), " + time_help)
      ->required();
  CLI::App* lineage = app.add_subcommand(
      "lineage",
      "what a dataset, item or annotation version was made from (up) or "
      "what was made from it (down): JSON or a Graphviz digraph");
  CLI::Option* lineage_as_of = AddProvenanceFlags(lineage, f, false);
  lineage
      ->add_option("--node", f.prov.node,
                   "KIND:ID[@VERSION], KIND one of dataset, item, annotation")
      ->required();
  lineage->add_option("--direction", f.prov.direction, "up or down")
      ->capture_default_str()
      ->check(CLI::IsMember({"up", "down"}));
  lineage
      ->add_option("--depth", f.prov.depth,
                   "hops from the node (at most the node's "
                   "provenance_max_depth, default 16)")
      ->capture_default_str();
  lineage->add_option("--format", f.prov.format, "json or dot")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "dot"}));
  CLI::App* cross = app.add_subcommand(
      "cross-border",
      "the tenant's cross-border transfers received in a UTC year");
  CLI::Option* cross_as_of = AddProvenanceFlags(cross, f, true);
  cross->add_option("--year", f.prov.year, "UTC year")
      ->required()
      ->check(CLI::Range(1970, 2261));
  CLI::App* orphans = app.add_subcommand(
      "orphans",
      "datasets with no registered source upstream, runs with no end event");
  CLI::Option* orphans_as_of = AddProvenanceFlags(orphans, f, false);

  CLI::App* risk =
      app.add_subcommand("risk",
                         "risk findings, grade explanations and summaries "
                         "(docs/queries.md, \"Risk queries\")");
  risk->require_subcommand(1);
  // The flags every risk command takes.
  const auto add_risk_flags = [&f](CLI::App* cmd) {
    cmd->add_option("--tenant", f.risk.tenant, "the tenant asked about")
        ->required();
    CLI::Option* as_of = cmd->add_option(
        "--as-of", f.as_of,
        "answer as of this ledger size (default: the committed size)");
    cmd->add_option("--format", f.risk.format, "json or text")
        ->capture_default_str()
        ->check(CLI::IsMember({"json", "text"}));
    return as_of;
  };
  CLI::App* risk_findings = risk->add_subcommand(
      "findings",
      "the tenant's entries graded medium or above, ascending by index, as "
      "JSON lines");
  CLI::Option* findings_as_of = add_risk_flags(risk_findings);
  risk_findings
      ->add_option("--min-level", f.risk.min_level,
                   "medium (default), high or critical")
      ->check(CLI::IsMember({"medium", "high", "critical"}));
  risk_findings->add_option("--rule", f.risk.rule,
                            "only entries with a reason of this rule (R1 ... "
                            "R15, docs/risk-rules.md)");
  risk_findings->add_option("--actor", f.risk.actor, "only this actor id");
  risk_findings->add_option("--from", f.risk.from,
                            "window start (with --to), " + time_help);
  risk_findings->add_option("--to", f.risk.to,
                            "window end, excluded (with --from), " + time_help);
  risk_findings->add_option("--page-size", f.risk.page_size,
                            "rows per page (default 100, at most 1000)");
  risk_findings->add_option(
      "--page-token", f.risk.page_token,
      "continue from this token (printed on stderr after a page)");
  risk_findings->add_flag("--all", f.risk.all,
                          "follow the page tokens to the last page");
  CLI::App* risk_explain = risk->add_subcommand(
      "explain",
      "a dataset version's grade: where it came from (the inputs it was "
      "propagated from, recursively) and its history");
  CLI::Option* explain_as_of = add_risk_flags(risk_explain);
  risk_explain
      ->add_option("--dataset", f.risk.dataset,
                   "ID[@VERSION] (as lineage's --node without the kind; no "
                   "version: the dataset's version-less grade)")
      ->required();
  CLI::App* risk_summary = risk->add_subcommand(
      "summary",
      "the tenant's entries counted per risk level and per rule over a "
      "window, an index range, or everything");
  CLI::Option* summary_as_of = add_risk_flags(risk_summary);
  risk_summary->add_option("--from", f.risk.from,
                           "window start (with --to), " + time_help);
  risk_summary->add_option("--to", f.risk.to,
                           "window end, excluded (with --from), " + time_help);
  CLI::Option* summary_first = risk_summary->add_option(
      "--first", f.first_index, "index range start (instead of a window)");
  CLI::Option* summary_end = risk_summary->add_option(
      "--end", f.end_index, "index range end, excluded (0: the as_of)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  auto selector = [&](CLI::Option* index) {
    EntrySelector s;
    if (index->count() > 0) s.index = f.index;
    s.event = f.event;
    return s;
  };
  if (keygen->parsed()) {
    absl::StatusOr<KeygenResult> r = Keygen(f.name, f.out_dir);
    if (r.ok()) PrintJson(std::cout, r->ToJson());
    return Finish(r.status());
  }
  if (cluster_key->parsed()) {
    absl::StatusOr<KeygenResult> r = ClusterLogKey(f.name, f.out_dir);
    if (r.ok()) PrintJson(std::cout, r->ToJson());
    return Finish(r.status());
  }
  if (reg->parsed()) {
    return Finish(RunRegisterKey(f.conn, f.register_key, std::cout), &f.conn);
  }
  if (revoke->parsed()) {
    return Finish(RunRevokeKey(f.conn, f.key_id, f.reason, std::cout), &f.conn);
  }
  if (policy_check->parsed()) {
    return Finish(RunPolicyCheck(f.policy_file, std::cout), nullptr);
  }
  if (policy_set->parsed()) {
    return Finish(RunPolicySet(f.conn, f.policy_file, std::cout), &f.conn);
  }
  if (list_keys->parsed())
    return Finish(RunListKeys(f.conn, std::cout), &f.conn);
  if (rotate->parsed()) {
    return Finish(RunRotateKey(f.conn, f.rotate_key, std::cout), &f.conn);
  }
  if (keys->parsed())
    return Finish(RunNodeKeys(f.conn, f.note, std::cout), &f.conn);
  if (append->parsed()) {
    f.append.progress = !f.quiet;
    return Finish(RunAppend(f.conn, f.append, std::cout, std::cerr), &f.conn);
  }
  if (checkpoint->parsed()) {
    return Finish(RunCheckpoint(f.conn, f.min_size, f.json, std::cout),
                  &f.conn);
  }
  if (prove->parsed()) {
    return Finish(RunProve(f.conn, selector(prove_index), f.key_evidence,
                           f.out_file, std::cout),
                  &f.conn);
  }
  if (consistency->parsed()) {
    return Finish(
        RunConsistency(f.conn, f.old_size, f.new_size, f.json, std::cout),
        &f.conn);
  }
  if (export_entries->parsed()) {
    return Finish(
        RunExportEntries(f.conn, f.out_file,
                         f.checkpoint_out.empty() ? f.out_file + ".checkpoint"
                                                  : f.checkpoint_out,
                         f.quiet, std::cerr),
        &f.conn);
  }
  if (get->parsed()) {
    return Finish(RunGet(f.conn, selector(get_index), std::cout), &f.conn);
  }
  if (verify->parsed()) {
    absl::StatusOr<bool> valid =
        RunVerify(f.proofs, f.keys, f.emitter_keys, f.origin, std::cout);
    if (!valid.ok()) {
      std::cerr << ErrorLine(valid.status());
      return kExitUsage;
    }
    return *valid ? 0 : kExitError;
  }
  if (erase->parsed()) {
    return Finish(
        RunEraseSubject(f.conn, f.subject, f.tenant, f.reason, std::cout),
        &f.conn);
  }
  struct ProvenanceCommand {
    CLI::App* app;
    CLI::Option* as_of;
    ProvenanceQuery query;
  };
  for (const ProvenanceCommand& c : {
           ProvenanceCommand{history, history_as_of, ProvenanceQuery::kHistory},
           ProvenanceCommand{label_history, label_as_of,
                             ProvenanceQuery::kLabelHistory},
           ProvenanceCommand{who, who_as_of, ProvenanceQuery::kWhoTouched},
           ProvenanceCommand{activity, activity_as_of,
                             ProvenanceQuery::kActorActivity},
           ProvenanceCommand{lineage, lineage_as_of, ProvenanceQuery::kLineage},
           ProvenanceCommand{cross, cross_as_of, ProvenanceQuery::kCrossBorder},
           ProvenanceCommand{orphans, orphans_as_of, ProvenanceQuery::kOrphans},
       }) {
    if (!c.app->parsed()) continue;
    f.prov.query = c.query;
    if (c.as_of->count() > 0) f.prov.as_of = f.as_of;
    absl::Status s = RunProvenance(f.conn, f.prov, std::cout, std::cerr);
    if (absl::IsInvalidArgument(s) && absl::StartsWith(s.message(), "--")) {
      std::cerr << ErrorLine(s);
      return kExitUsage;
    }
    return Finish(s, &f.conn);
  }
  struct RiskCommand {
    CLI::App* app;
    CLI::Option* as_of;
    RiskQuery query;
  };
  for (const RiskCommand& c : {
           RiskCommand{risk_findings, findings_as_of, RiskQuery::kFindings},
           RiskCommand{risk_explain, explain_as_of, RiskQuery::kExplain},
           RiskCommand{risk_summary, summary_as_of, RiskQuery::kSummary},
       }) {
    if (!c.app->parsed()) continue;
    f.risk.query = c.query;
    if (c.as_of->count() > 0) f.risk.as_of = f.as_of;
    if (summary_first->count() > 0) f.risk.first_index = f.first_index;
    if (summary_end->count() > 0) f.risk.end_index = f.end_index;
    absl::Status s = RunRisk(f.conn, f.risk, std::cout, std::cerr);
    if (absl::IsInvalidArgument(s) && absl::StartsWith(s.message(), "--")) {
      std::cerr << ErrorLine(s);
      return kExitUsage;
    }
    return Finish(s, &f.conn);
  }
  if (gen->parsed()) {
    if (!f.gen_start.empty()) {
      absl::StatusOr<google::protobuf::Timestamp> start =
          ParseTimestamp(f.gen_start, "--start");
      if (!start.ok()) return Finish(start.status());
      f.gen.start_seconds = start->seconds();
    }
    absl::Status s = GenerateEvents(f.gen, std::cout);
    return Finish(s);
  }
  return kExitUsage;
}
