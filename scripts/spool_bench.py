#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The spool benchmark: what a spool and `--ack durable` cost, side by side.

tollgate (--shards 1) forwards every event to tollgate-sink while tollgate-load
keeps 64 connections busy (closed loop) with single events, then with
100-event batches, in three modes, one after the other in the same run:

  buffered            --ack buffered, no spool (memory only)
  buffered + spool    --ack buffered --spool-dir D (written, not waited for)
  durable             --ack durable --spool-dir D (204 after fdatasync, group commit)

with D once on the machine's disk and once on tmpfs (the no-spool mode runs in
both groups: it is each group's baseline, and the pair shows the run's noise).
Each mode and directory gets its own tollgate, sink and empty spool directory.

Per row: requests/s, events/s, p50/p99 latency (tollgate-load --json), and for
the spool modes, from tollgate's /metrics over the run: syncs/s, events per
sync, mean sync latency and the histogram bucket holding the 99th percentile
sync. Then open-loop rows (--rate at a fraction of durable's closed-loop peak
on disk, the same rate for every mode), where latency is not mostly queueing
behind 64 connections.

On a small machine the sink (sharing the load generator's CPU) accepts far
fewer events per second than tollgate does with 100-event batches, so a run
leaves a backlog that is delivered afterwards. The ring (--buffer-bytes) is
made large enough to hold it; otherwise the no-spool mode would measure the
sink, not the ack path. Before measuring, a ring's worth of events goes
through and is delivered, so that no run pays first-touch page faults on the
ring (several µs per 4 KiB page on a VM: that alone halves the no-spool
throughput on 100-event batches). After each run the script waits until the
sink has every event tollgate accepted, then checks: every request answered
2xx, no rejection, the ring never pushed back (no spool), the sink's distinct
ids == tollgate's accepted events >= the events the load generator got a 2xx
for, nothing dead-lettered, tollgate exits 0. Any failure is listed and the
script exits 1 without writing RESULTS.md.

It appends a dated section (command, machine, file systems, tables, targets)
to bench/RESULTS.md. See bench/README.md.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import macro_bench as mb  # noqa: E402  (helpers only; it has no side effects at import)

ROOT = mb.ROOT
RESULTS = mb.RESULTS
PATH = mb.PATH


def newest_source_mtime():
    newest = 0.0
    for top in ("src", "tools"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".cpp", ".hpp", ".h", ".c", "meson.build")):
                    newest = max(newest, os.path.getmtime(os.path.join(d, f)))
    return newest


def supports_spool(binary):
    try:
        p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    except OSError:
        return False
    return "--spool-dir" in p.stdout + p.stderr


def pick_build():
    """TOLLGATE_BUILD if set; else build/ (the release build scripts/bench makes)
    when its tollgate knows --spool-dir and is not older than the sources, else
    build-skel/ if that one is."""
    if os.environ.get("TOLLGATE_BUILD"):
        return os.environ["TOLLGATE_BUILD"], None
    newest = newest_source_mtime()
    candidates = []
    for d in ("build", "build-skel"):
        tg = os.path.join(ROOT, d, "src", "app", "tollgate")
        if os.access(tg, os.X_OK) and supports_spool(tg):
            candidates.append((d, os.path.getmtime(tg) >= newest))
    for d, fresh in candidates:
        if fresh:
            return os.path.join(ROOT, d), None
    if candidates:
        d = candidates[0][0]
        return os.path.join(ROOT, d), f"{d}/ is older than the newest source file"
    return os.path.join(ROOT, "build"), None


BUILD, BUILD_NOTE = pick_build()
TOLLGATE = os.environ.get("TOLLGATE_BIN", os.path.join(BUILD, "src", "app", "tollgate"))
LOAD = os.environ.get("TOLLGATE_LOAD_BIN", os.path.join(BUILD, "tools", "load", "tollgate-load"))
SINK = os.environ.get("TOLLGATE_SINK_BIN", os.path.join(BUILD, "tools", "sink", "tollgate-sink"))
mb.LOAD = LOAD  # mb.tollgate_load runs this binary

# (key, label, ack, spool)
MODES = [("buffered", "buffered, no spool", "buffered", False),
         ("buffered+spool", "buffered + spool", "buffered", True),
         ("durable", "durable", "durable", True)]
BODIES = [("single event", 1), ("100-event batch", 100)]


class Failed(Exception):
    pass


# ---------------------------------------------------------------- processes

