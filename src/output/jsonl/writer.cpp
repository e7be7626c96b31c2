// SPDX-License-Identifier: Apache-2.0
// JSON Lines output thread. It polls the rings, sleeping 2 to 10 ms between
// small harvests: cheaper than a wake-up syscall per commit on the reactor's
// hot path, fewer context switches on a CPU the shards share, and each writev
// carries more events. Latency to a file or stdout is not what anybody
// measures; at 100k events/s a 10 ms pause holds about 3 MB of a 32 MiB ring.
#include "tollgate/output/jsonl/writer.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/metrics/exposition.hpp"
#include "tollgate/metrics/json.hpp"

namespace tg::output {
namespace {
constexpr int max_iov = 1024;  // IOV_MAX on Linux
char newline[] = "\n";

// JSON Lines needs one event per line. Valid JSON holds a raw CR or LF only as
// white space between tokens (inside strings they must be escaped), so turning
// them into spaces changes no value. Done here, on the output thread, so the
// ring (and any upstream) keeps the bytes exactly as the client sent them; the
// consumer owns a record's bytes until it releases them.
void flatten_line_breaks(std::span<const char> rec) noexcept {
  char* p = const_cast<char*>(rec.data());
  char* end = p + rec.size();
  for (char* q = p; (q = static_cast<char*>(std::memchr(q, '\n', static_cast<std::size_t>(end - q)))) != nullptr;) *q++ = ' ';
  for (char* q = p; (q = static_cast<char*>(std::memchr(q, '\r', static_cast<std::size_t>(end - q)))) != nullptr;) *q++ = ' ';
}
}  // namespace

jsonl_writer::jsonl_writer(const jsonl_options& opts, std::vector<ring::event_ring*> rings, jsonl_probe& counters)
    : opts_(opts), rings_(std::move(rings)), counters_(counters) {
  if (opts_.target == "stdout") {
    fd_ = STDOUT_FILENO;
    describe_ = "stdout";
  } else if (opts_.target.rfind("file:", 0) == 0 && opts_.target.size() > 5) {
    describe_ = opts_.target.substr(5);
    // O_NONBLOCK matters for FIFOs: with poll() in write_all it bounds every
    // wait, so a reader that stops cannot hold shutdown past its deadline.
    fd_ = ::open(describe_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open output file " + describe_ + ": " + std::strerror(errno));
    owns_fd_ = true;
  } else {
    throw std::runtime_error("unknown output \"" + opts_.target + "\" (expected stdout or file:PATH)");
  }
}

jsonl_writer::~jsonl_writer() {
  if (thread_.joinable()) stop(monotonic_ms());
  if (owns_fd_) ::close(fd_);
}

void jsonl_writer::start() { thread_ = std::thread([this] { run(); }); }

std::uint64_t jsonl_writer::stop(std::uint64_t deadline_ms) {
  deadline_ms_.store(deadline_ms, std::memory_order_relaxed);
  stopping_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  if (owns_fd_) ::fdatasync(fd_);
  return count_waiting(rings_);
}

void jsonl_writer::run() {
  constexpr unsigned min_idle_us = 2000;
  constexpr unsigned max_idle_us = 10000;
  unsigned idle_us = min_idle_us;
  for (;;) {
    // Read the flag before draining: everything committed before stop() was
    // called is then seen by this drain or the next.
    const bool stopping = stopping_.load(std::memory_order_acquire);
    const std::size_t n = drain_once();
    if (n > 0) {
      idle_us = min_idle_us;
      if (stopping && monotonic_ms() >= deadline_ms_.load(std::memory_order_relaxed)) return;
      // A small harvest: let events accumulate so the next writev carries more.
      if (n < max_iov / 2 && !stopping) ::usleep(min_idle_us);
      continue;
    }
    if (stopping) {
      bool all_empty = true;
      for (auto* r : rings_) all_empty = all_empty && r->empty();
      if (all_empty || monotonic_ms() >= deadline_ms_.load(std::memory_order_relaxed)) return;
    }
    ::usleep(idle_us);
    if (idle_us < max_idle_us) idle_us *= 2;
  }
}

std::size_t jsonl_writer::drain_once() {
  std::size_t written = 0;
  iovec iov[max_iov];
  for (auto* r : rings_) {
    for (;;) {
      int count = 0;
      std::size_t events = 0;
      std::size_t bytes = 0;
      std::uint64_t pos = r->read_begin();
      ring::event_ring::record rec;
      while (count + 2 <= max_iov && r->read(pos, rec)) {
        flatten_line_breaks(rec.bytes);
        iov[count++] = {const_cast<char*>(rec.bytes.data()), rec.bytes.size()};
        iov[count++] = {newline, 1};
        bytes += rec.bytes.size() + 1;
        pos = rec.next;
        ++events;
      }
      if (events == 0) break;
      if (!write_all(iov, count)) {
        counters_.write_errors.add();
        ::usleep(opts_.retry_ms * 1000);
        return written;
      }
      r->release(pos);
      if (failing_since_ != 0) {
        log::info("output writes succeed again", {{"output", describe_}, {"failed_for_ms", monotonic_ms() - failing_since_}});
        failing_since_ = 0;
      }
      counters_.events_written.add(events);
      counters_.bytes_written.add(bytes);
      written += events;
      if (count + 2 <= max_iov) break;  // ring drained for now
    }
  }
  return written;
}

bool jsonl_writer::write_all(iovec* iov, int count) {
  while (count > 0) {
    // Wait for room with a bound, so a reader that stopped reading (a full
    // pipe or FIFO) cannot hold shutdown past --drain-timeout-ms.
    pollfd p{fd_, POLLOUT, 0};
    const int ready = ::poll(&p, 1, 100);
    if (ready == 0 || (ready < 0 && errno == EINTR)) {
      if (stopping_.load(std::memory_order_acquire) && monotonic_ms() >= deadline_ms_.load(std::memory_order_relaxed)) {
        return false;
      }
      continue;
    }
    ssize_t n = ::writev(fd_, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) continue;  // poll() above waits for room
      // One line per failure streak (and then every 10 s), not one per retry.
      const std::uint64_t now = monotonic_ms();
      if (failing_since_ == 0 || now - last_log_ms_ >= 10000) {
        log::error("output write failed; events are kept and written again",
                   {{"output", describe_}, {"error", std::strerror(errno)},
                    {"failed_writes", counters_.write_errors.get() + 1}});
        last_log_ms_ = now;
        if (failing_since_ == 0) failing_since_ = now;
      }
      // Whatever part was written will be written again: at-least-once.
      return false;
    }
    std::size_t done = static_cast<std::size_t>(n);
    while (count > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + done;
      iov->iov_len -= done;
    }
  }
  return true;
}

std::uint64_t count_waiting(const std::vector<ring::event_ring*>& rings) {
  std::uint64_t n = 0;
  for (auto* r : rings) {
    std::uint64_t pos = r->read_begin();
    ring::event_ring::record rec;
    while (r->read(pos, rec)) {
      ++n;
      pos = rec.next;
    }
  }
  return n;
}

// The target opens here, at start-up, so a bad one fails the start; the rings
// come at start().
jsonl_backend::jsonl_backend(const jsonl_options& opts) : writer_(opts, {}, probe_) {}

jsonl_backend::~jsonl_backend() = default;

void jsonl_backend::start(std::span<ring::event_ring* const> rings) {
  writer_.use_rings(std::vector<ring::event_ring*>(rings.begin(), rings.end()));
  writer_.start();
}

std::uint64_t jsonl_backend::stop(std::uint64_t deadline_ms) { return writer_.stop(deadline_ms); }

void jsonl_backend::render_metrics(std::string& out) const {
  metrics::head(out, "tollgate_output_events_total", "counter", "Events written by the output (stdout / file).");
  metrics::sample(out, "tollgate_output_events_total", {}, probe_.events_written.get());
  metrics::head(out, "tollgate_output_bytes_total", "counter", "Bytes written by the output (stdout / file).");
  metrics::sample(out, "tollgate_output_bytes_total", {}, probe_.bytes_written.get());
  metrics::head(out, "tollgate_output_write_errors_total", "counter",
                "Failed writes by the output; the events stay in the ring and are written again.");
  metrics::sample(out, "tollgate_output_write_errors_total", {}, probe_.write_errors.get());
}

void jsonl_backend::render_status_output(std::string& out) const {
  using namespace metrics::json;
  out += '{';
  members(out)
      .num("events", probe_.events_written.get())
      .num("bytes", probe_.bytes_written.get())
      .num("write_errors", probe_.write_errors.get());
  out += '}';
}

}  // namespace tg::output
