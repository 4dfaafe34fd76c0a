// The sending phase of `ledgerctl append` and the command itself.

#include "tools/ledgerctl/append.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>

#include "base/strings.h"
#include "crypto/key_file.h"
#include "tools/verify/report.h"

namespace ledger::ctl {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seconds with millisecond precision, e.g. "12.034".
std::string FormatSeconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", seconds);
  return buf;
}

std::string Rate(uint64_t events, double seconds) {
  return StrCat(static_cast<uint64_t>(seconds > 0 ? events / seconds : 0));
}

std::string LineRange(const PreparedRequest& r) {
  if (r.lines.size() == 1) return StrCat("line ", r.lines.front());
  return StrCat("lines ", r.lines.front(), "-", r.lines.back());
}

// Where a refusal points in the file: a node names the event of a batch
// it refuses ("events[3].inputs: ..."); that is line 24 of lines 21-30.
std::string WhereInFile(const PreparedRequest& r, std::string_view message) {
  constexpr std::string_view kEvents = "events[";
  if (r.lines.size() < 2 || message.substr(0, kEvents.size()) != kEvents) {
    return LineRange(r);
  }
  size_t n = 0;
  size_t at = kEvents.size();
  for (; at < message.size() && at < kEvents.size() + 7 && message[at] >= '0' &&
         message[at] <= '9';
       ++at) {
    n = n * 10 + static_cast<size_t>(message[at] - '0');
  }
  if (at == kEvents.size() || at >= message.size() || message[at] != ']' ||
      n >= r.lines.size()) {
    return LineRange(r);
  }
  return StrCat("line ", r.lines[n], " (events[", n, "] of ", LineRange(r),
                ")");
}

// One outstanding call. Unary async calls serialize the request when they
// are prepared, so only the context and the response must outlive them.
struct Call {
  size_t request = 0;
  int attempt = 0;
  grpc::ClientContext ctx;
  grpc::Status status;
  v1::AppendBatchResponse batch_response;
  v1::AppendResponse single_response;
  std::unique_ptr<
      grpc::ClientAsyncResponseReaderInterface<v1::AppendBatchResponse>>
      batch_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReaderInterface<v1::AppendResponse>>
      single_reader;
};

// The acknowledgement lines of one request, or its error.
struct Outcome {
  bool done = false;
  absl::Status status;
  std::vector<v1::EntryRef> entries;
};

void AppendAckLine(std::string& out, uint64_t line, const std::string& event_id,
                   const v1::EntryRef& ref) {
  out +=
      StrCat("{\"line\":", line, ",\"event_id\":", verify::JsonQuote(event_id),
             ",\"index\":", ref.index(), ",\"leaf_hash\":\"",
             Hex(ref.leaf_hash()), "\",\"duplicate\":", ref.duplicate(), "}\n");
}

// A refusal worth sending the request again for: pushback (the node's queue
// is full) or a node that has not yet opened for appends after a start.
// Appends are idempotent by event_id, so a resend never adds an entry twice.
constexpr int kMaxAttempts = 100;
bool Retryable(const grpc::Status& status) {
  return status.error_code() == grpc::RESOURCE_EXHAUSTED ||
         (status.error_code() == grpc::UNAVAILABLE &&
          status.error_message().find("verifying its indexes") !=
              std::string::npos);
}

// The wait the node suggested (grpc-retry-pushback-ms), else 100 ms; at
// most a second.
std::chrono::milliseconds RetryAfter(const grpc::ClientContext& ctx) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  int64_t ms = 100;
  if (auto it = trailers.find("grpc-retry-pushback-ms"); it != trailers.end()) {
    const std::string text(it->second.data(), it->second.size());
    if (std::optional<uint64_t> v = ParseCanonicalUint64(text)) {
      ms = static_cast<int64_t>(*v);
    }
  }
  return std::chrono::milliseconds(std::clamp<int64_t>(ms, 1, 1000));
}

// Turns a finished call into its outcome, checking the acknowledgement
// count against the request.
Outcome Finish(Call& call, const PreparedRequest& request, bool single) {
  Outcome o;
  o.done = true;
  o.status = FromGrpc(call.status);
  if (o.status.ok()) {
    if (single) {
      if (call.single_response.has_entry()) {
        o.entries.push_back(std::move(*call.single_response.mutable_entry()));
      }
    } else {
      auto* entries = call.batch_response.mutable_entries();
      o.entries.assign(std::make_move_iterator(entries->begin()),
                       std::make_move_iterator(entries->end()));
    }
    if (o.entries.size() != request.lines.size()) {
      o.status = absl::InternalError(StrCat("the node acknowledged ",
                                            o.entries.size(), " entries for ",
                                            request.lines.size(), " events"));
      o.entries.clear();
    }
  }
  if (!o.status.ok()) {
    o.status =
        Annotate(o.status, WhereInFile(request, ToStd(o.status.message())));
  }
  return o;
}

