# SPDX-License-Identifier: Apache-2.0
"""Shared harness for tollgate's end-to-end tests (Python 3 standard library only).

Starts the real binary on 127.0.0.1 port 0 with a temporary output file, reads the
port from the "listening" log line, talks to it over raw sockets, stops it with
SIGTERM and checks the exit status. Every wait is bounded; a gateway still running
when a test fails is killed. A test file calls run_tests(globals()) at the end:
functions named test_* run in order, failures are printed with their traceback,
and the exit status is 1 when any test failed, else 77 when any was skipped
(io_uring is unavailable on this host, so the gateway exits 3), else 0. A skip
never hides a failure: the remaining tests still run after one.
"""
import calendar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("TOLLGATE_BIN", os.path.join(ROOT, "build-skel", "src", "app", "tollgate"))
DATA = os.environ.get("TOLLGATE_TEST_DATA", os.path.join(ROOT, "tests", "data"))

# Sanitizer builds run several times slower; these bounds only cap the wait
# for something that should happen, they are never slept through.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0
IO_TIMEOUT = 10.0

E = (b'{"specversion":"1.0","id":"evt-1","source":"svc","type":"api-calls",'
     b'"subject":"customer-1","time":"2023-01-01T00:00:00.001Z","data":{"duration_ms":"12"}}')
