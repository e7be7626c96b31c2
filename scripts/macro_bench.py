#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side macro benchmark: tollgate against nginx `return 204`.

For each server and each body (one event, a 100-event batch) wrk runs a closed
loop; the server's CPU time is read from /proc before and after, so the figure
that decides ("requests per CPU-second of the server") does not depend on the
load generator sharing the machine. Servers are pinned to the last CPU, wrk to
the others. Results are appended to bench/RESULTS.md with the exact command.
"""
import argparse
import datetime
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLLGATE = os.environ.get("TOLLGATE_BIN", os.path.join(ROOT, "build", "src", "app", "tollgate"))
DATA = os.path.join(ROOT, "bench", "data")
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"VmRSS:\s+(\d+)", f.read())
        total += int(m.group(1)) if m else 0
    return total


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


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


class Tollgate:
    name = "tollgate"

    def __init__(self, cpu, shards, tmp):
        self.port = free_port()
        self.out = os.path.join(tmp, "events.jsonl")
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpu, TOLLGATE, "--listen", f"127.0.0.1:{self.port}", "--shards", str(shards),
             "--upstream", "file:/dev/null", "--log-level", "warn"], stderr=subprocess.DEVNULL)
        wait_port(self.port)
        self.pids = [self.proc.pid]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


class TollgateForwarding:
    """tollgate forwarding every event to an upstream that answers 204 at once
    (nginx `return 204`, pinned with the load generator so its CPU is not
    counted as tollgate's)."""
    name = "tollgate → upstream"

    def __init__(self, cpu, shards, tmp, upstream_cpus):
        self.upstream = Nginx(upstream_cpus, 1, os.path.join(tmp, "upstream"))
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpu, TOLLGATE, "--listen", f"127.0.0.1:{self.port}", "--shards", str(shards),
             "--upstream", f"http://127.0.0.1:{self.upstream.port}", "--dead-letter", os.path.join(tmp, "dead.jsonl"),
             "--log-level", "warn"], stderr=subprocess.DEVNULL)
        wait_port(self.port)
        self.pids = [self.proc.pid]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.upstream.stop()


class Nginx:
    name = "nginx"

    def __init__(self, cpu, workers, tmp):
        os.makedirs(tmp, exist_ok=True)
        self.port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  client_max_body_size 8m;
  client_body_buffer_size 1m;
  keepalive_requests 100000000;
  server {{
    listen 127.0.0.1:{self.port} reuseport;
    location / {{ return 204; }}
  }}
}}
""")
        self.proc = subprocess.Popen(["taskset", "-c", cpu, "nginx", "-c", conf], stderr=subprocess.DEVNULL)
        wait_port(self.port)
        self.pids = [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(30)


def wrk(port, body_file, content_type, connections, duration, cpus, threads):
    lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    lua.write(f"""
