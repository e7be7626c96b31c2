// SPDX-License-Identifier: Apache-2.0
// Test helper for status_page_test.py: prints the page exactly as the binary
// serves it (--page), or N status.json snapshots (one per line, a second
// apart) rendered by the real renderer from counters that move at known
// rates: shard 0 takes 700..1300 events/s (a wave, so its sparkline has a
// shape), delivers 900/s with batches of 20 ms, 25% buffer fill and a 1.5 MiB
// spool; shard 1 takes 50/s, backs off, gets 503s from step 2 on and has a
// 95% full buffer.
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/output/http/forwarder.hpp"
#include "tollgate/server/status.hpp"

using namespace tg;
using namespace tg::server;

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--page") {
    const std::string_view page = status_page_html();
    std::fwrite(page.data(), 1, page.size(), stdout);
    return 0;
  }
  const int steps = argc == 2 ? std::atoi(argv[1]) : 0;
  if (steps < 2 || steps > 100) {
    std::fprintf(stderr, "usage: status_fixture --page | STEPS (2..100)\n");
    return 2;
  }
  // The same objects the gateway sets up: front-door probes, rings, the
  // HTTP output's backend (its probes) and the spool's probes.
  probe a, b;
  ring::event_ring ra(4096), rb(4096);
  upstream::options o;
  o.url = "http://127.0.0.1:9";
  o.dead_letter_path = "/dev/null";
  upstream::backend http(o);
  http.prepare(2);
  upstream::probe& ua = http.probe_of(0);
  upstream::probe& ub = http.probe_of(1);
  spool::probe sa, sb;
  process_state p;
  p.probes = {&a, &b};
  p.rings = {&ra, &rb};
  p.spool_probes = {&sa, &sb};
  p.output = &http;
  // About a quarter and nine tenths full (one record each).
  if (ra.try_reserve(1000) != nullptr) ra.commit();
  if (rb.try_reserve(3700) != nullptr) rb.commit();
  a.connections_open.set(12);
  ua.connections_open.set(3);
  sa.bytes.set(1536 * 1024);
  sa.segments.set(2);
  b.connections_open.set(1);
  ub.backing_off.set(1);
  const double t0 = 1700000000.0;
  p.start_time_seconds = t0 - 3725;
  static constexpr int wave[] = {1000, 1150, 1260, 1300, 1260, 1150, 1000, 850, 740, 700, 740, 850};
  for (int k = 0; k < steps; ++k) {
    a.events_accepted.add(static_cast<std::uint64_t>(wave[k % std::size(wave)]));
    ua.events_delivered.add(900);
    for (int i = 0; i < 100; ++i) ua.latency_seconds.observe(0.02);
    ua.outcomes[metrics::status_index(204)].add(45);
    b.events_accepted.add(50);
    if (k >= 2) ub.outcomes[metrics::status_index(503)].add(5);
    if (k == 3) ua.events_dead_lettered.add(2);
    std::string out;
    render_status_json(p, {t0 + k, "9.8.7", true}, out);
    std::printf("%s\n", out.c_str());
  }
  return 0;
}
