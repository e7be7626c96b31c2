# SPDX-License-Identifier: Apache-2.0
"""A body that arrives whole in one receive buffer is validated and stamped
from where it lies, without a copy; the buffer goes back to the kernel when
its completion is handled. So a request that outlives its completion (parked
by back pressure) must take its body with it, and requests pipelined in one
buffer must each get their own: what comes out is byte for byte what went in."""
import time

from harness import (BATCH, FifoOutput, Gateway, batch, event, http_request, metric, run_tests)

V1 = "/api/v1/events"


def events_of(tag, n, pad=60):
    return [event("%s-%02d" % (tag, k), data={"pad": tag[0] * pad}) for k in range(n)]


def test_parked_body_outlives_its_receive_buffer():
    # The output is a FIFO nobody reads yet, so the 64 KiB ring fills and a
    # request parks. While it waits, other connections' bytes pass through
    # the (few) receive buffers; once the FIFO is read, the parked request's
    # events must come out as they were sent.
    sent = []
    with FifoOutput() as out:
        with Gateway("--shards", "1", "--buffer-bytes", "65536", "--max-body-bytes", "16384", "--recv-buffers", "4",
                     "--admit-timeout-ms", "30000", output=out.output) as g:
            with g.connect() as c:
                parked = None
                for n in range(60):
                    evs = events_of("p%02d" % n, 20)
                    body = batch(evs)
                    assert len(body) < 12000  # head and body fit one 16 KiB receive buffer
                    before = metric(g.metrics(), "tollgate_backpressure_pauses_total")
                    c.send(http_request("POST", V1, body, {"Content-Type": BATCH}))
                    deadline = time.monotonic() + 5
                    while True:
                        if metric(g.metrics(), "tollgate_backpressure_pauses_total") > before:
                            parked = evs
                            break
                        if c.buf or _readable(c):
                            r = c.response(timeout=5)
                            assert r.status == 204, r
                            sent += evs
                            break
                        assert time.monotonic() < deadline, "neither answered nor parked"
                        time.sleep(0.01)
                    if parked is not None:
                        break
                assert parked is not None, "the ring never filled"
                # Other clients' bytes through every receive buffer, many times over.
                filler = "f" * 9000
                for i in range(40):
                    with g.connect() as o:
                        o.send(http_request("GET", "/healthz", None, {"X-Filler": filler + str(i)}))
                        assert o.response().status == 200
                out.start_reading()
                r = c.response(timeout=15)
                assert r.status == 204, r
                sent += parked
            g.stop()
        lines = out.lines()
    assert lines == sent, "output differs: %d lines, expected %d" % (len(lines), len(sent))


def _readable(c):
    import select
    return bool(select.select([c.sock], [], [], 0)[0])


def test_pipelined_requests_in_one_buffer_each_keep_their_body():
    with Gateway("--shards", "1") as g:
        reqs, want = [], []
        for i, n in enumerate((1, 7, 1, 30, 2)):
            evs = events_of("q%d" % i, n, pad=10 + 40 * i)
            want += evs
            body = evs[0] if n == 1 else batch(evs)
            ctype = "application/cloudevents+json" if n == 1 else BATCH
            reqs.append(http_request("POST", V1, body, {"Content-Type": ctype}))
        reqs.append(http_request("GET", "/healthz"))
        data = b"".join(reqs)
        assert len(data) < 16384  # one receive buffer
        with g.connect() as c:
            c.send(data)
            for _ in range(5):
                r = c.response()
                assert r.status == 204, r
            r = c.response()
            assert r.status == 200 and r.body == b"ok\n", r
        assert g.wait_output(len(want)) == want
        g.stop()


def test_bodies_at_and_across_small_buffer_edges_come_out_intact():
    # 1 KiB receive buffers: bodies that end inside, at and past a buffer's
    # end, whole and split, fed one connection at a time and pipelined.
    with Gateway("--shards", "1", "--recv-buffer-bytes", "1024") as g:
        want = []
        with g.connect() as c:
            for size in range(700, 1300, 37):
                ev = event("edge-%d" % size, data={"pad": "e" * (size - 250)})
                want.append(ev)
                c.send(http_request("POST", V1, ev, {"Content-Type": "application/cloudevents+json"}))
                r = c.response()
                assert r.status == 204, r
            burst = []
            for k in range(12):
                ev = event("burst-%d" % k, data={"pad": "b" * (50 * k)})
                want.append(ev)
                burst.append(http_request("POST", V1, ev, {"Content-Type": "application/cloudevents+json"}))
            c.send(b"".join(burst))
            for _ in burst:
                assert c.response().status == 204
        assert g.wait_output(len(want)) == want
        g.stop()


if __name__ == "__main__":
    run_tests(globals())
