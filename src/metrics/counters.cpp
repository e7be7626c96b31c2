// SPDX-License-Identifier: Apache-2.0
// The status → index map.
#include "tollgate/metrics/counters.hpp"

namespace tg::metrics {

std::size_t status_index(int status) noexcept {
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i] == status) return i;
  }
  return status_index(500);
}

}  // namespace tg::metrics
