#include "node/cluster.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "ledger/entry.h"
#include "node/grpc_status.h"
#include "spdlog/spdlog.h"

namespace ledger::node {
namespace {

std::string HashBytes(const ledger::Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

absl::StatusOr<ledger::Hash> ToHash(std::string_view bytes,
                                    std::string_view field) {
  ledger::Hash h{};
  if (bytes.size() != h.size()) {
    return absl::InvalidArgumentError(
        StrCat(field, ": must be 32 bytes, got ", bytes.size()));
  }
  std::memcpy(h.data(), bytes.data(), h.size());
  return h;
}

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

void SetHead(const ledger::Head& head, v1::ReplicationHead* out) {
  out->set_size(head.size);
  out->set_root(HashBytes(head.root));
  out->set_chain_hash(HashBytes(head.chain_hash));
}

absl::StatusOr<ledger::Head> GetHead(const v1::ReplicationHead& in,
                                     std::string_view field) {
  ledger::Head head;
  head.size = in.size();
  if (head.size > 0) {
    LEDGER_ASSIGN_OR_RETURN(head.root,
                            ToHash(in.root(), StrCat(field, ".root")));
    LEDGER_ASSIGN_OR_RETURN(
        head.chain_hash, ToHash(in.chain_hash(), StrCat(field, ".chain_hash")));
  }
  return head;
}

// A follower's cosignature of `text`: the signature of `answer.note` that
// verifies with the key the follower names, which must be a timestamped
// cosigner key. Errors say what is wrong with the answer.
absl::StatusOr<crypto::NoteSignature> CheckCosignature(
    const CosignResponse& answer, std::string_view text) {
  LEDGER_ASSIGN_OR_RETURN(crypto::NoteVerifier verifier,
                          crypto::ParseVerifierKey(answer.cosigner_key));
  if (verifier.type != crypto::NoteSigType::kCosignatureV1) {
    return absl::InvalidArgumentError(
        StrCat("key ", verifier.name, " is not a cosigner key"));
  }
  LEDGER_ASSIGN_OR_RETURN(crypto::Note note, crypto::ParseNote(answer.note));
  if (note.text != text) {
    return absl::InvalidArgumentError("it signed another checkpoint");
  }
  const crypto::NoteVerifier verifiers[] = {verifier};
  LEDGER_RETURN_IF_ERROR(crypto::VerifyNote(note, verifiers).status());
  for (const crypto::NoteSignature& sig : note.signatures) {
    if (sig.name == verifier.name && sig.key_id == verifier.key_id) return sig;
  }
  return absl::InternalError("verified signature not found");
}

}  // namespace

v1::ReplicateRequest ToProto(const ReplicateRequest& r) {
  v1::ReplicateRequest p;
  p.set_id(r.id);
  p.set_epoch(r.epoch);
  p.set_leader(r.leader);
  p.set_base_size(r.base_size);
  p.set_base_root(HashBytes(r.base_root));
  for (const std::string& e : r.entries) p.add_entries(e);
  p.set_complete(r.complete);
  SetHead(r.committed, p.mutable_committed());
  p.set_checkpoint(r.checkpoint);
  return p;
}

absl::StatusOr<ReplicateRequest> FromProto(const v1::ReplicateRequest& p) {
  ReplicateRequest r;
  r.id = p.id();
  r.epoch = p.epoch();
  r.leader = p.leader();
  r.base_size = p.base_size();
  LEDGER_ASSIGN_OR_RETURN(r.base_root, ToHash(p.base_root(), "base_root"));
  r.entries.assign(p.entries().begin(), p.entries().end());
  r.complete = p.complete();
  LEDGER_ASSIGN_OR_RETURN(r.committed, GetHead(p.committed(), "committed"));
  r.checkpoint = p.checkpoint();
  return r;
}

GrpcReplicationTransport::GrpcReplicationTransport(
    const std::map<std::string, std::string>& addresses,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    size_t max_message_bytes) {
  for (const auto& [name, address] : addresses) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(max_message_bytes));
    args.SetMaxSendMessageSize(static_cast<int>(max_message_bytes));
    // A restarted peer is tried again soon, not after gRPC's 20 s.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    stubs_[name] = v1::Replication::NewStub(
        grpc::CreateCustomChannel(address, credentials, args));
  }
}

