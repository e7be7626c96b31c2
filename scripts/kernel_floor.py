#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Where a request's CPU goes: user space against the kernel, and the ratio to nginx that leaves.

  scripts/kernel_floor.py [--tollgate BIN] [--build DIR] [--rounds 3] [--duration 3] [--connections 64] [-k 100] [--tool load|wrk]

One shard against one nginx worker, a closed loop (tollgate-load, or wrk
sending bench/data's body for -k 1 or -k 100 over and over), interleaved
round after round: nginx `return 204` (it reads and discards the body),
tollgate writing to file:/dev/null, and tollgate forwarding to an nginx
upstream (on the load generator's CPUs, not counted). For each it reports
the server's user and system CPU-µs per request from /proc/PID/stat.

The system time is what the kernel spends on the server's behalf: receiving
the body, and when forwarding, sending it on. On loopback the sender's send
also runs the receiver's TCP receive in the sender's context, so a forwarding
server pays roughly a receive twice. The last line says the ratio to nginx a
tollgate would reach if all its user-space work cost nothing: nginx's total
CPU per request over tollgate's system CPU per request. A target above that
ratio cannot be met by changing tollgate's code on this machine.
"""
import argparse
import importlib.util
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("macro_bench", os.path.join(HERE, "macro_bench.py"))
mb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mb)


def run_load(srv, k, a, load_cpus, duration):
    """(requests answered 2xx, wall seconds) of one closed-loop run."""
    if a.tool == "wrk":
        body = {b[1]: b for b in mb.BODIES}[k]
        r = mb.wrk(srv.port, body[2], body[3], a.connections, duration, load_cpus, 1)
        if r["errors"] or r["non2xx"]:
            raise RuntimeError(f"{srv.name}: {r['errors']} errors, {r['non2xx']} non-2xx under wrk")
        return r["requests"], max(1, round(duration))
    r = mb.tollgate_load(srv.port, k, a.connections, duration, load_cpus, 1)
    if r["errors"]["total"]:
        raise RuntimeError(f"{srv.name}: {r['errors']['total']} errors under load")
    return r["requests_per_s"] * duration, duration


def measure(srv, k, a, load_cpus):
    try:
        run_load(srv, k, a, load_cpus, 1)  # warm-up
        u0, s0 = mb.cpu_seconds_split(srv.pids)
        n, wall = run_load(srv, k, a, load_cpus, a.duration)
        u1, s1 = mb.cpu_seconds_split(srv.pids)
    finally:
        srv.stop()
    return {"rps": n / wall, "user_us": (u1 - u0) / n * 1e6, "sys_us": (s1 - s0) / n * 1e6}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tollgate", default=os.path.join(mb.ROOT, "build", "src", "app", "tollgate"))
    ap.add_argument("--build", default=os.path.join(mb.ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("-k", type=int, default=100, choices=(1, 100), help="events per request (default 100)")
    ap.add_argument("--tool", default="load", choices=("load", "wrk"), help="load generator (default tollgate-load)")
    a = ap.parse_args()
    mb.TOLLGATE = a.tollgate
    mb.LOAD = os.path.join(a.build, "tools", "load", "tollgate-load")
    server_cpus, load_cpus, _ = mb.cpu_split(os.cpu_count(), 1)
    tmp = tempfile.mkdtemp(prefix="tg-floor-")
    makers = {
        "nginx return 204": lambda: mb.Nginx(server_cpus, 1, os.path.join(tmp, "nginx"), 1024),
        "tollgate → file:/dev/null": lambda: mb.Tollgate(server_cpus, 1),
        "tollgate → nginx upstream": lambda: mb.TollgateForwarding(server_cpus, 1, tmp, load_cpus, "nginx"),
    }
    runs = {name: [] for name in makers}
    for rnd in range(a.rounds):
        for name, make in makers.items():
            r = measure(make(), a.k, a, load_cpus)
            runs[name].append(r)
            mb.log(f"round {rnd + 1} {name:28} {r['rps']:>8.0f} req/s user {r['user_us']:6.2f} "
                   f"sys {r['sys_us']:6.2f} CPU-µs/req")
    med = {name: {key: statistics.median(x[key] for x in rs) for key in ("rps", "user_us", "sys_us")}
           for name, rs in runs.items()}
    print(f"| server ({a.k} events a request, {'wrk' if a.tool == 'wrk' else 'tollgate-load'}) | req/s | user CPU-µs / req | system CPU-µs / req | total | "
          f"events per CPU-s vs nginx |")
    print("|---|---:|---:|---:|---:|---:|")
    ng = med["nginx return 204"]
    ng_total = ng["user_us"] + ng["sys_us"]
    for name, m in med.items():
        total = m["user_us"] + m["sys_us"]
        print(f"| {name} | {m['rps']:.0f} | {m['user_us']:.2f} | {m['sys_us']:.2f} | {total:.2f} | "
              f"{ng_total / total:.2f}× |")
    fw = med["tollgate → nginx upstream"]
    print(f"\nForwarding with user space at zero cost would reach {ng_total / fw['sys_us']:.2f}× nginx "
          f"(nginx {ng_total:.2f} CPU-µs per request, tollgate's kernel time alone {fw['sys_us']:.2f}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