// The events file, mapped with its pages populated up front: touching
// fresh heap pages one fault at a time costs a fifth of a 100k-event run on
// a virtual machine. Standard input ("-") is read into memory instead.
class EventsText {
 public:
  EventsText() = default;
  EventsText(const EventsText&) = delete;
  EventsText& operator=(const EventsText&) = delete;
  ~EventsText() {
    if (map_ != nullptr) ::munmap(map_, size_);
  }

  absl::Status Open(const std::string& path) {
    if (path == "-") {
      owned_.assign(std::istreambuf_iterator<char>(std::cin),
                    std::istreambuf_iterator<char>());
      text_ = owned_;
      return absl::OkStatus();
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("cannot open", path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      absl::Status s = ErrnoStatus("cannot stat", path);
      ::close(fd);
      return s;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
      // A pipe or an empty file: plain reads.
      ::close(fd);
      absl::StatusOr<std::string> text = crypto::ReadFileToString(path);
      if (!text.ok()) return text.status();
      owned_ = *std::move(text);
      text_ = owned_;
      return absl::OkStatus();
    }
    size_ = static_cast<size_t>(st.st_size);
    map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    absl::Status s =
        map_ == MAP_FAILED ? ErrnoStatus("cannot map", path) : absl::OkStatus();
    ::close(fd);
    if (!s.ok()) {
      map_ = nullptr;
      return s;
    }
    text_ = std::string_view(static_cast<const char*>(map_), size_);
    return absl::OkStatus();
  }

  std::string_view text() const { return text_; }

 private:
  static absl::Status ErrnoStatus(std::string_view what,
                                  const std::string& path) {
    const int err = errno;
    return absl::Status(err == ENOENT ? absl::StatusCode::kNotFound
                                      : absl::StatusCode::kPermissionDenied,
                        StrCat(what, " ", path, ": ", std::strerror(err)));
  }

  std::string owned_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::string_view text_;
};

}  // namespace

