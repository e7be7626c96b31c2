// SPDX-License-Identifier: Apache-2.0
// tollgate-load's main: parse the command line, start the load threads, print
// progress on a terminal, turn SIGINT/SIGTERM into "stop sending, drain,
// report", merge the threads' stats and print the report. Exit status: 0 done,
// 1 target unreachable (or no io_uring), no 2xx answer, or more non-2xx than
// --max-error-rate allows; 2 usage error.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "client.hpp"
#include "event_generator.hpp"
#include "options.hpp"
#include "rate_scheduler.hpp"
#include "report.hpp"
#include "tollgate_config.h"

namespace {

using namespace tg::load;

constexpr long poll_interval_ns = 100'000'000;     // how often main looks for finished threads
constexpr std::uint64_t progress_interval_ns = 1'000'000'000;

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

stats merge_snapshots(std::vector<std::unique_ptr<progress_slot>>& slots) {
  stats total;
  for (auto& slot : slots) {
    std::lock_guard<std::mutex> lock(slot->m);
    total.merge(slot->snapshot);
  }
  return total;
}

int run(const options& opts) {
  // Signals are taken synchronously by this thread (sigtimedwait), so the
  // load threads never see them and no handler or global flag is needed.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  run_control rc(opts, random_u64(), random_u64());
  const bool progress = ::isatty(STDERR_FILENO) == 1;
  std::vector<std::unique_ptr<progress_slot>> slots;
  std::vector<worker_result> results(opts.threads);
  std::atomic<unsigned> finished{0};
  std::vector<std::thread> threads;
  // Every slot exists before the first thread starts: a thread that read
  // slots[i] while a later push_back moved the vector would read freed memory.
  for (unsigned i = 0; i < opts.threads; ++i) slots.push_back(progress ? std::make_unique<progress_slot>() : nullptr);
  for (unsigned i = 0; i < opts.threads; ++i) {
    threads.emplace_back([&rc, &results, &finished, slot = slots[i].get(), i] {
      run_worker(rc, i, slot, results[i]);
      finished.fetch_add(1);
    });
  }

  stats before;
  std::uint64_t last_progress = 0;
  bool progress_shown = false;
  while (finished.load() < opts.threads) {
    timespec wait{0, poll_interval_ns};
    const int sig = sigtimedwait(&stop_signals, nullptr, &wait);
    if ((sig == SIGINT || sig == SIGTERM) && !rc.stop.load()) {
      rc.stop_ns.store(now_ns());
      rc.stop.store(true);
    }
    const std::uint64_t start = rc.start_ns.load();
    if (!progress || start == 0) continue;
    const std::uint64_t now = now_ns();
    if (last_progress == 0) last_progress = start;
    if (now - last_progress < progress_interval_ns) continue;
    stats current = merge_snapshots(slots);
    const std::string line = render_progress(static_cast<double>(now - start) / 1e9, current, before,
                                             static_cast<double>(now - last_progress) / 1e9);
    write_all(STDERR_FILENO, "\r" + line + "\033[K");
    progress_shown = true;
    before = std::move(current);
    last_progress = now;
  }
  for (std::thread& t : threads) t.join();
  if (progress_shown) write_all(STDERR_FILENO, "\n");

  for (const worker_result& r : results) {
    if (!r.fatal.empty()) {
      std::fprintf(stderr, "tollgate-load: %s\n", r.fatal.c_str());
      return 1;
    }
  }
  stats total;
  std::uint64_t finished_ns = 0;
  for (const worker_result& r : results) {
    total.merge(r.st);
    if (r.finished_ns > finished_ns) finished_ns = r.finished_ns;
  }
  if (rc.unreachable.load() || total.connects == 0) {
    const int err = rc.connect_errno.load();
    std::fprintf(stderr, "tollgate-load: could not connect to %s: %s\n", opts.where.text.c_str(),
                 err != 0 ? std::strerror(err) : "no connection succeeded");
    return 1;
  }

  const std::uint64_t start = rc.start_ns.load();
  if (opts.rate > 0) {
    // Requests the schedule wanted sent before the end that never left.
    const rate_scheduler sched(opts.rate, opts.connections, start);
    std::uint64_t end = opts.duration_s > 0 ? start + static_cast<std::uint64_t>(opts.duration_s * 1e9) : UINT64_MAX;
    if (rc.stop.load() && rc.stop_ns.load() < end) end = rc.stop_ns.load();
    std::uint64_t due = end == UINT64_MAX ? total.sent : sched.due_before(end);
    if (opts.requests != 0 && due > opts.requests) due = opts.requests;
    total.unsent = due > total.sent ? due - total.sent : 0;
  }
  const report_input in{opts, total, finished_ns > start ? static_cast<double>(finished_ns - start) / 1e9 : 0.0};
  write_all(STDOUT_FILENO, opts.json ? render_json(in) : render_text(in));
  if (const std::string why = run_failure(opts, total); !why.empty()) {
    std::fprintf(stderr, "tollgate-load: %s\n", why.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  try {
    const parse_outcome p = parse_options(args);
    if (p.status == parse_status::help) {
      write_all(STDOUT_FILENO, help_text());
      return 0;
    }
    if (p.status == parse_status::version) {
      write_all(STDOUT_FILENO, "tollgate-load " TOLLGATE_VERSION "\n");
      return 0;
    }
    if (p.status == parse_status::usage_error) {
      std::fprintf(stderr, "tollgate-load: %s\n", p.message.c_str());
      return 2;
    }
    return run(p.opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tollgate-load: %s\n", e.what());
    return 1;
  }
}
