// SPDX-License-Identifier: Apache-2.0
// Content-Type classification. Unlike OpenMeter v1 (an exact string compare),
// the type matches case-insensitively and parameters are ignored, so
// "application/json; charset=utf-8" from ordinary HTTP clients is accepted.
#include <string>
#include <string_view>

#include "tollgate/cloudevents/validator.hpp"

namespace tg::cloudevents {
namespace {

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view lower) noexcept {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

constexpr std::string_view accepted =
    "use application/cloudevents+json, application/cloudevents-batch+json or application/json";

}  // namespace

media_type classify(std::string_view content_type) noexcept {
  std::string_view t = trim(content_type.substr(0, content_type.find(';')));
  if (iequals(t, "application/cloudevents+json")) return media_type::single;
  if (iequals(t, "application/cloudevents-batch+json")) return media_type::batch;
  if (iequals(t, "application/json")) return media_type::json;
  return media_type::unsupported;
}

error media_type_error(std::string_view content_type) {
  error err;
  err.code = errc::unsupported_media_type;
  if (trim(content_type).empty()) {
    err.detail = "Content-Type is missing: ";
  } else {
    constexpr std::size_t max_echo = 128;  // the header is the client's; do not echo a novel
    err.detail = "unsupported Content-Type \"";
    err.detail.append(content_type.substr(0, max_echo));
    if (content_type.size() > max_echo) err.detail.append("...");
    err.detail.append("\": ");
  }
  err.detail.append(accepted);
  return err;
}

}  // namespace tg::cloudevents
