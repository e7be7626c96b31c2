// SPDX-License-Identifier: Apache-2.0
// The JSON Lines output writes every committed event once, one per line, and
// frees ring space only after writing.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <set>
#include <string>

#include "tollgate/base/clock.hpp"
#include "tollgate/output/jsonl/writer.hpp"

using namespace tg;

namespace {
void put(ring::event_ring& r, const std::string& s) {
  char* p = r.try_reserve(s.size());
  REQUIRE(p != nullptr);
  std::memcpy(p, s.data(), s.size());
  r.commit();
}
}  // namespace

TEST_CASE("jsonl output writes every event of every ring as one line") {
  char path[] = "/tmp/tollgate-jsonl-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  ring::event_ring a(1 << 16), b(1 << 16);
  output::jsonl_probe m;
  std::set<std::string> expect;
  {
    output::jsonl_writer w({std::string("file:") + path, 10}, {&a, &b}, m);
    w.start();
    for (int i = 0; i < 3000; ++i) {
      std::string ev = "{\"id\":\"" + std::to_string(i) + "\"}";
      expect.insert(ev);
      auto& r = (i % 2) ? a : b;
      while (r.used_bytes() > (1 << 15)) ::usleep(100);
      put(r, ev);
    }
    CHECK(w.stop(monotonic_ms() + 5000) == 0);
  }
  std::ifstream in(path);
  std::set<std::string> got;
  std::string line;
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    got.insert(line);
    ++lines;
  }
  ::unlink(path);
  CHECK(lines == 3000);
  CHECK(got == expect);
  CHECK(m.events_written.get() == 3000);
  CHECK(a.empty());
  CHECK(b.empty());
}

TEST_CASE("jsonl output refuses an unknown target") {
  ring::event_ring a(4096);
  output::jsonl_probe m;
  CHECK_THROWS(output::jsonl_writer({"kafka:x", 10}, {&a}, m));
  CHECK_THROWS(output::jsonl_writer({"file:/nonexistent-dir/x", 10}, {&a}, m));
}

TEST_CASE("jsonl output keeps events it could not write and reports them at stop") {
  ring::event_ring a(4096);
  output::jsonl_probe m;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ::close(fds[0]);  // nobody reads: writes fail with EPIPE
  signal(SIGPIPE, SIG_IGN);
  std::string target = "file:/proc/self/fd/" + std::to_string(fds[1]);
  {
    output::jsonl_writer w({target, 5}, {&a}, m);
    put(a, "{\"id\":\"x\"}");
    w.start();
    CHECK(w.stop(monotonic_ms() + 200) == 1);
  }
  ::close(fds[1]);
  CHECK(m.write_errors.get() >= 1);
  CHECK_FALSE(a.empty());
}

TEST_CASE("jsonl output gives up at the stop deadline when its reader stopped reading") {
  char dir[] = "/tmp/tollgate-fifo-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string fifo = std::string(dir) + "/out";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // opened, never read
  REQUIRE(reader >= 0);
  ring::event_ring a(1 << 20);
  output::jsonl_probe m;
  std::string big(4000, 'x');
  int put_count = 0;
  for (; put_count < 100; ++put_count) put(a, "{\"id\":\"" + std::to_string(put_count) + "\",\"pad\":\"" + big + "\"}");
  {
    output::jsonl_writer w({"file:" + fifo, 5}, {&a}, m);
    w.start();
    const auto t0 = monotonic_ms();
    const std::uint64_t left = w.stop(monotonic_ms() + 300);
    CHECK(monotonic_ms() - t0 < 3000);
    CHECK(left > 0);
    CHECK(left <= 100);
  }
  ::close(reader);
  ::unlink(fifo.c_str());
  ::rmdir(dir);
}
