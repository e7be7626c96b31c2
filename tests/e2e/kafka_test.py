# SPDX-License-Identifier: Apache-2.0
"""The Kafka output end to end: the real tollgate producing to librdkafka's mock
cluster (tollgate-kafka-mock: real Kafka-protocol brokers on 127.0.0.1), read back
with a real librdkafka consumer (tollgate-kafka-consume). What must hold: every id
whose request got 204 is in the topic, in OpenMeter's exact message format, through
broker outages, message timeouts and a SIGKILL; --ack upstream answers only after
the brokers acknowledged; a message the broker refuses goes to the dead-letter file."""
import calendar
import json
import os
import re
import subprocess
import tempfile
import threading
import time

from harness import (BATCH, BIN, CE, Conn, Gateway, batch, event, http_request, metric_sum, run_tests, run_threads,
                     wait_for)

MOCK_BIN = os.environ.get("TOLLGATE_KAFKA_MOCK_BIN", "")
CONSUME_BIN = os.environ.get("TOLLGATE_KAFKA_CONSUME_BIN", "")
TOPIC = "om_default_events"
V1 = "/api/v1/events"
# librdkafka reconnects to a broker that came back after up to 10 s by default.
FAST = ["--retry-initial-ms", "20", "--retry-max-ms", "200", "--drain-timeout-ms", "5000",
        "--kafka-option", "reconnect.backoff.max.ms=200"]
# Sanitizer builds are several times slower: these only bound waits.
DELIVERY_TIMEOUT = 40.0
NANO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


class Mock:
    """tollgate-kafka-mock: a mock cluster of `brokers` brokers with the topic."""

    def __init__(self, brokers=3, partitions=3):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([MOCK_BIN, "--brokers", str(brokers), "--partitions", str(partitions),
                                      "--replication", str(min(3, brokers)), "--topic", TOPIC],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("bootstrap "), "mock cluster did not start: %r" % line
        self.bootstrap = line.split()[1]
        self.url = "kafka://" + self.bootstrap
        self.brokers = brokers

    def command(self, text):
        self.proc.stdin.write((text + "\n").encode())
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().decode().strip()
        assert answer == "ok", "%s: %s" % (text, answer)

    def down(self, *ids):
        for i in ids or range(1, self.brokers + 1):
            self.command("down %d" % i)

    def up(self, *ids):
        for i in ids or range(1, self.brokers + 1):
            self.command("up %d" % i)

    def consume(self, count=None, timeout=DELIVERY_TIMEOUT):
        """Every message in the topic, as dicts (key, headers, value...)."""
        args = [CONSUME_BIN, "--bootstrap", self.bootstrap, "--topic", TOPIC, "--timeout-ms", str(int(timeout * 1000)),
                "--idle-ms", "300"]
        if count is not None:
            args += ["--count", str(count)]
        r = subprocess.run(args, capture_output=True, timeout=timeout + 10)
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        return [json.loads(line) for line in r.stdout.decode().splitlines() if line]

    def consumed_ids(self, count=None):
        return [json.loads(m["value"])["id"] for m in self.consume(count)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        return False


def producing(mock, tmp, *flags):
    return Gateway("--dead-letter", os.path.join(tmp, "dead.jsonl"), *FAST, *flags, output=mock.url)


def delivered(g):
    return metric_sum(g.metrics(), "tollgate_kafka_messages_delivered_total")


def wait_delivered(g, n, timeout=DELIVERY_TIMEOUT):
    wait_for(lambda: delivered(g) >= n, timeout=timeout, what="%d messages delivered (have %d)" % (n, delivered(g)))


def post_all(g, ids, per_request=20):
    for i in range(0, len(ids), per_request):
        chunk = ids[i:i + per_request]
        r = g.post(batch([event(x) for x in chunk]), BATCH)
        assert r.status == 204, r


def expected_value(ev):
    """OpenMeter's value for one of the harness's events (ASCII, no <>&: the
    compact JSON Python writes is what Go would)."""
    t = ev["time"]
    secs = calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))
    data = "" if ev.get("data") is None else json.dumps(ev["data"], separators=(",", ":"))
    return json.dumps({"id": ev["id"], "type": ev["type"], "source": ev["source"], "subject": ev["subject"],
                       "time": secs, "data": data}, separators=(",", ":"))


