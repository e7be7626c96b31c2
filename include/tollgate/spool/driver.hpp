// SPDX-License-Identifier: Apache-2.0
// One shard's spool, driven from its event loop: a component of the shard.
//
// Every accepted event is appended to the shard's segment writer; the bytes
// reach the disk through the shard's io_uring (one write in flight, then one
// group-commit sync covering every record written meanwhile). The event ring
// becomes a cache in front of the spool: while it keeps up, events go into
// both and the output reads them from memory; once an event does not fit,
// the driver switches to "overflow": new events go to the spool only, and the
// driver copies records from disk into the ring as the output frees room,
// until it has caught up with the writer. A restart starts in overflow, which
// is how replay happens: the same path reads the old directories' records.
//
// The output frees ring records in order; the ledger (ledger.hpp) maps each
// freed record back to (directory, sequence number), so every directory's
// acknowledged position advances; the catalogue (catalogue.hpp) persists it
// on the tick (at most once a second) and deletes segments whose records are
// all delivered.
//
// Lives on its shard's thread, except construction (start-up recovery, on the
// main thread before the shards start).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/base/result.hpp"
#include "tollgate/reactor/component.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/spool/catalogue.hpp"
#include "tollgate/spool/error.hpp"
#include "tollgate/spool/ledger.hpp"
#include "tollgate/spool/probe.hpp"
#include "tollgate/spool/segment_reader.hpp"
#include "tollgate/spool/segment_writer.hpp"

namespace tg::spool {

struct driver_options {
  std::string dir;                  // --spool-dir (exists: the gateway creates it)
  std::uint64_t segment_bytes = 64u << 20;
  std::uint64_t max_bytes = 0;      // this shard's share of --spool-max-bytes
  unsigned sync_max_delay_us = 0;
  bool durable = false;             // --ack durable: sync as soon as there is something to sync
  std::uint32_t max_payload = 1u << 20;
  std::size_t writer_buffer_bytes = 8u << 20;
  bool direct_io = true;            // O_DIRECT segment writes (where the file system takes them)
  // How often the tick rewrites a moved acknowledged position while serving.
  // A crash replays what was delivered since (duplicates, which OpenMeter
  // drops by id); each rewrite is an open, write and rename on the shard's
  // thread (up to ~5 ms on ext4), so not every 50 ms tick.
  unsigned persist_interval_ms = 1000;
};

class driver final : public reactor::component {
 public:
  // Recovers the directories `replay_ids` (old shard ids assigned to this
  // shard; its own id among them or not) and opens a new segment in its own
  // directory. Blocking; throws std::runtime_error on an I/O failure.
  driver(unsigned shard, const std::vector<std::uint32_t>& replay_ids, const driver_options& s,
         ring::event_ring& ring, probe& m);
  ~driver() override;
  driver(const driver&) = delete;
  driver& operator=(const driver&) = delete;

  // ---- admission (the handler) ----
  enum class room : std::uint8_t {
    ok,
    full,     // at --spool-max-bytes: wait for deliveries to free segments
    busy,     // the write buffer is full: wait for the write in flight
    failing,  // writes fail (disk full, I/O error): refuse now
  };
  room admit(std::size_t spool_bytes) const noexcept;
  // Whether a request's events may also go into the ring (no older event is
  // waiting on disk only). False from construction until the first poll()
  // when there is something to replay.
  bool ring_in_sync() const noexcept { return !overflow_; }
  // Appends one request's events in order and returns the last sequence
  // number. `in_ring`: every payload sits in a ring reservation the caller
  // commits if this succeeds (and rolls back if it fails). On an error, the
  // events appended before it stay in the spool (disk only).
  result<std::uint64_t, error> append_request(std::span<const std::span<const char>> payloads, bool in_ring);

  // ---- the shard's loop ----
  // From here on reads back go through the ring too (never a blocking pread
  // on the shard's thread: with O_DIRECT writes they come from the disk).
  void use_ring(reactor::uring& uring) noexcept {
    uring_ = &uring;
    reader_.set_async(true);
  }
  // The output's count of ring records freed so far (records_released()),
  // read at every poll.
  void follow(std::function<std::uint64_t()> released_total) { released_total_ = std::move(released_total); }
  // What the output refused of the records it released, by release ordinal
  // (output::shard_output::rejected_ordinals): lookup(from, to, f) calls
  // f(first, end, status, detail) for each refused run overlapping [from, to).
  using refused_run = std::function<void(std::uint64_t first, std::uint64_t end, int status, std::string_view detail)>;
  using refusal_lookup = std::function<void(std::uint64_t from, std::uint64_t to, const refused_run& f)>;
  void follow_refusals(refusal_lookup lookup) { refusals_ = std::move(lookup); }
  // Whether events of this shard's own directory with sequence numbers
  // first..last were refused by the destination (dead-lettered) rather than
  // delivered: the first refusal's status and detail (status 0: not kept),
  // and how many of them. Bounded: the oldest refusals are folded into one
  // range that is answered as refused, never as delivered.
  struct refusal_note {
    int status = 0;
    std::string_view detail;
    std::uint64_t events = 0;
  };
  std::optional<refusal_note> refused(std::uint64_t first, std::uint64_t last) const;
  void on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) override;
  // Once per iteration: count what the output freed, refill the ring from
  // disk, start a write and a sync when due.
  void poll(std::uint64_t now_ms) override;
  // Every tick: persist acknowledged positions, delete delivered segments.
  void tick(std::uint64_t now_ms) override;
  // Microseconds until poll() has a delayed sync or a write retry to start; -1: none.
  long wakeup_in_us(std::uint64_t now_ms) const override;

