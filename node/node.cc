#include "node/node.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "base/status_macros.h"
#include "base/strings.h"
#include "node/ledger_events.h"
#include "node/service_context.h"

namespace ledger::node {

absl::StatusOr<std::unique_ptr<Node>> Node::Start(const NodeConfig& config,
                                                  const Clock* clock) {
  LEDGER_RETURN_IF_ERROR(ValidateConfig(config));
  std::unique_ptr<Node> node(new Node());
  LEDGER_RETURN_IF_ERROR(node->Open(config, clock));
  return node;
}

absl::Status Node::Open(const NodeConfig& config, const Clock* clock) {
  LEDGER_ASSIGN_OR_RETURN(
      NodeIdentity identity,
      OpenDataDir(config.data_dir, config.origin, config.node_name));
  identity_ = std::make_unique<NodeIdentity>(std::move(identity));

  ledger::LedgerOptions options;
  options.origin = identity_->origin;
  options.checkpoint_verifiers = identity_->verifiers();
  options.limits = config.limits;
  options.block_cache_bytes = config.block_cache_bytes;
  options.progress = [](std::string_view line) {
    spdlog::info("ledger: {}", line);
  };
  spdlog::info("opening and verifying the ledger in {}",
               DataDirLayout(config.data_dir).db);
  LEDGER_ASSIGN_OR_RETURN(
      ledger_,
      ledger::Ledger::Open(DataDirLayout(config.data_dir).db, options));
  if (ledger_->head().size == 0) {
    LEDGER_RETURN_IF_ERROR(
        AppendGenesis(*ledger_, *identity_, config.node_name, clock->NowNs()));
    spdlog::info("new ledger: genesis entry registers the node key");
  }

  coordinator_ = std::make_unique<LocalCoordinator>(ledger_->head());
  SequencerOptions sequencer_options;
  sequencer_options.max_group_events = config.max_group_events;
  sequencer_options.checkpoint.checkpoint_interval_ns =
      absl::ToInt64Nanoseconds(config.checkpoint_interval);
  sequencer_options.checkpoint.empty_interval_ns =
      absl::ToInt64Nanoseconds(config.empty_interval);
  sequencer_ =
      std::make_unique<Sequencer>(ledger_.get(), coordinator_.get(), clock,
                                  identity_.get(), sequencer_options);
  LEDGER_RETURN_IF_ERROR(
      Annotate(sequencer_->Start(), "issuing the start-up checkpoint"));

  ServiceContext ctx{ledger_.get(), sequencer_.get(), coordinator_.get(),
                     clock,         identity_.get(),  config.node_name};
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(config.listen, config.max_message_bytes, ctx);
  if (!server.ok()) {
    sequencer_->Shutdown();
    return server.status();
  }
  server_ = *std::move(server);
  return absl::OkStatus();
}

Node::~Node() { Shutdown(); }

void Node::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (sequencer_ != nullptr) sequencer_->StopAccepting();
  if (server_ != nullptr) server_->Shutdown(grace);
  if (sequencer_ != nullptr) sequencer_->Shutdown();
}

}  // namespace ledger::node