class Load:
    """Client threads posting unique ids (batches of 10) on keep-alive connections
    until stopped; an id counts as acknowledged only when its request got 204."""

    def __init__(self, port, prefix, threads=3):
        self.port, self.prefix = port, prefix
        self.lock = threading.Lock()
        self.acked = set()
        self.errors = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, t):
        n = 0
        conn = None
        while not self.stopping.is_set():
            ids = ["%s-%d-%d" % (self.prefix, t, n + i) for i in range(10)]
            n += 10
            try:
                if conn is None:
                    conn = Conn(self.port, timeout=10)
                conn.send(http_request("POST", V1, batch([event(x) for x in ids]), {"Content-Type": BATCH}))
                r = conn.response()
            except (OSError, EOFError) as e:
                with self.lock:
                    self.errors.append(repr(e))
                conn = None
                time.sleep(0.05)
                continue
            if r.status == 204:
                with self.lock:
                    self.acked.update(ids)
            if n % 200 == 0:
                conn.close()
                conn = None
            time.sleep(0.005)
        if conn is not None:
            conn.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(20)
        with self.lock:
            return set(self.acked)


def test_every_accepted_id_arrives_in_openmeters_format_from_several_connections_on_two_shards():
    with Mock() as mock, tempfile.TemporaryDirectory() as tmp:
        with producing(mock, tmp, "--shards", "2") as g:
            ids = {}

            def client(t):
                ids[t] = ["fmt%d-%d" % (t, i) for i in range(150)]
                post_all(g, ids[t], per_request=15)
            run_threads(client, [(t,) for t in range(4)])
            expected = [x for v in ids.values() for x in v]
            wait_delivered(g, len(expected))
            m = g.metrics()
            assert metric_sum(m, "tollgate_dead_lettered_events_total") == 0
            assert metric_sum(m, "tollgate_kafka_messages_in_flight") == 0
            shards = {dict(k[1]).get("shard") for k in m if k[0] == "tollgate_kafka_messages_in_flight"}
            assert shards == {"0", "1"}, shards
            assert len([1 for line in g.log_lines() if line.get("msg") == "shard started"]) == 2
            g.stop()
        msgs = mock.consume()
        assert len(msgs) == len(expected), "%d messages for %d events (duplicates?)" % (len(msgs), len(expected))
        now = time.time()
        for msg in msgs:
            value = json.loads(msg["value"])
            ev = json.loads(event(value["id"]))
            assert msg["value"] == expected_value(ev), msg
            assert msg["key"] == "default-svc-" + ev["id"], msg
            assert msg["timestamp"] == 1672531200001, msg  # the event's time, 2023-01-01T00:00:00.001Z
            headers = dict(msg["headers"])
            assert [h[0] for h in msg["headers"]] == ["namespace", "specversion", "ingested_at"], msg
            assert headers["namespace"] == "default" and headers["specversion"] == "1.0", msg
            stamp = headers["ingested_at"]
            assert NANO_RE.match(stamp), stamp
            assert abs(calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - now) < 120, stamp
        assert sorted(json.loads(m["value"])["id"] for m in msgs) == sorted(expected)
        # One key, one partition: the partitioner is consistent for a key.
        partitions = {m["partition"] for m in msgs}
        assert len(partitions) == 3, "keys should spread over the 3 partitions: %s" % partitions


