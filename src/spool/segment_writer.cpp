// SPDX-License-Identifier: Apache-2.0
// The spool's append path. Each open segment owns a write buffer; at rollover
// the old segment is sealed and stays open until its bytes are written and a
// sync covers them, so rollover never waits for the disk and never makes the
// shard write to two places at once: writes go oldest segment first, one in
// flight at a time.
#include "tollgate/spool/segment_writer.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "file_io.hpp"
#include "tollgate/spool/layout.hpp"

namespace tg::spool {

segment_writer::segment_writer(std::string dir, int dir_fd, std::uint32_t shard, const writer_options& opts)
    : dir_(std::move(dir)), dir_fd_(dir_fd), shard_(shard), opts_(opts) {}

segment_writer::segment_writer(segment_writer&& o) noexcept
    : dir_(std::move(o.dir_)),
      dir_fd_(std::exchange(o.dir_fd_, -1)),
      shard_(o.shard_),
      opts_(o.opts_),
      segs_(std::move(o.segs_)),
      spare_(std::move(o.spare_)),
      align_(o.align_),
      prealloc_(o.prealloc_),
      usable_(o.usable_),
      synced_seq_(o.synced_seq_),
      dir_synced_segment_(o.dir_synced_segment_),
      plan_(std::move(o.plan_)) {
  o.segs_.clear();  // a moved-from deque is only "valid but unspecified"
}

segment_writer& segment_writer::operator=(segment_writer&& o) noexcept {
  if (this != &o) {
    close_all();
    dir_ = std::move(o.dir_);
    dir_fd_ = std::exchange(o.dir_fd_, -1);
    shard_ = o.shard_;
    opts_ = o.opts_;
    segs_ = std::move(o.segs_);
    o.segs_.clear();
    spare_ = std::move(o.spare_);
    align_ = o.align_;
    prealloc_ = o.prealloc_;
    usable_ = o.usable_;
    synced_seq_ = o.synced_seq_;
    dir_synced_segment_ = o.dir_synced_segment_;
    plan_ = std::move(o.plan_);
  }
  return *this;
}

segment_writer::~segment_writer() { close_all(); }

aligned_bytes::aligned_bytes(std::size_t n)
    : p_(static_cast<char*>(::operator new(n, std::align_val_t{alignment}))), n_(n) {}

aligned_bytes& aligned_bytes::operator=(aligned_bytes&& o) noexcept {
  if (this != &o) {
    if (p_ != nullptr) ::operator delete(p_, std::align_val_t{alignment});
    p_ = std::exchange(o.p_, nullptr);
    n_ = std::exchange(o.n_, 0);
  }
  return *this;
}

aligned_bytes::~aligned_bytes() {
  if (p_ != nullptr) ::operator delete(p_, std::align_val_t{alignment});
}

void segment_writer::close_all() noexcept {
  for (auto& s : segs_) {
    if (s.fd < 0) continue;
    // O_DIRECT wrote whole blocks: cut the zeros past the last record, so a
    // clean stop leaves no "unwritten tail" for the next start to report
    // (and give back the blocks reserved past it).
    if ((align_ > 1 || prealloc_) && !s.pending()) (void)::ftruncate(s.fd, static_cast<off_t>(s.size));
    ::close(s.fd);
  }
  segs_.clear();
  if (dir_fd_ >= 0) ::close(std::exchange(dir_fd_, -1));
}

result<segment_writer, error> segment_writer::create(const std::string& dir, std::uint32_t shard,
                                                     std::uint64_t segment_seq, std::uint64_t first_seq,
                                                     const writer_options& opts) {
  writer_options o = opts;
  o.max_payload = std::clamp<std::uint32_t>(o.max_payload, 1, max_payload_limit);
  // A buffer that cannot hold the largest record would refuse it forever.
  o.buffer_bytes = std::max(o.buffer_bytes, segment_header_bytes + record_footprint(o.max_payload));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return detail::io_error("open spool directory", errno);
  segment_writer w(dir, dfd, shard, o);
  w.align_ = o.direct_io ? aligned_bytes::alignment : 1;
  w.usable_ = o.direct_io ? (o.buffer_bytes + aligned_bytes::alignment - 1) / aligned_bytes::alignment *
                                aligned_bytes::alignment
                          : o.buffer_bytes;
  if (o.direct_io && o.preallocate) {
    struct statfs fs {};
    w.prealloc_ = ::fstatfs(dfd, &fs) == 0 && fs.f_type != TMPFS_MAGIC;
  }
  if (first_seq == 0) first_seq = 1;  // 0 means "nothing acknowledged": never a record
  w.synced_seq_ = first_seq - 1;
  if (auto r = w.open_segment_file(segment_seq, first_seq); !r) return unexpected<error>{r.error()};
  return w;
}

result<bool, error> segment_writer::open_segment_file(std::uint64_t segment_seq, std::uint64_t first_seq) noexcept {
  const std::string name = segment_file_name(segment_seq);
  // O_EXCL: an existing segment of that number holds records to replay; never
  // write over it.
  int fd = ::openat(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (align_ > 1 ? O_DIRECT : 0), 0640);
  if (fd < 0 && align_ > 1 && errno == EINVAL) {
    // This file system does not do O_DIRECT: buffered writes from now on.
    align_ = 1;
    fd = ::openat(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  }
  if (fd < 0) return detail::io_error("create segment", errno);
  // Best effort (see writer_options::preallocate): a failure only means the
  // writes allocate as they go. Past the end of the file, so a crash leaves
  // nothing there for recovery to read; its truncation gives it back.
  if (prealloc_ && align_ > 1) (void)::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(opts_.segment_bytes));
  open_segment s;
  s.fd = fd;
  s.seq = segment_seq;
  s.first_seq = first_seq;
  s.last_seq = s.written_seq = s.synced_seq = first_seq - 1;
  for (chunk& c : s.bufs) {
    if (!spare_.empty()) {
      c.buf = std::move(spare_.back());
      spare_.pop_back();
    } else {
      // At rollover at most, never per request. One block more than usable_:
      // a write is padded to the block boundary.
      c.buf = aligned_bytes(usable_ + aligned_bytes::alignment);
    }
    c.last_seq = first_seq - 1;
  }
  encode_header({format_version, shard_, segment_seq, first_seq},
                std::span<char, segment_header_bytes>(s.bufs[0].buf.data(), segment_header_bytes));
  s.bufs[0].end = s.size = segment_header_bytes;
  segs_.push_back(std::move(s));
  return true;
}

result<std::uint64_t, error> segment_writer::append(std::span<const char> payload) noexcept {
  if (payload.empty() || payload.size() > opts_.max_payload) return unexpected<error>{{errc::too_large, 0, "append"}};
  const std::size_t fp = record_footprint(payload.size());
  {
    open_segment& cur = segs_.back();
    if (cur.last_seq >= cur.first_seq && cur.size + fp > opts_.segment_bytes) {
      if (auto r = open_segment_file(cur.seq + 1, cur.last_seq + 1); !r) return unexpected<error>{r.error()};
    }
  }
  open_segment& cur = segs_.back();
  chunk* c = &cur.bufs[cur.fill];
  if (usable_ - c->end < fp) {
    // This buffer is full: go on in the other one once it is written out.
    chunk& other = cur.bufs[1 - cur.fill];
    if (cur.in_flight || !other.empty()) return unexpected<error>{{errc::buffer_full, 0, "append"}};
    continue_in(*c, other);
    cur.fill = 1 - cur.fill;
    c = &other;
    if (usable_ - c->end < fp) return unexpected<error>{{errc::buffer_full, 0, "append"}};
  }
  const std::uint64_t seq = cur.last_seq + 1;
  encode_record(std::span<char>(c->buf.data() + c->end, fp), seq, payload);
  c->end += fp;
  c->last_seq = seq;
  cur.size += fp;
  cur.last_seq = seq;
  return seq;
}

void segment_writer::disable_direct_io() noexcept {
  if (align_ == 1) return;
  for (open_segment& s : segs_) {
    const int fl = ::fcntl(s.fd, F_GETFL);
    if (fl >= 0) (void)::fcntl(s.fd, F_SETFL, fl & ~O_DIRECT);
  }
  align_ = 1;  // pending bytes are written from where they begin; earlier padding is overwritten
}

void segment_writer::continue_in(const chunk& from, chunk& to) noexcept {
  const std::size_t cut = down(from.end);
  const std::size_t carry = from.end - cut;  // 0 without O_DIRECT
  to.file_offset = from.file_offset + cut;
  if (carry > 0) std::memcpy(to.buf.data(), from.buf.data() + cut, carry);
  to.begin = to.end = carry;
  to.last_seq = from.last_seq;
}

bool segment_writer::fits(std::size_t bytes) const noexcept {
  const open_segment& cur = segs_.back();
  const chunk& c = cur.bufs[cur.fill];
  if (bytes <= usable_ - c.end) return true;
  // Or the rest goes to the other buffer, if it is free (after a carried block).
  const chunk& other = cur.bufs[1 - cur.fill];
  return !cur.in_flight && other.empty() && bytes + align_ <= usable_;
}

// Oldest bytes first: a segment's older buffer, then its fill buffer (which
// then hands appends over to the other one, free by then). With O_DIRECT a
// write covers whole blocks, zero-padded past the last record.
std::optional<pending_write> segment_writer::next_write() noexcept {
  for (open_segment& s : segs_) {
    if (s.in_flight) return std::nullopt;
    chunk& older = s.bufs[1 - s.fill];
    chunk& fill = s.bufs[s.fill];
    if (older.empty() && fill.empty()) continue;
    if (older.empty()) {
      continue_in(fill, older);
      s.fill = 1 - s.fill;  // `fill` is now the older one, `older` takes appends
    }
    chunk& w = s.bufs[1 - s.fill];
    s.in_flight = true;
    const std::size_t from = down(w.begin);
    const std::size_t to = up(w.end);
    if (to > w.end) std::memset(w.buf.data() + w.end, 0, to - w.end);
    return pending_write{s.fd, w.file_offset + from, std::span<const char>(w.buf.data() + from, to - from)};
  }
  return std::nullopt;
}

void segment_writer::wrote(std::size_t n) noexcept {
  for (open_segment& s : segs_) {
    if (!s.in_flight) continue;
    s.in_flight = false;
    chunk& w = s.bufs[1 - s.fill];
    // Appends never go to the buffer being written, so its end is where the write ends.
    w.begin = std::min(std::max(w.begin, down(w.begin) + n), w.end);
    if (w.begin == w.end) {
      s.written_seq = w.last_seq;
      w.begin = w.end = 0;  // drained: free until continue_in() takes it again
    }
    return;
  }
}

std::size_t segment_writer::pending() const noexcept {
  std::size_t n = 0;
  for (const open_segment& s : segs_)
    for (const chunk& c : s.bufs) n += c.end - c.begin;
  return n;
}

result<bool, error> segment_writer::flush() noexcept {
  while (auto w = next_write()) {
    if (auto r = detail::pwrite_all(w->fd, w->bytes.data(), w->bytes.size(), w->offset); !r) {
      wrote(0);  // keep the bytes: a retry after ENOSPC clears may still succeed
      return r;
    }
    wrote(w->bytes.size());
  }
  return true;
}

std::uint64_t segment_writer::last_appended() const noexcept { return segs_.back().last_seq; }

std::uint64_t segment_writer::last_written() const noexcept {
  // Written oldest first, so the first segment with bytes outstanding bounds it.
  for (const open_segment& s : segs_)
    if (s.pending()) return s.written_seq;
  return segs_.back().written_seq;
}

std::uint64_t segment_writer::segment_seq() const noexcept { return segs_.back().seq; }
std::uint64_t segment_writer::segment_bytes() const noexcept { return segs_.back().size; }

void segment_writer::plan_sync(sync_plan& plan) const {
  plan.fds.clear();
  plan.covers_seq = last_written();
  for (const open_segment& s : segs_)
    if (std::min(s.last_seq, plan.covers_seq) > s.synced_seq) plan.fds.push_back(s.fd);
  // A segment's records are only durable once its directory entry is.
  const bool dir = segs_.back().seq > dir_synced_segment_;
  plan.dir_fd = dir ? dir_fd_ : -1;
  plan.dir_covers_segment = dir ? segs_.back().seq : 0;
}

void segment_writer::synced(const sync_plan& plan) noexcept {
  if (plan.dir_fd >= 0) dir_synced_segment_ = std::max(dir_synced_segment_, plan.dir_covers_segment);
  for (open_segment& s : segs_) s.synced_seq = std::max(s.synced_seq, std::min(s.last_seq, plan.covers_seq));
  // Durable only up to what the directory covers: records in a segment created
  // after the planned dir sync are not counted (covers_seq never reaches them
  // unless that segment's creation was synced too).
  std::uint64_t durable = plan.covers_seq;
  for (const open_segment& s : segs_)
    if (s.seq > dir_synced_segment_ && s.first_seq <= durable) durable = s.first_seq - 1;
  synced_seq_ = std::max(synced_seq_, durable);
  // Sealed segments that are fully written and durable are done with.
  while (segs_.size() > 1) {
    open_segment& s = segs_.front();
    if (s.pending() || s.synced_seq < s.last_seq) break;
    // The padding past its last record, and the blocks reserved past that.
    if (align_ > 1 || prealloc_) (void)::ftruncate(s.fd, static_cast<off_t>(s.size));
    ::close(s.fd);
    if (spare_.size() < 2) {
      for (chunk& c : s.bufs) spare_.push_back(std::move(c.buf));
    }
    segs_.pop_front();
  }
}

result<bool, error> segment_writer::sync() noexcept {
  if (auto r = flush(); !r) return r;
  plan_sync(plan_);
  for (int fd : plan_.fds)
    if (::fdatasync(fd) != 0) return detail::io_error("fdatasync segment", errno);
  if (plan_.dir_fd >= 0 && ::fsync(plan_.dir_fd) != 0) return detail::io_error("fsync spool directory", errno);
  synced(plan_);
  return true;
}

}  // namespace tg::spool
