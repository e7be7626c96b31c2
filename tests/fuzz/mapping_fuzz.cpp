// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the mapping engine and the binary-mode converter. The
// input is a routes file, a NUL byte, then a request body (no NUL: the whole
// input is the routes file, the body is empty). It must never crash, and what
// the engine accepts must be JSON that the validator takes (or refuses for an
// attribute's value, never for its JSON). The routes file's lines of the form
// `name: value` double as request headers for binary mode.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/cloudevents/validator.hpp"
#include "tollgate/mapping/binary_mode.hpp"
#include "tollgate/mapping/mapper.hpp"
#include "tollgate/mapping/routes.hpp"

namespace {

using namespace tg;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "mapping_fuzz: %s\n", what);
    std::abort();
  }
}

// The validator's verdict on mapped output: accepted, or an event's attribute
// refused (a bad time, a source that is no URI, data that is no object). A
// refusal of the JSON itself would be the engine's bug.
void check_events(std::string_view json, cloudevents::media_type type, std::size_t events) {
  simdjson::dom::parser dom;
  simdjson::dom::element root;
  require(dom.parse(json.data(), json.size()).get(root) == simdjson::SUCCESS, "output is not JSON");
  cloudevents::validator v;
  std::vector<cloudevents::event_ref> refs;
  cloudevents::error err;
  if (v.validate(json, type, cloudevents::api::v1, refs, err)) {
    require(refs.size() == events, "validator counts other events than the engine wrote");
  } else {
    require(err.code == cloudevents::errc::invalid_event, "validator refused the output's JSON or shape");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view routes = input.substr(0, nul);
  const std::string_view body_in = nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);
  std::string buf(body_in);
  buf.append(mapping::output_padding, '\0');
  const std::string_view body(buf.data(), body_in.size());

  if (auto table = mapping::parse_routes(routes)) {
    mapping::options opts;
    opts.max_events = 64;
    opts.max_output_bytes = 1u << 20;
    mapping::mapper m(opts);
    mapping::output out;
    mapping::error err;
    for (std::string_view path : table->paths()) {
      const mapping::route* r = table->find(path);
      require(r != nullptr, "a listed path is not found");
      if (m.map(*r, body, out, err)) {
        require(err.code == mapping::errc::none, "success with an error set");
        require(out.events <= opts.max_events, "more events than max_events");
        check_events(out.json(), cloudevents::media_type::batch, out.events);
      } else {
        require(err.code != mapping::errc::none && !err.detail.empty(), "failure without an error");
        require(out.events == 0 && out.json().empty(), "failure left events behind");
      }
    }
  }

  // Binary mode, with the routes text's `name: value` lines as headers.
  std::vector<mapping::header> headers;
  std::string_view content_type;
  for (std::size_t at = 0; at < routes.size();) {
    std::size_t eol = routes.find('\n', at);
    if (eol == std::string_view::npos) eol = routes.size();
    const std::string_view line = routes.substr(at, eol - at);
    at = eol + 1;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || headers.size() == 100) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    headers.emplace_back(line.substr(0, colon), value);
    if (line.substr(0, colon) == "content-type") content_type = value;
  }
  if (mapping::is_binary_mode(headers, content_type)) {
    mapping::output out;
    mapping::error err;
    if (mapping::from_binary(headers, content_type, body, out, err)) {
      require(out.events == 1, "binary mode made other than one event");
      // The body is checked only for being one value; when it is valid JSON,
      // the event must be too, with nothing in it but the headers and data.
      simdjson::dom::parser dom;
      simdjson::dom::element el;
      if (dom.parse(body.data(), body.size()).get(el) == simdjson::SUCCESS || body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        check_events(out.json(), cloudevents::media_type::single, 1);
        simdjson::dom::parser dom2;
        simdjson::dom::object ev;
        require(dom2.parse(out.json().data(), out.json().size()).get_object().get(ev) == simdjson::SUCCESS,
                "binary-mode event is not an object");
        std::size_t ce = 0;
        for (const auto& h : headers) ce += h.first.size() >= 3 && (h.first[0] | 0x20) == 'c' && (h.first[1] | 0x20) == 'e' && h.first[2] == '-';
        const bool has_data = body.find_first_not_of(" \t\r\n") != std::string_view::npos;
        require(ev.size() == ce + (has_data ? 1 : 0), "binary-mode event has members no header made");
      }
    } else {
      require(err.code == mapping::errc::binary_mode && !err.detail.empty(), "binary failure without an error");
    }
  }
  return 0;
}
