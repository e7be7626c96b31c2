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
import struct
import subprocess
import tempfile
import threading
import time

from harness import (BATCH, BIN, CE, Conn, Gateway, Skip, assert_problem, batch, event, http_request, metric,
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
# u64 first seq | u32 0 | u32 crc32c(bytes 0..36)) then records, 8-byte aligned:
# u32 length | u32 crc32c(seq bytes + payload) | u64 seq | payload | zero padding.

SEGMENT_RE = re.compile(r"^segment-[0-9a-f]{16}\.log$")
SHARD_RE = re.compile(r"^shard-(0|[1-9][0-9]*)$")
HEADER_BYTES = 40
RECORD_HEADER_BYTES = 16


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


Record = collections.namedtuple("Record", "offset seq length footprint payload")


class Segment:
    """One segment file read whole; its records up to the first that is not a
    complete record (zeros, a short tail). `verify`: every CRC must match."""

    def __init__(self, path, verify=True):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        self.records = []
        self.end = len(d)
        self.first_seq = 0
        if len(d) < HEADER_BYTES:
            return  # created, and nothing (or not all of the header) reached it yet
        assert d[:8] == b"TGSPOOL1", "%s: not a spool segment: %r" % (path, d[:40])
        self.version, self.shard, self.segment_seq, self.first_seq, _, hcrc = struct.unpack_from("<IIQQII", d, 8)
        assert hcrc == crc32c(d[:36]), "%s: header CRC mismatch" % path
        off = HEADER_BYTES
        while off + RECORD_HEADER_BYTES <= len(d):
            length, crc, seq = struct.unpack_from("<IIQ", d, off)
            if length == 0:
                break
            need = RECORD_HEADER_BYTES + ((length + 7) & ~7)
            if off + need > len(d):
                break
            payload = d[off + RECORD_HEADER_BYTES:off + RECORD_HEADER_BYTES + length]
            if verify:
                assert crc == crc32c(payload, crc32c(struct.pack("<Q", seq))), \
                    "%s: record at %d fails its CRC" % (path, off)
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


def test_damaged_records_are_quarantined_a_torn_tail_is_cut_and_the_rest_delivered():
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
        pos = bad.offset + RECORD_HEADER_BYTES + bad.length // 2
        damaged = bytearray(victim.data)
        damaged[pos] ^= 0x20
        with open(victim.path, "r+b") as f:
            f.seek(pos)
            f.write(bytes([damaged[pos]]))
        quarantined_ids = set(victim.ids(victim.records[at:]))
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
            assert metric_sum(m, "tollgate_spool_quarantined_segments_total") >= 1, stderr_tail(g)
            with open(corrupt, "rb") as f:
                moved = f.read()
            # The rest of the segment, from the damaged record on, moved aside as it was.
            assert moved.startswith(bytes(damaged[bad.offset:victim.end])), \
                "%s does not hold the segment's tail from the damaged record (%d bytes, expected %d from offset %d)" % (
                    corrupt, len(moved), len(damaged) - bad.offset, bad.offset)
            assert len(moved) == len(damaged) - bad.offset, (len(moved), len(damaged) - bad.offset)
            assert metric_sum(m, "tollgate_spool_quarantined_bytes_total") >= len(moved)
            assert metric_sum(m, "tollgate_spool_torn_bytes_total") == cut - last.offset, \
                "torn bytes %s, the cut left %d" % (metric_sum(m, "tollgate_spool_torn_bytes_total"), cut - last.offset)
            if os.path.exists(victim.path):
                assert os.path.getsize(victim.path) == bad.offset, "the damaged segment was not truncated"
            if os.path.exists(newest.path):
                assert os.path.getsize(newest.path) == last.offset, "the torn tail was not truncated"
            assert healthy(g)

            upstream_up(sink)
            wait_delivered(sink, expected, g, spool=spool)
            r = g.post(event("after-damage"), CE)
            assert r.status == 204, r
            wait_delivered(sink, ["after-damage"], g, spool=spool)
            assert healthy(g)
            g.stop()
        assert_only_sent(sink, on_disk + ["after-damage"])


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
