# SPDX-License-Identifier: Apache-2.0
"""tollgate-sink end to end: the real binary on 127.0.0.1 port 0, spoken to over raw
sockets. OpenMeter's answers (204 with nothing else, 400 problem+json), the counters
(distinct ids and duplicates, process-wide across shards), --record, --token, and
every fault, set by flags and at run time through /faults."""
import json
import os
import subprocess
import tempfile
import time

import harness
from harness import BATCH, CE, Gateway, assert_problem, batch, event, run_tests

SINK = os.environ.get("TOLLGATE_SINK_BIN", os.path.join(harness.ROOT, "build-sink", "tools", "sink", "tollgate-sink"))
harness.BIN = SINK  # run_tests checks that the binary under test exists


class Sink(Gateway):
    """One tollgate-sink process; the harness's Gateway does the rest (port, stop, clients)."""

    def __init__(self, *flags):
        self.tmp = tempfile.TemporaryDirectory(prefix="tollgate-sink-e2e-")
        self.out_path = os.path.join(self.tmp.name, "record.jsonl")
        self.err_path = os.path.join(self.tmp.name, "stderr.log")
        self._spawn([SINK, "--listen", "127.0.0.1:0", *flags])

    def stats(self):
        r = self.request("GET", "/stats")
        assert r.status == 200 and r.header("Content-Type") == "application/json", r
        return r.json()

    def faults(self, **settings):
        r = self.request("POST", "/faults", json.dumps(settings).encode(), {"Content-Type": "application/json"})
        assert r.status == 200, r
        return r.json()


def assert_204(r):
    assert r.status == 204, r
    assert r.header("Content-Type") is None and r.header("Content-Length") is None and r.body == b"", r


def test_accepts_the_three_content_types_and_counts_distinct_ids():
    with Sink() as s:
        assert_204(s.post(event("a")))
        assert_204(s.post(batch([event("b"), event("c"), event("a")]), BATCH))
        assert_204(s.post(event("d"), "application/json"))
        assert_204(s.post(batch([event("d", source="other"), event("e")]), "application/json"))
        assert_204(s.post(b"[]", BATCH))
        st = s.stats()
        assert st["requests"] == 5 and st["accepted_requests"] == 5, st
        assert st["events"] == 7 and st["distinct"] == 6 and st["duplicates"] == 1, st
        assert st["rejected_requests"] == 0 and st["unauthorized"] == 0, st
        assert st["faults_injected"] == {"status": 0, "dropped": 0, "poison": 0}, st
        assert 0 < st["first_event_at"] <= st["last_event_at"] <= time.time() * 1000 + 1000, st
        s.stop()


def test_rejects_what_openmeter_rejects_and_counts_nothing_of_it():
    with Sink() as s:
        assert_problem(s.post(event("a", subject=None)), 400, "subject")
        assert_problem(s.post(batch([event("ok"), event("bad", specversion="2.0")]), BATCH), 400, "specversion")
        assert_problem(s.post(event("a"), "application/json; charset=utf-8"), 400, "content type")
        assert_problem(s.post(event("a"), "Application/JSON"), 400, "unexpected value")
        assert_problem(s.post(event("a"), None), 400, "unexpected value")
        assert_problem(s.post(b"{", CE), 400)
        r = s.request("PUT", "/api/v1/events", b"{}")
        assert r.status == 405 and r.header("Allow") == "GET, POST", r
        st = s.stats()
        assert st["rejected_requests"] == 6 and st["events"] == 0 and st["distinct"] == 0, st
        assert st["first_event_at"] is None, st
        s.stop()


def test_record_appends_accepted_events_as_json_lines():
    with _recording_sink() as (s, path):
        pretty = b'[\r\n  ' + event("p1") + b',\n  ' + event("p2").replace(b',"type"', b',\n"type"') + b'\n]'
        assert_204(s.post(pretty, BATCH))
        assert_204(s.post(event("p3")))
        assert_problem(s.post(event("p4", subject=None)), 400)
        s.stop()
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    assert lines[-1] == b"", lines
    assert [json.loads(l)["id"] for l in lines[:-1]] == ["p1", "p2", "p3"], lines
    assert lines[0] == event("p1") and lines[2] == event("p3"), lines
    assert lines[1] == event("p2").replace(b',"type"', b', "type"'), lines  # the LF became a space


class _recording_sink:
    def __enter__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="tollgate-sink-record-")
        self.path = os.path.join(self.dir.name, "events.jsonl")
        self.sink = Sink("--record", self.path)
        return self.sink, self.path

    def __exit__(self, *exc):
        self.sink.__exit__(*exc)
        self.dir.cleanup()
        return False


def test_token_is_required_when_given():
    with Sink("--token", "s3cret") as s:
        assert_problem(s.post(event("a")), 401, "missing")
        assert_problem(s.post(event("a"), headers={"Authorization": "Bearer wrong"}), 401, "invalid")
        assert_problem(s.post(event("a"), headers={"Authorization": "Basic s3cret"}), 401)
        assert_204(s.post(event("a"), headers={"Authorization": "Bearer s3cret"}))
        st = s.stats()
        assert st["unauthorized"] == 3 and st["events"] == 1 and st["requests"] == 4, st
        s.stop()


def test_a_run_of_503_with_retry_after_then_204():
    with Sink() as s:
        f = s.faults(status=503, status_count=3, retry_after="1")
        assert f["status_count"] == 3 and f["status"] == 503 and f["retry_after"] == "1", f
        for _ in range(3):
            r = s.post(event("run"))
            assert_problem(r, 503, "injected")
            assert r.header("Retry-After") == "1", r
        assert_204(s.post(event("run")))
        assert_204(s.post(event("run2")))
        assert s.request("GET", "/faults").json()["status_count"] == 0
        st = s.stats()
        assert st["faults_injected"]["status"] == 3 and st["events"] == 2 and st["requests"] == 5, st
        s.stop()


