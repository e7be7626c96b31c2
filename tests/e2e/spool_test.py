# SPDX-License-Identifier: Apache-2.0
"""The durable spool end to end (--spool-dir, --ack durable): the real tollgate in
front of the real tollgate-sink, killed with SIGKILL under load, restarted on the
same spool (with the same or another shard count), its segment files damaged on
purpose, its disk filled up. What must hold every time: every id whose request
got 204 reaches the sink (duplicates are allowed, at-least-once), and the gateway
answers with a problem (503 / 429 with Retry-After), never a crash, when it cannot
keep a new event.

Clients here post on keep-alive connections from several threads; an id counts as
acknowledged only when its request got 204 (a connection broken by the kill, a 503
or a 429 leaves it unacknowledged: such ids may still arrive, as the client would
resend them anyway and OpenMeter deduplicates on source and id)."""
import collections
import json
import os
import random
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time

from harness import (BATCH, BIN, CE, DATA, Conn, Gateway, Skip, assert_problem, batch, event, http_request, metric,
                     metric_sum, run_tests, wait_for)
from upstreams import Sink

V1 = "/api/v1/events"
# Short timings so retries happen within a test's budget.
FAST = ["--linger-ms", "2", "--retry-initial-ms", "20", "--retry-max-ms", "200"]
# Sanitizer builds are several times slower: these only bound waits.
DELIVERY_TIMEOUT = 60.0


# --- gateway and sink ---------------------------------------------------------

def spooled(sink, spool, tmp, *flags, drain_ms=2000):
    """tollgate forwarding to `sink` with its spool in `spool`."""
    return Gateway("--spool-dir", spool, "--dead-letter", os.path.join(tmp, "dead.jsonl"), *FAST,
                   "--drain-timeout-ms", str(drain_ms), *flags, output=sink.url)


def upstream_down(sink):
    """The sink answers 503 (without Retry-After, so retries stay fast) to every batch."""
    sink.faults(status=503, status_ratio=1.0, status_count=0, retry_after="")


def upstream_up(sink):
    sink.faults(status_ratio=0.0, status_count=0)


def healthy(g):
    return g.alive() and g.request("GET", "/healthz").status == 200


def new_spool(tmp, name="spool"):
    path = os.path.join(tmp, name)
    os.makedirs(path, exist_ok=True)
    return path


# --- clients ------------------------------------------------------------------

def post_batches(g, prefix, requests, per_request):
    """Sequential requests, each on a new connection (so they spread over the
    shards); every one must get 204. Returns the ids."""
    ids = []
    for n in range(requests):
        chunk = ["%s-%d-%d" % (prefix, n, k) for k in range(per_request)]
        body, ctype = (event(chunk[0]), CE) if per_request == 1 else (batch([event(x) for x in chunk]), BATCH)
        r = g.post(body, ctype)
        assert r.status == 204, "request %d: %r" % (n, r)
        ids += chunk
    return ids


