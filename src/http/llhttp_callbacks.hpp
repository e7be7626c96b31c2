// SPDX-License-Identifier: Apache-2.0
// One llhttp callback table per parser type, filled from the static callbacks
// the type declares. llhttp keeps a pointer to its table, so one table serves
// every parser of a type instead of a copy in each connection.
#pragma once

#include <llhttp.h>

namespace tg::http::detail {

template <class P>
const llhttp_settings_t& llhttp_callbacks() {
  static const llhttp_settings_t table = [] {
    llhttp_settings_t t;
    llhttp_settings_init(&t);
    if constexpr (requires { &P::on_message_begin; }) t.on_message_begin = P::on_message_begin;
    if constexpr (requires { &P::on_url; }) t.on_url = P::on_url;
    if constexpr (requires { &P::on_status; }) t.on_status = P::on_status;
    if constexpr (requires { &P::on_header_field; }) t.on_header_field = P::on_header_field;
    if constexpr (requires { &P::on_header_field_complete; }) t.on_header_field_complete = P::on_header_field_complete;
    if constexpr (requires { &P::on_header_value; }) t.on_header_value = P::on_header_value;
    if constexpr (requires { &P::on_header_value_complete; }) t.on_header_value_complete = P::on_header_value_complete;
    if constexpr (requires { &P::on_headers_complete; }) t.on_headers_complete = P::on_headers_complete;
    if constexpr (requires { &P::on_body; }) t.on_body = P::on_body;
    if constexpr (requires { &P::on_chunk_header; }) t.on_chunk_header = P::on_chunk_header;
    if constexpr (requires { &P::on_message_complete; }) t.on_message_complete = P::on_message_complete;
    return t;
  }();
  return table;
}

}  // namespace tg::http::detail
