// ledger-bench: benchmarks of the annotation ledger over its real gRPC API,
// with the peers that bound it (raw RocksDB, Ed25519, PostgreSQL) measured
// in the same run. See tools/bench/README.md.
//
//   ledger-bench ingest [--rpc batch|stream|append] [--signatures batch|event]
//                       [--batch-size N] [--clients N] [--events N]
//                       [--rate R] [--seconds S] [--no-peers]
//   ledger-bench proofs --size N [--requests N] [--warmup N] [--clients N]
//                       [--connect A]
//   ledger-bench verify-offline --entries N
//   ledger-bench flood [--clients N] [--seconds S] [--streams N] ...
//   ledger-bench peers [--no-postgres] [--pg-rows N] ...
//   ledger-bench suite [--events N] [--no-postgres] ...
//   ledger-bench growth [--target N] [--step N] [--probe N]
//   ledger-bench tls [--rounds N] [--events N] ...
//   ledger-bench provenance [--entries N] [--queries N] [--no-postgres] ...
//   ledger-bench risk [--ingest-events N] [--verify-entries N] [--policy F]
//   ledger-bench tiles [--entries N] [--connections N] [--requests N]
//                      [--seconds S] [--path /tile/0/000]
//   ledger-bench cluster [--events N] [--clients N] [--etcd-puts N]
//                        [--failovers N] [--lease-ttl S] ...
//
// Common: --out FILE (JSON summary; stdout when absent), --markdown FILE,
// --node-binary, --work-dir, --seed, --keep; --tls: every node started
// runs mutual TLS with authorization (certificates from deploy/dev-ca.sh,
// --dev-ca); plaintext (--insecure-plaintext) otherwise. `proofs
// --connect` reaches its node with --profile / --ca / --cert / --key (or
// $LEDGER_PROFILE), or --insecure-plaintext. Exit codes: 0 done, 1 a run
// failed, 2 bad usage.

#include <CLI/CLI.hpp>
#include <iostream>

#include "base/strings.h"
#include "tools/bench/bench_tls.h"
#include "tools/bench/cleanup.h"
#include "tools/bench/cluster.h"
#include "tools/bench/commands.h"
#include "tools/bench/gateway_bench.h"
#include "tools/bench/growth.h"
#include "tools/bench/proofs.h"
#include "tools/bench/provenance.h"
#include "tools/bench/report.h"
#include "tools/bench/risk.h"
#include "tools/bench/tiles.h"
#include "tools/bench/tls_overhead.h"

#ifndef LEDGER_NODE_BINARY
#define LEDGER_NODE_BINARY "ledger-node"
#endif
#ifndef LEDGER_DEV_CA_SCRIPT
#define LEDGER_DEV_CA_SCRIPT "deploy/dev-ca.sh"
#endif

