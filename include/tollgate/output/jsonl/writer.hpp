// SPDX-License-Identifier: Apache-2.0
// The stdout / file output: one thread that drains every shard's event ring and
// writes the events as JSON Lines (one event per line, bytes as accepted).
//
// It gather-writes straight from the rings (writev of record, "\n", record, …),
// so events are never copied on the way out, and releases ring space only after
// the write succeeded: a failing output (full disk, closed pipe) keeps the events
// in the ring, counts the error and tries again, and the full ring pushes back on
// the clients. jsonl_backend is this output behind the output seam.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <memory>
#include <span>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tollgate/metrics/counter.hpp"
#include "tollgate/output/output.hpp"
#include "tollgate/ring/event_ring.hpp"

namespace tg::output {

// Written by the output thread, read on scrape.
struct jsonl_probe {
  metrics::counter events_written;
  metrics::counter bytes_written;
  metrics::counter write_errors;
};

struct jsonl_options {
  std::string target = "stdout";  // "stdout" or "file:PATH" (appended to, created 0644)
  unsigned retry_ms = 100;        // pause after a failed write before trying again
};

class jsonl_writer {
 public:
  // Opens the target; throws std::runtime_error when it cannot (start-up only).
  jsonl_writer(const jsonl_options& opts, std::vector<ring::event_ring*> rings, jsonl_probe& counters);
  ~jsonl_writer();
  jsonl_writer(const jsonl_writer&) = delete;
  jsonl_writer& operator=(const jsonl_writer&) = delete;

  // The rings to drain, when they were not known at construction; before start().
  void use_rings(std::vector<ring::event_ring*> rings) { rings_ = std::move(rings); }
  void start();
  // Stops once the rings are empty (call after the producers stopped), or at
  // deadline_ms (monotonic) if the output cannot keep up or keeps failing.
  // Returns the number of events left unwritten.
  std::uint64_t stop(std::uint64_t deadline_ms);

  // "stdout" or the file path, for logs.
  const std::string& describe() const { return describe_; }

 private:
  void run();
  // Writes what the rings hold now; returns events written (0: nothing to do or failed).
  std::size_t drain_once();
  bool write_all(::iovec* iov, int count);

  jsonl_options opts_;
  std::vector<ring::event_ring*> rings_;
  jsonl_probe& counters_;
  std::string describe_;
  std::uint64_t failing_since_ = 0;  // monotonic ms of the first failed write of a streak; 0 when healthy
  std::uint64_t last_log_ms_ = 0;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> deadline_ms_{0};
  std::thread thread_;
};

// Events still in the rings (walks them; for the shutdown report).
std::uint64_t count_waiting(const std::vector<ring::event_ring*>& rings);

// The jsonl output behind the seam: no shard outputs, one writer thread.
class jsonl_backend final : public backend {
 public:
  // Opens the target; throws std::runtime_error when it cannot.
  explicit jsonl_backend(const jsonl_options& opts);
  ~jsonl_backend() override;

  std::string describe() const override { return writer_.describe(); }
  void prepare(unsigned shards) override { (void)shards; }
  std::unique_ptr<shard_output> make_shard(unsigned, reactor::uring&, ring::event_ring&) override { return nullptr; }
  bool confirms_delivery() const override { return false; }
  void start(std::span<ring::event_ring* const> rings) override;
  std::uint64_t stop(std::uint64_t deadline_ms) override;
  void render_metrics(std::string& out) const override;
  void render_status_output(std::string& out) const override;

 private:
  jsonl_probe probe_;
  jsonl_writer writer_;
};

}  // namespace tg::output
