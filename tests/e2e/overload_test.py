# SPDX-License-Identifier: Apache-2.0
"""Overload that must cost tollgate bounded CPU, log and memory (issue 16): more
clients than file descriptors (tollgate under `prlimit --nofile`), and clients
that pipeline requests without ever reading the answers. Resource use is read
from /proc (CPU time, VmRSS, VmHWM); nothing is timed against a wall clock."""
import os
import resource
import selectors
import socket
import time

from harness import Gateway, metric, run_tests, wait_for

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def sanitized():
    """Whether the binary under test is an ASan build (its allocator keeps freed
    memory in a quarantine) or a TSan one (its shadow memory grows with ours),
    so RSS says nothing about ours."""
    import harness
    with open(harness.BIN, "rb") as f:
        image = f.read()
    return b"__asan_init" in image or b"__tsan_init" in image


class Limited(Gateway):
    """tollgate started under `prlimit --nofile=N:N` (prlimit execs it: same pid)."""

    def __init__(self, nofile, *flags, **kw):
        self.nofile = nofile
        super().__init__(*flags, **kw)

    def _spawn(self, args, env=None, stdout=None):
        super()._spawn(["prlimit", "--nofile=%d:%d" % (self.nofile, self.nofile), "--"] + list(args), env, stdout)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def raise_own_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= n


def open_clients(port, n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
    return socks


def outcome_of_each(socks, timeout):
    """Sends GET /healthz on every socket, then waits (select, bounded) until each
    one has answered 200 ("served"), or closed or reset ("closed"); the rest hung."""
    sel = selectors.DefaultSelector()
    state = {}
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    for s in socks:
        try:
            s.send(req)
        except (BlockingIOError, ConnectionError, OSError):
            pass  # not connected yet or already reset: reading tells
        state[s] = b""
        sel.register(s, selectors.EVENT_READ)
    result = {"served": 0, "closed": 0}
    deadline = time.monotonic() + timeout
    while state and time.monotonic() < deadline:
        for key, _ in sel.select(0.1):
            s = key.fileobj
            try:
                chunk = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if chunk:
                state[s] += chunk
                if b"\r\n\r\nok\n" not in state[s]:
                    continue
                result["served"] += 1
            else:
                result["closed"] += 1
            sel.unregister(s)
            del state[s]
    result["hung"] = len(state)
    sel.close()
    return result


def test_out_of_descriptors_costs_bounded_cpu_and_log_and_service_resumes():
    clients = 400
    assert raise_own_nofile(clients + 64), "the test itself needs %d descriptors" % (clients + 64)
    with Limited(200, "--shards", "2", "--idle-timeout-ms", "60000") as g:
        # One request first: UBSan's first check of a virtual call's dynamic
        # type needs a pipe, which it cannot get at the descriptor limit (a
        # false "invalid vptr"); after it the type is cached.
        assert _healthy(g)
        cpu0 = cpu_seconds(g.proc.pid)
        socks = open_clients(g.port, clients)
        try:
            got = outcome_of_each(socks, timeout=8)
            # Clients the process has no descriptor for are closed, not left hanging.
            assert got["hung"] == 0, got
            assert got["served"] > 0 and got["closed"] > 0, got
            # Hold the served ones open a while: tollgate stays out of descriptors.
            time.sleep(2)
            cpu = cpu_seconds(g.proc.pid) - cpu0
            log_bytes = os.path.getsize(g.err_path)
            # On main this spun both shards (about 2 CPU-s per second here)
            # and wrote hundreds of MB of log lines.
            assert cpu < 1.5, "tollgate used %.2f CPU-s while out of descriptors" % cpu
            assert log_bytes < 64 * 1024, "stderr grew to %d bytes" % log_bytes
        finally:
            for s in socks:
                s.close()
        # Descriptors free up: service resumes by itself.
        wait_for(lambda: _healthy(g), timeout=10, what="/healthz once clients closed")
        m = g.metrics()
        assert metric(m, "tollgate_accept_errors_total", reason="process_fd_limit") > 0, m
        assert metric(m, "tollgate_connections_shed_total") > 0, m
        failed = [l for l in g.log_lines() if l.get("msg") == "accept failed"]
        assert failed and all(l.get("count", 0) >= 1 for l in failed), failed
        g.stop()


def _healthy(g):
    try:
        return g.request("GET", "/healthz", timeout=2).status == 200
    except (OSError, EOFError, AssertionError):
        return False


def test_pipelining_without_reading_has_bounded_memory_that_comes_back():
    conns = 256
    per_conn = 64 << 20  # at most this many bytes of pipelined requests per client
    assert raise_own_nofile(conns + 64)
    sanitizer = sanitized()
    # 8 MiB for the shard's buffered answers and input; each connection also
    # holds at most 64 KiB of answers and 256 KiB of input. Receive buffers
    # (1024 x 16 KiB) are touched too and stay: they are the fixed part.
    with Gateway("--shards", "1", "--max-connections", "4096", "--max-output-bytes-total", "8MiB") as g:
        pid = g.proc.pid
        assert _healthy(g)
        base = status_kib(pid, "VmRSS")
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        chunk = req * (65536 // len(req))
        socks = []
        for _ in range(conns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # read nothing, window small
            s.connect(("127.0.0.1", g.port))
            s.setblocking(False)
            socks.append([s, 0, False])  # socket, bytes pushed, closed by tollgate
        try:
            # Push for a few seconds whether or not TCP holds the clients back
            # (on main, what tollgate had taken kept growing its memory even
            # after the clients closed), or until tollgate closed them all.
            until = time.monotonic() + 4
            while time.monotonic() < until:
                if not any([_try_send(e, chunk, per_conn) for e in socks]):
                    if all(e[2] or e[1] >= per_conn for e in socks):
                        break
                    time.sleep(0.05)
            pushed = sum(e[1] for e in socks)
            m = g.metrics()
            assert metric(m, "tollgate_output_paused_total") > 0, "reading never paused for unsent output"
            assert g.request("GET", "/healthz").status == 200, "a new client is still served"
        finally:
            for e in socks:
                e[0].close()
        wait_for(lambda: metric(g.metrics(), "tollgate_connections_open", shard="0") <= 1, timeout=30,
                 what="flood connections closed")
        time.sleep(0.5)  # whatever tollgate still does with what it took shows in the peak
        peak = status_kib(pid, "VmHWM")
        if not sanitizer:
            # On main: 300 MB and more here. Now the shard holds at most
            # 8 MiB plus, per connection, what one receive brings.
            assert peak - base < 64 * 1024, "VmHWM grew by %d KiB for %d connections (pushed %d bytes, %d closed)" % (
                peak - base, conns, pushed, sum(1 for e in socks if e[2]))
            wait_for(lambda: status_kib(pid, "VmRSS") - base < 32 * 1024, timeout=15,
                     what="RSS back near its start (start %d KiB, peak %d KiB, now %d KiB)" % (
                         base, peak, status_kib(pid, "VmRSS")))
        g.stop()


def _try_send(entry, chunk, limit):
    """One non-blocking send; False when TCP holds it back or tollgate closed the
    connection (a client that sent too far ahead is closed: then it is done)."""
    if entry[2] or entry[1] >= limit:
        return False
    try:
        entry[1] += entry[0].send(chunk)
        return True
    except BlockingIOError:
        return False
    except OSError:  # reset or closed by tollgate: this client is done
        entry[2] = True
        return False


run_tests(globals())
