// SPDX-License-Identifier: Apache-2.0
// Counting accepted events and rendering /stats.
#include "stats.hpp"

namespace tg::sink {

std::string id_key(std::string_view source, std::string_view id) {
  std::string k;
  k.reserve(source.size() + 1 + id.size());
  k.append(source).push_back('\x1f');
  k.append(id);
  return k;
}

void stats::accept(const std::vector<std::string>& keys, std::uint64_t now_ms) {
  accepted_requests.fetch_add(1, std::memory_order_relaxed);
  if (keys.empty()) return;  // an empty batch: a request, no events
  std::lock_guard<std::mutex> lock(m_);
  for (const std::string& k : keys) {
    if (!seen_.insert(k).second) ++duplicates_;
  }
  events_ += keys.size();
  if (first_event_ms_ == 0) first_event_ms_ = now_ms;
  if (now_ms > last_event_ms_) last_event_ms_ = now_ms;
}

std::string stats::json() {
  auto n = [](const std::atomic<std::uint64_t>& a) { return std::to_string(a.load(std::memory_order_relaxed)); };
  auto ms = [](std::uint64_t v) { return v == 0 ? std::string("null") : std::to_string(v); };
  std::string out = "{\"requests\":" + n(requests) + ",\"accepted_requests\":" + n(accepted_requests);
  {
    std::lock_guard<std::mutex> lock(m_);
    out += ",\"events\":" + std::to_string(events_) + ",\"distinct\":" + std::to_string(seen_.size()) +
           ",\"duplicates\":" + std::to_string(duplicates_);
    out += ",\"first_event_at\":" + ms(first_event_ms_) + ",\"last_event_at\":" + ms(last_event_ms_);
  }
  out += ",\"rejected_requests\":" + n(rejected_requests) + ",\"unauthorized\":" + n(unauthorized) +
         ",\"faults_injected\":{\"status\":" + n(fault_status) + ",\"dropped\":" + n(fault_dropped) +
         ",\"poison\":" + n(fault_poison) + "}}\n";
  return out;
}

void stats::reset() {
  for (auto* a : {&requests, &accepted_requests, &rejected_requests, &unauthorized, &fault_status, &fault_dropped,
                  &fault_poison}) {
    a->store(0, std::memory_order_relaxed);
  }
  std::lock_guard<std::mutex> lock(m_);
  seen_.clear();
  events_ = duplicates_ = first_event_ms_ = last_event_ms_ = 0;
}

}  // namespace tg::sink
