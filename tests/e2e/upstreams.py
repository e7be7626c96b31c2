# SPDX-License-Identifier: Apache-2.0
"""Upstreams for the forwarding tests: the real tollgate-sink, and an HTTPS
server (Python's ssl over http.server) with a CA and certificates made at test
time by the openssl command, for the TLS tests."""
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Gateway

SINK_BIN = os.environ.get("TOLLGATE_SINK_BIN", "")


class Sink(Gateway):
    """A tollgate-sink process on 127.0.0.1 (port 0 unless given), recording what
    it accepts; the harness's Gateway does the rest (start, port, stop, clients)."""

    def __init__(self, *flags, port=0):
        self.tmp = tempfile.TemporaryDirectory(prefix="tollgate-sink-")
        self.record = os.path.join(self.tmp.name, "received.jsonl")
        self.out_path = self.record
        self.err_path = os.path.join(self.tmp.name, "sink.log")
        self._spawn([SINK_BIN, "--listen", "127.0.0.1:%d" % port, "--record", self.record, *flags])
        self.url = "http://127.0.0.1:%d" % self.port

    def stats(self):
        r = self.request("GET", "/stats")
        assert r.status == 200, r
        return r.json()

    def faults(self, **settings):
        r = self.request("POST", "/faults", json.dumps(settings).encode(), {"Content-Type": "application/json"})
        assert r.status in (200, 204), r
        return r

    def received_ids(self):
        """Every accepted event's id, in arrival order (duplicates kept)."""
        ids = []
        if os.path.exists(self.record):
            with open(self.record, "rb") as f:
                for line in f:
                    if line.strip():
                        ids.append(json.loads(line)["id"])
        return ids


def make_pki(directory, names=("DNS:localhost",)):
    """A CA and a server certificate for `names` (subjectAltName entries), made
    with the openssl command. Returns (ca.pem, cert.pem, key.pem)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=directory, check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=tollgate test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=%s\n" % ",".join(names))
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return tuple(os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key"))


class HttpsUpstream:
    """An HTTPS server that answers POST /api/v1/events with 204 and keeps the
    ids it received (and the Authorization header it saw); any GET gets 200 with
    a JSON body naming its path and Authorization, and a large one (a path under
    /api/test/big) 300 KiB, for the pass-through."""

    def __init__(self, cert, key):
        self.ids = []
        self.auth = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                events = json.loads(body)
                with outer.lock:
                    outer.ids.extend(e["id"] for e in events)
                    outer.auth.append(self.headers.get("Authorization"))
                self.send_response(204)
                self.end_headers()

            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path.startswith("/api/test/big"):
                    body = b"z" * (300 * 1024)
                else:
                    body = json.dumps({"path": self.path, "authorization": self.headers.get("Authorization")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self):
        with self.lock:
            return list(self.ids)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _ThreadedUpstream:
    """A listener on 127.0.0.1 (port 0) whose accept loop hands each connection
    to self._one(raw) on a thread of its own; counts the connections."""

    def _listen(self, rcvbuf=None):
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before listen(): the window
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                raw, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def close(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(5)

    @staticmethod
    def _recv_until(conn, data, done):
        """Reads into `data` until done(data); None when the peer closes first."""
        while not done(data):
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        return data

    @staticmethod
    def _read_head(conn, data):
        """(Content-Length, the bytes after the head) of the next request, or
        None when the peer closes first."""
        data = _ThreadedUpstream._recv_until(conn, data, lambda d: b"\r\n\r\n" in d)
        if data is None:
            return None
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        return length, rest


class CloseDelimitedTlsUpstream(_ThreadedUpstream):
    """An HTTPS upstream whose answer has no Content-Length: a 200 whose body only
    the end of the connection delimits. With `clean` it ends the TLS stream with
    close_notify first; without, it shuts the TCP connection under the TLS
    session, which is what an attacker truncating the response does (issue 16).
    Keeps the ids of every request it answered, and counts them."""

    def __init__(self, cert, key):
        self.clean = False
        self.answered = 0
        self.ids = []
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(cert, key)
        self._listen()

    def _one(self, raw):
        raw.settimeout(10)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        try:
            got = self._read_head(conn, b"")
            if got is None:
                return
            length, body = got
            body = self._recv_until(conn, body, lambda d: len(d) >= length)
            if body is None:
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\naccepted\n")
            with self.lock:
                self.answered += 1
                self.ids.extend(e["id"] for e in json.loads(body))
                clean = self.clean
            if clean:
                try:
                    conn.unwrap()  # close_notify; tollgate then closes, which ends the wait for its own
                except (OSError, ssl.SSLError):
                    pass
            else:
                # FIN under the TLS session: no close_notify can follow.
                dup = socket.socket(fileno=os.dup(conn.fileno()))
                dup.shutdown(socket.SHUT_RDWR)
                dup.close()
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            conn.close()

    def stats(self):
        with self.lock:
            return self.answered, list(self.ids)


class EarlyAnswerUpstream(_ThreadedUpstream):
    """An upstream (HTTPS with `cert` and `key`, else plain HTTP) that answers
    each request with 204 as soon as it has the head, then reads the body on the
    same keep-alive connection, as nginx's `return 204` does. A small receive
    buffer and a pause before reading the body make sure the answer arrives
    while most of the request is still unsent. Keeps the ids of every body it
    read whole, and counts the connections it accepted."""

    def __init__(self, cert=None, key=None):
        self.ids = []
        self.ctx = None
        if cert:
            self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ctx.load_cert_chain(cert, key)
        self._listen(rcvbuf=4096)

    def _one(self, raw):
        raw.settimeout(10)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True) if self.ctx else raw
        except (OSError, ssl.SSLError):
            raw.close()
            return
        try:
            data = b""
            while True:
                got = self._read_head(conn, data)
                if got is None:
                    return
                length, data = got
                conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")  # before reading the body
                time.sleep(0.05)
                data = self._recv_until(conn, data, lambda d: len(d) >= length)
                if data is None:
                    return
                body, data = data[:length], data[length:]
                with self.lock:
                    self.ids.extend(e["id"] for e in json.loads(body))
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            conn.close()

    def stats(self):
        with self.lock:
            return self.connections, list(self.ids)