def test_data_null_missing_time_and_a_namespace_reach_the_topic_as_openmeter_writes_them():
    with Mock(partitions=1) as mock, tempfile.TemporaryDirectory() as tmp:
        with producing(mock, tmp, "--kafka-namespace", "acme", "--kafka-topic", TOPIC) as g:
            r = g.post(batch([event("n1", data=None), event("n2", data_=None, time=None),
                              event("n3", time="2023-01-01T02:00:00.999+02:00",
                                    data={"v": 12345678901234567890, "s": "caf\u00e9"})]), BATCH)
            assert r.status == 204, r
            wait_delivered(g, 3)
            g.stop()
        msgs = {json.loads(m["value"])["id"]: m for m in mock.consume()}
        assert msgs["n1"]["key"] == "acme-svc-n1"
        assert dict(msgs["n1"]["headers"])["namespace"] == "acme"
        assert json.loads(msgs["n1"]["value"])["data"] == ""
        # Without a time, tollgate's receipt time (now) is the event's time.
        assert abs(json.loads(msgs["n2"]["value"])["time"] - time.time()) < 120
        assert msgs["n2"]["timestamp"] // 1000 == json.loads(msgs["n2"]["value"])["time"]
        v3 = json.loads(msgs["n3"]["value"])
        assert v3["time"] == 1672531200 and msgs["n3"]["timestamp"] == 1672531200999, msgs["n3"]
        # data as sent: every digit of the number, the escape as the client wrote it
        assert v3["data"] == r'{"v":12345678901234567890,"s":"caf\u00e9"}', v3


def test_two_of_three_brokers_down_under_load_lose_nothing():
    with Mock() as mock, tempfile.TemporaryDirectory() as tmp:
        with producing(mock, tmp, "--shards", "2") as g:
            load = Load(g.port, "two")
            try:
                wait_for(lambda: len(load.acked) >= 300, timeout=20, what="load running")
                mock.down(1, 2)
                time.sleep(3)
                mock.up(1, 2)
                time.sleep(0.5)
            finally:
                acked = load.stop()
            assert len(acked) >= 300
            wait_delivered(g, len(acked))
            g.stop()
        got = mock.consumed_ids()
        missing = acked - set(got)
        assert not missing, "%d acknowledged ids missing, e.g. %s" % (len(missing), sorted(missing)[:5])


def test_all_brokers_down_past_the_message_timeout_then_up_lose_nothing_and_readyz_follows():
    with Mock() as mock, tempfile.TemporaryDirectory() as tmp:
        with producing(mock, tmp, "--kafka-option", "message.timeout.ms=1000") as g:
            wait_for(lambda: g.request("GET", "/readyz").status == 200, what="ready with brokers up")
            mock.down()
            ids = ["down-%d" % i for i in range(300)]
            post_all(g, ids)
            wait_for(lambda: metric_sum(g.metrics(), "tollgate_kafka_messages_reproduced_total") >= len(ids),
                     timeout=DELIVERY_TIMEOUT, what="timed-out messages produced again")
            m = g.metrics()
            assert metric_sum(m, "tollgate_kafka_messages_failed_total") >= len(ids)
            assert metric_sum(m, "tollgate_kafka_messages_delivered_total") == 0
            wait_for(lambda: g.request("GET", "/readyz").status == 503, what="/readyz failing with no broker")
            mock.up()
            wait_delivered(g, len(ids))
            wait_for(lambda: g.request("GET", "/readyz").status == 200, what="ready again")
            g.stop()
        got = mock.consumed_ids()
        assert set(ids) <= set(got), "missing %s" % sorted(set(ids) - set(got))[:5]


def test_every_204_survives_sigkill_with_ack_durable_and_a_spool():
    with Mock() as mock, tempfile.TemporaryDirectory() as tmp:
        spool = os.path.join(tmp, "spool")
        os.makedirs(spool)
        flags = ("--ack", "durable", "--spool-dir", spool, "--shards", "2")
        mock.down()
        g = producing(mock, tmp, *flags)
        try:
            load = Load(g.port, "kill")
            try:
                # Enough 204s that some were surely in flight to the broker at the kill;
                # a bound on the wait, not a timing: a loaded machine syncs slowly.
                wait_for(lambda: len(load.acked) >= 200, timeout=60, what="durable acks")
            finally:
                g.kill()
                acked = load.stop()
        finally:
            g.kill()
            g.tmp.cleanup()
        mock.up()
        with producing(mock, tmp, *flags) as g2:
            wait_for(lambda: metric_sum(g2.metrics(), "tollgate_spool_replayed_events_total") >= len(acked),
                     timeout=DELIVERY_TIMEOUT, what="the spool replayed")
            wait_for(lambda: g2.request("GET", "/metrics").status == 200 and
                     acked <= set(mock.consumed_ids()), timeout=DELIVERY_TIMEOUT, what="every 204 in the topic")
            g2.stop()