absl::StatusOr<v1::Replication::Stub*> GrpcReplicationTransport::Stub(
    const std::string& peer) const {
  auto it = stubs_.find(peer);
  if (it == stubs_.end()) {
    return absl::NotFoundError(StrCat("unknown peer ", peer));
  }
  return it->second.get();
}

absl::StatusOr<ReplicateResponse> GrpcReplicationTransport::Replicate(
    const std::string& peer, const ReplicateRequest& request,
    absl::Duration timeout) {
  LEDGER_ASSIGN_OR_RETURN(v1::Replication::Stub * stub, Stub(peer));
  grpc::ClientContext context;
  context.set_deadline(Deadline(timeout));
  v1::ReplicateResponse reply;
  grpc::Status s = stub->Replicate(&context, ToProto(request), &reply);
  if (!s.ok()) return FromGrpcStatus(s);
  ReplicateResponse response;
  response.accepted = reply.accepted();
  response.size = reply.size();
  response.cosigner_key = reply.cosigner_key();
  return response;
}

absl::StatusOr<CosignResponse> GrpcReplicationTransport::Cosign(
    const std::string& peer, const CosignRequest& request,
    absl::Duration timeout) {
  LEDGER_ASSIGN_OR_RETURN(v1::Replication::Stub * stub, Stub(peer));
  grpc::ClientContext context;
  context.set_deadline(Deadline(timeout));
  v1::CosignRequest p;
  p.set_epoch(request.epoch);
  p.set_leader(request.leader);
  SetHead(request.committed, p.mutable_committed());
  p.set_checkpoint(request.checkpoint);
  v1::CosignResponse reply;
  grpc::Status s = stub->Cosign(&context, p, &reply);
  if (!s.ok()) return FromGrpcStatus(s);
  return CosignResponse{reply.note(), reply.cosigner_key()};
}

absl::StatusOr<FetchResponse> GrpcReplicationTransport::Fetch(
    const std::string& peer, const FetchRequest& request,
    absl::Duration timeout) {
  LEDGER_ASSIGN_OR_RETURN(v1::Replication::Stub * stub, Stub(peer));
  grpc::ClientContext context;
  context.set_deadline(Deadline(timeout));
  v1::FetchRequest p;
  p.set_from(request.from);
  p.set_max_entries(request.max_entries);
  p.set_committed_size(request.committed_size);
  v1::FetchResponse reply;
  grpc::Status s = stub->Fetch(&context, p, &reply);
  if (!s.ok()) return FromGrpcStatus(s);
  FetchResponse response;
  response.size = reply.size();
  response.entries.assign(reply.entries().begin(), reply.entries().end());
  if (!reply.root_at_from().empty()) {
    LEDGER_ASSIGN_OR_RETURN(response.root_at_from,
                            ToHash(reply.root_at_from(), "root_at_from"));
  }
  if (!reply.root_at_committed().empty()) {
    LEDGER_ASSIGN_OR_RETURN(
        response.root_at_committed,
        ToHash(reply.root_at_committed(), "root_at_committed"));
  }
  return response;
}

grpc::Status ReplicationService::Replicate(grpc::ServerContext*,
                                           const v1::ReplicateRequest* request,
                                           v1::ReplicateResponse* response) {
  absl::StatusOr<ReplicateRequest> r = FromProto(*request);
  if (!r.ok()) return ToGrpcStatus(r.status());
  absl::StatusOr<ReplicateResponse> answer = replica_->HandleReplicate(*r);
  if (!answer.ok()) {
    if (absl::IsDataLoss(answer.status())) {
      spdlog::error("replication: refused entries from {}: {}", r->leader,
                    ToStd(answer.status().message()));
    }
    return ToGrpcStatus(answer.status());
  }
  response->set_accepted(answer->accepted);
  response->set_size(answer->size);
  response->set_cosigner_key(answer->cosigner_key);
  return grpc::Status::OK;
}

