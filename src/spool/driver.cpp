// SPDX-License-Identifier: Apache-2.0
// The append path, the overflow / refill path, the io_uring writes and
// group-commit syncs, and the acknowledged positions.
#include "tollgate/spool/driver.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/spool/format.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/retention.hpp"

namespace tg::spool {
namespace {

// --ack buffered with a spool: a sync at most this often, which bounds what a
// power cut can take (a process crash takes nothing once a write completed).
constexpr std::uint64_t buffered_sync_interval_ns = 50'000'000;
// Records copied from disk into the ring per loop iteration: enough to keep
// the forwarder fed, small enough that connections are not kept waiting.
constexpr std::size_t refill_budget_bytes = 4u << 20;
// Write/sync retry after an error: doubles per failure up to the cap.
constexpr std::uint64_t retry_first_ns = 100'000'000;
constexpr std::uint64_t retry_cap_ns = 2'000'000'000;

[[noreturn]] void fail_start(const std::string& what, const error& e) {
  throw std::runtime_error("spool: " + what + ": " + describe_error(e));
}
}  // namespace

driver::driver(unsigned shard, const std::vector<std::uint32_t>& replay_ids, const driver_options& s,
               ring::event_ring& ring, probe& m)
    : shard_(shard), s_(s), ring_(ring), m_(m), cat_(s.dir, shard, replay_ids, s.max_payload, m),
      reader_(s.max_payload) {
  directory_entry& d = cat_.own_dir();
  std::vector<segment_span> spans;
  for (const segment_entry& g : d.segs) spans.push_back({g.number, g.first_seq, g.last_seq, false});
  const resume_point at = resume_after(spans, d.acked);
  writer_options wo;
  wo.segment_bytes = s_.segment_bytes;
  wo.buffer_bytes = s_.writer_buffer_bytes;
  wo.max_payload = s_.max_payload;
  wo.direct_io = s_.direct_io;  // a twentieth of the CPU of buffered writes on ext4 here; see segment_writer.hpp
  auto w = segment_writer::create(d.path, shard, at.next_segment_seq, at.next_record_seq, wo);
  if (!w) fail_start("cannot open a new segment in " + d.path, w.error());
  writer_.emplace(std::move(*w));
  first_own_seq_ = at.next_record_seq;
  first_own_segment_ = at.next_segment_seq;
  cat_.add_segment(at.next_segment_seq, at.next_record_seq, segment_header_bytes);

  // Replay is the overflow path from the oldest record not acknowledged.
  std::size_t i = 0;
  while (!start_dir(i)) ++i;
  cat_.set_gauges();
  const std::uint64_t waiting = events_waiting();
  log::info("spool ready", {{"shard", shard_}, {"directories", static_cast<unsigned long>(cat_.dirs().size())},
                            {"segments", static_cast<unsigned long>(cat_.segments())}, {"bytes", cat_.bytes()},
                            {"events_to_replay", waiting}, {"next_seq", first_own_seq_},
                            {"direct_io", writer_->direct_io()}});
}

driver::~driver() = default;

// Positions the overflow cursor at directory `index`'s oldest record not yet
// acknowledged; false when it has none (it is then finished).
bool driver::start_dir(std::size_t index) {
  directory_entry& d = cat_.dirs()[index];
  cur_dir_ = index;
  close_reader();
  overflow_ = true;
  if (const auto p = cat_.first_unacked(index)) {
    cur_seg_ = p->segment;
    cur_off_ = p->offset;
    next_seq_ = p->seq;
    return true;
  }
  if (d.own) {
    // Nothing older to replay: the cursor is at the writer's first record,
    // caught up unless events went to disk only meanwhile (during a replay).
    // (The writer may have rolled over since it started: begin at its first
    // segment still there, and skip what the reader finds delivered.)
    cur_seg_ = d.segs.back().number;
    for (const segment_entry& g : d.segs) {
      if (g.number >= first_own_segment_) {
        cur_seg_ = g.number;
        break;
      }
    }
    cur_off_ = 0;
    next_seq_ = std::max(first_own_seq_, d.acked + 1);
    overflow_ = next_seq_ <= writer_->last_appended();
    return true;
  }
  d.finished = true;
  return false;
}

void driver::enter_overflow(std::uint64_t seg_number, std::uint64_t offset, std::uint64_t seq) {
  if (overflow_) return;
  overflow_ = true;
  cur_dir_ = cat_.own();
  cur_seg_ = seg_number;
  cur_off_ = offset;
  next_seq_ = seq;
  close_reader();
}

driver::room driver::admit(std::size_t spool_bytes) const noexcept {
  if (failing_) return room::failing;
  if (s_.max_bytes != 0 && cat_.bytes() + spool_bytes > s_.max_bytes) return room::full;
  if (!writer_->fits(spool_bytes + spool::segment_header_bytes)) return room::busy;
  return room::ok;
}

result<std::uint64_t, error> driver::append_request(std::span<const std::span<const char>> payloads, bool in_ring) {
  std::uint64_t first_seg = 0, first_off = 0, first_seq = 0, last = 0;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    const std::uint64_t seg_before = writer_->segment_seq();
    const std::uint64_t size_before = writer_->segment_bytes();
    auto r = writer_->append(payloads[i]);
    if (!r) {
      if (r.error().code == errc::io) note_failure("create segment", r.error().sys);
      // What was appended is on its way to disk but not in the ring: the
      // forwarder reads it from there.
      if (i > 0 && in_ring) enter_overflow(first_seg, first_off, first_seq);
      cat_.set_gauges();
      return unexpected<error>{r.error()};
    }
    const std::uint64_t seq = *r;
    const std::uint64_t seg = writer_->segment_seq();
    if (seg != seg_before) cat_.add_segment(seg, seq, segment_header_bytes);
    cat_.add_record(seq, record_footprint(payloads[i].size()));
    if (i == 0) {
      first_seg = seg;
      first_off = seg != seg_before ? segment_header_bytes : size_before;
      first_seq = seq;
      if (!in_ring) enter_overflow(first_seg, first_off, first_seq);
    }
    last = seq;
  }
  if (in_ring) {
    const auto own = static_cast<std::uint32_t>(cat_.own());
    for (std::uint64_t q = first_seq; q <= last && first_seq != 0; ++q) ledger_.push(own, q);
  }
  if (unsynced_since_ns_ == 0 && last != 0) unsynced_since_ns_ = monotonic_ns();
  return last;
}

