// ledger-verify: offline verification for regulators, with public keys only.
//
//   ledger-verify proof FILE... --keys LOG_VKEYS [--emitter-keys FILE]
//                 [--origin O] [--json]
//   ledger-verify checkpoint FILE... --keys LOG_VKEYS [--origin O] [--json]
//   ledger-verify answer FILE... --keys LOG_VKEYS [--origin O] [--json]
//   ledger-verify consistency --old CP1 --new CP2 --proof FILE
//                 --keys LOG_VKEYS [--origin O] [--json]
//   ledger-verify grades FILE [--checkpoint CP --keys LOG_VKEYS]
//                 [--from N] [--json]
//
// An answer file (ledger/FORMAT.md section 12) is checked with the log's
// keys alone: the report has one line per check passed, then what the
// file proves (proven_N) and what it does not (not_proven_N).
//
// A receipt with key evidence (`ledgerctl prove --key-evidence`) needs no
// --emitter-keys: it carries the signing key's registration, proven in the
// same checkpoint (ledger/FORMAT.md section 10.5).
//
// Exit status: 0 if everything verified, 1 if anything is INVALID (each
// report says which check failed and why), 2 on usage errors (bad flags,
// unreadable or malformed key files).
//
// `grades` replays an entry export file (`ledgerctl export-entries`,
// ledger/FORMAT.md section 16) through the risk engine and reports every
// entry whose stored risk, reasons or policy version differ from what its
// policy gives, and any grade.propagated entry that is not the one owed.
//
// Links only ledger_verifylib (ledger_format, ledger_crypto, ledger_risk):
// no gRPC, no protobuf, no RocksDB; tools/check_links.cmake enforces it.

#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "base/strings.h"
#include "crypto/key_file.h"
#include "tools/verify/grades.h"
#include "tools/verify/report.h"
#include "tools/verify/verify.h"

namespace {

using ledger::verify::Report;

constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 2;

struct Flags {
  std::vector<std::string> files;
  std::vector<std::string> keys;
  std::vector<std::string> emitter_keys;
  std::string origin;
  std::string old_checkpoint;
  std::string new_checkpoint;
  std::string proof;
  std::string checkpoint_file;
  uint64_t from = 0;
  bool json = false;
};

void AddTrustFlags(CLI::App* cmd, Flags& flags, bool emitter_keys) {
  cmd->add_option("--keys", flags.keys,
                  "file of the log's note verifier keys, one per line "
                  "(`ledgerctl keys --note`); may repeat")
      ->required();
  if (emitter_keys) {
    cmd->add_option("--emitter-keys", flags.emitter_keys,
                    "file of emitter verifier keys (.pub lines); checks who "
                    "signed each event; may repeat");
  }
  cmd->add_option("--origin", flags.origin,
                  "require checkpoints of this log origin");
  cmd->add_flag("--json", flags.json, "one JSON object per line");
}

int Print(const std::vector<Report>& reports, bool json) {
  size_t invalid = 0;
  std::string out;
  for (const Report& r : reports) {
    if (!r.valid()) ++invalid;
    out += json ? r.ToJson() + "\n" : r.ToText();
  }
  if (!json && reports.size() > 1) {
    out += ledger::StrCat("summary: ", reports.size() - invalid, " valid, ",
                          invalid, " invalid\n");
  }
  std::cout << out << std::flush;
  return invalid == 0 ? 0 : kExitInvalid;
}

int UsageError(std::string_view message) {
  std::cerr << "error: " << message << "\n";
  return kExitUsage;
}

int Grades(const Flags& flags) {
  ledger::verify::Trust trust;
  ledger::verify::GradesOptions options;
  options.report_from = flags.from;
  if (flags.checkpoint_file.empty() != flags.keys.empty()) {
    return UsageError(
        "--checkpoint and --keys go together: the checkpoint is verified "
        "with the log's keys");
  }
  if (!flags.checkpoint_file.empty()) {
    absl::StatusOr<ledger::verify::Trust> loaded =
        ledger::verify::LoadTrust(flags.keys, {}, flags.origin);
    if (!loaded.ok())
      return UsageError(ledger::ToStd(loaded.status().message()));
    trust = *std::move(loaded);
    absl::StatusOr<std::string> note =
        ledger::crypto::ReadFileToString(flags.checkpoint_file);
    if (!note.ok()) return UsageError(ledger::ToStd(note.status().message()));
    options.checkpoint = *std::move(note);
  }
  if (!flags.json) {
    options.progress = [](uint64_t n) {
      std::cerr << "replayed " << n << " entries\n";
    };
  }
  return Print(
      {ledger::verify::VerifyGradesFile(flags.files.front(), options, trust)},
      flags.json);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Verifies annotation-ledger receipts (c2sp tlog-proof files), query "
      "answer files, signed checkpoints and consistency proofs offline, "
      "trusting nothing but "
      "public keys."};
  app.name("ledger-verify");
  app.require_subcommand(1);
  Flags flags;

