// SPDX-License-Identifier: Apache-2.0
// The append side of one shard's spool directory. Records are encoded into an
// in-memory buffer; the bytes reach the file through whoever drains
// next_write() (the shard's io_uring later, plain pwrite in flush() today),
// and become durable through a sync (fdatasync of each touched segment, and of
// the directory after a segment was created). Three positions follow a record:
// appended -> written -> synced; `--ack durable` answers once last_synced()
// reaches a request's last sequence number, so one sync serves every request
// appended before it started (group commit).
//
// Lives on its shard's thread; not thread-safe. One write in flight at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tollgate/base/result.hpp"
#include "tollgate/spool/error.hpp"
#include "tollgate/spool/format.hpp"

namespace tg::spool {

struct writer_options {
  std::uint64_t segment_bytes = 64u << 20;  // --segment-bytes: roll over before a record would pass it
  std::size_t buffer_bytes = 4u << 20;      // each of an open segment's two write buffers
  std::uint32_t max_payload = 1u << 20;     // one event; at most max_payload_limit
  // O_DIRECT: the bytes go from the buffers to the device without a copy
  // into the page cache (measured: about a twentieth of the CPU of a buffered
  // write on ext4 here). Writes then cover whole 4 KiB blocks: a block's
  // unused end is zeros until a later write fills it, which recovery reads as
  // an unwritten tail. Falls back to buffered writes where the file system
  // refuses O_DIRECT.
  bool direct_io = false;
  // With direct_io: reserve each new segment's segment_bytes up front
  // (fallocate FALLOC_FL_KEEP_SIZE: unwritten blocks past the end of the
  // file, so its size, recovery and the readers see only what was written).
  // A write then fills reserved blocks instead of allocating them, so the
  // fdatasync behind a durable ack commits a smaller journal transaction
  // (measured on ext4 here: about half the sync time; bench/RESULTS.md). Best
  // effort: skipped on tmpfs (it would take memory) and where fallocate fails
  // (no support, no space: blocks are then allocated as the writes come). The
  // reservation past a segment's last record is given back when it is
  // sealed, closed, or cut by recovery after a crash.
  bool preallocate = true;
};

// Bytes aligned for O_DIRECT (a block boundary), owned; moved, never copied.
class aligned_bytes {
 public:
  static constexpr std::size_t alignment = 4096;
  aligned_bytes() = default;
  explicit aligned_bytes(std::size_t n);
  aligned_bytes(aligned_bytes&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  aligned_bytes& operator=(aligned_bytes&& o) noexcept;
  ~aligned_bytes();
  char* data() noexcept { return p_; }
  const char* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }

 private:
  char* p_ = nullptr;
  std::size_t n_ = 0;
};

// A contiguous range to write at `offset` of `fd` (pwrite / IORING_OP_WRITE).
struct pending_write {
  int fd = -1;
  std::uint64_t offset = 0;
  std::span<const char> bytes;
};

// What one group-commit sync must cover; filled by plan_sync(), handed back
// to synced() once every fd in it (and the directory, if dir_fd >= 0) is synced.
struct sync_plan {
  std::uint64_t covers_seq = 0;  // every record <= this was written when planned
  std::vector<int> fds;          // segments with written-but-unsynced records (fdatasync)
  int dir_fd = -1;               // >= 0: fsync the directory (a segment was created)
  std::uint64_t dir_covers_segment = 0;
};

class segment_writer {
 public:
  // Creates segment `segment_seq` in `dir` (which must exist), whose first
  // record gets `first_seq` (see resume_after()). The header is buffered and
  // written with the first records.
  static result<segment_writer, error> create(const std::string& dir, std::uint32_t shard, std::uint64_t segment_seq,
                                              std::uint64_t first_seq, const writer_options& opts = {});
  segment_writer(segment_writer&&) noexcept;
  segment_writer& operator=(segment_writer&&) noexcept;
  ~segment_writer();  // closes the files; does not flush or sync

  // Encodes a record and returns its sequence number. Rolls over to a new
  // segment first when this record would take the current one past
  // segment_bytes (a segment always takes at least one record). errc::too_large
  // above max_payload, errc::buffer_full when the buffer needs draining first,
  // errc::io when the next segment cannot be created (nothing is appended).
  // A request cut short by an error may leave some of its events spooled: a
  // 503 makes the client resend them, and OpenMeter deduplicates on id.
  result<std::uint64_t, error> append(std::span<const char> payload) noexcept;
  // Whether `bytes` (the sum of record_footprint() of a request's events)
  // fit in the buffers now, so a request can be refused before any of it is
  // appended.
  bool fits(std::size_t bytes) const noexcept;

