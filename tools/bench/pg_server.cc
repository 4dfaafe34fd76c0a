#include "tools/bench/pg_server.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "tools/bench/cleanup.h"
#include "tools/common/subprocess.h"

namespace ledger::bench {
namespace {

namespace fs = std::filesystem;

bool IsExecutable(const fs::path& p) { return access(p.c_str(), X_OK) == 0; }

// argv prefixed with runuser when running as root.
std::vector<std::string> As(const std::string& runuser,
                            std::vector<std::string> argv) {
  if (runuser.empty()) return argv;
  std::vector<std::string> out = {runuser, "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

absl::Status RunChecked(const std::vector<std::string>& argv,
                        double timeout_seconds) {
  LEDGER_ASSIGN_OR_RETURN(
      subprocess::RunResult r,
      subprocess::Run(argv, std::chrono::milliseconds(
                                static_cast<int64_t>(timeout_seconds * 1000))));
  if (r.exit_code != 0) {
    std::string cmd;
    for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return absl::InternalError(StrCat(cmd, " exited with ", r.exit_code, ": ",
                                      Trim(r.err), " ", Trim(r.out)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> FindPgBinDir(const std::string& hint) {
  if (!hint.empty()) {
    if (IsExecutable(fs::path(hint) / "initdb")) return hint;
    return absl::NotFoundError(StrCat("no initdb in ", hint));
  }
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (IsExecutable(d.path() / "bin" / "initdb")) {
      found.push_back((d.path() / "bin").string());
    }
  }
  if (!found.empty()) {
    // Newest major version: compare numerically ("15" > "9.6").
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
      auto major = [](const std::string& p) {
        std::string v = fs::path(p).parent_path().filename().string();
        return ParseCanonicalUint64(v.substr(0, v.find('.'))).value_or(0);
      };
      return major(a) < major(b);
    });
    return found.back();
  }
  const char* path = getenv("PATH");
  for (std::string_view dir : Split(path ? path : "", ':')) {
    if (!dir.empty() && IsExecutable(fs::path(dir) / "initdb")) {
      return std::string(dir);
    }
  }
  return absl::NotFoundError(
      "PostgreSQL server programs not found; install the Debian packages "
      "postgresql postgresql-contrib (scripts/install-deps.sh)");
}

absl::StatusOr<std::unique_ptr<PgServer>> PgServer::Start(
    const PgServerOptions& options) {
  std::unique_ptr<PgServer> pg(new PgServer());
  LEDGER_ASSIGN_OR_RETURN(pg->bin_dir_, FindPgBinDir(options.bin_dir));
  pg->dir_ = MakeTempDir(options.parent_dir, "ledger-bench-pg");
  if (pg->dir_.empty()) {
    return absl::InternalError("cannot create a temporary directory");
  }
  const std::string dir = pg->dir_;
  pg->cleanup_ = RegisterCleanup([dir] { RemoveTree(dir); });
  if (geteuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return absl::FailedPreconditionError(
          "running as root, but there is no `postgres` user to run the "
          "server as (the postgresql package creates it)");
    }
    for (const char* candidate : {"/usr/sbin/runuser", "/sbin/runuser",
                                  "/usr/bin/runuser", "/bin/runuser"}) {
      if (IsExecutable(candidate)) pg->runuser_ = candidate;
    }
    if (pg->runuser_.empty()) return absl::NotFoundError("runuser not found");
    if (chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError(StrCat("cannot chown ", dir, " to postgres"));
    }
  }
  const std::string data = dir + "/data";
  LEDGER_RETURN_IF_ERROR(RunChecked(
      As(pg->runuser_, {pg->bin_dir_ + "/initdb", "-D", data, "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-locale"}),
      options.timeout_seconds));
  pg->port_ = subprocess::FreePort();
  const std::string server_options =
      StrCat("-c listen_addresses=127.0.0.1 -c port=", pg->port_,
             " -c unix_socket_directories=", dir,
             " -c fsync=on -c synchronous_commit=on -c full_page_writes=on",
             " -c max_connections=", options.max_connections,
             " -c shared_buffers=", options.shared_buffers);
  std::string settings = server_options;
  for (const std::string& s : options.settings) settings += " -c " + s;
  // From here on an interruption must stop the server too (runs first:
  // newest first).
  const std::string bin = pg->bin_dir_, runuser = pg->runuser_;
  UnregisterCleanup(pg->cleanup_);
  pg->cleanup_ = RegisterCleanup([bin, runuser, data, dir] {
    (void)subprocess::Run(As(runuser, {bin + "/pg_ctl", "-D", data, "-m",
                                       "immediate", "-w", "stop"}),
                          std::chrono::seconds(30));
    RemoveTree(dir);
  });
  pg->running_ = true;
  LEDGER_RETURN_IF_ERROR(RunChecked(
      As(pg->runuser_,
         {pg->bin_dir_ + "/pg_ctl", "-D", data, "-l", dir + "/server.log", "-w",
          "-t", StrCat(static_cast<int>(options.timeout_seconds)), "-o",
          settings, "start"}),
      options.timeout_seconds + 10));
  absl::StatusOr<subprocess::RunResult> version = subprocess::Run(
      {pg->bin_dir_ + "/postgres", "--version"}, std::chrono::seconds(10));
  if (version.ok()) pg->version_ = std::string(Trim(version->out));
  return pg;
}

std::string PgServer::conninfo() const {
  return StrCat("host=127.0.0.1 port=", port_,
                " dbname=postgres user=postgres connect_timeout=30");
}

std::string PgServer::socket_conninfo() const {
  return StrCat("host=", dir_, " port=", port_,
                " dbname=postgres user=postgres connect_timeout=30");
}

absl::Status PgServer::Stop() {
  absl::Status status;
  if (running_) {
    running_ = false;
    status =
        RunChecked(As(runuser_, {bin_dir_ + "/pg_ctl", "-D", dir_ + "/data",
                                 "-m", "fast", "-w", "-t", "60", "stop"}),
                   70);
  }
  if (cleanup_ != 0) {
    UnregisterCleanup(cleanup_);
    cleanup_ = 0;
    RemoveTree(dir_);
  }
  return status;
}

PgServer::~PgServer() { (void)Stop(); }

}  // namespace ledger::bench