class Load:
    """Client threads posting unique ids (single events and batches of 2..10) on
    keep-alive connections to the port `self.port` holds, which follows restarts.
    A connection is replaced every `recycle` requests so the load spreads over
    the shards. Connection errors (the gateway was killed) are counted, and the
    thread reconnects after a short pause."""

    def __init__(self, prefix, threads=4, per_thread=3000, recycle=25):
        self.prefix = prefix
        self.per_thread = per_thread
        self.recycle = recycle
        self.port = None
        self.lock = threading.Lock()
        self.acked = set()
        self.sent = set()
        self.acked_bytes = 0
        self.statuses = collections.Counter()
        self.conn_errors = 0
        self.unexpected = []
        self.failures = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(threads)]

    def start(self, port):
        self.port = port
        for t in self.threads:
            t.start()
        return self

    def retarget(self, port):
        self.port = port

    def _run(self, t):
        try:
            self._loop(t)
        except BaseException as e:  # noqa: BLE001 - reported by check()
            with self.lock:
                self.failures.append("thread %d: %r" % (t, e))

    def _loop(self, t):
        rng = random.Random(1000 + t)
        conn, used, n = None, 0, 0
        try:
            while not self.stopping.is_set() and n < self.per_thread:
                k = rng.choice((1, 1, 2, 5, 10))
                ids = ["%s-%d-%d" % (self.prefix, t, n + i) for i in range(k)]
                n += k
                if k == 1:
                    body, ctype = event(ids[0]), CE
                else:
                    body, ctype = batch([event(x) for x in ids]), BATCH
                with self.lock:
                    self.sent.update(ids)
                try:
                    if conn is None:
                        conn, used = Conn(self.port, timeout=10), 0
                    conn.send(http_request("POST", V1, body, {"Content-Type": ctype}))
                    r = conn.response()
                    used += 1
                except (OSError, EOFError):
                    with self.lock:
                        self.conn_errors += 1
                    if conn is not None:
                        conn.close()
                        conn = None
                    time.sleep(0.02)
                    continue
                with self.lock:
                    self.statuses[r.status] += 1
                    if r.status == 204:
                        self.acked.update(ids)
                        self.acked_bytes += len(body)
                    elif r.status not in (429, 503):
                        self.unexpected.append(r)
                if r.status != 204:
                    time.sleep(0.05)
                if used >= self.recycle or (r.header("Connection") or "").lower() == "close":
                    conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()

    def acked_ids(self):
        with self.lock:
            return set(self.acked)

    def sent_ids(self):
        with self.lock:
            return set(self.sent)

    def summary(self):
        with self.lock:
            return "acked %d ids, statuses %s, connection errors %d" % (
                len(self.acked), dict(self.statuses), self.conn_errors)

    def wait_acked(self, n, g=None, timeout=30.0):
        """Waits until at least n ids got 204."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.acked) >= n:
                    return
                failures = list(self.failures)
            assert not failures, "client thread failed: %s" % failures
            assert_running(g)
            if time.monotonic() >= deadline or not any(t.is_alive() for t in self.threads):
                raise AssertionError("only %s (wanted %d acked)%s" % (self.summary(), n, stderr_tail(g)))
            time.sleep(0.02)

    def join(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            if t.ident is None:
                continue  # never started
            t.join(max(0.0, deadline - time.monotonic()))
            assert not t.is_alive(), "a client thread did not finish in %.0fs" % timeout

    def stop(self, timeout=30.0):
        self.stopping.set()
        self.join(timeout)

    def check(self, allowed=(204, 429, 503)):
        """No client thread failed and every answer was one of `allowed`."""
        with self.lock:
            assert not self.failures, "client thread failed: %s" % self.failures
            assert not self.unexpected, "unexpected answers: %r" % self.unexpected[:5]
            bad = {s: c for s, c in self.statuses.items() if s not in allowed}
            assert not bad, "unexpected statuses %s (%s)" % (bad, dict(self.statuses))


# --- what arrived ---------------------------------------------------------------

def stderr_tail(g, n=6000):
    """The gateway's stderr for a failure message: each distinct log message once
    (its first line, with how often it came), other lines (sanitizers) as they are."""
    if g is None:
        return ""
    order, first, count = [], {}, collections.Counter()
    for line in g.stderr().splitlines():
        try:
            key = json.loads(line).get("msg")
        except (ValueError, AttributeError):
            key = None
        if key is None:
            order.append(line)
            continue
        if key not in first:
            first[key] = line
            order.append(key)
        count[key] += 1
    out = []
    for k in order:
        if k in first:
            out.append(first[k][:500] + (" (x%d)" % count[k] if count[k] > 1 else ""))
        else:
            out.append(k)
    return "\ngateway stderr (distinct messages):\n" + "\n".join(out)[-n:]


def arrived(sink):
    """The set of ids the sink accepted so far."""
    return set(sink.received_ids())


def wait_delivered(sink, expected, g=None, timeout=DELIVERY_TIMEOUT, spool=None):
    """Waits until every id in `expected` reached the sink. On failure the message
    shows the gateway's metrics and stderr, and where the missing ids are in `spool`."""
    expected = set(expected)
    deadline = time.monotonic() + timeout
    while True:
        missing = expected - arrived(sink)
        if not missing:
            return
        assert_running(g)
        if time.monotonic() >= deadline:
            raise AssertionError("%d of %d acknowledged ids never reached the sink within %.0fs (e.g. %s)%s%s%s" % (
                len(missing), len(expected), timeout, sorted(missing)[:5], spool_metrics(g),
                describe_spool(spool, missing), stderr_tail(g)))
        time.sleep(0.1)


def assert_running(g):
    if g is not None and not g.alive():
        raise AssertionError("the gateway exited (status %s)%s" % (g.proc.poll(), stderr_tail(g)))


def spool_metrics(g):
    if g is None or not g.alive():
        return ""
    try:
        m = g.metrics()
    except (OSError, EOFError, AssertionError) as e:
        return "\nmetrics: %r" % e
    return "\nmetrics: " + ", ".join("%s%s=%g" % (n, dict(l) if l else "", v) for (n, l), v in sorted(m.items())
                                    if ("spool" in n or "upstream_events" in n or "waiting" in n)
                                    and not n.endswith("_bucket"))


def assert_only_sent(sink, sent):
    strays = arrived(sink) - set(sent)
    assert not strays, "the sink got %d ids nobody sent, e.g. %s" % (len(strays), sorted(strays)[:5])


# --- the spool on disk --------------------------------------------------------------
# segment = 40-byte header ("TGSPOOL1" | u32 version | u32 shard | u64 segment seq |
# u64 first seq | u32 0 | u32 crc32c(bytes 0..36)) then records, 8-byte aligned.
# Version 2 (written now): u32 marker "\xF9TGR" | u32 length | u64 seq |
# u32 crc32c(payload) | u32 crc32c(bytes 0..20) | payload | zero padding; a skip
# record ("\xF9TGS", its span in the seq field) replaces a quarantined range.
# Version 1 (read): u32 length | u32 crc32c(seq bytes + payload) | u64 seq |
# payload | zero padding.

