// SPDX-License-Identifier: Apache-2.0
// Listening sockets for the shards: the same address bound once per shard with
// SO_REUSEPORT, so the kernel spreads connections and none migrates later.
#pragma once

#include <string>
#include <vector>

namespace tg::server {

// Binds `count` sockets on HOST:PORT ("127.0.0.1:4196", "[::1]:4196",
// "0.0.0.0:0"). With port 0 the first socket picks a port and the others take
// the same one. A port another process listens on is refused, even one that
// set SO_REUSEPORT too. Throws std::runtime_error with the reason.
std::vector<int> bind_listeners(const std::string& host_port, unsigned count, unsigned short& port_out);

}  // namespace tg::server