local f = io.open("{body_file}", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "{content_type}"
done = function(summary, latency, requests)
  local s = summary.status or {{}}
  io.write(string.format("JSON {{\\"requests\\":%d,\\"errors\\":%d,\\"non2xx\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d}}\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
""")
    lua.close()
    cmd = ["taskset", "-c", cpus, "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
           "-s", lua.name, f"http://127.0.0.1:{port}/api/v1/events"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    line = [l for l in out.splitlines() if l.startswith("JSON ")][-1]
    return json.loads(line[5:])


def measure(server, body, ctype, args, wrk_cpus):
    wrk(server.port, body, ctype, args.connections, 1, wrk_cpus, args.wrk_threads)  # warm-up
    c0 = cpu_seconds(server.pids)
    t0 = time.time()
    r = wrk(server.port, body, ctype, args.connections, args.duration, wrk_cpus, args.wrk_threads)
    wall = time.time() - t0
    cpu = cpu_seconds(server.pids) - c0
    r["wall_s"] = wall
    r["cpu_s"] = cpu
    r["rps"] = r["requests"] / wall
    r["req_per_cpu_s"] = r["requests"] / cpu if cpu > 0 else float("nan")
    r["rss_kib"] = rss_kib(server.pids)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    ap.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    ap.add_argument("--shards", default="1", help="comma-separated tollgate shard counts (nginx gets as many workers)")
    ap.add_argument("--no-write", action="store_true", help="print the table, do not append to bench/RESULTS.md")
    args = ap.parse_args()

    ncpu = os.cpu_count()
    bodies = [("single event", os.path.join(DATA, "event.json"), "application/cloudevents+json", 1),
              ("100-event batch", os.path.join(DATA, "batch100.json"), "application/cloudevents-batch+json", 100)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shards in [int(s) for s in args.shards.split(",")]:
            server_cpus = f"{max(0, ncpu - shards)}-{ncpu - 1}" if ncpu > shards else f"0-{ncpu - 1}"
            wrk_cpus = f"0-{max(0, ncpu - shards - 1)}" if ncpu > shards else f"0-{ncpu - 1}"
            for label, body, ctype, events in bodies:
                for cls in (Nginx, Tollgate, TollgateForwarding):
                    if cls is TollgateForwarding:
                        srv = cls(server_cpus, shards, tmp, wrk_cpus)
                    else:
                        srv = cls(server_cpus, shards, tmp)
                    try:
                        r = measure(srv, body, ctype, args, wrk_cpus)
                    finally:
                        srv.stop()
                    rows.append((shards, label, cls.name, events, r))
                    print(f"{shards} {label:16} {cls.name:9} {r['rps']:>10.0f} req/s  {r['req_per_cpu_s']:>10.0f} req/CPU-s  "
                          f"p50 {r['p50_us']}us p99 {r['p99_us']}us  errors {r['errors']} non2xx {r['non2xx']}", flush=True)
    table = ["| shards / workers | body | server | requests/s | requests per CPU-second | events per CPU-second | p50 | p99 | non-2xx | RSS |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for shards, label, name, events, r in rows:
        table.append(f"| {shards} | {label} | {name} | {r['rps']:.0f} | {r['req_per_cpu_s']:.0f} | "
                     f"{r['req_per_cpu_s'] * events:.0f} | {r['p50_us']} µs | {r['p99_us']} µs | {r['non2xx']} | "
                     f"{r['rss_kib'] / 1024:.1f} MiB |")
    ratio = []
    for shards, label, name, events, r in rows:
        if name != "nginx":
            base = [x for x in rows if x[0] == shards and x[1] == label and x[2] == "nginx"][0][4]
            ratio.append(f"- {label}, {shards} shard(s): {name} does **{r['req_per_cpu_s'] / base['req_per_cpu_s']:.2f}×** "
                         f"nginx's requests per CPU-second.")
    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
        cpu_model = m.group(1) if m else platform.processor()
    facts = (f"{cpu_model}, {ncpu} CPUs, kernel {platform.release()}, "
             f"{subprocess.run([TOLLGATE, '--version'], capture_output=True, text=True).stdout.strip()}, "
             f"{subprocess.run(['nginx', '-v'], capture_output=True, text=True).stderr.strip()}")
    cmd = "scripts/bench " + " ".join(sys.argv[1:])
    section = [f"### Macro: tollgate vs nginx `return 204` ({datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC)", "",
               f"Command: `{cmd.strip()}` (wrk {args.connections} connections, {args.duration} s per run, "
               f"servers pinned to the last CPU(s), wrk to the others; `tollgate` writes to `file:/dev/null`, "
               f"`tollgate → upstream` forwards every event to an nginx `return 204` upstream pinned with wrk, whose CPU "
               f"is not counted).", "",
               f"Machine: {facts}.", ""] + table + [""] + ratio + [""]
    text = "\n".join(section)
    print(text)
    if not args.no_write:
        path = os.path.join(ROOT, "bench", "RESULTS.md")
        with open(path, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
