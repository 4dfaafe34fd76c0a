#pragma once

// `ledgerctl append`: reads events as JSON lines, signs them as batches (or
// one by one) with an emitter key and sends them with several requests in
// flight. Nothing is sent unless every line parses and converts.
//
// Two phases: PrepareRequests parses, converts, encodes and signs on
// several threads and keeps only the serialized requests (about the size of
// the input); SendRequests keeps `in_flight` calls outstanding on one
// completion queue and prints acknowledgements in input order. Requests in
// flight together may be sequenced in any order among themselves; each
// acknowledgement carries the index the ledger gave.

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/ed25519.h"
#include "crypto/note.h"
#include "ledger/v1/ingest.grpc.pb.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/payloads.h"

namespace ledger::ctl {

struct AppendOptions {
  std::string key;          // a .key file, or a directory with exactly one
  std::string events_file;  // JSON lines; "-" reads standard input
  uint32_t batch_size = 1000;
  uint32_t in_flight = 4;
  bool single = false;   // one Append per event instead of AppendBatch
  unsigned threads = 0;  // preparation threads; 0: one per core
  bool progress = true;  // events/s on the error stream every second
};

// Reads the emitter's signer key from a .key file, or from the only *.key
// file of a directory (FailedPrecondition if there are none or several).
absl::StatusOr<crypto::NoteSigner> LoadEmitterKey(const std::string& path);

// One request ready to send.
struct PreparedRequest {
  // A serialized v1::AppendBatchRequest, or v1::AppendRequest when single.
  std::string serialized;
  std::vector<uint64_t> lines;         // input line number of each event
  std::vector<std::string> event_ids;  // as written in the input
};

// Parses every line of `text` (event_lines.h), encodes each event
// (EncodeEvent), and signs consecutive groups of `batch_size` events with
// SignBatch (or each event alone when `single`). InvalidArgument naming the
// lowest bad line number if any line fails; then nothing is returned.
//
// A line with payload_plaintext and data_subject (event_lines.h) gets its
// payload encrypted under the subject's key from `payload_keys` before it
// is encoded and signed; without a source such a line is an error.
absl::StatusOr<std::vector<PreparedRequest>> PrepareRequests(
    std::string_view text, const crypto::Ed25519PrivateKey& key,
    uint32_t batch_size, bool single, unsigned threads,
    PayloadKeySource* payload_keys = nullptr);

struct AppendStats {
  uint64_t events = 0;        // events in the requests
  uint64_t acknowledged = 0;  // events acknowledged (duplicates included)
  uint64_t duplicates = 0;
  uint64_t failed_requests = 0;
  // The first failed request in input order, with its line range; OK if
  // none failed.
  absl::Status first_error;
};

// Sends `requests` with at most `in_flight` outstanding, each with the
// connection's deadline. Writes one JSON line per acknowledged event to
// `out` in input order: {"line","event_id","index","leaf_hash","duplicate"}.
// A request refused with RESOURCE_EXHAUSTED (pushback), or by a node still
// verifying its indexes after a start, is sent again after the wait the node
// suggests (grpc-retry-pushback-ms; at most 100 attempts): appends are
// idempotent by event_id. After the first other failure no new request is
// started; those in flight finish and are reported. Progress goes to `err` when
// `progress`.
AppendStats SendRequests(v1::Ingest::StubInterface& stub,
                         std::vector<PreparedRequest> requests, bool single,
                         uint32_t in_flight, const ConnectionOptions& conn,
                         std::ostream& out, std::ostream& err, bool progress);

// The whole command; prints a summary line to `err`. Returns the parse
// error, or the first failed request's error.
absl::Status RunAppend(const ConnectionOptions& conn,
                       const AppendOptions& options, std::ostream& out,
                       std::ostream& err);

}  // namespace ledger::ctl
