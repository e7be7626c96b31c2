// SPDX-License-Identifier: Apache-2.0
// tollgate-kafka-consume: reads a topic from the beginning of every partition
// with a librdkafka consumer and prints each message as one JSON line:
//   {"partition":P,"offset":O,"timestamp":MS,"key":"...","headers":[["name","value"],...],"value":"..."}
// (key, header values and value as JSON strings). Stops after --count
// messages, or once every partition is at its end and nothing new came for
// --idle-ms, or after --timeout-ms; exits 0, or 1 on an error.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tollgate/base/json_escape.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

void put_string(std::string& out, const void* p, std::size_t n) {
  out += '"';
  if (p != nullptr) tg::append_json_escaped(out, {static_cast<const char*>(p), n});
  out += '"';
}

int usage() {
  std::fprintf(stderr,
               "usage: tollgate-kafka-consume --bootstrap SERVERS --topic NAME [--count N] [--idle-ms MS] "
               "[--timeout-ms MS]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, topic;
  long count = -1, idle_ms = 500, timeout_ms = 20000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const char* v = argv[++i];
    if (a == "--bootstrap") bootstrap = v;
    else if (a == "--topic") topic = v;
    else if (a == "--count") count = std::atol(v);
    else if (a == "--idle-ms") idle_ms = std::atol(v);
    else if (a == "--timeout-ms") timeout_ms = std::atol(v);
    else return usage();
  }
  if (bootstrap.empty() || topic.empty()) return usage();

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, const char*> settings[] = {
      {"bootstrap.servers", bootstrap.c_str()}, {"group.id", "tollgate-kafka-consume"},
      {"enable.auto.commit", "false"}, {"enable.partition.eof", "true"}, {"log_level", "3"}};
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "tollgate-kafka-consume: %s\n", err);
      return 1;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "tollgate-kafka-consume: %s\n", err);
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);

  // Every partition of the topic, from its first offset.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(timeout_ms));
  rd_kafka_topic_destroy(rkt);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "tollgate-kafka-consume: metadata for %s: %s\n", topic.c_str(),
                 rd_kafka_err2str(e != RD_KAFKA_RESP_ERR_NO_ERROR ? e : md->topics[0].err));
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return 1;
  }
  const int partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);

  long seen = 0;
  int at_end = 0;
  int status = 0;
  auto last = clock_type::now();
  std::string line;
  while ((count < 0 || seen < count) && clock_type::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) {
      if (count < 0 && at_end >= partitions && clock_type::now() - last > std::chrono::milliseconds(idle_ms)) break;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++at_end;
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "tollgate-kafka-consume: %s\n", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      status = 1;
      break;
    }
    last = clock_type::now();
    rd_kafka_timestamp_type_t tstype;
    const std::int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    line = "{\"partition\":" + std::to_string(m->partition) + ",\"offset\":" + std::to_string(m->offset) +
           ",\"timestamp\":" + std::to_string(ts) + ",\"key\":";
    put_string(line, m->key, m->key_len);
    line += ",\"headers\":[";
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* val;
      std::size_t size;
      for (std::size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        if (i > 0) line += ',';
        line += '[';
        put_string(line, name, std::string_view(name).size());
        line += ',';
        put_string(line, val, size);
        line += ']';
      }
    }
    line += "],\"value\":";
    put_string(line, m->payload, m->len);
    line += "}\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    ++seen;
    rd_kafka_message_destroy(m);
  }
  std::fflush(stdout);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return status;
}