// The output freed n more records from the front of the ring: they are
// delivered (or dead-lettered), so each one's directory position moves on.
void driver::on_released(std::uint64_t n) {
  // Released records are numbered in release order: released_seen_ is the
  // ordinal of the first of these n. Refused ones (dead letters) are mapped
  // to the sequence numbers they had, for --ack upstream's answers.
  std::uint64_t ordinal = released_seen_;
  const std::uint64_t unknown = ledger_.release(n, [&](std::uint32_t dir, std::uint64_t first, std::uint64_t last) {
    cat_.delivered(dir, last);
    const std::uint64_t count = last - first + 1;
    if (refusals_ && dir == cat_.own()) {
      refusals_(ordinal, ordinal + count, [&](std::uint64_t a, std::uint64_t b, int status, std::string_view detail) {
        const std::uint64_t from = std::max(a, ordinal), to = std::min(b, ordinal + count);
        if (from < to) note_refused(first + (from - ordinal), first + (to - ordinal) - 1, status, detail);
      });
    }
    ordinal += count;
  });
  if (unknown > 0) {
    log::error("spool: the ring freed records the spool did not put there", {{"shard", shard_}, {"records", unknown}});
  }
}

void driver::note_refused(std::uint64_t first, std::uint64_t last, int status, std::string_view detail) {
  if (refused_.size() == max_refused) {
    const refused_seqs& old = refused_.front();
    lost_first_ = refused_lost_ ? std::min(lost_first_, old.first) : old.first;
    lost_last_ = refused_lost_ ? std::max(lost_last_, old.last) : old.last;
    refused_lost_ = true;
    refused_.pop_front();
  }
  refused_.push_back({first, last, status, std::string(detail.substr(0, 256))});
}

