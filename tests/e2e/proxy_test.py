# SPDX-License-Identifier: Apache-2.0
"""The pass-through end to end: the real tollgate in front of the real tollgate-sink
(which answers the rest of /api/ with canned JSON and records every call), on
127.0.0.1. What reaches the upstream is compared with what the client sent, and
what reaches the client with what the upstream answered."""
import http.client
import json
import os
import socket
import time

from harness import (IO_TIMEOUT, Gateway, assert_problem, http_request, metric, metric_sum, run_tests, wait_for)
import tempfile

from upstreams import HttpsUpstream, Sink, make_pki


def via(sink, *flags):
    return Gateway("--drain-timeout-ms", "3000", *flags, output=sink.url)


def calls(sink):
    r = sink.request("GET", "/api-calls")
    assert r.status == 200, r
    return r.json()


def headers_of(call):
    return {k.lower(): v for k, v in call["headers"]}


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def read_chunked(conn):
    """The decoded body of a chunked response whose head conn.response(head=True) read."""
    body = b""
    while True:
        size = int(conn.read_until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            conn.read_until(b"\r\n")
            return body
        body += conn.read_exact(size)
        assert conn.read_exact(2) == b"\r\n"


def test_requests_reach_the_upstream_as_the_client_sent_them():
    with Sink() as sink:
        with via(sink) as g:
            body = b'{"subject":["customer-1"],"windowSize":"HOUR"}'
            r = g.request("POST", "/api/v1/meters/tokens/query?from=2024-01-01T00%3A00%3A00Z&x=1", body, {
                "Authorization": "Bearer client-key-1", "Content-Type": "application/json",
                "Connection": "keep-alive, X-Secret", "X-Secret": "hop", "Keep-Alive": "timeout=5",
                "TE": "trailers", "X-Custom": "kept", "X-Forwarded-For": "203.0.113.9"})
            assert r.status == 200, r
            direct = sink.request("POST", "/api/v1/meters/tokens/query", body, {"Content-Type": "application/json"})
            assert r.body == direct.body and r.header("Content-Type") == "application/json", (r, direct)
            c = calls(sink)[0]
            assert c["method"] == "POST", c
            assert c["target"] == "/api/v1/meters/tokens/query?from=2024-01-01T00%3A00%3A00Z&x=1", c
            assert c["authorization"] == "Bearer client-key-1", c
            assert c["body"] == body.decode(), c
            h = headers_of(c)
            for gone in ("x-secret", "keep-alive", "te", "connection"):
                assert gone not in h, (gone, h)
            assert h["x-custom"] == "kept" and h["content-length"] == str(len(body)), h
            assert h["host"] == sink.url[len("http://"):], h
            assert h["x-forwarded-for"] == "203.0.113.9, 127.0.0.1", h
            assert h["forwarded"] == 'for=127.0.0.1;host="127.0.0.1"', h
            assert h["via"] == "1.1 tollgate", h
            g.stop()


def test_get_events_is_the_upstreams_event_list_and_ingest_stays_ours():
    with Sink() as sink:
        with via(sink) as g:
            r = g.request("GET", "/api/v1/events?limit=5")
            assert r.status == 200 and r.json()[0]["event"]["id"] == "listed-1", r
            r = g.request("GET", "/api/v3/openmeter/events")
            assert r.status == 200, r
            assert [(c["method"], c["target"]) for c in calls(sink)] == [
                ("GET", "/api/v1/events?limit=5"), ("GET", "/api/v3/openmeter/events")]
            # Ingest is tollgate's own: never passed through.
            r = g.post(b'{"specversion":"1.0","id":"own-1","source":"s","type":"t","subject":"c"}')
            assert r.status == 204, r
            wait_for(lambda: sink.stats()["events"] == 1, what="the event at the sink")
            assert len(calls(sink)) == 2
            r = g.request("PUT", "/api/v1/events", b"{}")
            assert_problem(r, 405)
            g.stop()


def test_upstream_statuses_headers_and_bodies_come_back_unchanged_on_one_keep_alive_connection():
    with Sink() as sink:
        with via(sink, "--shards", "1") as g:
            with g.connect() as c:
                for _ in range(3):
                    c.send(http_request("GET", "/api/v1/meters", headers={"Authorization": "Bearer k"}))
                    r = c.response()
                    assert r.status == 200 and len(json.loads(r.body)) == 8, r
                    assert 1900 <= len(r.body) <= 2400 and r.header("Content-Length") == str(len(r.body)), r
                c.send(http_request("GET", "/api/v1/meters/missing"))
                assert_problem(c.response(), 404, "meter not found")
                c.send(http_request("POST", "/api/v1/portal/tokens", b'{"subject":"customer-1"}',
                                    {"Content-Type": "application/json"}))
                r = c.response()
                assert r.status == 201 and r.json()["token"] == "om_portal_canned", r
                c.send(http_request("HEAD", "/api/v1/meters"))
                r = c.response(head=True)
                assert r.status == 200 and 1900 <= int(r.header("Content-Length")) <= 2400, r
                c.send(http_request("DELETE", "/api/v1/customers/c-1"))
                r = c.response()
                assert r.status == 200 and r.json() == {"method": "DELETE", "path": "/api/v1/customers/c-1"}, r
                # Pipelined: answered one after the other, in order.
                c.send(http_request("GET", "/api/v1/customers/p-1") + http_request("GET", "/api/v1/customers/p-2"))
                assert c.response().json()["path"] == "/api/v1/customers/p-1"
                assert c.response().json()["path"] == "/api/v1/customers/p-2"
            m = g.metrics()
            assert metric(m, "tollgate_proxy_requests_total", method="read", code="2xx") == 6
            assert metric(m, "tollgate_proxy_requests_total", method="read", code="4xx") == 1
            assert metric(m, "tollgate_proxy_requests_total", method="write", code="2xx") == 2
            assert metric(m, "tollgate_proxy_upstream_latency_seconds_count") == 9
            assert metric(m, "tollgate_proxy_connects_total") == 1, "one keep-alive upstream connection"
            assert metric_sum(m, "tollgate_proxy_response_bytes_total") > 3 * 1900
            assert metric_sum(m, "tollgate_proxy_request_bytes_total") > 0
            wait_for(lambda: metric_sum(g.metrics(), "tollgate_proxy_in_flight") == 0, what="nothing in flight")
            g.stop()


def test_the_upstream_urls_path_prefix_is_kept():
    with Sink() as sink:
        with Gateway(output=sink.url + "/prefix") as g:
            r = g.request("GET", "/api/v1/meters?x=1")
            # The sink serves /api/ only: its 404 proves the prefix was sent.
            assert_problem(r, 404, "/prefix/api/v1/meters")
            g.stop()


def test_chunked_answers_are_rechunked_for_http11_and_close_ended_for_http10():
    with Sink() as sink:
        with via(sink) as g:
            with g.connect() as c:
                c.send(http_request("GET", "/api/test/chunked/250000"))
                r = c.response(head=True)
                assert r.status == 200 and r.header("Transfer-Encoding") == "chunked", r
                assert read_chunked(c) == b"y" * 250000
                c.send(http_request("GET", "/api/test/bytes/10"))
                assert c.response().body == b'"xxxxxxxx"'
            with g.connect() as c:
                c.send(http_request("GET", "/api/test/chunked/5000", version="HTTP/1.0"))
                r = c.response()
                assert r.status == 200 and r.header("Transfer-Encoding") is None, r
                assert r.header("Connection") == "close" and r.body == b"y" * 5000, r
            g.stop()


def test_a_slow_client_does_not_make_tollgate_buffer_the_answer():
    size = 48 << 20
    with Sink("--max-body-bytes", "1024") as sink:
        with via(sink, "--shards", "1", "--proxy-timeout-ms", "20000") as g:
            # Warm up so the allocator's arenas exist before measuring.
            assert g.request("GET", "/api/test/bytes/1000000").status == 200
            before = rss_kib(g.proc.pid)
            s = socket.create_connection(("127.0.0.1", g.port), timeout=IO_TIMEOUT)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            s.sendall(http_request("GET", "/api/test/bytes/%d" % size))
            head = s.recv(4096)
            assert head.startswith(b"HTTP/1.1 200 "), head
            # Not reading: the sink has written the whole answer, tollgate holds a bounded part.
            time.sleep(1.5)
            during = rss_kib(g.proc.pid)
            assert during - before < 16 * 1024, "tollgate grew by %d KiB for a client that does not read" % (
                during - before)
            got = len(head) - head.index(b"\r\n\r\n") - 4
            deadline = time.monotonic() + 60
            while got < size and time.monotonic() < deadline:
                chunk = s.recv(1 << 20)
                assert chunk, "closed after %d of %d bytes" % (got, size)
                got += len(chunk)
            s.close()
            assert got == size, (got, size)
            g.stop()


def test_upstream_failures_answer_502_and_504_with_a_detail_and_one_log_line_without_the_token():
    # 502: nothing listens where the upstream was.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead_port = probe.getsockname()[1]
    probe.close()
    with Gateway("--proxy-timeout-ms", "400", output="http://127.0.0.1:%d" % dead_port) as g:
        r = g.request("GET", "/api/v1/meters", headers={"Authorization": "Bearer sekrit-token-1"})
        assert_problem(r, 502, "could not be reached", "connect")
        lines = [l for l in g.log_lines() if l.get("msg") == "pass-through failed"]
        assert len(lines) == 1 and lines[0]["reason"] == "connect" and lines[0]["answered"] == 502, lines
        assert lines[0]["request"] == "GET /api/v1/meters", lines
        assert "sekrit-token-1" not in g.stderr()
        m = g.metrics()
        assert metric(m, "tollgate_proxy_failures_total", reason="connect") == 1
        assert metric(m, "tollgate_proxy_requests_total", method="read", code="5xx") == 1
        g.stop(expect_rc=0)
    # 504: an upstream that accepts and never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        with Gateway("--proxy-timeout-ms", "300", output="http://127.0.0.1:%d" % silent.getsockname()[1]) as g:
            t0 = time.monotonic()
            r = g.request("GET", "/api/v1/customers?key=x", headers={"Authorization": "Bearer sekrit-token-2"})
            assert_problem(r, 504, "--proxy-timeout-ms")
            assert time.monotonic() - t0 >= 0.25
            lines = [l for l in g.log_lines() if l.get("msg") == "pass-through failed"]
            assert len(lines) == 1 and lines[0]["reason"] == "timeout", lines
            assert "sekrit-token-2" not in g.stderr() and "key=x" not in g.stderr()
            g.stop(expect_rc=0)
    finally:
        silent.close()


def test_tls_upstream_is_verified_and_carries_the_api_too():
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = make_pki(tmp)
        up = HttpsUpstream(cert, key)
        try:
            with Gateway("--upstream-ca-file", ca, output="https://localhost:%d" % up.port) as g:
                with g.connect() as c:
                    for i in range(3):  # one keep-alive TLS connection
                        c.send(http_request("GET", "/api/v1/subjects/s-%d?x=1" % i, headers={"Authorization": "Bearer k"}))
                        r = c.response()
                        assert r.status == 200 and r.json() == {"path": "/api/v1/subjects/s-%d?x=1" % i,
                                                                "authorization": "Bearer k"}, r
                    c.send(http_request("GET", "/api/test/big"))
                    r = c.response()
                    assert r.status == 200 and r.body == b"z" * (300 * 1024), (r.status, len(r.body))
                assert metric(g.metrics(), "tollgate_proxy_requests_total", method="read", code="2xx") == 4
                g.stop()
            # A certificate the CA did not sign: 502, naming TLS.
            with Gateway(output="https://localhost:%d" % up.port) as g:
                assert_problem(g.request("GET", "/api/v1/meters"), 502, "tls", "certificate verify failed")
                g.stop()
        finally:
            up.close()


def test_bodies_over_the_limit_get_413_and_stdout_or_file_or_off_get_404():
    with Sink() as sink:
        with via(sink, "--proxy-max-body-bytes", "1KiB") as g:
            assert_problem(g.request("POST", "/api/v1/meters", b"x" * 1025), 413, "--proxy-max-body-bytes")
            assert g.request("POST", "/api/v1/meters", b"x" * 1024).status == 200
            g.stop()
        with via(sink, "--proxy", "off") as g:
            assert_problem(g.request("GET", "/api/v1/meters"), 404, "no route")
            assert_problem(g.request("GET", "/api/v1/events"), 405)
            g.stop()
        assert len(calls(sink)) == 1
    with Gateway() as g:  # file: output
        assert_problem(g.request("GET", "/api/v1/meters"), 404, "no upstream API")
        assert_problem(g.request("GET", "/api/v1/events"), 404, "no upstream API")
        g.stop()


run_tests(globals())