SEGMENT_RE = re.compile(r"^segment-[0-9a-f]{16}\.log$")
SHARD_RE = re.compile(r"^shard-(0|[1-9][0-9]*)$")
HEADER_BYTES = 40
RECORD_HEADER_BYTES = 24
RECORD_HEADER_BYTES_V1 = 16
RECORD_MARKER = 0x524754F9
SKIP_MARKER = 0x534754F9


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the check value of CRC-32C


def pad8(n):
    return (n + 7) & ~7


def encode_header(version, shard, segment_seq, first_seq):
    h = b"TGSPOOL1" + struct.pack("<IIQQI", version, shard, segment_seq, first_seq, 0)
    return h + struct.pack("<I", crc32c(h))


def encode_v1_record(seq, payload):
    return (struct.pack("<IIQ", len(payload), crc32c(payload, crc32c(struct.pack("<Q", seq))), seq) + payload
            + b"\0" * (pad8(len(payload)) - len(payload)))


Record = collections.namedtuple("Record", "offset seq length footprint payload")


class Segment:
    """One segment file read whole; its records (either layout, skip records
    stepped over) up to the first that is not a complete record (zeros, a
    short tail). `verify`: every CRC must match."""

    def __init__(self, path, verify=True):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        self.records = []
        self.end = len(d)
        self.first_seq = 0
        self.version = None
        if len(d) < HEADER_BYTES:
            return  # created, and nothing (or not all of the header) reached it yet
        assert d[:8] == b"TGSPOOL1", "%s: not a spool segment: %r" % (path, d[:40])
        self.version, self.shard, self.segment_seq, self.first_seq, _, hcrc = struct.unpack_from("<IIQQII", d, 8)
        assert hcrc == crc32c(d[:36]), "%s: header CRC mismatch" % path
        assert self.version in (1, 2), "%s: version %d" % (path, self.version)
        off = HEADER_BYTES
        hdr = RECORD_HEADER_BYTES if self.version == 2 else RECORD_HEADER_BYTES_V1
        while off + hdr <= len(d):
            if self.version == 2:
                marker, length, seq, pcrc, rcrc = struct.unpack_from("<IIQII", d, off)
                if marker == SKIP_MARKER and rcrc == crc32c(d[off:off + 20]):
                    off += seq
                    continue
                if marker != RECORD_MARKER:
                    break
            else:
                length, crc, seq = struct.unpack_from("<IIQ", d, off)
                if length == 0:
                    break
            need = hdr + pad8(length)
            if off + need > len(d):
                break
            payload = d[off + hdr:off + hdr + length]
            if verify:
                ok = (rcrc == crc32c(d[off:off + 20]) and pcrc == crc32c(payload) if self.version == 2
                      else crc == crc32c(payload, crc32c(struct.pack("<Q", seq))))
                assert ok, "%s: record at %d fails its CRC" % (path, off)
            self.records.append(Record(off, seq, length, need, payload))
            off += need
        self.end = off  # end of the last complete record

    def ids(self, records=None):
        out = []
        for r in self.records if records is None else records:
            out += payload_ids(r.payload)
        return out


def payload_ids(payload):
    """The event ids in one record's payload (one event, or an array of them)."""
    try:
        v = json.loads(payload)
    except ValueError:
        return re.findall(r'"id"\s*:\s*"([^"\\]*)"', payload.decode("utf-8", "replace"))
    if isinstance(v, dict):
        return [v["id"]] if "id" in v else []
    if isinstance(v, list):
        return [e["id"] for e in v if isinstance(e, dict) and "id" in e]
    return []


def shard_dirs(spool):
    return sorted(os.path.join(spool, n) for n in os.listdir(spool)
                  if SHARD_RE.match(n) and os.path.isdir(os.path.join(spool, n)))


def segment_paths(shard_dir):
    return sorted(os.path.join(shard_dir, n) for n in os.listdir(shard_dir) if SEGMENT_RE.match(n))


def all_segment_paths(spool):
    return [p for d in shard_dirs(spool) for p in segment_paths(d)]