std::optional<driver::refusal_note> driver::refused(std::uint64_t first, std::uint64_t last) const {
  std::optional<refusal_note> r;
  for (const refused_seqs& e : refused_) {
    if (e.last < first || e.first > last) continue;
    if (!r) r = refusal_note{e.status, e.detail, 0};
    r->events += std::min(e.last, last) - std::max(e.first, first) + 1;
  }
  if (!r && refused_lost_ && !(lost_last_ < first || lost_first_ > last)) {
    r = refusal_note{0, "too many refusals at once to keep each one's answer", 0};
  }
  return r;
}

// Copies records from disk into the ring, oldest first, while it has room;
// leaves overflow once the cursor reaches the writer's newest record.
void driver::refill() {
  if (read_inflight_) return;  // the reader's buffer is being filled
  std::size_t budget = refill_budget_bytes;
  while (overflow_ && budget > 0) {
    directory_entry& d = cat_.dirs()[cur_dir_];
    if (d.own && next_seq_ > writer_->last_appended()) {
      overflow_ = false;
      close_reader();
      return;
    }
    const std::uint64_t limit = d.own ? writer_->last_written() : std::numeric_limits<std::uint64_t>::max();
    if (next_seq_ > limit) return;  // the next record is still in the write buffer
    if (!reader_.is_open()) {
      if (monotonic_ns() < reopen_at_ns_) return;
      auto o = reader_.open(d.path + "/" + segment_file_name(cur_seg_), cur_off_);
      if (!o && o.error().sys == ENOENT && !(d.own && cur_seg_ == writer_->segment_seq())) {
        // Deleted from outside: what it held is lost. Counted, said once, and
        // the read-back goes on with the next segment.
        count_missing_segment(d);
        const segment_entry* next = cat_.next_segment(cur_dir_, cur_seg_);
        if (next != nullptr) next_seq_ = std::max(next_seq_, next->first_seq);
        if (!move_past_segment(d, next)) return;
        continue;
      }
      if (!o) {
        // Tried again a second later, not on every iteration (each would log).
        reopen_at_ns_ = monotonic_ns() + reopen_retry_ns;
        log::error("spool: cannot open a segment to read back; trying again in a second",
                   {{"shard", shard_}, {"error", describe_error(o.error())}});
        return;
      }
    }
    const bool replay = !d.own || next_seq_ < first_own_seq_;
    std::size_t pushed = 0;
    auto st = reader_.read(limit, [&](std::uint64_t seq, std::span<const char> payload) {
      if (seq < next_seq_) return true;  // delivered already, or before the overflow point
      if (payload.size() > budget) return false;
      char* dst = ring_.try_reserve(payload.size());
      if (dst == nullptr) return false;
      std::memcpy(dst, payload.data(), payload.size());
      ledger_.push(static_cast<std::uint32_t>(cur_dir_), seq);
      next_seq_ = seq + 1;
      budget -= std::min(budget, payload.size());
      ++pushed;
      return true;
    });
    if (pushed > 0) {
      ring_.commit();
      m_.disk_read_events.add(pushed);
      if (replay) m_.replayed_events.add(pushed);
    }
    cur_off_ = reader_.offset();
    if (!st) {
      log::error("spool: cannot read back a segment", {{"shard", shard_}, {"error", describe_error(st.error())}});
      close_reader();
      return;
    }
    if (*st == segment_reader::stop::refused || *st == segment_reader::stop::limit) return;
    if (*st == segment_reader::stop::need_data) {
      const auto t = reader_.next_load();
      io_uring_sqe* sqe = uring_->sqe();
      io_uring_prep_read(sqe, reader_.fd(), t.into, static_cast<unsigned>(t.bytes), t.offset);
      io_uring_sqe_set_data64(sqe, reactor::encode(id(), op::read, read_gen_, 0));
      read_inflight_ = true;
      return;  // on_cqe() hands the bytes over; the next poll goes on
    }
    // Past the limit the writer may be writing right now: a half-written
    // record there is not damage, it is the next write landing.
    if (*st == segment_reader::stop::damaged && d.own && next_seq_ > limit) return;
    if (*st == segment_reader::stop::damaged) {
      m_.quarantined_segments.add();
      log::error("spool: a damaged record while reading back; skipping the rest of the segment",
                 {{"shard", shard_}, {"segment", reader_.path()}, {"offset", cur_off_}});
    }
    // The end of what this segment holds now. A record not yet written may
    // still land in it (a sealed segment's buffer drains oldest first), so
    // move on only when the next record is written, hence in a later segment.
    if (d.own && (next_seq_ > limit || cur_seg_ == writer_->segment_seq())) return;
    const segment_entry* next = cat_.next_segment(cur_dir_, cur_seg_);
    close_reader();
    // A segment this run wrote has no gaps: if it ended before the next
    // segment's first record, its last records were not visible yet (a
    // stale page in the cache after an O_DIRECT write): read it again later
    // rather than skip them.
    if (next != nullptr && d.own && *st == segment_reader::stop::end && cur_seg_ >= first_own_segment_ &&
        next->first_seq > next_seq_) {
      return;
    }
    if (!move_past_segment(d, next)) return;
  }
}

