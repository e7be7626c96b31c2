# SPDX-License-Identifier: Apache-2.0
"""Every bound has a defined answer: 431 (head bytes, header count), 413 (Content-Length
before the body, chunked growth, events per request), 408 (header and body timeouts),
idle close, 400 + close for malformed requests. After each, a good request on a NEW
connection succeeds, and a bad connection never disturbs a concurrent good one."""
import time

from harness import (BATCH, CE, Gateway, assert_problem, batch, event, http_request, metric, parse_metrics,
                     run_tests, wait_for)

V1 = "/api/v1/events"
FLAGS = ["--shards", "1", "--max-head-bytes", "1024", "--max-headers", "10", "--max-body-bytes", "4096",
         "--max-events-per-request", "5", "--header-timeout-ms", "400", "--body-timeout-ms", "400",
         "--idle-timeout-ms", "800"]

_counter = [0]


def good_request_on_new_connection(g):
    """A fresh connection still gets 204; returns the event sent."""
    _counter[0] += 1
    ev = event("good-%d" % _counter[0])
    with g.connect() as c:
        c.send(http_request("POST", V1, ev, {"Content-Type": CE}))
        r = c.response()
        assert r.status == 204, r
    return ev


def expect_final_error(c, status, *words):
    r = c.response()
    assert_problem(r, status, *words)
    assert (r.header("Connection") or "").lower() == "close", r
    assert c.closed_by_peer(5), "the connection must be closed after %d" % status
    return r


