#include "node/node.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/rfc6962.h"
#include "ledger/key_registry.h"
#include "node/ledger_events.h"
#include "node/service_context.h"

namespace ledger::node {
namespace {

std::string_view View(const absl::Status& s) { return ToStd(s.message()); }

}  // namespace

absl::StatusOr<std::unique_ptr<Node>> Node::Start(
    const NodeConfig& config, const Clock* clock,
    std::function<void(const absl::Status&)> on_data_loss,
    NodeTestHooks hooks) {
  LEDGER_RETURN_IF_ERROR(ValidateConfig(config));
  LEDGER_RETURN_IF_ERROR(ValidateTransport(config));
  std::unique_ptr<Node> node(new Node());
  node->on_data_loss_ = std::move(on_data_loss);
  LEDGER_RETURN_IF_ERROR(node->Open(config, clock, hooks));
  return node;
}

absl::Status Node::OpenGuard(const DataDirLayout& layout, bool* legacy) {
  absl::StatusOr<std::unique_ptr<FileRollbackGuard>> guard =
      FileRollbackGuard::Load(layout.guard, identity_->verifiers(),
                              identity_->origin);
  *legacy = absl::IsNotFound(guard.status());
  if (*legacy) return absl::OkStatus();
  LEDGER_RETURN_IF_ERROR(guard.status());
  guard_ = *std::move(guard);
  return absl::OkStatus();
}

absl::Status Node::AdoptLegacyGuard(const DataDirLayout& layout) {
  // keys/ is created with its guard, so a missing guard means either a data
  // directory from before guards existed (storage format 1) or one whose
  // guard was removed: only the first is adopted.
  if (ledger_->opened_format() != "1") {
    return absl::DataLossError(StrCat(
        layout.guard,
        " (the rollback guard: the last checkpoint this node signed) is "
        "missing beside keys that were created with it; without it the node "
        "cannot tell whether its ledger lost entries. Restore it from a "
        "backup of the data directory"));
  }
  std::string note;
  if (std::optional<ledger::StoredCheckpoint> cp =
          ledger_->LatestCheckpoint()) {
    note = cp->note;
  } else {
    const crypto::NoteSigner* signers[] = {&identity_->log_signer,
                                           &identity_->cosigner};
    note = crypto::SignNote(ledger::FormatCheckpointBody(ledger::Checkpoint{
                                identity_->origin, 0, crypto::EmptyRoot(), {}}),
                            signers, 0);
  }
  LEDGER_ASSIGN_OR_RETURN(guard_,
                          FileRollbackGuard::Create(layout.guard, note));
  spdlog::warn(
      "{} had no rollback guard (written by an older version); "
      "created it from its last checkpoint",
      layout.root);
  return absl::OkStatus();
}

absl::StatusOr<VerifiedBatch> Node::CosignerRegistration(
    const std::string& name, const crypto::Ed25519PublicKey& public_key,
    const std::string& node_name, int64_t now_ns) const {
  KeyInfo info;
  info.key_id = KeyIdOf(public_key);
  info.public_key = public_key;
  info.name = name;
  info.role = KeyRole::kCosigner;
  info.valid_from_ns = now_ns;
  Event event = KeyRegisteredEvent(info);
  StampLedgerEvent(now_ns, node_name, "node", &event);
  return SignWithNodeKey(std::move(event), *identity_, ledger_->limits());
}

absl::Status Node::RegisterCosigner(const NodeConfig& config,
                                    const Clock* clock) {
  const crypto::Ed25519PublicKey& public_key =
      identity_->cosigner.key().public_key();
  if (ledger_->keys().Find(KeyIdOf(public_key)).has_value()) {
    return absl::OkStatus();
  }
  LEDGER_ASSIGN_OR_RETURN(
      VerifiedBatch batch,
      CosignerRegistration(identity_->cosigner.name(), public_key,
                           config.node_name, clock->NowNs()));
  const VerifiedBatch* batches[] = {&batch};
  ledger::GroupResult result = ledger_->Append(batches, clock->NowNs());
  LEDGER_RETURN_IF_ERROR(result.status);
  LEDGER_RETURN_IF_ERROR(
      Annotate(result.batches[0].status, "registering the cosigner key"));
  spdlog::info("registered the cosigner key {} in the ledger",
               identity_->cosigner.name());
  return absl::OkStatus();
}

absl::Status Node::LoadTransport(const NodeConfig& config,
                                 std::optional<TlsMaterial>* tls,
                                 std::unique_ptr<AccessPolicy>* policy) {
  if (config.insecure_plaintext) {
    spdlog::warn(
        "insecure_plaintext: serving {} WITHOUT TLS and WITHOUT "
        "authorization; every client can read and write everything and "
        "administer the node. For tests and local experiments only",
        config.listen);
    if (!config.access_policy_file.empty()) {
      spdlog::warn("access.policy_file {} is ignored without TLS",
                   config.access_policy_file);
    }
    return absl::OkStatus();
  }
  LEDGER_ASSIGN_OR_RETURN(*tls,
                          LoadTlsFiles(config.tls_ca_file, config.tls_cert_file,
                                       config.tls_key_file));
  LEDGER_ASSIGN_OR_RETURN(AccessPolicy loaded,
                          AccessPolicy::Load(config.access_policy_file));
  *policy = std::make_unique<AccessPolicy>(std::move(loaded));
  spdlog::info("mutual TLS; {} identities in the access policy {}",
               (*policy)->size(), config.access_policy_file);
  return absl::OkStatus();
}

absl::Status Node::Open(const NodeConfig& config, const Clock* clock,
                        const NodeTestHooks& hooks) {
  // Before the ledger is opened (which can take a while): a mistake in
  // the certificates or the policy is reported at once.
  std::optional<TlsMaterial> tls;
  std::unique_ptr<AccessPolicy> policy;
  LEDGER_RETURN_IF_ERROR(LoadTransport(config, &tls, &policy));
  // The authorizer exists before the ledger is open, for the HTTP port's
  // metrics during the start-up check; its denials are recorded once the
  // sequencer can append them (SetDenialRecorder below).
  const Clock* access_clock =
      hooks.access_clock != nullptr ? hooks.access_clock : clock;
  AuthorizerOptions authorizer_options;
  authorizer_options.rate_limit_per_identity = config.rate_limit_per_identity;
  authorizer_options.rate_limit_burst = config.rate_limit_burst;
  authorizer_options.clock = access_clock;
  const bool secure = policy != nullptr;
  authorizer_ = std::make_shared<Authorizer>(std::move(policy),
                                             authorizer_options, nullptr);
  metrics_ = std::make_unique<NodeMetrics>();
  if (!config.http_listen.empty()) {
    HttpServerOptions http_options;
    http_options.listen = config.http_listen;
    http_options.tls = tls;
    http_options.authorizer = authorizer_;
    LEDGER_ASSIGN_OR_RETURN(http_,
                            HttpServer::Start(http_options, metrics_.get()));
  }
  LEDGER_ASSIGN_OR_RETURN(
      NodeIdentity identity,
      OpenDataDir(config.data_dir, config.origin, config.node_name,
                  config.cluster.log_key_file));
  identity_ = std::make_unique<NodeIdentity>(std::move(identity));
  const DataDirLayout layout(config.data_dir);
  bool legacy_guard = false;
  LEDGER_RETURN_IF_ERROR(OpenGuard(layout, &legacy_guard));

  ledger::LedgerOptions options;
  options.origin = identity_->origin;
  options.checkpoint_verifiers = identity_->verifiers();
  options.node_key = identity_->log_signer.key();
  options.limits = config.limits;
  options.block_cache_bytes = config.block_cache_bytes;
  options.full_check_max_entries = config.full_check_max_entries;
  options.env = hooks.env;
  if (guard_ != nullptr) options.signed_head = guard_->last();
  LEDGER_ASSIGN_OR_RETURN(acked_head_, FileAckedHead::Open(layout.acked_head));
  options.acknowledged_head = acked_head_->at_open();
  options.progress = [](std::string_view line) {
    spdlog::info("ledger: {}", line);
  };
  options.warn = [](std::string_view line) {
    spdlog::warn("ledger: {}", line);
  };
  options.verify_progress = [progress = &metrics_->open_progress](
                                uint64_t checked, uint64_t total) {
    progress->checked.store(checked, std::memory_order_relaxed);
    progress->total.store(total, std::memory_order_relaxed);
  };
  spdlog::info("opening and verifying the ledger in {}", layout.db);
  LEDGER_ASSIGN_OR_RETURN(ledger_, ledger::Ledger::Open(layout.db, options));
  if (legacy_guard) LEDGER_RETURN_IF_ERROR(AdoptLegacyGuard(layout));
  const bool cluster = config.cluster.enabled();
  if (cluster) {
    // The leader writes genesis and registers its cosigner when elected;
    // a follower takes everything from the leader.
    on_deposed_ = hooks.on_deposed;
    LEDGER_RETURN_IF_ERROR(OpenCluster(config, tls));
  } else {
    if (ledger_->head().size == 0) {
      LEDGER_RETURN_IF_ERROR(AppendGenesis(*ledger_, *identity_,
                                           config.node_name, clock->NowNs()));
      spdlog::info("new ledger: genesis entry registers the node key");
    }
    LEDGER_RETURN_IF_ERROR(RegisterCosigner(config, clock));
    coordinator_ = std::make_unique<LocalCoordinator>(ledger_->head());
  }
  SequencerOptions sequencer_options;
  sequencer_options.max_group_events = config.max_group_events;
  sequencer_options.max_queued_events = config.max_queued_events;
  sequencer_options.max_queued_bytes = config.max_queued_bytes;
  sequencer_options.checkpoint.checkpoint_interval_ns =
      absl::ToInt64Nanoseconds(config.checkpoint_interval);
  sequencer_options.checkpoint.empty_interval_ns =
      absl::ToInt64Nanoseconds(config.empty_interval);
  // After a tail-only open, appends wait for the index check (the scrub's
  // first step): a damaged event index could let an event in twice.
  sequencer_options.hold_writes = !ledger_->fully_checked();
  sequencer_options.acked_head = acked_head_.get();
  sequencer_options.metrics = metrics_.get();
  sequencer_ = std::make_unique<Sequencer>(ledger_.get(), coordinator_.get(),
                                           clock, identity_.get(), guard_.get(),
                                           sequencer_options);
  sequencer_->SetStateListener(
      [this](SequencerState state, const absl::Status& reason) {
        OnSequencerState(state, reason);
      });
  if (!cluster) {
    LEDGER_RETURN_IF_ERROR(
        Annotate(sequencer_->Start(), "issuing the start-up checkpoint"));
  } else {
    sequencer_->SetNotStartedReason(absl::UnavailableError(
        "this cluster node does not lead (yet); appends go to the leader"));
  }

  if (secure) {
    DenialRecorderOptions denial_options;
    denial_options.interval = config.access_denied_interval;
    denials_ = std::make_unique<DenialRecorder>(
        access_clock, denial_options,
        [this, clock](Event event) -> absl::Status {
          // The entry's time is the node's (the access clock may be a
          // test's).
          event.occurred_at_ns = clock->NowNs();
          LEDGER_ASSIGN_OR_RETURN(
              VerifiedBatch batch,
              SignWithNodeKey(std::move(event), *identity_, ledger_->limits()));
          return sequencer_->Append(std::move(batch)).status;
        });
    denials_->Start();
    authorizer_->SetDenialRecorder(denials_.get());
  }

  ServiceContext ctx{ledger_.get(),
                     sequencer_.get(),
                     coordinator_.get(),
                     clock,
                     identity_.get(),
                     config.node_name,
                     authorizer_.get(),
                     {config.max_future_skew, config.max_event_age},
                     config.provenance,
                     metrics_.get(),
                     {}};
  if (config.cluster.enabled()) {
    ctx.leader_address = [this] {
      MutexLock lock(&cluster_mu_);
      return leader_address_;
    };
  }
  ServerOptions server_options;
  server_options.listen = config.listen;
  server_options.max_message_bytes = config.max_message_bytes;
  server_options.grpc_memory_bytes = config.grpc_memory_bytes;
  server_options.tls = std::move(tls);
  server_options.authorizer = authorizer_;
  server_options.idle_timeout = config.idle_timeout;
  server_options.reflection = config.reflection;
  server_options.health_listen = config.health_listen;
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(server_options, ctx);
  if (!server.ok()) {
    if (denials_ != nullptr) denials_->Stop();
    StopCluster();
    sequencer_->Shutdown();
    return server.status();
  }
  server_ = *std::move(server);
  if (http_ != nullptr) {
    http_->Serve(ctx, NodeMetrics::Sources{
                          ledger_.get(), sequencer_.get(), coordinator_.get(),
                          authorizer_.get(), clock, config.max_queued_events});
  }
  metrics_->open_progress.done.store(true, std::memory_order_relaxed);
  {
    MutexLock lock(&health_mu_);
    health_server_ = server_.get();
    server_->SetServing(!data_loss_, ingest_serving_ && !data_loss_);
  }

  ScrubOptions scrub;
  scrub.rate = config.scrub_rate;
  scrub.interval = config.scrub_interval;
  scrub.scrub_soon = !ledger_->fully_checked();
  scrub.derived_first = !ledger_->fully_checked();
  scrubber_ = std::make_unique<Scrubber>(
      ledger_.get(), scrub,
      [this](const absl::Status& cause) { OnDataLoss(cause); },
      [this] { sequencer_->ReleaseWrites(); });
  scrubber_->Start();
  if (cluster) {
    cluster_thread_ = std::thread([this, config, clock] {
      pthread_setname_np(pthread_self(), "cluster");
      RunCluster(config, clock);
    });
  }
  return absl::OkStatus();
}

void Node::OnSequencerState(SequencerState state, const absl::Status& reason) {
  const bool serving = state == SequencerState::kRunning;
  if (state == SequencerState::kFailed ||
      state == SequencerState::kStorageFull) {
    spdlog::error("ledger.v1.Ingest is NOT_SERVING ({}): {}",
                  SequencerStateName(state), View(reason));
  } else if (state == SequencerState::kVerifying) {
    spdlog::info(
        "ledger.v1.Ingest is NOT_SERVING until the indexes are "
        "verified");
  } else if (serving) {
    spdlog::info("ledger.v1.Ingest is SERVING");
  }
  // Damage, whoever found it (the scrub, or the sequencer's rollback guard
  // check), takes the whole node out of service, once.
  bool report = false;
  {
    MutexLock lock(&health_mu_);
    // The state now, not the one this call reports: two transitions made
    // on two threads can reach here in either order, and health must end
    // up saying what is true.
    ingest_serving_ = sequencer_->state() == SequencerState::kRunning;
    if (absl::IsDataLoss(reason) && !data_loss_) {
      data_loss_ = true;
      report = true;
    }
    if (health_server_ != nullptr) {
      health_server_->SetServing(!data_loss_, ingest_serving_ && !data_loss_);
    }
  }
  if (report && on_data_loss_) on_data_loss_(reason);
}

void Node::OnDataLoss(const absl::Status& cause) {
  // The sequencer's state listener (OnSequencerState) does the rest.
  sequencer_->ReportDataLoss(cause);
}

Node::~Node() { Shutdown(); }

void Node::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (scrubber_ != nullptr) scrubber_->Stop();
  // Denials noted so far become entries while the sequencer still accepts
  // them (those of calls finishing during the grace period are counted,
  // not recorded).
  if (denials_ != nullptr) denials_->Stop();
  if (sequencer_ != nullptr) sequencer_->StopAccepting();
  {
    MutexLock lock(&health_mu_);
    health_server_ = nullptr;
  }
  if (server_ != nullptr) server_->Shutdown(grace);
  if (http_ != nullptr) http_->Shutdown();
  if (sequencer_ != nullptr) sequencer_->Shutdown();
  StopCluster();
}

}  // namespace ledger::node
