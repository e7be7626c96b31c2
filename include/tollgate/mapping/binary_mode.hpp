// SPDX-License-Identifier: Apache-2.0
// CloudEvents HTTP binary content mode (HTTP protocol binding 1.0.2, §3.1):
// attributes in ce-* headers, the JSON body as `data`. from_binary() builds the
// one structured event the request stands for, to be validated like any other.
// A pure function: no I/O, no clock, no state.
#pragma once

#include <span>
#include <string_view>
#include <utility>

#include "tollgate/mapping/mapper.hpp"

namespace tg::mapping {

using header = std::pair<std::string_view, std::string_view>;  // as http::request::headers() gives them

// Binary mode: a ce-specversion header, and a Content-Type that does not name
// a CloudEvents event format (application/cloudevents+json and
// application/cloudevents-batch+json are structured mode, whatever the headers).
bool is_binary_mode(std::span<const header> headers, std::string_view content_type) noexcept;

// Writes one event object into `out` (then output_padding): specversion, id,
// source, type, subject, time and dataschema from their headers, every other
// ce-<name> header as an extension attribute <name> (a string), and the body
// as `data` (left out when the body is empty). Header values are unquoted
// (RFC 7230 quoted-string) and percent-decoded once; the result must be UTF-8.
// The body must be a JSON object or null under application/json or a +json
// type. False with err (errc::binary_mode, the detail naming the header, e.g.
// "ce-id is missing") otherwise.
bool from_binary(std::span<const header> headers, std::string_view content_type, std::string_view body,
                 output& out, error& err);

}  // namespace tg::mapping
