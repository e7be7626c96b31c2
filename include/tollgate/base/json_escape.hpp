// SPDX-License-Identifier: Apache-2.0
// Appends text to a JSON string body (without the quotes), escaping what JSON
// requires plus <, > and & (as Go's encoder does, so problem bodies read the
// same as OpenMeter's). Invalid UTF-8 bytes are passed through unchanged.
#pragma once

#include <string>
#include <string_view>

namespace tg {

void append_json_escaped(std::string& out, std::string_view text);

}  // namespace tg
