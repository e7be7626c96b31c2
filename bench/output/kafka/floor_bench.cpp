// SPDX-License-Identifier: Apache-2.0
// The floor of librdkafka's cost per message for tollgate's workload: one
// thread (one shard) produces OpenMeter messages already encoded (the encoder
// is message_bench's) to a mock cluster in another process
// (TOLLGATE_KAFKA_BOOTSTRAP, started by scripts/kafka_bench.py --floor), under
// a ladder of configurations, each adding one change to the one before, from
// what the shard producer did first to the cheapest that keeps OpenMeter's
// format and tollgate's guarantees; then a few that break them, to show what
// they would save. Reported: CPU of the whole process per message (getrusage:
// every librdkafka thread included, the brokers not). Every delivery report
// must say delivered, or the run fails.
#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr long messages = 300000;
constexpr long distinct = 100000;  // values and keys, reused in turn
constexpr int per_batch = 100;     // one tollgate request's events
long failures = 0;

struct config {
  const char* name;
  bool copy = true;                 // RD_KAFKA_MSG_F_COPY
  // Who picks the partition: librdkafka's partitioner (RD_KAFKA_PARTITION_UA,
  // consistent_random: CRC32 of the key), tollgate with the same function
  // (rd_kafka_msg_partitioner_consistent) and an explicit partition, or
  // the same with a batch's messages produced grouped by partition, or
  // tollgate with one partition per batch of 100 in turn (not key-consistent).
  enum class part : std::uint8_t { librdkafka, key_hash, key_hash_grouped, per_batch } partition = part::librdkafka;
  bool dr_events = false;           // delivery reports in batches (RD_KAFKA_EVENT_DR) vs one callback each
  bool headers = true;              // OpenMeter's three headers (required: not a usable setting when false)
  std::vector<std::pair<const char*, const char*>> conf;
};

const std::vector<std::pair<const char*, const char*>> base_conf = {
    {"acks", "all"}, {"enable.idempotence", "true"}, {"compression.codec", "lz4"},
    {"linger.ms", "5"}, {"statistics.interval.ms", "1000"}, {"log_level", "3"}};

double cpu_now() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct corpus {
  std::vector<std::string> values, keys;
  corpus() {
    char value[400], key[96];
    for (long i = 0; i < distinct; ++i) {
      const int vn = std::snprintf(value, sizeof value,
                                   R"({"id":"%08lx-6513-470e-a69e-%012lx","type":"api-calls","source":"api-gateway",)"
                                   R"("subject":"customer-%ld","time":1795485600,"data":"{\"method\":\"GET\",)"
                                   R"(\"path\":\"/api/v1/items\",\"region\":\"us-east-1\",\"zone\":\"us-east-1a\",)"
                                   R"(\"duration_ms\":%ld}"})",
                                   0xa6a3a450ul + static_cast<unsigned long>(i), i * 7919, i % 100, 100 + i % 900);
      const int kn = std::snprintf(key, sizeof key, "default-api-gateway-%08lx-6513-470e-a69e-%012lx",
                                   0xa6a3a450ul + static_cast<unsigned long>(i), i * 7919);
      values.emplace_back(value, static_cast<std::size_t>(vn));
      keys.emplace_back(key, static_cast<std::size_t>(kn));
    }
  }
};

struct counts {
  long done = 0, failed = 0;
};

void dr_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* c = static_cast<counts*>(opaque);
  ++c->done;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++c->failed;
}

rd_kafka_t* make_producer(const config& cfg, const char* bootstrap, counts* c) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
  for (const auto& [k, v] : base_conf) rd_kafka_conf_set(conf, k, v, err, sizeof err);
  for (const auto& [k, v] : cfg.conf) {
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "floor_bench: %s=%s: %s\n", k, v, err);
      std::exit(1);
    }
  }
  if (cfg.dr_events) {
    rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR);
  } else {
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  }
  rd_kafka_conf_set_opaque(conf, c);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "floor_bench: %s\n", err);
    std::exit(1);
  }
  return rk;
}

// Serves delivery reports without waiting longer than `ms`, as a shard does
// on an iteration (statistics events are served and dropped the same way).
void serve(rd_kafka_t* rk, rd_kafka_queue_t* q, const config& cfg, counts& c, int ms) {
  if (!cfg.dr_events) {
    rd_kafka_poll(rk, ms);
    return;
  }
  const rd_kafka_message_t* batch[256];
  while (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, ms)) {
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DR) {
      std::size_t n;
      while ((n = rd_kafka_event_message_array(ev, batch, 256)) > 0) {
        for (std::size_t i = 0; i < n; ++i) {
          ++c.done;
          if (batch[i]->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++c.failed;
        }
      }
    }
    rd_kafka_event_destroy(ev);
    ms = 0;
  }
}

