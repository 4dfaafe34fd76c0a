#pragma once

// A throw-away PostgreSQL server for the comparison: `initdb` into a fresh
// temporary directory, started on 127.0.0.1 (a free port; its Unix socket
// inside that directory) with fsync and synchronous_commit on, stopped with
// `pg_ctl stop -m fast` and deleted on Stop(), on destruction, and on
// SIGINT/SIGTERM (cleanup.h). When run as root, initdb and the server run as
// the unprivileged `postgres` user (runuser), which owns the directory.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ledger::bench {

struct PgServerOptions {
  // Directory of initdb, pg_ctl and postgres; empty: the newest
  // /usr/lib/postgresql/*/bin, else the directory of `initdb` on PATH.
  std::string bin_dir;
  std::string parent_dir;  // for the temporary directory; empty: /tmp
  std::string shared_buffers = "256MB";
  int max_connections = 80;
  // Further server settings, each "name=value" (passed as -c name=value).
  std::vector<std::string> settings;
  double timeout_seconds = 120;
};

class PgServer {
 public:
  static absl::StatusOr<std::unique_ptr<PgServer>> Start(
      const PgServerOptions& options);
  ~PgServer();

  // libpq connection string for the superuser's `postgres` database.
  std::string conninfo() const;
  // The same over the server's Unix socket.
  std::string socket_conninfo() const;
  const std::string& version() const { return version_; }

  // Stops the server and deletes its directory. Idempotent.
  absl::Status Stop();

 private:
  PgServer() = default;
  std::string bin_dir_;
  std::string dir_;      // temporary directory: data/, socket, log
  std::string runuser_;  // runuser binary when running as root, else ""
  int port_ = 0;
  std::string version_;
  uint64_t cleanup_ = 0;
  bool running_ = false;
};

// Where PostgreSQL's server programs are; NotFound with install advice.
absl::StatusOr<std::string> FindPgBinDir(const std::string& hint);

}  // namespace ledger::bench
