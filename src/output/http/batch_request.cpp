// SPDX-License-Identifier: Apache-2.0
// Batch request assembly. The body size is known before the head is written
// (measured by the batcher, or by a first pass here), so a joined request is
// sized once and its events copied once; pieces leave the events where they
// are. Either way the events' bytes are never re-encoded.
#include "tollgate/output/http/batch_request.hpp"

#include <charconv>

namespace tg::upstream {
namespace {
// Separators live in static storage, so a piece may point at them for as long
// as a send needs.
constexpr char comma[] = ",";
constexpr char close_bracket[] = "]";

iovec piece(const char* p, std::size_t n) noexcept { return {const_cast<char*>(p), n}; }
}  // namespace

// Writes the head, up to and with the body's "[", into head_; returns the
// body's size.
std::size_t gather_request::start(const ring::event_ring& events, std::uint64_t begin, std::uint64_t end,
                                  std::string_view head_prefix, std::size_t body_bytes) {
  ring::event_ring::record rec;
  std::size_t body = body_bytes;
  if (body == 0) {
    body = 1;  // "[" + (event ",")* with the last "," becoming "]"
    std::uint32_t n = 0;
    for (std::uint64_t pos = begin; pos != end && events.read(pos, rec); pos = rec.next) {
      body += rec.bytes.size() + 1;
      ++n;
    }
    if (n == 0) body = 2;
  }
  char length[24];
  const auto lr = std::to_chars(length, length + sizeof length, body);
  head_.clear();
  head_.append(head_prefix);
  head_.append(length, lr.ptr);
  head_.append("\r\n\r\n[");
  iov_.clear();
  cur_ = 0;
  total_ = left_ = head_.size() - 1 + body;  // the head's "[" is the body's first byte
  return body;
}

std::uint32_t gather_request::build(const ring::event_ring& events, std::uint64_t begin, std::uint64_t end,
                                    std::string_view head_prefix, std::size_t body_bytes) {
  start(events, begin, end, head_prefix, body_bytes);
  iov_.push_back(piece(head_.data(), head_.size()));
  ring::event_ring::record rec;
  std::uint32_t n = 0;
  for (std::uint64_t pos = begin; pos != end && events.read(pos, rec); pos = rec.next) {
    if (n > 0) iov_.push_back(piece(comma, 1));
    iov_.push_back(piece(rec.bytes.data(), rec.bytes.size()));
    ++n;
  }
  iov_.push_back(piece(close_bracket, 1));
  return n;
}

std::uint32_t gather_request::build_joined(const ring::event_ring& events, std::uint64_t begin, std::uint64_t end,
                                           std::string_view head_prefix, std::size_t body_bytes) {
  const std::size_t body = start(events, begin, end, head_prefix, body_bytes);
  head_.reserve(head_.size() - 1 + body);  // sized once: the events are copied once
  ring::event_ring::record rec;
  std::uint32_t n = 0;
  for (std::uint64_t pos = begin; pos != end && events.read(pos, rec); pos = rec.next) {
    if (n > 0) head_.push_back(',');
    head_.append(rec.bytes.data(), rec.bytes.size());
    ++n;
  }
  head_.push_back(']');
  iov_.push_back(piece(head_.data(), head_.size()));
  return n;
}

void gather_request::advance(std::size_t n) noexcept {
  left_ -= n;
  while (n > 0) {
    iovec& v = iov_[cur_];
    if (n < v.iov_len) {
      v.iov_base = static_cast<char*>(v.iov_base) + n;
      v.iov_len -= n;
      return;
    }
    n -= v.iov_len;
    ++cur_;
  }
  // Skip empty pieces (an empty record), so rest() starts at a byte to send.
  while (cur_ < iov_.size() && iov_[cur_].iov_len == 0) ++cur_;
}

void gather_request::clear() noexcept {
  iov_.clear();
  head_.clear();
  cur_ = left_ = total_ = 0;
}

}  // namespace tg::upstream
