# SPDX-License-Identifier: Apache-2.0
"""Inbound bearer tokens (--ingest-tokens-file), SIGHUP reloads of the tokens
and of the upstream token, OPTIONS and CORS on the ingest paths, and the
HTTP/2 preface: real tollgate on 127.0.0.1, curl and raw sockets."""
import hashlib
import os
import signal
import subprocess
import tempfile
import threading
import time

from harness import (BIN, CE, Gateway, assert_problem, event, http_request, metric, run_tests, wait_for,
                     run_threads)
from upstreams import HttpsUpstream, make_pki

ALICE = "tok-alice-7f3a9c2e51"
BOB = "tok-bob-0d88e4b1c6"
CAROL = "tok-carol-5e1f0a9d33"


def tokens_file(directory, text):
    path = os.path.join(directory, "tokens")
    with open(path + ".new", "w") as f:
        f.write(text)
    os.replace(path + ".new", path)  # whole, as an operator's tooling writes it
    return path


def sha(tok):
    return hashlib.sha256(tok.encode()).hexdigest()


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def with_tokens(text, *flags):
    tmp = tempfile.TemporaryDirectory(prefix="tollgate-tokens-")
    path = tokens_file(tmp.name, text)
    g = Gateway("--ingest-tokens-file", path, *flags)
    g.tokens_dir = tmp
    g.tokens_path = path
    return g


BASIC = "# clients\n\nalice %s\n  bob\tsha256:%s  \n" % (ALICE, sha(BOB))


def test_requests_without_a_valid_token_get_401_with_www_authenticate():
    with with_tokens(BASIC) as g:
        for headers in ({}, bearer("nope"), bearer(ALICE[:-1]), bearer(ALICE + "x"), {"Authorization": "Basic YTpi"},
                        {"Authorization": "Bearer"}, bearer("sha256:" + sha(BOB))):
            r = g.post(event("denied"), headers=headers)
            assert_problem(r, 401, "bearer token")
            assert r.header("WWW-Authenticate") == "Bearer", r
            assert r.header("Connection") is None, "a 401 keeps the connection"
        r = g.request("GET", "/api/v1/events")
        assert r.status == 401, "every /api/ path needs the token, whatever the method"
        m = g.metrics()
        assert metric(m, "tollgate_ingest_rejected_total", reason="unauthorized") == 8, m
        assert metric(m, "tollgate_http_requests_total", endpoint="/api/v1/events", status="401") == 8, m
        assert g.output() == []
        g.stop()
        assert ALICE not in g.stderr() and BOB not in g.stderr() and "nope" not in g.stderr()


def test_plain_and_hashed_tokens_are_accepted_and_count_per_client():
    with with_tokens(BASIC) as g:
        assert g.post(event("a1"), headers=bearer(ALICE)).status == 204
        assert g.post(event("a2"), headers={"Authorization": "bearer   " + ALICE}).status == 204
        assert g.post(event("b1"), headers=bearer(BOB)).status == 204
        assert g.post(b"[" + event("b2") + b"," + event("b3") + b"]", ctype="application/cloudevents-batch+json",
                      headers=bearer(BOB)).status == 204
        r = g.post(b"{", headers=bearer(BOB))
        assert r.status == 400
        assert g.post(event("v3"), path="/api/v3/openmeter/events", headers=bearer(ALICE)).status == 202
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: " + CE,
                              "-H", "Authorization: Bearer " + ALICE, "--data-binary", event("curl"),
                              "http://127.0.0.1:%d/api/v1/events" % g.port], capture_output=True, timeout=30, text=True)
        assert out.stdout == "204", out
        assert len(g.wait_output(7)) == 7
        m = g.metrics()
        assert metric(m, "tollgate_client_requests_total", client="alice") == 4, m
        assert metric(m, "tollgate_client_events_total", client="alice") == 4, m
        assert metric(m, "tollgate_client_requests_total", client="bob") == 3, m
        assert metric(m, "tollgate_client_events_total", client="bob") == 3, m
        assert metric(m, "tollgate_client_rejections_total", client="bob") == 1, m
        assert metric(m, "tollgate_client_rejections_total", client="alice") == 0, m


def test_health_readiness_and_metrics_stay_open():
    with with_tokens(BASIC) as g:
        assert g.request("GET", "/healthz").status == 200
        assert g.request("GET", "/readyz").status == 200
        assert g.request("GET", "/metrics").status == 200
        assert g.request("GET", "/nowhere").status == 404


