// SPDX-License-Identifier: Apache-2.0
// Reads one segment's records back, in order, from a record boundary: what the
// forwarder needs once an event is no longer in memory (a backlog larger than
// the ring, or a replay after a restart). Either layout (format.hpp tells them
// apart by a record's first bytes); skip records are stepped over, so the
// sequence numbers it hands out may jump where recovery removed damage. pread into one reusable buffer, so a
// record costs a scan and a copy, not a system call. Blocking reads from the
// page cache on the shard's thread; the writes are what go through io_uring.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tollgate/base/result.hpp"
#include "tollgate/spool/error.hpp"
#include "tollgate/spool/format.hpp"

namespace tg::spool {

class segment_reader {
 public:
  // chunk_bytes: how much one pread asks for (more when a record is larger).
  explicit segment_reader(std::uint32_t max_payload = max_payload_limit, std::size_t chunk_bytes = 1u << 20);
  ~segment_reader();
  segment_reader(const segment_reader&) = delete;
  segment_reader& operator=(const segment_reader&) = delete;

  // Opens `path` positioned at `offset` (a record boundary; 0 or anything
  // inside the header means the first record).
  result<bool, error> open(const std::string& path, std::uint64_t offset);
  void close() noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  const std::string& path() const noexcept { return path_; }
  std::uint64_t offset() const noexcept { return off_; }  // of the next record to read

  enum class stop : std::uint8_t {
    limit,    // the next record's sequence number is above the limit
    refused,  // take() returned false for the next record (it stays unread)
    end,      // no complete record at offset(): the end of what the file holds now
    damaged,  // a record that fails its CRC or framing (recovery found none at start:
              // the bytes changed since, or it is the writer's next write landing)
    need_data,  // asynchronous mode only: fill next_load() (io_uring read), then loaded(), then read() again
  };

  // Asynchronous mode: read() never blocks; where it would pread it answers
  // need_data and the caller reads next_load() itself (through io_uring) and
  // hands the result to loaded(). The buffer must not be touched meanwhile.
  void set_async(bool on) noexcept { async_ = on; }
  struct load_target {
    std::uint64_t offset = 0;
    char* into = nullptr;
    std::size_t bytes = 0;
  };
  load_target next_load();
  // The read of next_load() returned n bytes (0 at the end of the file).
  void loaded(std::size_t n) noexcept;
  int fd() const noexcept { return fd_; }

  // Hands each record (seq, payload) to take() in order while seq <= limit;
  // take() returns false to stop before consuming it. The payload view lives
  // until the next call.
  template <class Take>
  result<stop, error> read(std::uint64_t limit, Take&& take) {
    // The file may have grown since the last call: read from offset() at
    // least once per call before saying the end is reached (in asynchronous
    // mode, the read that loaded() reported counts for this call).
    bool loaded = fresh_;
    fresh_ = false;
    for (;;) {
      scan_result r;  // kind end: nothing buffered at offset()
      if (off_ >= buf_off_ && off_ - buf_off_ <= buf_len_ && buf_len_ > 0) {
        const std::span<const char> buffered(buf_.data(), buf_len_);
        const std::size_t at = static_cast<std::size_t>(off_ - buf_off_);
        r = scan_record(buffered, at, max_payload_, record_version_at(buffered, at));
      }
      if (r.kind == scan_kind::record) {
        if (r.seq > limit) return stop::limit;
        if (!take(r.seq, r.payload)) return stop::refused;
        off_ = buf_off_ + r.next;
        continue;
      }
      if (r.kind == scan_kind::skip) {
        // Damage recovery moved to .corrupt: its span may end past the buffer,
        // which is then read again from there.
        off_ = buf_off_ + r.next;
        continue;
      }
      if (r.kind == scan_kind::corrupt) return stop::damaged;
      // end or torn inside the buffer: read again from offset(), unless this
      // buffer already starts there and reached the end of the file.
      if (buf_off_ == off_ && buf_eof_ && loaded) return stop::end;
      // A whole largest record's worth of bytes that still is not a record.
      if (buf_off_ == off_ && buf_len_ >= record_footprint(max_payload_)) return stop::damaged;
      const bool grow = r.kind == scan_kind::torn && buf_off_ == off_ && !buf_eof_;
      if (async_) {
        want_grow_ = grow;
        return stop::need_data;
      }
      auto got = load(grow);
      if (!got) return unexpected<error>{got.error()};
      loaded = true;
    }
  }

 private:
  result<bool, error> load(bool grow);
  std::size_t load_size(bool grow);

  int fd_ = -1;
  std::string path_;
  std::uint32_t max_payload_;
  std::size_t chunk_;
  std::vector<char> buf_;
  std::size_t buf_len_ = 0;      // valid bytes in buf_
  std::uint64_t buf_off_ = 0;    // file offset of buf_[0]
  bool buf_eof_ = false;         // the read that filled buf_ reached the end of the file
  std::uint64_t off_ = 0;
  bool async_ = false;
  bool want_grow_ = false;
  bool fresh_ = false;      // loaded() ran since the last read()
  std::size_t want_ = 0;    // bytes next_load() asked for
};

}  // namespace tg::spool