def test_ack_upstream_answers_only_after_the_broker_acknowledged():
    with Mock(partitions=1) as mock, tempfile.TemporaryDirectory() as tmp:
        with producing(mock, tmp, "--ack", "upstream", "--ack-timeout-ms", "1500") as g:
            for b in range(1, 4):
                mock.command("rtt %d 400" % b)
            r = g.post(event("warm"), CE)  # connections and metadata before timing
            assert r.status == 204, r
            t0 = time.monotonic()
            r = g.post(event("ack-1"), CE)
            elapsed = time.monotonic() - t0
            assert r.status == 204, r
            assert elapsed >= 0.4, "answered before the broker could have acknowledged (%.3fs)" % elapsed
            for b in range(1, 4):
                mock.command("rtt %d 0" % b)  # the consumer's round trips need no delay
            assert "ack-1" in mock.consumed_ids(count=2), "204 came before the topic had the event"

            mock.down()
            t0 = time.monotonic()
            r = g.post(event("ack-2"), CE)
            assert r.status == 504, r
            assert time.monotonic() - t0 >= 1.4
            assert metric_sum(g.metrics(), "tollgate_ack_timeouts_total") == 1
            mock.up()
            wait_delivered(g, 3)
            g.stop()
        assert {"warm", "ack-1", "ack-2"} <= set(mock.consumed_ids())


def test_a_message_the_broker_refuses_is_dead_lettered_and_the_rest_delivered():
    with Mock(partitions=1) as mock, tempfile.TemporaryDirectory() as tmp:
        dead = os.path.join(tmp, "dead.jsonl")
        with producing(mock, tmp) as g:
            assert g.post(event("before"), CE).status == 204
            wait_delivered(g, 1)
            mock.command("produce-errors 87 1")  # INVALID_RECORD for the next Produce request
            assert g.post(event("poison"), CE).status == 204
            wait_for(lambda: metric_sum(g.metrics(), "tollgate_dead_lettered_events_total") == 1,
                     what="the refused message dead-lettered")
            assert g.post(event("after"), CE).status == 204
            wait_delivered(g, 2)
            g.stop()
        with open(dead) as f:
            lines = [json.loads(line) for line in f]
        assert len(lines) == 1, lines
        assert lines[0]["event"]["id"] == "poison" and lines[0]["status"] == 87, lines
        assert "record" in lines[0]["detail"].lower(), lines
        got = mock.consumed_ids()
        assert "before" in got and "after" in got and "poison" not in got, got


def test_unknown_kafka_options_fail_the_start_and_secrets_are_never_logged():
    r = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--upstream", "kafka://127.0.0.1:9",
                        "--kafka-option", "no.such.thing=1"], capture_output=True, timeout=15, stdin=subprocess.DEVNULL)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "No such configuration property" in err and "no.such.thing" in err, err
    r = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--upstream", "kafka://127.0.0.1:9", "--kafka-option",
                        "novalue"], capture_output=True, timeout=15, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "KEY=VALUE" in r.stderr.decode(), r.stderr
    with Mock(partitions=1) as mock, tempfile.TemporaryDirectory() as tmp:
        with producing(mock, tmp, "--kafka-option", "sasl.password=hunter2-secret",
                       "--kafka-option", "sasl.username=alice") as g:
            assert g.post(event("s1"), CE).status == 204
            wait_delivered(g, 1)
            g.stop()
            assert "hunter2-secret" not in g.stderr(), g.stderr()
            assert "sasl.password=***" in g.stderr()


run_tests(globals())
