#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The front door's single-event A/B: wrk and tollgate-load, interleaved.

  scripts/door_bench.py --before OLD/tollgate --after NEW/tollgate [--rounds 3] [--duration 3] [--perf]

For each round and each load tool (wrk and tollgate-load, single events, 32
connections by default), it runs `before`, `after` and nginx `return 204`
one after the other on the same CPUs (scripts/macro_bench.py's servers and
load runners) and reports each one's median requests/s, server CPU-µs per
request and requests per server CPU-second against nginx's. With --perf it
also counts, per request, the server's syscalls, io_uring_enter calls and
io_uring requests submitted (perf stat -e on the server's pid; perf itself
costs a little CPU, so the CPU figures of a --perf run are not the ones to
quote). Bounded: rounds x 2 tools x 3 servers x (warm-up + duration).

  scripts/door_bench.py --before OLD/tollgate --after NEW/tollgate --idle 4000

instead measures memory: after a warm-up (tollgate-load, 1 s, 32 connections,
so the receive buffers and the ring's window are already touched and do not
count as the connections'), it holds N keep-alive connections idle (one
request each, then nothing) and reports the RSS they add per connection,
then closes them and reports how much of it came back.

  scripts/door_bench.py --before OLD/tollgate --after NEW/tollgate --rss