def test_a_malformed_tokens_file_fails_the_start_naming_the_line_and_not_the_token():
    tmp = tempfile.TemporaryDirectory(prefix="tollgate-tokens-")
    cases = [("alice %s\nbob\n" % ALICE, "line 2"),
             ("# c\nalice %s extra\n" % ALICE, "line 2"),
             ("alice sha256:abc\n", "line 1"),
             ("al ice %s\n" % ALICE, "line 1"),
             ("alice %s\nbob %s\n" % (ALICE, ALICE), "line 2"),
             ("# nothing\n", "no tokens")]
    for text, where in cases:
        path = tokens_file(tmp.name, text)
        p = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--upstream", "file:/dev/null", "--ingest-tokens-file", path],
                           capture_output=True, timeout=30, text=True)
        assert p.returncode == 2, (text, p.returncode, p.stderr)
        assert where in p.stderr and path in p.stderr, (where, p.stderr)
        assert ALICE not in p.stderr, p.stderr
    p = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--upstream", "file:/dev/null", "--ingest-tokens-file",
                        os.path.join(tmp.name, "missing")], capture_output=True, timeout=30, text=True)
    assert p.returncode == 2, p.stderr
    tmp.cleanup()


def test_without_a_tokens_file_the_ingest_path_is_open_and_one_warning_says_so():
    with Gateway() as g:
        assert g.post(event("open")).status == 204
        warnings = [l for l in g.log_lines() if l.get("level") == "warn"]
        assert len(warnings) == 1 and "open" in warnings[0]["msg"], warnings
    with with_tokens(BASIC) as g:
        assert [l for l in g.log_lines() if l.get("level") == "warn"] == []


def test_sighup_adds_and_removes_tokens_under_load_without_failing_a_request():
    with with_tokens("alice %s\n" % ALICE) as g:
        stop = threading.Event()
        counts = [0] * 4

        def client(i):
            with g.connect() as c:  # keep-alive across every reload
                n = 0
                while not stop.is_set() or n < 20:
                    c.send(http_request("POST", "/api/v1/events", event("load-%d-%d" % (i, n)),
                                        dict(bearer(ALICE), **{"Content-Type": CE})))
                    r = c.response()
                    assert r.status == 204, r
                    n += 1
                counts[i] = n

        failures = []

        def load():
            try:
                run_threads(client, [(i,) for i in range(4)])
            except BaseException as e:  # noqa: BLE001 - reported below
                failures.append(e)

        threads = [threading.Thread(target=load)]
        for t in threads:
            t.start()
        try:
            reloads = 0
            for round_ in range(3):
                tokens_file(g.tokens_dir.name, "alice %s\nbob sha256:%s\n" % (ALICE, sha(BOB)))
                g.send_signal(signal.SIGHUP)
                reloads += 1
                wait_for(lambda: g.post(event("bob-%d" % round_), headers=bearer(BOB)).status == 204,
                         what="bob's token after the reload")
                tokens_file(g.tokens_dir.name, "alice %s\n" % ALICE)
                g.send_signal(signal.SIGHUP)
                reloads += 1
                wait_for(lambda: g.post(event("bob-gone"), headers=bearer(BOB)).status == 401,
                         what="bob's token gone after the reload")
            # A file that does not parse keeps the tokens in use.
            tokens_file(g.tokens_dir.name, "alice\n")
            g.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload of --ingest-tokens-file failed" in g.stderr(), what="the failed reload logged")
            assert g.post(event("alice-still"), headers=bearer(ALICE)).status == 204
            assert g.post(event("bob-still-gone"), headers=bearer(BOB)).status == 401
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not failures, failures[0]
        assert all(n >= 20 for n in counts), counts
        assert len([l for l in g.log_lines() if l.get("msg") == "reloaded --ingest-tokens-file"]) == reloads
        assert g.alive()
        g.stop()
        assert "line 1" in g.stderr() and BOB not in g.stderr()


def test_sighup_rereads_the_upstream_token_file():
    tmp = tempfile.TemporaryDirectory(prefix="tollgate-uptoken-")
    ca, cert, key = make_pki(tmp.name, names=("IP:127.0.0.1",))
    up = HttpsUpstream(cert, key)
    tok = os.path.join(tmp.name, "upstream-token")
    with open(tok, "w") as f:
        f.write("first-token\n")
    try:
        with Gateway("--upstream-ca-file", ca, "--upstream-token-file", tok, "--linger-ms", "1",
                     output="https://127.0.0.1:%d" % up.port) as g:
            assert g.post(event("u-1")).status == 204
            wait_for(lambda: "u-1" in up.received(), what="the first event upstream")
            with open(tok, "w") as f:
                f.write("second-token\n")
            g.send_signal(signal.SIGHUP)
            wait_for(lambda: "reloaded --upstream-token-file" in g.stderr(), what="the reload logged")
            assert g.post(event("u-2")).status == 204
            wait_for(lambda: "u-2" in up.received(), what="the second event upstream")
            with up.lock:
                auth = list(up.auth)
            assert auth[0] == "Bearer first-token" and auth[-1] == "Bearer second-token", auth
            g.stop()
            assert "first-token" not in g.stderr() and "second-token" not in g.stderr()
    finally:
        up.close()
        tmp.cleanup()