AppendStats SendRequests(v1::Ingest::StubInterface& stub,
                         std::vector<PreparedRequest> requests, bool single,
                         uint32_t in_flight, const ConnectionOptions& conn,
                         std::ostream& out, std::ostream& err, bool progress) {
  AppendStats stats;
  for (const PreparedRequest& r : requests) stats.events += r.lines.size();
  const Clock::time_point start = Clock::now();
  Clock::time_point next_progress = start + std::chrono::seconds(1);
  std::vector<Outcome> outcomes(requests.size());
  grpc::CompletionQueue cq;
  size_t next_start = 0;
  size_t next_print = 0;
  size_t outstanding = 0;
  bool stop = false;
  if (in_flight == 0) in_flight = 1;
  // Refused requests to send again, by when.
  std::multimap<Clock::time_point, std::pair<size_t, int>> retries;

  auto start_call = [&](size_t i, int attempt) {
    auto* call = new Call;
    call->request = i;
    call->attempt = attempt;
    call->ctx.set_deadline(Deadline(conn));
    PreparedRequest& r = requests[i];
    if (single) {
      v1::AppendRequest request;
      request.ParseFromString(r.serialized);
      call->single_reader = stub.PrepareAsyncAppend(&call->ctx, request, &cq);
      call->single_reader->StartCall();
      call->single_reader->Finish(&call->single_response, &call->status, call);
    } else {
      v1::AppendBatchRequest request;
      request.ParseFromString(r.serialized);
      call->batch_reader =
          stub.PrepareAsyncAppendBatch(&call->ctx, request, &cq);
      call->batch_reader->StartCall();
      call->batch_reader->Finish(&call->batch_response, &call->status, call);
    }
    ++outstanding;
  };

  // Prints every finished request at the head of the input order.
  auto print_ready = [&] {
    std::string text;
    while (next_print < outcomes.size() && outcomes[next_print].done) {
      Outcome& o = outcomes[next_print];
      const PreparedRequest& r = requests[next_print];
      for (size_t k = 0; k < o.entries.size(); ++k) {
        const v1::EntryRef& ref = o.entries[k];
        AppendAckLine(text, r.lines[k],
                      ref.event_id().empty() ? r.event_ids[k] : ref.event_id(),
                      ref);
      }
      std::vector<v1::EntryRef>().swap(o.entries);
      ++next_print;
    }
    if (!text.empty()) out.write(text.data(), text.size()).flush();
  };

  while (true) {
    while (!retries.empty() && retries.begin()->first <= Clock::now()) {
      const auto [i, attempt] = retries.begin()->second;
      retries.erase(retries.begin());
      start_call(i, attempt);
    }
    while (!stop && next_start < requests.size() &&
           outstanding + retries.size() < in_flight) {
      start_call(next_start++, 0);
    }
    if (outstanding == 0 && retries.empty()) break;
    void* tag = nullptr;
    bool ok = false;
    Clock::time_point wake = next_progress;
    if (!retries.empty()) wake = std::min(wake, retries.begin()->first);
    const auto deadline =
        std::chrono::system_clock::now() + (wake - Clock::now());
    grpc::CompletionQueue::NextStatus st = cq.AsyncNext(&tag, &ok, deadline);
    if (st == grpc::CompletionQueue::SHUTDOWN) break;
    if (progress && Clock::now() >= next_progress) {
      const double s = SecondsSince(start);
      err << "append: " << stats.acknowledged << "/" << stats.events
          << " events acknowledged, " << Rate(stats.acknowledged, s)
          << " events/s\n"
          << std::flush;
      next_progress += std::chrono::seconds(1);
    }
    if (st == grpc::CompletionQueue::TIMEOUT) continue;
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    --outstanding;
    if (Retryable(call->status) && call->attempt + 1 < kMaxAttempts) {
      retries.emplace(Clock::now() + RetryAfter(call->ctx),
                      std::make_pair(call->request, call->attempt + 1));
      continue;
    }
    std::string().swap(requests[call->request].serialized);  // done: free it
    Outcome o = Finish(*call, requests[call->request], single);
    if (o.status.ok()) {
      stats.acknowledged += o.entries.size();
      for (const v1::EntryRef& ref : o.entries)
        stats.duplicates += ref.duplicate();
    } else {
      ++stats.failed_requests;
      stop = true;
    }
    outcomes[call->request] = std::move(o);
    print_ready();
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  // Requests never started stay "not done"; print what finished after them.
  for (size_t i = next_print; i < outcomes.size(); ++i) {
    if (!outcomes[i].done) outcomes[i].done = true;
  }
  print_ready();
  for (const Outcome& o : outcomes) {
    if (!o.status.ok()) {
      stats.first_error = o.status;
      break;
    }
  }
  return stats;
}

absl::Status RunAppend(const ConnectionOptions& conn,
                       const AppendOptions& options, std::ostream& out,
                       std::ostream& err) {
  const Clock::time_point start = Clock::now();
  if (options.in_flight == 0) {
    return absl::InvalidArgumentError("--in-flight must be at least 1");
  }
  absl::StatusOr<crypto::NoteSigner> signer = LoadEmitterKey(options.key);
  if (!signer.ok()) return signer.status();
  absl::StatusOr<std::vector<PreparedRequest>> requests;
  {
    EventsText events;
    if (absl::Status s = events.Open(options.events_file); !s.ok()) return s;
    // Asked only for lines with payload_plaintext.
    NodePayloadKeys payload_keys(conn);
    requests = PrepareRequests(events.text(), signer->key(), options.batch_size,
                               options.single, options.threads, &payload_keys);
  }
  if (!requests.ok()) return requests.status();
  const double prepare_seconds = SecondsSince(start);

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      Connect(ToLeader(conn));
  if (!channel.ok()) return channel.status();
  std::unique_ptr<v1::Ingest::Stub> stub = v1::Ingest::NewStub(*channel);
  AppendStats stats =
      SendRequests(*stub, *std::move(requests), options.single,
                   options.in_flight, conn, out, err, options.progress);

  const double seconds = SecondsSince(start);
  err << "append: " << stats.acknowledged << " events acknowledged in "
      << FormatSeconds(seconds) << " s, " << Rate(stats.acknowledged, seconds)
      << " events/s (" << stats.events << " events read, " << stats.duplicates
      << " duplicates, " << stats.failed_requests
      << " failed requests; prepared and signed in "
      << FormatSeconds(prepare_seconds) << " s)\n"
      << std::flush;
  if (!stats.first_error.ok() && stats.failed_requests > 1) {
    return Annotate(stats.first_error,
                    StrCat(stats.failed_requests, " requests failed; first"));
  }
  return stats.first_error;
}

}  // namespace ledger::ctl
