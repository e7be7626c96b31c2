// SPDX-License-Identifier: Apache-2.0
// RFC 3986 URI-reference check for `source`. Lenient where Go's url.Parse is
// lenient (non-ASCII bytes, characters such as '{' in a path), strict where it
// fails, so tollgate never buffers an event OpenMeter would refuse.
#include "uri_ref.hpp"

#include <array>
#include <cstdint>

#include "json_scan.hpp"

namespace tg::cloudevents::detail {
namespace {

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool valid_scheme(std::string_view s) noexcept {
  if (s.empty() || !is_alpha(s[0])) return false;
  for (char c : s) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

bool all_digits(std::string_view s) noexcept {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// authority = [ userinfo "@" ] host [ ":" port ]
bool valid_authority(std::string_view a) noexcept {
  if (auto at = a.rfind('@'); at != std::string_view::npos) a.remove_prefix(at + 1);
  if (!a.empty() && a[0] == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view rest = a.substr(close + 1);
    return rest.empty() || (rest[0] == ':' && all_digits(rest.substr(1)));
  }
  std::string_view host = a;
  if (auto colon = a.rfind(':'); colon != std::string_view::npos) {
    if (!all_digits(a.substr(colon + 1))) return false;
    host = a.substr(0, colon);
  }
  return host.find_first_of("[]") == std::string_view::npos;
}

}  // namespace

bool uri_reference_general(std::string_view s) noexcept {
  if (s.empty()) return false;
  using namespace uri_class;
  // One pass: characters, escapes, and where the first ':', '/', '?' or '#' is
  // (string_view::find_first_of calls memchr per byte: too slow per event).
  const std::size_t n = s.size();
  std::size_t delim = n;
  for (std::size_t i = 0; i < n; ++i) {
    switch (byte_class[static_cast<unsigned char>(s[i])]) {
      case plain: break;
      case refused: return false;
      case percent:
        if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
        break;
      case delimiter:
        if (delim == n) delim = i;
        break;
    }
  }
  // A ':' before the first '/', '?' or '#' must end a scheme; in a relative
  // reference the first segment may not hold one (":bad", "1-555:x").
  std::string_view rest = s;
  if (delim != n && s[delim] == ':') {
    if (!valid_scheme(s.substr(0, delim))) return false;
    rest = s.substr(delim + 1);
  }
  if (rest.size() >= 2 && rest[0] == '/' && rest[1] == '/') {
    rest.remove_prefix(2);
    return valid_authority(rest.substr(0, rest.find_first_of("/?#")));
  }
  return true;
}

}  // namespace tg::cloudevents::detail