class Proc:
    """A binary started under taskset with --listen 127.0.0.1:0; its port comes
    from the JSON "listening" line it logs on stderr (kept in a file)."""

    def __init__(self, name, argv, cpus, log_path):
        self.name, self.log_path = name, log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(["taskset", "-c", cpus] + argv, stdout=subprocess.DEVNULL, stderr=self.log)
        self.pid = self.proc.pid  # taskset execs the binary
        self.port = self._wait_listening(10)

    def _wait_listening(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            with open(self.log_path) as f:
                for line in f:
                    if '"listening"' in line:
                        try:
                            return int(json.loads(line)["port"])
                        except (ValueError, KeyError):
                            pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.kill()
        raise Failed(f"{self.name} did not start (exit {self.proc.poll()}): {self.tail()}")

    def tail(self, n=6):
        try:
            with open(self.log_path) as f:
                return " | ".join(l.strip() for l in f.readlines()[-n:])
        except OSError:
            return ""

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return r.read().decode()

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def metrics(tg):
    """tollgate's /metrics as {name{labels}: value}."""
    out = {}
    for line in tg.get("/metrics").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


def delta(m0, m1, name):
    return m1.get(name, 0.0) - m0.get(name, 0.0)


def bucket_quantile(m0, m1, name, q):
    """Upper bound of the histogram bucket holding quantile q of the
    observations between two scrapes (None when there were none)."""
    buckets = []
    for k in m1:
        mt = re.fullmatch(re.escape(name) + r'_bucket\{le="([^"]+)"\}', k)
        if mt:
            le = float("inf") if mt.group(1) == "+Inf" else float(mt.group(1))
            buckets.append((le, delta(m0, m1, k)))
    buckets.sort()
    if not buckets or buckets[-1][1] <= 0:
        return None
    want = q * buckets[-1][1]
    for le, n in buckets:
        if n >= want:
            return le
    return None


# ---------------------------------------------------------------- storage

def df_facts(path):
    p = subprocess.run(["df", "--output=source,fstype,target,avail", path], capture_output=True, text=True)
    if p.returncode != 0:
        raise Failed(f"df -T {path}: {p.stderr.strip()}")
    source, fstype, target, avail = p.stdout.splitlines()[-1].split()
    opts = "?"
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[1] == target and parts[0] == source:
                opts = parts[3]
    facts = {"path": path, "source": source, "fstype": fstype, "mount": target, "options": opts,
             "avail_gib": int(avail) / 1024 / 1024}
    dev = os.path.basename(os.path.realpath(source)) if source.startswith("/dev/") else None
    if dev:
        base = re.sub(r"p?\d+$", "", dev) if not os.path.exists(f"/sys/block/{dev}") else dev
        for key, f in (("write_cache", "queue/write_cache"), ("rotational", "queue/rotational")):
            try:
                with open(f"/sys/block/{base}/{f}") as fh:
                    facts[key] = fh.read().strip()
            except OSError:
                pass
    return facts


def prepare_storage(args, tmp):
    """(disk root, tmpfs root, notes): directories under which each row's spool
    directory is made."""
    notes = []
    disk = args.disk_dir
    if not disk:
        for cand in ("/var/tmp", os.path.join(ROOT, "build"), ROOT):
            if os.path.isdir(cand) and df_facts(cand)["fstype"] not in ("tmpfs", "ramfs"):
                disk = cand
                break
    if not disk or df_facts(disk)["fstype"] in ("tmpfs", "ramfs"):
        raise Failed(f"no disk-backed directory for the spool (tried {disk}); pass --disk-dir")
    ram = args.tmpfs_dir
    if not ram:
        if os.path.isdir("/dev/shm") and df_facts("/dev/shm")["fstype"] == "tmpfs":
            ram = "/dev/shm"
        elif os.geteuid() == 0:
            ram = os.path.join(tmp, "tmpfs")
            os.makedirs(ram)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=50%", "tollgate-bench", ram], check=True)
            notes.append(f"mounted a tmpfs at {ram}")
        else:
            raise Failed("no tmpfs: /dev/shm is not one and we are not root to mount one; pass --tmpfs-dir")
    if df_facts(ram)["fstype"] != "tmpfs":
        raise Failed(f"--tmpfs-dir {ram} is not a tmpfs")
    return disk, ram, notes


# ---------------------------------------------------------------- one row

def cpu_plan(sink_sched="auto"):
    """tollgate's shard on the last CPU (as in macro_bench); with 3+ CPUs the
    sink on the one before it and the load generator on the rest; with 2, the
    sink and the load generator share the first; with 1, everything shares it.
    Where the sink shares the load generator's CPU it runs under SCHED_IDLE
    (sink_sched auto): it only gets the CPU the generator leaves, so the row
    measures tollgate's ack path rather than the sink stealing the generator's
    time slices; the sink catches up after the row (the drain)."""
    n = os.cpu_count()
    if n >= 3:
        plan = {"tollgate": str(n - 1), "sink": str(n - 2), "load": "0" if n == 3 else f"0-{n - 3}"}
        note = (f"tollgate's shard on CPU {n - 1}, tollgate-sink on CPU {n - 2}, tollgate-load on CPU "
                f"{plan['load']}")
    elif n == 2:
        plan = {"tollgate": "1", "sink": "0", "load": "0"}
        note = "tollgate's shard on CPU 1, tollgate-sink and tollgate-load sharing CPU 0 (2 CPUs: none to spare)"
    else:
        plan = {"tollgate": "0", "sink": "0", "load": "0"}
        note = "everything on CPU 0 (1 CPU)"
    shared = int(plan["sink"]) in mb._cpus(plan["load"])
    plan["sink_idle"] = sink_sched == "idle" or (sink_sched == "auto" and n == 2)
    if plan["sink_idle"]:
        note += "; the sink runs under SCHED_IDLE (`chrt --idle 0`), so it takes only the CPU time the load " \
                "generator leaves and catches up after each row"
    elif shared:
        note += "; the sink competes with the load generator for that CPU"
    plan["note"] = note
    return plan


def check_load(r, what, problems):
    bad = {s: n for s, n in r["status"].items() if not s.startswith("2")}
    if r["errors"]["total"] or bad:
        problems.append(f"{what}: {r['errors']['total']} errors, non-2xx {bad or 'none'} ({r['errors']})")
    if r["accepted_events"] == 0:
        problems.append(f"{what}: no event accepted")


def parse_size(text):
    m = re.fullmatch(r"(\d+)\s*(|B|KiB|MiB|GiB)", text.strip())
    if not m:
        raise SystemExit(f"bad size {text!r} (use e.g. 512MiB, 3GiB)")
    return int(m.group(1)) * {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m.group(2)]


class Setup:
    """One tollgate (one mode, one spool directory) and its own tollgate-sink,
    measured for both bodies one after the other."""

    def __init__(self, args, cpus, tmp, seq, mode, storage, root, ring):
        self.args, self.cpus, self.mode, self.storage, self.ring = args, cpus, mode, storage, ring
        self.key, self.label, ack, self.spool = mode
        self.problems, self.acked = [], 0
        self.spool_dir = tempfile.mkdtemp(prefix=f"tollgate-spool-bench-{seq}-", dir=root) if self.spool else None
        self.sink = self.tg = None
        try:
            sink_argv = [SINK, "--listen", "127.0.0.1:0", "--shards", "1", "--log-level", "info"]
            if cpus["sink_idle"]:
                sink_argv = ["chrt", "--idle", "0"] + sink_argv
            self.sink = Proc("tollgate-sink", sink_argv, cpus["sink"], os.path.join(tmp, f"sink-{seq}.log"))
            argv = [TOLLGATE, "--listen", "127.0.0.1:0", "--shards", "1", "--upstream",
                    f"http://127.0.0.1:{self.sink.port}", "--ack", ack, "--buffer-bytes", str(ring),
                    "--log-level", "info", "--dead-letter", os.path.join(tmp, f"dead-{seq}.jsonl")]
            argv += args.tollgate_arg or []
            if self.spool:
                argv += ["--spool-dir", self.spool_dir, "--spool-max-bytes", args.spool_max_bytes]
                if args.sync_max_delay_us is not None:
                    argv += ["--sync-max-delay-us", str(args.sync_max_delay_us)]
            self.tg = Proc("tollgate", argv, cpus["tollgate"], os.path.join(tmp, f"tollgate-{seq}.log"))
        except BaseException:
            self.close()
            raise

    def what(self, k=None, rate=None):
        return (f"{self.label} / {self.storage}" + (f" / k={k}" if k else "") +
                (f" / rate {rate:.0f}" if rate else ""))

    def drain(self, what):
        """Waits until the sink has as many distinct events as tollgate
        accepted; returns (seconds waited, the sink's /stats)."""
        t0, last, last_t = time.time(), -1, time.time()
        while True:
            st = json.loads(self.sink.get("/stats"))
            accepted = metrics(self.tg).get("tollgate_events_accepted_total", 0)
            if st["distinct"] >= accepted:
                return time.time() - t0, st
            if st["distinct"] != last:
                last, last_t = st["distinct"], time.time()
            elif time.time() - last_t > self.args.drain_stall:
                self.problems.append(f"{what}: delivery stalled: the sink has {st['distinct']:,} of {accepted:,.0f} "
                                     f"accepted events, no progress for {self.args.drain_stall:g} s")
                return time.time() - t0, st
            time.sleep(0.05)

    def warm(self, k):
        """Closed loop until a ring's worth of events has gone through (the ring
        has wrapped, every page of it touched: a first-touch page fault costs
        3-6 µs per 4 KiB on this kind of VM, and would be charged to whichever
        mode touched the most fresh memory), never letting the ring pass about
        half full (so the spool modes do not overflow it either), then until
        the sink has caught up: every measurement starts from an empty, warm
        ring."""
        t0 = time.time()
        a = self.args
        while True:
            w = mb.tollgate_load(self.tg.port, k, a.connections, a.warmup, self.cpus["load"], a.load_threads)
            check_load(w, self.what(k) + " (warm-up)", self.problems)
            self.acked += w["accepted_events"]
            m = metrics(self.tg)
            if (m.get("tollgate_event_bytes_accepted_total", 0) >= self.ring or not a.warm_ring or self.problems
                    or time.time() - t0 > a.warm_max):
                break
            if m.get('tollgate_ring_used_bytes{shard="0"}', 0) > 0.4 * self.ring:
                self.drain(self.what(k) + " (warm-up)")
        self.drain(self.what(k) + " (warm-up)")
        return time.time() - t0

    def measure(self, k, rate=None):
        a, what = self.args, self.what(k, rate)
        n0 = len(self.problems)
        m0, c0 = metrics(self.tg), mb.cpu_seconds([self.tg.pid])
        r = mb.tollgate_load(self.tg.port, k, a.connections, a.duration, self.cpus["load"], a.load_threads, rate=rate)
        m1 = metrics(self.tg)
        check_load(r, what, self.problems)
        self.acked += r["accepted_events"]
        drain_s, st = self.drain(what)
        m2, c1 = metrics(self.tg), mb.cpu_seconds([self.tg.pid])
        accepted = m2.get("tollgate_events_accepted_total", 0)
        if st["distinct"] != accepted:
            self.problems.append(f"{what}: the sink has {st['distinct']:,} distinct events, tollgate accepted "
                                 f"{accepted:,.0f}")
        if accepted < self.acked:
            self.problems.append(f"{what}: tollgate counts {accepted:,.0f} accepted events, the load generator got "
                                 f"2xx for {self.acked:,}")
        if st["duplicates"]:
            mb.log(f"warning: {what}: the sink saw {st['duplicates']} duplicate events (retries)")
        # Without a spool, a pause means the ring filled, and the row would
        # measure the sink. With one, requests pause while the spool's writes
        # are behind (the ring is only a cache then): part of what we measure.
        pauses = delta(m0, m1, "tollgate_backpressure_pauses_total")
        if not self.spool and pauses > 0:
            self.problems.append(f"{what}: the ring filled during the run ({pauses:,.0f} paused requests): raise "
                                 f"--ring or shorten --duration")
        for name, why in (('tollgate_ingest_rejected_total{reason="buffer_full"}', "buffer_full rejections"),
                          ('tollgate_ingest_rejected_total{reason="spool_full"}', "spool_full rejections"),
                          ('tollgate_ingest_rejected_total{reason="spool_error"}', "spool_error rejections"),
                          ("tollgate_spool_write_errors_total", "spool write errors"),
                          ("tollgate_dead_lettered_events_total", "dead-lettered events")):
            if m2.get(name, 0) > 0:
                self.problems.append(f"{what}: {why}: {name} = {m2[name]:,.0f}")
        n_events = delta(m0, m2, "tollgate_events_accepted_total")
        row = {"mode": self.key, "label": self.label, "storage": self.storage, "k": k, "rate": rate, "load": r,
               "rps": r["requests_per_s"], "events_per_s": r["accepted_events_per_s"], "lat": r["latency_us"],
               "errors": r["errors"]["total"], "backlog_events": m1.get('tollgate_events_waiting{shard="0"}', 0),
               "drain_s": drain_s, "parked": pauses, "ring_bytes": self.ring,
               "upstream_retries": delta(m0, m2, "tollgate_upstream_retries_total"),
               "sink_duplicates": st["duplicates"],
               "tollgate_cpu_s": c1 - c0,
               "tollgate_cpu_per_m": (c1 - c0) / n_events * 1e6 if n_events else float("nan"),
               "ok": len(self.problems) == n0}
        if self.spool:
            syncs = delta(m0, m1, "tollgate_spool_syncs_total")
            n_sync = delta(m0, m1, "tollgate_spool_sync_seconds_count")
            n_eps = delta(m0, m1, "tollgate_spool_events_per_sync_count")
            p99 = bucket_quantile(m0, m1, "tollgate_spool_sync_seconds", 0.99)
            row.update({
                "syncs": syncs, "syncs_per_s": syncs / r["duration_s"] if r["duration_s"] else float("nan"),
                "events_per_sync": (delta(m0, m1, "tollgate_spool_events_per_sync_sum") / n_eps
                                    if n_eps else float("nan")),
                "sync_mean_us": (delta(m0, m1, "tollgate_spool_sync_seconds_sum") / n_sync * 1e6
                                 if n_sync else float("nan")),
                "sync_p99_le_us": p99 * 1e6 if p99 is not None else None,
                "disk_reads_events": delta(m0, m2, "tollgate_spool_disk_reads_events_total"),
            })
        return row

    def close(self):
        rc = None
        if self.tg:
            rc = self.tg.stop()
            if rc != 0:
                self.problems.append(f"{self.what()}: tollgate exited {rc}: {self.tg.tail(3)}")
        if self.sink:
            self.sink.stop()
        if self.spool_dir:
            shutil.rmtree(self.spool_dir, ignore_errors=True)
        return rc


def log_row(kind, body, row):
    spool_part = (f"  {row['syncs_per_s']:6.0f} syncs/s {row['events_per_sync']:8.1f} ev/sync mean sync "
                  f"{ms(row['sync_mean_us'])}" if "syncs" in row else "")
    rate = f"{row['rate']:>7.0f} offered " if row["rate"] else ""
    mb.log(f"{kind} {body:15} {row['storage']:5} {row['label']:18} {rate}{row['rps']:>8.0f} req/s "
           f"{row['events_per_s']:>9.0f} ev/s  p50 {ms(row['lat']['p50'])} p99 {ms(row['lat']['p99'])}{spool_part}"
           f"  paused {row['parked']:,.0f} backlog {row['backlog_events']:,.0f} drain {row['drain_s']:.1f} s"
           + ("" if row["ok"] else "  PROBLEM"))


# ---------------------------------------------------------------- report

def ms(us_):
    return "–" if us_ is None or us_ != us_ else (f"{us_ / 1000:.2f} ms" if us_ >= 1000 else f"{us_:.0f} µs")


def le(us_):
    if us_ is None:
        return "–"
    if us_ == float("inf"):
        return "> top bucket"
    return f"≤ {us_ / 1000:g} ms" if us_ >= 1000 else f"≤ {us_:g} µs"


def table(rows, open_loop=False):
    head = ("| body | spool on | mode | " + ("offered req/s | " if open_loop else "") +
            "req/s | events/s | p50 | p99 | p99.9 | syncs/s | events / sync | mean sync | p99 sync | "
            "paused requests | errors + non-2xx | backlog at end | drain | tollgate CPU-s / M events |")
    out = [head, "|" + "|".join(["---"] * 3 + ["---:"] * (head.count("|") - 4)) + "|"]
    for x in rows:
        spool = x["mode"] != "buffered"
        lat = x["lat"]
        non2xx = sum(n for s, n in x["load"]["status"].items() if not s.startswith("2"))
        out.append(
            f"| {x['body']} | {x['storage'] if spool else '– (' + x['storage'] + ' group)'} | {x['label']} | "
            + (f"{mb.num(x['rate'])}{mb.behind(x['load'])} | " if open_loop else "")
            + f"{mb.num(x['rps'])} | {mb.num(x['events_per_s'])} | {ms(lat['p50'])} | {ms(lat['p99'])} | "
            f"{ms(lat['p99_9'])} | "
            + (f"{mb.num(x['syncs_per_s'])} | {mb.num(x['events_per_sync'], 1)} | {ms(x['sync_mean_us'])} | "
               f"{le(x['sync_p99_le_us'])} | " if spool else "– | – | – | – | ")
            + f"{mb.num(x['parked'])} | {x['errors'] + non2xx} | {mb.num(x['backlog_events'])} | {x['drain_s']:.1f} s | "
            f"{mb.num(x['tollgate_cpu_per_m'], 2)} |")
    return out


def find(rows, mode, storage, k):
    for x in rows:
        if x["mode"] == mode and x["storage"] == storage and x["k"] == k:
            return x
    return None


def machine_facts(disk, ram):
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
    with open("/proc/meminfo") as f:
        mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) / 1024 / 1024
    buildtype = "?"
    try:
        with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
        buildtype = f"{opts.get('buildtype')}, -march={opts.get('march', '?')}, sanitize={opts.get('b_sanitize')}"
    except (OSError, ValueError, KeyError):
        pass
    commit = mb.first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {"cpu": m.group(1).strip() if m else platform.processor(), "cpus": os.cpu_count(),
            "memory_gib": round(mem, 1), "kernel": platform.release(),
            "tollgate": mb.first_line([TOLLGATE, "--version"]), "build": os.path.relpath(BUILD, ROOT),
            "buildtype": buildtype, "commit": commit + (" + local changes" if dirty else ""),
            "built": datetime.datetime.fromtimestamp(os.path.getmtime(TOLLGATE), datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"),
            "gcc": mb.first_line(["gcc", "-dumpfullversion"]), "liburing": mb.dpkg_version("liburing-dev"),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "disk": df_facts(disk), "tmpfs": df_facts(ram)}


def fs_line(f):
    extra = ""
    if "write_cache" in f:
        extra = f", device write cache: {f['write_cache']}" + (
            ", rotational" if f.get("rotational") == "1" else ", non-rotational" if f.get("rotational") == "0" else "")
    return f"`{f['path']}` on {f['source']} ({f['fstype']}, {f['options']}{extra})"


# ---------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=64, help="connections (64)")
    ap.add_argument("--duration", type=float, default=3,
                    help="seconds per measured row (3; the 100-event rows' backlog must fit in --ring)")
    ap.add_argument("--warmup", type=float, default=1,
                    help="seconds per warm-up round; rounds repeat until a ring's worth of events went through (1)")
    ap.add_argument("--load-threads", type=int, default=1, help="tollgate-load threads (1)")
    ap.add_argument("--open-fraction", type=float, default=0.5,
                    help="open-loop rows offer this fraction of durable's closed-loop peak on disk (0.5)")
    ap.add_argument("--no-open", dest="open", action="store_false", help="skip the open-loop rows")
    ap.add_argument("--ring", default="4GiB",
                    help="tollgate --buffer-bytes for the closed-loop rows (4GiB): the sink forwards far fewer "
                         "events/s than tollgate accepts 100-event batches here, so a whole run's backlog must fit")
    ap.add_argument("--ring-open", default="512MiB", help="tollgate --buffer-bytes for the open-loop rows (512MiB)")
    ap.add_argument("--no-warm-ring", dest="warm_ring", action="store_false",
                    help="do not push a ring's worth of events through first (faster; the runs then pay first-touch "
                         "page faults on the ring)")
    ap.add_argument("--warm-max", type=float, default=120, help="longest ring warm-up, s (120)")
    ap.add_argument("--spool-max-bytes", default="12GiB", help="tollgate --spool-max-bytes (12GiB)")
    ap.add_argument("--sync-max-delay-us", type=int, default=None, help="tollgate --sync-max-delay-us (its default)")
    ap.add_argument("--tollgate-arg", action="append", metavar="--FLAG=VALUE",
                    help="an extra flag for every tollgate, e.g. --tollgate-arg=--segment-bytes=16MiB (repeatable)")
    ap.add_argument("--sink-sched", choices=("auto", "normal", "idle"), default="auto",
                    help="run tollgate-sink under SCHED_IDLE (idle) or not (normal); auto: idle where it shares the "
                         "load generator's CPU (2 CPUs)")
    ap.add_argument("--disk-dir", default=None, help="where the disk spools go (/var/tmp, checked not to be tmpfs)")
    ap.add_argument("--tmpfs-dir", default=None, help="where the tmpfs spools go (/dev/shm, or a tmpfs mounted "
                                                      "for the run if root)")
    ap.add_argument("--drain-stall", type=float, default=15,
                    help="a problem when the sink gets nothing new for this many seconds while events wait (15)")
    ap.add_argument("--wait-idle", type=float, default=None, metavar="LOAD",
                    help="before starting, wait until the 1-minute load average is below LOAD (checked every 30 s)")
    ap.add_argument("--wait-idle-max", type=float, default=1200, help="give up waiting after this many s (1200)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 s per row, smaller rings, no ring warm-up; implies --no-write")
    ap.add_argument("--no-write", action="store_true", help="do not append to bench/RESULTS.md")
    ap.add_argument("--write", action="store_true", help="append even with --quick")
    ap.add_argument("--json-out", default=None, help="also write every measurement as JSON to this file")
    ap.add_argument("--storage", choices=("both", "disk", "tmpfs"), default="both",
                    help="which spool directories to measure (both)")
    ap.add_argument("--bodies", default="1,100", help="events per request to measure, comma-separated (1,100)")
    args = ap.parse_args()
    sizes = {k for k in (int(x) for x in args.bodies.split(",") if x.strip())}
    args.body_list = [(b, k) for b, k in BODIES if k in sizes]
    if not args.body_list:
        ap.error("--bodies: choose among 1 and 100")
    if args.quick:
        args.duration, args.warmup, args.warm_ring = 1, 0.5, False
        args.ring, args.ring_open = "1GiB", "512MiB"
        if not args.write:
            args.no_write = True
    args.ring_bytes, args.ring_open_bytes = parse_size(args.ring), parse_size(args.ring_open)
    return args


def wait_idle(limit, max_s):
    end = time.time() + max_s
    while True:
        load1 = os.getloadavg()[0]
        if load1 < limit:
            mb.log(f"load average {load1:.2f} < {limit:g}: starting")
            return True
        if time.time() > end:
            mb.log(f"load average still {load1:.2f} after {max_s:g} s: starting anyway")
            return False
        mb.log(f"load average {load1:.2f} >= {limit:g}: waiting")
        time.sleep(30)


def run_setup(args, cpus, tmp, seq, mode, storage, root, ring, bodies, rows, kind, problems, rates=None):
    """One tollgate for one mode and directory: warm its ring, then one
    measurement per body. Appends to rows and problems."""
    st = Setup(args, cpus, tmp, seq, mode, storage, root, ring)
    try:
        st.warm(bodies[-1][1])  # the body with the most bytes per second wraps the ring fastest
        for body, k in bodies:
            row = st.measure(k, rate=rates[k] if rates else None)
            row["body"] = body
            rows.append(row)
            log_row(kind, body, row)
    finally:
        st.close()
        problems += st.problems


def main():
    args = parse_args()
    for b in (TOLLGATE, LOAD, SINK):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} not built (meson setup build --buildtype=release && ninja -C build)")
    if not supports_spool(TOLLGATE):
        sys.exit(f"{TOLLGATE} has no --spool-dir: rebuild it")
    if BUILD_NOTE:
        mb.log(f"warning: {BUILD_NOTE}; using it anyway")
    for tool in ("taskset", "chrt"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (util-linux)")
    if args.wait_idle is not None:
        wait_idle(args.wait_idle, args.wait_idle_max)

    cpus = cpu_plan(args.sink_sched)
    os.sched_setaffinity(0, set(mb._cpus(cpus["load"])))
    started = time.time()
    stamp = datetime.datetime.now(datetime.timezone.utc)
    rows, open_rows, problems = [], [], []
    (busy0, steal0), own0 = mb.machine_busy_seconds(), mb.own_seconds()
    with tempfile.TemporaryDirectory(prefix="tollgate-spool-bench-") as tmp:
        try:
            disk, ram, notes = prepare_storage(args, tmp)
        except Failed as e:
            sys.exit(str(e))
        facts = machine_facts(disk, ram)
        mb.log(f"tollgate {TOLLGATE} ({facts['buildtype']}); spools under {disk} ({facts['disk']['fstype']}) and "
               f"{ram} (tmpfs); {cpus['note']}")
        seq = 0
        try:
            for storage, root in (("disk", disk), ("tmpfs", ram)):
                if args.storage not in ("both", storage):
                    continue
                for mode in MODES:
                    seq += 1
                    run_setup(args, cpus, tmp, seq, mode, storage, root, args.ring_bytes, args.body_list, rows,
                              "closed", problems)
            if args.open and args.storage != "tmpfs":
                rates = {k: max(1.0, find(rows, "durable", "disk", k)["rps"] * args.open_fraction)
                         for _, k in args.body_list}
                for mode in MODES:
                    seq += 1
                    run_setup(args, cpus, tmp, seq, mode, "disk", disk, args.ring_open_bytes, args.body_list,
                              open_rows,
                              "open  ", problems, rates=rates)
        except Failed as e:
            problems.append(str(e))
        finally:
            if notes:
                subprocess.run(["umount", ram], check=False)
    elapsed = time.time() - started
    busy1, steal1 = mb.machine_busy_seconds()
    foreign = max(0.0, (busy1 - busy0) - (mb.own_seconds() - own0))
    steal = steal1 - steal0
    foreign_pct = 100 * (foreign + steal) / (elapsed * os.cpu_count())
    facts["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())

    order = {(b, s, m[0]): i for i, (b, s, m) in enumerate(
        (b, s, m) for _, b in BODIES for s in ("disk", "tmpfs") for m in MODES)}
    rows.sort(key=lambda x: order[(x["k"], x["storage"], x["mode"])])
    open_rows.sort(key=lambda x: order[(x["k"], x["storage"], x["mode"])])

    # Targets (issue 14): durable keeps >= 0.6x buffered's throughput on
    # 100-event batches, with p99 at most 2x buffered's in the same run and
    # under 5 ms on the machine's disk.
    targets = []
    base, dur = find(rows, "buffered", "disk", 100), find(rows, "durable", "disk", 100)
    if base and dur:
        ratio = dur["rps"] / base["rps"]
        targets.append(("`--ack durable` throughput ≥ 0.6× `--ack buffered` without a spool, 100-event batches, "
                        "disk", f"{ratio:.2f}× ({mb.num(dur['rps'])} vs {mb.num(base['rps'])} req/s)", ratio >= 0.6))
        p99_ratio = dur["lat"]["p99"] / max(1, base["lat"]["p99"])
        targets.append(("`--ack durable` p99 ≤ 2× `--ack buffered`'s, 100-event batches, disk",
                        f"{p99_ratio:.2f}× ({ms(dur['lat']['p99'])} vs {ms(base['lat']['p99'])})", p99_ratio <= 2))
        targets.append((f"`--ack durable` p99 < 5 ms, 100-event batches, disk (closed loop, {args.connections} "
                        f"connections)", ms(dur["lat"]["p99"]), dur["lat"]["p99"] < 5000))
    odur = next((x for x in open_rows if x["mode"] == "durable" and x["k"] == 100), None)

    cmd = "scripts/spool_bench.py " + " ".join(sys.argv[1:])
    f = facts
    section = [f"### Spool: `--ack buffered`, buffered + spool, `--ack durable` ({stamp:%Y-%m-%d %H:%M} UTC)", "",
               f"Command: `{cmd.strip()}` ({elapsed / 60:.1f} min). tollgate `--shards 1` forwards every event to "
               f"tollgate-sink; tollgate-load keeps {args.connections} connections busy (closed loop) for "
               f"{args.duration:g} s per row. One tollgate and one sink per mode and spool directory, measured with "
               f"single events, then 100-event batches; before that, a ring's worth of events goes through "
               f"(`--buffer-bytes {args.ring}`) and the sink catches up, so each run starts from an empty ring whose "
               f"pages have all been touched. {cpus['note']}. The ring is large because the sink accepts fewer "
               f"events/s than tollgate does here: the backlog a run leaves is delivered afterwards (*drain*), and a "
               f"run in which the ring filled would fail the check. `--spool-max-bytes {args.spool_max_bytes}`, "
               f"default `--segment-bytes` (64 MiB)"
               + (f", `--sync-max-delay-us {args.sync_max_delay_us}`" if args.sync_max_delay_us is not None
                  else ", default `--sync-max-delay-us` (0: a sync takes what arrived while the previous one ran)")
               + ("; extra tollgate flags `" + " ".join(args.tollgate_arg) + "`" if args.tollgate_arg else "")
               + ". Checked for every row: every request answered 2xx, no rejection, the sink received every "
               "accepted event (distinct ids), nothing dead-lettered, tollgate exited 0.", "",
               f"Machine: {f['cpu']}, {f['cpus']} CPUs, {f['memory_gib']} GiB, kernel {f['kernel']}; {f['tollgate']} "
               f"from `{f['build']}/` ({f['buildtype']}; built {f['built']}, tree at commit {f['commit']}), GCC {f['gcc']}, liburing "
               f"{f['liburing']}. Disk spool: {fs_line(f['disk'])}. tmpfs spool: {fs_line(f['tmpfs'])}"
               + (f" ({'; '.join(notes)})" if notes else "") +
               f". Load average at start {f['loadavg']}, at end {f['loadavg_end']}; other processes used "
               f"{foreign:.1f} CPU-s and the hypervisor stole {steal:.1f} s: {foreign_pct:.1f}% of the machine"
               + (": **the figures are noisy**." if foreign_pct > 5 else "."), "",
               "#### Closed loop", "",
               "*syncs/s*, *events / sync*, *mean sync* (fdatasync time) and *p99 sync* (the histogram bucket that "
               "holds it) come from tollgate's `/metrics` over the run; *paused requests*: requests that waited "
               "because the spool's writes were behind (with a spool) or the ring was full (without; never, "
               "checked). *Backlog at end*: accepted events not yet delivered when the run stopped; *drain*: time "
               "until the sink had them all. *tollgate CPU-s / M events*: tollgate's CPU time (utime + stime, all "
               "threads, io_uring workers included) from the start of the run to the end of its drain, per million "
               "events of the run: ingest, spool and forwarding.", ""]
    section += table(rows)
    section.append("")
    if open_rows:
        section += ["#### Open loop (latency at a fixed rate, disk)", "",
                    f"tollgate-load `--rate` at {args.open_fraction:.0%} of `--ack durable`'s closed-loop peak on disk "
                    f"above, the same rate for every mode, {args.connections} connections, `--buffer-bytes "
                    f"{args.ring_open}`; latency from each request's intended send time. ⚠: over 1% of the intended "
                    f"requests were never sent.", ""]
        section += table(open_rows, open_loop=True)
        section.append("")
    section += ["#### Targets (issue 14)", "", "| target | measured | result |", "|---|---:|---|"]
    for name, val, ok in targets:
        section.append(f"| {name} | {val} | **{'PASS' if ok else 'MISS'}** |")
    if odur:
        section.append(f"| (for reference) `--ack durable` p99 at a fixed {mb.num(odur['rate'])} req/s, 100-event "
                       f"batches, disk (open loop) | {ms(odur['lat']['p99'])} | "
                       f"{'under' if odur['lat']['p99'] < 5000 else 'over'} 5 ms |")
    section.append("")
    text = "\n".join(section)
    print(text)
    for name, val, ok in targets:
        print(f"{'PASS' if ok else 'MISS'}: {name}: {val}")
    if args.quick:
        print("(--quick: 1 s rows on cold rings, a smoke test; the figures are not the measurement)")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump({"rows": rows, "open": open_rows, "facts": facts, "problems": problems, "targets": targets,
                       "cpus": cpus, "foreign_cpu_s": foreign, "steal_s": steal, "elapsed_s": elapsed,
                       "argv": sys.argv[1:]}, fh, indent=1, default=str)
    if problems:
        mb.log(f"\n{len(problems)} problem(s); nothing written to {RESULTS}:")
        for p in problems:
            mb.log("  - " + p)
        sys.exit(1)
    if foreign_pct > 5:
        mb.log(f"warning: other processes used {foreign_pct:.0f}% of the machine during the run; figures are noisy")
    if not args.no_write:
        with open(RESULTS, "a") as fh:
            fh.write("\n" + text)
        mb.log(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
