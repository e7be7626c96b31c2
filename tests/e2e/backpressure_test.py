# SPDX-License-Identifier: Apache-2.0
"""Back pressure: the output is a FIFO that nobody reads, so the event ring fills;
requests then wait --admit-timeout-ms and get 503 with Retry-After (and /readyz
fails). Once the FIFO is read, every event that got 204 comes out, none that got
503, and new requests are accepted again."""
import json
import time

from harness import (BATCH, FifoOutput, Gateway, assert_problem, batch, event, http_request, metric, run_tests)

V1 = "/api/v1/events"


def request_body(n):
    # ~4 KiB: small next to the 64 KiB ring, so the ring ends up over 90% full.
    return [event("bp-%03d-%02d" % (n, k), data={"pad": "p" * 60}) for k in range(20)]


def test_full_ring_gets_503_then_recovers():
    got, failed = [], []
    with FifoOutput() as out:
        with Gateway("--shards", "1", "--buffer-bytes", "65536", "--max-body-bytes", "16384",
                     "--admit-timeout-ms", "300", output=out.output) as g:
            with g.connect() as c:
                for n in range(60):
                    events = request_body(n)
                    body = batch(events)
                    assert len(body) <= 16384
                    t0 = time.monotonic()
                    c.send(http_request("POST", V1, body, {"Content-Type": BATCH}))
                    r = c.response(timeout=10)
                    if r.status == 204:
                        assert not failed, "a 204 after a 503 while nothing was read"
                        got += events
                        continue
                    assert_problem(r, 503)
                    assert r.header("Retry-After") is not None and int(r.header("Retry-After")) >= 1, r
                    # It waited for room before giving up.
                    assert time.monotonic() - t0 >= 0.25, time.monotonic() - t0
                    failed += events
                    if len(failed) >= 3 * len(events):
                        break
                assert failed, "the ring never filled: %d events accepted" % len(got)
                assert len(got) < 60 * 20

                # Not ready while the ring is full; still alive.
                r = g.request("GET", "/readyz")
                assert r.status == 503, r
                assert g.request("GET", "/healthz").status == 200
                m = g.metrics()
                assert metric(m, "tollgate_ingest_rejected_total", reason="buffer_full") == 3, m
                assert metric(m, "tollgate_backpressure_pauses_total") >= 1, m

                # Start reading: the writer drains the ring and requests succeed again.
                out.start_reading()
                recovered = [event("after-%d" % i) for i in range(5)]
                c.send(http_request("POST", V1, batch(recovered), {"Content-Type": BATCH}))
                r = c.response(timeout=10)
                assert r.status == 204, r
                deadline = time.monotonic() + 10
                while g.request("GET", "/readyz").status != 200:
                    assert time.monotonic() < deadline, "never ready again"
                    time.sleep(0.05)
            g.stop()
        lines = out.lines()
    assert lines == got + recovered, "output differs: %d lines, expected %d" % (len(lines), len(got) + 5)
    ids = {json.loads(l)["id"] for l in lines}
    assert not ids & {json.loads(e)["id"] for e in failed}, "an event answered 503 was written"


if __name__ == "__main__":
    run_tests(globals())
