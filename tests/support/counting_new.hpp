// SPDX-License-Identifier: Apache-2.0
// Replaces the global operator new and delete with ones that count every
// allocation, for the tests that promise "allocates nothing once warm".
// Include it in exactly one source file of a test binary: it defines the
// replaceable operators, and a program may define them once.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace tg::test {

// Allocations through operator new so far (anything that counts its own
// allocator, OpenSSL's for one, may add to it).
inline std::size_t allocations = 0;

inline void* counted(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}

}  // namespace tg::test

// Every plain form is replaced, so new and delete always pair up (ASan checks).
void* operator new(std::size_t n) { return tg::test::counted(n); }
void* operator new[](std::size_t n) { return tg::test::counted(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++tg::test::allocations;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
