// SPDX-License-Identifier: Apache-2.0
// One shard's view of its spool on disk: the directories it replays (its own
// and, after a change of --shards, old ones assigned to it), their segments
// with the sequence numbers each holds, every directory's acknowledged
// position, and the byte total that admission checks against
// --spool-max-bytes. Plain code over files: start-up recovery (blocking, on
// the main thread before the shard starts), retention (delete delivered
// segments) and persisting positions (on the shard's tick). No io_uring: the
// driver (driver.hpp) owns the asynchronous writes, syncs and reads.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "tollgate/spool/error.hpp"
#include "tollgate/spool/probe.hpp"
#include "tollgate/spool/recovery.hpp"

namespace tg::spool {

struct segment_entry {
  std::uint64_t number = 0;     // in the file name
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;   // < first_seq while empty
  std::uint64_t bytes = 0;
  std::uint64_t first_after_ack_offset = 0;  // recovered: offset of the first record > acked (0: start)
  std::vector<seq_gap> gaps;    // recovered: numbers in [first_seq, last_seq] lost to damage
};

struct directory_entry {
  std::uint32_t id = 0;          // the shard id in the directory's name
  std::string path;
  bool own = false;              // this shard writes here
  std::uint64_t acked = 0;       // delivered position (in memory)
  std::uint64_t persisted = 0;   // what the acked file says
  std::deque<segment_entry> segs;
  bool finished = false;         // not own, every record read into the ring
  bool removed = false;          // not own, delivered and deleted with its directory
};

// Where a replay starts in one directory: its oldest record not acknowledged.
struct replay_point {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;  // 0: from the first record
  std::uint64_t seq = 0;
};

class catalogue {
 public:
  // Recovers every directory (replay_ids: old shard ids assigned to this
  // shard, its own among them or not; the own directory is created and comes
  // last). Torn tails are cut, damage quarantined, delivered segments deleted;
  // each is counted in `p` and logged. Throws std::runtime_error on an I/O
  // failure.
  catalogue(std::string root, unsigned shard, const std::vector<std::uint32_t>& replay_ids,
            std::uint32_t max_payload, probe& p);

  std::vector<directory_entry>& dirs() noexcept { return dirs_; }
  const std::vector<directory_entry>& dirs() const noexcept { return dirs_; }
  std::size_t own() const noexcept { return own_; }
  directory_entry& own_dir() noexcept { return dirs_[own_]; }
  const directory_entry& own_dir() const noexcept { return dirs_[own_]; }

  // ---- what the writer appends ----
  void add_segment(std::uint64_t number, std::uint64_t first_seq, std::uint64_t header_bytes);
  void add_record(std::uint64_t seq, std::uint64_t footprint);

  // ---- admission and positions ----
  std::uint64_t bytes() const noexcept { return bytes_; }
  std::size_t segments() const noexcept { return segments_; }
  // Directory `dir` has everything up to `seq` delivered.
  void delivered(std::uint32_t dir, std::uint64_t seq) noexcept;
  // Oldest record of `dir` not acknowledged, from what recovery found; empty
  // when none (for the own directory, this run's records are the driver's).
  std::optional<replay_point> first_unacked(std::size_t dir) const;
  // The segment after `number` in `dir`, or null.
  const segment_entry* next_segment(std::size_t dir, std::uint64_t number) const;
  // Segment `number` of `dir`, or null.
  const segment_entry* segment(std::size_t dir, std::uint64_t number) const;

  // ---- retention (the shard's tick; shutdown) ----
  // Writes each directory's position to its acked file when it moved (with
  // `durable`, synced, and always written). Failures are logged and retried.
  void persist(bool durable);
  // Deletes segments whose records are all delivered (`active`: the segment
  // the writer has open, never deleted) and old directories once empty.
  // Returns how many segments went. With `unlink_later`, the own directory's
  // files are not unlinked here: their paths are appended for the caller to
  // unlink off the shard's thread (ext4 takes ~20 ms to unlink a 64 MiB
  // segment). Old directories' files always go here (they are rare, and
  // their directory is removed right after them).
  std::size_t delete_delivered(std::optional<std::uint64_t> active, std::vector<std::string>* unlink_later = nullptr);
  // Events not yet delivered; `own_last`: the writer's last appended sequence.
  std::uint64_t events_waiting(std::uint64_t own_last) const noexcept;

  void set_gauges() noexcept;

 private:
  void recover_dir(directory_entry& d, std::uint32_t max_payload);

  std::string root_;
  unsigned shard_;
  probe& m_;
  std::vector<directory_entry> dirs_;  // replayed ones first, own last
  std::size_t own_ = 0;
  std::uint64_t bytes_ = 0;            // every directory's segments
  std::size_t segments_ = 0;
};

// "msg: strerror" or the error's own words, for log lines and exceptions.
std::string describe_error(const error& e);

}  // namespace tg::spool
