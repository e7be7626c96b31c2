// SPDX-License-Identifier: Apache-2.0
// Realistic, unique CloudEvents for load: the seed example's generator
// (shared/seed/data/config.yaml: api-calls from api-gateway, customer-N
// subjects, method/path/region/zone/duration_ms data). Ids are
// run (64 random bits) + stream (the load thread) + counter, so no two events
// of a run collide, whatever the thread count, and runs differ from each other.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace tg::load {

enum class time_mode : std::uint8_t {
  now,         // time = the wall clock when the request is built
  past_days,   // the seeder's: uniformly spread over the last three days
};

struct generator_options {
  std::uint64_t run_id = 0;     // random per run: random_run_id()
  std::uint16_t stream = 0;     // one per generator in the run (thread index)
  std::uint64_t seed = 1;       // for subjects, data and times; ids do not depend on it
  time_mode times = time_mode::now;
  std::uint32_t max_subjects = 100;  // subject = customer-N, N < max_subjects
};

// Counter bits of an id: a stream can make 2^48 events before ids repeat.
inline constexpr std::uint64_t max_events_per_stream = std::uint64_t{1} << 48;
// The seeder's spread: times between three days ago + 60 s and now.
inline constexpr std::int64_t past_span_s = 3 * 24 * 3600;
inline constexpr std::int64_t past_min_offset_s = 60;

inline constexpr std::string_view single_content_type = "application/cloudevents+json";
inline constexpr std::string_view batch_content_type = "application/cloudevents-batch+json";

// 64 bits from the kernel's random source (getrandom), for run ids and seeds.
std::uint64_t random_u64();

class event_generator {
 public:
  explicit event_generator(const generator_options& opts);

  // Appends one event object, its time taken from `now` per time_mode.
  void append_event(std::string& out, const timespec& now);
  // Appends a request body of k events: one object for k == 1, else an array.
  void append_body(std::string& out, unsigned k, const timespec& now);

  std::uint64_t generated() const noexcept { return counter_; }
  static std::string_view content_type(unsigned k) noexcept { return k == 1 ? single_content_type : batch_content_type; }

 private:
  std::uint64_t next_random() noexcept;
  void append_id(std::string& out);

  generator_options opts_;
  std::uint64_t rng_;
  std::uint64_t counter_ = 0;
};

}  // namespace tg::load