void run(benchmark::State& state, const config& cfg) {
  static const corpus data;
  const char* bootstrap = std::getenv("TOLLGATE_KAFKA_BOOTSTRAP");
  if (bootstrap == nullptr) {
    state.SkipWithError("TOLLGATE_KAFKA_BOOTSTRAP is not set (scripts/kafka_bench.py --floor starts a mock cluster)");
    ++failures;
    return;
  }
  counts c;
  rd_kafka_t* rk = make_producer(cfg, bootstrap, &c);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, "om_default_events", nullptr);
  rd_kafka_queue_t* q = rd_kafka_queue_get_main(rk);
  // The partition count, for the explicit partitions (a shard learns it the
  // same way, from the metadata librdkafka keeps).
  int partitions = 1;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
    partitions = md->topics[0].partition_cnt;
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  const int flags = cfg.copy ? RD_KAFKA_MSG_F_COPY : 0;
  double cpu = 0, wall = 0;
  long total = 0;
  for (auto _ : state) {
    const long before = c.done;
    const double c0 = cpu_now();
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::pair<int32_t, long>> order(per_batch);  // (partition, message) of one batch
    for (long n = 0; n < messages; ++n) {
      long i = n;
      if (cfg.partition == config::part::key_hash_grouped) {
        if (n % per_batch == 0) {
          for (long j = 0; j < per_batch; ++j) {
            const std::string& kj = data.keys[static_cast<std::size_t>((n + j) % distinct)];
            order[static_cast<std::size_t>(j)] = {
                rd_kafka_msg_partitioner_consistent(rkt, kj.data(), kj.size(), partitions, nullptr, nullptr), n + j};
          }
          std::stable_sort(order.begin(), order.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        i = order[static_cast<std::size_t>(n % per_batch)].second;
      }
      const std::string& v = data.values[static_cast<std::size_t>(i % distinct)];
      const std::string& k = data.keys[static_cast<std::size_t>(i % distinct)];
      int32_t part = RD_KAFKA_PARTITION_UA;
      if (cfg.partition == config::part::key_hash_grouped) {
        part = order[static_cast<std::size_t>(n % per_batch)].first;
      } else if (cfg.partition == config::part::key_hash) {
        part = rd_kafka_msg_partitioner_consistent(rkt, k.data(), k.size(), partitions, nullptr, nullptr);
      } else if (cfg.partition == config::part::per_batch) {
        part = static_cast<int32_t>(i / per_batch % partitions);
      }
      for (;;) {
        rd_kafka_resp_err_t e;
        if (cfg.headers) {
          e = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(part), RD_KAFKA_V_MSGFLAGS(flags),
                                RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                                RD_KAFKA_V_KEY(k.data(), k.size()), RD_KAFKA_V_TIMESTAMP(1795485600000 + i),
                                RD_KAFKA_V_HEADER("namespace", "default", 7), RD_KAFKA_V_HEADER("specversion", "1.0", 3),
                                RD_KAFKA_V_HEADER("ingested_at", "2026-11-24T02:00:00.123456789Z", 30),
                                RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(i)), RD_KAFKA_V_END);
        } else {
          e = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(part), RD_KAFKA_V_MSGFLAGS(flags),
                                RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                                RD_KAFKA_V_KEY(k.data(), k.size()), RD_KAFKA_V_TIMESTAMP(1795485600000 + i),
                                RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(i)), RD_KAFKA_V_END);
        }
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          std::fprintf(stderr, "floor_bench: %s: produce: %s\n", cfg.name, rd_kafka_err2str(e));
          ++failures;
          break;
        }
        serve(rk, q, cfg, c, 1);
      }
      if (n % per_batch == per_batch - 1) serve(rk, q, cfg, c, 0);  // a shard serves once per iteration
    }
    while (c.done - before < messages && rd_kafka_outq_len(rk) > 0) serve(rk, q, cfg, c, 10);
    const double w = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu += cpu_now() - c0;
    wall += w;
    total += messages;
    state.SetIterationTime(w);
    if (c.done - before != messages || c.failed != 0) {
      state.SkipWithError("not every message got a successful delivery report");
      std::fprintf(stderr, "floor_bench: %s: %ld reports, %ld failed\n", cfg.name, c.done - before, c.failed);
      ++failures;
    }
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  state.counters["cpu_ns_per_msg"] = cpu / static_cast<double>(total) * 1e9;
  state.counters["msgs_per_s"] = static_cast<double>(total) / wall;
  state.SetItemsProcessed(total);
}

std::vector<config> ladder() {
  std::vector<config> out;
  config c;
  c.name = "0_as_built";
  out.push_back(c);
  c.name = "1_no_copy";
  c.copy = false;
  out.push_back(c);
  c.name = "2_key_hash_partition";
  c.partition = config::part::key_hash;
  out.push_back(c);
  c.name = "3_dr_events";
  c.dr_events = true;
  out.push_back(c);
  const config best = c;
  // Each of these changes one thing of the last rung.
  const std::vector<std::pair<const char*, std::vector<std::pair<const char*, const char*>>>> sides = {
      {"s_stats_off", {{"statistics.interval.ms", "0"}}},
      {"s_codec_none", {{"compression.codec", "none"}}},
      {"s_linger_20", {{"linger.ms", "20"}}},
      {"s_linger_100", {{"linger.ms", "100"}}},
      {"s_linger_0", {{"linger.ms", "0"}}},
      // Breaks the delivery promise: what it would save.
      {"x_acks_1_no_idempotence", {{"enable.idempotence", "false"}, {"acks", "1"}}}};
  for (const auto& [name, kv] : sides) {
    c = best;
    c.name = name;
    c.conf.insert(c.conf.end(), kv.begin(), kv.end());
    out.push_back(c);
  }
  c = best;
  c.name = "s_key_hash_grouped";
  c.partition = config::part::key_hash_grouped;
  out.push_back(c);
  c = best;
  c.name = "x_partition_per_batch";  // not key-consistent: what the partitioner's placement costs
  c.partition = config::part::per_batch;
  out.push_back(c);
  c = best;
  c.name = "x_no_headers";  // breaks OpenMeter's format: what the headers cost
  c.headers = false;
  out.push_back(c);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  static const std::vector<config> configs = ladder();
  for (const config& c : configs) {
    benchmark::RegisterBenchmark(c.name, [&c](benchmark::State& s) { run(s, c); })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (failures != 0) {
    std::fprintf(stderr, "floor_bench: %ld failed runs\n", failures);
    return 1;
  }
  return 0;
}
