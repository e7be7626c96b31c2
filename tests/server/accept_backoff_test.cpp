// SPDX-License-Identifier: Apache-2.0
// What the front door does when accept fails (issue 16: out of descriptors,
// both shards re-armed the accept at once, spun and logged every failure).
#include <doctest/doctest.h>

#include <cerrno>

#include "accept_backoff.hpp"

using namespace tg::server;

TEST_CASE("accept failures are classified by what an operator has to change") {
  CHECK(classify_accept_error(EMFILE) == accept_error::process_fd_limit);
  CHECK(classify_accept_error(ENFILE) == accept_error::system_fd_limit);
  CHECK(classify_accept_error(ENOMEM) == accept_error::no_memory);
  CHECK(classify_accept_error(ENOBUFS) == accept_error::no_memory);
  CHECK(classify_accept_error(ECONNABORTED) == accept_error::connection);
  CHECK(classify_accept_error(EPERM) == accept_error::connection);
  CHECK(classify_accept_error(EINVAL) == accept_error::other);
}

TEST_CASE("out of descriptors, accepting sheds the backlog and pauses until the pause is over") {
  accept_backoff b({100, 10000});
  const auto d = b.failed(EMFILE, 1000);
  CHECK(d.shed);
  CHECK(d.pause);
  CHECK(b.paused());
  CHECK_FALSE(b.resume(1050));
  CHECK(b.paused());
  CHECK(b.resume(1100));
  CHECK_FALSE(b.paused());
  CHECK_FALSE(b.resume(1200));  // resumed once: nothing to resume

  const auto n = b.failed(ENFILE, 2000);
  CHECK(n.shed);
  CHECK(n.pause);
  const auto m = b.failed(ENOMEM, 3000);
  CHECK_FALSE(m.shed);  // closing connections frees no memory worth having
  CHECK(m.pause);
}

TEST_CASE("a failure that concerns one connection neither sheds nor pauses") {
  accept_backoff b({100, 10000});
  const auto d = b.failed(ECONNABORTED, 1000);
  CHECK_FALSE(d.shed);
  CHECK_FALSE(d.pause);
  CHECK_FALSE(b.paused());
}

TEST_CASE("accept failures are logged at most once per interval, with the count") {
  accept_backoff b({100, 10000});
  CHECK(b.failed(EMFILE, 1000).log);  // the first one at once
  CHECK(b.take_unlogged(1000) == 1);
  for (int i = 0; i < 500; ++i) CHECK_FALSE(b.failed(EMFILE, 1001 + i).log);
  CHECK_FALSE(b.log_due(10999));
  CHECK(b.log_due(11000));  // the tick's line, once the interval passed
  CHECK(b.take_unlogged(11000) == 500);
  CHECK(b.last_error() == EMFILE);
  CHECK_FALSE(b.log_due(30000));  // nothing since
  CHECK(b.failed(EMFILE, 30000).log);  // a new failure after a quiet interval: at once
  CHECK(b.take_unlogged(30000) == 1);
}
