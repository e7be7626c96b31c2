#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Kafka output's benchmark: events per tollgate CPU-second to Kafka against
the HTTP output, side by side in one run.

tollgate (--shards 1, pinned to the last CPU) takes tollgate-load's closed loop
(100-event batches and single events) and delivers every event either to
tollgate-sink over HTTP (the baseline) or to librdkafka's mock cluster
(tollgate-kafka-mock: 3 brokers, 3 partitions) with each compression codec. The
upstream and the load generator share the other CPU; their CPU is not counted.
A row's CPU is tollgate's utime + stime (all its threads, librdkafka's included)
from the start of the load to the moment every accepted event was delivered.
Then bench/output/kafka/producer_bench (two threads through a producer each, or
through one shared producer) runs against the same mock cluster.

--before BIN adds a second tollgate binary: every Kafka row runs with BIN and
with this build's tollgate in turn, --rounds times, and the table gives the
median of each. --floor runs bench/output/kafka/floor_bench (librdkafka alone,
one thread, a ladder of configurations) against a mock cluster instead.

Prints a Markdown section; --write appends it to bench/RESULTS.md.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import macro_bench as mb  # noqa: E402  (cpu_seconds, tollgate_load)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("TOLLGATE_BUILD", os.path.join(ROOT, "build"))
TOLLGATE = os.path.join(BUILD, "src", "app", "tollgate")
SINK = os.path.join(BUILD, "tools", "sink", "tollgate-sink")
MOCK = os.path.join(BUILD, "tools", "kafka_mock", "tollgate-kafka-mock")
PRODUCER_BENCH = os.path.join(BUILD, "bench", "output", "kafka", "producer_bench")
FLOOR_BENCH = os.path.join(BUILD, "bench", "output", "kafka", "floor_bench")
RESULTS = os.path.join(ROOT, "bench", "RESULTS.md")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Proc:
    """A server started with its stderr in a file; waits for its "listening" line."""

    def __init__(self, argv, cpus, log_path):
        self.log_path = log_path
        self.err = open(log_path, "wb")
        self.p = subprocess.Popen(["taskset", "-c", cpus] + argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=self.err)
        self.pid = self.p.pid
        deadline = time.time() + 20
        self.port = None
        while time.time() < deadline and self.port is None:
            with open(log_path, "rb") as f:
                for line in f:
                    try:
                        j = json.loads(line)
                    except ValueError:
                        continue
                    if j.get("msg") == "listening":
                        self.port = int(j["port"])
            if self.p.poll() is not None:
                raise RuntimeError("%s exited: %s" % (argv[0], open(log_path).read()[-2000:]))
            time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("%s did not listen" % argv[0])

    def metrics(self):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=10).read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, v = line.rpartition(" ")
                out[name] = float(v)
        return out

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()