  // ---- writing: oldest segment first ----
  // The next range to write; empty when nothing is pending or a write is in
  // flight. Marks the range in flight (the buffer under it stays put).
  std::optional<pending_write> next_write() noexcept;
  // The in-flight write finished with n bytes written (n < size: a short write;
  // the rest comes back from next_write()). On a failed write, call with 0.
  void wrote(std::size_t n) noexcept;
  std::size_t pending() const noexcept;  // bytes appended but not yet written
  // Writes everything pending with pwrite, retrying short writes. For tests,
  // start-up and shutdown; the shard drains next_write() through its ring.
  result<bool, error> flush() noexcept;

  // ---- syncing ----
  void plan_sync(sync_plan& plan) const;  // reuses plan.fds' capacity
  void synced(const sync_plan& plan) noexcept;
  // flush(), then plan_sync(), fdatasync / fsync each, synced(): blocking.
  result<bool, error> sync() noexcept;

  // ---- positions ----
  std::uint64_t last_appended() const noexcept;  // 0-based: first_seq - 1 before any append
  std::uint64_t last_written() const noexcept;
  std::uint64_t last_synced() const noexcept { return synced_seq_; }
  std::uint64_t segment_seq() const noexcept;     // the current (newest) segment
  std::uint64_t segment_bytes() const noexcept;   // logical size of the current one
  std::size_t open_segments() const noexcept { return segs_.size(); }
  bool direct_io() const noexcept { return align_ > 1; }  // O_DIRECT asked for and taken
  // Buffered writes from now on (a file system that opens with O_DIRECT but
  // refuses the writes with EINVAL): clears O_DIRECT on the open segments.
  void disable_direct_io() noexcept;

 private:
  // Each open segment has two buffers, so appends go on in one while the
  // other is being written (no compaction of a buffer under a write in
  // flight). Bytes go to the file in order: the older buffer first.
  struct chunk {
    aligned_bytes buf;               // usable_ bytes, then room for a block's padding
    std::size_t begin = 0, end = 0;  // bytes [begin, end) not yet written
    std::uint64_t file_offset = 0;   // file offset of buf[0]
    std::uint64_t last_seq = 0;      // last record in it
    bool empty() const noexcept { return begin == end; }
  };
  struct open_segment {
    int fd = -1;
    std::uint64_t seq = 0;
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;   // last appended; first_seq - 1 when none
    std::uint64_t size = 0;       // logical file size: header + every appended record
    chunk bufs[2];
    int fill = 0;                 // the buffer appends go to; the other is older (or free)
    std::uint64_t written_seq = 0;  // every record <= this is in the file
    std::uint64_t synced_seq = 0;   // every record <= this is durable
    bool in_flight = false;         // a write of bufs[1 - fill] is in flight
    bool pending() const noexcept { return in_flight || !bufs[0].empty() || !bufs[1].empty(); }
  };

  segment_writer(std::string dir, int dir_fd, std::uint32_t shard, const writer_options& opts);
  result<bool, error> open_segment_file(std::uint64_t segment_seq, std::uint64_t first_seq) noexcept;
  // Makes `to` the buffer appends go to, continuing where `from` ends (with
  // O_DIRECT it starts on the block boundary, carrying the partial block).
  void continue_in(const chunk& from, chunk& to) noexcept;
  std::size_t down(std::size_t n) const noexcept { return n / align_ * align_; }
  std::size_t up(std::size_t n) const noexcept { return (n + align_ - 1) / align_ * align_; }
  void close_all() noexcept;

  std::string dir_;
  int dir_fd_ = -1;
  std::uint32_t shard_ = 0;
  writer_options opts_;
  std::deque<open_segment> segs_;  // front: oldest still open (sealed); back: current
  std::vector<aligned_bytes> spare_;      // buffers of closed segments, reused at rollover
  std::size_t align_ = 1;                 // write granularity: 1, or the block size with O_DIRECT
  bool prealloc_ = false;                 // reserve new segments' blocks (preallocate, and not tmpfs)
  std::size_t usable_ = 0;                // bytes of a buffer records may fill
  std::uint64_t synced_seq_ = 0;
  std::uint64_t dir_synced_segment_ = 0;  // newest segment whose directory entry is durable
  sync_plan plan_;                        // sync()'s, kept so its fd list is allocated once
};

}  // namespace tg::spool
