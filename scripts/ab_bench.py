#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Before/after: two tollgate binaries under the same loads, interleaved.

  scripts/ab_bench.py --before OLD/tollgate --after NEW/tollgate [--rounds 3] [--duration 3]

For each round, each body (single events, 100-event batches) and each output
(file:/dev/null, forwarding to tollgate-sink), it runs the macro benchmark's
closed loop (tollgate-load, 64 connections) against `before`, then `after`,
then nginx `return 204` as the floor, one at a time on the same CPUs.
Interleaving rounds spreads machine noise over both binaries alike; the table
gives each one's median over the rounds: requests/s, server CPU-seconds per
million events (the figure that decides), p99, and after/before ratios.
Uses scripts/macro_bench.py's servers and load runner; the load generator and
the sink come from --build (default build/).
"""
import importlib.util
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("macro_bench", os.path.join(HERE, "macro_bench.py"))
mb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mb)


class Args:
    pass


def measure(make, k, args, load_cpus):
    srv = make()
    try:
        if args.warmup > 0:
            mb.tollgate_load(srv.port, k, args.connections, args.warmup, load_cpus, 1)
        r = mb.closed_loop(srv, k, args.connections, args, load_cpus)
        if r["errors_total"]:
            raise RuntimeError(f"{srv.name}: {r['errors_total']} errors under load")
        return r
    finally:
        srv.stop()


def main():
    ap = mb.ab_parser(__doc__)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--bodies", default="single,batch", help="single, batch or both (default)")
    ap.add_argument("--outputs", default="file,forward", help="file, forward or both (default)")
    a = ap.parse_args()
    mb.LOAD = os.path.join(a.build, "tools", "load", "tollgate-load")
    mb.SINK = os.path.join(a.build, "tools", "sink", "tollgate-sink")
    args = Args()
    args.duration, args.warmup, args.connections, args.load_threads = a.duration, a.warmup, a.connections, 1
    server_cpus, load_cpus, _ = mb.cpu_split(os.cpu_count(), a.shards)
    tmp = tempfile.mkdtemp(prefix="tg-ab-")
    results = {}  # (body, output, binary) -> [runs]

    def make_tollgate(binary, output):
        def make():
            mb.TOLLGATE = binary
            if output == "forward":
                return mb.TollgateForwarding(server_cpus, a.shards, tmp, load_cpus, "sink")
            return mb.Tollgate(server_cpus, a.shards)
        return make

    bodies = [b for b in mb.BODIES if ("single" if b[1] == 1 else "batch") in a.bodies.split(",")]
    outputs = [o for o in ("file", "forward") if o in a.outputs.split(",")]
    for rnd in range(a.rounds):
        for label, k, _, _ in bodies:
            for output in outputs:
                for name, binary in (("before", a.before), ("after", a.after)):
                    r = measure(make_tollgate(binary, output), k, args, load_cpus)
                    results.setdefault((label, output, name), []).append(r)
                    mb.log(f"round {rnd + 1} {label:15} {output:8} {name:6} {r['rps']:>9.0f} req/s "
                           f"{r['cpu_per_m']:6.2f} CPU-s/M ev  p99 {r['latency_us']['p99']:.0f} µs")
            r = measure(lambda: mb.Nginx(server_cpus, a.shards, os.path.join(tmp, "nginx"), 1024), k, args, load_cpus)
            results.setdefault((label, "nginx", "nginx"), []).append(r)

    med = lambda runs, key: statistics.median(x[key] for x in runs)
    p99 = lambda runs: statistics.median(x["latency_us"]["p99"] for x in runs)
    print(f"| body | output | before req/s | after req/s | after/before | before CPU-s/M ev | after CPU-s/M ev | "
          f"before p99 µs | after p99 µs | nginx req/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, k, _, _ in bodies:
        ng = med(results[(label, "nginx", "nginx")], "rps")
        for output in outputs:
            b, f = results[(label, output, "before")], results[(label, output, "after")]
            print(f"| {label} | {'file:/dev/null' if output == 'file' else 'forward → sink'} | {med(b, 'rps'):.0f} | "
                  f"{med(f, 'rps'):.0f} | {med(f, 'rps') / med(b, 'rps'):.2f} | {med(b, 'cpu_per_m'):.2f} | "
                  f"{med(f, 'cpu_per_m'):.2f} | {p99(b):.0f} | {p99(f):.0f} | {ng:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
