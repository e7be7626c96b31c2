// SPDX-License-Identifier: Apache-2.0
// Report rendering. Latencies are kept in ns and printed in µs in JSON (three
// decimals keep every ns) and in the unit that reads best in text. The JSON
// keys are a contract with scripts/bench: add keys, do not rename them.
#include "report.hpp"

#include <cstdio>
#include <string_view>

namespace tg::load {
namespace {

struct pct {
  const char* text_name;
  const char* json_name;
  double q;
};
constexpr pct percentiles[] = {
    {"p50", "p50", 0.50}, {"p90", "p90", 0.90}, {"p99", "p99", 0.99}, {"p99.9", "p99_9", 0.999}};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string duration_text(std::uint64_t ns) {
  if (ns < 1'000'000) return fmt("%.1fus", static_cast<double>(ns) / 1e3);
  if (ns < 1'000'000'000) return fmt("%.2fms", static_cast<double>(ns) / 1e6);
  return fmt("%.3fs", static_cast<double>(ns) / 1e9);
}

std::string us(std::uint64_t ns) { return fmt("%.3f", static_cast<double>(ns) / 1e3); }

double per_s(std::uint64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; }

std::string mode_text(const options& o) {
  std::string m = o.rate > 0 ? fmt("open loop at %.6g req/s", o.rate) : std::string("closed loop");
  if (o.seeder) m += " (seeder)";
  return m;
}

}  // namespace

std::string render_text(const report_input& in) {
  const options& o = in.opts;
  const stats& t = in.total;
  std::string s;
  s += "tollgate-load: " + mode_text(o) + ", " + std::to_string(o.connections) + " connections, " +
       std::to_string(o.threads) + (o.threads == 1 ? " thread" : " threads") + ", pipeline " +
       std::to_string(o.pipeline) + ", " +
       (o.body.empty() ? std::to_string(o.events_per_request) : std::to_string(o.body_events) + " (--body)") +
       " events/request -> http://" + o.where.host_header + o.where.path + "\n";
  s += fmt("  duration   %.2f s\n", in.elapsed_s);
  s += "  requests   " + std::to_string(t.responses) + fmt(" answered (%.1f/s), ", per_s(t.responses, in.elapsed_s)) +
       std::to_string(t.sent) + " sent";
  if (o.rate > 0) s += ", " + std::to_string(t.unsent) + " never sent (client behind)";
  s += "\n";
  s += "  events     " + std::to_string(t.events_answered) +
       fmt(" answered (%.1f/s), ", per_s(t.events_answered, in.elapsed_s)) + std::to_string(t.accepted_events) +
       " accepted (2xx)\n";
  s += "  status    ";
  bool any = false;
  for (int code = 0; code < max_status; ++code) {
    if (t.status[code] == 0) continue;
    s += ' ';
    s += code == 0 ? std::string("other") : std::to_string(code);
    s += ": ";
    s += std::to_string(t.status[code]);
    any = true;
  }
  s += any ? "\n" : " none\n";
  const error_counts& e = t.errors;
  s += "  errors     " + std::to_string(e.total()) + " (connect " + std::to_string(e.connect) + ", read " +
       std::to_string(e.read) + ", write " + std::to_string(e.write) + ", timeout " + std::to_string(e.timeout) +
       ", parse " + std::to_string(e.parse) + ", non-2xx " + std::to_string(e.status) + ")\n";
  s += "  latency   ";
  if (t.latency.count() == 0) {
    s += " none\n";
  } else {
    for (const pct& p : percentiles) s += std::string(" ") + p.text_name + " " + duration_text(t.latency.quantile(p.q));
    s += " max " + duration_text(t.latency.max()) + " mean " +
         duration_text(static_cast<std::uint64_t>(t.latency.mean())) + "\n";
  }
  if (o.rate > 0) s += "  (open loop: latency counts from each request's intended send time)\n";
  return s;
}

std::string render_json(const report_input& in) {
  const options& o = in.opts;
  const stats& t = in.total;
  auto num = [](std::uint64_t v) { return std::to_string(v); };
  std::string s = "{";
  std::string target;
  for (char c : o.where.text) {  // a URL has no control characters; quotes and backslashes are escaped
    if (c == '"' || c == '\\') target += '\\';
    target += c;
  }
  s += "\"target\":\"" + target + "\"";
  s += ",\"url\":\"http://" + o.where.host_header + o.where.path + "\"";  // the URL requests went to
  s += ",\"mode\":\"" + std::string(o.rate > 0 ? "open" : "closed") + "\"";
  s += ",\"seeder\":" + std::string(o.seeder ? "true" : "false");
  s += ",\"connections\":" + num(o.connections) + ",\"threads\":" + num(o.threads) + ",\"pipeline\":" + num(o.pipeline);
  s += ",\"rate\":" + fmt("%.6g", o.rate);
  s += ",\"events_per_request\":" + num(o.body.empty() ? o.events_per_request : o.body_events);
  s += ",\"duration_s\":" + fmt("%.6f", in.elapsed_s);
  s += ",\"requests\":" + num(t.responses) + ",\"sent\":" + num(t.sent) + ",\"unsent\":" + num(t.unsent);
  s += ",\"requests_per_s\":" + fmt("%.3f", per_s(t.responses, in.elapsed_s));
  s += ",\"events_sent\":" + num(t.events_sent) + ",\"events\":" + num(t.events_answered);
  s += ",\"events_per_s\":" + fmt("%.3f", per_s(t.events_answered, in.elapsed_s));
  s += ",\"accepted_events\":" + num(t.accepted_events);
  s += ",\"accepted_events_per_s\":" + fmt("%.3f", per_s(t.accepted_events, in.elapsed_s));
  s += ",\"connects\":" + num(t.connects);
  s += ",\"status\":{";
  bool first = true;
  for (int code = 0; code < max_status; ++code) {
    if (t.status[code] == 0) continue;
    s += (first ? "\"" : ",\"") + (code == 0 ? std::string("other") : std::to_string(code)) + "\":" + num(t.status[code]);
    first = false;
  }
  s += "}";
  const error_counts& e = t.errors;
  s += ",\"errors\":{\"connect\":" + num(e.connect) + ",\"read\":" + num(e.read) + ",\"write\":" + num(e.write) +
       ",\"timeout\":" + num(e.timeout) + ",\"parse\":" + num(e.parse) + ",\"non_2xx\":" + num(e.status) +
       ",\"total\":" + num(e.total()) + "}";
  s += ",\"latency_us\":{\"count\":" + num(t.latency.count()) + ",\"min\":" + us(t.latency.min()) +
       ",\"mean\":" + fmt("%.3f", t.latency.mean() / 1e3);
  for (const pct& p : percentiles) s += std::string(",\"") + p.json_name + "\":" + us(t.latency.quantile(p.q));
  s += ",\"max\":" + us(t.latency.max()) + "}";
  s += "}\n";
  return s;
}

std::string render_progress(double t_s, const stats& now, const stats& before, double interval_s) {
  const double rps = per_s(now.responses - before.responses, interval_s);
  const double eps = per_s(now.events_answered - before.events_answered, interval_s);
  std::string s = fmt("%5.0fs", t_s) + fmt("  %10.0f req/s", rps) + fmt("  %11.0f ev/s", eps) + "  " +
                  std::to_string(now.errors.total()) + " errors";
  if (now.latency.count() != 0) s += "  p99 " + duration_text(now.latency.quantile(0.99));
  return s;
}

std::string run_failure(const options& o, const stats& t) {
  std::uint64_t ok = 0;
  for (int code = 200; code < 300; ++code) ok += t.status[code];
  if (ok == 0) {
    return "no request got a 2xx answer (" + std::to_string(t.sent) + " sent, " + std::to_string(t.responses) +
           " answered, " + std::to_string(t.errors.total()) + " errors)";
  }
  if (o.max_error_rate >= 0 && t.sent > 0) {
    const std::uint64_t bad = t.sent > ok ? t.sent - ok : 0;
    const double share = static_cast<double>(bad) / static_cast<double>(t.sent);
    if (share > o.max_error_rate) {
      return fmt("%.4g%%", share * 100) + " of the requests sent got no 2xx answer (" + std::to_string(bad) +
             " of " + std::to_string(t.sent) + "), above --max-error-rate " + fmt("%.4g%%", o.max_error_rate * 100);
    }
  }
  return {};
}

}  // namespace tg::load
