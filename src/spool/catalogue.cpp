// SPDX-License-Identifier: Apache-2.0
// Start-up recovery of a shard's directories, retention and positions.
#include "tollgate/spool/catalogue.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "tollgate/base/log.hpp"
#include "tollgate/spool/ack_file.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/recovery.hpp"
#include "tollgate/spool/retention.hpp"

namespace tg::spool {
namespace {

[[noreturn]] void fail_start(const std::string& what, const error& e) {
  throw std::runtime_error("spool: " + what + ": " + describe_error(e));
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) {
    throw std::runtime_error("spool: cannot create " + path + ": " + std::strerror(errno));
  }
}
}  // namespace

std::string describe_error(const error& e) {
  std::string s = e.what;
  if (e.sys != 0) s += std::string(": ") + std::strerror(e.sys);
  else if (e.code == errc::unsupported_version) s += ": written by a newer tollgate (format version)";
  else if (e.code == errc::buffer_full) s += ": write buffer full";
  else if (e.code == errc::too_large) s += ": record too large";
  return s;
}

catalogue::catalogue(std::string root, unsigned shard, const std::vector<std::uint32_t>& replay_ids,
                     std::uint32_t max_payload, probe& p)
    : root_(std::move(root)), shard_(shard), m_(p) {
  for (std::uint32_t id : replay_ids) {
    if (id == shard) continue;
    directory_entry d;
    d.id = id;
    d.path = root_ + "/" + shard_dir_name(id);
    dirs_.push_back(std::move(d));
  }
  directory_entry own;
  own.id = shard;
  own.own = true;
  own.path = root_ + "/" + shard_dir_name(shard);
  make_dir(own.path);
  dirs_.push_back(std::move(own));
  own_ = dirs_.size() - 1;
  for (directory_entry& d : dirs_) recover_dir(d, max_payload);
  delete_delivered(std::nullopt);
}

// Reads the acknowledged position, recovers every segment (the newest may be
// torn, older ones may only be damaged).
void catalogue::recover_dir(directory_entry& d, std::uint32_t max_payload) {
  auto ack = read_ack_file(d.path);
  if (!ack) fail_start("cannot read the acknowledged position in " + d.path, ack.error());
  if (ack->state == ack_state::corrupt) {
    log::warn("spool: damaged acked file; every record in the directory is replayed",
              {{"shard", shard_}, {"directory", d.path}});
  }
  d.acked = d.persisted = ack->acked;
  auto files = list_segments(d.path);
  if (!files) fail_start("cannot list " + d.path, files.error());
  for (std::size_t i = 0; i < files->size(); ++i) {
    const segment_file& f = (*files)[i];
    recover_options ro;
    ro.max_payload = max_payload;
    ro.last_segment = i + 1 == files->size();
    ro.keep_records = false;
    ro.acked = d.acked;
    auto rep = recover_segment(f.path, ro);
    if (!rep) fail_start("cannot recover " + f.path, rep.error());
    if (rep->torn_bytes > 0) {
      m_.torn_bytes.add(rep->torn_bytes);
      log::warn("spool: torn tail truncated (a write cut short by a crash)",
                {{"shard", shard_}, {"segment", f.path}, {"bytes", rep->torn_bytes}});
    }
    if (rep->result == outcome::corrupt) {
      m_.quarantined_segments.add();
      m_.quarantined_bytes.add(rep->quarantined_bytes);
      m_.quarantined_events.add(rep->missing_seqs);
      log::error("spool: damaged bytes moved to a .corrupt file; the records around them are replayed",
                 {{"shard", shard_}, {"segment", f.path}, {"bytes", rep->quarantined_bytes},
                  {"ranges", static_cast<unsigned long>(rep->damaged.size())},
                  {"first_offset", rep->damaged.empty() ? 0 : rep->damaged.front().offset},
                  {"records_kept", rep->record_count}, {"events_lost", rep->missing_seqs}});
    }
    if (!rep->header || rep->valid_end == 0) {
      // Nothing worth keeping (recovery renamed a file without a valid
      // header to .corrupt already; an empty one never reached the disk).
      ::unlink(f.path.c_str());
      continue;
    }
    segment_entry g;
    g.number = f.seq;
    g.first_seq = rep->header->first_seq;
    g.last_seq = rep->record_count == 0 ? g.first_seq - 1 : rep->last_seq();
    g.bytes = rep->valid_end;
    g.first_after_ack_offset = rep->resume_offset;
    g.gaps = std::move(rep->gaps);
    d.segs.push_back(g);
    bytes_ += g.bytes;
    ++segments_;
  }
}

