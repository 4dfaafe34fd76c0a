#include "tools/bench/load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "base/strings.h"
#include "base/sync.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kAppend[] = "/ledger.v1.Ingest/Append";
constexpr char kAppendBatch[] = "/ledger.v1.Ingest/AppendBatch";
constexpr char kAppendStream[] = "/ledger.v1.Ingest/AppendStream";

uint64_t Nanos(Clock::duration d) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

std::shared_ptr<grpc::Channel> NewChannel(
    const client_tls::Endpoint& endpoint) {
  grpc::ChannelArguments args;
  // A private subchannel pool: every channel gets its own connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  std::shared_ptr<grpc::Channel> channel =
      client_tls::CreateChannel(endpoint, args);
  // Connect first: a call on a channel whose first connection attempt
  // failed transiently fails at once instead of waiting for the retry (seen
  // once in a suite run: 1 of 32 fresh channels to a running node). A node
  // that never accepts still fails the first call, with gRPC's error.
  (void)channel->WaitForConnected(std::chrono::system_clock::now() +
                                  std::chrono::seconds(30));
  return channel;
}

// Blocks for the next event of a queue used for one operation at a time.
bool Await(grpc::CompletionQueue& cq) {
  void* tag = nullptr;
  bool ok = false;
  return cq.Next(&tag, &ok) && ok;
}

void Drain(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

// What the workers share.
struct Run {
  const std::vector<Message>* messages;
  LoadOptions options;
  Clock::time_point stop_at;
  std::atomic<size_t> next{0};
  Mutex mu;
  LoadResult result ABSL_GUARDED_BY(mu);
  Clock::time_point last_ack ABSL_GUARDED_BY(mu);

  // The next message to send, or nullopt when the run is over.
  std::optional<size_t> Take() {
    if (Clock::now() >= stop_at) return std::nullopt;
    size_t i = next.fetch_add(1);
    if (i >= messages->size()) return std::nullopt;
    return i;
  }
  void Fail(const grpc::Status& status, uint64_t requests) {
    MutexLock lock(&mu);
    result.failed_requests += requests;
    if (result.first_error.empty()) {
      result.first_error =
          StrCat("code ", static_cast<int>(status.error_code()), ": ",
                 status.error_message());
    }
  }
  void Merge(const LoadResult& local, Clock::time_point last) {
    MutexLock lock(&mu);
    result.requests += local.requests;
    result.events += local.events;
    result.streams += local.streams;
    result.latency.Merge(local.latency);
    last_ack = std::max(last_ack, last);
  }
};

void UnaryWorker(Run& run, std::shared_ptr<grpc::Channel> channel,
                 const char* method) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  LoadResult local;
  Clock::time_point last{};
  while (std::optional<size_t> i = run.Take()) {
    const Message& m = (*run.messages)[*i];
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(
                         run.options.call_timeout_seconds * 1000)));
    grpc::ByteBuffer reply;
    grpc::Status status;
    Clock::time_point start = Clock::now();
    auto call = stub.PrepareUnaryCall(&ctx, method, m.buffer, &cq);
    call->StartCall();
    call->Finish(&reply, &status, nullptr);
    Await(cq);
    last = Clock::now();
    if (!status.ok()) {
      run.Fail(status, 1);
      continue;
    }
    local.latency.Record(Nanos(last - start));
    ++local.requests;
    local.events += m.events;
  }
  Drain(cq);
  run.Merge(local, last);
}

void StreamWorker(Run& run, std::shared_ptr<grpc::Channel> channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  LoadResult local;
  Clock::time_point last{};
  std::optional<size_t> i = run.Take();
  while (i.has_value()) {
    grpc::ClientContext ctx;
    Clock::time_point start = Clock::now();
    auto call = stub.PrepareCall(&ctx, kAppendStream, &cq);
    call->StartCall(nullptr);
    bool ok = Await(cq);
    uint64_t sent = 0, events = 0;
    while (ok && i.has_value() && sent < run.options.stream_messages) {
      const Message& m = (*run.messages)[*i];
      call->Write(m.buffer, nullptr);
      ok = Await(cq);
      if (ok) {
        ++sent;
        events += m.events;
      }
      i = run.Take();
    }
    call->WritesDone(nullptr);
    Await(cq);
    grpc::ByteBuffer reply;
    call->Read(&reply, nullptr);
    Await(cq);
    grpc::Status status;
    call->Finish(&status, nullptr);
    Await(cq);
    last = Clock::now();
    if (!status.ok() || !ok) {
      run.Fail(status.ok() ? grpc::Status(grpc::StatusCode::UNKNOWN,
                                          "stream write failed")
                           : status,
               sent);
      continue;
    }
    local.latency.Record(Nanos(last - start));
    local.requests += sent;
    local.events += events;
    ++local.streams;
  }
  Drain(cq);
  run.Merge(local, last);
}

