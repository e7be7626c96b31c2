#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The pass-through's overhead: the same requests to tollgate-sink directly and
through tollgate, side by side in one run, interleaved.

  scripts/proxy_bench.py [--build build] [--rounds 3] [--duration 5]

Two requests: GET /api/v1/meters (tollgate-sink's ~2 KiB JSON answer) and
POST /api/v1/meters/tokens/query (a meter query with a JSON body). For each
round and request, wrk runs against the sink, then against tollgate in front of
the same sink: one connection (closed loop: latency), then 16 connections
(throughput and server CPU). The servers (sink; sink + tollgate) share CPU 1,
wrk runs on CPU 0. Reported: p50 / p99 of the one-connection runs (median over
rounds) and the added latency, requests/s and the servers' CPU time per request
(utime + stime of every server process, from /proc) of the 16-connection runs.
Checked before timing: the answer through tollgate is byte for byte the
sink's; after: no socket error and no non-2xx answer in any run (the run fails
otherwise).
"""
import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
QUERY = b'{"from":"2024-01-01T00:00:00Z","to":"2024-01-02T00:00:00Z","windowSize":"HOUR","subject":["customer-1"],"groupBy":["model"]}'
CASES = [("GET", "/api/v1/meters", None), ("POST", "/api/v1/meters/tokens/query", QUERY)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d did not open" % port)


def cpu_seconds(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


class Server:
    def __init__(self, argv, port):
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["taskset", "-c", "1"] + argv, stdout=subprocess.DEVNULL, stderr=self.log)
        wait_port(port)

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=20)
        if rc != 0:
            self.log.seek(0)
            raise RuntimeError("%s exited %d: %s" % (self.proc.args, rc, self.log.read()[-2000:]))


def fetch(port, method, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers={"Content-Type": "application/json", "Authorization": "Bearer bench"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def to_us(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


def wrk(port, method, path, body, conns, duration, tmp):
    script = os.path.join(tmp, "req.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "%s"\nwrk.headers["Content-Type"] = "application/json"\n'
                'wrk.headers["Authorization"] = "Bearer bench"\n' % method)
        if body:
            f.write("wrk.body = [[%s]]\n" % body.decode())
    out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency",
                          "-s", script, "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    if "Socket errors" in out or "Non-2xx" in out:
        raise RuntimeError("wrk saw errors:\n" + out)
    lat = dict(re.findall(r"^\s*(50|99)%\s+([\d.]+[a-z]+)", out, re.M))
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"p50": to_us(lat["50"]), "p99": to_us(lat["99"]), "requests": n, "rps": rps}


def measure(target_port, pids, method, path, body, args, tmp):
    one = wrk(target_port, method, path, body, 1, args.duration, tmp)
    before = sum(cpu_seconds(p) for p in pids)
    many = wrk(target_port, method, path, body, 16, args.duration, tmp)
    cpu = sum(cpu_seconds(p) for p in pids) - before
    return {"p50": one["p50"], "p99": one["p99"], "rps": many["rps"], "cpu_us": cpu * 1e6 / many["requests"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    args = ap.parse_args()
    sink_bin = os.path.join(args.build, "tools", "sink", "tollgate-sink")
    tg_bin = os.path.join(args.build, "src", "app", "tollgate")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        sp, tp = free_port(), free_port()
        sink = Server([sink_bin, "--listen", "127.0.0.1:%d" % sp, "--log-level", "warn"], sp)
        tg = Server([tg_bin, "--listen", "127.0.0.1:%d" % tp, "--shards", "1", "--upstream",
                     "http://127.0.0.1:%d" % sp, "--log-level", "warn"], tp)
        try:
            for method, path, body in CASES:
                direct, through = fetch(sp, method, path, body), fetch(tp, method, path, body)
                if direct != through or direct[0] != 200:
                    raise RuntimeError("%s %s: through tollgate %r, direct %r" % (method, path, through[:1], direct[:1]))
                print("%s %s: %d-byte answer, identical through tollgate" % (method, path, len(direct[1])), flush=True)
            for r in range(args.rounds):
                for method, path, body in CASES:
                    for mode, port, pids in (("direct", sp, [sink.proc.pid]),
                                             ("through tollgate", tp, [sink.proc.pid, tg.proc.pid])):
                        m = measure(port, pids, method, path, body, args, tmp)
                        results.setdefault((method, path, mode), []).append(m)
                        print("round %d %s %s %s: %s" % (r + 1, method, path, mode, m), flush=True)
        finally:
            tg.stop()
            sink.stop()
    med = lambda rows, k: statistics.median(x[k] for x in rows)
    print("\n| request | path | p50 | p99 | added p50 | added p99 | req/s (16 conns) | server CPU / request |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for method, path, _ in CASES:
        d = results[(method, path, "direct")]
        t = results[(method, path, "through tollgate")]
        for mode, rows in (("direct", d), ("through tollgate", t)):
            added = mode != "direct"
            print("| %s %s | %s | %.0f µs | %.0f µs | %s | %s | %s | %.1f µs |" % (
                method, path, mode, med(rows, "p50"), med(rows, "p99"),
                "%+.0f µs" % (med(t, "p50") - med(d, "p50")) if added else "–",
                "%+.0f µs" % (med(t, "p99") - med(d, "p99")) if added else "–",
                "{:,.0f}".format(med(rows, "rps")), med(rows, "cpu_us")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
