// The single-node ledger end to end, with real processes: ledger-node,
// ledgerctl and ledger-verify as a user runs them.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "base/strings.h"
#include "nlohmann/json.hpp"
#include "tests/process.h"

namespace ledger::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Json = nlohmann::json;

class SingleNodeE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/e2e_single_node.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    node_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  void StartNode() {
    absl::StatusOr<Process> p = Process::Start(
        {BinaryPath("node/ledger-node"), "--data", dir_ + "/node", "--listen",
         "127.0.0.1:0", "--insecure-plaintext"},
        dir_ + "/node.log");
    ASSERT_TRUE(p.ok()) << p.status();
    node_ = std::make_unique<Process>(*std::move(p));
    absl::StatusOr<std::string> line =
        node_->WaitForLine("listening on ", seconds(120));
    ASSERT_TRUE(line.ok()) << line.status() << "\n" << NodeLog();
    server_ = line->substr(line->find("listening on ") + 13);
  }

  std::string NodeLog() {
    std::ifstream f(dir_ + "/node.log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  // Runs ledgerctl with --server (plaintext, as the node serves); fails
  // the test on a non-zero exit.
  std::string Ctl(std::vector<std::string> args, bool network = true) {
    args.insert(args.begin(), BinaryPath("tools/ledgerctl/ledgerctl"));
    if (network) {
      args.push_back("--server");
      args.push_back(server_);
      args.push_back("--insecure-plaintext");
    }
    absl::StatusOr<RunResult> r = ledger::testing::Run(args, seconds(120));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_EQ(r->exit_code, 0) << StrCat(args[1], " failed: ", r->err);
    return r->out;
  }

  // Runs ledgerctl with --server (plaintext, as the node serves) and returns
  // whatever happened.
  RunResult CtlResult(std::vector<std::string> args) {
    args.insert(args.begin(), BinaryPath("tools/ledgerctl/ledgerctl"));
    args.push_back("--server");
    args.push_back(server_);
    args.push_back("--insecure-plaintext");
    absl::StatusOr<RunResult> r = ledger::testing::Run(args, seconds(120));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult{};
  }

  RunResult Verify(std::vector<std::string> args) {
    args.insert(args.begin(), BinaryPath("tools/ledger-verify/ledger-verify"));
    absl::StatusOr<RunResult> r = ledger::testing::Run(args, seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult{};
  }

  // Polls the latest checkpoint until it covers `size` entries.
  Json WaitForCheckpoint(uint64_t size) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    Json cp;
    while (std::chrono::steady_clock::now() < deadline) {
      cp = Json::parse(Ctl({"checkpoint", "--json"}));
      if (cp["size"].get<uint64_t>() >= size) return cp;
      std::this_thread::sleep_for(milliseconds(100));
    }
    ADD_FAILURE() << "no checkpoint covering " << size << " entries: " << cp;
    return cp;
  }

  void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }

  std::string dir_;
  std::string server_;
  std::unique_ptr<Process> node_;
};