TIME_RE = re.compile(rb'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
CE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


class Skip(Exception):
    """The host cannot run the gateway (io_uring unavailable)."""


def event(eid, **fields):
    """E with id `eid` and `fields` overriding or adding keys (None removes a key),
    as compact JSON bytes with keys in a fixed order."""
    obj = json.loads(E)
    obj["id"] = eid
    for k, v in fields.items():
        k = k.rstrip("_")  # type_ -> type
        if v is None:
            obj.pop(k, None)
        else:
            obj[k] = v
    return json.dumps(obj, separators=(",", ":")).encode()


def raw_event(eid, extra=b""):
    """E with id `eid` and raw JSON members `extra` (bytes, starting with a comma) appended."""
    return E.replace(b'"evt-1"', json.dumps(eid).encode())[:-1] + extra + b"}"


def batch(events):
    return b"[" + b",".join(events) + b"]"


class Gateway:
    """One tollgate process. Use as a context manager, or call stop()."""

    def __init__(self, *flags, output="file", env=None, stdout=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="tollgate-e2e-")
        self.out_path = os.path.join(self.tmp.name, "out.jsonl")
        self.err_path = os.path.join(self.tmp.name, "stderr.log")
        args = [BIN, "--listen", "127.0.0.1:0"]
        if output == "file":
            args += ["--upstream", "file:" + self.out_path]
        elif output is not None:
            args += ["--upstream", output]
        args += [str(f) for f in flags]
        self._spawn(args, env=env, stdout=stdout)

    def _spawn(self, args, env=None, stdout=None):
        """Starts `args` with stderr to self.err_path and waits for its "listening"
        line. Also used for tollgate-sink, which logs the same way."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.err_file = open(self.err_path, "wb")
        self.proc = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL,
                                     stdout=stdout or subprocess.DEVNULL, stderr=self.err_file, env=full_env)
        self.port = None
        self.rc = None
        try:
            self._wait_listening()
        except BaseException:
            self.kill()
            raise

    def _wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if line.get("msg") == "listening":
                    self.port = int(line["port"])
                    self.listening = line
                    return
            rc = self.proc.poll()
            if rc is not None:
                self.rc = rc
                if rc == 3:
                    raise Skip("io_uring is unavailable here (tollgate exited 3): " + self.stderr())
                raise AssertionError("tollgate exited %d before listening: %s" % (rc, self.stderr()))
            time.sleep(0.02)
        raise AssertionError("tollgate did not log \"listening\" within %.0fs: %s" % (START_TIMEOUT, self.stderr()))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.kill()
        elif self.rc is None:
            self.stop()
        self.tmp.cleanup()
        return False

    # --- process -----------------------------------------------------------

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_lines(self):
        lines = []
        for raw in self.stderr().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                pass
        return lines

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("tollgate did not exit within %.0fs: %s" % (timeout, self.stderr()))
        self.err_file.close()
        return self.rc

    def stop(self, expect_rc=0, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """SIGTERM (or `sig`), wait, assert the exit status and a clean stderr."""
        if self.rc is None:
            if self.alive():
                self.send_signal(sig)
            self.wait(timeout)
        assert self.rc == expect_rc, "exit status %d, expected %d: %s" % (self.rc, expect_rc, self.stderr())
        self.check_sanitizers()
        return self.rc

    def check_sanitizers(self):
        err = self.stderr()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer", "runtime error:"):
            assert marker not in err, "sanitizer report in stderr:\n" + err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        if self.rc is None:
            self.rc = self.proc.returncode
        if not self.err_file.closed:
            self.err_file.close()

    # --- output ------------------------------------------------------------

    def output(self):
        """The output file's lines (bytes, without the newline). Asserts it ends with one."""
        try:
            with open(self.out_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        if not data:
            return []
        assert data.endswith(b"\n"), "output does not end with a newline: %r" % data[-200:]
        return data[:-1].split(b"\n")

    def wait_output(self, n, timeout=IO_TIMEOUT):
        """Waits until the output holds at least n lines; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.output() if os.path.exists(self.out_path) else []
            if len(lines) >= n or time.monotonic() >= deadline:
                return lines
            time.sleep(0.02)

    # --- clients -----------------------------------------------------------

    def connect(self, timeout=IO_TIMEOUT):
        return Conn(self.port, timeout)

    def request(self, method, path, body=None, headers=None, timeout=IO_TIMEOUT):
        """One request on a new connection; returns the Response."""
        with self.connect(timeout) as c:
            c.send(http_request(method, path, body, headers))
            return c.response(head=(method == "HEAD"))

    def post(self, body, ctype=CE, path="/api/v1/events", headers=None):
        h = dict(headers or {})
        if ctype is not None:
            h["Content-Type"] = ctype
        return self.request("POST", path, body, h)

    def metrics(self):
        r = self.request("GET", "/metrics")
        assert r.status == 200, r
        return parse_metrics(r.body.decode())


class FifoOutput:
    """A FIFO for the gateway's file output that nothing reads until the test
    says so: until then the output blocks and the event ring fills (back
    pressure). Its pipe is made as small as the kernel allows."""

    F_SETPIPE_SZ = 1031

    def __enter__(self):
        self._dir = tempfile.mkdtemp(prefix="tollgate-fifo-")
        self.path = os.path.join(self._dir, "out.fifo")
        os.mkfifo(self.path)
        # The read end first (non-blocking), so the gateway's open for writing
        # does not block.
        self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            import fcntl
            fcntl.fcntl(self._fd, getattr(fcntl, "F_SETPIPE_SZ", self.F_SETPIPE_SZ), 4096)
        except OSError:
            pass
        self._chunks = []
        self._reader = None
        return self

    def __exit__(self, *exc):
        os.close(self._fd)
        os.unlink(self.path)
        os.rmdir(self._dir)

    @property
    def output(self):
        return "file:" + self.path

    def start_reading(self):
        os.set_blocking(self._fd, True)
        self._reader = threading.Thread(target=self._read_all, daemon=True)
        self._reader.start()

    def _read_all(self):
        while True:
            b = os.read(self._fd, 65536)
            if not b:
                return
            self._chunks.append(b)

    def lines(self):
        """Every line written, once the gateway has stopped (and closed the FIFO)."""
        self._reader.join(10)
        assert not self._reader.is_alive(), "output FIFO not closed at exit"
        lines = b"".join(self._chunks).split(b"\n")
        assert lines[-1] == b"", "output does not end with a newline"
        return lines[:-1]


def http_request(method, path, body=None, headers=None, version="HTTP/1.1"):
    """Request bytes. Adds Host, and Content-Length when there is a body and no
    Transfer-Encoding or Content-Length of its own."""
    headers = dict(headers or {})
    names = {k.lower() for k in headers}
    lines = ["%s %s %s" % (method, path, version)]
    if "host" not in names:
        lines.append("Host: 127.0.0.1")
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    for k, v in headers.items():
        lines.append("%s: %s" % (k, v))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


def chunked(parts):
    out = b""
    for p in parts:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n\r\n"


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason, self.headers, self.body = version, status, reason, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%s %d %r %r>" % (self.version, self.status, self.headers, self.body[:300])


class Conn:
    """A raw client connection with a receive buffer and bounded reads."""

    def __init__(self, port, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out waiting for the server")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the server; buffered: %r" % self.buf[:300])
        self.buf += chunk

    def read_until(self, marker, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while marker not in self.buf:
            self._fill(deadline)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head=False, timeout=None):
        """Reads one response. `head`: the request was HEAD (no body follows)."""
        raw = self.read_until(b"\r\n\r\n", timeout).decode("latin-1")
        lines = raw[:-4].split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        r = Response(version, int(status), reason, headers, b"")
        status = r.status
        if head or status in (204, 304) or 100 <= status < 200:
            return r
        te = r.header("Transfer-Encoding")
        assert te is None, "unexpected Transfer-Encoding in a response: %r" % r
        cl = r.header("Content-Length")
        if cl is not None:
            r.body = self.read_exact(int(cl), timeout)
        else:
            r.body = self.read_to_eof(timeout)
        return r

    def read_to_eof(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                self._fill(deadline)
            except EOFError:
                out, self.buf = self.buf, b""
                return out

    def closed_by_peer(self, timeout=None):
        """True when the server closes (EOF or reset) within `timeout` with no more data
        beyond what is buffered; AssertionError if it sends bytes instead; False on timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            raise AssertionError("expected the connection to close, got %r" % chunk[:300])


def parse_metrics(text):
    """Prometheus text → {(name, ((label, value), ...)): float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$', line)
        assert m, "bad metrics line: %r" % line
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(metrics, name, **labels):
    """One sample's value (0 when absent)."""
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def metric_sum(metrics, name):
    return sum(v for (n, _), v in metrics.items() if n == name)


def assert_problem(r, status, *detail_words):
    """An application/problem+json error with `status` and a detail naming every word."""
    assert r.status == status, "expected %d, got %r" % (status, r)
    assert r.header("Content-Type") == "application/problem+json", r
    p = r.json()
    assert p.get("type") == "about:blank", p
    assert isinstance(p.get("title"), str) and p["title"], p
    assert p.get("status") == status, p
    detail = p.get("detail")
    assert isinstance(detail, str) and detail, p
    for w in detail_words:
        assert w.lower() in detail.lower(), "detail %r does not name %r" % (detail, w)
    return p


def assert_stamped(line, original):
    """`line` is `original` with a receipt time inserted after its `{` (original has no
    time) or replacing its `"time":null`; the time is a UTC millisecond stamp within a
    minute of now. Returns the stamp."""
    if b'"time":null' in original:
        m = re.match(rb'^(.*"time":)"([^"]*)"(.*)$', line, re.S)
        assert m, line
        assert m.group(1) + b"null" + m.group(3) == original, (line, original)
        stamp = m.group(2)
    else:
        m = re.match(rb'^\{"time":"([^"]*)",(.*)$', line, re.S)
        assert m, "no time inserted after '{': %r" % line
        assert b"{" + m.group(2) == original, (line, original)
        stamp = m.group(1)
    assert TIME_RE.match(stamp), "bad time stamp %r" % stamp
    t = calendar.timegm(time.strptime(stamp[:19].decode(), "%Y-%m-%dT%H:%M:%S"))
    assert abs(t - time.time()) < 60, "stamp %r is not now (UTC)" % stamp
    return stamp


def split_json_array(data):
    """The exact bytes of each element of a JSON array (as text after the caller's transformations)."""
    text = data.decode()
    dec = json.JSONDecoder()
    i = text.index("[") + 1
    out = []
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "]":
            return out
        _, end = dec.raw_decode(text, i)
        out.append(text[i:end].encode())
        i = end


def wait_for(pred, timeout=IO_TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


def run_threads(fn, args_list, timeout=60.0):
    """Runs fn(*args) in threads; re-raises the first exception; bounded join."""
    errors = []

    def wrap(*a):
        try:
            fn(*a)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append((e, traceback.format_exc()))

    threads = [threading.Thread(target=wrap, args=a, daemon=True) for a in args_list]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        assert not t.is_alive(), "a client thread did not finish in %.0fs" % timeout
    if errors:
        raise AssertionError("client thread failed:\n" + errors[0][1])


def run_tests(scope):
    """Runs every test_* function in `scope` in definition order and exits."""
    if not os.access(BIN, os.X_OK):
        print("tollgate binary not found at %s" % BIN)
        sys.exit(1)
    tests = [(n, f) for n, f in scope.items() if n.startswith("test_") and callable(f)]
    only = sys.argv[1:]
    failed = 0
    skipped = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            print("SKIP %s: %s" % (name, e), flush=True)
            continue
        except BaseException:  # noqa: BLE001 - every failure is reported
            failed += 1
            print("FAIL %s (%.2fs)\n%s" % (name, time.monotonic() - t0, traceback.format_exc()), flush=True)
            continue
        print("ok   %s (%.2fs)" % (name, time.monotonic() - t0), flush=True)
    sys.exit(exit_status(failed, skipped))


def exit_status(failed, skipped):
    """Prints the summary line; returns 1 (a failure), 77 (skips, no failure) or 0."""
    if failed:
        print("%d failed, %d skipped" % (failed, skipped))
        return 1
    if skipped:
        print("%d skipped, none failed" % skipped)
        return 77
    print("all passed")
    return 0
