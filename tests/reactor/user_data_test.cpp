// SPDX-License-Identifier: Apache-2.0
// user_data carries (owner, operation, generation, slot) and gives them back.
#include <doctest/doctest.h>

#include <initializer_list>

#include "tollgate/reactor/user_data.hpp"

using namespace tg::reactor;

namespace {
enum class my_op : std::uint8_t { first = 1, last = 255 };
}

TEST_CASE("user_data round-trips every field at its extremes") {
  for (owner_id owner : {owner_id{0}, owner_id{1}, owner_id{255}}) {
    for (std::uint8_t op : {std::uint8_t{0}, std::uint8_t{7}, std::uint8_t{255}}) {
      for (std::uint32_t slot : {0u, 1u, 0xFFFFFFFFu}) {
        for (std::uint32_t gen : {0u, 1u, generation_mask}) {
          const tag t = decode(encode(owner, op, slot, gen));
          CHECK(t.owner == owner);
          CHECK(t.op == op);
          CHECK(t.slot == slot);
          CHECK(t.gen == gen);
        }
      }
    }
  }
}

TEST_CASE("user_data keeps only the generation's low bits, so a wrapped generation still compares") {
  const tag t = decode(encode(3, my_op::last, 9, generation_mask + 2));
  CHECK(t.gen == 1);
  CHECK(t.op == 255);
  CHECK(t.owner == 3);
}

TEST_CASE("user_data of different owners never collide for the same operation and slot") {
  CHECK(encode(1, my_op::first, 5, 0) != encode(2, my_op::first, 5, 0));
  CHECK(decode(ignored).owner == loop_owner);
  CHECK(decode(ignored).op == loop_ignore);
}