TEST_F(SingleNodeE2ETest, AppendProveVerifyRestart) {
  ASSERT_NO_FATAL_FAILURE(StartNode());
  const std::string keys = dir_ + "/keys";
  std::filesystem::create_directories(keys);
  Ctl({"keygen", "--name", "e2e-emitter", "--out", keys}, false);
  Ctl({"register-key", "--pub", keys + "/e2e-emitter.pub", "--tenant",
       "acme-ai", "--producer", "e2e-platform"});

  const std::string events = dir_ + "/events.jsonl";
  WriteFile(events, Ctl({"gen-events", "--count", "1000", "--tenant", "acme-ai",
                         "--seed", "7", "--producer", "e2e-platform/1.0"},
                        false));
  std::string out = Ctl({"append", "--emitter-key", keys, "--file", events});
  std::set<uint64_t> indexes;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    Json j = Json::parse(line);
    EXPECT_FALSE(j["duplicate"].get<bool>());
    indexes.insert(j["index"].get<uint64_t>());
  }
  ASSERT_EQ(indexes.size(), 1000u);
  // After genesis, the cosigner key and the emitter key.
  EXPECT_EQ(*indexes.begin(), 3u);
  EXPECT_EQ(*indexes.rbegin(), 1002u);

  // Appending the same file again changes nothing.
  std::string again = Ctl({"append", "--emitter-key", keys, "--file", events});
  EXPECT_NE(again.find("\"duplicate\":true"), std::string::npos);

  const std::string vkeys = dir_ + "/log.vkeys";
  WriteFile(vkeys, Ctl({"keys", "--note"}));
  Json cp1 = WaitForCheckpoint(1002);
  const uint64_t size1 = cp1["size"].get<uint64_t>();
  const std::string cp1_file = dir_ + "/cp1.note";
  WriteFile(cp1_file, cp1["note"].get<std::string>());
  RunResult cp_check = Verify({"checkpoint", cp1_file, "--keys", vkeys});
  EXPECT_EQ(cp_check.exit_code, 0) << cp_check.out << cp_check.err;

  std::mt19937_64 rng(42);
  for (int i = 0; i < 20; ++i) {
    const uint64_t index = rng() % size1;
    const std::string proof = StrCat(dir_, "/proof", index, ".tlog-proof");
    Ctl({"prove", "--index", StrCat(index), "--out", proof});
    std::vector<std::string> args = {"proof", proof, "--keys", vkeys};
    if (index >= 2) {
      args.insert(args.end(), {"--emitter-keys", keys + "/e2e-emitter.pub"});
    }
    RunResult r = Verify(args);
    EXPECT_EQ(r.exit_code, 0) << "index " << index << ": " << r.out << r.err;
    // A flipped hash line must be refused.
    std::ifstream in(proof);
    std::string text(std::istreambuf_iterator<char>(in), {});
    const size_t index_line = text.find("\nindex ");
    const size_t hash_line = text.find('\n', index_line + 1) + 1;
    if (text[hash_line] != '\n') {
      text[hash_line] = text[hash_line] == 'A' ? 'B' : 'A';
      WriteFile(proof + ".bad", text);
      RunResult bad = Verify({"proof", proof + ".bad", "--keys", vkeys});
      EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
    }
  }

  // More entries, a second checkpoint, and consistency between the two.
  WriteFile(events, Ctl({"gen-events", "--count", "100", "--tenant", "acme-ai",
                         "--seed", "8", "--producer", "e2e-platform/1.0"},
                        false));
  Ctl({"append", "--emitter-key", keys, "--file", events});
  Json cp2 = WaitForCheckpoint(size1 + 100);
  const uint64_t size2 = cp2["size"].get<uint64_t>();
  const std::string cp2_file = dir_ + "/cp2.note";
  WriteFile(cp2_file, cp2["note"].get<std::string>());
  const std::string consistency = dir_ + "/consistency.txt";
  WriteFile(consistency, Ctl({"consistency", "--old", StrCat(size1), "--new",
                              StrCat(size2)}));
  RunResult c = Verify({"consistency", "--old", cp1_file, "--new", cp2_file,
                        "--proof", consistency, "--keys", vkeys});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  RunResult swapped =
      Verify({"consistency", "--old", cp2_file, "--new", cp1_file, "--proof",
              consistency, "--keys", vkeys});
  EXPECT_NE(swapped.exit_code, 0);

  // Restart: same size, same root.
  absl::StatusOr<int> stopped = node_->Stop(SIGTERM, seconds(60));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(*stopped, 0) << NodeLog();
  ASSERT_NO_FATAL_FAILURE(StartNode());
  Json after = Json::parse(Ctl({"checkpoint", "--json"}));
  EXPECT_EQ(after["size"].get<uint64_t>(), size2);
  EXPECT_EQ(after["root_hash"], cp2["root_hash"]);
}

