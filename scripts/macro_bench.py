#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The macro benchmark: tollgate against nginx `return 204`, side by side.

For each shard count, three servers run at once, pinned to the same CPUs:
nginx `return 204` (as many workers as shards), tollgate writing to
file:/dev/null, and tollgate forwarding to an upstream (tollgate-sink, or nginx
if the sink is not built) whose CPU is not counted. Under the same loads, one
server after the other, it measures:

  closed loop   tollgate-load and wrk (cross-check), single events and
                100-event batches: requests/s, events/s, server CPU-seconds per
                million events (from /proc, so the load generator sharing the
                machine does not decide it), latency, RSS after the run;
  sweep         closed-loop throughput against connections (1..256);
  open loop     tollgate-load --rate at 25/50/75% of each server's own peak:
                p50/p90/p99/p99.9/max measured from intended send times;
  idle          N keep-alive connections held (one request each, then idle):
                RSS per connection.

It appends a dated section (command, machine facts, tables, links to SVG plots
drawn with gnuplot) to bench/RESULTS.md. See bench/README.md.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("TOLLGATE_BUILD", os.path.join(ROOT, "build"))
TOLLGATE = os.environ.get("TOLLGATE_BIN", os.path.join(BUILD, "src", "app", "tollgate"))
LOAD = os.environ.get("TOLLGATE_LOAD_BIN", os.path.join(BUILD, "tools", "load", "tollgate-load"))
SINK = os.environ.get("TOLLGATE_SINK_BIN", os.path.join(BUILD, "tools", "sink", "tollgate-sink"))
DATA = os.path.join(ROOT, "bench", "data")
PLOTS = os.path.join(ROOT, "bench", "plots")
RESULTS = os.path.join(ROOT, "bench", "RESULTS.md")
TICK = os.sysconf("SC_CLK_TCK")
PATH = "/api/v1/events"

# (label, events per request, wrk body file, content type)
BODIES = [("single event", 1, os.path.join(DATA, "event.json"), "application/cloudevents+json"),
          ("100-event batch", 100, os.path.join(DATA, "batch100.json"), "application/cloudevents-batch+json")]
OPEN_FRACTIONS = (0.25, 0.50, 0.75)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds_split(pids):
    """(user, system) CPU-seconds of pids, from /proc/PID/stat."""
    u = s = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        u, s = u + int(fields[11]), s + int(fields[12])  # utime, stime
    return u / TICK, s / TICK


def cpu_seconds(pids):
    return sum(cpu_seconds_split(pids))


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                m = re.search(r"VmRSS:\s+(\d+)", f.read())
        except OSError:
            continue
        total += int(m.group(1)) if m else 0
    return total


def machine_busy_seconds():
    """(process CPU-seconds, steal seconds) of all CPUs since boot (/proc/stat).
    Interrupt and softirq time is left out: on loopback most of it is this
    suite's own network traffic, and Linux charges it to no process."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2]) / TICK, v[7] / TICK  # user nice system; steal


def own_seconds():
    """CPU-seconds of this script and every child it has reaped (servers, load generators)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except OSError:
                pass
    return out


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


# ---------------------------------------------------------------- servers

