// SPDX-License-Identifier: Apache-2.0
// Where the spool's files live and who replays which directory:
//   <spool-dir>/shard-<id>/segment-<16 hex digits>.log   segments, by sequence
//   <spool-dir>/shard-<id>/acked                           the acknowledged position
// Each directory belongs to the shard that wrote it; after a restart with a
// different --shards, assign_dirs() says which new shard replays each old one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/base/result.hpp"
#include "tollgate/spool/error.hpp"

namespace tg::spool {

std::string shard_dir_name(std::uint32_t shard);           // "shard-3"
std::string segment_file_name(std::uint64_t segment_seq);  // "segment-000000000000002a.log"
// The sequence in a segment file name; empty for any other name (".corrupt"
// copies, temporary files, upper-case hex, wrong length).
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name);
// The shard id in a "shard-<decimal>" directory name; empty otherwise.
std::optional<std::uint32_t> parse_shard_dir_name(std::string_view name);

struct segment_file {
  std::uint64_t seq = 0;
  std::string path;  // dir + "/" + name
};

// The segments in `dir`, oldest first (by the sequence in the name, not by
// directory order or mtime).
result<std::vector<segment_file>, error> list_segments(const std::string& dir);
// The shard ids with a directory under `spool_dir`, ascending. A missing
// spool_dir is an empty list (first start).
result<std::vector<std::uint32_t>, error> list_shard_dirs(const std::string& spool_dir);

// For each new shard (index), the old shard directories it replays, ascending:
// old id `i` goes to shard i % new_shards. Sequence numbers belong to the
// writing shard, so each directory is replayed on its own, in its own order.
// new_shards must be > 0.
std::vector<std::vector<std::uint32_t>> assign_dirs(const std::vector<std::uint32_t>& old_shard_ids,
                                                    std::uint32_t new_shards);

}  // namespace tg::spool
