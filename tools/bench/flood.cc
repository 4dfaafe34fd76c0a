#include "tools/bench/flood.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "base/sync.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "tools/bench/load.h"
#include "tools/bench/workload.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kAppendBatch[] = "/ledger.v1.Ingest/AppendBatch";
constexpr char kAppendStream[] = "/ledger.v1.Ingest/AppendStream";
constexpr char kHealthCheck[] = "/grpc.health.v1.Health/Check";

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK:
      return "OK";
    case grpc::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::CANCELLED:
      return "CANCELLED";
    default:
      return StrCat("code ", static_cast<int>(code));
  }
}

std::shared_ptr<grpc::Channel> NewChannel(
    const client_tls::Endpoint& endpoint) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(256 << 20);
  args.SetMaxReceiveMessageSize(256 << 20);
  // One connection per channel, not one shared by all of them.
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  auto channel = client_tls::CreateChannel(endpoint, args);
  (void)channel->WaitForConnected(std::chrono::system_clock::now() +
                                  std::chrono::seconds(30));
  return channel;
}

std::chrono::system_clock::time_point Deadline(double seconds) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

bool Await(grpc::CompletionQueue& cq) {
  void* tag = nullptr;
  bool ok = false;
  return cq.Next(&tag, &ok) && ok;
}

// grpc.health.v1.HealthCheckRequest{service} and the status of a
// HealthCheckResponse (field 1, varint), by hand: no generated code needed.
grpc::ByteBuffer HealthRequest(const std::string& service) {
  std::string bytes;
  if (!service.empty()) {
    bytes.push_back(0x0a);
    bytes.push_back(static_cast<char>(service.size()));
    bytes.append(service);
  }
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string HealthAnswer(const grpc::ByteBuffer& reply) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (reply.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  int status = 0;  // an absent field is UNKNOWN
  if (bytes.size() >= 2 && bytes[0] == 0x08) status = bytes[1];
  switch (status) {
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "UNKNOWN";
  }
}

// Samples the node every 250 ms until stopped: /proc on one thread, health
// on each endpoint on a thread of its own (a slow endpoint does not delay
// the other's checks).
class Sampler {
 public:
  Sampler(NodeProcess& node) : node_(node) {
    threads_.emplace_back([this] { Run(); });
    threads_.emplace_back([this] { Probe(node_.reader_endpoint(), false); });
    if (!node_.health_target().empty()) {
      threads_.emplace_back([this] { Probe(node_.health_endpoint(), true); });
    }
  }
  ~Sampler() { Stop(); }
  NodeSamples Stop() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    MutexLock lock(&mu_);
    return samples_;
  }

 private:
  // Waits 250 ms; false once stopped.
  bool Wait() {
    MutexLock lock(&mu_);
    auto stopped = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    mu_.AwaitWithTimeout(stopped, absl::Milliseconds(250));
    return !stop_;
  }
  void Run() {
    while (Wait()) ReadProc();
  }
  void Probe(const client_tls::Endpoint& endpoint, bool health_endpoint) {
    auto channel = NewChannel(endpoint);
    grpc::GenericStub stub(channel);
    while (Wait()) {
      Check(stub, "", health_endpoint);
      Check(stub, "ledger.v1.Ingest", health_endpoint);
    }
  }
  void ReadProc() {
    std::ifstream f(StrCat("/proc/", node_.pid(), "/status"));
    uint64_t rss_kb = 0;
    int threads = 0;
    for (std::string line; std::getline(f, line);) {
      std::istringstream in(line);
      std::string key;
      in >> key;
      if (key == "VmRSS:") in >> rss_kb;
      if (key == "Threads:") in >> threads;
    }
    MutexLock lock(&mu_);
    samples_.last_rss_bytes = rss_kb << 10;
    samples_.max_rss_bytes =
        std::max(samples_.max_rss_bytes, samples_.last_rss_bytes);
    samples_.last_threads = threads;
    samples_.max_threads = std::max(samples_.max_threads, threads);
  }
  void Check(grpc::GenericStub& stub, const std::string& service,
             bool health_endpoint) {
    grpc::CompletionQueue cq;
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(2));
    grpc::ByteBuffer reply;
    grpc::Status status;
    const Clock::time_point start = Clock::now();
    auto call =
        stub.PrepareUnaryCall(&ctx, kHealthCheck, HealthRequest(service), &cq);
    call->StartCall();
    call->Finish(&reply, &status, nullptr);
    Await(cq);
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           Clock::now() - start)
                           .count();
    cq.Shutdown();
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
    }
    MutexLock lock(&mu_);
    HealthSamples& h =
        health_endpoint ? samples_.health_endpoint : samples_.health;
    ++h.checks;
    if (!status.ok()) {
      ++h.failures;
      return;
    }
    h.latency.Record(ns);
    if (!service.empty()) ++h.ingest[HealthAnswer(reply)];
  }

  NodeProcess& node_;
  Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  NodeSamples samples_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