// Open-loop calls outstanding, and the cap.
struct Gate {
  int outstanding;
  int cap;
  bool HasRoom() const { return outstanding < cap; }
  bool Idle() const { return outstanding == 0; }
};

// One open-loop call in flight.
struct OpenCall {
  grpc::ClientContext ctx;
  grpc::ByteBuffer reply;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  Clock::time_point due;
  uint32_t events = 0;
};

void RunOpenLoop(Run& run,
                 const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                 const char* method, Clock::time_point start) {
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (const std::shared_ptr<grpc::Channel>& channel : channels) {
    stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
  }
  grpc::CompletionQueue cq;
  Mutex mu;
  Gate gate{0, run.options.max_outstanding};  // guarded by mu
  LoadResult local;
  Clock::time_point last{};
  std::thread reaper([&] {
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
      std::unique_ptr<OpenCall> call(static_cast<OpenCall*>(tag));
      Clock::time_point now = Clock::now();
      // The sender filled the call under `mu`; the completion queue hands
      // it over inside gRPC, which TSan cannot see.
      MutexLock lock(&mu);
      if (call->status.ok()) {
        local.latency.Record(Nanos(now - call->due));
        ++local.requests;
        local.events += call->events;
        last = now;
      } else {
        run.Fail(call->status, 1);
      }
      --gate.outstanding;
    }
  });
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / run.options.rate));
  for (size_t i = 0; i < run.messages->size(); ++i) {
    Clock::time_point due = start + interval * static_cast<int64_t>(i);
    if (due >= run.stop_at) break;
    std::this_thread::sleep_until(due);
    auto call = std::make_unique<OpenCall>();
    const Message& m = (*run.messages)[i];
    {
      MutexLock lock(&mu);
      mu.Await([&] { return gate.HasRoom(); });
      ++gate.outstanding;
      call->due = due;
      call->events = m.events;
      call->ctx.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(static_cast<int64_t>(
                                 run.options.call_timeout_seconds * 1000)));
      call->reader = stubs[i % stubs.size()]->PrepareUnaryCall(
          &call->ctx, method, m.buffer, &cq);
    }
    call->reader->StartCall();
    OpenCall* raw = call.release();
    raw->reader->Finish(&raw->reply, &raw->status, raw);
  }
  {
    MutexLock lock(&mu);
    mu.Await([&] { return gate.Idle(); });
  }
  cq.Shutdown();
  reaper.join();
  run.Merge(local, last);
}

}  // namespace

std::string_view RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kAppend:
      return "Append";
    case Rpc::kAppendBatch:
      return "AppendBatch";
    case Rpc::kAppendStream:
      return "AppendStream";
  }
  return "?";
}

std::vector<Message> ToMessages(const std::vector<SignedBatch>& batches) {
  std::vector<Message> out;
  out.reserve(batches.size());
  for (const SignedBatch& b : batches) {
    grpc::Slice slice(b.request);
    out.push_back(Message{grpc::ByteBuffer(&slice, 1), b.events});
  }
  return out;
}

LoadResult RunLoad(const client_tls::Endpoint& endpoint,
                   const std::vector<Message>& messages,
                   const LoadOptions& options) {
  return RunLoad(std::vector<client_tls::Endpoint>{endpoint}, messages,
                 options);
}

LoadResult RunLoad(const std::vector<client_tls::Endpoint>& endpoints,
                   const std::vector<Message>& messages,
                   const LoadOptions& options) {
  Run run;
  run.messages = &messages;
  run.options = options;
  run.options.clients = std::max(1, options.clients);
  run.options.max_outstanding = std::max(1, options.max_outstanding);
  run.options.stream_messages = std::max<uint32_t>(1, options.stream_messages);
  // Connections (and TLS handshakes) are not part of the measurement.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < run.options.clients; ++c) {
    channels.push_back(NewChannel(endpoints[c % endpoints.size()]));
  }
  const Clock::time_point start = Clock::now();
  run.stop_at = start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(options.max_seconds));
  {
    MutexLock lock(&run.mu);
    run.last_ack = start;
  }
  const char* method = !options.method.empty()       ? options.method.c_str()
                       : options.rpc == Rpc::kAppend ? kAppend
                                                     : kAppendBatch;
  if (options.rate > 0 && options.rpc != Rpc::kAppendStream) {
    RunOpenLoop(run, channels, method, start);
  } else {
    std::vector<std::thread> workers;
    for (const std::shared_ptr<grpc::Channel>& channel : channels) {
      if (options.rpc == Rpc::kAppendStream) {
        workers.emplace_back([&run, channel] { StreamWorker(run, channel); });
      } else {
        workers.emplace_back(
            [&run, channel, method] { UnaryWorker(run, channel, method); });
      }
    }
    for (std::thread& w : workers) w.join();
  }
  MutexLock lock(&run.mu);
  LoadResult result = std::move(run.result);
  result.seconds = std::chrono::duration<double>(run.last_ack - start).count();
  return result;
}

}  // namespace ledger::bench
