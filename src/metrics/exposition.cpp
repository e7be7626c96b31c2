// SPDX-License-Identifier: Apache-2.0
// The exposition format's lines.
#include "tollgate/metrics/exposition.hpp"

namespace tg::metrics {

void head(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t v) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

std::string shard_label(std::size_t i) { return "shard=\"" + std::to_string(i) + "\""; }

}  // namespace tg::metrics
