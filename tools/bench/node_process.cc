#include "tools/bench/node_process.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "base/status_macros.h"
#include "base/strings.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "ledger/v1/ingest.grpc.pb.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

absl::Status FromGrpc(const grpc::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      StrCat(what, ": ", s.error_message()));
}

void SetDeadline(grpc::ClientContext& ctx, double seconds) {
  ctx.set_deadline(std::chrono::system_clock::now() + Ms(seconds));
}

}  // namespace

NodeProcess::NodeProcess(NodeOptions options, subprocess::Process process)
    : options_(std::move(options)), process_(std::move(process)) {}

NodeProcess::~NodeProcess() {
  if (!stopped_) (void)Stop(10);
}

namespace {

// The port at the end of "... listening on HOST:PORT".
absl::StatusOr<uint64_t> PortOf(const std::string& line) {
  size_t colon = line.rfind(':');
  std::optional<uint64_t> port =
      colon == std::string::npos
          ? std::nullopt
          : ParseCanonicalUint64(
                Trim(std::string_view(line).substr(colon + 1)));
  if (!port.has_value() || *port == 0 || *port > 65535) {
    return absl::InternalError(
        StrCat("cannot parse the port from \"", line, "\""));
  }
  return *port;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NodeProcess>> NodeProcess::Start(
    const NodeOptions& options) {
  if (!options.config_file.empty() && options.access.tls()) {
    return absl::InvalidArgumentError(
        "a node configuration file is for plaintext nodes: with mutual TLS "
        "the access configuration is the node's configuration");
  }
  std::vector<std::string> argv = {
      options.binary, "--data",      options.data_dir, "--listen",
      options.listen, "--log-level", options.log_level};
  if (!options.config_file.empty()) {
    argv.insert(argv.end(),
                {"--config", options.config_file, "--insecure-plaintext"});
  } else if (options.access.tls()) {
    argv.insert(argv.end(), {"--config", options.access.config_file});
  } else {
    argv.push_back("--insecure-plaintext");
  }
  if (options.health_endpoint) {
    argv.insert(argv.end(), {"--health-listen", "127.0.0.1:0"});
  }
  if (options.http_endpoint) {
    argv.insert(argv.end(), {"--http-listen", "127.0.0.1:0"});
  }
  LEDGER_ASSIGN_OR_RETURN(subprocess::Process process,
                          subprocess::Process::Start(argv, options.log_path));
  std::unique_ptr<NodeProcess> node(
      new NodeProcess(options, std::move(process)));
  absl::StatusOr<std::string> line = node->process_.WaitForLine(
      "listening on", Ms(options.start_timeout_seconds));
  if (!line.ok()) {
    return Annotate(
        line.status(),
        StrCat("ledger-node did not start (log: ", options.log_path, ")"));
  }
  LEDGER_ASSIGN_OR_RETURN(uint64_t port, PortOf(*line));
  node->target_ = StrCat("127.0.0.1:", port);
  if (options.health_endpoint) {
    // The line after "listening on".
    line = node->process_.WaitForLine("health listening on", Ms(10));
    if (!line.ok()) return Annotate(line.status(), "ledger-node's health port");
    LEDGER_ASSIGN_OR_RETURN(uint64_t health_port, PortOf(*line));
    node->health_target_ = StrCat("127.0.0.1:", health_port);
  }
  if (options.http_endpoint) {
    // After the other listening lines.
    line = node->process_.WaitForLine("http listening on", Ms(10));
    if (!line.ok()) return Annotate(line.status(), "ledger-node's HTTP port");
    LEDGER_ASSIGN_OR_RETURN(uint64_t http_port, PortOf(*line));
    node->http_target_ = StrCat("127.0.0.1:", http_port);
  }
  const auto endpoint = [&](client_tls::ClientSettings settings,
                            client_tls::Endpoint* out) -> absl::Status {
    settings.address = node->target_;
    settings.insecure_plaintext = !options.access.tls();
    LEDGER_ASSIGN_OR_RETURN(*out, client_tls::MakeEndpoint(settings));
    return absl::OkStatus();
  };
  LEDGER_RETURN_IF_ERROR(endpoint(options.access.emitter, &node->emitter_));
  LEDGER_RETURN_IF_ERROR(endpoint(options.access.regulator, &node->reader_));
  LEDGER_RETURN_IF_ERROR(endpoint(options.access.admin, &node->admin_));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  node->channel_ = client_tls::CreateChannel(node->reader_, args);
  return node;
}

absl::StatusOr<double> NodeProcess::CpuSeconds() const {
  LEDGER_ASSIGN_OR_RETURN(auto times, ProcessCpuTimes(process_.pid()));
  return times.first + times.second;
}

bool NodeProcess::WaitUntilIdle(double max_seconds, double cpu_fraction) const {
  constexpr auto kWindow = std::chrono::milliseconds(250);
  const Clock::time_point deadline = Clock::now() + Ms(max_seconds);
  absl::StatusOr<double> before = CpuSeconds();
  while (before.ok() && Clock::now() < deadline) {
    std::this_thread::sleep_for(kWindow);
    absl::StatusOr<double> after = CpuSeconds();
    if (!after.ok()) return false;
    if (*after - *before < cpu_fraction * 0.25) return true;
    before = after;
  }
  return false;
}

absl::StatusOr<std::pair<double, double>> NodeProcess::CpuTimes() const {
  return ProcessCpuTimes(process_.pid());
}

absl::Status NodeProcess::RegisterEmitterKey(const crypto::NoteSigner& emitter,
                                             const std::string& tenant,
                                             const std::string& producer) {
  auto stub = v1::Admin::NewStub(client_tls::CreateChannel(admin_));
  v1::RegisterEmitterKeyRequest request;
  request.set_verifier_key(crypto::FormatVerifierKey(emitter.verifier()));
  request.set_tenant(tenant);
  request.set_producer(producer);
  v1::EntryRef ref;
  grpc::ClientContext ctx;
  SetDeadline(ctx, 30);
  ctx.set_wait_for_ready(true);
  return FromGrpc(stub->RegisterEmitterKey(&ctx, request, &ref),
                  "RegisterEmitterKey");
}

absl::StatusOr<PayloadSeal> NodeProcess::GetPayloadKey(
    const std::string& tenant, const std::string& subject) {
  // Payload keys are an emitter's to fetch (of its own tenant).
  auto stub = v1::Ingest::NewStub(client_tls::CreateChannel(emitter_));
  v1::GetPayloadKeyRequest request;
  request.set_tenant(tenant);
  request.set_data_subject(subject);
  v1::PayloadKey key;
  grpc::ClientContext ctx;
  SetDeadline(ctx, 30);
  LEDGER_RETURN_IF_ERROR(
      FromGrpc(stub->GetPayloadKey(&ctx, request, &key), "GetPayloadKey"));
  PayloadSeal seal;
  LEDGER_ASSIGN_OR_RETURN(
      seal.key_id, crypto::ToArray<kPayloadKeyIdSize>(key.key_id(), "key_id"));
  LEDGER_ASSIGN_OR_RETURN(
      seal.key, crypto::ToArray<crypto::kAeadKeySize>(key.key(), "key"));
  return seal;
}

absl::StatusOr<std::vector<v1::KeyInfo>> NodeProcess::ListKeys() {
  auto stub = v1::Admin::NewStub(channel_);
  v1::ListKeysResponse response;
  grpc::ClientContext ctx;
  SetDeadline(ctx, 30);
  LEDGER_RETURN_IF_ERROR(FromGrpc(
      stub->ListKeys(&ctx, v1::ListKeysRequest(), &response), "ListKeys"));
  return std::vector<v1::KeyInfo>(response.keys().begin(),
                                  response.keys().end());
}

absl::StatusOr<v1::NodeInfo> NodeProcess::GetNodeInfo(double timeout_seconds) {
  auto stub = v1::Admin::NewStub(channel_);
  v1::NodeInfo info;
  grpc::ClientContext ctx;
  SetDeadline(ctx, timeout_seconds);
  LEDGER_RETURN_IF_ERROR(FromGrpc(
      stub->GetNodeInfo(&ctx, v1::GetNodeInfoRequest(), &info), "GetNodeInfo"));
  return info;
}

absl::StatusOr<v1::Checkpoint> NodeProcess::WaitForCheckpoint(
    uint64_t min_size, double timeout_seconds) {
  auto stub = v1::Proof::NewStub(channel_);
  const Clock::time_point deadline = Clock::now() + Ms(timeout_seconds);
  v1::GetCheckpointRequest request;
  request.set_min_size(min_size);
  grpc::Status last;
  // Checkpoints are issued every checkpoint_interval (1 s by default);
  // poll well below that until the deadline.
  while (Clock::now() < deadline) {
    v1::Checkpoint checkpoint;
    grpc::ClientContext ctx;
    SetDeadline(ctx, 10);
    last = stub->GetCheckpoint(&ctx, request, &checkpoint);
    if (last.ok() && checkpoint.size() >= min_size) return checkpoint;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(
      StrCat("no checkpoint of size >= ", min_size, " within ",
             static_cast<int64_t>(timeout_seconds),
             " s; last answer: ", last.error_message()));
}

absl::StatusOr<int> NodeProcess::Stop(double timeout_seconds) {
  stopped_ = true;
  // Close our connection first: the node's graceful shutdown otherwise
  // waits for an idle client to answer its GOAWAY.
  channel_.reset();
  return process_.Stop(SIGTERM, Ms(timeout_seconds));
}

absl::Status NodeProcess::Kill() {
  stopped_ = true;
  channel_.reset();
  absl::StatusOr<int> code = process_.Stop(SIGKILL, Ms(10));
  return code.status();
}

bool NodeProcess::Running() const {
  if (stopped_) return false;
  std::ifstream in(StrCat("/proc/", process_.pid(), "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // The state follows the parenthesized name: Z (zombie) or X (dead) once
  // the process has ended and before it is reaped.
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return false;
  const char state = text[paren + 2];
  return state != 'Z' && state != 'X';
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      uint64_t size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

namespace {

// {name, utime + stime in seconds} from the text of a /proc stat file.
std::optional<ThreadCpu> ParseStat(const std::string& text, double* user,
                                   double* system) {
  size_t open = text.find('(');
  size_t paren = text.rfind(')');
  if (open == std::string::npos || paren == std::string::npos ||
      paren + 2 > text.size()) {
    return std::nullopt;
  }
  // Fields after the name (which may hold spaces): state is field 3,
  // utime 14 and stime 15.
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14) utime = ParseCanonicalUint64(field).value_or(0);
    if (n == 15) stime = ParseCanonicalUint64(field).value_or(0);
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  *user = static_cast<double>(utime) / tick;
  *system = static_cast<double>(stime) / tick;
  return ThreadCpu{text.substr(open + 1, paren - open - 1), *user + *system};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

}  // namespace

std::map<pid_t, ThreadCpu> ProcessThreadCpu(pid_t pid) {
  std::map<pid_t, ThreadCpu> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(
           StrCat("/proc/", pid, "/task"), ec)) {
    std::optional<uint64_t> tid =
        ParseCanonicalUint64(task.path().filename().string());
    double user = 0, system = 0;
    std::optional<ThreadCpu> cpu =
        ParseStat(ReadAll(task.path().string() + "/stat"), &user, &system);
    if (tid.has_value() && cpu.has_value()) {
      out[static_cast<pid_t>(*tid)] = *cpu;
    }
  }
  return out;
}

std::map<std::string, double> ThreadCpuDelta(
    const std::map<pid_t, ThreadCpu>& before,
    const std::map<pid_t, ThreadCpu>& after) {
  std::map<std::string, double> out;
  for (const auto& [tid, cpu] : after) {
    auto it = before.find(tid);
    const double delta =
        cpu.seconds - (it == before.end() ? 0.0 : it->second.seconds);
    if (delta > 0) out[cpu.name] += delta;
  }
  return out;
}

absl::StatusOr<std::pair<double, double>> ProcessCpuTimes(pid_t pid) {
  double user = 0, system = 0;
  if (!ParseStat(ReadAll(StrCat("/proc/", pid, "/stat")), &user, &system)) {
    return absl::NotFoundError(StrCat("no /proc/", pid, "/stat"));
  }
  return std::make_pair(user, system);
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace ledger::bench