NodeSamples SampleFor(NodeProcess& node, double seconds) {
  Sampler sampler(node);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  return sampler.Stop();
}

// One flooding client: `outstanding` calls in flight until `stop_at`.
struct FloodClient {
  struct Call {
    grpc::ClientContext ctx;
    grpc::ByteBuffer reply;
    grpc::Status status;
    uint32_t events = 0;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> rpc;
  };

  void Run(const client_tls::Endpoint& endpoint,
           const std::vector<Message>& pool, size_t first, int outstanding,
           Clock::time_point stop_at) {
    auto channel = NewChannel(endpoint);
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    size_t next = first;
    int in_flight = 0;
    const auto start = [&] {
      auto call = std::make_unique<Call>();
      const Message& m = pool[next++ % pool.size()];
      call->events = m.events;
      call->ctx.set_deadline(Deadline(60));
      call->rpc =
          stub.PrepareUnaryCall(&call->ctx, kAppendBatch, m.buffer, &cq);
      call->rpc->StartCall();
      Call* raw = call.release();
      raw->rpc->Finish(&raw->reply, &raw->status, raw);
      ++in_flight;
    };
    for (int i = 0; i < outstanding; ++i) start();
    while (in_flight > 0) {
      void* tag = nullptr;
      bool ok = false;
      if (!cq.Next(&tag, &ok)) break;
      std::unique_ptr<Call> call(static_cast<Call*>(tag));
      --in_flight;
      ++calls;
      ++outcomes[CodeName(call->status.error_code())];
      if (call->status.ok()) {
        events += call->events;
      } else if (call->status.error_code() == grpc::RESOURCE_EXHAUSTED) {
        const auto& trailers = call->ctx.GetServerTrailingMetadata();
        if (trailers.find("grpc-retry-pushback-ms") != trailers.end()) {
          retry_hint = true;
        }
      }
      if (Clock::now() < stop_at) start();
    }
    cq.Shutdown();
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
    }
  }

  uint64_t calls = 0;
  uint64_t events = 0;
  std::map<std::string, uint64_t> outcomes;
  bool retry_hint = false;
};

}  // namespace

