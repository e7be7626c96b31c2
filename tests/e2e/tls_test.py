# SPDX-License-Identifier: Apache-2.0
"""TLS on the listener (--tls-cert, --tls-key, --tls-client-ca), with real
clients: Python's ssl and http.client, curl and openssl s_client, against a CA
and certificates made at test time with the openssl command."""
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

from harness import (BATCH, BIN, CE, E, IO_TIMEOUT, Conn, Gateway, batch, event, http_request, metric, parse_metrics,
                     run_tests, wait_for, assert_problem)
from upstreams import make_pki


class Pki:
    """A CA, a server certificate for 127.0.0.1, and client certificates."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="tollgate-tls-")
        self.dir = self.tmp.name
        self.ca, self.cert, self.key = make_pki(self.dir, names=("IP:127.0.0.1", "DNS:localhost"))

    def run(self, *args):
        subprocess.run(["openssl"] + list(args), cwd=self.dir, check=True, capture_output=True, timeout=60)

    def client_cert(self, cn, ca="ca"):
        """A client certificate with subject CN `cn`, signed by `ca` (ca.pem/ca.key in the directory)."""
        base = cn.replace(" ", "_")
        self.run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", base + ".key",
                 "-out", base + ".csr", "-subj", "/CN=" + cn)
        self.run("x509", "-req", "-in", base + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
                 "-out", base + ".pem", "-days", "2")
        return os.path.join(self.dir, base + ".pem"), os.path.join(self.dir, base + ".key")

    def other_ca(self):
        self.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=some other CA")

    def second_server_cert(self):
        """Another server certificate (CN reloaded) from the same CA, for the reload test."""
        self.run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "new.key",
                 "-out", "new.csr", "-subj", "/CN=reloaded")
        with open(os.path.join(self.dir, "san2.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        self.run("x509", "-req", "-in", "new.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "new.pem", "-days", "2", "-extfile", "san2.ext")
        return os.path.join(self.dir, "new.pem"), os.path.join(self.dir, "new.key")


PKI = Pki()


def client_ctx(cert=None, key=None):
    ctx = ssl.create_default_context(cafile=PKI.ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


class TlsConn(Conn):
    """harness.Conn over TLS: the same bounded reads, on an ssl socket."""

    def __init__(self, port, ctx=None, timeout=IO_TIMEOUT, session=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = (ctx or client_ctx()).wrap_socket(raw, server_hostname="127.0.0.1", session=session)
        self.timeout = timeout
        self.buf = b""


def tls_gateway(*flags, cert=None, key=None):
    # The path is part of the cert flag so a reload can swap the file in place.
    return Gateway("--tls-cert", cert or PKI.cert, "--tls-key", key or PKI.key, *flags)


def https_post(port, body, ctx=None, ctype=CE, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx or client_ctx(), timeout=IO_TIMEOUT)
    try:
        h = {"Content-Type": ctype}
        h.update(headers or {})
        c.request("POST", "/api/v1/events", body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read(), c.sock.version()
    finally:
        c.close()


def tls_metrics(port, ctx=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx or client_ctx(), timeout=IO_TIMEOUT)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        assert r.status == 200
        return parse_metrics(r.read().decode())
    finally:
        c.close()


def test_https_requests_from_python_and_curl_are_accepted_and_forwarded():
    with tls_gateway() as g:
        status, body, version = https_post(g.port, event("tls-1"))
        assert status == 204, (status, body)
        assert version in ("TLSv1.2", "TLSv1.3"), version
        out = subprocess.run(["curl", "-sS", "--cacert", PKI.ca, "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                              "-H", "Content-Type: " + BATCH, "--data-binary", batch([event("tls-2"), event("tls-3")]),
                              "https://127.0.0.1:%d/api/v1/events" % g.port],
                             capture_output=True, timeout=30, text=True)
        assert out.stdout == "204 1.1", (out.stdout, out.stderr)
        lines = g.wait_output(3)
        assert sorted(l.split(b'"id":"')[1].split(b'"')[0] for l in lines) == [b"tls-1", b"tls-2", b"tls-3"], lines
        m = tls_metrics(g.port)
        assert metric(m, "tollgate_tls_handshakes_total") >= 3, m


def test_alpn_is_http11_and_h2_offers_fall_back_to_it():
    with tls_gateway() as g:
        ctx = client_ctx()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with TlsConn(g.port, ctx) as c:
            assert c.sock.selected_alpn_protocol() == "http/1.1"
        out = subprocess.run(["curl", "-sS", "--http2", "--cacert", PKI.ca, "-o", "/dev/null", "-w", "%{http_version}",
                              "https://127.0.0.1:%d/healthz" % g.port], capture_output=True, timeout=30, text=True)
        assert out.stdout == "1.1", (out.stdout, out.stderr)


def test_tls_1_1_and_older_are_refused():
    with tls_gateway() as g:
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % g.port, "-tls1_1"],
                             input="", capture_output=True, timeout=30, text=True)
        assert out.returncode != 0, out.stdout
        assert "protocol version" in out.stderr or "no protocols available" in out.stderr, out.stderr
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % g.port, "-tls1_3", "-CAfile",
                              PKI.ca], input="", capture_output=True, timeout=30, text=True)
        assert "TLSv1.3" in out.stdout, out.stdout
        assert https_post(g.port, event("after-refusal"))[0] == 204
        assert metric(tls_metrics(g.port), "tollgate_tls_handshake_failures_total") >= 1


def test_plaintext_http_on_the_tls_port_gets_a_plaintext_400_and_only_that_connection_closes():
    with tls_gateway() as g:
        with TlsConn(g.port) as good:
            r = g.request("POST", "/api/v1/events", event("plain"), {"Content-Type": CE})
            assert_problem(r, 400, "TLS", "https")
            assert r.header("Connection") == "close"
            good.send(http_request("POST", "/api/v1/events", event("still-tls"), {"Content-Type": CE}))
            assert good.response().status == 204
        with Conn(g.port) as c:  # garbage that is neither TLS nor HTTP
            c.send(b"\x00\x01\x02\x03garbage" * 10)
            assert c.closed_by_peer(timeout=5)
        assert [l for l in g.wait_output(1) if b"plain" in l] == []


def test_a_stalled_handshake_is_cut_at_the_timeout_without_holding_up_others():
    with tls_gateway("--tls-handshake-timeout-ms", "400") as g:
        stalled = Conn(g.port)
        half = Conn(g.port)
        # A TLS record header announcing a ClientHello that never comes whole.
        half.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        t0 = time.monotonic()
        assert https_post(g.port, event("meanwhile"))[0] == 204
        assert stalled.closed_by_peer(timeout=10), "a silent client must be cut"
        assert half.closed_by_peer(timeout=10), "a client stalled mid-handshake must be cut"
        assert time.monotonic() - t0 >= 0.3, "cut before the timeout"
        stalled.close()
        half.close()
        assert metric(tls_metrics(g.port), "tollgate_tls_handshake_timeouts_total") == 2


def test_pipelined_requests_over_tls_are_answered_in_order():
    with tls_gateway() as g:
        with TlsConn(g.port) as c:
            reqs = b"".join(http_request("POST", "/api/v1/events", event("pipe-%d" % i), {"Content-Type": CE})
                            for i in range(20))
            reqs += http_request("GET", "/nope")
            c.send(reqs)
            for _ in range(20):
                assert c.response().status == 204
            assert c.response().status == 404
            # A response larger than one TLS record (the /metrics page) on the same connection.
            c.send(http_request("GET", "/metrics"))
            r = c.response()
            assert r.status == 200 and b"tollgate_tls_handshakes_total" in r.body, r
        ids = [l.split(b'"id":"')[1].split(b'"')[0] for l in g.wait_output(20)]
        assert ids == [b"pipe-%d" % i for i in range(20)], ids


def test_sessions_resume_with_a_ticket():
    with tls_gateway() as g:
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            ctx = client_ctx()
            ctx.maximum_version = version
            with TlsConn(g.port, ctx) as c:
                c.send(http_request("GET", "/healthz"))
                assert c.response().status == 200  # a TLS 1.3 ticket arrives after the handshake
                session = c.sock.session
            with TlsConn(g.port, ctx, session=session) as c:
                assert c.sock.session_reused, version
                c.send(http_request("GET", "/healthz"))
                assert c.response().status == 200
        assert metric(tls_metrics(g.port), "tollgate_tls_resumed_total") == 2


def test_mutual_tls_requires_a_certificate_from_the_client_ca_and_names_the_client_by_cn():
    cert, key = PKI.client_cert("billing-svc")
    PKI.other_ca()
    stranger = PKI.client_cert("stranger", ca="other")
    with tls_gateway("--tls-client-ca", PKI.ca) as g:
        status, _, _ = https_post(g.port, batch([event("m-1"), event("m-2")]), ctx=client_ctx(cert, key), ctype=BATCH)
        assert status == 204
        for ctx in (client_ctx(), client_ctx(*stranger)):
            try:
                https_post(g.port, event("m-refused"), ctx=ctx)
            except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError):
                pass
            else:
                raise AssertionError("a client without a certificate from the CA was served")
        out = subprocess.run(["curl", "-sS", "--cacert", PKI.ca, "--cert", cert, "--key", key, "-o", "/dev/null",
                              "-w", "%{http_code}", "-H", "Content-Type: " + CE, "--data-binary", event("m-3"),
                              "https://127.0.0.1:%d/api/v1/events" % g.port], capture_output=True, timeout=30, text=True)
        assert out.stdout == "204", (out.stdout, out.stderr)
        m = tls_metrics(g.port, ctx=client_ctx(cert, key))
        assert metric(m, "tollgate_client_events_total", client="billing-svc") == 3, m
        assert metric(m, "tollgate_client_requests_total", client="billing-svc") == 2, m
        assert metric(m, "tollgate_tls_handshake_failures_total") >= 2, m
        assert [l for l in g.wait_output(3) if b"m-refused" in l] == []


def test_sighup_reloads_the_certificate_for_new_connections_while_open_ones_keep_theirs():
    d = tempfile.mkdtemp(prefix="tollgate-tls-reload-")
    try:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        shutil.copy(PKI.cert, cert)
        shutil.copy(PKI.key, key)
        new_cert, new_key = PKI.second_server_cert()
        with tls_gateway(cert=cert, key=key) as g:
            old = TlsConn(g.port)
            assert old.sock.getpeercert()["subject"] == ((("commonName", "localhost"),),)
            # A file that does not parse keeps the certificate in use.
            with open(cert, "w") as f:
                f.write("not a certificate\n")
            g.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload of the TLS certificate failed" in g.stderr(), what="the failed reload logged")
            with TlsConn(g.port) as c:
                assert c.sock.getpeercert()["subject"] == ((("commonName", "localhost"),),)
            shutil.copy(new_cert, cert)
            shutil.copy(new_key, key)
            g.send_signal(signal.SIGHUP)
            wait_for(lambda: "reloaded --tls-cert" in g.stderr(), what="the reload logged")
            with TlsConn(g.port) as c:
                assert c.sock.getpeercert()["subject"] == ((("commonName", "reloaded"),),)
                c.send(http_request("POST", "/api/v1/events", event("new-cert"), {"Content-Type": CE}))
                assert c.response().status == 204
            old.send(http_request("POST", "/api/v1/events", event("old-cert"), {"Content-Type": CE}))
            assert old.response().status == 204
            old.close()
            assert g.alive()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_start_fails_with_status_2_on_a_bad_certificate_or_a_key_alone():
    for flags in (["--tls-cert", PKI.ca, "--tls-key", PKI.key], ["--tls-key", PKI.key],
                  ["--tls-cert", "/nonexistent.pem", "--tls-key", PKI.key]):
        p = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--upstream", "file:/dev/null"]
                           + flags, capture_output=True, timeout=30, text=True)
        assert p.returncode == 2, (flags, p.returncode, p.stderr)
        assert "tls" in p.stderr.lower(), p.stderr


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        PKI.tmp.cleanup()
