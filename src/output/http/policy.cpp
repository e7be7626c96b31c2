// SPDX-License-Identifier: Apache-2.0
// The outcome table.
#include "tollgate/output/http/policy.hpp"

namespace tg::upstream {

verdict judge(int status, std::uint32_t events) noexcept {
  if (status >= 200 && status < 300) return verdict::delivered;
  // One bad event must not sink the others: halve until it stands alone.
  if (status == 400 || status == 413) return events > 1 ? verdict::split : verdict::dead_letter;
  if (status == 401 || status == 403) return verdict::auth;
  if (status == 408 || status == 429 || status >= 500) return verdict::retry;
  if (status >= 400) return verdict::dead_letter;
  return verdict::retry;  // 1xx/3xx: nothing we can act on
}

const char* verdict_name(verdict v) noexcept {
  switch (v) {
    case verdict::delivered: return "delivered";
    case verdict::split: return "split";
    case verdict::dead_letter: return "dead_letter";
    case verdict::retry: return "retry";
    case verdict::auth: return "auth";
  }
  return "unknown";
}

}  // namespace tg::upstream
