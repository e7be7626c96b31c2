// SPDX-License-Identifier: Apache-2.0
// Event bodies are written by hand into the caller's buffer (no JSON library,
// no allocation once the buffer has grown): at 100 events per request the
// generator must not be what limits the load. Random choices use splitmix64,
// which is fast and good enough to pick subjects and paths.
#include "event_generator.hpp"

#include <sys/random.h>

#include <array>
#include <charconv>
#include <stdexcept>

#include "tollgate/base/clock.hpp"

namespace tg::load {
namespace {

constexpr std::array<std::string_view, 2> methods = {"GET", "POST"};
constexpr std::array<std::string_view, 5> paths = {"/", "/about", "/contact", "/pricing", "/docs"};
constexpr std::array<std::string_view, 4> regions = {"us-east-1", "us-west-1", "us-east-2", "us-west-2"};
constexpr std::array<char, 4> zone_suffixes = {'a', 'b', 'c', 'd'};
constexpr std::uint64_t max_duration_ms = 1000;  // config.yaml: random_int(max: 1000)

void append_hex(std::string& out, std::uint64_t v, unsigned digits) {
  static constexpr char hex[] = "0123456789abcdef";
  char buf[16];
  for (unsigned i = 0; i < digits; ++i) buf[digits - 1 - i] = hex[(v >> (4 * i)) & 0xF];
  out.append(buf, digits);
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

std::uint64_t random_u64() {
  std::uint64_t v = 0;
  if (::getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) throw std::runtime_error("getrandom failed");
  return v;
}

event_generator::event_generator(const generator_options& opts)
    : opts_(opts), rng_(opts.seed ^ (static_cast<std::uint64_t>(opts.stream) << 48)) {
  if (opts_.max_subjects == 0) opts_.max_subjects = 1;
}

std::uint64_t event_generator::next_random() noexcept {
  std::uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// "rrrrrrrr-rrrr-rrrr-ssss-cccccccccccc": run id, stream, counter.
void event_generator::append_id(std::string& out) {
  append_hex(out, opts_.run_id >> 32, 8);
  out += '-';
  append_hex(out, (opts_.run_id >> 16) & 0xFFFF, 4);
  out += '-';
  append_hex(out, opts_.run_id & 0xFFFF, 4);
  out += '-';
  append_hex(out, opts_.stream, 4);
  out += '-';
  append_hex(out, counter_ % max_events_per_stream, 12);
  ++counter_;
}

void event_generator::append_event(std::string& out, const timespec& now) {
  timespec t = now;
  if (opts_.times == time_mode::past_days) {
    const std::uint64_t span = static_cast<std::uint64_t>(past_span_s - past_min_offset_s);
    t.tv_sec = now.tv_sec - past_span_s + past_min_offset_s + static_cast<std::int64_t>(next_random() % (span + 1));
  }
  char stamp[rfc3339_millis_len];
  format_rfc3339_millis(t, stamp);
  const std::uint64_t r = next_random();
  const std::string_view region = regions[(r >> 8) % regions.size()];

  out += R"({"id":")";
  append_id(out);
  out += R"(","specversion":"1.0","type":"api-calls","source":"api-gateway","subject":"customer-)";
  append_uint(out, r % opts_.max_subjects);
  out += R"(","time":")";
  out.append(stamp, sizeof stamp);
  out += R"(","data":{"method":")";
  out += methods[(r >> 16) % methods.size()];
  out += R"(","path":")";
  out += paths[(r >> 24) % paths.size()];
  out += R"(","region":")";
  out += region;
  out += R"(","zone":")";
  out += region;
  out += zone_suffixes[(r >> 32) % zone_suffixes.size()];
  out += R"(","duration_ms":)";
  append_uint(out, (r >> 40) % (max_duration_ms + 1));
  out += "}}";
}

void event_generator::append_body(std::string& out, unsigned k, const timespec& now) {
  if (k == 1) {
    append_event(out, now);
    return;
  }
  out += '[';
  for (unsigned i = 0; i < k; ++i) {
    if (i != 0) out += ',';
    append_event(out, now);
  }
  out += ']';
}

}  // namespace tg::load
