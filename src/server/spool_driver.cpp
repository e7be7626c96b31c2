// SPDX-License-Identifier: Apache-2.0
// Start-up recovery, the append path, the overflow / refill path, the
// io_uring writes and group-commit syncs, and the acknowledged positions.
#include "spool_driver.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/spool/ack_file.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/recovery.hpp"
#include "tollgate/spool/retention.hpp"

namespace tg::server {
namespace {
using reactor::op;

// --ack buffered with a spool: a sync at most this often, which bounds what a
// power cut can take (a process crash takes nothing once a write completed).
constexpr std::uint64_t buffered_sync_interval_ns = 50'000'000;
// Records copied from disk into the ring per loop iteration: enough to keep
// the forwarder fed, small enough that connections are not kept waiting.
constexpr std::size_t refill_budget_bytes = 4u << 20;
// Write/sync retry after an error: doubles per failure up to the cap.
constexpr std::uint64_t retry_first_ns = 100'000'000;
constexpr std::uint64_t retry_cap_ns = 2'000'000'000;

std::string describe(const spool::error& e) {
  std::string s = e.what;
  if (e.sys != 0) s += std::string(": ") + std::strerror(e.sys);
  else if (e.code == spool::errc::unsupported_version) s += ": written by a newer tollgate (format version)";
  else if (e.code == spool::errc::buffer_full) s += ": write buffer full";
  else if (e.code == spool::errc::too_large) s += ": record too large";
  return s;
}

[[noreturn]] void fail_start(const std::string& what, const spool::error& e) {
  throw std::runtime_error("spool: " + what + ": " + describe(e));
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) {
    throw std::runtime_error("spool: cannot create " + path + ": " + std::strerror(errno));
  }
}
}  // namespace

spool_settings make_spool_settings(const options& opts, std::uint64_t shard_max_bytes) {
  spool_settings s;
  s.dir = opts.spool_dir;
  s.segment_bytes = opts.segment_bytes;
  s.max_bytes = shard_max_bytes;
  s.sync_max_delay_us = opts.sync_max_delay_us;
  s.durable = opts.ack == ack_mode::durable;
  // An event is at most the whole body, plus the time tollgate may stamp in.
  s.max_payload = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(opts.limits.max_body_bytes + 64, spool::max_payload_limit));
  // Each of the writer's two buffers holds the largest request (every event
  // framed): one is appended to while the other is being written.
  s.writer_buffer_bytes = opts.limits.max_body_bytes + opts.validation.max_events * 64 + (1u << 20);
  return s;
}

spool_driver::spool_driver(unsigned shard, const std::vector<std::uint32_t>& replay_ids, const spool_settings& s,
                           ring::event_ring& ring, metrics::spool_metrics& m)
    : shard_(shard), s_(s), ring_(ring), m_(m), reader_(s.max_payload) {
  for (std::uint32_t id : replay_ids) {
    if (id == shard) continue;
    directory d;
    d.id = id;
    d.path = s_.dir + "/" + spool::shard_dir_name(id);
    dirs_.push_back(std::move(d));
  }
  directory own;
  own.id = shard;
  own.own = true;
  own.path = s_.dir + "/" + spool::shard_dir_name(shard);
  make_dir(own.path);
  dirs_.push_back(std::move(own));
  own_ = dirs_.size() - 1;
  for (directory& d : dirs_) recover_dir(d, shard);

  directory& d = dirs_[own_];
  std::vector<spool::segment_span> spans;
  for (const segment& g : d.segs) spans.push_back({g.number, g.first_seq, g.last_seq, false});
  const spool::resume_point at = spool::resume_after(spans, d.acked);
  spool::writer_options wo;
  wo.segment_bytes = s_.segment_bytes;
  wo.buffer_bytes = s_.writer_buffer_bytes;
  wo.max_payload = s_.max_payload;
  wo.direct_io = s_.direct_io;  // a twentieth of the CPU of buffered writes on ext4 here; see segment_writer.hpp
  auto w = spool::segment_writer::create(d.path, shard, at.next_segment_seq, at.next_record_seq, wo);
  if (!w) fail_start("cannot open a new segment in " + d.path, w.error());
  writer_.emplace(std::move(*w));
  first_own_seq_ = at.next_record_seq;
  first_own_segment_ = at.next_segment_seq;
  d.segs.push_back({at.next_segment_seq, at.next_record_seq, at.next_record_seq - 1, spool::segment_header_bytes, 0});
  bytes_ += spool::segment_header_bytes;
  ++segments_;

  // Replay is the overflow path from the oldest record not acknowledged.
  std::size_t i = 0;
  while (!start_dir(i)) ++i;
  set_gauges();
  const std::uint64_t waiting = events_waiting();
  log::info("spool ready", {{"shard", shard_}, {"directories", static_cast<unsigned long>(dirs_.size())},
                            {"segments", static_cast<unsigned long>(segments_)}, {"bytes", bytes_},
                            {"events_to_replay", waiting}, {"next_seq", first_own_seq_},
                            {"direct_io", writer_->direct_io()}});
}