reports each binary's RSS after a closed loop at full load (tollgate-load,
64 connections, --duration s) with default flags, for single events and
100-event batches, written to file:/dev/null and forwarded to tollgate-sink,
with the page faults the server took per request during the run.
"""
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("macro_bench", os.path.join(HERE, "macro_bench.py"))
mb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mb)

EVENTS = ("raw_syscalls:sys_enter", "syscalls:sys_enter_io_uring_enter", "io_uring:io_uring_submit_req")


class Args:
    pass


def perf_start(pids, out):
    return subprocess.Popen(["perf", "stat", "-x", ",", "-o", out, "-e", ",".join(EVENTS), "-p",
                             ",".join(str(p) for p in pids)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_stop(p, out):
    p.send_signal(2)
    p.wait(10)
    counts = {}
    with open(out) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 2 and parts[2] in EVENTS:
                try:
                    counts[parts[2]] = int(parts[0])
                except ValueError:
                    counts[parts[2]] = 0
    return counts


def run_one(srv, tool, a, args, load_cpus, tmp):
    body, ctype = mb.BODIES[0][2], mb.BODIES[0][3]
    if a.warmup > 0:
        mb.tollgate_load(srv.port, 1, a.connections, a.warmup, load_cpus, 1)
    p = perf_start(srv.pids, os.path.join(tmp, "perf.txt")) if a.perf else None
    if tool == "wrk":
        r = mb.closed_loop_wrk(srv, body, ctype, 1, args, load_cpus)
        n = r["requests"]
        errors = r["errors"] + r["non2xx"]
    else:
        r = mb.closed_loop(srv, 1, a.connections, args, load_cpus)
        n = r["requests"]
        errors = r["errors_total"]
    if errors:
        raise RuntimeError(f"{srv.name} under {tool}: {errors} errors")
    out = {"rps": r["rps"], "cpu_us": r["cpu_s"] / n * 1e6, "per_cpu_s": n / r["cpu_s"] if r["cpu_s"] else 0.0}
    if p:
        c = perf_stop(p, os.path.join(tmp, "perf.txt"))
        out.update({e: c.get(e, 0) / n for e in EVENTS})
    return out


def main():
    ap = mb.ab_parser(__doc__)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--tools", default="wrk,load")
    ap.add_argument("--perf", action="store_true", help="count syscalls and io_uring requests per request")
    ap.add_argument("--idle", type=int, default=0, help="measure N idle keep-alive connections instead")
    ap.add_argument("--rss", action="store_true", help="measure RSS at full load instead")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds idle before RSS is read (--idle)")
    a = ap.parse_args()
    if a.idle:
        return idle(a)
    if a.rss:
        return rss(a)
    mb.LOAD = os.path.join(a.build, "tools", "load", "tollgate-load")
    args = Args()
    args.duration, args.wrk_duration, args.warmup = a.duration, a.duration, a.warmup
    args.connections, args.load_threads = a.connections, 1
    server_cpus, load_cpus, _ = mb.cpu_split(os.cpu_count(), 1)
    tmp = tempfile.mkdtemp(prefix="tg-door-")
    res = {}

    def tollgate(binary):
        def make():
            mb.TOLLGATE = binary
            return mb.Tollgate(server_cpus, 1)
        return make

    makers = (("before", tollgate(a.before)), ("after", tollgate(a.after)),
              ("nginx", lambda: mb.Nginx(server_cpus, 1, os.path.join(tmp, "nginx"), 1024)))
    tools = a.tools.split(",")
    for rnd in range(a.rounds):
        for tool in tools:
            for name, make in makers:
                srv = make()
                try:
                    r = run_one(srv, tool, a, args, load_cpus, tmp)
                finally:
                    srv.stop()
                res.setdefault((tool, name), []).append(r)
                extra = "".join(f" {e.split(':')[1]} {r[e]:.2f}/req" for e in EVENTS if e in r)
                mb.log(f"round {rnd + 1} {tool:4} {name:6} {r['rps']:>9.0f} req/s {r['cpu_us']:6.2f} CPU-µs/req{extra}")

    med = lambda runs, key: statistics.median(x[key] for x in runs)
    cols = ["tool", "server", "req/s", "CPU-µs / req", "req per CPU-s vs nginx"] + (
        [e.split(":")[1] + " / req" for e in EVENTS] if a.perf else [])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for tool in tools:
        ng = med(res[(tool, "nginx")], "per_cpu_s")
        for name, _ in makers:
            runs = res[(tool, name)]
            row = [tool if tool == "wrk" else "tollgate-load", name, f"{med(runs, 'rps'):.0f}",
                   f"{med(runs, 'cpu_us'):.2f}", f"{med(runs, 'per_cpu_s') / ng:.2f}×"]
            if a.perf:
                row += [f"{med(runs, e):.2f}" for e in EVENTS]
            print("| " + " | ".join(row) + " |")
    return 0


def minor_faults(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def rss(a):
    mb.LOAD = os.path.join(a.build, "tools", "load", "tollgate-load")
    mb.SINK = os.path.join(a.build, "tools", "sink", "tollgate-sink")
    server_cpus, load_cpus, _ = mb.cpu_split(os.cpu_count(), 1)
    tmp = tempfile.mkdtemp(prefix="tg-door-rss-")
    args = Args()
    args.duration, args.warmup, args.connections, args.load_threads = a.duration, 0, 64, 1
    print("| body | output | binary | round | req/s | RSS after the run | page faults / request |")
    print("|---|---|---|---|---|---|---|")
    for rnd in range(a.rounds):
        for label, k, _, _ in mb.BODIES:
            for output in ("file", "forward"):
                for name, binary in (("before", a.before), ("after", a.after)):
                    mb.TOLLGATE = binary
                    srv = (mb.TollgateForwarding(server_cpus, 1, tmp, load_cpus, "sink") if output == "forward"
                           else mb.Tollgate(server_cpus, 1))
                    try:
                        f0 = minor_faults(srv.pids[0])
                        r = mb.closed_loop(srv, k, 64, args, load_cpus)
                        faults = minor_faults(srv.pids[0]) - f0
                        kib = mb.rss_kib(srv.pids)
                    finally:
                        srv.stop()
                    print(f"| {label} | {'file:/dev/null' if output == 'file' else 'forward → sink'} | {name} | "
                          f"{rnd + 1} | {r['rps']:.0f} | {kib / 1024:.1f} MiB | {faults / max(1, r['requests']):.3f} |",
                          flush=True)
    return 0


def idle(a):
    mb.LOAD = os.path.join(a.build, "tools", "load", "tollgate-load")
    mb.raise_nofile(2 * a.idle + 4096)
    server_cpus, load_cpus, _ = mb.cpu_split(os.cpu_count(), 1)
    os.sched_setaffinity(0, {int(c) for c in mb._cpus(load_cpus)})
    print("| binary | round | idle connections | RSS before | per idle connection | RSS after they closed | "
          "came back |")
    print("|---|---|---|---|---|---|---|")
    for rnd in range(a.rounds):
        for name, binary in (("before", a.before), ("after", a.after)):
            mb.TOLLGATE = binary
            srv = mb.Tollgate(server_cpus, 1)
            try:
                mb.tollgate_load(srv.port, 1, 32, 1, load_cpus, 1)
                time.sleep(0.3)
                r = mb.idle_test(srv, a.idle, a.settle)
                time.sleep(a.settle)
                closed = mb.rss_kib(srv.pids)
            finally:
                srv.stop()
            added = r["rss_after_kib"] - r["rss_before_kib"]
            back = (r["rss_after_kib"] - closed) / added if added > 0 else float("nan")
            if r["held"] != a.idle or r["answered"] != a.idle:
                raise RuntimeError(f"{name}: {r['answered']} answered, {r['held']} held of {a.idle}")
            print(f"| {name} | {rnd + 1} | {a.idle} | {r['rss_before_kib'] / 1024:.1f} MiB | "
                  f"{r['bytes_per_conn']:.0f} B | {closed / 1024:.1f} MiB | {back * 100:.0f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