def test_faults_from_flags_429_run_and_ratio():
    with Sink("--fail-status", "429", "--fail-count", "2", "--retry-after", "7") as s:
        for _ in range(2):
            r = s.post(event("x"))
            assert r.status == 429 and r.header("Retry-After") == "7", r
        assert_204(s.post(event("x")))
        s.faults(status=500, status_ratio=1, retry_after=None)
        r = s.post(event("y"))
        assert r.status == 500 and r.header("Retry-After") is None, r
        assert "detail" not in r.json(), r  # OpenMeter blanks its 500s' detail
        r = s.request("DELETE", "/faults")
        assert r.status == 200 and r.json()["status_ratio"] == 0, r
        assert_204(s.post(event("y")))
        s.stop()


def test_bad_faults_json_is_refused_and_changes_nothing():
    with Sink() as s:
        s.faults(latency_ms=0, status_count=0)
        for body in (b'{"status_count":2,"nope":1}', b'{"drop_ratio":3}', b"[]", b"{"):
            r = s.request("POST", "/faults", body, {"Content-Type": "application/json"})
            assert_problem(r, 400, "faults")
        assert s.request("GET", "/faults").json()["status_count"] == 0
        assert_204(s.post(event("z")))
        s.stop()


def test_reject_id_prefix_refuses_the_whole_request():
    with Sink() as s:
        s.faults(reject_id_prefix="poison-")
        r = s.post(batch([event("good-1"), event("poison-7"), event("good-2")]), BATCH)
        assert_problem(r, 400, "poison-7")
        assert_204(s.post(batch([event("good-1"), event("good-2")]), BATCH))
        st = s.stats()
        assert st["faults_injected"]["poison"] == 1 and st["rejected_requests"] == 1, st
        assert st["events"] == 2 and st["distinct"] == 2 and st["duplicates"] == 0, st
        s.stop()


def test_dropped_connections_get_no_response_and_count_nothing():
    with Sink() as s:
        s.faults(drop_count=2)
        for _ in range(2):
            with s.connect() as c:
                c.send(harness.http_request("POST", "/api/v1/events", event("d"), {"Content-Type": CE}))
                assert c.closed_by_peer(), "the sink did not close the connection"
                assert c.buf == b"", c.buf
        assert_204(s.post(event("d")))
        st = s.stats()
        assert st["faults_injected"]["dropped"] == 2 and st["events"] == 1 and st["accepted_requests"] == 1, st
        s.stop()


def test_added_latency_delays_ingest_responses():
    with Sink() as s:
        s.faults(latency_ms=100)
        t0 = time.monotonic()
        assert_204(s.post(event("slow")))
        elapsed = time.monotonic() - t0
        # A lower bound only (a loaded machine is slower): the sink times the
        # delay with the precise clock from when it first held the request.
        assert elapsed >= 0.1, elapsed
        s.faults(latency_ms=5000)
        t0 = time.monotonic()
        assert s.request("GET", "/stats").status == 200
        assert time.monotonic() - t0 < 2.5  # control endpoints are never delayed
        s.faults(latency_ms=0)
        assert s.stats()["events"] == 1
        s.stop()


def test_reset_forgets_counts_and_ids():
    with Sink() as s:
        assert_204(s.post(batch([event("r1"), event("r1")]), BATCH))
        assert s.stats()["duplicates"] == 1
        r = s.request("POST", "/reset")
        assert r.status == 204, r
        st = s.stats()
        assert st["requests"] == st["events"] == st["distinct"] == st["duplicates"] == 0, st
        assert st["first_event_at"] is None, st
        assert_204(s.post(event("r1")))
        st = s.stats()
        assert st["distinct"] == 1 and st["duplicates"] == 0, st
        s.stop()


def test_distinct_ids_are_counted_across_shards():
    with Sink("--shards", "2") as s:
        for i in range(40):  # new connections: SO_REUSEPORT spreads them over both shards
            assert_204(s.post(event("same-%d" % (i % 4))))
        st = s.stats()
        assert st["events"] == 40 and st["distinct"] == 4 and st["duplicates"] == 36, st
        s.stop()


def test_a_run_is_exact_across_shards():
    with Sink("--shards", "2") as s:
        s.faults(status=429, status_count=5)
        statuses = [s.post(event("k-%d" % i)).status for i in range(20)]
        assert statuses.count(429) == 5 and statuses.count(204) == 15, statuses
        assert statuses[:5] == [429] * 5, statuses  # sequential requests: the run comes first
        s.stop()


def test_control_endpoints():
    with Sink() as s:
        r = s.request("GET", "/healthz")
        assert r.status == 200 and r.body == b"ok\n", r
        r = s.request("HEAD", "/stats")
        assert r.status == 200 and int(r.header("Content-Length")) > 0 and r.body == b"", r
        assert s.request("GET", "/nope").status == 404
        r = s.request("GET", "/reset")
        assert r.status == 405 and r.header("Allow") == "POST", r
        s.stop()


def test_help_and_usage_errors():
    r = subprocess.run([SINK, "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0, r
    for flag in ("--listen", "--shards", "--record", "--token", "--latency-ms", "--fail-status", "--fail-count",
                 "--fail-ratio", "--retry-after", "--reject-id-prefix", "--drop-count", "--drop-ratio", "--tick-ms",
                 "--log-level", "--max-body-bytes"):
        assert flag.encode() in r.stdout, flag
    r = subprocess.run([SINK, "--fail-ratio", "2"], capture_output=True, timeout=10)
    assert r.returncode == 2 and b"--fail-ratio" in r.stderr, r


run_tests(globals())