spool_driver::~spool_driver() = default;

// Reads the acknowledged position, recovers every segment (the newest may be
// torn, older ones may only be damaged), drops what is delivered.
void spool_driver::recover_dir(directory& d, unsigned shard) {
  auto ack = spool::read_ack_file(d.path);
  if (!ack) fail_start("cannot read the acknowledged position in " + d.path, ack.error());
  if (ack->state == spool::ack_state::corrupt) {
    log::warn("spool: damaged acked file; every record in the directory is replayed",
              {{"shard", shard}, {"directory", d.path}});
  }
  d.acked = d.persisted = ack->acked;
  auto files = spool::list_segments(d.path);
  if (!files) fail_start("cannot list " + d.path, files.error());
  for (std::size_t i = 0; i < files->size(); ++i) {
    const spool::segment_file& f = (*files)[i];
    spool::recover_options ro;
    ro.max_payload = s_.max_payload;
    ro.last_segment = i + 1 == files->size();
    ro.keep_records = false;
    ro.acked = d.acked;
    auto rep = spool::recover_segment(f.path, ro);
    if (!rep) fail_start("cannot recover " + f.path, rep.error());
    if (rep->torn_bytes > 0) {
      m_.torn_bytes.add(rep->torn_bytes);
      log::warn("spool: torn tail truncated (a write cut short by a crash)",
                {{"shard", shard}, {"segment", f.path}, {"bytes", rep->torn_bytes}});
    }
    if (rep->result == spool::outcome::corrupt) {
      m_.quarantined_segments.add();
      m_.quarantined_bytes.add(rep->quarantined_bytes);
      m_.quarantined_events.add(rep->missing_seqs);
      log::error("spool: damaged bytes moved to a .corrupt file; the records around them are replayed",
                 {{"shard", shard}, {"segment", f.path}, {"bytes", rep->quarantined_bytes},
                  {"ranges", static_cast<unsigned long>(rep->damaged.size())},
                  {"first_offset", rep->damaged.empty() ? 0 : rep->damaged.front().offset},
                  {"records_kept", rep->record_count}, {"events_lost", rep->missing_seqs}});
    }
    if (!rep->header || rep->valid_end == 0) {
      ::unlink(f.path.c_str());  // nothing in it: never reached the disk
      continue;
    }
    segment g;
    g.number = f.seq;
    g.first_seq = rep->header->first_seq;
    g.last_seq = rep->record_count == 0 ? g.first_seq - 1 : rep->last_seq();
    g.bytes = rep->valid_end;
    g.first_after_ack_offset = rep->resume_offset;
    d.segs.push_back(g);
    bytes_ += g.bytes;
    ++segments_;
  }
  delete_delivered();
}

void spool_driver::push_run(std::uint32_t dir, std::uint64_t seq) {
  if (!runs_.empty()) {
    run& r = runs_.back();
    if (r.dir == dir && r.first_seq + r.count == seq) {
      ++r.count;
      return;
    }
  }
  runs_.push_back({dir, seq, 1});
}