absl::StatusOr<FloodResult> RunFlood(NodeProcess& node,
                                     const crypto::Ed25519PrivateKey& key,
                                     const FloodOptions& options) {
  WorkloadOptions workload;
  workload.events = options.pool_events;
  workload.batch_size = options.batch_size;
  absl::StatusOr<PayloadSeal> seal =
      node.GetPayloadKey(workload.tenant, "bench-subject");
  if (!seal.ok()) return seal.status();
  workload.payload_seal = *seal;
  absl::StatusOr<std::vector<SignedBatch>> batches =
      BuildWorkload(workload, key);
  if (!batches.ok()) return batches.status();
  const std::vector<Message> pool = ToMessages(*batches);
  batches->clear();
  if (pool.empty()) return absl::InvalidArgumentError("empty workload");

  FloodResult result;
  result.health_target = node.health_target();
  result.idle = SampleFor(node, 2);

  // The flood.
  {
    Sampler sampler(node);
    const Clock::time_point stop_at =
        Clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(options.seconds * 1000));
    std::vector<FloodClient> clients(options.clients);
    std::vector<std::thread> threads;
    for (int i = 0; i < options.clients; ++i) {
      threads.emplace_back([&, i] {
        clients[i].Run(node.emitter_endpoint(), pool,
                       i * pool.size() / options.clients, options.outstanding,
                       stop_at);
      });
    }
    for (std::thread& t : threads) t.join();
    result.flood = sampler.Stop();
    for (const FloodClient& c : clients) {
      result.calls += c.calls;
      result.acknowledged_events += c.events;
      result.retry_hint_seen |= c.retry_hint;
      for (const auto& [code, n] : c.outcomes) result.outcomes[code] += n;
    }
  }
  (void)node.WaitUntilIdle(30);

  // Open streams, all on one connection.
  {
    Sampler sampler(node);
    auto channel = NewChannel(node.emitter_endpoint());
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    struct Stream {
      grpc::ClientContext ctx;
      std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
      grpc::ByteBuffer reply;
      grpc::Status status;
    };
    std::vector<std::unique_ptr<Stream>> streams;
    for (int i = 0; i < options.streams; ++i) {
      auto s = std::make_unique<Stream>();
      s->ctx.set_deadline(Deadline(options.hold_seconds + 120));
      s->call = stub.PrepareCall(&s->ctx, kAppendStream, &cq);
      s->call->StartCall(nullptr);
      if (!Await(cq)) break;
      s->call->Write(pool[i % pool.size()].buffer, nullptr);
      if (!Await(cq)) break;
      streams.push_back(std::move(s));
    }
    result.streams_opened = static_cast<int>(streams.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(
        static_cast<int64_t>(options.hold_seconds * 1000)));
    for (auto& s : streams) {
      s->call->WritesDone(nullptr);
      Await(cq);
      s->call->Read(&s->reply, nullptr);
      Await(cq);
      s->call->Finish(&s->status, nullptr);
      Await(cq);
      if (s->status.ok()) {
        ++result.streams_ok;
      } else if (result.first_stream_error.empty()) {
        result.first_stream_error = StrCat(CodeName(s->status.error_code()),
                                           ": ", s->status.error_message());
      }
    }
    result.streams = sampler.Stop();
    cq.Shutdown();
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
    }
  }
  return result;
}

nlohmann::json FloodToJson(const FloodOptions& options,
                           const FloodResult& result) {
  // The service port's checks as before ("health_*"); the health
  // endpoint's in "health_endpoint" with the same names.
  const auto health = [](const HealthSamples& h, nlohmann::json& j) {
    j["health_checks"] = h.checks;
    j["health_failures"] = h.failures;
    j["health_latency_ms_p50"] =
        static_cast<double>(h.latency.ValueAtPercentile(50)) / 1e6;
    j["health_latency_ms_p99"] =
        static_cast<double>(h.latency.ValueAtPercentile(99)) / 1e6;
    j["health_latency_ms_max"] = static_cast<double>(h.latency.max()) / 1e6;
    j["ingest_health"] = h.ingest;
  };
  const auto samples = [&health](const NodeSamples& s) {
    nlohmann::json j;
    j["max_rss_mib"] = static_cast<double>(s.max_rss_bytes) / (1 << 20);
    j["last_rss_mib"] = static_cast<double>(s.last_rss_bytes) / (1 << 20);
    j["max_threads"] = s.max_threads;
    j["last_threads"] = s.last_threads;
    health(s.health, j);
    if (s.health_endpoint.checks > 0) {
      health(s.health_endpoint, j["health_endpoint"]);
    }
    return j;
  };
  nlohmann::json j;
  j["clients"] = options.clients;
  j["health_endpoint_target"] = result.health_target;
  j["outstanding_per_client"] = options.outstanding;
  j["seconds"] = options.seconds;
  j["batch_size"] = options.batch_size;
  j["calls"] = result.calls;
  j["acknowledged_events"] = result.acknowledged_events;
  j["outcomes"] = result.outcomes;
  j["retry_hint_seen"] = result.retry_hint_seen;
  j["idle"] = samples(result.idle);
  j["flood"] = samples(result.flood);
  j["streams_requested"] = options.streams;
  j["streams_opened"] = result.streams_opened;
  j["streams_ok"] = result.streams_ok;
  if (!result.first_stream_error.empty()) {
    j["first_stream_error"] = result.first_stream_error;
  }
  j["hold_seconds"] = options.hold_seconds;
  j["streams"] = samples(result.streams);
  return j;
}

}  // namespace ledger::bench