def test_options_on_the_ingest_paths_answers_allow_and_cors_preflights():
    origin = "https://app.example.com"
    with with_tokens(BASIC, "--cors-allow-origin", origin, "--cors-allow-origin", "https://other.example") as g:
        r = g.request("OPTIONS", "/api/v1/events")
        assert r.status == 204 and r.header("Allow") == "POST, OPTIONS", r
        assert r.header("Access-Control-Allow-Origin") is None
        r = g.request("OPTIONS", "/api/v3/openmeter/events", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, content-encoding"})
        assert r.status == 204, r
        assert r.header("Access-Control-Allow-Origin") == origin
        assert "POST" in r.header("Access-Control-Allow-Methods")
        assert "authorization" in r.header("Access-Control-Allow-Headers").lower()
        assert r.header("Vary") == "Origin"
        # An origin not on the list gets no CORS headers (the browser refuses).
        r = g.request("OPTIONS", "/api/v1/events", headers={"Origin": "https://evil.example",
                                                            "Access-Control-Request-Method": "POST"})
        assert r.status == 204 and r.header("Access-Control-Allow-Origin") is None, r
        # The actual requests carry the headers, accepted or refused.
        r = g.post(event("cors-1"), headers=dict(bearer(ALICE), Origin=origin))
        assert r.status == 204 and r.header("Access-Control-Allow-Origin") == origin, r
        r = g.post(event("cors-2"), headers={"Origin": origin})
        assert r.status == 401 and r.header("Access-Control-Allow-Origin") == origin, r
        r = g.post(event("cors-3"), headers=dict(bearer(ALICE), Origin="https://evil.example"))
        assert r.status == 204 and r.header("Access-Control-Allow-Origin") is None, r
    with Gateway("--cors-allow-origin", "*") as g:
        r = g.post(event("any"), headers={"Origin": "https://anyone.example"})
        assert r.status == 204 and r.header("Access-Control-Allow-Origin") == "*", r
    p = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--cors-allow-origin", "app.example.com/"],
                       capture_output=True, timeout=30, text=True)
    assert p.returncode == 2 and "--cors-allow-origin" in p.stderr, p.stderr


def test_cors_headers_on_answers_that_wait_for_the_upstream():
    tmp = tempfile.TemporaryDirectory(prefix="tollgate-cors-")
    ca, cert, key = make_pki(tmp.name, names=("IP:127.0.0.1",))
    up = HttpsUpstream(cert, key)
    try:
        with Gateway("--upstream-ca-file", ca, "--ack", "upstream", "--linger-ms", "1", "--cors-allow-origin", "*",
                     output="https://127.0.0.1:%d" % up.port) as g:
            r = g.post(event("acked"), headers={"Origin": "https://a.example"})
            assert r.status == 204 and r.header("Access-Control-Allow-Origin") == "*", r
    finally:
        up.close()
        tmp.cleanup()


def test_an_http2_preface_gets_a_goaway_with_http_1_1_required():
    with Gateway() as g:
        with g.connect() as c:
            c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            data = c.read_to_eof()
        assert data[:9] == b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", data  # the server's SETTINGS
        frame = data[9:]
        length = int.from_bytes(frame[:3], "big")
        assert frame[3] == 0x7, frame  # GOAWAY
        assert int.from_bytes(frame[13:17], "big") == 0xd, frame  # HTTP_1_1_REQUIRED
        assert b"HTTP/1.1" in frame[17:9 + length], frame
        # curl with prior knowledge reports the reason (and falls back to HTTP/1.1 if it can).
        # curl 7.88 with prior knowledge sees the GOAWAY and its error code.
        out = subprocess.run(["curl", "-sS", "-v", "--http2-prior-knowledge", "-o", "/dev/null",
                              "http://127.0.0.1:%d/healthz" % g.port], capture_output=True, timeout=30, text=True)
        assert "GOAWAY, error=13" in out.stderr, out.stderr
        m = g.metrics()
        assert metric(m, "tollgate_http_errors_total", kind="http2") >= 1, m


if __name__ == "__main__":
    run_tests(globals())
