#include "tools/common/etcd_cluster.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/time/clock.h"
#include "base/strings.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"

namespace ledger::subprocess {

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
  grpc::ChannelArguments args;
  // Retry the connection quickly while the member starts (gRPC's default
  // backoff grows to minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  if (tls_) args.SetSslTargetNameOverride("127.0.0.1");
  auto kv = etcdserverpb::KV::NewStub(grpc::CreateCustomChannel(
      StrCat("ipv4:", endpoints_[i]),
      tls_ ? tls_->client_credentials : grpc::InsecureChannelCredentials(),
      args));
  const absl::Time deadline = absl::Now() + timeout;
  grpc::Status last;
  // Each attempt is bounded by its deadline (1 s); wait_for_ready keeps a
  // member that is not listening yet from failing the attempt at once.
  while (absl::Now() < deadline) {
    etcdserverpb::RangeRequest request;
    request.set_key("ready");  // linearizable: needs the member in a quorum
    etcdserverpb::RangeResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(1));
    ctx.set_wait_for_ready(true);
    last = kv->Range(&ctx, request, &response);
    if (last.ok()) return response.header().member_id();
    absl::SleepFor(absl::Milliseconds(20));  // a poll interval
  }
  return absl::DeadlineExceededError(StrCat(
      "etcd member m", i, " not serving after ", absl::FormatDuration(timeout),
      " (log: ", dir_, "/m", i, ".log): ", last.error_message()));
}

pid_t EtcdCluster::pid(int i) const {
  return processes_[i] ? processes_[i]->pid() : -1;
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

}  // namespace ledger::subprocess