// The provenance queries through ledgerctl on a generated workflow: JSON
// lines with indexes, pages followed with --all, an answer file that
// ledger-verify accepts (and refuses once altered), and a lineage picture
// that Graphviz renders.
TEST_F(SingleNodeE2ETest, ProvenanceQueriesAnswerFilesAndLineagePicture) {
  ASSERT_NO_FATAL_FAILURE(StartNode());
  const std::string keys = dir_ + "/keys";
  std::filesystem::create_directories(keys);
  Ctl({"keygen", "--name", "e2e-emitter", "--out", keys}, false);
  Ctl({"register-key", "--pub", keys + "/e2e-emitter.pub", "--tenant",
       "acme-ai", "--producer", "e2e-platform"});
  const std::string events = dir_ + "/events.jsonl";
  const std::string generated =
      Ctl({"gen-events", "--count", "300", "--tenant", "acme-ai", "--seed", "7",
           "--producer", "e2e-platform/1.0"},
          false);
  WriteFile(events, generated);
  std::string appended =
      Ctl({"append", "--emitter-key", keys, "--file", events, "--quiet"});
  uint64_t size = 0;
  {
    std::istringstream lines(appended);
    for (std::string line; std::getline(lines, line);) {
      size = std::max(size, Json::parse(line)["index"].get<uint64_t>() + 1);
    }
  }
  ASSERT_GT(size, 300u);

  // The item named by most events, and the last aggregation's output,
  // read from the generated events themselves.
  std::map<std::string, int> item_count;
  std::string aggregated;
  {
    std::istringstream lines(generated);
    for (std::string line; std::getline(lines, line);) {
      Json e = Json::parse(line);
      std::set<std::string> items;
      for (const char* list : {"subjects", "inputs", "outputs"}) {
        if (!e.contains(list)) continue;
        for (const Json& ref : e[list]) {
          if (ref.value("kind", "") == "SUBJECT_KIND_ITEM") {
            items.insert(ref["id"].get<std::string>());
          }
          if (e["type"] == "data.aggregated" &&
              std::string(list) == "outputs" &&
              ref.value("kind", "") == "SUBJECT_KIND_DATASET") {
            aggregated = StrCat("dataset:", ref["id"].get<std::string>(), "@",
                                ref.value("version", ""));
          }
        }
      }
      for (const std::string& id : items) ++item_count[id];
    }
  }
  ASSERT_FALSE(item_count.empty());
  ASSERT_FALSE(aggregated.empty()) << "no data.aggregated event generated";
  std::string item;
  int most = 0;
  for (const auto& [id, n] : item_count) {
    if (n > most) item = id, most = n;
  }

  const std::string vkeys = dir_ + "/log.vkeys";
  WriteFile(vkeys, Ctl({"keys", "--note"}));
  // Waits for a checkpoint covering everything.
  Ctl({"checkpoint", "--min-size", StrCat(size)});

  // history with proofs, verified offline.
  const std::string answer = dir_ + "/history.answer";
  std::string history =
      Ctl({"history", "--tenant", "acme-ai", "--subject", "item:" + item,
           "--page-size", "1000", "--with-proofs", "--answer-out", answer});
  std::vector<uint64_t> indexes;
  {
    std::istringstream lines(history);
    for (std::string line; std::getline(lines, line);) {
      Json j = Json::parse(line);
      indexes.push_back(j["index"].get<uint64_t>());
    }
  }
  EXPECT_EQ(indexes.size(), static_cast<size_t>(most));
  EXPECT_TRUE(std::is_sorted(indexes.begin(), indexes.end()));
  RunResult verified = Verify({"answer", answer, "--keys", vkeys});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("complete"), std::string::npos) << verified.out;
  {
    std::ifstream in(answer);
    std::string text(std::istreambuf_iterator<char>(in), {});
    // One byte of the last base64 hash or entry line changed.
    const size_t at = text.find("\nentry ");
    ASSERT_NE(at, std::string::npos) << text;
    const size_t line_end = text.find('\n', at + 1);
    const size_t pos = line_end - 10;  // inside the base64 of the bytes
    text[pos] = text[pos] == 'A' ? 'B' : 'A';
    WriteFile(answer + ".bad", text);
    RunResult bad = Verify({"answer", answer + ".bad", "--keys", vkeys});
    EXPECT_NE(bad.exit_code, 0) << bad.out;
  }

  // Pages: one page and its token on stderr; --all follows them.
  RunResult one = CtlResult({"history", "--tenant", "acme-ai", "--subject",
                             "item:" + item, "--page-size", "2"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.err.find("next_page_token: "), std::string::npos) << one.err;
  RunResult all = CtlResult({"history", "--tenant", "acme-ai", "--subject",
                             "item:" + item, "--page-size", "2", "--all"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  // The same entries (map fields may print in another order).
  std::vector<uint64_t> all_indexes;
  {
    std::istringstream lines(all.out);
    for (std::string line; std::getline(lines, line);) {
      all_indexes.push_back(Json::parse(line)["index"].get<uint64_t>());
    }
  }
  EXPECT_EQ(all_indexes, indexes);
  EXPECT_EQ(all.err.find("next_page_token"), std::string::npos);

  // The other queries answer with JSON lines carrying indexes.
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"label-history", "--item", item},
           {"who-touched", "--subject", "item:" + item, "--from",
            "2000-01-01T00:00:00Z", "--to", "2200-01-01T00:00:00Z"},
           {"orphans"},
       }) {
    args.insert(args.begin() + 1, {"--tenant", "acme-ai"});
    std::string out = Ctl(args);
    std::istringstream lines(out);
    int n = 0;
    for (std::string line; std::getline(lines, line); ++n) {
      EXPECT_TRUE(Json::parse(line).contains("index")) << args[0] << line;
    }
    EXPECT_GT(n, 0) << args[0];
  }
  RunResult bad_kind =
      CtlResult({"history", "--tenant", "acme-ai", "--subject", "model:x"});
  EXPECT_EQ(bad_kind.exit_code, 1);
  EXPECT_NE(bad_kind.err.find("INVALID_ARGUMENT"), std::string::npos)
      << bad_kind.err;

  // Lineage: JSON, and a DOT picture.
  Json graph = Json::parse(
      Ctl({"lineage", "--tenant", "acme-ai", "--node", aggregated,
           "--direction", "up", "--depth", "3", "--format", "json"}));
  EXPECT_FALSE(graph["nodes"].empty()) << graph;
  EXPECT_FALSE(graph["edges"].empty()) << graph;
  const std::string dot_text =
      Ctl({"lineage", "--tenant", "acme-ai", "--node", aggregated,
           "--direction", "up", "--depth", "3", "--format", "dot"});
  EXPECT_NE(dot_text.find("digraph lineage {"), std::string::npos);
  const std::string dot_file = dir_ + "/lineage.dot";
  WriteFile(dot_file, dot_text);
  std::string dot;
  {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path == nullptr ? "" : path);
    for (std::string d; std::getline(dirs, d, ':');) {
      if (!d.empty() && std::filesystem::exists(d + "/dot")) {
        dot = d + "/dot";
        break;
      }
    }
  }
  if (dot.empty()) {
    GTEST_SKIP() << "Graphviz's dot is not installed (scripts/install-deps.sh "
                    "installs it): the DOT output was not rendered";
  }
  absl::StatusOr<RunResult> svg = ledger::testing::Run(
      {dot, "-Tsvg", dot_file, "-o", dir_ + "/lineage.svg"}, seconds(60));
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_EQ(svg->exit_code, 0) << svg->err << dot_text;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/lineage.svg"));
}