namespace ledger::bench {
namespace {

using nlohmann::json;

struct Flags {
  BenchEnv env;
  std::string out, markdown;
  IngestSpec spec;
  std::string rpc = "batch", signatures = "batch";
  bool no_peers = false;
  uint64_t size = 100000, requests = 2000, entries = 200000;
  int proof_clients = 1;
  uint64_t proof_warmup = ProofOptions().warmup;
  std::string connect;
  SuiteOptions suite;
  GrowthOptions growth;
  FloodOptions flood;
  PgSweepOptions pg;
  bool tls = false;
  TlsOverheadOptions tls_overhead;
  ProvenanceBenchOptions provenance;
  GatewayBenchOptions gateway;
  TileBenchOptions tiles;
  RiskBenchOptions risk;
  ClusterBenchOptions cluster;
};

void AddSpecOptions(CLI::App* cmd, Flags& f) {
  cmd->add_option("--rpc", f.rpc, "batch (AppendBatch), stream, append")
      ->check(CLI::IsMember({"batch", "stream", "append"}))
      ->capture_default_str();
  cmd->add_option("--signatures", f.signatures, "batch or event")
      ->check(CLI::IsMember({"batch", "event"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", f.spec.batch_size, "events per batch")
      ->capture_default_str();
  cmd->add_option("--clients", f.spec.clients, "channels / streams")
      ->capture_default_str();
  cmd->add_option("--events", f.spec.events, "measured events")
      ->capture_default_str();
  cmd->add_option("--rate", f.spec.rate,
                  "open loop: requests per second (0: closed loop)")
      ->capture_default_str();
  cmd->add_option("--seconds", f.spec.max_seconds, "time bound")
      ->capture_default_str();
  cmd->add_option("--stream-messages", f.spec.stream_messages,
                  "batches per stream")
      ->capture_default_str();
  cmd->add_option("--warmup", f.spec.warmup_events, "warm-up events")
      ->capture_default_str();
  cmd->add_option("--event-bytes", f.spec.event_bytes, "canonical event size")
      ->capture_default_str();
}

void AddPgOptions(CLI::App* cmd, PgSweepOptions& pg) {
  cmd->add_flag("!--no-postgres", pg.enabled,
                PostgresSupported()
                    ? "skip PostgreSQL"
                    : "skip PostgreSQL (required: this ledger-bench was "
                      "built without PostgreSQL support)");
  cmd->add_option("--pg-bin", pg.bin_dir, "PostgreSQL bin directory");
  cmd->add_option("--pg-rows", pg.rows, "rows per PostgreSQL run")
      ->capture_default_str();
  cmd->add_option("--pg-rows-per-insert", pg.rows_per_insert,
                  "sweep: rows per INSERT");
  cmd->add_option("--pg-clients", pg.clients, "sweep: connections");
  cmd->add_option("--pg-seconds", pg.max_seconds, "time bound per run")
      ->capture_default_str();
}

void Finish(const Flags& f, const std::string& command, json summary,
            const std::string& started) {
  summary["command"] = command;
  summary["started_at"] = started;
  summary["finished_at"] = NowUtc();
  summary["machine"] =
      MachineInfo(f.env.work_dir.empty() ? "/tmp" : f.env.work_dir);
  summary["seed"] = f.env.seed;
  if (summary.contains("runs")) std::cerr << TextTable(summary["runs"]);
  std::string md = MarkdownReport(summary);
  std::cerr << md;
  if (!f.markdown.empty()) {
    if (absl::Status s = WriteTextFile(f.markdown, md); !s.ok()) {
      std::cerr << "ledger-bench: " << s.message() << "\n";
    }
  }
  if (f.out.empty()) {
    std::cout << summary.dump(2, ' ', false, json::error_handler_t::replace)
              << std::endl;
  } else if (absl::Status s = WriteJsonFile(f.out, summary); !s.ok()) {
    std::cerr << "ledger-bench: " << s.message() << "\n";
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"ledger-bench: annotation ledger benchmarks over gRPC"};
  app.require_subcommand(1);
  app.fallthrough();
  Flags f;
  f.env.node_binary = LEDGER_NODE_BINARY;
  app.add_option("--node-binary", f.env.node_binary, "ledger-node to start")
      ->capture_default_str();
  app.add_option("--work-dir", f.env.work_dir,
                 "parent of temporary data directories (default /tmp)");
  app.add_option("--seed", f.env.seed, "workload seed")->capture_default_str();
  app.add_flag("--keep", f.env.keep, "keep data directories and logs");
  app.add_option("--out", f.out, "JSON summary file (default: stdout)");
  app.add_option("--markdown", f.markdown, "markdown report file");
  app.add_option("--node-log-level", f.env.node_log_level, "node log level")
      ->capture_default_str();
  app.add_flag("--tls", f.tls,
               "start every node with mutual TLS and authorization "
               "(default: --insecure-plaintext)");
  f.env.dev_ca_script = LEDGER_DEV_CA_SCRIPT;
  app.add_option("--dev-ca", f.env.dev_ca_script,
                 "deploy/dev-ca.sh, which makes the certificates for --tls "
                 "and `tls`")
      ->capture_default_str();
  client_tls::AddClientFlags(&app, &f.env.client);

  CLI::App* ingest = app.add_subcommand("ingest", "one ingest scenario");
  AddSpecOptions(ingest, f);
  ingest->add_flag("--no-peers", f.no_peers, "skip raw RocksDB and Ed25519");
  CLI::App* proofs = app.add_subcommand("proofs", "proof latency at a size");
  proofs->add_option("--size", f.size, "ledger size")->capture_default_str();
  proofs->add_option("--requests", f.requests, "requests of each kind")
      ->capture_default_str();
  proofs
      ->add_option(
          "--warmup", f.proof_warmup,
          "untimed requests of each kind per client first (at least one)")
      ->capture_default_str();
  proofs->add_option("--clients", f.proof_clients, "concurrent clients")
      ->capture_default_str();
  proofs->add_option("--connect", f.connect,
                     "measure the node running at this address (its latest "
                     "checkpoint) instead of starting and filling one");
  CLI::App* verify =
      app.add_subcommand("verify-offline", "offline verification rate");
  verify->add_option("--entries", f.entries, "ledger size")
      ->capture_default_str();
  CLI::App* flood = app.add_subcommand(
      "flood", "memory, threads and health under a flood and open streams");
  flood->add_option("--clients", f.flood.clients, "flooding clients")
      ->capture_default_str();
  flood
      ->add_option("--outstanding", f.flood.outstanding,
                   "calls in flight per client")
      ->capture_default_str();
  flood->add_option("--seconds", f.flood.seconds, "flood duration")
      ->capture_default_str();
  flood->add_option("--batch-size", f.flood.batch_size, "events per call")
      ->capture_default_str();
  flood->add_option("--pool", f.flood.pool_events, "distinct events cycled")
      ->capture_default_str();
  flood->add_option("--streams", f.flood.streams, "open streams")
      ->capture_default_str();
  flood
      ->add_option("--hold-seconds", f.flood.hold_seconds,
                   "how long the streams stay open")
      ->capture_default_str();
  CLI::App* peers = app.add_subcommand("peers", "the peers alone");
  AddSpecOptions(peers, f);
  AddPgOptions(peers, f.pg);
  CLI::App* suite = app.add_subcommand("suite", "the full comparison run");
  suite->add_option("--events", f.suite.events, "events per run")
      ->capture_default_str();
  suite->add_option("--seconds", f.suite.max_seconds, "time bound per run")
      ->capture_default_str();
  suite->add_option("--batch-size", f.suite.batch_size, "batch-signed runs")
      ->capture_default_str();
  suite->add_option("--clients", f.suite.clients, "clients / streams")
      ->capture_default_str();
  suite
      ->add_option("--single-clients", f.suite.single_clients,
                   "clients of the one-event-per-request run")
      ->capture_default_str();
  suite
      ->add_option("--latency-batch-size", f.suite.latency_batch_size,
                   "batch size of the latency runs")
      ->capture_default_str();
  suite
      ->add_option("--proof-requests", f.suite.proof_requests,
                   "proof requests of each kind")
      ->capture_default_str();
  suite
      ->add_option("--warmup", f.suite.warmup_events,
                   "warm-up events before each run")
      ->capture_default_str();
  AddPgOptions(suite, f.suite.postgres);
  CLI::App* growth = app.add_subcommand("growth", "ingest and proofs to 10M");
  growth->add_option("--target", f.growth.target, "final size")
      ->capture_default_str();
  growth->add_option("--step", f.growth.step, "events per step")
      ->capture_default_str();
  growth->add_option("--probe", f.growth.probe_events, "probe events")
      ->capture_default_str();
  growth->add_option("--batch-size", f.growth.batch_size, "events per batch")
      ->capture_default_str();
  growth->add_option("--clients", f.growth.clients, "streams")
      ->capture_default_str();
  growth
      ->add_option("--proof-requests", f.growth.proof_requests,
                   "proof requests of each kind per step")
      ->capture_default_str();
  growth
      ->add_option("--warmup", f.growth.warmup_events,
                   "warm-up events (at most a tenth of a step)")
      ->capture_default_str();
  growth->add_option("--seconds", f.growth.max_seconds, "time bound")
      ->capture_default_str();
  CLI::App* tls = app.add_subcommand(
      "tls",
      "mTLS with authorization vs plaintext, alternating in one run: "
      "batch-signed AppendBatch and per-event Append, with the targets");
  TlsOverheadOptions& t = f.tls_overhead;
  tls->add_option("--rounds", t.rounds, "plaintext/mTLS pairs per scenario")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  tls->add_option("--events", t.events, "events per run")
      ->capture_default_str();
  tls->add_option("--seconds", t.max_seconds, "time bound per run")
      ->capture_default_str();
  tls->add_option("--batch-size", t.batch_size, "batch-signed runs")
      ->capture_default_str();
  tls->add_option("--clients", t.batch_clients, "batch-signed clients")
      ->capture_default_str();
  tls->add_option("--single-clients", t.single_clients,
                  "clients of the per-event Append runs")
      ->capture_default_str();
  tls->add_option("--warmup", t.warmup_events, "warm-up events per run")
      ->capture_default_str();
  CLI::App* gw = app.add_subcommand(
      "gateway",
      "OpenLineage events over HTTP keep-alive through ledger-gateway vs the "
      "same kind of events by ledgerctl append over gRPC, in one run");
  GatewayBenchOptions& g = f.gateway;
  gw->add_option("--rounds", g.rounds, "gateway/gRPC pairs, order alternating")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  gw->add_option("--events", g.events, "events per side and round")
      ->capture_default_str();
  gw->add_option("--connections", g.connections, "HTTP keep-alive clients")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  gw->add_option("--senders", g.senders,
                 "the gateway's AppendBatch calls in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  gw->add_option("--batch-size", g.batch_size, "gRPC side: events per batch")
      ->capture_default_str();
  gw->add_option("--in-flight", g.in_flight, "gRPC side: requests in flight")
      ->capture_default_str();
  CLI::App* prov = app.add_subcommand(
      "provenance",
      "provenance queries in process vs PostgreSQL on the same entries, "
      "and ingest with and without the provenance indexes");
  ProvenanceBenchOptions& p = f.provenance;
  prov->add_option("--entries", p.entries, "events of the lineage workflow")
      ->capture_default_str();
  prov->add_option("--batch-size", p.batch_size, "events per Append")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  prov->add_option("--fan-in", p.fan_in, "inputs of each aggregation")
      ->capture_default_str()
      ->check(CLI::Range(3, 100));
  prov->add_option("--workflow-depth", p.workflow_depth,
                   "steps of each release's chain")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  prov->add_option("--depth", p.depth, "upstream depth queried")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  prov->add_option("--history-length", p.history_length,
                   "entries of each history query: the first page of subjects "
                   "with at least as many (at most 1000)")
      ->capture_default_str();
  prov->add_option("--subjects", p.subjects, "distinct subjects and nodes")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  prov->add_option("--queries", p.queries, "timed queries of each kind")
      ->capture_default_str();
  prov->add_option("--warmup", p.warmup, "untimed passes over the subjects")
      ->capture_default_str();
  prov->add_option("--ingest-events", p.ingest_events,
                   "events of each ingest run (0: all)")
      ->capture_default_str();
  prov->add_option("--ingest-rounds", p.ingest_rounds,
                   "(with, without) ingest pairs")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  prov->add_flag("!--no-postgres", p.postgres, "skip PostgreSQL");
  prov->add_option("--pg-bin", p.pg_bin_dir, "PostgreSQL bin directory");
  prov->add_option("--pg-shared-buffers", p.pg_shared_buffers,
                   "PostgreSQL shared_buffers (default: from the data size)");
  CLI::App* risk = app.add_subcommand(
      "risk",
      "risk grading in process: ingest with and without risk evaluation, "
      "and ledger-verify grades' replay of an export");
  risk->add_option("--policy", f.risk.policy_file,
                   "risk policy file (default: deploy/risk-policy.toml of "
                   "this source tree)");
  risk->add_option("--ingest-events", f.risk.ingest_events,
                   "events of each ingest run")
      ->capture_default_str();
  risk->add_option("--ingest-rounds", f.risk.ingest_rounds,
                   "(with, without) ingest pairs")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  risk->add_option("--batch-size", f.risk.batch_size, "events per Append")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  risk->add_option("--verify-entries", f.risk.verify_entries,
                   "generated events in the replayed export")
      ->capture_default_str();
  risk->add_option("--verify-rounds", f.risk.verify_rounds, "timed replays")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  CLI::App* tiles = app.add_subcommand(
      "tiles", "tlog-tiles serving over the node's HTTP port (requests/s)");
  tiles->add_option("--entries", f.tiles.entries, "ledger size first")
      ->capture_default_str();
  tiles
      ->add_option("--connections", f.tiles.connections,
                   "keep-alive connections")
      ->capture_default_str();
  tiles->add_option("--requests", f.tiles.requests, "requests in all, at most")
      ->capture_default_str();
  tiles->add_option("--seconds", f.tiles.max_seconds, "at most this long")
      ->capture_default_str();
  tiles->add_option("--path", f.tiles.path, "the full tile fetched")
      ->capture_default_str();
  CLI::App* cluster = app.add_subcommand(
      "cluster",
      "the replicated cluster (3 nodes, 3 etcd members) in one run: etcd's "
      "put rate, cluster and single-node ingest, p99 at half load, leader "
      "failover, with the targets");
  ClusterBenchOptions& cl = f.cluster;
  cluster->add_option("--events", cl.events, "measured events per ingest run")
      ->capture_default_str();
  cluster->add_option("--warmup", cl.warmup_events, "warm-up events per run")
      ->capture_default_str();
  cluster->add_option("--batch-size", cl.batch_size, "events per AppendBatch")
      ->capture_default_str();
  cluster->add_option("--clients", cl.clients, "ingest clients")
      ->capture_default_str();
  cluster->add_option("--seconds", cl.max_seconds, "time bound per run")
      ->capture_default_str();
  cluster->add_option("--etcd-puts", cl.etcd_puts, "measured etcd puts")
      ->capture_default_str();
  cluster->add_option("--etcd-clients", cl.etcd_clients, "etcd put clients")
      ->capture_default_str();
  cluster
      ->add_option("--etcd-value-bytes", cl.etcd_value_bytes,
                   "bytes of each put value")
      ->capture_default_str();
  cluster
      ->add_option("--etcd-seconds", cl.etcd_seconds, "time bound of the puts")
      ->capture_default_str();
  cluster->add_option("--failovers", cl.failovers, "leader kills (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cluster
      ->add_option("--lease-ttl", cl.lease_ttl_seconds,
                   "[cluster] lease_ttl of the nodes, seconds")
      ->capture_default_str();
  cluster
      ->add_option("--failover-rate", cl.failover_rate,
                   "requests/s of the load during the failovers")
      ->capture_default_str();
  cluster
      ->add_option("--failover-clients", cl.failover_clients,
                   "clients of the failover load")
      ->capture_default_str();
  cluster
      ->add_option("--failover-timeout", cl.failover_timeout_seconds,
                   "seconds from a kill to an acknowledgement, at most")
      ->capture_default_str();
  cluster
      ->add_option("--catch-up-timeout", cl.catch_up_timeout_seconds,
                   "seconds for a restarted node to catch up, at most")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  f.spec.rpc = f.rpc == "stream"   ? Rpc::kAppendStream
               : f.rpc == "append" ? Rpc::kAppend
                                   : Rpc::kAppendBatch;
  f.spec.per_event_signatures = f.signatures == "event";
  if (f.spec.per_event_signatures) f.spec.batch_size = 1;
  f.spec.name = StrCat(f.spec.per_event_signatures ? "per-event " : "batch ",
                       RpcName(f.spec.rpc), " b", f.spec.batch_size, " c",
                       f.spec.clients, f.spec.rate > 0 ? " open" : "");
  if ((peers->parsed() && f.pg.enabled) ||
      (suite->parsed() && f.suite.postgres.enabled) ||
      (prov->parsed() && p.postgres)) {
    if (!PostgresSupported()) {
      std::cerr << "ledger-bench: " << kNoPostgresMessage << "\n";
      return 2;
    }
  }
  if ((ingest->parsed() || peers->parsed())) {
    if (absl::Status s = ValidateSpec(f.spec); !s.ok()) {
      std::cerr << "ledger-bench: " << s.message() << "\n";
      return 2;
    }
  }

  if (cluster->parsed()) {
    if (absl::Status s = ValidateClusterOptions(f.cluster); !s.ok()) {
      std::cerr << "ledger-bench: " << s.message() << "\n";
      return 2;
    }
    if (f.tls) {
      std::cerr << "ledger-bench: cluster runs plaintext only: drop --tls\n";
      return 2;
    }
  }

  InstallSignalCleanup();
  if (f.tls) {
    absl::StatusOr<std::unique_ptr<BenchTls>> certificates = BenchTls::Create(
        f.env.dev_ca_script, f.env.work_dir, kTenant, f.env.keep);
    if (!certificates.ok()) {
      std::cerr << "ledger-bench: --tls: " << certificates.status().message()
                << "\n";
      RunCleanups();
      return 1;
    }
    f.env.tls = *std::move(certificates);
  }
  const std::string started = NowUtc();
  absl::StatusOr<json> result;
  std::string command = app.get_subcommands()[0]->get_name();
  if (ingest->parsed()) {
    result = IngestCommand(f.env, f.spec, !f.no_peers);
  } else if (proofs->parsed()) {
    result = ProofsCommand(f.env, f.size, f.requests, f.proof_warmup,
                           f.proof_clients, f.connect);
  } else if (verify->parsed()) {
    result = VerifyOfflineCommand(f.env, f.entries);
  } else if (peers->parsed()) {
    result = PeersCommand(f.env, f.spec, f.pg);
  } else if (flood->parsed()) {
    result = FloodCommand(f.env, f.flood);
  } else if (suite->parsed()) {
    result = RunSuite(f.env, f.suite);
  } else if (tls->parsed()) {
    result = RunTlsOverhead(f.env, f.tls_overhead);
  } else if (gw->parsed()) {
    result = RunGatewayBench(f.env, f.gateway);
  } else if (risk->parsed()) {
    result = RunRiskBench(f.env, f.risk);
  } else if (tiles->parsed()) {
    result = TilesCommand(f.env, f.tiles);
  } else if (cluster->parsed()) {
    result = RunClusterBench(f.env, f.cluster);
  } else if (prov->parsed()) {
    result = RunProvenanceBench(f.env, f.provenance);
    if (result.ok()) std::cerr << ProvenanceTable(*result);
  } else {
    result = RunGrowth(f.env, f.growth, [&](const json& partial) {
      if (f.out.empty()) return;
      json copy = partial;
      copy["command"] = "growth";
      copy["partial"] = true;
      (void)WriteJsonFile(f.out, copy);
    });
  }
  if (!result.ok()) {
    std::cerr << "ledger-bench " << command << ": " << result.status().message()
              << "\n";
    RunCleanups();
    return 1;
  }
  Finish(f, command, *std::move(result), started);
  RunCleanups();  // nothing left on success, but waits for a signal's
  return 0;
}

}  // namespace
}  // namespace ledger::bench

int main(int argc, char** argv) {
  try {
    return ledger::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "ledger-bench: " << e.what() << "\n";
    ledger::bench::RunCleanups();
    return 1;
  }
}
