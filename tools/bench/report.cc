#include "tools/bench/report.h"

#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "base/strings.h"
#include "tools/common/subprocess.h"

namespace ledger::bench {
namespace {

using nlohmann::json;

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string FirstLineWith(const std::string& path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      size_t colon = line.find(':');
      return std::string(
          Trim(colon == std::string::npos ? line : line.substr(colon + 1)));
    }
  }
  return "";
}

std::string Command(const std::vector<std::string>& argv) {
  absl::StatusOr<subprocess::RunResult> r =
      subprocess::Run(argv, std::chrono::seconds(10));
  if (!r.ok() || r->exit_code != 0) return "";
  return std::string(Trim(r->out));
}

std::string Fixed(double v, int digits) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string Cell(const json& j, const char* key, int digits) {
  if (!j.contains(key) || !j[key].is_number()) return "-";
  return Fixed(j[key].get<double>(), digits);
}

// `ledger-bench cluster`'s etcd run, failover rounds and cluster notes
// (cluster.h).
std::string ClusterSections(const json& summary) {
  std::ostringstream md;
  if (summary.contains("etcd")) {
    const json& e = summary["etcd"];
    const json lat = e.value("latency", json::object());
    md << "etcd put: " << Cell(e, "puts_per_second", 0) << " puts/s ("
       << e.value("members", 0) << " members, " << e.value("clients", 0)
       << " clients, " << e.value("value_bytes", 0) << "-byte values, "
       << e.value("puts", uint64_t{0}) << " puts, "
       << e.value("failed_puts", uint64_t{0}) << " failed; p50 "
       << Cell(lat, "p50_us", 0) << " us, p99 " << Cell(lat, "p99_us", 0)
       << " us)\n\n";
  }
  if (summary.contains("failover")) {
    const json& f = summary["failover"];
    const json load = f.value("load", json::object());
    md << "Failover (lease_ttl " << Cell(f, "lease_ttl_seconds", 1)
       << " s; load " << Cell(load, "rate_requests_per_second", 0)
       << " requests/s of " << load.value("batch_size", 0)
       << " events): median " << Cell(f, "median_seconds", 3) << " s, worst "
       << Cell(f, "worst_seconds", 3) << " s over "
       << f.value("measured_rounds", 0) << " kills\n\n";
    md << "| round | killed | next leader | failover s | restart s | "
          "catch-up s |\n|---:|---|---|---:|---:|---:|\n";
    for (const json& r : f.value("rounds", json::array())) {
      md << "| " << r.value("round", 0) << " | "
         << r.value("killed", std::string()) << " | "
         << r.value("next_leader", std::string("-")) << " | "
         << Cell(r, "failover_seconds", 3) << " | "
         << Cell(r, "restart_seconds", 2) << " | "
         << Cell(r, "catch_up_seconds", 2) << " |\n";
    }
    md << "\n";
    if (f.contains("stopped")) {
      md << "Stopped early: " << f["stopped"].get<std::string>() << "\n\n";
    }
  }
  if (summary.contains("cluster") &&
      !summary["cluster"].value("unplanned_exits", json::array()).empty()) {
    md << "Nodes that ended on their own: "
       << summary["cluster"]["unplanned_exits"].dump() << "\n\n";
  }
  return md.str();
}

}  // namespace

json HistogramJson(const Histogram& h) {
  return json{{"count", h.count()},
              {"mean_us", h.mean() / 1000.0},
              {"p50_us", Us(h.ValueAtPercentile(50))},
              {"p90_us", Us(h.ValueAtPercentile(90))},
              {"p99_us", Us(h.ValueAtPercentile(99))},
              {"p999_us", Us(h.ValueAtPercentile(99.9))},
              {"max_us", Us(h.max())}};
}

json MachineInfo(const std::string& work_dir) {
  json m;
  m["cpu_model"] = FirstLineWith("/proc/cpuinfo", "model name");
  m["cores"] = sysconf(_SC_NPROCESSORS_ONLN);
  std::string mem = FirstLineWith("/proc/meminfo", "MemTotal");
  m["memory"] = mem;
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = StrCat(u.sysname, " ", u.release);
  struct statvfs fs {};
  if (statvfs(work_dir.c_str(), &fs) == 0) {
    m["work_dir_free_bytes"] = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }
  m["work_dir"] = work_dir;
  m["df"] = Command({"/bin/df", "-h", work_dir});
  m["lsblk"] = Command({"/bin/lsblk", "-d", "-o", "NAME,ROTA,SIZE,MODEL"});
  m["load_average"] = FirstLineWith("/proc/loadavg", "");
  return m;
}