grpc::Status ReplicationService::Cosign(grpc::ServerContext*,
                                        const v1::CosignRequest* request,
                                        v1::CosignResponse* response) {
  CosignRequest r;
  r.epoch = request->epoch();
  r.leader = request->leader();
  absl::StatusOr<ledger::Head> committed =
      GetHead(request->committed(), "committed");
  if (!committed.ok()) return ToGrpcStatus(committed.status());
  r.committed = *committed;
  r.checkpoint = request->checkpoint();
  absl::StatusOr<CosignResponse> answer = replica_->HandleCosign(r);
  if (!answer.ok()) {
    if (absl::IsDataLoss(answer.status())) {
      spdlog::error("replication: refused to cosign for {}: {}", r.leader,
                    ToStd(answer.status().message()));
    }
    return ToGrpcStatus(answer.status());
  }
  response->set_note(answer->note);
  response->set_cosigner_key(answer->cosigner_key);
  return grpc::Status::OK;
}

grpc::Status ReplicationService::Fetch(grpc::ServerContext*,
                                       const v1::FetchRequest* request,
                                       v1::FetchResponse* response) {
  FetchRequest r{request->from(),
                 std::min<uint32_t>(request->max_entries(), 1u << 16),
                 request->committed_size()};
  absl::StatusOr<FetchResponse> answer = replica_->HandleFetch(r);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  response->set_size(answer->size);
  for (std::string& e : answer->entries) response->add_entries(std::move(e));
  if (answer->root_at_from) {
    response->set_root_at_from(HashBytes(*answer->root_at_from));
  }
  if (answer->root_at_committed) {
    response->set_root_at_committed(HashBytes(*answer->root_at_committed));
  }
  return grpc::Status::OK;
}

ClusterCoordinator::ClusterCoordinator(const ledger::Ledger* ledger,
                                       Replica* replica, EtcdCoordinator* etcd,
                                       ReplicationTransport* transport,
                                       ClusterCoordinatorOptions options)
    : ledger_(ledger),
      replica_(replica),
      etcd_(etcd),
      transport_(transport),
      options_(std::move(options)) {}

ClusterCoordinator::~ClusterCoordinator() { Stop(); }

void ClusterCoordinator::Lead(int64_t epoch) {
  {
    MutexLock lock(&mu_);
    if (leader_ != nullptr || stop_) return;
    leader_ = std::make_unique<ReplicationLeader>(
        ledger_, options_.node_name, epoch, options_.peers, options_.leader);
    leader_->SetCommitted(replica_->verified_committed());
  }
  for (const std::string& peer : options_.peers) {
    threads_.emplace_back([this, peer] {
      pthread_setname_np(pthread_self(), "replicate");
      PeerLoop(peer);
    });
  }
}

void ClusterCoordinator::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    ++version_;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void ClusterCoordinator::Bump() {
  MutexLock lock(&mu_);
  ++version_;
}

