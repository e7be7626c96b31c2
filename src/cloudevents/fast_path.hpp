// SPDX-License-Identifier: Apache-2.0
// The fast path: accepts the common body (no backslash anywhere, attributes of
// the usual types) in one pass over simdjson's structural index, keeping the
// position in a register. Whatever it does not accept, every rejection
// included, goes to the general walk (validator.cpp), which alone writes errors.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "tollgate/cloudevents/validator.hpp"

namespace tg::cloudevents::detail {

class fast_path {
 public:
  // True when the body is accepted, with `events` filled exactly as the
  // general walk fills them; false when it must decide (`events` then holds
  // anything: the caller clears it). `body` must hold no backslash.
  bool run(std::string_view body, media_type type, api version, std::size_t max_events,
           std::vector<event_ref>& events);

 private:
  // simdjson's stage 1 alone: On-Demand keeps its structural index private.
  std::unique_ptr<simdjson::internal::dom_parser_implementation> stage1_;
  std::size_t capacity_ = 0;
};

}  // namespace tg::cloudevents::detail