class Server:
    """A process (tree) listening on self.port; pids are what CPU and RSS count."""
    name = "?"
    stop_signal = signal.SIGTERM

    def start(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(self.port)
        except RuntimeError:
            self.proc.kill()
            raise RuntimeError(f"{self.name} did not start: {' '.join(argv)}")
        self.pids = [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Nginx(Server):
    name = "nginx"
    stop_signal = signal.SIGQUIT

    def __init__(self, cpus, workers, tmp, max_conns, tls=None):
        """tls: (certificate file, key file) to listen with TLS instead."""
        os.makedirs(tmp, exist_ok=True)
        self.port = free_port()
        if tls:
            self.name = "nginx ssl"
        ssl = (f" ssl;\n    ssl_certificate {tls[0]};\n    ssl_certificate_key {tls[1]};\n"
               "    ssl_protocols TLSv1.2 TLSv1.3") if tls else ""
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes {workers};
worker_rlimit_nofile {max_conns * 2 + 1024};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections {max_conns + 1024}; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  client_max_body_size 8m;
  client_body_buffer_size 1m;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {{
    listen 127.0.0.1:{self.port} reuseport backlog=4096{ssl};
    location / {{ return 204; }}
  }}
}}
""")
        self.start(["taskset", "-c", cpus, "nginx", "-c", conf])


class Tollgate(Server):
    name = "tollgate"

    def __init__(self, cpus, shards, upstream="file:/dev/null", extra=()):
        self.port = free_port()
        self.start(["taskset", "-c", cpus, TOLLGATE, "--listen", f"127.0.0.1:{self.port}", "--shards", str(shards),
                    "--upstream", upstream, "--log-level", "warn", *extra])


class Sink(Server):
    name = "tollgate-sink"

    def __init__(self, cpus):
        self.port = free_port()
        self.start(["taskset", "-c", cpus, SINK, "--listen", f"127.0.0.1:{self.port}", "--shards", "1",
                    "--log-level", "warn"])


class TollgateForwarding(Tollgate):
    """tollgate forwarding every event upstream; the upstream runs on the load
    generator's CPUs and its CPU is not counted as tollgate's."""
    name = "tollgate → upstream"

    def __init__(self, cpus, shards, tmp, upstream_cpus, upstream_kind):
        if upstream_kind == "sink":
            self.upstream = Sink(upstream_cpus)
        else:
            self.upstream = Nginx(upstream_cpus, 1, os.path.join(tmp, "upstream"), 1024)
        super().__init__(cpus, shards, f"http://127.0.0.1:{self.upstream.port}",
                         ("--dead-letter", os.path.join(tmp, "dead.jsonl")))

    def stop(self):
        super().stop()
        self.upstream.stop()


# ---------------------------------------------------------------- load generators

def tollgate_load(port, k, connections, duration, cpus, threads, rate=None):
    cmd = ["taskset", "-c", cpus, LOAD, "--target", f"http://127.0.0.1:{port}{PATH}", "-c", str(connections),
           "-t", str(min(threads, connections)), "-d", f"{duration:g}", "-k", str(k), "--timeout", "5000", "--json"]
    if rate:
        cmd += ["--rate", f"{rate:.0f}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if p.returncode != 0 or not p.stdout.strip():
        raise RuntimeError(f"tollgate-load failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout)


def wrk(port, body_file, content_type, connections, duration, cpus, threads, scheme="http"):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(f"""
local f = io.open("{body_file}", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "{content_type}"
done = function(summary, latency, requests)
  io.write(string.format("JSON {{\\"requests\\":%d,\\"errors\\":%d,\\"non2xx\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d}}\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
""")
    cmd = ["taskset", "-c", cpus, "wrk", "-t", str(min(threads, connections)), "-c", str(connections),
           "-d", f"{max(1, round(duration))}s", "-s", lua.name, f"{scheme}://127.0.0.1:{port}{PATH}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    finally:
        os.unlink(lua.name)
    line = [l for l in out.splitlines() if l.startswith("JSON ")][-1]
    return json.loads(line[5:])


def ab_parser(doc):
    """The options every before/after script takes (ab_bench, door_bench,
    tls_forward_ab): the two binaries, where the load generator and sink come
    from, and how many interleaved rounds of how long."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3)
    return ap


def timed(server, fn):
    """Runs fn(), returning its result with the server's CPU-seconds and wall time."""
    c0, t0 = cpu_seconds(server.pids), time.time()
    r = fn()
    r["wall_s"] = time.time() - t0
    r["cpu_s"] = cpu_seconds(server.pids) - c0
    return r


def closed_loop(server, k, connections, args, cpus):
    r = timed(server, lambda: tollgate_load(server.port, k, connections, args.duration, cpus, args.load_threads))
    r["rps"] = r["requests_per_s"]
    ok = r["accepted_events"]
    r["cpu_per_m"] = r["cpu_s"] / ok * 1e6 if ok else float("nan")
    r["errors_total"] = r["errors"]["total"]
    return r


def closed_loop_wrk(server, body, ctype, k, args, cpus):
    r = timed(server, lambda: wrk(server.port, body, ctype, args.connections, args.wrk_duration, cpus,
                                  args.load_threads))
    r["rps"] = r["requests"] / r["wall_s"]
    ok = (r["requests"] - r["non2xx"]) * k
    r["cpu_per_m"] = r["cpu_s"] / ok * 1e6 if ok > 0 else float("nan")
    return r


# ---------------------------------------------------------------- idle connections

def raise_nofile(want):
    """Raises RLIMIT_NOFILE for this process and the servers it starts: the
    soft limit to the hard one, and the hard one too where we may (root with
    CAP_SYS_RESOURCE; not in most containers)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open("/proc/sys/fs/nr_open") as f:
        nr_open = int(f.read())
    for limit in (max(hard, min(want, nr_open)), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def idle_capacity(want):
    """How many idle connections this machine lets one client hold to one server."""
    nofile = raise_nofile(2 * want + 4096)
    lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    return min(want, nofile - 256, hi - lo - 1024)


def hold_idle(port, n, body):
    """Opens n keep-alive connections, sends one request on each and reads its
    answer, then leaves them idle. Returns (sockets, answered 2xx)."""
    req = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cloudevents+json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    socks, ok = [], 0
    chunk = 256  # under every listen backlog, so no SYN is dropped and retried
    for start in range(0, n, chunk):
        batch = []
        for _ in range(min(chunk, n - start)):
            s = socket.socket()
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            s.sendall(req)
            batch.append(s)
        for s in batch:
            data = b""
            while b"\r\n\r\n" not in data:
                got = s.recv(4096)
                if not got:
                    break
                data += got
            ok += data.startswith(b"HTTP/1.1 2")
        socks += batch
    return socks, ok


def still_open(socks):
    """Sockets the server has not closed (nothing readable: no EOF, no data)."""
    import selectors
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = len(sel.select(timeout=0))
    sel.close()
    return len(socks) - closed


def idle_test(server, n, settle):
    with open(os.path.join(DATA, "event.json"), "rb") as f:
        body = f.read()
    before = rss_kib(server.pids)
    socks, ok = hold_idle(server.port, n, body)
    time.sleep(settle)
    after = rss_kib(server.pids)
    held = still_open(socks)
    for s in socks:
        s.close()
    return {"connections": n, "answered": ok, "held": held, "rss_before_kib": before, "rss_after_kib": after,
            "bytes_per_conn": (after - before) * 1024 / n if n else float("nan")}


# ---------------------------------------------------------------- the run

def cpu_split(ncpu, shards):
    """Servers on the last `shards` CPUs, load generators on the rest (disjoint
    when there are more CPUs than shards; shared otherwise)."""
    def span(a, b):
        return str(a) if a == b else f"{a}-{b}"
    if ncpu > shards:
        return span(ncpu - shards, ncpu - 1), span(0, ncpu - shards - 1), True
    return span(0, ncpu - 1), span(0, ncpu - 1), False


def run_shards(shards, args, tmp, res):
    ncpu = os.cpu_count()
    server_cpus, load_cpus, disjoint = cpu_split(ncpu, shards)
    os.sched_setaffinity(0, {int(c) for c in _cpus(load_cpus)})  # the idle-connection client
    res["cpus"][shards] = {"server": server_cpus, "load": load_cpus, "disjoint": disjoint}
    servers = []
    os.makedirs(os.path.join(tmp, f"fwd-{shards}"), exist_ok=True)
    try:
        servers.append(Nginx(server_cpus, shards, os.path.join(tmp, f"nginx-{shards}"), args.idle_connections))
        servers.append(Tollgate(server_cpus, shards))
        servers.append(TollgateForwarding(server_cpus, shards, os.path.join(tmp, f"fwd-{shards}"), load_cpus,
                                          res["upstream"]))
        by_name = {s.name: s for s in servers}

        # Closed loop, tollgate-load then wrk, each body, each server in turn.
        for label, k, body, ctype in BODIES:
            for srv in servers:
                if args.warmup > 0:
                    tollgate_load(srv.port, k, args.connections, args.warmup, load_cpus, args.load_threads)
                r = closed_loop(srv, k, args.connections, args, load_cpus)
                r["rss_kib"] = rss_kib(srv.pids)
                w = closed_loop_wrk(srv, body, ctype, k, args, load_cpus) if args.wrk else None
                res["closed"].append({"shards": shards, "body": label, "k": k, "server": srv.name, "load": r,
                                      "wrk": w})
                log(f"closed  {shards} {label:15} {srv.name:20} tollgate-load {r['rps']:>9.0f} req/s "
                    f"{r['cpu_per_m']:6.2f} CPU-s/M ev  p99 {r['latency_us']['p99']:.0f} µs  errors "
                    f"{r['errors_total']}" + (f" | wrk {w['rps']:>9.0f} req/s {w['cpu_per_m']:6.2f} CPU-s/M ev"
                                               if w else ""))

        # Throughput against connections, single events, tollgate and nginx.
        for srv in (by_name["nginx"], by_name["tollgate"]):
            for c in args.sweep:
                r = timed(srv, lambda: tollgate_load(srv.port, 1, c, args.sweep_duration, load_cpus,
                                                     args.load_threads))
                res["sweep"].append({"shards": shards, "server": srv.name, "connections": c,
                                     "rps": r["requests_per_s"], "cpu_s": r["cpu_s"], "requests": r["requests"],
                                     "p99_us": r["latency_us"]["p99"], "errors": r["errors"]["total"]})
                log(f"sweep   {shards} {srv.name:20} c={c:<4} {r['requests_per_s']:>9.0f} req/s")

        # Open loop at fractions of each server's own tollgate-load peak.
        for label, k, _, _ in BODIES:
            for srv in servers:
                peak = [x for x in res["closed"] if x["shards"] == shards and x["body"] == label and
                        x["server"] == srv.name][0]["load"]["rps"]
                for frac in OPEN_FRACTIONS:
                    rate = max(1.0, peak * frac)
                    r = timed(srv, lambda: tollgate_load(srv.port, k, args.connections, args.open_duration,
                                                         load_cpus, args.load_threads, rate=rate))
                    res["open"].append({"shards": shards, "body": label, "k": k, "server": srv.name,
                                        "fraction": frac, "rate": rate, "load": r})
                    lat = r["latency_us"]
                    log(f"open    {shards} {label:15} {srv.name:20} {frac:.0%} {rate:>9.0f}/s  p50 {lat['p50']:.0f} "
                        f"p99 {lat['p99']:.0f} p99.9 {lat['p99_9']:.0f} max {lat['max']:.0f} µs  unsent {r['unsent']}")

        # Idle keep-alive connections, last (RSS before = after the loads above).
        if args.idle_connections > 0:
            for srv in (by_name["tollgate"], by_name["nginx"]):
                r = idle_test(srv, args.idle_connections, 0.2 if args.quick else 1.0)
                r.update({"shards": shards, "server": srv.name})
                res["idle"].append(r)
                log(f"idle    {shards} {srv.name:20} {r['held']} held, {r['bytes_per_conn']:.0f} B RSS per connection")
    finally:
        for s in servers:
            s.stop()


def _cpus(spec):
    a, _, b = spec.partition("-")
    return range(int(a), int(b or a) + 1)


# ---------------------------------------------------------------- machine facts

def first_line(cmd, stream="stdout"):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (getattr(p, stream) or p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def dpkg_version(pkg):
    return first_line(["dpkg-query", "-W", "-f=${Version}", pkg])


def machine_facts():
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
    with open("/proc/meminfo") as f:
        mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) / 1024 / 1024
    load1 = os.getloadavg()
    return {
        "cpu": m.group(1).strip() if m else platform.processor(),
        "cpus": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "kernel": platform.release(),
        "tollgate": first_line([TOLLGATE, "--version"]),
        "nginx": first_line(["nginx", "-v"], "stderr"),
        "wrk": first_line(["wrk", "-v"]).split(" [")[0],
        "gcc": first_line(["gcc", "-dumpfullversion"]),
        "liburing": dpkg_version("liburing-dev"),
        "loadavg": " ".join(f"{x:.2f}" for x in load1),
    }


# ---------------------------------------------------------------- report

def us(v):
    return f"{v / 1000:.2f} ms" if v >= 10000 else f"{v:.0f} µs"


def num(v, d=0):
    return "–" if v is None or v != v else f"{v:,.{d}f}"


def behind(r):
    """Marks an open-loop row whose generator fell behind its schedule (over 1%
    of the intended requests never left): its latencies are a lower bound."""
    intended = r["sent"] + r["unsent"]
    return " ⚠" if intended and r["unsent"] > 0.01 * intended else ""


def tables(res, args):
    out = []
    out += ["#### Closed loop (peak)", "",
            f"{args.connections} connections, {args.duration:g} s per run (wrk: {max(1, round(args.wrk_duration))} s, "
            f"fixed body from `bench/data/`). CPU-s per M events: the server's own CPU time "
            f"(utime + stime from /proc) per million accepted events; lower is better.", "",
            "| shards | body | server | req/s (tollgate-load) | events/s | req/s (wrk) | CPU-s / M events "
            "(tollgate-load) | CPU-s / M events (wrk) | p50 / p99 (tollgate-load) | p50 / p99 (wrk) | errors + non-2xx | "
            "RSS after |",
            "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in res["closed"]:
        r, w = x["load"], x["wrk"]
        out.append(f"| {x['shards']} | {x['body']} | {x['server']} | {num(r['rps'])} | {num(r['events_per_s'])} | "
                   f"{num(w['rps']) if w else '–'} | {num(r['cpu_per_m'], 2)} | {num(w['cpu_per_m'], 2) if w else '–'} | "
                   f"{us(r['latency_us']['p50'])} / {us(r['latency_us']['p99'])} | "
                   f"{(us(w['p50_us']) + ' / ' + us(w['p99_us'])) if w else '–'} | "
                   f"{r['errors_total']}{(' / wrk ' + str(w['errors'] + w['non2xx'])) if w else ''} | "
                   f"{r['rss_kib'] / 1024:.1f} MiB |")
    out.append("")
    ratio = []
    for x in res["closed"]:
        if x["server"] == "nginx":
            continue
        base = [y for y in res["closed"] if y["shards"] == x["shards"] and y["body"] == x["body"] and
                y["server"] == "nginx"][0]
        line = (f"- {x['body']}, {x['shards']} shard(s): {x['server']} uses **"
                f"{x['load']['cpu_per_m'] / base['load']['cpu_per_m']:.2f}×** nginx's CPU per event")
        if x["wrk"] and base["wrk"]:
            line += f" (wrk: {x['wrk']['cpu_per_m'] / base['wrk']['cpu_per_m']:.2f}×)"
        ratio.append(line + f"; {x['load']['rps'] / base['load']['rps']:.2f}× its requests/s")
    out += ratio + [""]

    out += ["#### Open loop (latency at a fixed rate)", "",
            f"tollgate-load `--rate` at 25/50/75% of each server's own closed-loop peak above, {args.connections} "
            f"connections, {args.open_duration:g} s per rate; latency from each request's intended send time. "
            f"⚠: over 1% of the intended requests were never sent (the generator or the machine could not keep "
            f"up), so that row's latencies are a lower bound.", "",
            "| shards | body | server | load | offered req/s | done req/s | p50 | p90 | p99 | p99.9 | max | unsent | "
            "errors |", "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in res["open"]:
        r, lat = x["load"], x["load"]["latency_us"]
        out.append(f"| {x['shards']} | {x['body']} | {x['server']} | {x['fraction']:.0%} | {num(x['rate'])} | "
                   f"{num(r['requests_per_s'])} | {us(lat['p50'])} | {us(lat['p90'])} | {us(lat['p99'])} | "
                   f"{us(lat['p99_9'])} | {us(lat['max'])} | {r['unsent']}{behind(r)} | {r['errors']['total']} |")
    out.append("")

    out += ["#### Throughput against connections (single events, tollgate-load)", "",
            f"{args.sweep_duration:g} s per point.", "",
            "| shards | connections | " + " | ".join(f"{s} req/s" for s in ("tollgate", "nginx")) +
            " | tollgate CPU-s / M | nginx CPU-s / M |", "|---:|---:|---:|---:|---:|---:|"]
    for shards in sorted({x["shards"] for x in res["sweep"]}):
        for c in args.sweep:
            row = {x["server"]: x for x in res["sweep"] if x["shards"] == shards and x["connections"] == c}
            t, n = row.get("tollgate"), row.get("nginx")
            out.append(f"| {shards} | {c} | {num(t['rps']) if t else '–'} | {num(n['rps']) if n else '–'} | "
                       f"{num(t['cpu_s'] / t['requests'] * 1e6, 2) if t and t['requests'] else '–'} | "
                       f"{num(n['cpu_s'] / n['requests'] * 1e6, 2) if n and n['requests'] else '–'} |")
    out.append("")

    if res["idle"]:
        out += ["#### Idle keep-alive connections", "",
                "Each connection sends one single-event request, reads its 204 and stays open; RSS is read a second later. "
                "Per connection = (RSS with them − RSS before) / connections. User-space memory only: the kernel's "
                "socket memory is the same for both servers and not in RSS.", "",
                "| shards | server | connections | answered 2xx | still open | RSS before | RSS with them | "
                "per connection |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
        for x in res["idle"]:
            out.append(f"| {x['shards']} | {x['server']} | {x['connections']:,} | {x['answered']:,} | {x['held']:,} | "
                       f"{x['rss_before_kib'] / 1024:.1f} MiB | {x['rss_after_kib'] / 1024:.1f} MiB | "
                       f"{x['bytes_per_conn'] / 1024:.2f} KiB |")
        out.append("")
    return out


# ---------------------------------------------------------------- plots

GNUPLOT_HEAD = """set terminal svg size 900,540 dynamic enhanced font "sans,12" background rgb "white"
set output "{out}"
set title "{title}"
set grid
"""


def plot(res, plots_dir, stamp, tmp):
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plots (Debian gnuplot-nox)")
        return []
    os.makedirs(plots_dir, exist_ok=True)
    made = []
    colours = {"tollgate": "#1f77b4", "nginx": "#d62728", "tollgate → upstream": "#2ca02c"}

    # Throughput against connections: one line per server and shard count.
    series = []
    for i, shards in enumerate(sorted({x["shards"] for x in res["sweep"]})):
        for name in ("tollgate", "nginx"):
            pts = sorted((x["connections"], x["rps"]) for x in res["sweep"] if x["shards"] == shards and
                         x["server"] == name)
            if pts:
                f = os.path.join(tmp, f"sweep-{name}-{shards}.dat")
                with open(f, "w") as fh:
                    fh.writelines(f"{c} {r:.1f}\n" for c, r in pts)
                unit = "worker" if name == "nginx" else "shard"
                series.append(f'"{f}" using 1:2 with linespoints lw 2 pt {7 + 2 * (i % 4)} dt {1 + i % 5} '
                              f'lc rgb "{colours[name]}" title "{name}, {shards} {unit}{"s" if shards > 1 else ""}"')
    if series:
        out = os.path.join(plots_dir, f"{stamp}-throughput.svg")
        script = GNUPLOT_HEAD.format(out=out, title="Closed-loop throughput, single events (tollgate-load)") + \
            "set key inside left top box\nset logscale x 2\nset xlabel \"connections\"\nset ylabel \"requests/s\"\nset yrange [0:*]\n" \
            "set format y \"%.0s%c\"\nplot " + ", \\\n  ".join(series) + "\n"
        made.append(_gnuplot(script, tmp, out))

    # Latency percentiles against offered rate, per body, smallest shard count.
    shards = min((x["shards"] for x in res["open"]), default=None)
    for label, k, _, _ in BODIES:
        series = []
        for name in ("tollgate", "tollgate → upstream", "nginx"):
            pts = sorted((x["rate"], x["load"]["latency_us"]) for x in res["open"] if x["shards"] == shards and
                         x["body"] == label and x["server"] == name)
            if not pts:
                continue
            f = os.path.join(tmp, f"open-{k}-{name.replace(' → ', '-')}.dat")
            with open(f, "w") as fh:
                fh.writelines(f"{r:.1f} {l['p50']} {l['p90']} {l['p99']} {l['p99_9']}\n" for r, l in pts)
            for column, pct, dt, pt in ((2, "p50", 1, 7), (4, "p99", 2, 5), (5, "p99.9", 3, 9)):
                series.append(f'"{f}" using 1:{column} with linespoints lw 2 pt {pt} dt {dt} '
                              f'lc rgb "{colours[name]}" title "{name} {pct}"')
        if series:
            out = os.path.join(plots_dir, f"{stamp}-latency-{'single' if k == 1 else f'batch{k}'}.svg")
            title = f"Open-loop latency, {'single events' if k == 1 else f'{k}-event batches'}, {shards} shard(s)"
            script = GNUPLOT_HEAD.format(out=out, title=title) + \
                "set key below horizontal box maxrows 3\nset logscale y 10\nset format y \"%g\"\nset xlabel \"offered requests/s (25, 50, 75% of each server's peak)\"\n" \
                "set ylabel \"latency (µs, from intended send time)\"\nset format x \"%.0s%c\"\nplot " + \
                ", \\\n  ".join(series) + "\n"
            made.append(_gnuplot(script, tmp, out))
    return [m for m in made if m]


def _gnuplot(script, tmp, out):
    path = os.path.join(tmp, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    p = subprocess.run(["gnuplot", path], capture_output=True, text=True)
    if p.returncode != 0:
        log(f"gnuplot failed for {out}: {p.stderr.strip()[-400:]}")
        return None
    return out


# ---------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", default=None, help="comma-separated shard counts; nginx gets as many workers "
                    "(default 1,2; use 1,2,4,8,16 on bigger machines)")
    ap.add_argument("--connections", type=int, default=64, help="connections for the closed and open loops (64)")
    ap.add_argument("--duration", type=float, default=5, help="seconds per closed-loop run (5)")
    ap.add_argument("--wrk-duration", type=float, default=None, help="seconds per wrk run (--duration)")
    ap.add_argument("--open-duration", type=float, default=5, help="seconds per open-loop rate (5)")
    ap.add_argument("--sweep", default=None, help="connection counts for the sweep (1,4,16,64,256)")
    ap.add_argument("--sweep-duration", type=float, default=2, help="seconds per sweep point (2)")
    ap.add_argument("--warmup", type=float, default=1, help="seconds of warm-up before each closed loop (1)")
    ap.add_argument("--idle-connections", type=int, default=10000, help="idle keep-alive connections held (10000)")
    ap.add_argument("--load-threads", type=int, default=1, help="tollgate-load and wrk threads (1)")
    ap.add_argument("--upstream", choices=("auto", "sink", "nginx"), default="auto",
                    help="upstream for tollgate → upstream: tollgate-sink if built (auto), or nginx return 204")
    ap.add_argument("--no-wrk", dest="wrk", action="store_false", help="skip the wrk cross-check")
    ap.add_argument("--quick", action="store_true", help="smoke run of every step in well under a minute; "
                    "implies --no-write unless --write")
    ap.add_argument("--no-write", action="store_true", help="do not append to bench/RESULTS.md nor write bench/plots")
    ap.add_argument("--write", action="store_true", help="append and plot even with --quick")
    ap.add_argument("--plots-dir", default=None, help="where the SVGs go (bench/plots; a temporary folder with "
                    "--no-write)")
    ap.add_argument("--json-out", default=None, help="also write every measurement as JSON to this file")
    args = ap.parse_args()
    if args.quick:
        args.shards = args.shards or "1"
        args.sweep = args.sweep or "1,16"
        args.duration, args.open_duration, args.sweep_duration, args.warmup = 0.3, 0.3, 0.2, 0
        args.wrk_duration = 1
        args.idle_connections = min(args.idle_connections, 200)
        if not args.write:
            args.no_write = True
    args.shards = args.shards or "1,2"
    args.sweep = args.sweep or "1,4,16,64,256"
    if args.wrk_duration is None:
        args.wrk_duration = args.duration
    args.shard_list = [int(s) for s in args.shards.split(",") if s]
    args.sweep = [int(s) for s in str(args.sweep).split(",") if s]
    return args


def main():
    args = parse_args()
    for binary in (TOLLGATE, LOAD):
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} not built: run scripts/bench (or meson setup build && ninja -C build)")
    for tool in ("nginx", "taskset") + (("wrk",) if args.wrk else ()):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run scripts/bench, which installs it (scripts/deps.sh)")
    if args.idle_connections > 0:
        n = idle_capacity(args.idle_connections)
        if n < args.idle_connections:
            log(f"idle connections limited to {n} by RLIMIT_NOFILE / ip_local_port_range")
            args.idle_connections = max(0, n)
    upstream = args.upstream
    if upstream == "auto":
        upstream = "sink" if os.access(SINK, os.X_OK) else "nginx"
    res = {"closed": [], "open": [], "sweep": [], "idle": [], "cpus": {}, "upstream": upstream,
           "facts": machine_facts()}
    started = time.time()
    stamp = datetime.datetime.utcnow()
    (busy0, steal0), own0 = machine_busy_seconds(), own_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        for shards in args.shard_list:
            run_shards(shards, args, tmp, res)
        # Everything we started has been reaped: what else kept the CPUs busy?
        busy1, steal1 = machine_busy_seconds()
        res["foreign_cpu_s"] = max(0.0, (busy1 - busy0) - (own_seconds() - own0))
        res["steal_s"] = steal1 - steal0
        res["facts"]["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        plots_dir = args.plots_dir or (PLOTS if not args.no_write else os.path.join(tempfile.gettempdir(),
                                                                                   "tollgate-bench-plots"))
        plots = plot(res, plots_dir, stamp.strftime("%Y%m%d-%H%M"), tmp)
    res["elapsed_s"] = time.time() - started
    foreign_pct = 100 * (res["foreign_cpu_s"] + res["steal_s"]) / (res["elapsed_s"] * os.cpu_count())
    if foreign_pct > 5:
        log(f"warning: other processes used {foreign_pct:.0f}% of the machine during the run; figures are noisy")

    f = res["facts"]
    cmd = "scripts/bench " + " ".join(sys.argv[1:])
    cpu_note = "; ".join(f"{s} shard(s): servers on CPU {c['server']}, load on CPU {c['load']}"
                         + ("" if c["disjoint"] else " (shared: not enough CPUs to separate them)")
                         for s, c in res["cpus"].items())
    up = "tollgate-sink" if upstream == "sink" else "nginx `return 204`"
    section = [f"### Suite: tollgate vs nginx `return 204` ({stamp:%Y-%m-%d %H:%M} UTC)", "",
               f"Command: `{cmd.strip()}` ({res['elapsed_s'] / 60:.1f} min). `tollgate` writes to `file:/dev/null`; "
               f"`tollgate → upstream` forwards every event to {up} on the load generator's CPUs (its CPU is not "
               f"counted). {cpu_note}.", "",
               f"Machine: {f['cpu']}, {f['cpus']} CPUs, {f['memory_gib']} GiB, kernel {f['kernel']}; "
               f"{f['tollgate']}, {f['nginx']}, {f['wrk']}, GCC {f['gcc']}, liburing {f['liburing']}; "
               f"load average at start {f['loadavg']}, at end {f['loadavg_end']}. Other processes (not this "
               f"suite's servers and load generators) used {res['foreign_cpu_s']:.1f} CPU-s during the run and the "
               f"hypervisor stole {res['steal_s']:.1f} s: {foreign_pct:.1f}% of the machine"
               + (": **the figures are noisy**." if foreign_pct > 5 else "."), ""]
    section += tables(res, args)
    rel = [os.path.relpath(p, os.path.dirname(RESULTS)) for p in plots]
    if plots:
        section += ["Plots: " + ", ".join(f"[{os.path.basename(p)}]({r})" for p, r in zip(plots, rel)), ""]
        section += [f"![{os.path.basename(p)}]({r})" for p, r in zip(plots, rel)] + [""]
    text = "\n".join(section)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(res, fh, indent=1, default=str)
    if not args.no_write:
        with open(RESULTS, "a") as fh:
            fh.write("\n" + text)
        log(f"appended to {RESULTS}")
    elif plots:
        log("plots: " + " ".join(plots))
    # A smoke run must show every server answering.
    dead = [x for x in res["closed"] if x["load"]["accepted_events"] == 0]
    if dead:
        log("no 2xx from: " + ", ".join(f"{x['server']} ({x['body']}, {x['shards']} shards)" for x in dead))
        sys.exit(1)


if __name__ == "__main__":
    main()
