# SPDX-License-Identifier: Apache-2.0
"""tollgate-load end to end: against a real tollgate writing to a file, every event
tollgate-load reports as accepted is in the file exactly once (its ids are unique
across the run), an open-loop run sends what its rate asks for, and the exit
status says usage error (2) and unreachable target (1) apart."""
import json
import os
import socket
import subprocess

from harness import Gateway, run_tests

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


run_tests(globals())
