# SPDX-License-Identifier: Apache-2.0
"""tollgate-load end to end: against a real tollgate writing to a file, every event
tollgate-load reports as accepted is in the file exactly once (its ids are unique
across the run), an open-loop run sends what its rate asks for, the command line
people type for wrk/hey/vegeta works (a base URL as the argument, units, -c4),
and the exit status says usage error (2), unreachable target or no success (1)
and too many non-2xx answers for --max-error-rate (1) apart."""
import json
import os
import socket
import subprocess
import tempfile

from harness import Gateway, run_tests
from upstreams import Sink

LOAD = os.environ.get("TOLLGATE_LOAD_BIN", "")
RUN_TIMEOUT = 60.0  # a 2 s run; the bound is for a hung binary only


def load(*args, expect_rc=0):
    assert LOAD and os.access(LOAD, os.X_OK), "TOLLGATE_LOAD_BIN is not set to the tollgate-load binary: %r" % LOAD
    r = subprocess.run([LOAD] + [str(a) for a in args], capture_output=True, timeout=RUN_TIMEOUT)
    assert r.returncode == expect_rc, "tollgate-load exited %d, expected %d\nstdout: %s\nstderr: %s" % (
        r.returncode, expect_rc, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))
    return r


def load_json(port, *args):
    r = load("--target", "http://127.0.0.1:%d/api/v1/events" % port, "--json", *args)
    # Not a terminal: no progress line, so stderr stays empty and stdout is one object.
    assert r.stderr == b"", r.stderr
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1, r.stdout
    return json.loads(lines[0])


def test_closed_loop_accepted_events_are_all_in_the_output_once():
    with Gateway("--shards", "1") as g:
        rep = load_json(g.port, "--duration", "2", "--connections", "8", "--events-per-request", "5")
        g.stop()
        out = g.output()
    assert rep["mode"] == "closed"
    assert rep["requests"] > 0, rep
    assert rep["errors"]["total"] == 0, rep
    assert rep["status"] == {"204": rep["requests"]}, rep
    assert rep["accepted_events"] == 5 * rep["requests"] == rep["events_sent"], rep
    assert len(out) == rep["accepted_events"], (len(out), rep)
    ids = set()
    for line in out:
        ev = json.loads(line)
        assert ev["type"] == "api-calls" and ev["source"] == "api-gateway", ev
        ids.add(ev["id"])
    assert len(ids) == len(out), "duplicate ids: %d distinct of %d" % (len(ids), len(out))
    lat = rep["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"], lat


def test_open_loop_sends_at_the_asked_rate():
    with Gateway("--shards", "1") as g:
        rep = load_json(g.port, "--rate", "500", "--duration", "2", "--connections", "8")
        g.stop()
        out = g.output()
    assert rep["mode"] == "open"
    assert 900 <= rep["requests"] <= 1100, rep
    assert rep["sent"] + rep["unsent"] == 1000, rep
    assert rep["errors"]["total"] == 0, rep
    assert len(out) == rep["accepted_events"] == rep["requests"], (len(out), rep)
    assert 1.8 <= rep["duration_s"] <= 4.0, rep


def test_pipelined_batches_across_threads_keep_ids_unique():
    with Gateway("--shards", "1") as g:
        rep = load_json(g.port, "--requests", "400", "--connections", "4", "--threads", "2", "--pipeline", "4",
                        "--events-per-request", "25")
        g.stop()
        out = g.output()
    assert rep["requests"] == 400 and rep["accepted_events"] == 10000, rep
    assert len(out) == 10000
    assert len({json.loads(line)["id"] for line in out}) == 10000


def test_exit_status_for_usage_errors_help_and_unreachable_targets():
    r = load("--help")
    assert b"--events-per-request" in r.stdout
    r = load("--connections", "0", expect_rc=2)
    assert b"--connections" in r.stderr
    # A port nobody listens on: bind one and close it, so the connect is refused.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = load("--target", "http://127.0.0.1:%d/api/v1/events" % port, "--duration", "1", expect_rc=1)
    assert b"could not connect" in r.stderr, r.stderr



def test_a_base_url_argument_with_units_and_attached_flags_posts_to_the_ingest_path():
    with Gateway("--shards", "1") as g:
        # What a wrk/hey user types: the URL as it is given to the SDKs, no path.
        r = load("http://127.0.0.1:%d" % g.port, "-c4", "-d1s", "--timeout", "2s", "--json")
        rep = json.loads(r.stdout)
        m = g.metrics()
        g.stop()
        out = g.output()
    assert rep["url"] == "http://127.0.0.1:%d/api/v1/events" % g.port, rep
    assert rep["requests"] > 0 and rep["status"] == {"204": rep["requests"]}, rep
    assert 0.9 <= rep["duration_s"] <= 4.0, rep
    assert len(out) == rep["accepted_events"] == rep["requests"], (len(out), rep)
    accepted = m.get(("tollgate_http_requests_total", (("endpoint", "/api/v1/events"), ("status", "204"))), 0)
    assert accepted == rep["requests"], (accepted, rep)


def test_version():
    r = load("--version")
    assert r.stdout.startswith(b"tollgate-load ") and r.stdout.strip().split()[-1][:1].isdigit(), r.stdout


def test_exit_1_when_no_request_got_a_2xx_answer():
    with Gateway("--shards", "1") as g, tempfile.TemporaryDirectory() as tmp:
        body = os.path.join(tmp, "bad.json")
        with open(body, "w") as f:
            f.write("{}")  # not an event: 400 every time
        r = load("http://127.0.0.1:%d" % g.port, "-n", "20", "-c2", "--body", body, "--json", expect_rc=1)
        g.stop()
    rep = json.loads(r.stdout)  # the report is still printed
    assert rep["status"] == {"400": 20}, rep
    assert b"no request got a 2xx answer" in r.stderr, r.stderr


def test_max_error_rate_fails_a_run_with_more_non_2xx_than_it_allows():
    # The sink answers the first 50 requests 503, then 204: 25% of 200 fail.
    with Sink("--fail-status", "503", "--fail-count", "50", "--retry-after", "") as sink:
        r = load(sink.url, "-n", "200", "-c1", "--max-error-rate", "0.2", "--json", expect_rc=1)
        rep = json.loads(r.stdout)
        assert rep["status"] == {"503": 50, "204": 150}, rep
        assert b"25% of the requests sent got no 2xx answer" in r.stderr, r.stderr
        sink.faults(status_count=50)
        r = load(sink.url, "-n", "200", "-c1", "--max-error-rate", "0.3", "--json")
        assert json.loads(r.stdout)["status"] == {"503": 50, "204": 150}, r.stdout
        sink.stop()


run_tests(globals())