def read_acked(shard_dir):
    """The position in a shard directory's acked file ("TGACKED1" | u64 | crc), or None."""
    try:
        with open(os.path.join(shard_dir, "acked"), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    if len(data) < 16 or data[:8] != b"TGACKED1":
        return "unreadable %r" % data
    return struct.unpack_from("<Q", data, 8)[0]


def describe_spool(spool, missing=()):
    """Each shard directory's acked position and segments (sequence range, and how
    many of `missing` each holds), for failure messages."""
    if spool is None or not os.path.isdir(spool):
        return ""
    missing = set(missing)
    out = ["\nspool %s:" % spool]
    for d in shard_dirs(spool):
        others = sorted(n for n in os.listdir(d) if not SEGMENT_RE.match(n))
        out.append("  %s: acked %s, other files %s" % (os.path.basename(d), read_acked(d), others))
        for p in segment_paths(d):
            try:
                s = Segment(p, verify=False)
            except AssertionError as e:
                out.append("    %s: %s" % (os.path.basename(p), e))
                continue
            held = [(r.seq, x) for r in s.records for x in payload_ids(r.payload) if x in missing]
            seqs = "%d..%d" % (s.records[0].seq, s.records[-1].seq) if s.records else "empty"
            out.append("    %s: %d bytes, seq %s, first_seq %d, %d missing ids%s" % (
                os.path.basename(p), len(s.data), seqs, s.first_seq, len(held),
                " (seq %d..%d)" % (held[0][0], held[-1][0]) if held else ""))
    return "\n".join(out)


def wait_trimmed(g, spool, shards, timeout=20.0):
    """Once everything is delivered, delivered segments are deleted: at most the
    writers' current segments (one a shard) stay, on disk and in the gauge."""
    def trimmed():
        assert_running(g)
        files = all_segment_paths(spool)
        gauge = metric_sum(g.metrics(), "tollgate_spool_segments")
        return len(files) <= shards and gauge <= shards
    try:
        wait_for(trimmed, timeout, "delivered segments to be deleted")
    except AssertionError:
        assert_running(g)
        files = all_segment_paths(spool)
        raise AssertionError("%d segment files left after delivery (at most %d expected)%s%s%s" % (
            len(files), shards, spool_metrics(g), describe_spool(spool), stderr_tail(g)))


# --- tests --------------------------------------------------------------------------

def test_spool_flags_that_cannot_work_are_usage_errors():
    with tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        up = "http://127.0.0.1:9"
        cases = [
            (["--upstream", "stdout", "--spool-dir", spool], "--spool-dir", None),
            (["--spool-dir", spool], "--spool-dir", None),  # stdout is the default output
            (["--upstream", "file:" + os.path.join(tmp, "out.jsonl"), "--spool-dir", spool], "--spool-dir", None),
            (["--upstream", "stdout"], "--spool-dir", {"TOLLGATE_SPOOL_DIR": spool}),
            (["--upstream", up, "--ack", "durable"], "spool", None),
            (["--upstream", up, "--spool-dir", spool, "--segment-bytes", "1KiB"], "--segment-bytes", None),
        ]
        for args, word, env in cases:
            full = dict(os.environ)
            full.update(env or {})
            r = subprocess.run([BIN, "--listen", "127.0.0.1:0"] + args, capture_output=True, timeout=15,
                               env=full, stdin=subprocess.DEVNULL)
            err = r.stderr.decode("utf-8", "replace")
            assert r.returncode == 2, "%s (env %s): exit %d, expected 2: %s" % (args, env, r.returncode, err[-2000:])
            assert word in err, "%s: the usage message does not name %s: %s" % (args, word, err[-2000:])


def test_durable_acks_are_group_committed_and_measured():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        with spooled(sink, spool, tmp, "--ack", "durable", "--shards", "1") as g:
            load = Load("sync", threads=4, per_thread=100).start(g.port)
            load.join()
            load.check(allowed=(204,))
            requests = load.statuses[204]
            events = len(load.acked_ids())
            m = g.metrics()
            syncs = metric_sum(m, "tollgate_spool_sync_seconds_count")
            assert syncs > 0, "no fdatasync measured"
            assert metric_sum(m, "tollgate_spool_sync_seconds_bucket") > 0, "no sync latency buckets"
            groups = metric_sum(m, "tollgate_spool_events_per_sync_count")
            assert 0 < groups <= requests, "%d syncs for %d requests: not one per group" % (groups, requests)
            assert metric_sum(m, "tollgate_spool_events_per_sync_sum") >= events, \
                "the syncs covered fewer events than got 204"
            names = {n for (n, _) in m}
            for gauge in ("tollgate_spool_bytes", "tollgate_spool_segments"):
                assert gauge in names, "%s is not exported" % gauge
            wait_delivered(sink, load.acked_ids(), g, spool=spool)
            g.stop()


def test_every_204_survives_sigkill_while_the_upstream_is_down():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        flags = ("--ack", "durable", "--shards", "2")
        upstream_down(sink)
        load = Load("down", threads=4)
        try:
            with spooled(sink, spool, tmp, *flags) as g:
                load.start(g.port)
                load.wait_acked(1000, g)
                g.kill()  # mid-load: the clients are still posting
        finally:
            load.stop()
        load.check()
        acked = load.acked_ids()
        assert arrived(sink) == set(), "events got through an upstream answering 503"
        upstream_up(sink)
        with spooled(sink, spool, tmp, *flags) as g:
            wait_delivered(sink, acked, g, spool=spool)
            replayed = metric_sum(g.metrics(), "tollgate_spool_replayed_events_total")
            assert replayed >= len(acked), "replayed %d events, %d were acknowledged and undelivered" % (
                replayed, len(acked))
            wait_trimmed(g, spool, 2)
            g.stop()
        assert_only_sent(sink, load.sent_ids())


def test_every_204_survives_three_sigkills_while_forwarding():
    with Sink("--latency-ms", "5") as sink, tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        flags = ("--ack", "durable", "--shards", "2")
        load = Load("fwd", threads=4, per_thread=4000)
        try:
            for kill in range(4):
                with spooled(sink, spool, tmp, *flags) as g:
                    if kill == 0:
                        load.start(g.port)
                    else:
                        load.retarget(g.port)
                    before = sink.stats()["events"]
                    load.wait_acked(len(load.acked_ids()) + 600, g)
                    wait_for(lambda: sink.stats()["events"] > before, what="events being forwarded")
                    if kill < 3:
                        g.kill()  # with requests, syncs and upstream batches in flight
                        continue
                    load.stop()
                    load.check()
                    acked = load.acked_ids()
                    wait_delivered(sink, acked, g, spool=spool)
                    wait_trimmed(g, spool, 2)
                    assert healthy(g)
                    g.stop()
        finally:
            load.stop()
        assert load.conn_errors > 0, "the kills never interrupted a client: %s" % load.summary()
        assert_only_sent(sink, load.sent_ids())


def test_a_restart_with_another_shard_count_replays_every_old_directory():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        for before, after in ((2, 1), (1, 3)):
            spool = new_spool(tmp, "spool-%d-to-%d" % (before, after))
            prefix = "shards-%d-%d" % (before, after)
            upstream_down(sink)
            with spooled(sink, spool, tmp, "--ack", "durable", "--shards", str(before), drain_ms=300) as g:
                acked = post_batches(g, prefix, requests=60, per_request=5)
                if before == 2:
                    g.stop()  # SIGTERM: the upstream is down, so the events stay in the spool; still exit 0
                else:
                    g.kill()
            written = [d for d in shard_dirs(spool) if any(Segment(p).records for p in segment_paths(d))]
            assert len(written) == before, "expected %d shard directories with records, got %s" % (before, written)
            upstream_up(sink)
            with spooled(sink, spool, tmp, "--ack", "durable", "--shards", str(after)) as g:
                wait_delivered(sink, acked, g, spool=spool)
                replayed = metric_sum(g.metrics(), "tollgate_spool_replayed_events_total")
                assert replayed >= len(acked), "replayed %d of %d" % (replayed, len(acked))
                # New events on the new shard count go through too, old and new records never collide.
                more = post_batches(g, prefix + "-new", requests=20, per_request=5)
                wait_delivered(sink, more, g, spool=spool)
                wait_trimmed(g, spool, after)
                g.stop()


def test_an_outage_with_a_backlog_far_larger_than_the_ring_loses_nothing():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        ring = 65536
        upstream_down(sink)
        flags = ("--shards", "1", "--buffer-bytes", str(ring), "--max-body-bytes", "16384")
        with spooled(sink, spool, tmp, *flags) as g:  # --ack buffered: the spool without waiting for syncs
            load = Load("ring", threads=3, per_thread=800).start(g.port)
            load.join()
            # With a spool a full ring refuses nothing: events overflow to disk.
            load.check(allowed=(204,))
            acked = load.acked_ids()
            assert load.acked_bytes > 4 * ring, "backlog %d bytes is not several times the ring" % load.acked_bytes
            assert arrived(sink) == set()
            upstream_up(sink)
            wait_delivered(sink, acked, g, spool=spool)
            m = g.metrics()
            assert metric_sum(m, "tollgate_spool_disk_reads_events_total") > 0, \
                "nothing was read back from disk, yet the backlog could not fit in the ring"
            wait_trimmed(g, spool, 1)
            g.stop()
        assert_only_sent(sink, load.sent_ids())


def test_a_damaged_record_is_quarantined_alone_a_torn_tail_is_cut_and_the_rest_delivered():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        flags = ("--ack", "durable", "--shards", "1", "--segment-bytes", "16KiB")
        upstream_down(sink)
        with spooled(sink, spool, tmp, *flags) as g:
            acked = post_batches(g, "dmg", requests=80, per_request=5)
            shard0 = os.path.join(spool, "shard-0")
            # The newest segment must hold a few records to cut one in half.
            for n in range(200):
                if len(Segment(segment_paths(shard0)[-1]).records) >= 3:
                    break
                acked += post_batches(g, "dmg-extra-%d" % n, requests=1, per_request=1)
            g.kill()
        segs = [Segment(p) for p in segment_paths(shard0)]
        assert len(segs) >= 4, "expected several 16 KiB segments, got %d" % len(segs)
        on_disk = [x for s in segs for x in s.ids()]
        missing = set(acked) - set(on_disk)
        assert not missing, "%d ids got a durable 204 but are not in the spool, e.g. %s" % (
            len(missing), sorted(missing)[:5])

        # A flipped byte in the payload of a record in the middle of an older segment.
        older = [s for s in segs[:-1] if len(s.records) >= 3]
        assert older, "no older segment with records"
        victim = older[len(older) // 2]
        at = len(victim.records) // 2
        bad = victim.records[at]
        pos = bad.offset + victim_header_bytes(victim) + bad.length // 2
        damaged = bytearray(victim.data)
        damaged[pos] ^= 0x20
        with open(victim.path, "r+b") as f:
            f.seek(pos)
            f.write(bytes([damaged[pos]]))
        quarantined_ids = set(victim.ids([bad]))
        # The newest segment's last record cut in half, as a crash mid-write leaves it.
        newest = segs[-1]
        last = newest.records[-1]
        cut = last.offset + RECORD_HEADER_BYTES + last.length // 2
        os.truncate(newest.path, cut)
        torn_ids = set(newest.ids([last]))
        expected = set(acked) - quarantined_ids - torn_ids
        assert expected and quarantined_ids and torn_ids

        with spooled(sink, spool, tmp, *flags) as g:  # the upstream is still down: look at the spool first
            corrupt = victim.path + ".corrupt"
            wait_for(lambda: os.path.exists(corrupt), what=corrupt)
            m = g.metrics()
            assert metric_sum(m, "tollgate_spool_quarantined_segments_total") == 1, stderr_tail(g)
            with open(corrupt, "rb") as f:
                moved = f.read()
            # The damaged record alone, at its offset in the segment (the rest of the copy is a hole).
            assert len(moved) == bad.offset + bad.footprint, (len(moved), bad.offset, bad.footprint)
            assert moved[bad.offset:] == bytes(damaged[bad.offset:bad.offset + bad.footprint]), \
                "%s does not hold the damaged record" % corrupt
            assert moved[:bad.offset] == bytes(bad.offset)
            assert metric_sum(m, "tollgate_spool_quarantined_bytes_total") == bad.footprint
            assert metric_sum(m, "tollgate_spool_quarantined_events_total") == 1
            assert metric_sum(m, "tollgate_spool_torn_bytes_total") == cut - last.offset, \
                "torn bytes %s, the cut left %d" % (metric_sum(m, "tollgate_spool_torn_bytes_total"), cut - last.offset)
            # The damaged segment keeps its size (a skip record took the record's place), the
            # records after the damaged one are still there.
            after = Segment(victim.path)
            assert len(after.data) == len(damaged)
            assert [r.seq for r in after.records] == [r.seq for r in victim.records if r.seq != bad.seq]
            if os.path.exists(newest.path):
                assert os.path.getsize(newest.path) == last.offset, "the torn tail was not truncated"
            assert healthy(g)

            upstream_up(sink)
            wait_delivered(sink, expected, g, spool=spool)
            r = g.post(event("after-damage"), CE)
            assert r.status == 204, r
            wait_delivered(sink, ["after-damage"], g, spool=spool)
            assert not arrived(sink) & quarantined_ids, "a quarantined record was delivered"
            assert healthy(g)
            g.stop()
        assert_only_sent(sink, on_disk + ["after-damage"])


def victim_header_bytes(seg):
    return RECORD_HEADER_BYTES if seg.version == 2 else RECORD_HEADER_BYTES_V1


def one_segment_of(g, spool, prefix, requests, per_request):
    """Posts the events (acknowledged durably), kills the gateway and returns
    (ids, the only segment holding records) of shard-0."""
    ids = post_batches(g, prefix, requests=requests, per_request=per_request)
    g.kill()
    segs = [Segment(p) for p in segment_paths(os.path.join(spool, "shard-0"))]
    full = [s for s in segs if s.records]
    assert len(full) == 1, "expected one segment with records, got %d" % len(full)
    return ids, full[0]


def test_one_flipped_bit_in_record_138_of_2000_loses_only_that_record():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        flags = ("--ack", "durable", "--shards", "1")
        upstream_down(sink)
        with spooled(sink, spool, tmp, *flags) as g:
            acked, seg = one_segment_of(g, spool, "bit", requests=100, per_request=20)
        assert len(seg.records) == 2000, len(seg.records)
        bad = seg.records[137]
        lost = set(seg.ids([bad]))
        assert len(lost) == 1
        pos = bad.offset + victim_header_bytes(seg) + bad.length // 2
        with open(seg.path, "r+b") as f:
            f.seek(pos)
            b = f.read(1)
            f.seek(pos)
            f.write(bytes([b[0] ^ 0x04]))  # one bit
        upstream_up(sink)
        with spooled(sink, spool, tmp, *flags) as g:
            expected = set(acked) - lost
            assert len(expected) == 1999
            wait_delivered(sink, expected, g, spool=spool)
            m = g.metrics()
            assert metric_sum(m, "tollgate_spool_quarantined_events_total") == 1
            assert metric_sum(m, "tollgate_spool_quarantined_bytes_total") == bad.footprint
            assert metric_sum(m, "tollgate_spool_replayed_events_total") >= 1999
            assert not arrived(sink) & lost
            wait_trimmed(g, spool, 1)
            g.stop()
        assert os.path.exists(seg.path + ".corrupt")


def test_a_length_past_the_end_of_the_newest_segment_is_damage_copied_not_a_silent_cut():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        flags = ("--ack", "durable", "--shards", "1")
        upstream_down(sink)
        with spooled(sink, spool, tmp, *flags) as g:
            acked, seg = one_segment_of(g, spool, "eof", requests=5, per_request=10)
        bad = seg.records[20]
        past = len(seg.data) - bad.offset + 4096  # the record would end 4 KiB past the end of the file
        at = bad.offset + (4 if seg.version == 2 else 0)  # the length field
        with open(seg.path, "r+b") as f:
            f.seek(at)
            f.write(struct.pack("<I", past))
        lost = set(seg.ids([bad]))
        upstream_up(sink)
        with spooled(sink, spool, tmp, *flags) as g:
            corrupt = seg.path + ".corrupt"
            assert os.path.exists(corrupt), "the damaged record was dropped without a .corrupt copy" + stderr_tail(g)
            with open(corrupt, "rb") as f:  # the damaged record, at its offset
                f.seek(at)
                assert f.read(4) == struct.pack("<I", past), "%s does not hold the damaged length" % corrupt
            m = g.metrics()
            # Torn: only the zeros O_DIRECT left past the last record (the kill came before a trim).
            assert metric_sum(m, "tollgate_spool_torn_bytes_total") == len(seg.data) - seg.end, \
                "read as a torn tail: %s bytes cut" % metric_sum(m, "tollgate_spool_torn_bytes_total")
            assert metric_sum(m, "tollgate_spool_quarantined_segments_total") == 1
            wait_delivered(sink, set(acked) - lost, g, spool=spool)
            g.stop()


def vm_hwm_bytes(pid):
    """The peak resident set of a process (VmHWM in /proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM for %d" % pid)


def allocated_bytes(path):
    return os.stat(path).st_blocks * 512


def test_a_sparse_1_gib_segment_costs_neither_memory_nor_a_dense_copy():
    gib = 1 << 30
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        flags = ("--ack", "durable", "--shards", "1", "--segment-bytes", "16KiB")
        upstream_down(sink)
        with spooled(sink, spool, tmp, *flags) as g:
            acked = post_batches(g, "sparse", requests=30, per_request=5)
            g.kill()
        shard0 = os.path.join(spool, "shard-0")
        paths = segment_paths(shard0)
        assert len(paths) >= 2
        # An older segment whose size grew to 1 GiB (a hole after its records), and
        # a 1 GiB hole with the next segment's name (no header at all).
        grown = paths[0]
        grown_size = Segment(grown).end  # O_DIRECT may have left zeros past the last record
        os.truncate(grown, gib)
        # The segment before the stray is no longer the newest: zeros O_DIRECT left past its
        # last record are quarantined too (sparse, so free), not cut as a torn tail.
        before_stray = Segment(paths[-1])
        padding = len(before_stray.data) - before_stray.end
        stray = os.path.join(shard0, "segment-%016x.log" % (int(os.path.basename(paths[-1])[8:24], 16) + 1))
        with open(stray, "wb") as f:
            f.truncate(gib)
        with spooled(sink, spool, tmp, *flags) as g:  # recovery is done once it listens
            peak = vm_hwm_bytes(g.proc.pid)
            assert peak < 256 << 20, "peak RSS %d MiB recovering two 1 GiB sparse files" % (peak >> 20)
            assert os.path.getsize(grown) == grown_size, "the hole was not cut off the older segment"
            for q in (grown + ".corrupt", stray + ".corrupt"):
                assert os.path.getsize(q) == gib, (q, os.path.getsize(q))
                assert allocated_bytes(q) < 1 << 20, "%s takes %d bytes on disk: copied densely" % (
                    q, allocated_bytes(q))
            # Moved aside; its name is free again (the new writer's segment may take it).
            assert not os.path.exists(stray) or os.path.getsize(stray) < 1 << 20
            m = g.metrics()
            expected = 2 * gib - grown_size + padding
            assert metric_sum(m, "tollgate_spool_quarantined_bytes_total") == expected, (
                metric_sum(m, "tollgate_spool_quarantined_bytes_total"), expected, stderr_tail(g))
            upstream_up(sink)
            wait_delivered(sink, acked, g, spool=spool)
            g.stop()


def test_version_1_segments_of_an_older_tollgate_still_replay():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        spool = new_spool(tmp)
        shard0 = os.path.join(spool, "shard-0")
        os.makedirs(shard0)
        # Written by the version-1 writer itself (tests/data/spool/README.md): records 5..16.
        shutil.copy(os.path.join(DATA, "spool", "segment-v1-fixture.log"),
                    os.path.join(shard0, "segment-0000000000000002.log"))
        old_ids = ["v1-%d" % i for i in range(12)]
        # And a later version-1 segment, records 17..56, the last one cut by a crash.
        more = ["v1-more-%d" % i for i in range(40)]
        seg3 = encode_header(1, 0, 3, 17) + b"".join(encode_v1_record(17 + i, event(x)) for i, x in enumerate(more))
        with open(os.path.join(shard0, "segment-0000000000000003.log"), "wb") as f:
            f.write(seg3[:-9])
        flags = ("--ack", "durable", "--shards", "1")
        with spooled(sink, spool, tmp, *flags) as g:
            wait_delivered(sink, old_ids + more[:-1], g, spool=spool)
            m = g.metrics()
            assert metric_sum(m, "tollgate_spool_torn_bytes_total") > 0
            assert metric_sum(m, "tollgate_spool_quarantined_segments_total") == 0
            new = post_batches(g, "v2-after", requests=4, per_request=5)
            wait_delivered(sink, new, g, spool=spool)
            # New records go to a new segment, version 2, numbered on after the old ones.
            written = [Segment(p) for p in segment_paths(shard0)]
            newest = written[-1]
            assert newest.version == 2, newest.version
            assert newest.first_seq == 56, newest.first_seq
            wait_trimmed(g, spool, 1)
            g.stop()


def test_a_full_spool_answers_503_after_the_admit_timeout_or_429_at_once_then_recovers():
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        for mode, status in (("wait", 503), ("reject", 429)):
            spool = new_spool(tmp, "spool-" + mode)
            upstream_down(sink)
            flags = ("--ack", "durable", "--shards", "1", "--segment-bytes", "16KiB", "--spool-max-bytes", "256KiB",
                     "--when-full", mode, "--admit-timeout-ms", "200")
            with spooled(sink, spool, tmp, *flags) as g:
                acked, refused = [], None
                for n in range(400):
                    ids = ["full-%s-%d-%d" % (mode, n, k) for k in range(20)]
                    t0 = time.monotonic()
                    r = g.post(batch([event(x) for x in ids]), BATCH)
                    elapsed = time.monotonic() - t0
                    if r.status == 204:
                        acked += ids
                        continue
                    refused = r
                    break
                assert refused is not None, "a 256 KiB spool took %d events without refusing" % len(acked)
                assert_problem(refused, status)
                assert refused.header("Retry-After"), refused
                if mode == "wait":
                    assert elapsed >= 0.18, "answered %d after %.3fs, before --admit-timeout-ms" % (status, elapsed)
                m = g.metrics()
                assert metric(m, "tollgate_ingest_rejected_total", reason="spool_full") >= 1, stderr_tail(g)
                assert healthy(g)

                upstream_up(sink)
                wait_delivered(sink, acked, g, spool=spool)
                # Once delivered segments are deleted, there is room again.
                wait_trimmed(g, spool, 1)
                acked += post_batches(g, "full-%s-more" % mode, requests=10, per_request=20)
                wait_delivered(sink, acked, g, spool=spool)
                g.stop()


def test_a_full_disk_answers_503_keeps_what_was_accepted_and_recovers():
    # Last in the file: it needs root for the mount and skips (exit 77) without it.
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        mnt = os.path.join(tmp, "tmpfs")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], capture_output=True, timeout=20)
        if r.returncode != 0:
            raise Skip("cannot mount a 2 MiB tmpfs (needs root): %s" % r.stderr.decode("utf-8", "replace").strip())
        try:
            upstream_down(sink)
            # --spool-max-bytes above the disk size: the disk fills before the limit.
            flags = ("--ack", "durable", "--shards", "1", "--segment-bytes", "64KiB", "--spool-max-bytes", "64MiB",
                     "--admit-timeout-ms", "200")
            with spooled(sink, mnt, tmp, *flags) as g:
                acked, refused = [], None
                for n in range(1500):
                    ids = ["disk-%d-%d" % (n, k) for k in range(20)]
                    r = g.post(batch([event(x) for x in ids]), BATCH)
                    if r.status == 204:
                        acked += ids
                        continue
                    refused = r
                    break
                assert refused is not None, "a 2 MiB tmpfs took %d events without refusing" % len(acked)
                assert_problem(refused, 503)
                assert refused.header("Retry-After"), refused
                time.sleep(0.3)
                assert healthy(g), "gateway down after the disk filled up:" + stderr_tail(g)
                again = g.post(event("disk-refused"), CE)
                assert_problem(again, 503)
                assert again.header("Retry-After"), again
                m = g.metrics()
                errors = (metric_sum(m, "tollgate_spool_write_errors_total")
                          + metric(m, "tollgate_ingest_rejected_total", reason="spool_error")
                          + metric(m, "tollgate_ingest_rejected_total", reason="spool_full"))
                assert errors > 0, "a full disk left no trace in the metrics"
                assert arrived(sink) == set()

                upstream_up(sink)
                wait_delivered(sink, acked, g, spool=mnt)
                wait_trimmed(g, mnt, 1)
                st = os.statvfs(mnt)
                assert st.f_bavail * st.f_frsize >= 1 << 20, "space not freed after delivery"
                for n in range(300):
                    ids = ["disk-after-%d" % n]
                    r = g.post(event(ids[0]), CE)
                    if r.status == 204:
                        acked += ids
                        break
                    assert r.status == 503, r
                    time.sleep(0.1)
                assert r.status == 204, "still refused once space was freed: %r%s" % (r, stderr_tail(g))
                acked += post_batches(g, "disk-more", requests=20, per_request=20)
                wait_delivered(sink, acked, g, spool=mnt)
                assert healthy(g)
                g.stop()
        finally:
            if subprocess.run(["umount", mnt], capture_output=True, timeout=20).returncode != 0:
                subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=20)


run_tests(globals())
