// SPDX-License-Identifier: Apache-2.0
// Whether the shards should share one librdkafka producer or have one each:
// two threads (two shards) produce OpenMeter messages of the usual size to a
// mock cluster in another process (TOLLGATE_KAFKA_BOOTSTRAP, started by
// scripts/kafka_bench.py), either through a producer each or through one
// producer they share. Reported: the process's CPU per message (getrusage:
// every librdkafka thread included, the brokers not) and messages per second.
// Every delivery report must say delivered, or the run fails.
#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int threads = 2;
constexpr long per_thread = 200000;
std::atomic<long> failures{0};

double cpu_now() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void dr(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) failures.fetch_add(1);
  static_cast<std::atomic<long>*>(opaque)->fetch_add(1, std::memory_order_relaxed);
}

rd_kafka_t* producer(const char* bootstrap, std::atomic<long>* done) {
  char err[512];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  const std::pair<const char*, const char*> kv[] = {{"bootstrap.servers", bootstrap}, {"acks", "all"},
                                                    {"enable.idempotence", "true"}, {"compression.codec", "lz4"},
                                                    {"linger.ms", "5"}, {"log_level", "3"}};
  for (const auto& [k, v] : kv) rd_kafka_conf_set(c, k, v, err, sizeof err);
  rd_kafka_conf_set_dr_msg_cb(c, dr);
  rd_kafka_conf_set_opaque(c, done);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "producer_bench: %s\n", err);
    std::exit(1);
  }
  return rk;
}

// One thread's messages, produced without blocking: a full queue is served
// with rd_kafka_poll(rk, 0), as a shard would on its next iteration.
void produce(rd_kafka_t* rk, rd_kafka_topic_t* rkt, int t, long n) {
  char value[300], key[80];
  for (long i = 0; i < n; ++i) {
    const int vn = std::snprintf(value, sizeof value,
                                 R"({"id":"%08x-6513-470e-a69e-%012lx","type":"api-calls","source":"api-gateway",)"
                                 R"("subject":"customer-%ld","time":1795485600,"data":"{\"method\":\"GET\",)"
                                 R"(\"path\":\"/api/v1/items\",\"region\":\"us-east-1\",\"zone\":\"us-east-1a\",)"
                                 R"(\"duration_ms\":%ld}"})",
                                 0xa6a3a450u + static_cast<unsigned>(t), i, i % 100, 100 + i % 900);
    const int kn = std::snprintf(key, sizeof key, "default-api-gateway-%d-%ld", t, i);
    for (;;) {
      const rd_kafka_resp_err_t e = rd_kafka_producev(
          rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(value, static_cast<size_t>(vn)),
          RD_KAFKA_V_KEY(key, static_cast<size_t>(kn)), RD_KAFKA_V_HEADER("namespace", "default", 7),
          RD_KAFKA_V_HEADER("specversion", "1.0", 3), RD_KAFKA_V_HEADER("ingested_at", "2026-11-24T02:00:00.123456789Z", 30),
          RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        failures.fetch_add(1);
        break;
      }
      rd_kafka_poll(rk, 1);
    }
    if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
  }
}

void run(benchmark::State& state, bool shared) {
  const char* bootstrap = std::getenv("TOLLGATE_KAFKA_BOOTSTRAP");
  if (bootstrap == nullptr) {
    state.SkipWithError("TOLLGATE_KAFKA_BOOTSTRAP is not set (scripts/kafka_bench.py starts a mock cluster)");
    failures.fetch_add(1);
    return;
  }
  std::atomic<long> done{0};
  std::vector<rd_kafka_t*> rks;
  for (int t = 0; t < (shared ? 1 : threads); ++t) rks.push_back(producer(bootstrap, &done));
  std::vector<rd_kafka_topic_t*> rkts;
  for (rd_kafka_t* rk : rks) rkts.push_back(rd_kafka_topic_new(rk, "om_default_events", nullptr));
  double cpu = 0, wall = 0;
  long total = 0;
  for (auto _ : state) {
    const long before = done.load();
    const double c0 = cpu_now();
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      const std::size_t k = shared ? 0 : static_cast<std::size_t>(t);
      ts.emplace_back([&, t, k] { produce(rks[k], rkts[k], t, per_thread); });
    }
    for (auto& th : ts) th.join();
    for (rd_kafka_t* rk : rks) rd_kafka_flush(rk, 60000);
    const double w = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu += cpu_now() - c0;
    wall += w;
    total += threads * per_thread;
    state.SetIterationTime(w);
    if (done.load() - before != threads * per_thread) {
      state.SkipWithError("not every message got its delivery report");
      failures.fetch_add(1);
    }
  }
  for (std::size_t i = 0; i < rks.size(); ++i) {
    rd_kafka_topic_destroy(rkts[i]);
    rd_kafka_destroy(rks[i]);
  }
  state.counters["cpu_ns_per_msg"] = cpu / static_cast<double>(total) * 1e9;
  state.counters["msgs_per_s"] = static_cast<double>(total) / wall;
  state.SetItemsProcessed(total);
}

void producer_per_shard(benchmark::State& state) { run(state, false); }
void one_shared_producer(benchmark::State& state) { run(state, true); }
BENCHMARK(producer_per_shard)->Iterations(3)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(one_shared_producer)->Iterations(3)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (failures.load() != 0) {
    std::fprintf(stderr, "producer_bench: %ld failed deliveries or runs\n", failures.load());
    return 1;
  }
  return 0;
}
