# SPDX-License-Identifier: Apache-2.0
"""SIGTERM / SIGINT: stop accepting, close idle connections at once, finish the
requests in progress (within --drain-timeout-ms), flush the output, exit 0."""
import signal
import socket
import time

from harness import (BATCH, CE, Gateway, batch, event, http_request, metric, run_tests, wait_for)

V1 = "/api/v1/events"


def new_connection_refused(port):
    """True when a new connection is refused, or reset / closed unanswered, at once.
    A connection that hangs unanswered (a listening socket left behind in the
    SO_REUSEPORT group) or gets served is False."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except ConnectionRefusedError:
        return True
    try:
        s.settimeout(2)
        s.sendall(http_request("GET", "/healthz"))
        return s.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


def test_sigterm_finishes_half_sent_request():
    before = [event("pre-%d" % i) for i in range(3)]
    late = batch([event("late-%d" % i) for i in range(3)])
    wire = http_request("POST", V1, late, {"Content-Type": BATCH})
    with Gateway("--shards", "2", "--drain-timeout-ms", "8000") as g:
        with g.connect() as idle, g.connect() as half:
            idle.send(http_request("POST", V1, batch(before), {"Content-Type": BATCH}))
            assert idle.response().status == 204
            half.send(wire[:len(wire) - 50])   # head and part of the body
            time.sleep(0.2)                    # let the server read it
            t0 = time.monotonic()
            g.send_signal(signal.SIGTERM)
            # The idle keep-alive connection is closed promptly.
            assert idle.closed_by_peer(3), "idle connection not closed on SIGTERM"
            assert time.monotonic() - t0 < 3
            # The process waits for the request in progress; new connections get nothing.
            time.sleep(0.3)
            assert g.alive(), "exited with a request in progress: " + g.stderr()
            assert new_connection_refused(g.port), "a new connection was served while stopping"
            half.send(wire[len(wire) - 50:])
            r = half.response()
            assert r.status == 204, r
            assert (r.header("Connection") or "").lower() == "close", r
            assert half.closed_by_peer(5)
        assert g.wait(10) == 0, g.stderr()
        g.stop()  # checks status and sanitizer output
        out = g.output()
        msgs = [l.get("msg") for l in g.log_lines()]
    assert out == before + [event("late-%d" % i) for i in range(3)], out
    assert "stopped" in msgs, msgs


def test_sigint_exits_zero_and_flushes():
    with Gateway("--shards", "1") as g:
        evs = [event("int-%d" % i) for i in range(50)]
        with g.connect() as c:
            for ev in evs:
                c.send(http_request("POST", V1, ev, {"Content-Type": CE}))
                assert c.response().status == 204
        g.stop(sig=signal.SIGINT)
        out = g.output()
    assert out == evs


def test_drain_deadline_bounds_the_wait():
    # A request that never completes cannot hold the process past --drain-timeout-ms;
    # its events were never accepted, so nothing is left unwritten: exit 0.
    with Gateway("--shards", "1", "--drain-timeout-ms", "500", "--body-timeout-ms", "60000") as g:
        with g.connect() as c:
            ev = event("done")
            c.send(http_request("POST", V1, ev, {"Content-Type": CE}))
            assert c.response().status == 204
            c.send(http_request("POST", V1, None, {"Content-Type": CE, "Content-Length": "1000"}) + b"[")
            time.sleep(0.2)
            t0 = time.monotonic()
            g.send_signal(signal.SIGTERM)
            g.wait(10)
            assert time.monotonic() - t0 < 5, time.monotonic() - t0
            assert c.closed_by_peer(3)
        g.stop()
        out = g.output()
    assert out == [ev]



def test_drain_deadline_closes_a_client_that_stopped_reading_mid_answer():
    # A client that pipelines and never reads: tollgate's send of its answers
    # waits on a full socket. At the deadline the connection is closed under
    # that send; the send's failure must still free the connection (it was
    # left open, so the shard never drained and the process never exited).
    with Gateway("--shards", "1", "--drain-timeout-ms", "500") as g:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", g.port))
        s.setblocking(False)
        req = http_request("GET", "/metrics")
        pushed = 0
        try:
            until = time.monotonic() + 5
            while time.monotonic() < until and pushed < (8 << 20):
                try:
                    pushed += s.send(req * 64)
                except BlockingIOError:
                    time.sleep(0.01)
            m = g.metrics()
            assert metric(m, "tollgate_output_paused_total") > 0, "tollgate's answers never backed up"
            t0 = time.monotonic()
            g.send_signal(signal.SIGTERM)
            g.wait(10)
            assert time.monotonic() - t0 < 5, time.monotonic() - t0
        finally:
            s.close()
        g.stop()


def test_sighup_reloads_and_keeps_serving():
    """SIGHUP re-reads configuration files: the process logs it and goes on
    serving; it is not a stop signal."""
    with Gateway("--shards", "2") as g:
        assert g.post(event("before-hup")).status == 204
        g.send_signal(signal.SIGHUP)
        wait_for(lambda: any("SIGHUP" in (l.get("msg") or "") for l in g.log_lines()), what="the reload log line")
        assert g.alive(), g.stderr()
        assert g.post(event("after-hup")).status == 204
        g.stop()
        lines = g.output()  # two shards: the output may write them in either order
        assert len(lines) == 2, lines
        assert sorted(b'"after-hup"' in l for l in lines) == [False, True], lines


if __name__ == "__main__":
    run_tests(globals())