class Mock:
    def __init__(self, cpus):
        self.p = subprocess.Popen(["taskset", "-c", cpus, MOCK, "--brokers", "3", "--partitions", "3"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.bootstrap = self.p.stdout.readline().decode().split()[1]

    def stop(self):
        self.p.stdin.write(b"quit\n")
        self.p.stdin.flush()
        self.p.wait(30)


def delivered_key(kind):
    return "tollgate_kafka_messages_delivered_total" if kind == "kafka" else "tollgate_upstream_events_delivered_total"


def wait_drained(tg, kind, stall_s=20):
    last, last_t = -1, time.time()
    while True:
        m = tg.metrics()
        acc, done = m.get("tollgate_events_accepted_total", 0), m.get(delivered_key(kind), 0)
        if done >= acc:
            return m
        if done != last:
            last, last_t = done, time.time()
        elif time.time() - last_t > stall_s:
            raise RuntimeError("delivery stalled at %d of %d" % (done, acc))
        time.sleep(0.05)


def run_row(args, tmp, kind, codec, k, cpus, binary=TOLLGATE, who="after"):
    up = mock = None
    label = "HTTP → tollgate-sink" if kind == "http" else "Kafka, %s" % codec
    try:
        if kind == "http":
            up = Proc([SINK, "--listen", "127.0.0.1:0", "--shards", "1"], cpus["other"], os.path.join(tmp, "sink.log"))
            target = ["--upstream", "http://127.0.0.1:%d" % up.port]
        else:
            mock = Mock(cpus["other"])
            target = ["--upstream", "kafka://" + mock.bootstrap, "--kafka-option", "compression.codec=" + codec]
        tg = Proc([binary, "--listen", "127.0.0.1:0", "--shards", "1", "--buffer-bytes", args.buffer,
                   "--dead-letter", os.path.join(tmp, "dead.jsonl")] + target + args.tollgate_arg,
                  cpus["tollgate"], os.path.join(tmp, "tollgate.log"))
        try:
            mb.tollgate_load(tg.port, k, args.connections, args.warmup, cpus["other"], 1)
            m0 = wait_drained(tg, kind)
            c0 = mb.cpu_seconds([tg.pid])
            r = mb.tollgate_load(tg.port, k, args.connections, args.duration, cpus["other"], 1)
            m1 = wait_drained(tg, kind)
            c1 = mb.cpu_seconds([tg.pid])
            time.sleep(1.3)  # librdkafka's statistics (the byte counts) come once a second
            m2 = tg.metrics()
        finally:
            tg.stop()
        events = m1["tollgate_events_accepted_total"] - m0["tollgate_events_accepted_total"]
        row = {"kind": kind, "codec": codec, "k": k, "label": label, "who": who, "events": events, "cpu_s": c1 - c0,
               "events_per_cpu_s": events / (c1 - c0), "events_per_s": r["accepted_events_per_s"],
               "errors": r["errors"]["total"],
               "dead": m1.get("tollgate_dead_lettered_events_total", 0)}
        if kind == "kafka":
            sent = m2.get("tollgate_kafka_sent_bytes_total", 0) - m0.get("tollgate_kafka_sent_bytes_total", 0)
            msg = m2.get("tollgate_kafka_message_bytes_total", 0) - m0.get("tollgate_kafka_message_bytes_total", 0)
            row.update({"sent_bytes_per_event": sent / events, "message_bytes_per_event": msg / events,
                        "reproduced": m1.get("tollgate_kafka_messages_reproduced_total", 0)})
        log("%-6s %-22s k=%-3d %9.0f events/CPU-s  %9.0f events/s  (%d events, %.2f CPU-s)" % (
            who, label, k, row["events_per_cpu_s"], row["events_per_s"], events, row["cpu_s"]))
        return row
    finally:
        if up:
            up.stop()
        if mock:
            mock.stop()


def median_rows(runs):
    """One row per (body, output, binary): the run with the median events per CPU-second."""
    groups = {}
    for r in runs:
        groups.setdefault((r["k"], r["label"], r["who"]), []).append(r)
    rows = []
    for key in sorted(groups, key=lambda g: (-g[0], g[1] != "HTTP → tollgate-sink", g[1], g[2] != "before")):
        g = sorted(groups[key], key=lambda r: r["events_per_cpu_s"])
        rows.append(dict(g[len(g) // 2], errors=sum(r["errors"] for r in g), dead=sum(r["dead"] for r in g),
                         best=g[-1]["events_per_cpu_s"], worst=g[0]["events_per_cpu_s"]))
    return rows


def producer_sharing(cpus):
    mock = Mock(cpus["other"])
    try:
        env = dict(os.environ, TOLLGATE_KAFKA_BOOTSTRAP=mock.bootstrap)
        p = subprocess.run(["taskset", "-c", cpus["tollgate"], PRODUCER_BENCH, "--benchmark_format=json"],
                           capture_output=True, text=True, env=env, timeout=600)
        if p.returncode != 0:
            raise RuntimeError("producer_bench failed: " + p.stderr[-2000:])
        return json.loads(p.stdout)["benchmarks"]
    finally:
        mock.stop()


def floor(cpus, repetitions):
    mock = Mock(cpus["other"])
    try:
        env = dict(os.environ, TOLLGATE_KAFKA_BOOTSTRAP=mock.bootstrap)
        p = subprocess.run(["taskset", "-c", cpus["tollgate"], FLOOR_BENCH, "--benchmark_format=json",
                            "--benchmark_repetitions=%d" % repetitions, "--benchmark_enable_random_interleaving=true"],
                           capture_output=True, text=True, env=env, timeout=900)
        if p.returncode != 0:
            raise RuntimeError("floor_bench failed: " + p.stderr[-2000:])
        runs = {}
        for b in json.loads(p.stdout)["benchmarks"]:
            if b.get("run_type") != "aggregate":
                runs.setdefault(b["run_name"].split("/")[0], []).append(b)
        return runs
    finally:
        mock.stop()


def floor_main(args, cpus):
    load0 = os.getloadavg()
    started = datetime.datetime.utcnow()
    runs = floor(cpus, args.rounds)
    load1 = os.getloadavg()
    cmd = "scripts/kafka_bench.py " + " ".join(sys.argv[1:])
    out = ["", "librdkafka alone (`%s`, %s UTC): `bench/output/kafka/floor_bench`, one thread on CPU %s producing "
           "300,000 encoded OpenMeter messages (~310 bytes, key ~60 bytes, the three headers) per run to "
           "tollgate-kafka-mock (3 brokers, 3 partitions) on CPU %s, %d runs of each configuration in random "
           "order; CPU of the whole process (every librdkafka thread) per message, median and range. Load "
           "average %.2f at start, %.2f at end." % (cmd, started.strftime("%Y-%m-%d %H:%M"), cpus["tollgate"],
                                                   cpus["other"], args.rounds, load0[0], load1[0]), "",
           "| configuration | CPU ns per message (median) | range | messages/s (median) |", "|---|---:|---:|---:|"]
    med = lambda xs: sorted(xs)[len(xs) // 2]
    for name in sorted(runs):
        c = [b["cpu_ns_per_msg"] for b in runs[name]]
        r = [b["msgs_per_s"] for b in runs[name]]
        out.append("| %s | %.0f | %.0f-%.0f | %s |" % (name, med(c), min(c), max(c), "{:,.0f}".format(med(r))))
    text = "\n".join(out) + "\n"
    print(text)
    if args.write:
        with open(RESULTS, "a") as f:
            f.write(text)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--codecs", default="lz4,zstd,snappy,none")
    ap.add_argument("--buffer", default="1GiB", help="tollgate --buffer-bytes (1GiB)")
    ap.add_argument("--tollgate-arg", action="append", default=[], help="an extra tollgate flag (repeatable)")
    ap.add_argument("--no-sharing", action="store_true", help="skip producer_bench")
    ap.add_argument("--before", help="a baseline tollgate binary, run beside this build's in every Kafka row")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of each row (--before), or runs (--floor)")
    ap.add_argument("--bodies", default="100,1", help="events per request, comma-separated (100,1)")
    ap.add_argument("--floor", action="store_true", help="run floor_bench instead (librdkafka alone)")
    ap.add_argument("--write", action="store_true", help="append the section to bench/RESULTS.md")
    args = ap.parse_args()
    n = os.cpu_count()
    cpus = {"tollgate": str(n - 1), "other": "0-%d" % (n - 2) if n > 2 else "0"}
    if args.floor:
        return floor_main(args, cpus)
    started = datetime.datetime.utcnow()
    load0 = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory(prefix="tollgate-kafka-bench-") as tmp:
        for k in [int(x) for x in args.bodies.split(",")]:
            for _ in range(args.rounds):
                runs.append(run_row(args, tmp, "http", "-", k, cpus))
                for codec in args.codecs.split(","):
                    if args.before:
                        runs.append(run_row(args, tmp, "kafka", codec, k, cpus, args.before, "before"))
                    runs.append(run_row(args, tmp, "kafka", codec, k, cpus))
    rows = median_rows(runs)
    sharing = [] if args.no_sharing else producer_sharing(cpus)
    load1 = os.getloadavg()

    cmd = "scripts/kafka_bench.py " + " ".join(sys.argv[1:])
    out = ["", "## Kafka output vs HTTP output (%s UTC)" % started.strftime("%Y-%m-%d %H:%M"), "",
           "Command: `%s`. tollgate `--shards 1` on CPU %s; tollgate-load (%d connections, closed loop, %g s) and "
           "the upstream (tollgate-sink, or tollgate-kafka-mock: 3 brokers, 3 partitions) on CPU %s. CPU = "
           "tollgate's utime + stime, librdkafka's threads included, from the start of the load until every "
           "accepted event was delivered. Load average %.2f at start, %.2f at end." % (
               cmd, cpus["tollgate"], args.connections, args.duration, cpus["other"], load0[0], load1[0]), "",
           "| body | output | tollgate | events / tollgate CPU-s | range over the rounds | events/s | bytes sent per event | message bytes per event |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
    if args.rounds > 1:
        out[3] += " Each row: the median of %d rounds and their range (the rows of one round run one after another)." % args.rounds
    for r in rows:
        body = "%d-event batch" % r["k"] if r["k"] != 1 else "single event"
        who = "—" if r["kind"] == "http" else ("before (%s)" % args.before if r["who"] == "before" else
                                               "after (this build)" if args.before else "this build")
        sent = "%.0f" % r["sent_bytes_per_event"] if "sent_bytes_per_event" in r else "—"
        msg = "%.0f" % r["message_bytes_per_event"] if "message_bytes_per_event" in r else "—"
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (body, r["label"], who, "{:,.0f}".format(r["events_per_cpu_s"]),
                                                        "{:,.0f}-{:,.0f}".format(r["worst"], r["best"]),
                                                        "{:,.0f}".format(r["events_per_s"]), sent, msg))
    if sharing:
        out += ["", "Producer sharing (`bench/output/kafka/producer_bench`, two threads, 200,000 messages each, "
                "lz4, against the same mock cluster; CPU of the whole process):", "",
                "| producers | CPU ns per message | messages/s |", "|---|---:|---:|"]
        for b in sharing:
            if b.get("run_type") == "aggregate":
                continue
            out.append("| %s | %.0f | %s |" % (b["name"].replace("_", " "), b["cpu_ns_per_msg"],
                                               "{:,.0f}".format(b["msgs_per_s"])))
    problems = [r for r in rows if r["errors"] or r["dead"]]
    for r in problems:
        out.append("- problem: %s k=%d: %d load errors, %d dead letters" % (r["label"], r["k"], r["errors"], r["dead"]))
    text = "\n".join(out) + "\n"
    print(text)
    if args.write:
        with open(RESULTS, "a") as f:
            f.write(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