def test_limits():
    good = []
    with Gateway(*FLAGS) as g:
        # 431: request line + headers over --max-head-bytes.
        with g.connect() as c:
            c.send(http_request("GET", "/healthz", None, {"X-Big": "a" * 2000}))
            expect_final_error(c, 431)
        good.append(good_request_on_new_connection(g))

        # 431: more header fields than --max-headers (each small).
        with g.connect() as c:
            c.send(http_request("GET", "/healthz", None, {"X-H%d" % i: "v" for i in range(20)}))
            expect_final_error(c, 431)
        good.append(good_request_on_new_connection(g))
        # Exactly at the bound is fine (Host + 9).
        with g.connect() as c:
            c.send(http_request("GET", "/healthz", None, {"X-H%d" % i: "v" for i in range(9)}))
            assert c.response().status == 200

        # 413 as soon as Content-Length says so: the body is never sent.
        with g.connect() as c:
            c.send(http_request("POST", V1, None, {"Content-Type": CE, "Content-Length": "100000"}))
            expect_final_error(c, 413)
        # Also when the client asked for 100-continue: 413 instead of 100.
        with g.connect() as c:
            c.send(http_request("POST", V1, None, {"Content-Type": CE, "Content-Length": "5000",
                                                   "Expect": "100-continue"}))
            expect_final_error(c, 413)
        good.append(good_request_on_new_connection(g))

        # 413 when a chunked body grows past the bound.
        with g.connect() as c:
            c.send(http_request("POST", V1, None, {"Content-Type": BATCH, "Transfer-Encoding": "chunked"}))
            try:
                for _ in range(10):
                    c.send(b"400\r\n" + b" " * 1024 + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may close before the last chunk
            expect_final_error(c, 413)
        good.append(good_request_on_new_connection(g))

        # 413 for too many events; exactly the bound is accepted.
        with g.connect() as c:
            c.send(http_request("POST", V1, batch([event("many-%d" % i) for i in range(6)]), {"Content-Type": BATCH}))
            assert_problem(c.response(), 413)
            five = [event("five-%d" % i) for i in range(5)]
            c.send(http_request("POST", V1, batch(five), {"Content-Type": BATCH}))
            assert c.response().status == 204
            good += five

        # 408: the head does not arrive within --header-timeout-ms.
        with g.connect() as c:
            t0 = time.monotonic()
            c.send(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n")
            expect_final_error(c, 408)
            assert 0.3 <= time.monotonic() - t0 < 5, time.monotonic() - t0
        good.append(good_request_on_new_connection(g))

        # 408: the body does not arrive within --body-timeout-ms.
        with g.connect() as c:
            c.send(http_request("POST", V1, None, {"Content-Type": CE, "Content-Length": "200"}) + b'{"id":')
            expect_final_error(c, 408)
        good.append(good_request_on_new_connection(g))

        # Idle keep-alive connections are closed after --idle-timeout-ms, and
        # one that never sends anything too.
        with g.connect() as c, g.connect() as silent:
            c.send(http_request("GET", "/healthz"))
            assert c.response().status == 200
            t0 = time.monotonic()
            assert c.closed_by_peer(8), "idle connection not closed"
            assert 0.6 <= time.monotonic() - t0 < 6, time.monotonic() - t0
            assert silent.closed_by_peer(3), "silent connection not closed"

        m = g.metrics()
        assert metric(m, "tollgate_http_errors_total", kind="head_too_large") == 2, m
        assert metric(m, "tollgate_http_errors_total", kind="body_too_large") == 3, m
        # A slow head and a slow body are told apart (issue 16: a slow body was counted as header_timeout).
        assert metric(m, "tollgate_http_errors_total", kind="header_timeout") == 1, m
        assert metric(m, "tollgate_http_errors_total", kind="body_timeout") == 1, m
        assert metric(m, "tollgate_ingest_rejected_total", reason="too_many_events") == 1, m
        assert metric(m, "tollgate_idle_timeouts_total") >= 2, m
        g.stop()
        out = g.output()
    assert out == good, out


MALFORMED = [
    ("garbage", b"GARBAGE\r\n\r\n"),
    ("header without colon", b"GET /healthz HTTP/1.1\r\nHost\r\n\r\n"),
    ("bad Content-Length", b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("two Content-Lengths", b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
    ("bad chunk size", b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ("Content-Length with chunked", b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("NUL in the request line", b"GET /he\x00althz HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("bare LF in a header value", b"GET /healthz HTTP/1.1\r\nX-A: a\rb\r\n\r\n"),
    ("space before colon", b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("binary", bytes(range(256))),
]


def test_malformed_requests():
    good = []
    with Gateway(*FLAGS) as g:
        for name, wire in MALFORMED:
            with g.connect() as c:
                try:
                    c.send(wire)
                    expect_final_error(c, 400)
                except AssertionError as e:
                    raise AssertionError("%s: %s" % (name, e))
            good.append(good_request_on_new_connection(g))
        # A malformed request after a good one on the same connection: the good
        # one is answered first, then 400 and close.
        with g.connect() as c:
            ev = event("before-bad")
            c.send(http_request("POST", V1, ev, {"Content-Type": CE}) + b"NOT HTTP\r\n\r\n")
            assert c.response().status == 204
            good.append(ev)
            expect_final_error(c, 400)
        m = g.metrics()
        assert metric(m, "tollgate_http_errors_total", kind="malformed") == len(MALFORMED) + 1, m
        g.stop()
        out = g.output()
    assert out == good, out


def test_bad_connection_does_not_disturb_a_good_one():
    ev = event("concurrent-ok")
    wire = http_request("POST", V1, ev, {"Content-Type": CE})
    with Gateway(*FLAGS) as g:
        with g.connect() as ok, g.connect() as bad, g.connect() as big:
            ok.send(wire[:40])          # half a head
            bad.send(b"BROKEN / HTTP/9\r\n\r\n")
            big.send(http_request("GET", "/x", None, {"X-Big": "b" * 3000}))
            ok.send(wire[40:-10])       # the rest of the head, part of the body
            expect_final_error(bad, 400)
            expect_final_error(big, 431)
            ok.send(wire[-10:])
            r = ok.response()
            assert r.status == 204, r
            ok.send(http_request("GET", "/healthz"))
            assert ok.response().status == 200
        g.stop()
        out = g.output()
    assert out == [ev], out


def test_max_connections():
    with Gateway("--shards", "1", "--max-connections", "3") as g:
        held = [g.connect() for _ in range(3)]
        try:
            for c in held:
                c.send(http_request("GET", "/healthz"))
                assert c.response().status == 200
            with g.connect() as extra:  # the fourth is closed as soon as it is accepted
                assert extra.closed_by_peer(5), "connection over --max-connections was kept"
            held[0].send(http_request("GET", "/metrics"))
            m = parse_metrics(held[0].response().body.decode())
            assert metric(m, "tollgate_connections_refused_total") == 1, m
            assert metric(m, "tollgate_connections_open", shard="0") == 3, m
        finally:
            for c in held:
                c.close()
        # Room again once they are gone (a scrape refused meanwhile is retried).
        def one_open():
            try:
                return metric(g.metrics(), "tollgate_connections_open", shard="0") == 1
            except (EOFError, ConnectionResetError):
                return False
        wait_for(one_open, what="connections closed")
        good_request_on_new_connection(g)
        g.stop()


if __name__ == "__main__":
    run_tests(globals())
