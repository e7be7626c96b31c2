// SPDX-License-Identifier: Apache-2.0
// File and directory names of the spool, and the shard-count change rule.
// Names are parsed strictly so stray files (.corrupt copies, editors' temp
// files) are never mistaken for segments.
#include "tollgate/spool/layout.hpp"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "file_io.hpp"

namespace tg::spool {
namespace {

constexpr std::string_view seg_prefix = "segment-";
constexpr std::string_view seg_suffix = ".log";
constexpr std::string_view dir_prefix = "shard-";

// Calls fn(name) for each entry of dir except "." and "..".
template <class F>
result<bool, error> each_entry(const std::string& dir, F&& fn) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return detail::io_error("opendir", errno);
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(d);
    if (e == nullptr) break;
    const std::string_view name(e->d_name);
    if (name != "." && name != "..") fn(name);
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return detail::io_error("readdir", err);
  return true;
}

}  // namespace

std::string shard_dir_name(std::uint32_t shard) { return "shard-" + std::to_string(shard); }

std::string segment_file_name(std::uint64_t segment_seq) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "segment-%016llx.log", static_cast<unsigned long long>(segment_seq));
  return buf;
}

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != seg_prefix.size() + 16 + seg_suffix.size()) return std::nullopt;
  if (!name.starts_with(seg_prefix) || !name.ends_with(seg_suffix)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : name.substr(seg_prefix.size(), 16)) {
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else return std::nullopt;
    v = v << 4 | d;
  }
  return v;
}

std::optional<std::uint32_t> parse_shard_dir_name(std::string_view name) {
  if (!name.starts_with(dir_prefix)) return std::nullopt;
  const std::string_view digits = name.substr(dir_prefix.size());
  // Canonical decimal only ("shard-01" is not shard 1), at most 10 digits.
  if (digits.empty() || digits.size() > 10 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

result<std::vector<segment_file>, error> list_segments(const std::string& dir) {
  std::vector<segment_file> out;
  auto r = each_entry(dir, [&](std::string_view name) {
    if (auto seq = parse_segment_file_name(name)) out.push_back({*seq, dir + "/" + std::string(name)});
  });
  if (!r) return unexpected<error>{r.error()};
  std::sort(out.begin(), out.end(), [](const segment_file& a, const segment_file& b) { return a.seq < b.seq; });
  return out;
}

result<std::vector<std::uint32_t>, error> list_shard_dirs(const std::string& spool_dir) {
  std::vector<std::uint32_t> out;
  auto r = each_entry(spool_dir, [&](std::string_view name) {
    if (auto id = parse_shard_dir_name(name)) out.push_back(*id);
  });
  if (!r) {
    if (r.error().sys == ENOENT) return out;
    return unexpected<error>{r.error()};
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::vector<std::uint32_t>> assign_dirs(const std::vector<std::uint32_t>& old_shard_ids,
                                                    std::uint32_t new_shards) {
  std::vector<std::vector<std::uint32_t>> out(new_shards);
  if (new_shards == 0) return out;
  for (std::uint32_t id : old_shard_ids) out[id % new_shards].push_back(id);
  for (auto& v : out) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  return out;
}

}  // namespace tg::spool