std::string NowUtc() {
  time_t now = time(nullptr);
  tm t{};
  gmtime_r(&now, &t);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status WriteJsonFile(const std::string& path, const json& value) {
  return WriteTextFile(
      path, value.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

std::string TextTable(const json& runs) {
  std::ostringstream out;
  char line[256];
  snprintf(line, sizeof(line), "%-40s %12s %10s %10s %10s %12s\n", "run",
           "events/s", "p50 us", "p99 us", "p99.9 us", "cpu s/1k");
  out << line;
  for (const json& r : runs) {
    const json lat = r.value("latency", json::object());
    snprintf(line, sizeof(line), "%-40s %12s %10s %10s %10s %12s\n",
             r.value("name", std::string("?")).c_str(),
             Cell(r, "events_per_second", 0).c_str(),
             Cell(lat, "p50_us", 0).c_str(), Cell(lat, "p99_us", 0).c_str(),
             Cell(lat, "p999_us", 0).c_str(),
             Cell(r, "node_cpu_seconds_per_1k_events", 4).c_str());
    out << line;
  }
  return out.str();
}

std::string MarkdownReport(const json& summary) {
  std::ostringstream md;
  md << "# ledger-bench " << summary.value("command", std::string()) << " — "
     << summary.value("started_at", std::string()) << "\n\n";
  if (summary.contains("machine")) {
    const json& m = summary["machine"];
    md << "Machine: " << m.value("cpu_model", std::string("?")) << ", "
       << m.value("cores", 0) << " cores, " << m.value("memory", std::string())
       << "\n\n";
  }
  if (summary.value("command", std::string()) == "gateway" &&
      summary.contains("runs")) {
    // Rounds of the gateway against ledgerctl append (gateway_bench.h).
    md << "| round | first | gateway events/s | gRPC events/s | ratio | "
          "gateway CPU s/1k (bench, node) | gRPC CPU s/1k (bench, node) | "
          "events per AppendBatch |\n"
          "|---:|---|---:|---:|---:|---|---|---:|\n";
    for (const json& r : summary["runs"]) {
      const json g = r.value("gateway", json::object());
      const json c = r.value("grpc", json::object());
      md << "| " << r.value("round", 0) << " | "
         << (r.value("gateway_first", false) ? "gateway" : "gRPC") << " | "
         << Cell(g, "events_per_second", 0) << " | "
         << Cell(c, "events_per_second", 0) << " | " << Cell(r, "ratio", 3)
         << " | " << Cell(g, "client_cpu_s_per_1k_events", 3) << ", "
         << Cell(g, "node_cpu_s_per_1k_events", 3) << " | "
         << Cell(c, "client_cpu_s_per_1k_events", 3) << ", "
         << Cell(c, "node_cpu_s_per_1k_events", 3) << " | "
         << Cell(g, "events_per_batch", 1) << " |\n";
    }
    md << "\nMedian ratio " << Cell(summary, "ratio", 3)
       << " (target >= " << Cell(summary, "target", 2) << ": "
       << (summary.value("meets_target", false) ? "met" : "not met")
       << ").\n\n";
    return md.str();
  }
  if (summary.value("command", std::string()) == "cluster") {
    md << ClusterSections(summary);
  }
  if (summary.contains("runs")) {
    md << "| run | events/s | p50 us | p90 us | p99 us | p99.9 us | node CPU "
          "s/1k events |\n|---|---:|---:|---:|---:|---:|---:|\n";
    for (const json& r : summary["runs"]) {
      const json lat = r.value("latency", json::object());
      md << "| " << r.value("name", std::string("?")) << " | "
         << Cell(r, "events_per_second", 0) << " | " << Cell(lat, "p50_us", 0)
         << " | " << Cell(lat, "p90_us", 0) << " | " << Cell(lat, "p99_us", 0)
         << " | " << Cell(lat, "p999_us", 0) << " | "
         << Cell(r, "node_cpu_seconds_per_1k_events", 4) << " |\n";
    }
    md << "\n";
  }
  if (summary.contains("ratios")) {
    md << "| ratio | value |\n|---|---:|\n";
    for (const auto& [k, v] : summary["ratios"].items()) {
      md << "| " << k << " | "
         << (v.is_number() ? Fixed(v.get<double>(), 3) : v.dump()) << " |\n";
    }
    md << "\n";
  }
  if (summary.contains("targets")) {
    md << "| target | goal | measured | met |\n|---|---|---:|---|\n";
    for (const json& t : summary["targets"]) {
      md << "| " << t.value("name", std::string()) << " | "
         << t.value("goal", std::string()) << " | "
         << (t.contains("measured") && t["measured"].is_number()
                 ? Fixed(t["measured"].get<double>(), 3)
                 : std::string("-"))
         << " | " << (t.value("met", false) ? "yes" : "no") << " |\n";
    }
    md << "\n";
    if (summary.value("command", std::string()) == "cluster") {
      // The targets once more as sentences, with their notes.
      for (const json& t : summary["targets"]) {
        md << "- " << t.value("name", std::string()) << " "
           << t.value("goal", std::string()) << ": "
           << (t.value("met", false) ? "met" : "not met");
        if (t.contains("note"))
          md << " (" << t["note"].get<std::string>() << ")";
        md << "\n";
      }
      md << "\n";
    }
  }
  return md.str();
}

}  // namespace ledger::bench
