#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Before/after for forwarding over TLS: two tollgate binaries forwarding to
nginx (`ssl`, `return 204`, one worker, ECDSA P-256, on the load generator's
CPUs), interleaved round by round, under scripts/macro_bench.py's closed loop
(tollgate-load, 64 connections). Prints one Markdown table row: requests/s and
server CPU-seconds per million events (the figure that decides), medians.

  scripts/tls_forward_ab.py --before OLD/tollgate --after NEW/tollgate [--build build] [--rounds 3] [--events 100]
"""
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("macro_bench", os.path.join(HERE, "macro_bench.py"))
mb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mb)


class Forwarding(mb.Tollgate):
    def __init__(self, binary, server_cpus, upstream_cpus, tmp, cert, key):
        self.upstream = mb.Nginx(upstream_cpus, 1, tempfile.mkdtemp(dir=tmp), 1024, tls=(cert, key))
        mb.TOLLGATE = binary
        super().__init__(server_cpus, 1, f"https://127.0.0.1:{self.upstream.port}",
                         ("--dead-letter", os.path.join(tmp, "dead.jsonl"), "--upstream-ca-file", cert))

    def stop(self):
        super().stop()
        self.upstream.stop()


def main():
    ap = mb.ab_parser(__doc__)
    ap.add_argument("--events", type=int, default=100, help="events per client request")
    a = ap.parse_args()
    mb.LOAD = os.path.join(a.build, "tools", "load", "tollgate-load")
    server_cpus, load_cpus, _ = mb.cpu_split(os.cpu_count(), 1)
    tmp = tempfile.mkdtemp(prefix="tg-tls-ab-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)

    class Args:
        duration, load_threads = a.duration, 1

    runs = {}
    for rnd in range(a.rounds):
        for name, binary in (("before", a.before), ("after", a.after)):
            srv = Forwarding(binary, server_cpus, load_cpus, tmp, cert, key)
            try:
                mb.tollgate_load(srv.port, a.events, 64, 1, load_cpus, 1)
                r = mb.closed_loop(srv, a.events, 64, Args, load_cpus)
            finally:
                srv.stop()
            if r["errors_total"]:
                raise RuntimeError(f"{name}: {r['errors_total']} errors under load")
            runs.setdefault(name, []).append(r)
            mb.log(f"round {rnd + 1} {name:6} {r['rps']:>9.0f} req/s {r['cpu_per_m']:6.2f} CPU-s/M ev  "
                   f"p99 {r['latency_us']['p99']:.0f} µs")
    med = lambda name, key: statistics.median(x[key] for x in runs[name])
    print("| body | output | before req/s | after req/s | after/before | before CPU-s/M ev | after CPU-s/M ev |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {a.events}-event bodies | forward → nginx over TLS | {med('before', 'rps'):.0f} | "
          f"{med('after', 'rps'):.0f} | {med('after', 'rps') / med('before', 'rps'):.2f} | "
          f"{med('before', 'cpu_per_m'):.2f} | {med('after', 'cpu_per_m'):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