  CLI::App* proof = app.add_subcommand(
      "proof",
      "verify tlog-proof files: checkpoint signature, inclusion, "
      "entry, key evidence (the key's registration, when the receipt "
      "carries it), and the emitter's signature");
  proof->add_option("FILE", flags.files, "tlog-proof files")->required();
  AddTrustFlags(proof, flags, /*emitter_keys=*/true);

  CLI::App* answer = app.add_subcommand(
      "answer",
      "verify query answer files: checkpoint signature, inclusion of every "
      "entry, and for a query about one subject that no entry about it "
      "between the first and last returned one was left out");
  answer->add_option("FILE", flags.files, "answer files")->required();
  AddTrustFlags(answer, flags, /*emitter_keys=*/false);

  CLI::App* checkpoint =
      app.add_subcommand("checkpoint", "verify signed checkpoint notes");
  checkpoint->add_option("FILE", flags.files, "checkpoint note files")
      ->required();
  AddTrustFlags(checkpoint, flags, /*emitter_keys=*/false);

  CLI::App* consistency = app.add_subcommand(
      "consistency", "verify that a newer checkpoint extends an older one");
  consistency->add_option("--old", flags.old_checkpoint, "older checkpoint")
      ->required();
  consistency->add_option("--new", flags.new_checkpoint, "newer checkpoint")
      ->required();
  consistency
      ->add_option("--proof", flags.proof,
                   "consistency proof: one base64 hash per line")
      ->required();
  AddTrustFlags(consistency, flags, /*emitter_keys=*/false);

  CLI::App* grades = app.add_subcommand(
      "grades",
      "recompute the risk grade, reasons and policy version of every entry "
      "of an entry export file (`ledgerctl export-entries`) and check the "
      "grade.propagated entries; with --checkpoint, also that the file "
      "holds the log's first checkpoint-size entries");
  grades->add_option("FILE", flags.files, "entry export file")
      ->required()
      ->expected(1);
  grades->add_option("--checkpoint", flags.checkpoint_file,
                     "signed checkpoint note whose root the file's first "
                     "entries must have (needs --keys)");
  grades->add_option("--keys", flags.keys,
                     "file of the log's note verifier keys (`ledgerctl keys "
                     "--note`); may repeat");
  grades->add_option("--origin", flags.origin,
                     "require a checkpoint of this log origin");
  grades->add_option("--from", flags.from,
                     "list mismatches from this index on (the replay always "
                     "starts at entry 0)");
  grades->add_flag("--json", flags.json, "one JSON object per line");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  if (grades->parsed()) return Grades(flags);

  absl::StatusOr<ledger::verify::Trust> trust =
      ledger::verify::LoadTrust(flags.keys, flags.emitter_keys, flags.origin);
  if (!trust.ok()) {
    std::cerr << "error: " << absl::StatusCodeToString(trust.status().code())
              << ": " << ledger::ToStd(trust.status().message()) << "\n";
    return kExitUsage;
  }

  std::vector<Report> reports;
  if (proof->parsed()) {
    for (const std::string& f : flags.files) {
      reports.push_back(ledger::verify::VerifyProofFile(f, *trust));
    }
  } else if (answer->parsed()) {
    for (const std::string& f : flags.files) {
      reports.push_back(ledger::verify::VerifyAnswerFile(f, *trust));
    }
  } else if (checkpoint->parsed()) {
    for (const std::string& f : flags.files) {
      reports.push_back(ledger::verify::VerifyCheckpointFile(f, *trust));
    }
  } else {
    reports.push_back(ledger::verify::VerifyConsistencyFiles(
        flags.old_checkpoint, flags.new_checkpoint, flags.proof, *trust));
  }
  return Print(reports, flags.json);
}
