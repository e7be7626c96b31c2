// SPDX-License-Identifier: Apache-2.0
// tollgate-kafka-mock: librdkafka's in-process mock Kafka cluster (a real
// Kafka-protocol broker set on 127.0.0.1, from rdkafka_mock.h) for the Kafka
// output's tests and benchmarks. Prints "bootstrap HOST:PORT,..." once the
// brokers listen, then takes one command per line on stdin and answers "ok"
// (or "error ..."):
//   down ID | up ID      take broker ID (1..N) down (connections closed,
//                        none accepted) or bring it back
//   rtt ID MS            delay broker ID's responses by MS milliseconds
//   produce-errors CODE COUNT   the next COUNT Produce requests fail with
//                        Kafka error CODE (87: INVALID_RECORD, ...)
//   quit                 (or end of input) destroys the cluster and exits
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: tollgate-kafka-mock [--brokers N] [--topic NAME] [--partitions N] [--replication N]\n"
               "  Starts librdkafka's mock cluster (default 3 brokers, topic om_default_events with 3\n"
               "  partitions, replication 3), prints \"bootstrap SERVERS\", then reads commands on stdin:\n"
               "  down ID, up ID, rtt ID MS, quit.\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3, partitions = 3, replication = 3;
  std::string topic = "om_default_events";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const char* v = argv[++i];
    if (a == "--brokers") brokers = std::atoi(v);
    else if (a == "--topic") topic = v;
    else if (a == "--partitions") partitions = std::atoi(v);
    else if (a == "--replication") replication = std::atoi(v);
    else return usage();
  }
  if (brokers < 1 || partitions < 1 || replication < 1 || replication > brokers) return usage();

  // The mock cluster needs a client instance to live in; this one produces
  // nothing and its log goes to stderr.
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "tollgate-kafka-mock: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    std::fprintf(stderr, "tollgate-kafka-mock: cannot create the mock cluster\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  if (rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topic.c_str(), partitions, replication)) {
    std::fprintf(stderr, "tollgate-kafka-mock: topic %s: %s\n", topic.c_str(), rd_kafka_err2str(e));
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 1;
  }
  std::printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  std::fflush(stdout);

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd.empty()) continue;
    if (cmd == "quit") break;
    int id = 0;
    in >> id;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cmd == "down") {
      e = rd_kafka_mock_broker_set_down(mc, id);
    } else if (cmd == "up") {
      e = rd_kafka_mock_broker_set_up(mc, id);
    } else if (cmd == "produce-errors") {
      // The next COUNT Produce requests (to any broker) fail with error CODE.
      int count = 0;
      in >> count;  // the code was read as `id`
      for (int k = 0; k < count; ++k) {
        rd_kafka_mock_push_request_errors(mc, 0 /* Produce */, 1, static_cast<rd_kafka_resp_err_t>(id));
      }
    } else if (cmd == "rtt") {
      int ms = 0;
      in >> ms;
      e = rd_kafka_mock_broker_set_rtt(mc, id, ms);
    } else {
      std::printf("error unknown command %s\n", cmd.c_str());
      std::fflush(stdout);
      continue;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) std::printf("error %s\n", rd_kafka_err2str(e));
    else std::printf("ok\n");
    std::fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