// The read-back leaves segment cur_seg_ of `d` for `next` (its directory's
// next segment, or null). False when there is nowhere to go yet: the own
// directory has no segment after it. An old directory read to its end is
// finished, and the read-back goes on in the next one.
bool driver::move_past_segment(directory_entry& d, const segment_entry* next) {
  if (next != nullptr) {
    cur_seg_ = next->number;
    cur_off_ = next->first_after_ack_offset;
    return true;
  }
  if (d.own) return false;
  d.finished = true;
  std::size_t i = cur_dir_ + 1;
  while (!start_dir(i)) ++i;  // the own directory (last) always starts
  return true;
}

// Segment cur_seg_ of `d` is gone from the disk: its events not yet read
// back are lost, counted with the quarantined ones, and logged.
void driver::count_missing_segment(const directory_entry& d) {
  const segment_entry* gone = cat_.segment(cur_dir_, cur_seg_);
  const std::uint64_t lost =
      gone != nullptr && gone->last_seq >= next_seq_ ? gone->last_seq - std::max(next_seq_, gone->first_seq) + 1 : 0;
  m_.quarantined_segments.add();
  m_.quarantined_events.add(lost);
  log::error("spool: a segment to read back is gone (deleted from outside?); its events are lost",
             {{"shard", shard_}, {"segment", d.path + "/" + segment_file_name(cur_seg_)}, {"events_lost", lost}});
}

void driver::close_reader() noexcept {
  reader_.close();
  ++read_gen_;
}

void driver::poll(std::uint64_t) {
  const std::uint64_t released_total = released_total_ ? released_total_() : released_seen_;
  if (released_total != released_seen_) {
    on_released(released_total - released_seen_);
    released_seen_ = released_total;
  }
  refill();
  start_sync();  // before the next write: a sync waits for the write in flight
  start_write();
}

void driver::start_write() {
  if (uring_ == nullptr || write_inflight_) return;
  if (failing_ && monotonic_ns() < retry_at_ns_) return;
  const auto w = writer_->next_write();
  if (!w) return;
  io_uring_sqe* sqe = uring_->sqe();
  io_uring_prep_write(sqe, w->fd, w->bytes.data(), static_cast<unsigned>(w->bytes.size()), w->offset);
  io_uring_sqe_set_data64(sqe, reactor::encode(id(), op::write, 0, 0));
  write_inflight_ = true;
}