void ClusterCoordinator::PeerLoop(const std::string& peer) {
  ReplicationLeader* leader = nullptr;
  {
    MutexLock lock(&mu_);
    leader = leader_.get();
  }
  absl::Duration backoff = absl::Milliseconds(50);
  absl::Time next_probe = absl::InfinitePast();
  absl::Time asked_to_register = absl::InfinitePast();
  while (true) {
    uint64_t seen = 0;
    {
      MutexLock lock(&mu_);
      if (stop_) return;
      seen = version_;
    }
    const bool probe = absl::Now() >= next_probe;
    absl::StatusOr<std::optional<ReplicateRequest>> request =
        leader->NextRequest(peer, probe);
    if (!request.ok() || !request->has_value()) {
      if (!request.ok()) {
        spdlog::warn("replication to {}: {}", peer,
                     ToStd(request.status().message()));
      }
      MutexLock lock(&mu_);
      mu_.AwaitWithTimeout([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                               mu_) { return stop_ || version_ != seen; },
                           options_.heartbeat);
      continue;
    }
    absl::StatusOr<ReplicateResponse> response =
        transport_->Replicate(peer, **request, options_.request_timeout);
    leader->OnResponse(peer, (*request)->id, response);
    if (response.ok() && !response->cosigner_key.empty()) {
      NoteCosignerKey(peer, response->cosigner_key, &asked_to_register);
    }
    next_probe = absl::Now() + options_.heartbeat;
    {
      MutexLock lock(&mu_);
      absl::Status& last = peer_status_[peer];
      if (!response.ok() && last.ok()) {
        spdlog::warn("replication to {}: {}", peer,
                     ToStd(response.status().message()));
      } else if (response.ok() && !last.ok()) {
        spdlog::info("replication to {} resumed at {} entries", peer,
                     response->size);
      }
      last = response.status();
      ++version_;
      if (!response.ok()) {
        mu_.AwaitWithTimeout(
            [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; },
            backoff);
        backoff = std::min(backoff * 2, absl::Seconds(1));
      } else {
        backoff = absl::Milliseconds(50);
      }
    }
  }
}

absl::Status ClusterCoordinator::Commit(const ledger::Head& head) {
  ReplicationLeader* leader = nullptr;
  {
    MutexLock lock(&mu_);
    leader = leader_.get();
  }
  if (leader == nullptr) {
    return absl::FailedPreconditionError(
        StrCat("node ", options_.node_name, " does not lead"));
  }
  leader->SetDurable(head);
  // A new leader's log is exactly the committed head (Replica::CatchUp),
  // which a majority held when it was committed: it re-commits it under its
  // own epoch without waiting for followers that may be far behind.
  const ledger::Head etcd_head = etcd_->Committed();
  const bool already = head.size > 0 && head.size == etcd_head.size &&
                       head.root == etcd_head.root;
  const absl::Time deadline = absl::Now() + options_.commit_timeout;
  bool quorum = already;
  if (!already) {
    MutexLock lock(&mu_);
    ++version_;
    quorum = mu_.AwaitWithDeadline(
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stop_ || !etcd_->is_leader() || leader->HasQuorum(head.size);
        },
        deadline);
    quorum = quorum && leader->HasQuorum(head.size);
    if (!quorum) {
      std::vector<std::string> parts;
      for (const std::string& peer : options_.peers) {
        const absl::Status& s = peer_status_[peer];
        parts.push_back(StrCat(peer, " holds ", leader->matched(peer),
                               s.ok() ? "" : StrCat(" (", s.message(), ")")));
      }
      if (!etcd_->is_leader()) {
        absl::Status why = etcd_->deposed_status();
        return why.ok() ? absl::FailedPreconditionError("no longer leader")
                        : why;
      }
      return absl::UnavailableError(StrCat(
          "no majority of the cluster holds the entries up to ", head.size,
          " within ", absl::FormatDuration(options_.commit_timeout), ": ",
          leader->Holding(head.size), " of ", options_.peers.size() + 1,
          " nodes do, ", leader->quorum(), " needed; ",
          absl::StrJoin(parts, ", ")));
    }
  }
  LEDGER_RETURN_IF_ERROR(etcd_->Commit(head));
  leader->SetCommitted(head);
  replica_->ObserveCommitted(head);
  Bump();
  return absl::OkStatus();
}

ledger::Head ClusterCoordinator::Committed() const {
  return replica_->verified_committed();
}

