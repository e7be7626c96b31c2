// SPDX-License-Identifier: Apache-2.0
// The load threads. Each runs its own io_uring and owns its connections
// outright (global connection i belongs to thread i % threads); threads share
// only run_control (stop flag, start time, the start barrier) and, for the
// progress line, a snapshot of their stats they publish under a mutex.
#pragma once

#include <atomic>
#include <barrier>
#include <cstdint>
#include <mutex>
#include <string>

#include "options.hpp"
#include "stats.hpp"

namespace tg::load {

// CLOCK_MONOTONIC in ns: every latency and intended time uses it.
std::uint64_t now_ns() noexcept;

struct run_control {
  run_control(const options& o, std::uint64_t run_id, std::uint64_t seed);

  // Runs once, when every thread has finished its first connects: fixes the
  // common start time, and gives up the run if not one connection succeeded.
  struct start_gate {
    run_control* rc;
    void operator()() noexcept;
  };

  const options& opts;
  std::uint64_t run_id;
  std::uint64_t seed;
  std::atomic<bool> stop{false};                // SIGINT / SIGTERM: stop sending, drain, report
  std::atomic<std::uint64_t> stop_ns{0};        // when stop was asked
  std::atomic<std::uint64_t> start_ns{0};
  std::atomic<std::uint64_t> first_connects{0}; // connections up after the connect phase
  std::atomic<int> connect_errno{0};            // the first connect failure, for the message
  std::atomic<bool> unreachable{false};
  std::barrier<start_gate> ready;
};

// A thread's stats as of its last publish (about four times a second).
struct progress_slot {
  std::mutex m;
  stats snapshot;
};

struct worker_result {
  stats st;
  std::uint64_t finished_ns = 0;
  std::string fatal;  // set when the thread could not run at all (no io_uring)
};

// Runs load thread `index` to the end of the run. noexcept: set-up failures
// are reported in result.fatal, and the thread still passes the start barrier.
void run_worker(run_control& rc, unsigned index, progress_slot* progress, worker_result& result) noexcept;

}  // namespace tg::load