// One group commit: fdatasync every segment with written records not yet
// durable (and the directory after a segment was created). Everything written
// while it runs waits for the next one.
void driver::start_sync() {
  if (uring_ == nullptr || syncs_inflight_ > 0 || write_inflight_) return;
  if (writer_->last_written() <= writer_->last_synced()) return;
  const std::uint64_t now = monotonic_ns();
  if (failing_ && now < retry_at_ns_) return;
  if (s_.durable) {
    if (s_.sync_max_delay_us != 0 && unsynced_since_ns_ != 0 &&
        now - unsynced_since_ns_ < std::uint64_t{s_.sync_max_delay_us} * 1000) {
      return;
    }
  } else if (now - sync_started_ns_ < buffered_sync_interval_ns) {
    return;
  }
  writer_->plan_sync(plan_);
  sync_error_ = 0;
  sync_started_ns_ = now;
  for (int fd : plan_.fds) {
    io_uring_sqe* sqe = uring_->sqe();
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sqe, reactor::encode(id(), op::sync, 0, 0));
    ++syncs_inflight_;
  }
  if (plan_.dir_fd >= 0) {
    io_uring_sqe* sqe = uring_->sqe();
    io_uring_prep_fsync(sqe, plan_.dir_fd, 0);
    io_uring_sqe_set_data64(sqe, reactor::encode(id(), op::sync, 0, 0));
    ++syncs_inflight_;
  }
  if (syncs_inflight_ == 0) writer_->synced(plan_);
}

void driver::on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) {
  if (t.op == static_cast<std::uint8_t>(op::read)) {
    read_inflight_ = false;
    if (t.slot != read_gen_) return;  // the reader moved on meanwhile
    if (cqe.res < 0) {
      log::error("spool: cannot read back a segment", {{"shard", shard_}, {"error", std::strerror(-cqe.res)}});
      close_reader();  // opened again and re-read on the next poll
      return;
    }
    reader_.loaded(static_cast<std::size_t>(cqe.res));
    return;
  }
  if (t.op == static_cast<std::uint8_t>(op::unlink)) {
    if (cqe.res < 0 && cqe.res != -ENOENT) {
      log::warn("spool: cannot delete a delivered segment (recovery deletes it at the next start)",
                {{"shard", shard_}, {"error", std::strerror(-cqe.res)}});
    }
    if (--unlinks_inflight_ == 0) unlinking_.clear();
    return;
  }
  if (t.op == static_cast<std::uint8_t>(op::write)) {
    write_inflight_ = false;
    if (cqe.res > 0) {
      writer_->wrote(static_cast<std::size_t>(cqe.res));
      ++progress_;
      if (failing_) {
        failing_ = false;
        failure_streak_ = 0;
        m_.failing.set(0);
        log::info("spool: writes succeed again; accepting requests", {{"shard", shard_}});
      }
    } else if (cqe.res == -EINVAL && writer_->direct_io()) {
      writer_->wrote(0);
      writer_->disable_direct_io();
      log::warn("spool: the file system refuses O_DIRECT writes; writing through the page cache",
                {{"shard", shard_}});
    } else {
      writer_->wrote(0);  // the bytes stay buffered and are written again
      note_failure("write segment", cqe.res < 0 ? -cqe.res : ENOSPC);
    }
    return;
  }
  // op::sync
  if (cqe.res < 0) sync_error_ = -cqe.res;
  if (--syncs_inflight_ > 0) return;
  if (sync_error_ != 0) {
    note_failure("fdatasync segment", sync_error_);
    return;
  }
  const std::uint64_t before = writer_->last_synced();
  writer_->synced(plan_);
  const std::uint64_t now = monotonic_ns();
  m_.syncs.add();
  m_.sync_seconds.observe(static_cast<double>(now - sync_started_ns_) / 1e9);
  if (writer_->last_synced() > before) m_.events_per_sync.observe(static_cast<double>(writer_->last_synced() - before));
  // Whatever arrived during this sync forms the next group, waiting since now.
  unsynced_since_ns_ = writer_->last_appended() > writer_->last_synced() ? now : 0;
  ++progress_;
}