void catalogue::add_segment(std::uint64_t number, std::uint64_t first_seq, std::uint64_t header_bytes) {
  own_dir().segs.push_back({number, first_seq, first_seq - 1, header_bytes, 0, {}});
  bytes_ += header_bytes;
  ++segments_;
}

void catalogue::add_record(std::uint64_t seq, std::uint64_t footprint) {
  segment_entry& g = own_dir().segs.back();
  g.last_seq = seq;
  g.bytes += footprint;
  bytes_ += footprint;
}

void catalogue::delivered(std::uint32_t dir, std::uint64_t seq) noexcept {
  directory_entry& d = dirs_[dir];
  d.acked = std::max(d.acked, seq);
}

std::optional<replay_point> catalogue::first_unacked(std::size_t dir) const {
  const directory_entry& d = dirs_[dir];
  for (const segment_entry& g : d.segs) {
    if (g.last_seq >= g.first_seq && g.last_seq > d.acked) {
      return replay_point{g.number, g.first_after_ack_offset, std::max(d.acked + 1, g.first_seq)};
    }
  }
  return std::nullopt;
}

const segment_entry* catalogue::segment(std::size_t dir, std::uint64_t number) const {
  for (const segment_entry& g : dirs_[dir].segs)
    if (g.number == number) return &g;
  return nullptr;
}

const segment_entry* catalogue::next_segment(std::size_t dir, std::uint64_t number) const {
  for (const segment_entry& g : dirs_[dir].segs) {
    if (g.number > number) return &g;
  }
  return nullptr;
}

// Without `durable` no sync: an older position after a power cut only means a replay.
void catalogue::persist(bool durable) {
  for (directory_entry& d : dirs_) {
    if (d.removed || (d.acked == d.persisted && !durable)) continue;
    if (auto r = write_ack_file(d.path, d.acked, durable); !r) {
      log::warn("spool: cannot persist the acknowledged position (a restart replays more)",
                {{"shard", shard_}, {"directory", d.path}, {"error", describe_error(r.error())}});
      continue;
    }
    d.persisted = d.acked;
  }
}

// The in-memory position decides, not the persisted one: on a full disk the
// acked file cannot be rewritten until a deletion frees a block. A restart
// that finds an older position only replays more (a position is never ahead
// of the records), and resume_after() keeps new sequence numbers past it.
std::size_t catalogue::delete_delivered(std::optional<std::uint64_t> active, std::vector<std::string>* unlink_later) {
  std::size_t deleted = 0;
  for (directory_entry& d : dirs_) {
    if (d.removed) continue;
    std::vector<segment_span> spans;
    for (const segment_entry& g : d.segs) spans.push_back({g.number, g.first_seq, g.last_seq, d.own && active == g.number});
    for (std::uint64_t number : deletable_segments(spans, d.acked)) {
      std::string path = d.path + "/" + segment_file_name(number);
      if (d.own && unlink_later != nullptr) {
        unlink_later->push_back(std::move(path));
      } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
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
      ++deleted;
    }
    // An old shard's directory (after a change of --shards) goes once empty.
    if (!d.own && d.finished && d.segs.empty()) {
      ::unlink((d.path + "/" + ack_file_name).c_str());
      ::unlink((d.path + "/" + ack_file_name + ".tmp").c_str());
      if (::rmdir(d.path.c_str()) == 0) {
        log::info("spool: replayed and removed an old shard directory", {{"shard", shard_}, {"directory", d.path}});
      }
      d.removed = true;
    }
  }
  return deleted;
}

// Counted segment by segment, less the numbers damage took: after damage,
// neither the space between segments nor a gap inside one holds events.
std::uint64_t catalogue::events_waiting(std::uint64_t own_last) const noexcept {
  std::uint64_t n = 0;
  for (const directory_entry& d : dirs_) {
    if (d.removed) continue;
    if (d.own && d.segs.empty() && own_last > d.acked) n += own_last - d.acked;
    for (std::size_t i = 0; i < d.segs.size(); ++i) {
      const segment_entry& g = d.segs[i];
      const bool newest_own = d.own && i + 1 == d.segs.size();
      const std::uint64_t last = newest_own ? std::max(g.last_seq, own_last) : g.last_seq;
      const std::uint64_t from = std::max(g.first_seq, d.acked + 1);
      if (last < from) continue;
      n += last - from + 1;
      for (const seq_gap& gap : g.gaps) {
        const std::uint64_t lo = std::max(gap.first, from);
        const std::uint64_t hi = std::min(gap.first + gap.count - 1, last);
        if (hi >= lo) n -= hi - lo + 1;
      }
    }
  }
  return n;
}

void catalogue::set_gauges() noexcept {
  m_.bytes.set(static_cast<std::int64_t>(bytes_));
  m_.segments.set(static_cast<std::int64_t>(segments_));
}

}  // namespace tg::spool