  // ---- positions, for the answers that wait ----
  std::uint64_t synced_seq() const noexcept { return writer_->last_synced(); }
  std::uint64_t written_seq() const noexcept { return writer_->last_written(); }
  std::uint64_t delivered_seq() const noexcept;  // own directory's acknowledged position
  bool failing() const noexcept { return failing_; }
  // Changes whenever room may have appeared (a write finished, a segment went).
  std::uint64_t progress() const noexcept { return progress_; }

  // ---- shutdown ----
  // Nothing left on disk that the ring does not hold (the output can finish).
  bool caught_up() const noexcept { return !overflow_; }
  // Delivered segments still being unlinked (after a tick).
  bool unlinking() const noexcept { return unlinks_inflight_ > 0; }
  bool io_in_flight() const noexcept {
    return write_inflight_ || syncs_inflight_ > 0 || read_inflight_ || unlinks_inflight_ > 0;
  }
  // Blocking: writes and syncs what is pending, persists the positions
  // durably. Returns events appended but never written (lost; 0 normally).
  std::uint64_t close();
  // Events in the spool not yet delivered (left for the next start).
  std::uint64_t events_waiting() const noexcept;

 private:
  void on_released(std::uint64_t n);
  void enter_overflow(std::uint64_t seg_number, std::uint64_t offset, std::uint64_t seq);
  bool start_dir(std::size_t index);
  void refill();
  bool move_past_segment(directory_entry& d, const segment_entry* next);
  void count_missing_segment(const directory_entry& d);
  void close_reader() noexcept;
  void start_write();
  void start_sync();
  void delete_delivered(bool on_ring);
  void note_failure(const char* what, int err);

  enum class op : std::uint8_t { write = 1, sync, read, unlink };

  unsigned shard_;
  driver_options s_;
  ring::event_ring& ring_;
  probe& m_;
  reactor::uring* uring_ = nullptr;
  // Delivered segments being unlinked through the ring (io-wq, not this
  // thread); the paths live until every unlink in flight has completed.
  std::deque<std::string> unlinking_;
  unsigned unlinks_inflight_ = 0;
  catalogue cat_;
  std::optional<segment_writer> writer_;  // set once recovery found where to continue
  segment_reader reader_;
  ledger ledger_;                 // ring contents, oldest first
  std::function<std::uint64_t()> released_total_;
  refusal_lookup refusals_;
  struct refused_seqs {
    std::uint64_t first = 0, last = 0;
    int status = 0;
    std::string detail;
  };
  static constexpr std::size_t max_refused = 64;
  std::deque<refused_seqs> refused_;  // own directory, oldest first
  bool refused_lost_ = false;         // ranges folded away: [lost_first_, lost_last_] answers "refused"
  std::uint64_t lost_first_ = 0, lost_last_ = 0;
  void note_refused(std::uint64_t first, std::uint64_t last, int status, std::string_view detail);
  std::uint64_t released_seen_ = 0;

  // overflow: the next record to copy into the ring is (directory cur_dir_,
  // segment cur_seg_, offset cur_off_, sequence next_seq_)
  bool overflow_ = false;
  std::size_t cur_dir_ = 0;
  std::uint64_t cur_seg_ = 0;
  std::uint64_t cur_off_ = 0;
  std::uint64_t next_seq_ = 0;
  std::uint64_t first_own_seq_ = 0;  // first record this run writes; earlier ones are replays
  std::uint64_t first_own_segment_ = 0;  // the segment this run's writer started

  bool write_inflight_ = false;
  bool read_inflight_ = false;       // reader_'s buffer belongs to the kernel meanwhile
  std::uint32_t read_gen_ = 0;       // bumped when the reader moves on: a late read is dropped
  unsigned syncs_inflight_ = 0;
  int sync_error_ = 0;
  sync_plan plan_;
  std::uint64_t sync_started_ns_ = 0;
  std::uint64_t unsynced_since_ns_ = 0;  // first append not covered by a sync yet (0: none)
  bool failing_ = false;
  std::uint64_t retry_at_ns_ = 0;
  unsigned failure_streak_ = 0;
  std::uint64_t progress_ = 0;
  std::uint64_t persisted_at_ms_ = 0;  // the tick's clock at the last rewrite
  static constexpr std::uint64_t reopen_retry_ns = 1'000'000'000;
  std::uint64_t reopen_at_ns_ = 0;     // a segment that could not be opened is tried again then
};

}  // namespace tg::spool