// Key lifecycle with the real tools: register for a producer, rotate,
// revoke; receipts with key evidence verify with the log's keys alone, for
// entries of the old key and of the new one, and not once tampered with;
// the stopped node's whole ledger verifies.
TEST_F(SingleNodeE2ETest, RiskGradesAreExportedAndRecomputedOffline) {
  StartNode();
  const std::string keys = dir_ + "/keys";
  Ctl({"keygen", "--name", "e2e-emitter", "--out", keys}, false);
  Ctl({"register-key", "--pub", keys + "/e2e-emitter.pub", "--tenant",
       "acme-ai", "--producer", "label-studio"});
  Json set = Json::parse(Ctl({"policy", "set", LEDGER_DEFAULT_POLICY}));
  EXPECT_EQ(set["policy_version"], 1) << set;
  const std::string events = dir_ + "/events.jsonl";
  WriteFile(events, Ctl({"gen-events", "--count", "300", "--tenant", "acme-ai",
                         "--seed", "7", "--producer", "label-studio/1.13.1"},
                        false));
  std::istringstream receipts(
      Ctl({"append", "--emitter-key", keys, "--file", events}));
  uint64_t last = 0;
  for (std::string line; std::getline(receipts, line);) {
    last = std::max(last, Json::parse(line)["index"].get<uint64_t>());
  }
  // A checkpoint covering the last event covers its group, whose
  // grade.propagated entries come right after it.
  WaitForCheckpoint(last + 1);
  const std::string file = dir_ + "/entries.bin";
  Ctl({"export-entries", "--out", file, "--quiet"});
  const std::string vkeys = dir_ + "/log.vkeys";
  WriteFile(vkeys, Ctl({"keys", "--note"}));
  RunResult r = Verify(
      {"grades", file, "--checkpoint", file + ".checkpoint", "--keys", vkeys});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("VALID grades"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("policies: 1"), std::string::npos) << r.out;
  // The generated lineage propagated grades, and the ledger recorded them.
  EXPECT_EQ(r.out.find("grade_propagated_entries: 0\n"), std::string::npos)
      << r.out;
  // A file cut short is refused, with exit status 1.
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 1);
  RunResult bad = Verify({"grades", file});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("INVALID grades"), std::string::npos) << bad.out;
}