bool ClusterCoordinator::WaitForCommitted(uint64_t size,
                                          absl::Duration timeout) const {
  return replica_->WaitForCommitted(size, timeout);
}

void ClusterCoordinator::NoteCosignerKey(const std::string& peer,
                                         const std::string& vkey,
                                         absl::Time* last_asked) {
  if (!options_.register_cosigner) return;
  const absl::Time now = absl::Now();
  if (now - *last_asked < absl::Seconds(1)) return;
  absl::StatusOr<crypto::NoteVerifier> verifier =
      crypto::ParseVerifierKey(vkey);
  if (!verifier.ok() || verifier->type != crypto::NoteSigType::kCosignatureV1) {
    *last_asked = now;
    spdlog::warn("replication: {} names a cosigner key that is not one: {}",
                 peer, vkey);
    return;
  }
  if (ledger_->keys().Find(ledger::KeyIdOf(verifier->key)).has_value()) {
    return;
  }
  *last_asked = now;
  options_.register_cosigner(peer, *verifier);
}

absl::StatusOr<std::string> ClusterCoordinator::Cosign(
    std::string note, const ledger::Checkpoint& checkpoint) {
  int64_t epoch = 0;
  size_t quorum = 0;
  {
    MutexLock lock(&mu_);
    if (leader_ == nullptr) {
      return absl::FailedPreconditionError(
          StrCat("node ", options_.node_name, " does not lead"));
    }
    epoch = leader_->epoch();
    quorum = leader_->quorum();
  }
  LEDGER_ASSIGN_OR_RETURN(crypto::Note signed_note, crypto::ParseNote(note));
  CosignRequest request;
  request.epoch = epoch;
  request.leader = options_.node_name;
  request.committed = replica_->verified_committed();
  request.checkpoint = signed_note.text;
  const size_t n = options_.peers.size();
  std::vector<absl::StatusOr<CosignResponse>> answers(
      n, absl::UnavailableError("not asked"));
  {
    std::vector<std::thread> calls;
    calls.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      calls.emplace_back([&, i] {
        answers[i] = transport_->Cosign(options_.peers[i], request,
                                        options_.cosign_timeout);
      });
    }
    for (std::thread& t : calls) t.join();
  }
  size_t signed_by = 1;  // this node signed `note`
  std::vector<std::string> refusals;
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<crypto::NoteSignature> sig =
        answers[i].ok()
            ? CheckCosignature(*answers[i], signed_note.text)
            : absl::StatusOr<crypto::NoteSignature>(answers[i].status());
    bool duplicate = false;
    if (sig.ok()) {
      for (const crypto::NoteSignature& have : signed_note.signatures) {
        duplicate =
            duplicate || (have.name == sig->name && have.key_id == sig->key_id);
      }
    }
    if (!sig.ok() || duplicate) {
      refusals.push_back(StrCat(options_.peers[i], ": ",
                                sig.ok()
                                    ? "signed with a key already on the note"
                                    : sig.status().message()));
      continue;
    }
    signed_note.signatures.push_back(*std::move(sig));
    ++signed_by;
  }
  if (signed_by < quorum) {
    return absl::UnavailableError(
        StrCat("the checkpoint of size ", checkpoint.size, " has ", signed_by,
               " of ", n + 1, " nodes' signatures, ", quorum,
               " needed: ", absl::StrJoin(refusals, "; ")));
  }
  if (!refusals.empty()) {
    spdlog::debug("checkpoint of size {} cosigned without: {}", checkpoint.size,
                  absl::StrJoin(refusals, "; "));
  }
  return crypto::FormatNote(signed_note);
}

std::map<std::string, uint64_t> ClusterCoordinator::matched() const {
  std::map<std::string, uint64_t> out;
  MutexLock lock(&mu_);
  if (leader_ == nullptr) return out;
  for (const std::string& peer : options_.peers) {
    out[peer] = leader_->matched(peer);
  }
  return out;
}

}  // namespace ledger::node