void driver::note_failure(const char* what, int err) {
  m_.write_errors.add();
  if (!failing_) {
    log::error("spool: cannot write; new requests get 503 until a write succeeds (accepted events are kept)",
               {{"shard", shard_}, {"operation", what}, {"error", std::strerror(err)}});
  }
  failing_ = true;
  m_.failing.set(1);
  const std::uint64_t delay = std::min(retry_cap_ns, retry_first_ns << std::min(failure_streak_, 5u));
  ++failure_streak_;
  retry_at_ns_ = monotonic_ns() + delay;
}

void driver::tick(std::uint64_t now_ms) {
  if (now_ms >= persisted_at_ms_ + s_.persist_interval_ms) {
    cat_.persist(false);
    persisted_at_ms_ = now_ms;
  }
  delete_delivered(true);
  cat_.set_gauges();
}

long driver::wakeup_in_us(std::uint64_t) const {
  const std::uint64_t now = monotonic_ns();
  long best = -1;
  auto consider = [&](std::uint64_t at_ns) {
    const long in = at_ns > now ? static_cast<long>((at_ns - now + 999) / 1000) : 0;
    if (best < 0 || in < best) best = in;
  };
  if (failing_) consider(retry_at_ns_);
  const bool unsynced = writer_->last_written() > writer_->last_synced() && syncs_inflight_ == 0;
  if (unsynced && s_.durable && s_.sync_max_delay_us != 0 && unsynced_since_ns_ != 0) {
    consider(unsynced_since_ns_ + std::uint64_t{s_.sync_max_delay_us} * 1000);
  } else if (unsynced && !s_.durable) {
    consider(sync_started_ns_ + buffered_sync_interval_ns);
  }
  return best;
}

// On the ring (the tick), the unlinks go to io_uring: on ext4 an unlink of a
// 64 MiB segment blocked the shard for ~20 ms, the tail of every latency
// figure with a spool. At shutdown they are made here.
void driver::delete_delivered(bool on_ring) {
  std::vector<std::string> paths;
  const bool async = on_ring && uring_ != nullptr;
  if (cat_.delete_delivered(writer_->segment_seq(), async ? &paths : nullptr) > 0) ++progress_;
  for (std::string& p : paths) {
    unlinking_.push_back(std::move(p));  // a deque: earlier paths stay where they are
    io_uring_sqe* sqe = uring_->sqe();
    io_uring_prep_unlinkat(sqe, AT_FDCWD, unlinking_.back().c_str(), 0);
    io_uring_sqe_set_data64(sqe, reactor::encode(id(), op::unlink, 0, 0));
    ++unlinks_inflight_;
  }
}

std::uint64_t driver::delivered_seq() const noexcept { return cat_.own_dir().acked; }

std::uint64_t driver::events_waiting() const noexcept { return cat_.events_waiting(writer_->last_appended()); }

std::uint64_t driver::close() {
  std::uint64_t lost = 0;
  if (auto r = writer_->sync(); !r) {
    // Events never written and not delivered from memory are lost. Under
    // --ack durable none of them was acknowledged (that waits for the sync):
    // their requests were answered 503 or 504, so the clients send them again.
    const std::uint64_t from = std::max(writer_->last_written(), cat_.own_dir().acked);
    const std::uint64_t unwritten = writer_->last_appended() > from ? writer_->last_appended() - from : 0;
    if (!s_.durable) lost = unwritten;
    log::error("spool: cannot write the last events at shutdown",
               {{"shard", shard_}, {"error", describe_error(r.error())}, {"events_unwritten", unwritten},
                {"events_acknowledged_and_lost", lost}});
  }
  cat_.persist(true);
  delete_delivered(false);
  cat_.set_gauges();
  return lost;
}

}  // namespace tg::spool
