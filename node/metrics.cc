#include "node/metrics.h"

#include <algorithm>
#include <cstdio>

#include "base/strings.h"
#include "ledger/ledger.h"
#include "node/authorizer.h"
#include "node/clock.h"
#include "node/coordinator.h"
#include "node/sequencer.h"

namespace ledger::node {
namespace {

constexpr std::string_view kHttpResourceNames[kHttpResources] = {
    "checkpoint", "tile", "entries", "metrics", "other"};
constexpr std::string_view kHttpClasses[4] = {"2xx", "4xx", "404", "5xx"};

// Writes one metric family: HELP and TYPE lines, then its samples.
class Writer {
 public:
  void Family(std::string_view name, std::string_view type,
              std::string_view help) {
    StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
              "\n");
  }
  void Sample(std::string_view name, std::string_view labels, uint64_t v) {
    StrAppend(&out_, name, labels.empty() ? "" : "{", labels,
              labels.empty() ? "" : "}", " ", v, "\n");
  }
  void SampleDouble(std::string_view name, std::string_view labels, double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", v);
    StrAppend(&out_, name, labels.empty() ? "" : "{", labels,
              labels.empty() ? "" : "}", " ", buf, "\n");
  }
  void Gauge(std::string_view name, std::string_view help, uint64_t v) {
    Family(name, "gauge", help);
    Sample(name, "", v);
  }
  void Counter(std::string_view name, std::string_view help, uint64_t v) {
    Family(name, "counter", help);
    Sample(name, "", v);
  }
  // Bounds and sum are in `unit`s of the exposed value (1e-6: microseconds
  // shown as seconds).
  template <size_t N>
  void HistogramFamily(std::string_view name, std::string_view help,
                       const Histogram<N>& h, double unit) {
    Family(name, "histogram", help);
    const std::string bucket = StrCat(name, "_bucket");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < N; ++b) {
      cumulative += h.bucket(b);
      char le[32];
      std::snprintf(le, sizeof(le), "%.6g",
                    static_cast<double>(h.bounds()[b]) * unit);
      Sample(bucket, StrCat("le=\"", le, "\""), cumulative);
    }
    cumulative += h.bucket(N);
    Sample(bucket, "le=\"+Inf\"", cumulative);
    SampleDouble(StrCat(name, "_sum"), "", static_cast<double>(h.sum()) * unit);
    Sample(StrCat(name, "_count"), "", cumulative);
  }

  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string_view AppendRpcName(AppendRpc rpc) {
  switch (rpc) {
    case AppendRpc::kAppend:
      return "Append";
    case AppendRpc::kAppendBatch:
      return "AppendBatch";
    case AppendRpc::kAppendStream:
      return "AppendStream";
  }
  return "unknown";
}

std::string NodeMetrics::Render(const Sources* sources) const {
  Writer w;
  w.Gauge("ledger_startup_verify_entries_checked",
          "Entries the start-up verification has checked so far.",
          open_progress.checked.load(std::memory_order_relaxed));
  w.Gauge("ledger_startup_verify_entries_total",
          "Entries the start-up verification checks in all.",
          open_progress.total.load(std::memory_order_relaxed));
  w.Gauge("ledger_startup_verified",
          "1 once the ledger is open and verified and the node serves it.",
          open_progress.done.load(std::memory_order_relaxed) ? 1 : 0);

  w.Family("ledger_appends_total", "counter",
           "Batches received by the append RPCs, by RPC and gRPC status code "
           "(an Append is a batch of one; each stream message is a batch).");
  for (size_t r = 0; r < kAppendRpcs; ++r) {
    for (size_t c = 0; c < kCodes; ++c) {
      const uint64_t n = appends_[r][c].batches.load(std::memory_order_relaxed);
      if (n == 0 && c != 0) continue;
      w.Sample(
          "ledger_appends_total",
          StrCat(
              "rpc=\"", AppendRpcName(static_cast<AppendRpc>(r)), "\",code=\"",
              absl::StatusCodeToString(static_cast<absl::StatusCode>(c)), "\""),
          n);
    }
  }
  w.Family("ledger_append_events_total", "counter",
           "Events in those batches, by RPC and gRPC status code.");
  for (size_t r = 0; r < kAppendRpcs; ++r) {
    for (size_t c = 0; c < kCodes; ++c) {
      const uint64_t n = appends_[r][c].events.load(std::memory_order_relaxed);
      if (n == 0 && c != 0) continue;
      w.Sample(
          "ledger_append_events_total",
          StrCat(
              "rpc=\"", AppendRpcName(static_cast<AppendRpc>(r)), "\",code=\"",
              absl::StatusCodeToString(static_cast<absl::StatusCode>(c)), "\""),
          n);
    }
  }
  w.HistogramFamily("ledger_append_batch_events", "Events per accepted batch.",
                    batch_events, 1);
  w.HistogramFamily("ledger_group_events",
                    "Events per sequencer group (one RocksDB write).",
                    group_events, 1);
  w.HistogramFamily("ledger_commit_latency_seconds",
                    "From a batch's admission to its acknowledgement (durable "
                    "and committed, or refused).",
                    commit_latency_us, 1e-6);
  w.Counter("ledger_pushback_total",
            "Times a batch found the append queue full: refused with "
            "RESOURCE_EXHAUSTED (Append, AppendBatch before verifying), or, "
            "once received and verified, held until there is room.",
            pushbacks_.load(std::memory_order_relaxed));

  w.Family("ledger_http_requests_total", "counter",
           "Requests to the HTTP port, by resource and status class.");
  for (size_t r = 0; r < kHttpResources; ++r) {
    for (size_t c = 0; c < 4; ++c) {
      w.Sample("ledger_http_requests_total",
               StrCat("resource=\"", kHttpResourceNames[r], "\",status=\"",
                      kHttpClasses[c], "\""),
               http_[r][c].load(std::memory_order_relaxed));
    }
  }

  if (sources == nullptr) return w.Take();
  const Sources& s = *sources;
  const uint64_t committed = s.coordinator->Committed().size;
  w.Gauge("ledger_entries", "Entries committed (the ledger's size).",
          committed);
  std::optional<ledger::StoredCheckpoint> latest = s.ledger->LatestCheckpoint();
  w.Gauge("ledger_checkpoint_size", "Entries the latest checkpoint covers.",
          latest.has_value() ? latest->size : 0);
  const int64_t issued = checkpoint_issued_ns_.load(std::memory_order_relaxed);
  w.Family("ledger_checkpoint_age_seconds", "gauge",
           "Seconds since the latest checkpoint was signed.");
  w.SampleDouble("ledger_checkpoint_age_seconds", "",
                 issued == 0 ? 0.0
                             : static_cast<double>(std::max<int64_t>(
                                   s.clock->NowNs() - issued, 0)) /
                                   1e9);
  w.Counter("ledger_checkpoints_issued_total",
            "Checkpoints this process signed.",
            s.sequencer->checkpoints_issued());
  w.Gauge("ledger_queue_events",
          "Events admitted and not yet acknowledged (the append queue).",
          s.sequencer->admitted_events());
  w.Gauge("ledger_queue_limit_events",
          "The append queue's bound (max_queued_events).", s.max_queued_events);
  w.Gauge("ledger_write_path_serving",
          "1 while appends are accepted (the ledger.v1.Ingest health).",
          s.sequencer->state() == SequencerState::kRunning ? 1 : 0);
  w.Counter("ledger_groups_written_total",
            "Sequencer groups written (RocksDB writes of entries).",
            s.sequencer->append_calls());

  w.Family("ledger_requests_refused_total", "counter",
           "Requests refused by the authorizer, by reason.");
  w.Sample("ledger_requests_refused_total", "reason=\"denied\"",
           s.authorizer->denied_requests());
  w.Sample("ledger_requests_refused_total", "reason=\"unauthenticated\"",
           s.authorizer->unauthenticated_requests());
  w.Sample("ledger_requests_refused_total", "reason=\"rate_limited\"",
           s.authorizer->rate_limited_requests());

  const ledger::StoreStats st = s.ledger->store_stats();
  w.Gauge("ledger_rocksdb_write_stopped",
          "1 while RocksDB stops writes (a write stall).",
          st.write_stopped ? 1 : 0);
  w.Gauge("ledger_rocksdb_delayed_write_rate_bytes",
          "RocksDB's write rate while it slows writes down (bytes/s); 0 when "
          "it does not.",
          st.delayed_write_rate);
  w.Family("ledger_rocksdb_stalls_total", "counter",
           "RocksDB write stalls since the store opened, by kind (summed "
           "over column families).");
  w.Sample("ledger_rocksdb_stalls_total", "kind=\"stop\"", st.stall_stops);
  w.Sample("ledger_rocksdb_stalls_total", "kind=\"slowdown\"",
           st.stall_slowdowns);
  w.Gauge("ledger_rocksdb_running_compactions", "Compactions running now.",
          st.running_compactions);
  w.Gauge("ledger_rocksdb_running_flushes", "Memtable flushes running now.",
          st.running_flushes);
  w.Gauge("ledger_rocksdb_compaction_pending",
          "Column families that wait for a compaction.", st.compaction_pending);
  w.Gauge("ledger_rocksdb_pending_compaction_bytes",
          "RocksDB's estimate of the bytes compaction has to rewrite.",
          st.pending_compaction_bytes);
  w.Gauge("ledger_rocksdb_live_sst_bytes",
          "Bytes of the table files of the current version.",
          st.live_sst_bytes);
  return w.Take();
}

}  // namespace ledger::node
