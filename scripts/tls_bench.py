#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""TLS on the listener: tollgate (--tls-cert, one shard) against nginx with
`ssl` and `return 204` (one worker) on the same ECDSA P-256 certificate, both
pinned to the same CPU, loaded by wrk over HTTPS keep-alive (64 connections,
on the other CPUs): single events and 100-event batches, rounds interleaved.
Prints a Markdown table of requests/s and requests per server CPU-second
(utime + stime from /proc, the figure that decides on a shared machine).
Every request must be answered 2xx, or the script exits 1.

  scripts/tls_bench.py [--duration 8] [--rounds 2] [--server-cpu 1] [--load-cpu 0]
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from macro_bench import BODIES, TOLLGATE, Nginx, Server, cpu_seconds, free_port, log, wrk  # noqa: E402


def make_cert(d):
    def run(*a):
        subprocess.run(["openssl"] + list(a), cwd=d, check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem",
        "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    return os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")


class TollgateTls(Server):
    name = "tollgate"

    def __init__(self, cpu, cert, key):
        self.port = free_port()
        self.start(["taskset", "-c", cpu, TOLLGATE, "--listen", f"127.0.0.1:{self.port}", "--shards", "1",
                    "--upstream", "file:/dev/null", "--log-level", "error", "--tls-cert", cert, "--tls-key", key])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--server-cpu", default="1")
    ap.add_argument("--load-cpu", default="0")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tollgate-tls-bench-")
    cert, key = make_cert(tmp)
    res = {}
    failed = False
    for rnd in range(args.rounds):
        for label, k, body, ctype in BODIES:
            for make in (lambda: Nginx(args.server_cpu, 1, os.path.join(tmp, "nginx"), 3072, tls=(cert, key)), lambda: TollgateTls(args.server_cpu, cert, key)):
                s = make()
                try:
                    c0 = cpu_seconds(s.pids)
                    r = wrk(s.port, body, ctype, args.connections, args.duration, args.load_cpu, 1, scheme="https")
                    r["cpu_s"] = cpu_seconds(s.pids) - c0
                finally:
                    s.stop()
                if r["non2xx"] or r["errors"] or r["requests"] == 0:
                    log(f"{s.name} {label}: {r}")
                    failed = True
                log(f"round {rnd + 1} {label} {s.name}: {r['requests'] / args.duration:.0f} req/s, "
                    f"{r['requests'] / r['cpu_s']:.0f} req/CPU-s")
                res.setdefault((label, s.name), []).append(r)
    print("| body | server | req/s | server CPU-s | req per CPU-second | p50 / p99 (ms) |")
    print("|---|---|---:|---:|---:|---:|")
    for label, k, _, _ in BODIES:
        per = {}
        for name in ("nginx ssl", "tollgate"):
            rs = res[(label, name)]
            req = sum(r["requests"] for r in rs)
            cpu = sum(r["cpu_s"] for r in rs)
            per[name] = req / cpu
            p50 = sorted(r["p50_us"] for r in rs)[len(rs) // 2] / 1000
            p99 = sorted(r["p99_us"] for r in rs)[len(rs) // 2] / 1000
            print(f"| {label} | {name} | {req / (args.duration * len(rs)):,.0f} | {cpu:.1f} | {req / cpu:,.0f} | "
                  f"{p50:.2f} / {p99:.2f} |")
        print(f"| {label} | **tollgate / nginx per CPU-second** | | | **{per['tollgate'] / per['nginx ssl']:.2f}×** | |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
