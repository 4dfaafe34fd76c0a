#include "tests/etcd_cluster.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/strings.h"
#include "node/etcd_client.h"

namespace ledger::testing {

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(
    const std::string& dir, int members, absl::Duration timeout,
    std::optional<EtcdTls> tls) {
  std::unique_ptr<EtcdCluster> c(new EtcdCluster);
  c->dir_ = dir;
  c->tls_ = std::move(tls);
  for (int i = 0; i < members; ++i) {
    c->endpoints_.push_back(StrCat("127.0.0.1:", FreePort()));
    c->peer_ports_.push_back(FreePort());
    StrAppend(&c->initial_cluster_, i ? "," : "", "m", i,
              "=http://127.0.0.1:", c->peer_ports_.back());
  }
  c->processes_.resize(members);
  c->member_ids_.resize(members);
  for (int i = 0; i < members; ++i) {
    if (absl::Status s = c->Launch(i); !s.ok()) return s;
  }
  for (int i = 0; i < members; ++i) {
    absl::StatusOr<uint64_t> id = c->WaitServing(i, timeout);
    if (!id.ok()) return id.status();
    c->member_ids_[i] = *id;
  }
  return c;
}

EtcdCluster::~EtcdCluster() = default;  // each Process SIGKILLs its child

absl::Status EtcdCluster::Launch(int i) {
  const std::string name = StrCat("m", i);
  const std::string client_url =
      StrCat(tls_ ? "https://" : "http://", endpoints_[i]);
  const std::string peer_url = StrCat("http://127.0.0.1:", peer_ports_[i]);
  std::vector<std::string> argv = {"/usr/bin/etcd",
                                   "--name",
                                   name,
                                   "--data-dir",
                                   StrCat(dir_, "/", name),
                                   "--listen-client-urls",
                                   client_url,
                                   "--advertise-client-urls",
                                   client_url,
                                   "--listen-peer-urls",
                                   peer_url,
                                   "--initial-advertise-peer-urls",
                                   peer_url,
                                   "--initial-cluster",
                                   initial_cluster_,
                                   "--initial-cluster-token",
                                   "ledger-test",
                                   "--initial-cluster-state",
                                   "new",
                                   "--logger=zap",
                                   "--log-level=warn"};
  if (tls_) {
    argv.insert(argv.end(),
                {"--client-cert-auth", "--trusted-ca-file", tls_->ca_file,
                 "--cert-file", tls_->cert_file, "--key-file", tls_->key_file});
  }
  absl::StatusOr<Process> p =
      Process::Start(argv, StrCat(dir_, "/", name, ".log"));
  if (!p.ok()) return p.status();
  processes_[i] = std::move(*p);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> EtcdCluster::WaitServing(int i,
                                                  absl::Duration timeout) {
  node::EtcdClientOptions options;
  options.endpoints = {endpoints_[i]};
  options.call_timeout = absl::Seconds(1);
  if (tls_) {
    options.credentials = tls_->client_credentials;
    options.tls_target_name = "127.0.0.1";
  }
  absl::StatusOr<std::unique_ptr<node::EtcdClient>> client =
      node::EtcdClient::Create(options);
  if (!client.ok()) return client.status();
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  // Each attempt is bounded by the client's call timeout.
  while (absl::Now() < deadline) {
    absl::StatusOr<node::EtcdGetResult> got = (*client)->Get("ready");
    if (got.ok()) return got->member_id;
    last = got.status();
  }
  return absl::DeadlineExceededError(StrCat(
      "etcd member m", i, " not serving after ", absl::FormatDuration(timeout),
      " (log: ", dir_, "/m", i, ".log): ", last.ToString()));
}

int EtcdCluster::MemberIndex(uint64_t id) const {
  for (size_t i = 0; i < member_ids_.size(); ++i) {
    if (member_ids_[i] == id) return static_cast<int>(i);
  }
  return -1;
}

absl::Status EtcdCluster::Kill(int i) {
  if (!processes_[i]) return absl::FailedPreconditionError("not running");
  absl::StatusOr<int> code =
      processes_[i]->Stop(SIGKILL, std::chrono::seconds(10));
  processes_[i].reset();
  return code.status();
}

absl::Status EtcdCluster::Restart(int i, absl::Duration timeout) {
  if (processes_[i]) return absl::FailedPreconditionError("still running");
  if (absl::Status s = Launch(i); !s.ok()) return s;
  return WaitServing(i, timeout).status();
}

absl::Status EtcdCluster::Pause(int i) {
  if (!processes_[i] || kill(processes_[i]->pid(), SIGSTOP) != 0) {
    return absl::FailedPreconditionError(StrCat("cannot stop m", i));
  }
  // kill() returns before every thread of the process has stopped: wait
  // until the kernel reports each stopped (state T in its stat file).
  const std::string tasks = StrCat("/proc/", processes_[i]->pid(), "/task");
  auto all_stopped = [&] {
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
      std::ifstream in(task.path() / "stat");
      std::string text((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
      const size_t paren = text.rfind(')');
      if (paren == std::string::npos || paren + 2 >= text.size() ||
          text[paren + 2] != 'T') {
        return false;
      }
    }
    return !ec;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    if (all_stopped()) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(1));  // a poll interval
  }
  return absl::DeadlineExceededError(StrCat("m", i, " did not stop"));
}

absl::Status EtcdCluster::Resume(int i) {
  if (!processes_[i] || kill(processes_[i]->pid(), SIGCONT) != 0) {
    return absl::FailedPreconditionError(StrCat("cannot continue m", i));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EtcdCluster::Etcdctl(
    int i, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/etcdctl", "--endpoints",
                                   endpoints_[i], "--command-timeout=5s"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<RunResult> r = Run(argv, std::chrono::seconds(10));
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(
        StrCat("etcdctl exited with ", r->exit_code, ": ", r->err));
  }
  return r->out;
}

}  // namespace ledger::testing
