# SPDX-License-Identifier: Apache-2.0
"""Compressed request bodies (Content-Encoding gzip, deflate, zstd): single
events and batches, with Content-Length and chunked, are forwarded as the
inflated bytes; a decompression bomb stops at --max-body-bytes with 413; a
corrupt stream gets 400 saying what is wrong; another coding gets 415 naming
the supported ones. Compressed by Python's gzip/zlib and the zstd command."""
import gzip
import subprocess
import zlib

from harness import (BATCH, CE, Gateway, assert_problem, batch, chunked, event, http_request, metric, run_tests,
                     split_json_array)


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True, check=True, timeout=30).stdout


CODERS = {"gzip": gzip.compress, "deflate": zlib.compress, "zstd": zstd}


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_single_events_and_batches_inflate_and_are_forwarded_as_the_inflated_bytes():
    with Gateway() as g:
        sent = []
        for name, coder in CODERS.items():
            one = event("%s-single" % name)
            r = g.post(coder(one), headers={"Content-Encoding": name})
            assert r.status == 204, (name, r)
            sent.append(one)
            events = [event("%s-batch-%d" % (name, i)) for i in range(50)]
            r = g.post(coder(batch(events)), ctype=BATCH, headers={"Content-Encoding": name.upper()})
            assert r.status == 204, (name, r)
            sent += events
        lines = g.wait_output(len(sent))
        assert sorted(lines) == sorted(sent), "forwarded bytes are not the inflated events"
        m = g.metrics()
        assert metric(m, "tollgate_events_accepted_total") == len(sent)


def test_chunked_compressed_bodies_and_pipelining_on_one_connection():
    with Gateway() as g:
        with g.connect() as c:
            payloads = []
            for i, (name, coder) in enumerate(CODERS.items()):
                body = coder(batch([event("chunk-%s-%d" % (name, k)) for k in range(10)]))
                parts = [body[j:j + 7] for j in range(0, len(body), 7)]
                payloads.append(http_request("POST", "/api/v1/events", chunked(parts), {
                    "Content-Type": BATCH, "Content-Encoding": name, "Transfer-Encoding": "chunked"}))
            c.send(b"".join(payloads))
            for _ in payloads:
                assert c.response().status == 204
        assert len(g.wait_output(30)) == 30


def test_a_decompression_bomb_stops_at_the_bound_with_413():
    with Gateway("--max-body-bytes", "1MiB", "--buffer-bytes", "8MiB") as g:
        zeros = b"0" * (64 << 20)
        bombs = {"gzip": gzip.compress(zeros, 9), "deflate": zlib.compress(zeros, 9), "zstd": zstd(zeros)}
        before = rss_kib(g.proc.pid)
        with g.connect() as c:
            for name, bomb in bombs.items():
                assert len(bomb) < 100 * 1024, (name, len(bomb))
                c.send(http_request("POST", "/api/v1/events", bomb, {"Content-Type": CE, "Content-Encoding": name}))
                r = c.response()
                assert_problem(r, 413, "inflates", "--max-body-bytes")
                assert r.header("Connection") is None, "the body was read whole: the connection goes on"
            c.send(http_request("POST", "/api/v1/events", gzip.compress(event("after-bomb")),
                                {"Content-Type": CE, "Content-Encoding": "gzip"}))
            assert c.response().status == 204
        grew = rss_kib(g.proc.pid) - before
        assert grew < 16 * 1024, "RSS grew by %d KiB for 64 MiB bombs against a 1 MiB bound" % grew
        m = g.metrics()
        assert metric(m, "tollgate_ingest_rejected_total", reason="body_too_large") == 3, m


def test_corrupt_streams_get_400_with_a_precise_detail():
    with Gateway() as g:
        good = gzip.compress(batch([event("c-%d" % i) for i in range(20)]))
        truncated = good[:len(good) // 2]
        bad_crc = bytearray(good)
        bad_crc[-6] ^= 0x55
        cases = [("gzip", event("not-compressed"), "invalid header"),
                 ("gzip", truncated, "truncated"),
                 ("gzip", bytes(bad_crc), "checksum"),
                 ("deflate", good, "deflate"),
                 ("zstd", zstd(batch([event("z-%d" % i) for i in range(20)]))[:-12], "truncated"),
                 ("zstd", b"garbage garbage garbage", "zstd")]
        for name, body, words in cases:
            r = g.post(body, ctype=BATCH, headers={"Content-Encoding": name})
            assert_problem(r, 400, "corrupt", words)
        m = g.metrics()
        assert metric(m, "tollgate_ingest_rejected_total", reason="corrupt_encoding") == len(cases), m
        assert g.output() == []


def test_other_encodings_get_415_naming_the_supported_ones():
    with Gateway() as g:
        for enc in ("br", "compress", "gzip, zstd"):
            r = g.post(event("enc"), headers={"Content-Encoding": enc})
            assert_problem(r, 415, "gzip, deflate, zstd")
        assert g.post(event("identity"), headers={"Content-Encoding": "identity"}).status == 204
        m = g.metrics()
        assert metric(m, "tollgate_ingest_rejected_total", reason="unsupported_encoding") == 3, m
        assert len(g.wait_output(1)) == 1


if __name__ == "__main__":
    run_tests(globals())
