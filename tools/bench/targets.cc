// Ratios and the targets, computed from a summary (suite.h).

#include <algorithm>

#include "base/strings.h"
#include "tools/bench/proofs.h"
#include "tools/bench/suite.h"

namespace ledger::bench {
namespace {

using nlohmann::json;

// summary[path...] as a number, or nullopt if any step is missing.
std::optional<double> Number(const json& j,
                             std::initializer_list<const char*> path) {
  const json* at = &j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return std::nullopt;
    at = &(*at)[key];
  }
  if (!at->is_number()) return std::nullopt;
  return at->get<double>();
}

const json* RunWithRole(const json& summary, std::string_view role) {
  if (!summary.contains("runs")) return nullptr;
  for (const json& r : summary["runs"]) {
    if (r.value("role", std::string()) == role) return &r;
  }
  return nullptr;
}

std::optional<double> Rate(const json& summary, std::string_view role) {
  const json* r = RunWithRole(summary, role);
  if (r == nullptr) return std::nullopt;
  return Number(*r, {"events_per_second"});
}

std::optional<double> Best(std::optional<double> a, std::optional<double> b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

std::optional<double> Ratio(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b <= 0) return std::nullopt;
  return *a / *b;
}

}  // namespace

void AddTarget(json& targets, std::string name, std::string goal,
               std::optional<double> measured, bool at_least, double bound,
               std::string note) {
  json t{{"name", std::move(name)}, {"goal", std::move(goal)}};
  if (measured) {
    t["measured"] = *measured;
    t["met"] = at_least ? *measured >= bound : *measured <= bound;
  } else {
    t["measured"] = nullptr;
    t["met"] = false;
    note = note.empty() ? "not measured in this run" : note;
  }
  if (!note.empty()) t["note"] = std::move(note);
  targets.push_back(std::move(t));
}

json FasterCeilings(const json& first, const json& second) {
  json out = first;
  for (const auto& [name, rate] :
       {std::pair{"raw_rocksdb", "events_per_second"},
        std::pair{"ed25519_batch", "verifications_per_second"},
        std::pair{"ed25519_event", "verifications_per_second"}}) {
    const std::optional<double> a = Number(first, {name, rate});
    const std::optional<double> b = Number(second, {name, rate});
    if (!a || !b) {
      if (!a && b) out[name] = second[name];
      continue;
    }
    out[name] = *b > *a ? second[name] : first[name];
    out[name]["samples_per_second"] = json::array({*a, *b});
  }
  return out;
}

void AddRatiosAndTargets(json& summary) {
  const std::optional<double> batch =
      Best(Rate(summary, "batch_unary"), Rate(summary, "batch_stream"));
  const std::optional<double> event =
      Best(Rate(summary, "event_unary_many"), Rate(summary, "event_stream"));
  const std::optional<double> many = Rate(summary, "event_unary_many");
  const json peers = summary.value("peers", json::object());
  const json pg = peers.value("postgres", json::object());
  json ratios = json::object();
  auto put = [&](const char* key, std::optional<double> v) {
    if (v) ratios[key] = *v;
  };
  const auto raw =
      Ratio(batch, Number(peers, {"raw_rocksdb", "events_per_second"}));
  const auto sig = Ratio(
      event, Number(peers, {"ed25519_event", "verifications_per_second"}));
  const auto pg_best =
      Ratio(batch, Number(pg, {"best_chained", "rows_per_second"}));
  const auto pg_many =
      Ratio(many, Number(pg, {"many_clients_chained", "rows_per_second"}));
  put("batch_signed_vs_raw_rocksdb", raw);
  put("per_event_signed_vs_ed25519_ceiling", sig);
  put("ours_best_vs_postgres_chained_best", pg_best);
  put("ours_32x1_vs_postgres_chained_32x1", pg_many);
  put("ours_best_vs_postgres_plain_at_its_best",
      Ratio(batch, Number(pg, {"plain_at_best", "rows_per_second"})));
  put("postgres_plain_vs_chained_at_best",
      Ratio(Number(pg, {"plain_at_best", "rows_per_second"}),
            Number(pg, {"best_chained", "rows_per_second"})));
  put("postgres_plain_vs_chained_32x1",
      Ratio(Number(pg, {"plain_many_clients", "rows_per_second"}),
            Number(pg, {"many_clients_chained", "rows_per_second"})));
  summary["ratios"] = ratios;

  json targets = json::array();
  AddTarget(targets, "batch-signed ingest vs raw RocksDB ceiling", ">= 0.60",
            raw, true, 0.60);
  AddTarget(targets, "per-event-signed ingest vs Ed25519 ceiling (1 core)",
            ">= 0.80", sig, true, 0.80);
  AddTarget(targets, "vs PostgreSQL hash-chained, both at their best",
            ">= 1.5x", pg_best, true, 1.5);
  AddTarget(targets, "vs PostgreSQL hash-chained, 32 clients x 1 event",
            ">= 10x", pg_many, true, 10);
  const json* open = RunWithRole(summary, "latency_batch_open");
  AddTarget(targets, "p99 acknowledgement at half of max throughput (us)",
            "<= 5000",
            open ? Number(*open, {"latency", "p99_us"}) : std::nullopt, false,
            5000, "AppendBatch, open loop, latency from the due time");
  const json* open1 = RunWithRole(summary, "latency_event_open");
  AddTarget(
      targets, "p99 acknowledgement at half of max throughput, per-event (us)",
      "<= 5000", open1 ? Number(*open1, {"latency", "p99_us"}) : std::nullopt,
      false, 5000, "Append, open loop, latency from the due time");
  std::string at =
      summary.contains("proofs")
          ? StrCat("at ", summary["proofs"].value("tree_size", uint64_t{0}),
                   " entries (the 10M figure is `ledger-bench growth`)")
          : "";
  if (summary.contains("proofs")) at += RpcFloorNote(summary["proofs"]);
  AddTarget(targets, "inclusion proof p99 (us)", "<= 200",
            Number(summary, {"proofs", "inclusion", "latency", "p99_us"}),
            false, 200, at);
  AddTarget(targets, "consistency proof p99 (us)", "<= 300",
            Number(summary, {"proofs", "consistency", "latency", "p99_us"}),
            false, 300, at);
  AddTarget(
      targets, "offline verification, hash path (entries/s, 1 core)",
      ">= 500000",
      Number(summary, {"verify_offline", "hash_path", "entries_per_second"}),
      true, 500000);
  summary["targets"] = targets;
}

}  // namespace ledger::bench