// Positions the overflow cursor at directory `index`'s oldest record not yet
// acknowledged; false when it has none (it is then finished).
bool spool_driver::start_dir(std::size_t index) {
  directory& d = dirs_[index];
  cur_dir_ = index;
  close_reader();
  overflow_ = true;
  for (const segment& g : d.segs) {
    if (g.last_seq >= g.first_seq && g.last_seq > d.acked) {
      cur_seg_ = g.number;
      cur_off_ = g.first_after_ack_offset;
      next_seq_ = std::max(d.acked + 1, g.first_seq);
      return true;
    }
  }
  if (d.own) {
    // Nothing older to replay: the cursor is at the writer's first record,
    // caught up unless events went to disk only meanwhile (during a replay).
    // (The writer may have rolled over since it started: begin at its first
    // segment still there, and skip what the reader finds delivered.)
    cur_seg_ = d.segs.back().number;
    for (const segment& g : d.segs) {
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

void spool_driver::enter_overflow(std::uint64_t seg_number, std::uint64_t offset, std::uint64_t seq) {
  if (overflow_) return;
  overflow_ = true;
  cur_dir_ = own_;
  cur_seg_ = seg_number;
  cur_off_ = offset;
  next_seq_ = seq;
  close_reader();
}

spool_driver::room spool_driver::admit(std::size_t spool_bytes) const noexcept {
  if (failing_) return room::failing;
  if (s_.max_bytes != 0 && bytes_ + spool_bytes > s_.max_bytes) return room::full;
  if (!writer_->fits(spool_bytes + spool::segment_header_bytes)) return room::busy;
  return room::ok;
}

result<std::uint64_t, spool::error> spool_driver::append_request(std::span<const std::span<const char>> payloads,
                                                                 bool in_ring) {
  directory& d = dirs_[own_];
  std::uint64_t first_seg = 0, first_off = 0, first_seq = 0, last = 0;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    const std::uint64_t seg_before = writer_->segment_seq();
    const std::uint64_t size_before = writer_->segment_bytes();
    auto r = writer_->append(payloads[i]);
    if (!r) {
      if (r.error().code == spool::errc::io) note_failure("create segment", r.error().sys);
      // What was appended is on its way to disk but not in the ring: the
      // forwarder reads it from there.
      if (i > 0 && in_ring) enter_overflow(first_seg, first_off, first_seq);
      set_gauges();
      return unexpected<spool::error>{r.error()};
    }
    const std::uint64_t seq = *r;
    const std::uint64_t seg = writer_->segment_seq();
    const std::uint64_t fp = spool::record_footprint(payloads[i].size());
    if (seg != seg_before) {
      d.segs.push_back({seg, seq, seq - 1, spool::segment_header_bytes, 0});
      bytes_ += spool::segment_header_bytes;
      ++segments_;
    }
    segment& g = d.segs.back();
    g.last_seq = seq;
    g.bytes += fp;
    bytes_ += fp;
    if (i == 0) {
      first_seg = seg;
      first_off = seg != seg_before ? spool::segment_header_bytes : size_before;
      first_seq = seq;
      if (!in_ring) enter_overflow(first_seg, first_off, first_seq);
    }
    last = seq;
  }
  if (in_ring) {
    for (std::uint64_t q = first_seq; q <= last && first_seq != 0; ++q) push_run(static_cast<std::uint32_t>(own_), q);
  }
  if (unsynced_since_ns_ == 0 && last != 0) unsynced_since_ns_ = monotonic_ns();
  return last;
}

// The forwarder freed n more records from the front of the ring: they are
// delivered (or dead-lettered), so each one's directory position moves on.
void spool_driver::on_released(std::uint64_t n) {
  while (n > 0 && !runs_.empty()) {
    run& r = runs_.front();
    const std::uint64_t take = std::min(n, r.count);
    directory& d = dirs_[r.dir];
    d.acked = std::max(d.acked, r.first_seq + take - 1);
    r.first_seq += take;
    r.count -= take;
    n -= take;
    if (r.count == 0) runs_.pop_front();
  }
  if (n > 0) log::error("spool: the ring freed records the spool did not put there", {{"shard", shard_}, {"records", n}});
}

// Copies records from disk into the ring, oldest first, while it has room;
// leaves overflow once the cursor reaches the writer's newest record.
void spool_driver::refill() {
  if (read_inflight_) return;  // the reader's buffer is being filled
  std::size_t budget = refill_budget_bytes;
  while (overflow_ && budget > 0) {
    directory& d = dirs_[cur_dir_];
    if (d.own && next_seq_ > writer_->last_appended()) {
      overflow_ = false;
      close_reader();
      return;
    }
    const std::uint64_t limit = d.own ? writer_->last_written() : std::numeric_limits<std::uint64_t>::max();
    if (next_seq_ > limit) return;  // the next record is still in the write buffer
    if (!reader_.is_open()) {
      auto o = reader_.open(d.path + "/" + spool::segment_file_name(cur_seg_), cur_off_);
      if (!o) {
        log::error("spool: cannot open a segment to read back", {{"shard", shard_}, {"error", describe(o.error())}});
        return;  // tried again next iteration
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
      push_run(static_cast<std::uint32_t>(cur_dir_), seq);
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
      log::error("spool: cannot read back a segment", {{"shard", shard_}, {"error", describe(st.error())}});
      close_reader();
      return;
    }
    if (*st == spool::segment_reader::stop::refused || *st == spool::segment_reader::stop::limit) return;
    if (*st == spool::segment_reader::stop::need_data) {
      const auto t = reader_.next_load();
      io_uring_sqe* sqe = uring_->sqe();
      io_uring_prep_read(sqe, reader_.fd(), t.into, static_cast<unsigned>(t.bytes), t.offset);
      io_uring_sqe_set_data64(sqe, reactor::encode(op::spool_read, read_gen_, 0));
      read_inflight_ = true;
      return;  // on_cqe() hands the bytes over; the next poll goes on
    }
    // Past the limit the writer may be writing right now: a half-written
    // record there is not damage, it is the next write landing.
    if (*st == spool::segment_reader::stop::damaged && d.own && next_seq_ > limit) return;
    if (*st == spool::segment_reader::stop::damaged) {
      m_.quarantined_segments.add();
      log::error("spool: a damaged record while reading back; skipping the rest of the segment",
                 {{"shard", shard_}, {"segment", reader_.path()}, {"offset", cur_off_}});
    }
    // The end of what this segment holds now. A record not yet written may
    // still land in it (a sealed segment's buffer drains oldest first), so
    // move on only when the next record is written, hence in a later segment.
    if (d.own && (next_seq_ > limit || cur_seg_ == writer_->segment_seq())) return;
    const segment* next = nullptr;
    for (const segment& g : d.segs) {
      if (g.number > cur_seg_) {
        next = &g;
        break;
      }
    }
    close_reader();
    // A segment this run wrote has no gaps: if it ended before the next
    // segment's first record, its last records were not visible yet (a
    // stale page in the cache after an O_DIRECT write): read it again later
    // rather than skip them.
    if (next != nullptr && d.own && *st == spool::segment_reader::stop::end && cur_seg_ >= first_own_segment_ &&
        next->first_seq > next_seq_) {
      return;
    }
    if (next != nullptr) {
      cur_seg_ = next->number;
      cur_off_ = next->first_after_ack_offset;
      continue;
    }
    if (d.own) return;
    d.finished = true;
    std::size_t i = cur_dir_ + 1;
    while (!start_dir(i)) ++i;  // the own directory (last) always starts
  }
}

void spool_driver::close_reader() noexcept {
  reader_.close();
  ++read_gen_;
}

void spool_driver::poll(std::uint64_t released_total) {
  if (released_total != released_seen_) {
    on_released(released_total - released_seen_);
    released_seen_ = released_total;
  }
  refill();
  start_sync();  // before the next write: a sync waits for the write in flight
  start_write();
}

void spool_driver::start_write() {
  if (uring_ == nullptr || write_inflight_) return;
  if (failing_ && monotonic_ns() < retry_at_ns_) return;
  const auto w = writer_->next_write();
  if (!w) return;
  io_uring_sqe* sqe = uring_->sqe();
  io_uring_prep_write(sqe, w->fd, w->bytes.data(), static_cast<unsigned>(w->bytes.size()), w->offset);
  io_uring_sqe_set_data64(sqe, reactor::encode(op::spool_write, 0, 0));
  write_inflight_ = true;
}

// One group commit: fdatasync every segment with written records not yet
// durable (and the directory after a segment was created). Everything written
// while it runs waits for the next one.
void spool_driver::start_sync() {
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
    io_uring_sqe_set_data64(sqe, reactor::encode(op::spool_sync, 0, 0));
    ++syncs_inflight_;
  }
  if (plan_.dir_fd >= 0) {
    io_uring_sqe* sqe = uring_->sqe();
    io_uring_prep_fsync(sqe, plan_.dir_fd, 0);
    io_uring_sqe_set_data64(sqe, reactor::encode(op::spool_sync, 0, 0));
    ++syncs_inflight_;
  }
  if (syncs_inflight_ == 0) writer_->synced(plan_);
}

void spool_driver::on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) {
  if (t.kind == op::spool_read) {
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
  if (t.kind == op::spool_write) {
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
  // op::spool_sync
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

void spool_driver::note_failure(const char* what, int err) {
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

void spool_driver::tick() {
  persist(false);
  delete_delivered();
  set_gauges();
}

long spool_driver::wakeup_in_us() const noexcept {
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

// Each directory's position goes to its acked file when it moved. Without
// `durable` no sync: an older position after a power cut only means a replay.
void spool_driver::persist(bool durable) {
  for (directory& d : dirs_) {
    if (d.removed || (d.acked == d.persisted && !durable)) continue;
    if (auto r = spool::write_ack_file(d.path, d.acked, durable); !r) {
      log::warn("spool: cannot persist the acknowledged position (a restart replays more)",
                {{"shard", shard_}, {"directory", d.path}, {"error", describe(r.error())}});
      continue;
    }
    d.persisted = d.acked;
  }
}

// Deletes segments whose records are all delivered. The in-memory position
// decides, not the persisted one: on a full disk the acked file cannot be
// rewritten until a deletion frees a block. A restart that finds an older
// position only replays more (a position is never ahead of the records), and
// resume_after() keeps new sequence numbers past it.
void spool_driver::delete_delivered() {
  for (directory& d : dirs_) {
    if (d.removed) continue;
    std::vector<spool::segment_span> spans;
    for (const segment& g : d.segs) {
      const bool active = d.own && writer_ && g.number == writer_->segment_seq();
      spans.push_back({g.number, g.first_seq, g.last_seq, active});
    }
    for (std::uint64_t number : spool::deletable_segments(spans, d.acked)) {
      const std::string path = d.path + "/" + spool::segment_file_name(number);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        log::warn("spool: cannot delete a delivered segment", {{"segment", path}, {"error", std::strerror(errno)}});
        continue;
      }
      for (auto it = d.segs.begin(); it != d.segs.end(); ++it) {
        if (it->number == number) {
          bytes_ -= std::min(bytes_, it->bytes);
          --segments_;
          d.segs.erase(it);
          break;
        }
      }
      m_.deleted_segments.add();
      ++progress_;
    }
    // An old shard's directory (after a change of --shards) goes once empty.
    if (!d.own && d.finished && d.segs.empty()) {
      ::unlink((d.path + "/" + spool::ack_file_name).c_str());
      ::unlink((d.path + "/" + spool::ack_file_name + ".tmp").c_str());
      if (::rmdir(d.path.c_str()) == 0) {
        log::info("spool: replayed and removed an old shard directory", {{"shard", shard_}, {"directory", d.path}});
      }
      d.removed = true;
    }
  }
}

void spool_driver::set_gauges() {
  m_.bytes.set(static_cast<std::int64_t>(bytes_));
  m_.segments.set(static_cast<std::int64_t>(segments_));
}

std::uint64_t spool_driver::delivered_seq() const noexcept { return dirs_[own_].acked; }

std::uint64_t spool_driver::events_waiting() const noexcept {
  std::uint64_t n = 0;
  for (const directory& d : dirs_) {
    if (d.removed) continue;
    const std::uint64_t last = d.own ? writer_->last_appended() : (d.segs.empty() ? 0 : d.segs.back().last_seq);
    if (last > d.acked) n += last - d.acked;
  }
  return n;
}

std::uint64_t spool_driver::close() {
  std::uint64_t lost = 0;
  if (auto r = writer_->sync(); !r) {
    // Events never written and not delivered from memory are lost. Under
    // --ack durable none of them was acknowledged (that waits for the sync):
    // their requests were answered 503 or 504, so the clients send them again.
    const std::uint64_t from = std::max(writer_->last_written(), dirs_[own_].acked);
    const std::uint64_t unwritten = writer_->last_appended() > from ? writer_->last_appended() - from : 0;
    if (!s_.durable) lost = unwritten;
    log::error("spool: cannot write the last events at shutdown",
               {{"shard", shard_}, {"error", describe(r.error())}, {"events_unwritten", unwritten},
                {"events_acknowledged_and_lost", lost}});
  }
  persist(true);
  delete_delivered();
  set_gauges();
  return lost;
}

}  // namespace tg::server