TEST_F(SingleNodeE2ETest, KeyRotationRevocationAndKeyEvidence) {
  ASSERT_NO_FATAL_FAILURE(StartNode());
  const std::string keys1 = dir_ + "/keys1";
  const std::string keys2 = dir_ + "/keys2";
  const Json k1 = Json::parse(
      Ctl({"keygen", "--name", "platform-1", "--out", keys1}, false));
  Ctl({"keygen", "--name", "platform-2", "--out", keys2}, false);
  Ctl({"register-key", "--pub", keys1 + "/platform-1.pub", "--tenant",
       "acme-ai", "--producer", "e2e-platform"});
  const std::string events = dir_ + "/events.jsonl";
  const auto gen = [&](int seed, const std::string& producer) {
    WriteFile(events, Ctl({"gen-events", "--count", "20", "--tenant", "acme-ai",
                           "--seed", StrCat(seed), "--producer", producer},
                          false));
  };
  gen(1, "e2e-platform/1.0");
  std::string out = Ctl({"append", "--emitter-key", keys1, "--file", events});
  const uint64_t old_entry =
      Json::parse(out.substr(0, out.find('\n')))["index"].get<uint64_t>();
  // Another producer's events are refused for this key.
  gen(2, "other-platform/1.0");
  RunResult refused =
      CtlResult({"append", "--emitter-key", keys1, "--file", events});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("PERMISSION_DENIED"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("producer"), std::string::npos) << refused.err;

  const Json rotated = Json::parse(
      Ctl({"keys", "rotate", "--key-id", k1["key_id"].get<std::string>(),
           "--pub", keys2 + "/platform-2.pub", "--reason", "yearly"}));
  const uint64_t rotation = rotated["index"].get<uint64_t>();
  gen(3, "e2e-platform/1.1");
  refused = CtlResult({"append", "--emitter-key", keys1, "--file", events});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find(StrCat("rotated out by entry ", rotation)),
            std::string::npos)
      << refused.err;
  out = Ctl({"append", "--emitter-key", keys2, "--file", events});
  const uint64_t new_entry =
      Json::parse(out.substr(0, out.find('\n')))["index"].get<uint64_t>();
  EXPECT_GT(new_entry, rotation);

  const std::string vkeys = dir_ + "/log.vkeys";
  WriteFile(vkeys, Ctl({"keys", "--note"}));
  WaitForCheckpoint(new_entry + 1);
  for (const uint64_t index : {old_entry, new_entry}) {
    const std::string proof = StrCat(dir_, "/key", index, ".tlog-proof");
    Ctl({"prove", "--index", StrCat(index), "--key-evidence", "--out", proof});
    RunResult r = Verify({"proof", proof, "--keys", vkeys});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("  key_tenant: acme-ai\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("  key_producer: e2e-platform\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("  emitter_signature: verified (key from its "
                         "registration)\n"),
              std::string::npos)
        << r.out;
    if (index == new_entry) {
      EXPECT_NE(r.out.find(StrCat("  key_registered_by_entry: ", rotation)),
                std::string::npos)
          << r.out;
      // Tampering with the extra data (here: the base64 of its last key
      // entry) makes the receipt INVALID.
      std::ifstream in(proof);
      std::string text(std::istreambuf_iterator<char>(in), {});
      const size_t extra_end = text.find('\n');
      const size_t at = text.find('\n', extra_end + 1) - 10;
      text[at] = text[at] == 'A' ? 'B' : 'A';
      WriteFile(proof + ".bad", text);
      RunResult bad = Verify({"proof", proof + ".bad", "--keys", vkeys});
      EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
    }
  }

  // Revocation: the new key signs nothing after it either.
  const Json keys_listed = Json::parse(Ctl({"list-keys"}));
  std::string k2_id;
  for (const Json& k : keys_listed["keys"]) {
    if (k["name"] == "platform-2") k2_id = k["key_id"].get<std::string>();
  }
  ASSERT_FALSE(k2_id.empty()) << keys_listed;
  Ctl({"revoke-key", "--key-id", k2_id, "--reason", "laptop stolen"});
  gen(4, "e2e-platform/1.1");
  refused = CtlResult({"append", "--emitter-key", keys2, "--file", events});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("UNAUTHENTICATED"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("laptop stolen"), std::string::npos)
      << refused.err;

  // The stopped node's whole ledger, before and after the key changes,
  // verifies.
  absl::StatusOr<int> stopped = node_->Stop(SIGTERM, seconds(60));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  absl::StatusOr<RunResult> verified = ledger::testing::Run(
      {BinaryPath("node/ledger-node"), "verify", "--data", dir_ + "/node"},
      seconds(120));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->exit_code, 0) << verified->out << verified->err;
}

}  // namespace
}  // namespace ledger::testing
