#include "tools/bench/proofs.h"

#include <atomic>
#include <bit>
#include <chrono>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "base/sync.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "ledger/merkle.h"
#include "ledger/v1/proof.grpc.pb.h"
#include "tools/bench/report.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

enum class Kind { kInclusion, kConsistency, kFloor };

// One call; returns the error text or "" on success.
std::string Call(v1::Proof::Stub& stub, Kind kind, uint64_t r,
                 uint64_t tree_size) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  size_t want = 0, got = 0;
  grpc::Status status;
  if (kind == Kind::kFloor) {
    v1::GetInclusionProofRequest request;
    request.set_index(tree_size);
    request.set_tree_size(tree_size);
    v1::InclusionProof proof;
    status = stub.GetInclusionProof(&ctx, request, &proof);
    if (status.error_code() == grpc::StatusCode::OUT_OF_RANGE) return "";
    return StrCat("expected OUT_OF_RANGE, got code ",
                  static_cast<int>(status.error_code()), ": ",
                  status.error_message());
  }
  if (kind == Kind::kInclusion) {
    v1::GetInclusionProofRequest request;
    request.set_index(r % tree_size);
    request.set_tree_size(tree_size);
    v1::InclusionProof proof;
    status = stub.GetInclusionProof(&ctx, request, &proof);
    want = InclusionProofLength(request.index(), tree_size);
    got = static_cast<size_t>(proof.hashes_size());
  } else {
    v1::GetConsistencyProofRequest request;
    request.set_old_size(1 + r % tree_size);
    request.set_new_size(tree_size);
    v1::ConsistencyProof proof;
    status = stub.GetConsistencyProof(&ctx, request, &proof);
    want = ConsistencyProofLength(request.old_size(), tree_size);
    got = static_cast<size_t>(proof.hashes_size());
  }
  if (!status.ok()) {
    return StrCat("code ", static_cast<int>(status.error_code()), ": ",
                  status.error_message());
  }
  if (got != want) return StrCat("proof has ", got, " hashes, want ", want);
  return "";
}

ProofKindResult RunKind(const client_tls::Endpoint& endpoint, Kind kind,
                        uint64_t tree_size, const ProofOptions& options) {
  ProofKindResult result;
  const uint64_t warmup = std::max<uint64_t>(1, options.warmup);
  Mutex mu;
  std::atomic<uint64_t> next{0};
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop_at =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(options.max_seconds));
  auto worker = [&](int client) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = v1::Proof::NewStub(client_tls::CreateChannel(endpoint, args));
    for (uint64_t w = 0; w < warmup; ++w) {
      (void)Call(*stub, kind,
                 Mix(~options.seed -
                     (uint64_t{static_cast<uint32_t>(client)} << 32) - w),
                 tree_size);
    }
    ProofKindResult local;
    for (;;) {
      uint64_t i = next.fetch_add(1);
      if (i >= options.requests || Clock::now() >= stop_at) break;
      uint64_t r = Mix(options.seed * 31 + i);
      Clock::time_point t0 = Clock::now();
      std::string error = Call(*stub, kind, r, tree_size);
      Clock::time_point t1 = Clock::now();
      if (!error.empty()) {
        ++local.failed;
        if (local.first_error.empty()) local.first_error = error;
        continue;
      }
      ++local.requests;
      local.latency.Record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0)
              .count()));
    }
    MutexLock lock(&mu);
    result.requests += local.requests;
    result.failed += local.failed;
    result.latency.Merge(local.latency);
    if (result.first_error.empty()) result.first_error = local.first_error;
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < std::max(1, options.clients); ++c) {
    threads.emplace_back(worker, c);
  }
  for (std::thread& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.warmup = warmup * static_cast<uint64_t>(threads.size());
  return result;
}

}  // namespace

size_t ConsistencyProofLength(uint64_t old_size, uint64_t new_size) {
  // RFC 9162 2.1.4.1 SUBPROOF: descend from the root of the new tree;
  // each level adds one hash, and the descent ends at a complete subtree
  // equal to the old tree (no hash if it is the old tree itself at the
  // top, one otherwise).
  if (old_size == 0 || old_size >= new_size) return 0;
  size_t length = 0;
  uint64_t m = old_size, n = new_size;
  bool at_top = true;
  while (m != n) {
    uint64_t k = std::bit_floor(n - 1);  // largest power of 2 < n
    ++length;
    if (m <= k) {
      n = k;
    } else {
      m -= k;
      n -= k;
      at_top = false;
    }
  }
  return at_top ? length : length + 1;
}

nlohmann::json ProofKindJson(const ProofKindResult& k) {
  nlohmann::json j{{"requests", k.requests},
                   {"warmup_requests", k.warmup},
                   {"failed", k.failed},
                   {"seconds", k.seconds},
                   {"latency", HistogramJson(k.latency)}};
  if (!k.first_error.empty()) j["first_error"] = k.first_error;
  return j;
}

nlohmann::json ProofResultJson(const ProofResult& p) {
  return nlohmann::json{{"tree_size", p.tree_size},
                        {"inclusion", ProofKindJson(p.inclusion)},
                        {"consistency", ProofKindJson(p.consistency)},
                        {"rpc_floor", ProofKindJson(p.floor)}};
}

std::string RpcFloorNote(const nlohmann::json& proofs) {
  if (!proofs.is_object() || !proofs.contains("rpc_floor")) return "";
  const nlohmann::json& floor = proofs["rpc_floor"];
  if (!floor.contains("latency") || !floor["latency"].contains("p99_us") ||
      !floor["latency"]["p99_us"].is_number()) {
    return "";
  }
  return StrCat("; the RPC refused at once: p99 ",
                static_cast<int64_t>(floor["latency"]["p99_us"].get<double>()),
                " us");
}

ProofResult RunProofs(const client_tls::Endpoint& endpoint, uint64_t tree_size,
                      const ProofOptions& options) {
  ProofResult result;
  result.tree_size = tree_size;
  if (tree_size == 0) return result;
  result.inclusion = RunKind(endpoint, Kind::kInclusion, tree_size, options);
  result.consistency =
      RunKind(endpoint, Kind::kConsistency, tree_size, options);
  result.floor = RunKind(endpoint, Kind::kFloor, tree_size, options);
  return result;
}

}  // namespace ledger::bench
